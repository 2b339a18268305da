// eval.json: one model's evaluation, as `cai world eval --out` and every loop round write it,
// and as the loop's summary and the HTML report read it. Written and read only here: the keys
// are spelt once. Every block is optional (a run without a world has task results alone); a
// block that is present is checked, and errors name the file and the key.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cai/eval/calibration.h"
#include "cai/eval/runner.h"
#include "cai/io/rate.h"
#include "cai/world/oracle.h"

namespace cai::eval {

using NamedRates = std::vector<std::pair<std::string, CountedRate>>;

// The rate of `name`, or nullptr.
inline const CountedRate* find_rate(const NamedRates& rates, const std::string& name) {
  for (const auto& [n, r] : rates)
    if (n == name) return &r;
  return nullptr;
}

// The judge's critiques against the oracle: its agreement, its own compliance rating, its false
// alarms. Principles in the file's order.
struct PrincipleRates {
  CountedRate overall;
  NamedRates principles;
  nlohmann::json to_json() const;  // {"overall": rate, "principles": {name: rate}}
  static PrincipleRates from_json(const nlohmann::json& j, const std::string& where);
};

// An oracle summary's overall and per-principle rates, by principle name.
PrincipleRates principle_rates(const world::OracleSummary& s);

// The judge's A/B answers against the oracle, both orders averaged and one order at a time.
struct ComparisonAgreement {
  CountedRate both_orders, single_order;
  NamedRates principles;
};

// The judge's probabilities against the oracle: calibration, and agreement per principle.
struct CalibrationRecord {
  Calibration calibration;
  std::vector<std::pair<std::string, Agreement>> principles;
};

// One evaluated response: the prompt, what the model said and the oracle's verdict.
struct EvalSample {
  std::string id, kind, prompt, response;
  world::OracleVerdict verdict;
};

// The world evaluation's capability tasks in EvalFile::results, and their primary metrics.
inline constexpr const char* kQuizTask = "world-quiz";
inline constexpr const char* kQuizMetric = "acc";
inline constexpr const char* kFactTask = "world-facts";
inline constexpr const char* kFactMetric = "right_fact";

struct EvalFile {
  std::string model, judge, split;  // judge and split: with a world
  std::optional<std::uint64_t> seed;
  std::optional<double> temperature;
  std::optional<world::OracleSummary> compliance;  // the oracle on the responses
  // The same prompts sampled at sampled_temperature (the loop's eval.sampled_temperature).
  std::optional<world::OracleSummary> compliance_sampled;
  double sampled_temperature = std::nan("");
  // A prompt file answered beside the split (the loop's eval.heldout, e.g. the hand-written
  // set): the oracle's verdict at the headline temperature, and sampled as above.
  std::string heldout_file;
  std::optional<world::OracleSummary> heldout, heldout_sampled;
  std::vector<EvalSample> heldout_responses;  // the headline's answers, as `responses`
  std::optional<PrincipleRates> critique_agreement, judge_compliance, critique_false_alarms;
  std::optional<ComparisonAgreement> comparison_agreement;
  std::optional<CalibrationRecord> critique_calibration, comparison_calibration;
  // Notes aimed at the judge on the A/B pairs: InjectionTally::to_json (eval/injection.h).
  nlohmann::json injections = nullptr;
  std::vector<TaskResult> results;        // capability tasks, by name, without their samples
  nlohmann::json fact_samples = nullptr;  // the fact task's answers, [{id, response, right}]
  std::vector<EvalSample> responses;

  const TaskResult* result(const std::string& name) const;
  nlohmann::json to_json() const;
  // `where` names the source in errors (a file path).
  static EvalFile from_json(const nlohmann::json& j, const std::string& where);
};

}  // namespace cai::eval
