// `cai loop --config FILE`: iterative Constitutional AI rounds (Phase 1, Phase 2, SFT, DPO,
// evaluation) with early stopping, into one run directory; rerunning continues a killed run.
// Flags override the config; the HTML report is written at the end.
#include <cstdio>

#include "cai/io/error.h"
#include "cai/loop/loop.h"
#include "cai/report/report.h"
#include "command.h"

namespace cai::cli {
namespace cmd_loop {

struct LoopFlags {
  std::string config, out;
  std::int64_t rounds = -1;
  bool print_config = false, quiet = false;
};

void run(const LoopFlags& f) {
  loop::LoopOptions o;
  o.config = loop::load_loop_config(f.config);
  if (f.rounds >= 0) o.config.rounds = f.rounds;
  if (!f.out.empty()) o.config.out = f.out;
  if (f.print_config) {
    o.config.resolve();
    o.config.validate();
    std::fputs(o.config.to_yaml().c_str(), stdout);
    return;
  }
  o.progress = !f.quiet;
  const auto r = loop::run_loop(o);
  std::fputs(r.table.c_str(), stdout);
  o.config.resolve();  // the run directory as the loop resolved it
  report::ReportOptions ro;
  ro.run_dir = o.config.out;
  try {
    const auto page = report::write_report(ro);
    if (!f.quiet) std::fprintf(stderr, "cai loop: report %s\n", page.string().c_str());
  } catch (const Error& e) {
    // The run itself is complete; `cai report RUN_DIR` can be rerun on its own.
    std::fprintf(stderr, "cai loop: the report could not be written: %s\n", e.what());
  }
}

const Registrar reg(90, [](CLI::App& root) {
  auto f = std::make_shared<LoopFlags>();
  CLI::App* cmd = root.add_subcommand("loop",
                                      "Iterative self-improvement: Phase 1, Phase 2, SFT, DPO and "
                                      "evaluation per round (resumable)");
  cmd->add_option("--config,-c", f->config, "Loop config (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--rounds", f->rounds, "Rounds (overrides the config)");
  cmd->add_option("--out", f->out, "Run directory (overrides the config's out)");
  cmd->add_flag("--print-config", f->print_config, "Print the resolved config and exit");
  cmd->add_flag("--quiet,-q", f->quiet, "No progress output");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_loop
}  // namespace cai::cli
