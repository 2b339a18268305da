// Reading a loop run directory for the report, each file through the reader of the module that
// writes it. Every file is optional (a run killed midway still reports): absent files are
// std::nullopt. A file that exists but does not parse throws cai::Error naming the file and
// the line or key. A JSON Lines file's torn last line (no trailing newline and not valid
// JSON), which a killed writer leaves, is dropped.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cai/eval/eval_file.h"
#include "cai/eval/probe_file.h"
#include "cai/loop/manifest.h"
#include "cai/loop/run_files.h"
#include "cai/pipeline/label_file.h"
#include "cai/pipeline/phase1_file.h"

namespace cai::report {

using Json = nlohmann::json;
using JsonLines = std::vector<Json>;

// A trainer's metrics.jsonl (open-ended: each trainer logs its own metrics by name): every
// line must be an object with a numeric "step" (the x of every training plot).
std::optional<JsonLines> read_metrics_file(const std::filesystem::path& path);

struct RoundData {
  int round = 0;
  std::filesystem::path dir;
  std::optional<eval::EvalFile> eval;        // eval.json
  std::optional<loop::QualityFile> quality;  // quality.json
  std::optional<loop::RoundFile> info;       // round.json
  std::optional<std::vector<pipeline::Phase1Line>> critique_revise;
  std::optional<std::vector<pipeline::LabelLine>> labels;
  std::optional<JsonLines> sft_metrics, dpo_metrics;
  std::optional<JsonLines> rm_metrics, rl_metrics;  // rounds with an rl stage
  std::optional<JsonLines> deepen_metrics;          // rounds with a deepen stage
  std::string label() const;                        // "round 0 (base)", "round 2"
};

struct RunData {
  std::filesystem::path dir;
  std::optional<loop::ManifestFile> manifest;
  std::optional<loop::SummaryFile> summary;
  std::optional<eval::ProbeFile> probe;  // probe/probe.json: the shallow-alignment probe
  // probe/before-deepen/probe.json: the same probe of the probed round's model before its
  // deepen stage
  std::optional<eval::ProbeFile> probe_before_deepen;
  std::vector<RoundData> rounds;  // by round number; round 0 first when present

  // summary.json's best_round; without a summary, the round after 0 with the highest quality
  // (the later one on ties); -1 when there is none.
  int best_round() const;
  const RoundData* round(int k) const;  // nullptr when that round has no directory
};

// Throws cai::Error when `dir` is not a directory or holds neither manifest.json nor round-K/.
RunData load_run(const std::filesystem::path& dir);

// Safe lookups into files whose shape may be partial: the number at `path` (keys, in order),
// or NaN when any key is missing or the value is not a number.
double num_at(const Json& j, std::initializer_list<const char*> path);
std::string str_at(const Json& j, const char* key, const std::string& fallback = "");

// A rate as "87.5% (7/8)", or "n/a" when it is absent or of nothing (total 0).
std::string rate_cell(const CountedRate* rate);

// A rate's value, NaN when it is absent or of nothing.
double rate_of(const CountedRate* rate);

}  // namespace cai::report
