// `cai critique-revise`: Phase 1 of Constitutional AI. Prompts + a constitution + a policy
// backend -> one JSONL line per prompt (initial response, rounds of critique and revision,
// SFT messages and a chosen / rejected pair). Rerunning the same command resumes.
#include "backend_flags.h"
#include "cai/constitution/constitution.h"
#include "cai/io/progress.h"
#include "cai/pipeline/critique_revise.h"
#include "command.h"
#include "option_flags.h"

namespace cai::cli {
namespace cmd_critique_revise {

struct Flags {
  BackendOptions backend;
  std::string prompts, constitution, output;
  pipeline::CritiqueReviseOptions opts;
  bool quiet = false;
};

void run(Flags& f) {
  check_flags(f.opts);
  const Constitution c = load_constitution(f.constitution);
  const auto prompts = pipeline::read_prompts(f.prompts);
  auto backend = make_backend(f.backend);
  if (f.quiet) Progress::set_enabled(false);
  const auto n = pipeline::run_critique_revise(*backend, c, prompts, f.output, f.opts, !f.quiet);
  if (!f.quiet)
    std::fprintf(stderr, "cai: %zu prompts processed now, %zu in %s\n", n, prompts.size(),
                 f.output.c_str());
}

const Registrar reg(60, [](CLI::App& root) {
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = root.add_subcommand(
      "critique-revise",
      "Phase 1: critique and revise responses against a constitution (resumable)");
  cmd->add_option("--prompts,-p", f->prompts,
                  "Prompts: JSONL {\"prompt\"} / {\"id\",\"prompt\"}, or one per line")
      ->required();
  cmd->add_option("--constitution,-c", f->constitution, "Constitution (YAML or HF recipe JSON)")
      ->required();
  cmd->add_option("--output,-o", f->output, "Output JSONL (rerun the same command to resume)")
      ->required();
  add_backend_flags(cmd, f->backend);
  add_flags(cmd, f->opts);
  cmd->add_flag("--quiet,-q", f->quiet, "No progress output");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_critique_revise
}  // namespace cai::cli
