// `cai eval`: capability tasks (YAML task files over JSONL data) against any backend, with
// results others can read (and `cai tax` compares).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "backend_flags.h"
#include "cai/eval/runner.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "command.h"
#include "option_flags.h"

namespace cai::cli {
namespace cmd_eval {

struct EvalFlags {
  BackendOptions backend;
  std::vector<std::string> tasks;
  std::string data_dir, out;
  bool samples = false;
  eval::EvalOptions opts;
};

void run(EvalFlags& f) {
  check_flags(f.opts);
  auto backend = make_backend(f.backend);
  std::vector<eval::TaskResult> results;
  for (const auto& t : f.tasks) {
    auto spec = eval::load_task(t, f.data_dir);
    results.push_back(eval::run_task(*backend, spec, f.opts));
    const auto& r = results.back();
    for (const auto& [m, v] : r.metrics)
      std::printf("%-24s %-12s %8.4f  ± %.4f  (n=%lld)\n", r.name.c_str(), m.c_str(), v,
                  r.stderrs.at(m), static_cast<long long>(r.n));
  }
  if (!f.out.empty())
    write_json(f.out, eval::results_json(backend->describe(), results, f.samples));
}

const Registrar reg(70, [](CLI::App& root) {
  auto f = std::make_shared<EvalFlags>();
  CLI::App* cmd = root.add_subcommand("eval", "Run evaluation tasks (multiple choice, generation)");
  add_backend_flags(cmd, f->backend);
  cmd->add_option("--tasks", f->tasks, "Task files (YAML)")->required()->delimiter(',');
  cmd->add_option("--data-dir", f->data_dir,
                  "Where task datasets are found (default: beside each task)");
  add_flags(cmd, f->opts);
  cmd->add_option("--out", f->out, "Write the results JSON here");
  cmd->add_flag("--samples", f->samples, "Include per-record samples in the results");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_eval
}  // namespace cai::cli
