// `cai probe`: the shallow-alignment probe (per-token KL, prefill and fine-tuning attacks) of an
// aligned model against its base model, and `cai probe recovery-data`, the recovery SFT rows
// of its deepening option (from the world, or from Phase 1's pairs).
#include <cstdio>

#include "cai/eval/probe.h"
#include "cai/eval/probe_data.h"
#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/pipeline/recovery.h"
#include "command.h"
#include "option_flags.h"

namespace cai::cli {
namespace cmd_probe {

struct ProbeFlags {
  eval::ProbeOptions opts;
  bool kl = false, prefill = false, finetune = false, quiet = false;
};

struct RecoveryFlags {
  eval::RecoveryOptions opts;
  std::string world, phase1, out;
};

void run(ProbeFlags& f) {
  // No measurement named: all of them.
  const bool all = !f.kl && !f.prefill && !f.finetune;
  f.opts.kl = all || f.kl;
  f.opts.prefill = all || f.prefill;
  f.opts.finetune = all || f.finetune;
  auto& kl = f.opts.kl_opts;
  if (!kl.responses_file.empty() && kl.source == "sampled") kl.source = "file";
  check_flags(f.opts);
  f.opts.progress = !f.quiet;
  if (f.quiet) Progress::set_enabled(false);
  const auto r = eval::run_probe(f.opts);
  std::fputs(r.text.c_str(), stdout);
  std::printf("\nwrote %s\n", (f.opts.out_dir / "probe.json").string().c_str());
}

void run_recovery(RecoveryFlags& f) {
  CAI_CHECK(f.world.empty() != f.phase1.empty(),
            "probe recovery-data: give exactly one of --world and --phase1");
  check_flags(f.opts);
  std::size_t n = 0;
  if (!f.phase1.empty()) {
    // The same draws, from the model's own Phase 1 pairs instead of the world's responses.
    n = pipeline::write_phase1_recovery_rows(f.phase1, f.out, f.opts);
  } else {
    n = eval::write_recovery_data(f.world, f.out, f.opts);
  }
  std::printf("wrote %zu recovery %s to %s\n", n, f.opts.pairs ? "pairs" : "rows", f.out.c_str());
}

const Registrar reg(83, [](CLI::App& root) {
  auto f = std::make_shared<ProbeFlags>();
  CLI::App* cmd = root.add_subcommand("probe",
                                      "How deep the alignment goes: per-token KL to the base "
                                      "model, prefill and fine-tuning attacks");
  add_flags(cmd, f->opts, {"kl", "prefill", "finetune"});
  cmd->add_flag("--kl", f->kl, "Measure the per-token KL (default: all three measurements)");
  cmd->add_flag("--prefill", f->prefill, "Run the prefill attack");
  cmd->add_flag("--finetune", f->finetune, "Run the fine-tuning attack");
  cmd->add_flag("-q,--quiet", f->quiet, "No progress bars");

  auto rf = std::make_shared<RecoveryFlags>();
  CLI::App* rec = cmd->add_subcommand(
      "recovery-data",
      "Write recovery SFT rows: a violating start that returns to a compliant response, from "
      "the world's responses (--world) or from Phase 1 pairs (--phase1: the initial response's "
      "first words, then the final revision), the start given in the prompt and only the return "
      "trained; with --pairs, DPO pairs that prefer the return to the rest of the violating "
      "response");
  rec->add_option("--world", rf->world, "World directory");
  rec->add_option("--phase1", rf->phase1, "Phase 1 output (critique-revise JSONL)");
  rec->add_option("--out", rf->out, "Output JSONL file")->required();
  add_flags(rec, rf->opts);
  rec->callback([rf] { run_recovery(*rf); });
  // The probe itself runs when no subcommand was given.
  cmd->callback([f, cmd, rec] {
    if (!cmd->got_subcommand(rec)) run(*f);
  });
});

}  // namespace cmd_probe
}  // namespace cai::cli
