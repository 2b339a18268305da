// The files a loop run leaves beside its stages' data: each round's quality.json and
// round.json, and the run's summary.json. The loop writes them and reads them back on resume;
// `cai report` reads them. Their keys are spelt only in run_files.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cai/eval/eval_file.h"
#include "cai/eval/tax.h"
#include "cai/loop/winrate.h"
#include "cai/world/oracle.h"

namespace cai::loop {

// One quality prompt's comparison with the round before (quality.metric winrate).
struct PromptComparison {
  std::string id;
  PromptPreference preference;
};

// quality.json: a round's quality score and what it is made of.
struct QualityFile {
  std::int64_t round = 0;
  std::string metric;  // quality.metric: judge, oracle or winrate
  std::string split;   // the prompts scored (a world split, or the eval prompts file)
  double quality = 0.0;
  // judge and oracle: the rates the score is the overall of (judge_compliance with judge).
  std::optional<world::OracleSummary> compliance;
  std::optional<eval::PrincipleRates> judge_compliance;
  // winrate: the round's responses file, the judge, the round compared with (none for round
  // 0), the win rate and each prompt's comparison.
  std::string responses, judge;
  std::optional<std::int64_t> against_round;
  std::optional<WinRate> win_rate;
  std::vector<PromptComparison> prompts;

  nlohmann::json to_json() const;
  static QualityFile from_json(const nlohmann::json& j, const std::string& where);
};

// round.json: a finished round.
struct RoundFile {
  std::int64_t round = 0;
  std::string model;  // the round's model (a path, or the api's description)
  double quality = 0.0;
  std::vector<std::pair<std::string, double>> seconds;  // per stage run, in the log's order
  bool done = false;
  nlohmann::json notes = nullptr;  // stages.json's notes: {stage: what it counted}

  nlohmann::json to_json() const;
  static RoundFile from_json(const nlohmann::json& j, const std::string& where);
};

// summary.json's line for one round.
struct SummaryRound {
  std::int64_t round = 0;
  double quality = 0.0;
  std::string model;
  std::optional<WinRate> win_rate;  // quality.metric winrate
  std::optional<double> strength;   // winrate: the chain's Bradley-Terry strength
  std::optional<double> oracle;     // the world oracle's compliance, when there is a world
};

// The rounds best first by the quality signal and, with a world, by the oracle.
struct Ranking {
  std::vector<std::int64_t> quality, oracle;
  std::optional<std::int64_t> oracle_best_round;
  std::optional<bool> agree;  // the oracle's best round is the signal's
};

// The alignment tax of the best round against round 0, or why there is none.
struct TaxSummary {
  std::optional<eval::TaxReport> report;
  std::string error;                   // set when there is no report
  std::vector<std::string> zero_base;  // benchmarks listed but not taxed (a zero base score)
};

struct SummaryFile {
  std::string name, metric;
  std::vector<SummaryRound> rounds;
  std::int64_t best_round = 0;
  std::string best_model, stopped, reason;
  // winrate: the first round whose win rate stops or ranks the loop; 2 when round 1's was the
  // base model judging its own responses (winrate.h). Written as "counted_from_round".
  std::int64_t counted_from = 1;
  Ranking ranking;
  TaxSummary tax;
  // Round 0's and the best round's evaluations, without their responses and calibration.
  eval::EvalFile before, after;

  nlohmann::json to_json() const;
  static SummaryFile from_json(const nlohmann::json& j, const std::string& where);
};

// An evaluation as the summary keeps it: its figures, not its responses or calibration.
eval::EvalFile summary_eval(const eval::EvalFile& e);

}  // namespace cai::loop
