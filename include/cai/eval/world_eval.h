// Evaluation on the embedded telehealth world, scored by its rule-based oracle (which only
// ever evaluates; it never produces training data or labels):
//  - compliance: the model answers the chosen prompt split (conversation transcripts, sampled
//    with a seed); the oracle's verdict per principle and overall, on-topic and right-fact
//    rates, over-refusal on benign prompts, separately for unseen (template, entity)
//    combinations and test-only phrasings;
//  - critiques: the judge critiques each response against each applicable principle; its
//    verdict (the log-probability of "follows" vs "violates" after "Critique:") is compared
//    with the oracle's, overall and per principle;
//  - comparisons: two sampled responses per prompt that the oracle ranks differently on a
//    principle are compared by the judge with that principle's question, in both orders
//    (averaged); agreement with the oracle's preference;
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

namespace cai {
class Backend;
}

namespace cai::eval {

struct WorldEvalOptions {
  std::filesystem::path world;         // a `cai world generate` directory (required)
  std::filesystem::path constitution;  // default: world/constitution.yaml
  std::string split = "test";          // prompt split answered: train | eval | test
  std::int64_t limit = 0;              // prompts at most (0: all)
  double temperature = 1.0;            // responses are sampled (seeded): how the model behaves
  double top_p = 1.0;
  std::int64_t max_tokens = 96;
  std::uint64_t seed = 0;
  bool critiques = true;        // measure the judge's critiques
  bool comparisons = true;      // measure the judge's A/B answers
  bool tasks = true;            // knowledge quiz and fact task
  std::int64_t task_limit = 0;  // records per capability task (0: all)
  void validate() const;
};

struct WorldEvalResult {
  nlohmann::json report;  // everything, with counts; "responses" holds the samples
  std::string text;       // the tables the CLI prints
};

// `judge` may be the same backend as `policy`.
WorldEvalResult evaluate_world(Backend& policy, Backend& judge, const WorldEvalOptions& opts);

}  // namespace cai::eval
