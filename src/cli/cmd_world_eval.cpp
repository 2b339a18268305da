// `cai world eval`: how a model behaves in the embedded world, scored by the world's oracle:
// compliance per principle, the judge's critique and A/B agreement, quiz and fact accuracy.
#include <cstdio>

#include "backend_flags.h"
#include "cai/eval/world_eval.h"
#include "cai/io/file.h"
#include "command.h"
#include "option_flags.h"

namespace cai::cli {
namespace cmd_world_eval {

struct WorldEvalFlags {
  BackendOptions policy, judge;
  eval::WorldEvalOptions opts;
  std::string out;
};

void run(WorldEvalFlags& f) {
  check_flags(f.opts);
  auto policy = make_backend(f.policy);
  std::unique_ptr<Backend> judge;
  if (backend_given(f.judge)) judge = make_backend(f.judge);
  auto r = eval::evaluate_world(*policy, judge ? *judge : *policy, f.opts);
  std::fputs(r.text.c_str(), stdout);
  if (!f.out.empty()) write_json(f.out, r.report.to_json());
}

const Registrar reg(81, [](CLI::App& root) {
  CLI::App* world = group(root, "world", "The synthetic telehealth world: generator and oracle");
  auto f = std::make_shared<WorldEvalFlags>();
  CLI::App* cmd = world->add_subcommand("eval", "Evaluate a model in the world with its oracle");
  add_backend_flags(cmd, f->policy);
  add_backend_flags(cmd, f->judge, "judge");
  add_flags(cmd, f->opts);
  cmd->get_option("--world")->required();
  cmd->add_option("--out", f->out, "Write the full report (JSON) here");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_world_eval
}  // namespace cai::cli
