// `cai label`: Phase 2 of Constitutional AI (AI feedback). Pairs from Phase 1 output (initial
// vs final revision) or from k responses sampled per prompt are judged by a feedback model on
// the constitution's comparison questions, in both orders; one JSONL line per kept pair with
// a soft label. `cai label --report FILE` summarises a label file. Rerunning resumes.
#include "backend_flags.h"
#include "cai/constitution/constitution.h"
#include "cai/eval/injection.h"
#include "cai/eval/label_injection.h"
#include "cai/eval/label_report.h"
#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/pipeline/label.h"
#include "command.h"
#include "option_flags.h"

namespace cai::cli {
namespace cmd_label {

struct Flags {
  BackendOptions policy, judge;
  std::string input, prompts, constitution, output;
  std::string report, gold, oracle_world, injections;
  pipeline::LabelOptions opts;
  bool json = false, quiet = false;
};

// The judge of a labelling run or of --report --injections: --judge-model / --judge-api-base,
// else the policy's flags. --no-prefix-cache is for both models.
std::unique_ptr<Backend> make_judge(Flags& f, std::unique_ptr<Backend>& policy) {
  if (!f.policy.local.prefix_cache) f.judge.local.prefix_cache = false;
  if (backend_given(f.policy)) policy = make_backend(f.policy);
  if (backend_given(f.judge)) return make_backend(f.judge);
  return nullptr;
}

void run_report(Flags& f) {
  eval::LabelReportOptions ro;
  ro.gold = f.gold;
  ro.oracle_world = f.oracle_world;
  auto r = eval::label_report(f.report, ro);
  std::string text = eval::label_report_text(r);
  if (!f.injections.empty()) {
    CAI_CHECK(!f.constitution.empty(), "label: --injections needs --constitution");
    check_flags(f.opts);
    const auto notes = eval::load_injections(f.injections);
    const Constitution c = load_constitution(f.constitution);
    std::unique_ptr<Backend> policy;
    auto judge = make_judge(f, policy);
    Backend* j = judge ? judge.get() : policy.get();
    CAI_CHECK(j,
              "label: --injections needs a judge: --judge-model / --judge-api-base (or --model)");
    r["injections"] = eval::injection_report(*j, c, f.report, notes, f.opts);
    text += eval::injection_report_text(r["injections"]);
  }
  std::fputs((f.json ? r.dump(2) + "\n" : text).c_str(), stdout);
}

void run(Flags& f) {
  if (!f.report.empty()) return run_report(f);
  CAI_CHECK(f.injections.empty(), "label: --injections applies to --report");
  CAI_CHECK(!f.constitution.empty(), "label: --constitution is required");
  CAI_CHECK(!f.output.empty(), "label: --output is required");
  CAI_CHECK(f.input.empty() != f.prompts.empty(),
            "label: give exactly one of --input (Phase 1 output) and --prompts (with --samples)");
  auto& o = f.opts;
  if (!f.prompts.empty()) {
    CAI_CHECK(o.samples >= 2, "label: --prompts needs --samples K (K >= 2)");
  } else {
    CAI_CHECK(o.samples == 0, "label: --samples applies to --prompts, not --input");
  }
  check_flags(o);
  const Constitution c = load_constitution(f.constitution);
  std::unique_ptr<Backend> policy;
  auto judge = make_judge(f, policy);
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
  add_flags(cmd, f->opts);
  cmd->add_option("--report", f->report, "Summarise this label file instead of labelling");
  cmd->add_option("--gold", f->gold,
                  "With --report: gold labels {\"prompt\", \"chosen_text\"|\"preferred\"}");
  cmd->add_option(
      "--oracle-world", f->oracle_world,
      "With --report: agreement with the demo world's oracle (a `cai world generate` dir)");
  cmd->add_option("--injections", f->injections,
                  "With --report: judge each pair again with these notes appended (JSONL "
                  "{\"name\", \"text\"}; needs --constitution and a judge)");
  cmd->add_flag("--json", f->json, "With --report: JSON output");
  cmd->add_flag("--quiet,-q", f->quiet, "No progress output");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_label
}  // namespace cai::cli
