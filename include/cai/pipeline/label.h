// Phase 2 of Constitutional AI (Bai et al. 2022, RL-CAI): AI feedback. A judge model sees the
// conversation, two responses as options (A) and (B) and one principle's comparison question,
// then "The answer is:"; p(A) is the probability of the option tokens normalised over the two
// (Backend::score_options). Each pair is judged in both orders and the label is the average,
// which cancels the judge's position bias; the disagreement between the orders is kept.
// Principles are sampled per pair with their weights, or ensembled (weighted mean over all or
// n of them). With chain of thought the judge first writes its reasoning, then the answer is
// scored, and probabilities are clamped (0.4-0.6 by default: CoT answers are overconfident).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cai/backend/backend.h"
#include "cai/constitution/constitution.h"
#include "cai/pipeline/common.h"

namespace cai::pipeline {

enum class PairSelection {
  all_pairs,   // every pair of the k responses
  best_worst,  // the response the judge prefers most against the one it prefers least
               // among those with another text
};
constexpr std::array<opt::EnumName<PairSelection>, 2> enum_names(PairSelection) {
  return {{{PairSelection::all_pairs, "all"}, {PairSelection::best_worst, "best-worst"}}};
}

struct LabelOptions {
  PromptFormat format = PromptFormat::transcript;
  std::int64_t ensemble = 0;
  bool chain_of_thought = false;
  GenParams cot = gen_params(128, 0.0);
  double clamp_low = 0.4, clamp_high = 0.6;  // CoT answers are overconfident
  double min_confidence = 0.0;
  std::int64_t samples = 0;
  PairSelection selection = PairSelection::best_worst;
  GenParams sample = gen_params(128, 1.0);
  std::uint64_t seed = 0;
  std::int64_t chunk = 64;

  static void fields(opt::Fields<LabelOptions>& f) {
    using O = LabelOptions;
    f("format", &O::format, "transcript or chat");
    f("ensemble", &O::ensemble,
      "principles per pair: 0 = one drawn by weight from the seed, n = n averaged with their "
      "weights, -1 = all",
      opt::min(-1));
    f("chain_of_thought", &O::chain_of_thought, "the judge reasons before it answers").alias("cot");
    f("cot", &O::cot, "the judge's reasoning (chain of thought)").skipping({"seed"});
    f("clamp_low", &O::clamp_low, "chain of thought: lower clamp of each probability",
      opt::range(0, 0.5));
    f("clamp_high", &O::clamp_high, "chain of thought: upper clamp of each probability",
      opt::range(0.5, 1));
    f("min_confidence", &O::min_confidence, "drop pairs with |p_chosen - 0.5| below this",
      opt::range(0, 0.5, "[)"));
    f("samples", &O::samples,
      "responses sampled per prompt to make pairs (0: the pairs are Phase 1's)",
      [](std::int64_t k) {
        return k == 0 || k >= 2 ? "" : fmt::format("must be 0 (Phase 1 pairs) or >= 2, got {}", k);
      }).alias("-k");
    f("pairs", &O::selection, "with samples: which pairs of the k responses are kept");
    f("sample", &O::sample, "the policy's sampled responses").skipping({"seed"});
    f("seed", &O::seed, "seed of every random draw");
    f("chunk", &O::chunk, "prompts per batch (and per durable write)", opt::min(1)).run_only();
  }
  void validate() const { opt::validate(*this, "label"); }
  nlohmann::json settings() const { return opt::identity_json(*this); }  // not chunk
};

// One pair to judge: a prompt and two responses.
struct PairInput {
  std::uint64_t key = 0;  // fixes the pair's random draws (principles, reasoning)
  std::string id;
  std::string prompt;
  std::string a, b;
  std::string where;  // file:line, for errors
};

// Pairs from Phase 1 output: init_response (a) vs the final revision (b); errors name file:line.
std::vector<PairInput> read_phase1_pairs(const std::filesystem::path& path);

struct OrderJudgement {
  std::vector<double> raw;  // log p of " (A)", " (B)" as the backend returned them
  double p_first = 0.5;     // normalised probability of the option shown first ((A))
  std::string reasoning;    // chain of thought, when on
};

struct PrincipleJudgement {
  std::string principle;
  double weight = 1.0;
  OrderJudgement ab;        // a shown as (A)
  OrderJudgement ba;        // b shown as (A)
  double p_a = 0.5;         // (ab.p_first + (1 - ba.p_first)) / 2
  double disagreement = 0;  // |ab.p_first - (1 - ba.p_first)|
};

struct PairLabel {
  PairInput pair;
  std::vector<PrincipleJudgement> principles;
  double p_a = 0.5;           // weighted mean over principles
  double disagreement = 0.0;  // weighted mean |p(a | a first) - p(a | b first)|
  bool order_flip = false;    // some principle's two orders prefer different responses
};

// The judge prompt for one order (the request the backend scores " (A)" / " (B)" after).
TextRequest judge_request(PromptFormat format, const std::string& prompt, const std::string& a,
                          const std::string& b, const std::string& question,
                          const std::string& reasoning = "");
// The options scored after a judge request.
std::vector<std::string> judge_options(PromptFormat format);
// The request that asks the judge to reason first (chain of thought).
TextRequest cot_request(PromptFormat format, const std::string& prompt, const std::string& a,
                        const std::string& b, const std::string& question);

// The principles judging item `key`, as indices into c.principles in constitution order:
// ensemble -1 (or at least the principle count) all of them; 0 one, n > 0 n distinct ones,
// drawn with the principles' weights from (seed, key).
std::vector<std::size_t> pick_principles(const Constitution& c, std::uint64_t key,
                                         std::int64_t ensemble, std::uint64_t seed);

// Judges `pairs` (each pair's key fixes its principle draws and reasoning stream). Every
// request of a stage goes to the judge in one call.
std::vector<PairLabel> judge_pairs(Backend& judge, const Constitution& c,
                                   const std::vector<PairInput>& pairs, const LabelOptions& opts);

// What one run_label call did.
struct LabelRunCounts {
  std::size_t written = 0;        // pair lines appended now
  std::size_t equal_skipped = 0;  // sampled pairs whose two texts were equal: not judged
};

// The resumable command. Items are Phase 1 pairs (opts.samples == 0: `pairs`) or prompts to
// sample k responses for with `policy` (`prompts`). Each item gives one line per kept pair,
// tagged with its item index and pair number, so a rerun resumes after the last line written
// (judging again the whole chunk that line is in, so every batch is an uninterrupted run's).
// Sampled pairs whose two texts are equal (as the judge would see them) are never sent to the
// judge: they count as ties in best-worst selection, and no line pairs two equal texts.
LabelRunCounts run_label(Backend& judge, Backend* policy, const Constitution& c,
                         const std::vector<PairInput>& pairs,
                         const std::vector<PromptRecord>& prompts,
                         const std::filesystem::path& output, const LabelOptions& opts,
                         bool progress = true);

}  // namespace cai::pipeline
