// Phase 1 of Constitutional AI (Bai et al. 2022, SL-CAI): for each prompt an initial response,
// then per round a principle, a critique of the current response against it, and a revision.
// Batched across prompts: every request of a stage goes to the backend in one call (all
// initial responses, then per round all critiques, then all revisions), and few-shot
// examples are prepended identically so the backend's prefix cache computes them once.
#pragma once

#include <nlohmann/json.hpp>

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
PrincipleChoice parse_principle_choice(const std::string& s);  // "random" | "in-order"

struct CritiqueReviseOptions {
  std::int64_t rounds = 3;  // critique -> revision rounds per prompt
  PrincipleChoice principles = PrincipleChoice::random;
  bool few_shot = true;      // prepend the constitution's examples
  bool skip_when_ok = true;  // no revision when the critique finds nothing wrong
  // With skip_when_ok: a critique opening "The response violates the principle." leads to a
  // revision only when the model gives that verdict at least this probability (its first
  // differing token scored against "follows"). A small model's unsure "violates" is often a
  // false alarm whose revision answers a question nobody asked. 0: off.
  double min_violation_p = 0.0;
  PromptFormat format = PromptFormat::transcript;
  GenParams response = gen_params(128, 0.7);  // initial response
  GenParams critique = gen_params(128, 0.7);
  GenParams revision = gen_params(128, 0.7);
  std::uint64_t seed = 0;   // fixes every random draw (principles, sampling)
  std::int64_t chunk = 64;  // prompts per batch (and per durable write)
  void validate() const;    // throws cai::Error naming the field
  // Everything that changes the results, recorded in each line and hashed. Not `chunk`: another
  // chunk gives the same random draws, though scores may differ in their last bits.
  nlohmann::json settings() const;
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

// One output line: prompt, messages [user, assistant = final], init_response, rounds, prompt /
// chosen / rejected as TRL's conversational preference lists, model, constitution hash, seed,
// settings.
nlohmann::json to_json(const CritiqueReviseRecord& r, const std::string& model,
                       const std::string& constitution_hash, const CritiqueReviseOptions& opts);

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
