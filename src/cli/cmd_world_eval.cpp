// `cai world eval`: how a model behaves in the embedded world, scored by the world's oracle:
// compliance per principle, the judge's critique and A/B agreement, quiz and fact accuracy.
#include <cstdio>

#include "backend_flags.h"
#include "cai/eval/world_eval.h"
#include "cai/io/file.h"
#include "command.h"

namespace cai::cli {
namespace cmd_world_eval {

struct WorldEvalFlags {
  BackendOptions policy, judge;
  eval::WorldEvalOptions opts;
  std::string world, constitution, out;
  bool no_critiques = false, no_comparisons = false, no_tasks = false;
};

void run(WorldEvalFlags& f) {
  finish_backend_flags(f.policy);
  finish_backend_flags(f.judge);
  f.opts.world = f.world;
  f.opts.constitution = f.constitution;
  f.opts.critiques = !f.no_critiques;
  f.opts.comparisons = !f.no_comparisons;
  f.opts.tasks = !f.no_tasks;
  auto policy = make_backend(f.policy);
  std::unique_ptr<Backend> judge;
  if (!f.judge.model.empty() || !f.judge.http.base_urls.empty()) judge = make_backend(f.judge);
  auto r = eval::evaluate_world(*policy, judge ? *judge : *policy, f.opts);
  std::fputs(r.text.c_str(), stdout);
  if (!f.out.empty()) write_file_atomic(f.out, r.report.dump(2) + "\n");
}

const Registrar reg(81, [](CLI::App& root) {
  CLI::App* world = group(root, "world", "The synthetic telehealth world: generator and oracle");
  auto f = std::make_shared<WorldEvalFlags>();
  CLI::App* cmd = world->add_subcommand("eval", "Evaluate a model in the world with its oracle");
  add_backend_flags(cmd, f->policy);
  add_backend_flags(cmd, f->judge, "judge");
  cmd->add_option("--world", f->world, "World directory")->required();
  cmd->add_option("--constitution", f->constitution, "Constitution (default: the world's)");
  cmd->add_option("--split", f->opts.split, "Prompt split: train, eval or test")
      ->capture_default_str();
  cmd->add_option("--limit", f->opts.limit, "Prompts at most (0: all)");
  cmd->add_option("--task-limit", f->opts.task_limit, "Records per capability task (0: all)");
  cmd->add_option("--temperature", f->opts.temperature, "Sampling temperature of responses")
      ->capture_default_str();
  cmd->add_option("--top-p", f->opts.top_p, "Nucleus sampling of responses")->capture_default_str();
  cmd->add_option("--max-tokens", f->opts.max_tokens, "Tokens per response")->capture_default_str();
  cmd->add_option("--seed", f->opts.seed, "Sampling seed")->capture_default_str();
  cmd->add_flag("--no-critiques", f->no_critiques, "Skip the critique agreement");
  cmd->add_flag("--no-comparisons", f->no_comparisons, "Skip the A/B agreement");
  cmd->add_flag("--no-tasks", f->no_tasks, "Skip the quiz and fact task");
  cmd->add_option("--out", f->out, "Write the full report (JSON) here");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_world_eval
}  // namespace cai::cli
