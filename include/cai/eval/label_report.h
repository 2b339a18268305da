// `cai label --report`: what a label file says about the judge. The distribution of p_chosen,
// the position-bias rate (pairs whose two orders prefer different responses), and, when a
// reference is given, agreement: with gold labels ({"prompt", "chosen_text"} or
// {"prompt", "preferred"} per line, matched by prompt and response text) or with the demo
// world's oracle (reporting only: the oracle never produces labels). Against each reference:
// the agreement rate with its 95% Wilson interval, agreement per principle (each principle's
// own p_chosen; against the oracle on the pairs whose responses it rates differently on that
// principle, against gold labels on every matched pair), and the calibration of p_chosen
// (expected calibration error and reliability bins, eval/calibration.h).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace cai::eval {

struct LabelReportOptions {
  std::filesystem::path gold;          // optional gold labels
  std::filesystem::path oracle_world;  // optional `cai world generate` directory
  int bins = 5;                        // histogram bins over p_chosen in [0.5, 1]
  int calibration_bins = 5;            // reliability bins over the confidence in [0.5, 1]
  void validate() const;
};

// {"pairs", "histogram": [{"lo","hi","count"}], "mean_p_chosen", "position_flip_rate",
//  "mean_position_disagreement",
//  "gold": {"matched", "agree", "rate", "ci95": [lo, hi], "calibration": {Calibration},
//           "principles": {NAME: {"agree", "n", "rate", "ci95"}}},
//  "oracle": {the same, "ties", "unknown_prompts"}}
nlohmann::json label_report(const std::filesystem::path& labels, const LabelReportOptions& opts);
std::string label_report_text(const nlohmann::json& report);

}  // namespace cai::eval
