// `cai report RUN_DIR`: the self-contained HTML report of a `cai loop` run directory.
#include <cstdio>

#include "cai/report/report.h"
#include "command.h"

namespace cai::cli {
namespace cmd_report {

void run(const report::ReportOptions& o) {
  const auto path = report::write_report(o);
  std::printf("%s\n", path.string().c_str());
}

const Registrar reg(76, [](CLI::App& root) {
  auto o = std::make_shared<report::ReportOptions>();
  CLI::App* cmd =
      root.add_subcommand("report", "Write the HTML report of a `cai loop` run directory");
  cmd->add_option("run_dir", o->run_dir, "The run directory (runs/NAME)")->required();
  cmd->add_option("-o,--out", o->out, "Output file (default: RUN_DIR/report.html)");
  cmd->add_option("--title", o->title, "Page title (default: from the manifest's name)");
  cmd->add_option("--examples", o->examples, "Examples shown per example kind")
      ->capture_default_str();
  cmd->callback([o] { run(*o); });
});

}  // namespace cmd_report
}  // namespace cai::cli
