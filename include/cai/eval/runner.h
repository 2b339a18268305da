// Running evaluation tasks against a backend, with results in a stable JSON shape:
//   {"model": "...", "results": {"<task>": {"primary": "acc", "acc": 0.71, "acc_stderr": 0.02,
//    "acc_norm": ..., "n": 400}}, "samples": {"<task>": [...]}}
// A metric's standard error is that of a mean of per-record scores (sample standard deviation
// / sqrt(n), as lm-evaluation-harness reports).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cai/eval/task.h"
#include "cai/io/options.h"

namespace cai {
class Backend;
}

namespace cai::eval {

struct EvalOptions {
  std::uint64_t seed = 0;
  std::int64_t limit = 0;
  static void fields(opt::Fields<EvalOptions>& f) {
    f("seed", &EvalOptions::seed, "seed of the few-shot draws");
    f("limit", &EvalOptions::limit, "records per task at most (0: the task's)", opt::min(0));
  }
  void validate() const { opt::validate(*this, "eval"); }
};

struct TaskResult {
  std::string name;
  std::string primary;                    // the first metric listed
  std::map<std::string, double> metrics;  // mean per-record score
  std::map<std::string, double> stderrs;
  std::int64_t n = 0;
  nlohmann::json samples = nlohmann::json::array();  // per record: prompt, prediction, correct
  // The results entry, without samples: {"primary", "n", <metric>: mean, <metric>_stderr}.
  nlohmann::json to_json() const;
  static TaskResult from_json(const std::string& name, const nlohmann::json& j,
                              const std::string& where);
  // The primary metric's mean and standard error (NaN when absent).
  double primary_value() const;
  double primary_stderr() const;
};

TaskResult run_task(Backend& backend, const TaskSpec& task, const EvalOptions& opts);

// Mean and standard error of per-record scores (0 / 1 or real values).
std::pair<double, double> mean_stderr(const std::vector<double>& xs);

nlohmann::json results_json(const std::string& model, const std::vector<TaskResult>& results,
                            bool with_samples);

}  // namespace cai::eval
