// Phase 2's output file (labels.jsonl, and the reward model's rm_labels.jsonl), written and
// read here only, so its keys are spelt in one place. A line:
//   {"id"?, "prompt", "chosen", "rejected": TRL's conversational preference lists,
//    "prompt_text", "chosen_text", "rejected_text", "p_chosen",
//    "principles": [{"name", "weight", "p_chosen", "disagreement", "chosen_first",
//                    "rejected_first"}],
//    "position_disagreement", "position_flip", "judge", "seed"}
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cai/pipeline/label.h"

namespace cai::pipeline {

nlohmann::json to_json(const PairLabel& l, const std::string& judge, const LabelOptions& opts);

// What a line's readers use of it.
struct LabelLine {
  std::string prompt, chosen, rejected;  // the texts
  double p_chosen = 1.0;                 // in [0, 1]
  double position_disagreement = 0.0;
  bool position_flip = false;
  std::vector<std::pair<std::string, double>> principles;  // name -> that principle's p_chosen
  std::string where;  // file:line, for errors
  // {"prompt", "chosen", "rejected", "p_chosen"}: the line as a DPO / reward-model row.
  nlohmann::json preference() const;
};

// Throws cai::Error naming `where` and the field when the line is not one of ours.
LabelLine parse_label_line(const nlohmann::json& j, const std::string& where);

// Every line of a labels file, in order.
void for_each_label_line(const std::filesystem::path& path,
                         const std::function<void(const LabelLine&)>& fn);

}  // namespace cai::pipeline
