// Evaluation on the embedded telehealth world, scored by its rule-based oracle (which only
// ever evaluates; it never produces training data or labels):
//  - compliance: the model answers the chosen prompt split, or a prompt file written outside
//    the generator (world/heldout.h), as conversation transcripts, sampled
//    with a seed); the oracle's verdict per principle and overall, on-topic and right-fact
//    rates, over-refusal on benign prompts, separately for unseen (template, entity)
//    combinations and test-only phrasings;
//  - critiques: the judge critiques each response against each applicable principle; its
//    verdict (the log-probability of "follows" vs "violates" after "Critique:") is compared
//    with the oracle's, overall and per principle;
//  - comparisons: two sampled responses per prompt that the oracle ranks differently on a
//    principle are compared by the judge with that principle's question, in both orders
//    (averaged); agreement with the oracle's preference; with notes to inject
//    (eval/injection.h), the same pairs judged again with each note appended to either
//    response: the flip rate of the judge's preference and the shift of its p_chosen;
//  - judge calibration ("judge_calibration": {"critiques", "comparisons"}): for each of the two
//    judgements above, the calibration of the judge's probabilities against the oracle
//    (expected calibration error, reliability bins; eval/calibration.h) and agreement per
//    principle with its 95% Wilson interval;
//  - capability: the knowledge quiz (multiple choice by log-likelihood) and the free-generation
//    fact task (right when the answer contains the fact and no other value of its attribute).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

#include "cai/eval/eval_file.h"
#include "cai/io/options.h"

namespace cai {
class Backend;
}

namespace cai::eval {

// The world's prompt splits, checked where an option names one.
inline auto world_split() { return opt::one_of({"train", "eval", "test"}); }

struct WorldEvalOptions {
  std::filesystem::path world;
  std::filesystem::path constitution;
  std::string split = "test";
  std::filesystem::path prompts;  // a prompt file answered instead of the split (world/heldout.h)
  std::int64_t limit = 0;
  double temperature = 1.0;  // responses are sampled (seeded): how the model behaves
  double top_p = 1.0;
  std::int64_t max_tokens = 96;
  std::uint64_t seed = 0;
  bool critiques = true;
  bool comparisons = true;
  std::filesystem::path injections;  // notes (JSONL) to inject into the A/B pairs (optional)
  bool tasks = true;
  std::int64_t task_limit = 0;

  static void fields(opt::Fields<WorldEvalOptions>& f) {
    using O = WorldEvalOptions;
    f("world", &O::world, "a `cai world generate` directory");
    f("constitution", &O::constitution, "the constitution (\"\": the world's)");
    f("split", &O::split, "prompt split answered: train, eval or test", world_split());
    f("prompts", &O::prompts,
      "a prompt file answered instead of the split, such as a hand-written held-out set "
      "(JSONL {\"id\", \"prompt\", \"kind\", \"entity\", \"attribute\" | \"topic\"})");
    f("limit", &O::limit, "prompts at most (0: all)", opt::min(0));
    f("temperature", &O::temperature, "sampling temperature of the responses", opt::min(0));
    f("top_p", &O::top_p, "nucleus sampling of the responses", opt::range(0, 1, "(]"));
    f("max_tokens", &O::max_tokens, "tokens per response", opt::min(1));
    f("seed", &O::seed, "sampling seed");
    f("critiques", &O::critiques, "measure the judge's critiques against the oracle");
    f("comparisons", &O::comparisons, "measure the judge's A/B answers against the oracle");
    f("injections", &O::injections,
      "notes (JSONL {\"name\", \"text\"}) appended to the A/B responses: the judge's flip "
      "rate under them");
    f("tasks", &O::tasks, "the knowledge quiz and the fact task");
    f("task_limit", &O::task_limit, "records per capability task (0: all)", opt::min(0));
  }
  void rules(opt::Rules& r) const {
    r.require(!world.empty(), "world", "is required");
    r.require(injections.empty() || comparisons, "injections",
              "is measured on the A/B comparisons, which are off");
  }
  void validate() const { opt::validate(*this, "world eval"); }
};

struct WorldEvalResult {
  EvalFile report;   // everything, with counts and the responses: what eval.json holds
  std::string text;  // the tables the CLI prints
};

// `judge` may be the same backend as `policy`.
WorldEvalResult evaluate_world(Backend& policy, Backend& judge, const WorldEvalOptions& opts);

}  // namespace cai::eval
