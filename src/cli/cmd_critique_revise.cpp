// `cai critique-revise`: Phase 1 of Constitutional AI. Prompts + a constitution + a policy
// backend -> one JSONL line per prompt (initial response, rounds of critique and revision,
// SFT messages and a chosen / rejected pair). Rerunning the same command resumes.
#include <optional>

#include "backend_flags.h"
#include "cai/constitution/constitution.h"
#include "cai/io/progress.h"
#include "cai/pipeline/critique_revise.h"
#include "command.h"

namespace cai::cli {
namespace cmd_critique_revise {

struct Flags {
  BackendOptions backend;
  std::string prompts, constitution, output, format = "transcript", principles = "random";
  pipeline::CritiqueReviseOptions opts;
  std::int64_t max_tokens = 128;
  double temperature = 0.7, top_p = 1.0;
  std::optional<double> response_t, critique_t, revision_t;
  bool no_few_shot = false, no_skip = false, no_prefix_cache = false, quiet = false;
};

void run(Flags& f) {
  finish_backend_flags(f.backend);
  if (f.no_prefix_cache) f.backend.local.prefix_cache = false;
  auto& o = f.opts;
  o.format = pipeline::parse_prompt_format(f.format);
  o.principles = pipeline::parse_principle_choice(f.principles);
  o.few_shot = !f.no_few_shot;
  o.skip_when_ok = !f.no_skip;
  for (GenParams* p : {&o.response, &o.critique, &o.revision}) {
    p->max_tokens = f.max_tokens;
    p->temperature = f.temperature;
    p->top_p = f.top_p;
  }
  if (f.response_t) o.response.temperature = *f.response_t;
  if (f.critique_t) o.critique.temperature = *f.critique_t;
  if (f.revision_t) o.revision.temperature = *f.revision_t;
  o.validate();
  const Constitution c = load_constitution(f.constitution);
  const auto prompts = pipeline::read_prompts(f.prompts);
  auto backend = make_backend(f.backend);
  if (f.quiet) Progress::set_enabled(false);
  const auto n = pipeline::run_critique_revise(*backend, c, prompts, f.output, o, !f.quiet);
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
  cmd->add_option("--rounds", f->opts.rounds, "Critique -> revision rounds")->capture_default_str();
  cmd->add_option("--principles", f->principles,
                  "random (one per round, by weight, from the seed) or in-order")
      ->capture_default_str();
  cmd->add_option("--format", f->format, "transcript (raw Human:/Assistant: text) or chat")
      ->capture_default_str();
  cmd->add_flag("--no-few-shot", f->no_few_shot, "Do not prepend the constitution's examples");
  cmd->add_flag("--no-skip", f->no_skip, "Revise even when the critique finds nothing wrong");
  cmd->add_option("--min-violation-p", f->opts.min_violation_p,
                  "Revise after a \"violates\" verdict only when the model gives it at least this "
                  "probability (0 = always)")
      ->capture_default_str();
  cmd->add_option("--seed", f->opts.seed, "Seed of every random draw")->capture_default_str();
  cmd->add_option("--max-tokens", f->max_tokens, "New tokens per response / critique / revision")
      ->capture_default_str();
  cmd->add_option("--temperature", f->temperature,
                  "Sampling temperature of every stage (0 = greedy)")
      ->capture_default_str();
  cmd->add_option("--top-p", f->top_p, "Nucleus sampling mass")->capture_default_str();
  cmd->add_option("--response-temperature", f->response_t, "Override for the initial response");
  cmd->add_option("--critique-temperature", f->critique_t, "Override for critiques");
  cmd->add_option("--revision-temperature", f->revision_t, "Override for revisions");
  cmd->add_option("--chunk", f->opts.chunk, "Prompts per batch (and per durable write)")
      ->capture_default_str();
  cmd->add_flag("--no-prefix-cache", f->no_prefix_cache, "Local model: recompute shared prefixes");
  cmd->add_flag("--quiet,-q", f->quiet, "No progress output");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_critique_revise
}  // namespace cai::cli
