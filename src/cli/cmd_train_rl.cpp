// `cai train rl`: flags into cai::train::RlRunOptions (include/cai/train/rl.h), which loads
// the policy, the reward model and the prompts and runs the RL loop; with --reward judge the
// reward is the constitution judge's (pipeline/judge_reward.h) on a backend of its own.
#include <cstdio>
#include <memory>
#include <string>

#include "backend_flags.h"
#include "cai/constitution/constitution.h"
#include "cai/dist/dist.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/pipeline/judge_reward.h"
#include "cai/train/rl.h"
#include "command.h"
#include "dist_flags.h"
#include "option_flags.h"

namespace cai::cli {
namespace cmd_train_rl {

using namespace cai::train;

struct RlFlags {
  std::string reward = "model", constitution;
  BackendOptions judge;
  pipeline::JudgeRewardOptions judge_opts;
  bool quiet = false;
  int threads = 0;
  DistFlags dist;
};

// The constitution judge's reward. The judge is --judge-model / --judge-api-base, else the
// starting policy loaded on its own, so the judge stays fixed while the policy trains.
cai::train::RlSummary run_with_judge(RlRunOptions& o, RlFlags& f) {
  CAI_CHECK(!f.constitution.empty(), "train rl: --reward judge needs --constitution");
  CAI_CHECK(o.reward_model.empty(), "train rl: --reward judge takes no --reward-model");
  if (f.judge.model.empty() && f.judge.http.base_urls.empty()) f.judge.model = o.model;
  // A local judge would otherwise set the process's threads to every core.
  if (f.judge.local.threads == 0) f.judge.local.threads = f.threads;
  check_flags(f.judge_opts, "judge");
  f.judge_opts.seed = o.rl.seed;
  const Constitution c = load_constitution(f.constitution);
  const std::unique_ptr<Backend> judge = make_backend(f.judge);
  const cai::train::Reward reward = pipeline::judge_reward(*judge, c, f.judge_opts);
  return run_rl(o, &reward);
}

void print_rl_summary(const RlSummary& s, const RlOptions& o) {
  if (!dist::is_main()) return;
  auto get = [](const Metrics& m, const char* k) {
    auto it = m.find(k);
    return it == m.end() ? 0.0 : it->second;
  };
  std::fprintf(stderr,
               "cai: %lld steps in %.1f s; score %.4g -> %.4g, kl %.4g -> %.4g, kl_coef %.4g\n",
               static_cast<long long>(s.steps), s.seconds, get(s.first, "score"),
               get(s.last, "score"), get(s.first, "kl"), get(s.last, "kl"), get(s.last, "kl_coef"));
  std::fprintf(stderr, "cai: wrote %s/final (metrics: %s/metrics.jsonl)\n", o.out_dir.c_str(),
               o.out_dir.c_str());
}

const Registrar reg(61, [](CLI::App& root) {
  CLI::App* train = group(root, "train", "Train a model: SFT, reward model, DPO, RL");
  auto o = std::make_shared<RlRunOptions>();
  auto f = std::make_shared<RlFlags>();
  RlOptions& r = o->rl;
  CLI::App* c = train->add_subcommand(
      "rl",
      "RL with a KL penalty to the starting policy: RLOO, GRPO or PPO, against a reward model "
      "or the constitution judge's probability that a response follows its principles "
      "(--reward judge).\n"
      "Prompts: JSONL {\"prompt\": text or messages} or {\"messages\"} (trailing assistant turns "
      "dropped). One step = one rollout (prompts x k samples) and its updates. Checkpoints are "
      "written between steps and hold the weights, AdamW state, KL coefficient and reward "
      "statistics; --resume continues from the last one and repeats the steps after it exactly "
      "(same sampling streams) when the thread count is the same.");
  add_flags(c, *o);
  c->get_option("--model")->required();
  c->get_option("--prompts")->required()->check(CLI::ExistingFile);
  c->add_option("--out", r.out_dir, "Run directory (metrics.jsonl, checkpoint/, final/)")
      ->required();
  c->add_option("--reward", f->reward,
                "model (--reward-model) or judge (the constitution judge's p(follows), d-RLAIF)")
      ->capture_default_str();
  c->add_option("--constitution,-c", f->constitution, "With --reward judge: the constitution");
  add_backend_flags(c, f->judge, "judge");
  add_flags(c, f->judge_opts, {"seed"}, "judge");  // --judge-format, --judge-ensemble
  c->add_flag("--resume", r.resume, "Continue from --out/checkpoint (same flags, same --model)");
  c->add_option("--threads", f->threads, "Intra-op threads (0 = all cores)")->capture_default_str();
  c->add_flag("--quiet", f->quiet, "No progress bar");
  add_dist_flags(c, f->dist);
  c->callback([o, f, c] {
    start_dist(f->dist, f->threads);
    o->device = f->dist.device;
    check_flags(*o);
    RlOptions& r = o->rl;
    // GRPO's KL is a term of its loss, where DeepSeekMath uses k3.
    if (r.algorithm == RlAlgorithm::grpo && c->count("--kl-estimator") == 0)
      r.kl_estimator = KlEstimator::k3;
    // PPO usually takes 4 passes over a rollout.
    if (r.algorithm == RlAlgorithm::ppo && c->count("--epochs") == 0) r.epochs = 4;
    r.progress = !f->quiet;
    set_torch_threads(f->threads);
    CAI_CHECK(f->reward == "model" || f->reward == "judge",
              "train rl: --reward must be model or judge, got '{}'", f->reward);
    if (f->reward == "judge") return print_rl_summary(run_with_judge(*o, *f), r);
    CAI_CHECK(!o->reward_model.empty(), "train rl: --reward model needs --reward-model");
    print_rl_summary(run_rl(*o), r);
  });
});

}  // namespace cmd_train_rl
}  // namespace cai::cli
