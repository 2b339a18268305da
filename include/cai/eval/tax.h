// The alignment tax: how much a capability benchmark moved between a base model and its
// aligned version. Per benchmark tax = (base - aligned) / base x 100 (positive: regression,
// negative: improvement), then the plain average over benchmarks; also the absolute difference
// aligned - base with its standard error sqrt(se_base^2 + se_aligned^2) when both scores carry
// one, and whether |difference| > 1.96 se (significant at about 5%, scores independent).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cai::eval {

struct BenchScore {
  double value = 0.0;
  std::optional<double> stderr_;  // standard error of value, same units
  std::optional<long long> n;     // samples behind it
};

// Benchmarks in the order they were given (a file's order).
using Scores = std::vector<std::pair<std::string, BenchScore>>;

struct TaxRow {
  std::string benchmark;
  BenchScore base, aligned;
  double tax_pct = 0.0;  // (base - aligned) / base * 100
  double diff = 0.0;     // aligned - base
  std::optional<double> diff_stderr;
  std::optional<bool> significant;  // |diff| > 1.96 * diff_stderr
  const char* direction() const;    // "regression", "improvement" or "no change"
};

struct TaxReport {
  std::string title;
  std::vector<TaxRow> rows;  // in the base scores' order
  double average_tax_pct = 0.0;
  std::string to_text() const;  // the table the CLI prints
  // {"title", "rows": [{"benchmark", "base", "aligned", "tax_pct", "direction", "diff",
  //  "diff_stderr", "significant"}], "average_tax_pct"}; reading gives the scores without
  // their standard errors (the file keeps the difference's alone).
  nlohmann::json to_json() const;
  static TaxReport from_json(const nlohmann::json& j, const std::string& where);
};

// Every benchmark of `base` must be in `aligned` (and the reverse); base values must be
// non-zero. Throws cai::Error naming the benchmark otherwise.
TaxReport compute_tax(const Scores& base, const Scores& aligned, std::string title = "");

// Reads scores from a JSON file in any of these shapes:
//   {"MMLU": 65.2, ...}
//   {"MMLU": {"value": 65.2, "stderr": 0.4, "n": 14042}, ...}
//   a `cai eval` results file: {"results": {"task": {"primary": "acc", "acc": 0.7,
//                                "acc_stderr": 0.03, "n": 200, ...}}} (the primary metric)
// Errors name the file and key.
Scores read_scores(const std::filesystem::path& path);

}  // namespace cai::eval
