// `cai label`: Phase 2 of Constitutional AI (AI feedback). Pairs from Phase 1 output (initial
// vs final revision) or from k responses sampled per prompt are judged by a feedback model on
// the constitution's comparison questions, in both orders; one JSONL line per kept pair with
// a soft label. `cai label --report FILE` summarises a label file. Rerunning resumes.
#include "backend_flags.h"
#include "cai/constitution/constitution.h"
#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/pipeline/label.h"
#include "cai/pipeline/label_report.h"
#include "command.h"

namespace cai::cli {
namespace cmd_label {

struct Flags {
  BackendOptions policy, judge;
  std::string input, prompts, constitution, output, format = "transcript", pairs = "best-worst";
  std::string report, gold, oracle_world;
  pipeline::LabelOptions opts;
  bool json = false, quiet = false, no_prefix_cache = false;
};

bool given(const BackendOptions& b) { return !b.model.empty() || !b.http.base_urls.empty(); }

void run_report(const Flags& f) {
  pipeline::LabelReportOptions ro;
  ro.gold = f.gold;
  ro.oracle_world = f.oracle_world;
  const auto r = pipeline::label_report(f.report, ro);
  std::fputs((f.json ? r.dump(2) + "\n" : pipeline::label_report_text(r)).c_str(), stdout);
}

void run(Flags& f) {
  if (!f.report.empty()) return run_report(f);
  CAI_CHECK(!f.constitution.empty(), "label: --constitution is required");
  CAI_CHECK(!f.output.empty(), "label: --output is required");
  CAI_CHECK(f.input.empty() != f.prompts.empty(),
            "label: give exactly one of --input (Phase 1 output) and --prompts (with --samples)");
  auto& o = f.opts;
  o.format = pipeline::parse_prompt_format(f.format);
  o.selection = pipeline::parse_pair_selection(f.pairs);
  if (!f.prompts.empty()) {
    CAI_CHECK(o.samples >= 2, "label: --prompts needs --samples K (K >= 2)");
  } else {
    CAI_CHECK(o.samples == 0, "label: --samples applies to --prompts, not --input");
  }
  o.validate();
  finish_backend_flags(f.policy);
  finish_backend_flags(f.judge);
  if (f.no_prefix_cache) f.policy.local.prefix_cache = f.judge.local.prefix_cache = false;
  const Constitution c = load_constitution(f.constitution);
  std::unique_ptr<Backend> policy, judge;
  if (given(f.policy)) policy = make_backend(f.policy);
  if (given(f.judge)) judge = make_backend(f.judge);
  Backend* j = judge ? judge.get() : policy.get();
  CAI_CHECK(j,
            "label: no judge: give --judge-model / --judge-api-base (or --model to judge with the "
            "policy)");
  CAI_CHECK(f.prompts.empty() || policy,
            "label: sampling responses needs the policy (--model / --api-base)");
  std::vector<pipeline::PairInput> pairs;
  std::vector<pipeline::PromptRecord> prompts;
  if (!f.input.empty())
    pairs = pipeline::read_phase1_pairs(f.input);
  else
    prompts = pipeline::read_prompts(f.prompts);
  if (f.quiet) Progress::set_enabled(false);
  const auto n = pipeline::run_label(*j, policy.get(), c, pairs, prompts, f.output, o, !f.quiet);
  if (!f.quiet) {
    std::fprintf(stderr, "cai: %zu labelled pairs written now to %s\n", n.written,
                 f.output.c_str());
    if (!prompts.empty())
      std::fprintf(stderr, "cai: %zu sampled pairs of equal texts skipped unjudged\n",
                   n.equal_skipped);
  }
}

const Registrar reg(61, [](CLI::App& root) {
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = root.add_subcommand(
      "label", "Phase 2: AI-feedback preference labels judged against a constitution (resumable)");
  cmd->add_option("--input,-i", f->input, "Phase 1 output (critique-revise JSONL): init vs final");
  cmd->add_option("--prompts,-p", f->prompts, "Prompts to sample --samples responses for");
  cmd->add_option("--constitution,-c", f->constitution, "Constitution (YAML or HF recipe JSON)");
  cmd->add_option("--output,-o", f->output, "Output JSONL (rerun the same command to resume)");
  add_backend_flags(cmd, f->policy);
  add_backend_flags(cmd, f->judge, "judge");
  cmd->add_option("--format", f->format, "transcript or chat")->capture_default_str();
  cmd->add_option("--samples,-k", f->opts.samples, "Responses sampled per prompt (with --prompts)");
  cmd->add_option("--pairs", f->pairs, "With --samples: all or best-worst")->capture_default_str();
  cmd->add_option("--sample-temperature", f->opts.sample.temperature, "Policy sampling temperature")
      ->capture_default_str();
  cmd->add_option("--sample-max-tokens", f->opts.sample.max_tokens, "Policy response tokens")
      ->capture_default_str();
  cmd->add_option("--ensemble", f->opts.ensemble,
                  "Principles per pair: 0 = one sampled by weight, n = n averaged, -1 = all")
      ->capture_default_str();
  cmd->add_flag("--cot", f->opts.chain_of_thought, "Chain of thought: the judge reasons first");
  cmd->add_option("--cot-max-tokens", f->opts.cot.max_tokens, "Reasoning tokens")
      ->capture_default_str();
  cmd->add_option("--clamp-low", f->opts.clamp_low, "CoT: lower clamp of probabilities")
      ->capture_default_str();
  cmd->add_option("--clamp-high", f->opts.clamp_high, "CoT: upper clamp of probabilities")
      ->capture_default_str();
  cmd->add_option("--min-confidence", f->opts.min_confidence,
                  "Drop pairs with |p_chosen - 0.5| below this")
      ->capture_default_str();
  cmd->add_option("--seed", f->opts.seed, "Seed of every random draw")->capture_default_str();
  cmd->add_option("--chunk", f->opts.chunk, "Items per batch (and per durable write)")
      ->capture_default_str();
  cmd->add_flag("--no-prefix-cache", f->no_prefix_cache, "Local models: recompute shared prefixes");
  cmd->add_option("--report", f->report, "Summarise this label file instead of labelling");
  cmd->add_option("--gold", f->gold,
                  "With --report: gold labels {\"prompt\", \"chosen_text\"|\"preferred\"}");
  cmd->add_option(
      "--oracle-world", f->oracle_world,
      "With --report: agreement with the demo world's oracle (a `cai world generate` dir)");
  cmd->add_flag("--json", f->json, "With --report: JSON output");
  cmd->add_flag("--quiet,-q", f->quiet, "No progress output");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_label
}  // namespace cai::cli
