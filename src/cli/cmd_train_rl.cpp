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

namespace cai::cli {
namespace cmd_train_rl {

using namespace cai::train;

struct RlFlags {
  std::string algorithm = "rloo", kl_estimator = "k1", reward_norm = "none", schedule = "constant";
  std::string reward = "model", constitution, judge_format = "transcript";
  BackendOptions judge;
  pipeline::JudgeRewardOptions judge_opts;
  bool no_whiten = false, no_scale_rewards = false, quiet = false;
  int threads = 0;
  DistFlags dist;
};

// The constitution judge's reward. The judge is --judge-model / --judge-api-base, else the
// starting policy loaded on its own, so the judge stays fixed while the policy trains.
cai::train::RlSummary run_with_judge(RlRunOptions& o, RlFlags& f) {
  CAI_CHECK(!f.constitution.empty(), "train rl: --reward judge needs --constitution");
  CAI_CHECK(o.reward_model.empty(), "train rl: --reward judge takes no --reward-model");
  finish_backend_flags(f.judge);
  if (f.judge.model.empty() && f.judge.http.base_urls.empty()) f.judge.model = o.model;
  // A local judge would otherwise set the process's threads to every core.
  if (f.judge.local.threads == 0) f.judge.local.threads = f.threads;
  f.judge_opts.format = pipeline::parse_prompt_format(f.judge_format);
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
  c->add_option("--model", o->model,
                "Policy to train (Hugging Face directory or .gguf); also the KL reference")
      ->required();
  c->add_option("--reward", f->reward,
                "model (--reward-model) or judge (the constitution judge's p(follows), d-RLAIF)")
      ->capture_default_str();
  c->add_option("--reward-model", o->reward_model,
                "Reward model directory (cai train rm's final/), with --reward model");
  c->add_option("--constitution,-c", f->constitution, "With --reward judge: the constitution");
  add_backend_flags(c, f->judge, "judge");
  c->add_option("--judge-format", f->judge_format,
                "With --reward judge: transcript (critique verdicts) or chat")
      ->capture_default_str();
  c->add_option("--judge-ensemble", f->judge_opts.ensemble,
                "With --reward judge: principles per response (-1 all, 0 one drawn, n drawn)")
      ->capture_default_str();
  c->add_option("--prompts", o->prompts, "Prompts (JSONL)")->required()->check(CLI::ExistingFile);
  c->add_option("--out", r.out_dir, "Run directory (metrics.jsonl, checkpoint/, final/)")
      ->required();
  c->add_option("--algorithm", f->algorithm, "rloo, grpo or ppo")->capture_default_str();
  c->add_option("--steps", r.steps, "Rollouts (each followed by its updates)")
      ->capture_default_str();
  c->add_option("--prompts-per-step", r.prompts_per_rollout, "Prompts per rollout")
      ->capture_default_str();
  c->add_option("--samples-per-prompt,-k", r.samples_per_prompt,
                "Responses per prompt (rloo: >= 2)")
      ->capture_default_str();
  c->add_option("--max-new-tokens", r.max_new_tokens, "Tokens per response")->capture_default_str();
  c->add_option("--temperature", r.temperature, "Sampling temperature (> 0)")
      ->capture_default_str();
  c->add_option("--missing-eos-penalty", r.missing_eos_penalty,
                "Subtracted from the score of a response cut by --max-new-tokens")
      ->capture_default_str();
  c->add_option("--max-prompt-length", o->max_prompt_length,
                "Tokens per prompt at most (0: context - max new tokens)")
      ->capture_default_str();
  c->add_option("--kl-coef", r.kl_coef, "KL coefficient beta (initial value when adaptive)")
      ->capture_default_str();
  c->add_option("--kl-target", r.kl_target,
                "Adapt beta towards this KL per response (0: fixed beta)")
      ->capture_default_str();
  c->add_option("--kl-horizon", r.kl_horizon, "Adaptive KL controller horizon (samples)")
      ->capture_default_str();
  c->add_option("--kl-estimator", f->kl_estimator, "k1 or k3 (default k1; k3 with grpo)");
  c->add_option("--reward-norm", f->reward_norm, "Score normalisation: none, batch or running")
      ->capture_default_str();
  c->add_option("--reward-clip", r.reward_clip, "Clip normalised scores to [-c, c] (0: off)")
      ->capture_default_str();
  c->add_option("--epochs", r.epochs,
                "Passes over each rollout (default 1; 4 with --algorithm ppo)");
  c->add_option("--minibatches", r.minibatches, "Optimiser updates per pass")
      ->capture_default_str();
  c->add_option("--clip-range", r.clip_range, "Policy ratio clipping")->capture_default_str();
  c->add_option("--value-clip-range", r.value_clip_range, "PPO value clipping")
      ->capture_default_str();
  c->add_option("--vf-coef", r.vf_coef, "PPO value loss weight")->capture_default_str();
  c->add_option("--gamma", r.gamma, "PPO discount")->capture_default_str();
  c->add_option("--lam", r.lam, "PPO GAE lambda")->capture_default_str();
  c->add_flag("--no-whiten-advantages", f->no_whiten, "PPO: keep the raw GAE advantages");
  c->add_flag("--normalize-advantages", r.normalize_advantages,
              "RLOO: whiten the advantages per rollout");
  c->add_flag("--no-scale-rewards", f->no_scale_rewards,
              "GRPO: advantages are reward minus the group mean, not divided by its std");
  c->add_option("--lr", r.lr, "Learning rate")->capture_default_str();
  c->add_option("--schedule", f->schedule, "cosine, linear or constant (over all updates)")
      ->capture_default_str();
  c->add_option("--warmup-steps", r.warmup_steps, "Updates warming up")->capture_default_str();
  c->add_option("--weight-decay", r.weight_decay, "Decoupled weight decay (not on norms, biases)")
      ->capture_default_str();
  c->add_option("--max-grad-norm", r.max_grad_norm, "Gradient clipping (0: off)")
      ->capture_default_str();
  c->add_option("--token-budget", r.token_budget, "Padded tokens per forward micro-batch")
      ->capture_default_str();
  c->add_option("--seed", r.seed, "Prompt order, sampling, minibatch order")->capture_default_str();
  c->add_option("--save-every", r.save_every, "Steps between checkpoints (0: at the end)")
      ->capture_default_str();
  c->add_option("--log-every", r.log_every, "Steps between metrics lines")->capture_default_str();
  c->add_flag("--resume", r.resume, "Continue from --out/checkpoint (same flags, same --model)");
  c->add_option("--chat-template", o->chat_template,
                "Template for message prompts (chatml, llama3, llama2, human-assistant); default: "
                "the tokenizer's");
  c->add_option("--threads", f->threads, "Intra-op threads (0 = all cores)")->capture_default_str();
  c->add_flag("--quiet", f->quiet, "No progress bar");
  add_dist_flags(c, f->dist);
  c->callback([o, f, c] {
    start_dist(f->dist, f->threads);
    o->device = f->dist.device;
    RlOptions& r = o->rl;
    r.algorithm = parse_rl_algorithm(f->algorithm);
    // GRPO's KL is a term of its loss, where DeepSeekMath uses k3.
    if (r.algorithm == RlAlgorithm::grpo && c->count("--kl-estimator") == 0) f->kl_estimator = "k3";
    r.kl_estimator = parse_kl_estimator(f->kl_estimator);
    r.reward_norm = parse_reward_norm(f->reward_norm);
    r.schedule = parse_schedule(f->schedule);
    r.whiten_advantages = !f->no_whiten;
    r.scale_rewards = !f->no_scale_rewards;
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
