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

namespace cai::cli {
namespace cmd_probe {

struct ProbeFlags {
  eval::ProbeOptions opts;
  std::string world, out, kl_responses;
  bool kl = false, prefill = false, finetune = false, no_prefill_base = false, quiet = false;
};

struct RecoveryFlags {
  eval::RecoveryOptions opts;
  std::string world, phase1, out;
};

void run(ProbeFlags& f) {
  CAI_CHECK(!f.opts.base_model.empty(), "--base is required (the base model)");
  CAI_CHECK(!f.opts.aligned_model.empty(), "--aligned is required (the aligned model)");
  CAI_CHECK(!f.world.empty(), "--world is required (the world directory)");
  CAI_CHECK(!f.out.empty(), "--out is required (the output directory)");
  f.opts.world = f.world;
  f.opts.out_dir = f.out;
  // No measurement named: all of them.
  const bool all = !f.kl && !f.prefill && !f.finetune;
  f.opts.kl = all || f.kl;
  f.opts.prefill = all || f.prefill;
  f.opts.finetune = all || f.finetune;
  f.opts.prefill_opts.base = !f.no_prefill_base;
  if (!f.kl_responses.empty()) {
    f.opts.kl_opts.responses_file = f.kl_responses;
    if (f.opts.kl_opts.source == "sampled") f.opts.kl_opts.source = "file";
  }
  f.opts.progress = !f.quiet;
  if (f.quiet) Progress::set_enabled(false);
  const auto r = eval::run_probe(f.opts);
  std::fputs(r.text.c_str(), stdout);
  std::printf("\nwrote %s\n", (f.opts.out_dir / "probe.json").string().c_str());
}

void run_recovery(RecoveryFlags& f) {
  CAI_CHECK(f.world.empty() != f.phase1.empty(),
            "probe recovery-data: give exactly one of --world and --phase1");
  std::size_t n = 0;
  if (!f.phase1.empty()) {
    // The same draws, from the model's own Phase 1 pairs instead of the world's responses.
    pipeline::Phase1RecoveryOptions o;
    o.count = f.opts.count;
    o.seed = f.opts.seed;
    o.max_prefix_words = f.opts.max_prefix_words;
    o.connector = f.opts.connector;
    n = pipeline::write_phase1_recovery_rows(f.phase1, f.out, o);
  } else {
    n = eval::write_recovery_data(f.world, f.out, f.opts);
  }
  std::printf("wrote %zu recovery rows to %s\n", n, f.out.c_str());
}

const Registrar reg(83, [](CLI::App& root) {
  auto f = std::make_shared<ProbeFlags>();
  CLI::App* cmd = root.add_subcommand("probe",
                                      "How deep the alignment goes: per-token KL to the base "
                                      "model, prefill and fine-tuning attacks");
  cmd->add_option("--base", f->opts.base_model, "Base model (directory or .gguf)");
  cmd->add_option("--aligned", f->opts.aligned_model, "Aligned model (same tokenizer as the base)");
  cmd->add_option("--world", f->world, "World directory (`cai world generate`)");
  cmd->add_option("--out", f->out, "Output directory (probe.json, fine-tuning runs)");
  cmd->add_flag("--kl", f->kl, "Measure the per-token KL (default: all three measurements)");
  cmd->add_flag("--prefill", f->prefill, "Run the prefill attack");
  cmd->add_flag("--finetune", f->finetune, "Run the fine-tuning attack");
  cmd->add_option("--k", f->opts.prefill_opts.ks, "Prefill lengths in tokens, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--n", f->opts.finetune_opts.ns, "Fine-tuning example counts, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--split", f->opts.split, "Prompt split probed: train, eval or test")
      ->capture_default_str();
  cmd->add_option("--limit", f->opts.limit, "Prompts at most (0: all)")->capture_default_str();
  cmd->add_option("--seed", f->opts.seed, "Seed of the violating responses and training order")
      ->capture_default_str();
  cmd->add_option("--temperature", f->opts.sampling.temperature, "Sampling temperature")
      ->capture_default_str();
  cmd->add_option("--top-p", f->opts.sampling.top_p, "Nucleus sampling")->capture_default_str();
  cmd->add_option("--max-tokens", f->opts.sampling.max_tokens, "Tokens per response")
      ->capture_default_str();
  cmd->add_option("--sample-seed", f->opts.sampling.seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--kl-source", f->opts.kl_opts.source, "KL responses: sampled, violating or file")
      ->capture_default_str();
  cmd->add_option("--kl-responses", f->kl_responses,
                  "JSONL of {prompt, response} for the KL (implies file)");
  cmd->add_option("--first-k", f->opts.kl_opts.first_k,
                  "KL: the first-tokens mean covers this many")
      ->capture_default_str();
  cmd->add_option("--max-positions", f->opts.kl_opts.max_positions,
                  "KL: response tokens measured at most")
      ->capture_default_str();
  cmd->add_flag("--no-prefill-base", f->no_prefill_base, "Prefill-attack the aligned model only");
  cmd->add_option("--ft-epochs", f->opts.finetune_opts.epochs, "Fine-tuning attack: epochs")
      ->capture_default_str();
  cmd->add_option("--ft-steps", f->opts.finetune_opts.max_steps,
                  "Fine-tuning attack: steps at most (-1: epochs decide)")
      ->capture_default_str();
  cmd->add_option("--ft-lr", f->opts.finetune_opts.lr, "Fine-tuning attack: learning rate")
      ->capture_default_str();
  cmd->add_option("--ft-token-budget", f->opts.finetune_opts.token_budget,
                  "Fine-tuning attack: tokens per micro-batch")
      ->capture_default_str();
  cmd->add_flag("--keep-models", f->opts.finetune_opts.keep_models,
                "Keep the fine-tuned models under OUT/finetune");
  cmd->add_option("--threads", f->opts.threads, "Torch threads (0: all cores)")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", f->quiet, "No progress bars");

  auto rf = std::make_shared<RecoveryFlags>();
  CLI::App* rec = cmd->add_subcommand(
      "recovery-data",
      "Write recovery SFT rows: a violating start that returns to a compliant response, from "
      "the world's responses (--world) or from Phase 1 pairs (--phase1: the initial response's "
      "first words, then the final revision)");
  rec->add_option("--world", rf->world, "World directory");
  rec->add_option("--phase1", rf->phase1, "Phase 1 output (critique-revise JSONL)");
  rec->add_option("--out", rf->out, "Output JSONL file")->required();
  rec->add_option("--count", rf->opts.count, "Rows")->capture_default_str();
  rec->add_option("--seed", rf->opts.seed, "Seed")->capture_default_str();
  rec->add_option("--split", rf->opts.split, "With --world: prompt split drawn from")
      ->capture_default_str();
  rec->add_option("--max-words", rf->opts.max_prefix_words, "Words of the violating start at most")
      ->capture_default_str();
  rec->callback([rf] { run_recovery(*rf); });
  // The probe itself runs when no subcommand was given.
  cmd->callback([f, cmd, rec] {
    if (!cmd->got_subcommand(rec)) run(*f);
  });
});

}  // namespace cmd_probe
}  // namespace cai::cli
