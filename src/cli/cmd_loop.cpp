// `cai loop --config FILE`: iterative Constitutional AI rounds (Phase 1, Phase 2, SFT, DPO,
// evaluation) with early stopping, into one run directory; rerunning continues a killed run.
// Flags override the config; the HTML report is written at the end.
#include <cstdio>

#include "cai/dist/dist.h"
#include "cai/dist/launch.h"
#include "cai/io/error.h"
#include "cai/loop/loop.h"
#include "cai/model/llama.h"
#include "cai/report/report.h"
#include "command.h"
#include "dist_flags.h"

namespace cai::cli {
namespace cmd_loop {

struct LoopFlags {
  std::string config, out;
  std::int64_t rounds = -1;
  bool print_config = false, quiet = false;
  int threads = 0;
  DistFlags dist;
  loop::TrainingStage stage;  // set in a rank of a launched training stage (hidden flags)
};

// With --nproc N: each training stage runs as N local ranks of this same command line plus
// the stage's hidden flags; each rank trains, the loop goes on when all succeeded.
void launch_stage(const LoopFlags& f, const loop::TrainingStage& st) {
  std::vector<std::string> args = program_args();
  args.insert(args.end(), {"--run-stage", st.stage, "--stage-round", std::to_string(st.round),
                           "--stage-model", st.model});
  if (!st.reward_model.empty()) args.insert(args.end(), {"--stage-reward-model", st.reward_model});
  const int rc = dist::launch_local(f.dist.nproc, args);
  CAI_CHECK(rc == 0, "loop: round {}: the {} stage's {} data-parallel ranks failed (status {})",
            st.round, st.stage, f.dist.nproc, rc);
}

void run(LoopFlags& f) {
  loop::LoopOptions o;
  o.config = loop::load_loop_config(f.config);
  if (f.rounds >= 0) o.config.rounds = f.rounds;
  if (!f.out.empty()) o.config.out = f.out;
  if (!f.stage.stage.empty()) {
    // A rank of a launched stage: join the job, train, leave.
    start_dist(f.dist, f.threads);
    set_torch_threads(f.threads);
    loop::run_training_stage(o.config, f.stage, !f.quiet && dist::is_main(), f.threads);
    return;
  }
  CAI_CHECK(f.dist.nproc >= 1, "--nproc must be >= 1, got {}", f.dist.nproc);
  CAI_CHECK(dist::options_from_env().world_size == 1,
            "cai loop starts its own ranks for training (--nproc); run it as one process");
  if (f.dist.nproc > 1)
    o.launch_training = [&f](const loop::TrainingStage& st) { launch_stage(f, st); };
  if (f.print_config) {
    o.config.resolve();
    o.config.validate();
    std::fputs(o.config.to_yaml().c_str(), stdout);
    return;
  }
  o.progress = !f.quiet;
  o.threads = f.threads;
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
  cmd->add_option("--threads", f->threads,
                  "Intra-op threads of the local models and trainers (0 = all cores)")
      ->capture_default_str();
  add_dist_flags(cmd, f->dist, /*device=*/false);
  // Set by --nproc for the ranks of one training stage; not for users.
  cmd->add_option("--run-stage", f->stage.stage)->group("");
  cmd->add_option("--stage-round", f->stage.round)->group("");
  cmd->add_option("--stage-model", f->stage.model)->group("");
  cmd->add_option("--stage-reward-model", f->stage.reward_model)->group("");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_loop
}  // namespace cai::cli
