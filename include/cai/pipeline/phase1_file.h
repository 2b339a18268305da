// Phase 1's output file (critique_revise.jsonl), written and read here only, so its keys are
// spelt in one place. A line:
//   {"id"?, "prompt", "messages": [user, assistant = final response], "init_response",
//    "rounds": [{"principle", "critique", "revision", "skipped", "p_violates"?}],
//    "prompt_messages", "chosen" (final), "rejected" (initial): TRL's conversational preference
//    lists, "model", "constitution_hash", "seed", "settings"}
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

#include "cai/pipeline/critique_revise.h"

namespace cai::pipeline {

nlohmann::json to_json(const CritiqueReviseRecord& r, const std::string& model,
                       const std::string& constitution_hash, const CritiqueReviseOptions& opts);

// What a line's readers use of it.
struct Phase1Line {
  std::string id;  // "" when the prompt had none
  std::string prompt;
  std::string init_response;
  std::string final_response;       // the last message's content ("" when it is empty)
  std::vector<RoundRecord> rounds;  // the critique trail
  nlohmann::json messages;          // [user, assistant]: an SFT row's conversation
  std::string where;                // file:line, for errors
};

// Throws cai::Error naming `where` and the field when the line is not one of ours.
Phase1Line parse_phase1_line(const nlohmann::json& j, const std::string& where);

// Every line of a Phase 1 file, in order.
void for_each_phase1_line(const std::filesystem::path& path,
                          const std::function<void(const Phase1Line&)>& fn);

}  // namespace cai::pipeline
