// Phase 1 of Constitutional AI (Bai et al. 2022, SL-CAI): for each prompt an initial response,
// then per round a principle, a critique of the current response against it, and a revision.
// Batched across prompts: every request of a stage goes to the backend in one call (all
// initial responses, then per round all critiques, then all revisions), and few-shot
// examples are prepended identically so the backend's prefix cache computes them once.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cai/backend/backend.h"
#include "cai/constitution/constitution.h"
#include "cai/pipeline/common.h"

namespace cai::pipeline {

enum class PrincipleChoice {
  random,    // one principle per round, drawn with the principles' weights from the seed
  in_order,  // round r applies principle r mod count (LangChain's ConstitutionalChain)
};
constexpr std::array<opt::EnumName<PrincipleChoice>, 2> enum_names(PrincipleChoice) {
  return {{{PrincipleChoice::random, "random"}, {PrincipleChoice::in_order, "in-order"}}};
}

struct CritiqueReviseOptions {
  std::int64_t rounds = 3;
  PrincipleChoice principles = PrincipleChoice::random;
  bool few_shot = true;
  bool skip_when_ok = true;
  // With skip_when_ok: a critique opening "The response violates the principle." leads to a
  // revision only when the model gives that verdict at least this probability (its first
  // differing token scored against "follows"). A small model's unsure "violates" is often a
  // false alarm whose revision answers a question nobody asked. 0: off.
  double min_violation_p = 0.0;
  PromptFormat format = PromptFormat::transcript;
  std::int64_t max_tokens = 128;
  double temperature = 0.7;
  double top_p = 1.0;
  // Per stage; < 0: `temperature`. A sampled "violates" where the model itself rates the
  // response fine becomes a needless revision: 0 takes the model's most likely verdict.
  double response_temperature = -1, critique_temperature = -1, revision_temperature = -1;
  std::uint64_t seed = 0;
  std::int64_t chunk = 64;

  static void fields(opt::Fields<CritiqueReviseOptions>& f) {
    using O = CritiqueReviseOptions;
    f("rounds", &O::rounds, "critique -> revision rounds per prompt", opt::range(1, 100));
    f("principles", &O::principles, "random (one per round, by weight, from the seed) or in-order");
    f("few_shot", &O::few_shot, "prepend the constitution's examples");
    f("skip_when_ok", &O::skip_when_ok, "no revision when the critique finds nothing wrong")
        .alias("!no-skip");
    f("min_violation_p", &O::min_violation_p,
      "revise after a \"violates\" verdict only when the model gives it at least this "
      "probability (0: always)",
      opt::range(0, 1, "[)"));
    f("format", &O::format, "transcript (raw Human:/Assistant: text) or chat (message lists)");
    f("max_tokens", &O::max_tokens, "new tokens per response, critique and revision", opt::min(1));
    f("temperature", &O::temperature, "sampling temperature of every stage (0: greedy)",
      opt::min(0));
    f("top_p", &O::top_p, "nucleus sampling mass", opt::range(0, 1, "(]"));
    f("response_temperature", &O::response_temperature,
      "the initial responses' temperature (< 0: temperature)");
    f("critique_temperature", &O::critique_temperature,
      "the critiques' temperature (< 0: temperature)");
    f("revision_temperature", &O::revision_temperature,
      "the revisions' temperature (< 0: temperature)");
    f("seed", &O::seed, "seed of every random draw (principles, sampling)");
    f("chunk", &O::chunk, "prompts per batch (and per durable write)", opt::min(1)).run_only();
  }
  void validate() const { opt::validate(*this, "critique-revise"); }
  // Everything that changes the results, recorded in each line and hashed. Not `chunk`: another
  // chunk gives the same random draws, though scores may differ in their last bits.
  nlohmann::json settings() const { return opt::identity_json(*this); }
  // Each stage's sampling.
  GenParams response() const { return stage(response_temperature); }
  GenParams critique() const { return stage(critique_temperature); }
  GenParams revision() const { return stage(revision_temperature); }

 private:
  GenParams stage(double t) const;
};

struct RoundRecord {
  std::string principle;
  std::string critique;
  std::string revision;  // "" when skipped
  bool skipped = false;
  double p_violates = -1;  // the verdict's probability when min_violation_p scored it, else -1
};

struct CritiqueReviseRecord {
  std::string id;
  std::string prompt;
  std::string init_response;
  std::vector<RoundRecord> rounds;
  std::string final_response;  // the last revision (the initial response if none was made)
};

// Critiques and revises `prompts`; prompt i has global index first_index + i (its random
// streams). Results in input order. `on_stage` (optional) is told each finished stage name.
std::vector<CritiqueReviseRecord> critique_revise(Backend& backend,
                                                  const Constitution& constitution,
                                                  const std::vector<PromptRecord>& prompts,
                                                  std::size_t first_index,
                                                  const CritiqueReviseOptions& opts);

// Whether a critique says the response is fine: the transcript verdict ("The response
// follows the principle.") or, in chat form, "no critique is needed" and the like.
bool critique_finds_nothing(const std::string& critique);

// The resumable command: reads finished lines of `output`, processes the remaining prompts
// in chunks (from the start of the chunk the first missing one is in, so every batch is an
// uninterrupted run's), appends each finished line durably. Returns the number of records written
// now.
std::size_t run_critique_revise(Backend& backend, const Constitution& constitution,
                                const std::vector<PromptRecord>& prompts,
                                const std::filesystem::path& output,
                                const CritiqueReviseOptions& opts, bool progress = true);

}  // namespace cai::pipeline
