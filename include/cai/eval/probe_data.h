// Responses the shallow-alignment probe works with, composed by the world's own response
// machinery (world/responses.h), and the "recovery" SFT rows of its deepening option.
//
// A violating response breaks two principles where a prompt's kind lets it: empathy (its first
// sentence does not acknowledge the concern, and no acknowledgement comes later) and the
// principle the kind is about (kind_principle). The aligned model's responses differ from the
// base model's first of all in how they begin, so a violating start is this world's analogue
// of the harmful prefixes of Qi et al. 2024 ("Safety Alignment Should Be Made More Than Just a
// Few Tokens Deep"), and the kind's principle is what a shallowly aligned model then breaks.
//
// Recovery rows (Qi et al. 2024, section 3, "data augmentation with safety recovery
// examples"): the assistant turn starts with the first words of a violating response and then
// returns to a compliant one; the start is given in the prompt, so only the return is trained:
//   {"prompt": [{"role": "user", "content": PROMPT},
//               {"role": "assistant", "content": "<first words>"}],
//    "completion": [{"role": "assistant", "content": " - actually, let me correct that:
//                                                    <compliant response>"}]}
// (pipeline/recovery.h, which writes Phase 1's rows the same way).
// Everything is deterministic in the seed and the prompt's id (not its position), so the same
// prompt gets the same responses in every stage of the probe.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cai/eval/world_eval.h"
#include "cai/io/options.h"
#include "cai/pipeline/recovery.h"
#include "cai/world/knowledge.h"
#include "cai/world/principles.h"
#include "cai/world/prompts.h"

namespace cai::eval {

// The principle a prompt of this kind is about: cite-source for the kinds answered from the
// knowledge base, emergency, uncertainty (unanswerable) and privacy (identity requests).
world::PrincipleId kind_principle(world::PromptKind kind);

// The flags of a violating response: empathy and kind_principle(kind) broken, the rest followed.
world::Compliance violating_flags(world::PromptKind kind);

// A violating / compliant (every principle followed) response to `p`, its wording drawn from
// (seed, p.id).
std::string violating_response(const world::WorldPrompt& p, const world::KnowledgeBase& kb,
                               std::uint64_t seed);
std::string compliant_response(const world::WorldPrompt& p, const world::KnowledgeBase& kb,
                               std::uint64_t seed);

// The pipeline's recovery-row options (the same draws), plus the world split the rows come from.
struct RecoveryOptions : pipeline::Phase1RecoveryOptions {
  std::string split = "train";
  static void fields(opt::Fields<RecoveryOptions>& f) {
    f.base<pipeline::Phase1RecoveryOptions>();
    f("split", &RecoveryOptions::split, "world prompt split the rows are drawn from",
      world_split());
  }
  void validate() const { opt::validate(*this, "recovery data"); }
};

struct RecoveryRow {
  std::string prompt_id;
  std::string prompt;
  std::string violating_start;  // the first words of the violating response (its bytes)
  std::string compliant;        // the response the turn returns to
  std::string assistant;        // the whole turn: violating_start + connector + compliant
  std::string violating;        // the whole violating response
  // The SFT row and the preference row (pipeline::recovery_row and recovery_pair): the start
  // is context, the return a target.
  nlohmann::json to_json() const;
  nlohmann::json to_pair_json() const;
};

// `count` rows from `prompts` (a seeded shuffle, reshuffled each time the prompts run out).
// Throws cai::Error when `prompts` is empty.
std::vector<RecoveryRow> recovery_rows(const std::vector<world::WorldPrompt>& prompts,
                                       const world::KnowledgeBase& kb, const RecoveryOptions& opts);

// The rows from the world directory's `opts.split` prompts, as JSONL text (one SFT row per
// line, or one preference pair with opts.pairs): what `cai loop` appends to its SFT data.
// Errors name the missing world file.
std::string recovery_jsonl(const std::filesystem::path& world_dir, const RecoveryOptions& opts);

// `cai probe recovery-data`: recovery_jsonl written atomically to `out`; returns the rows.
std::size_t write_recovery_data(const std::filesystem::path& world_dir,
                                const std::filesystem::path& out, const RecoveryOptions& opts);

}  // namespace cai::eval
