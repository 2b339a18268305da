// RL's options (rl.h runs them), apart from libtorch so that configs hold them without it.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "cai/io/error.h"
#include "cai/io/options.h"
#include "cai/train/train_options.h"

namespace cai::train {

enum class RlAlgorithm { rloo, grpo, ppo };
constexpr std::array<opt::EnumName<RlAlgorithm>, 3> enum_names(RlAlgorithm) {
  return {{{RlAlgorithm::rloo, "rloo"}, {RlAlgorithm::grpo, "grpo"}, {RlAlgorithm::ppo, "ppo"}}};
}
inline const char* to_string(RlAlgorithm a) { return opt::name_of(a).data(); }

// Per-token KL estimators of KL(policy || reference) from the sampled token's log-probabilities
// (Schulman 2020, "Approximating KL Divergence"): k1 = log p - log q (unbiased, can be
// negative), k3 = (q/p - 1) - log(q/p) (unbiased, never negative).
enum class KlEstimator { k1, k3 };
constexpr std::array<opt::EnumName<KlEstimator>, 2> enum_names(KlEstimator) {
  return {{{KlEstimator::k1, "k1"}, {KlEstimator::k3, "k3"}}};
}
inline const char* to_string(KlEstimator k) { return opt::name_of(k).data(); }

// How scores are normalised before the KL penalty: not at all, whitened within each rollout,
// or by running mean and standard deviation over all rollouts so far (this one included).
enum class RewardNorm { none, batch, running };
constexpr std::array<opt::EnumName<RewardNorm>, 3> enum_names(RewardNorm) {
  return {
      {{RewardNorm::none, "none"}, {RewardNorm::batch, "batch"}, {RewardNorm::running, "running"}}};
}
inline const char* to_string(RewardNorm r) { return opt::name_of(r).data(); }

// One step = one rollout, then its updates; the optimiser (OptimOptions, trainer.h) and its
// schedule run over all updates, with a constant learning rate by default.
struct RlOptions : OptimOptions {
  std::string out_dir;  // required: metrics.jsonl, checkpoint/, final/
  RlAlgorithm algorithm = RlAlgorithm::rloo;
  // Rollouts.
  std::int64_t steps = 100;
  std::int64_t prompts_per_rollout = 8;
  std::int64_t samples_per_prompt = 4;
  std::int64_t max_new_tokens = 64;
  double temperature = 1.0;
  double missing_eos_penalty = 0.0;
  // Reward and KL.
  double kl_coef = 0.05;
  double kl_target = 0.0;
  double kl_horizon = 10000.0;
  KlEstimator kl_estimator = KlEstimator::k1;
  RewardNorm reward_norm = RewardNorm::none;
  double reward_clip = 0.0;
  // The SFT data's language-modelling loss added to every update (PPO-ptx, Ouyang et al. 2022,
  // eq. 2): keeps what the policy knew while the reward pulls it elsewhere.
  double ptx_coef = 0.0;
  std::int64_t ptx_rows = 8;
  // Updates.
  std::int64_t epochs = 1;
  std::int64_t minibatches = 1;
  double clip_range = 0.2;
  double value_clip_range = 0.2;
  double vf_coef = 0.1;
  double gamma = 1.0;
  double lam = 0.95;
  bool whiten_advantages = true;
  bool normalize_advantages = false;
  bool scale_rewards = true;
  std::int64_t token_budget = 4096;
  std::uint64_t seed = 0;
  std::int64_t save_every = 0;
  std::int64_t log_every = 1;
  bool resume = false;     // continue from out_dir/checkpoint
  std::string run_config;  // settings outside these options that change the result (model,
                           // reward model, prompts): hashed so a resume with other ones is
                           // refused
  bool progress = true;    // progress bar on stderr

  RlOptions() {
    schedule = Schedule::constant;
    warmup_steps = 0;
  }

  static void fields(opt::Fields<RlOptions>& f) {
    using O = RlOptions;
    f("algorithm", &O::algorithm, "rloo, grpo or ppo");
    f("steps", &O::steps, "rollouts, each followed by its updates", opt::min(1));
    f("prompts_per_rollout", &O::prompts_per_rollout,
      "prompts drawn per rollout (seeded order, cycling)", opt::min(1))
        .alias("prompts_per_step");
    f("samples_per_prompt", &O::samples_per_prompt, "responses per prompt (rloo, grpo: >= 2)",
      opt::min(1))
        .alias("-k");
    f("max_new_tokens", &O::max_new_tokens, "tokens per response (EOS included)", opt::min(1));
    // Log-probabilities (policy, reference) are of logits / temperature, so the updates stay
    // on the sampled distribution; greedy sampling would give no exploration.
    f("temperature", &O::temperature, "sampling temperature", opt::above(0));
    f("missing_eos_penalty", &O::missing_eos_penalty,
      "subtracted from the score of a response cut by max_new_tokens", opt::min(0));
    f("kl_coef", &O::kl_coef, "KL coefficient beta (the initial value when adaptive)", opt::min(0));
    f("kl_target", &O::kl_target,
      "adapt beta towards this KL per response, in nats summed over its tokens (0: fixed beta)",
      opt::min(0));
    f("kl_horizon", &O::kl_horizon, "the adaptive KL controller's horizon in samples",
      opt::above(0));
    f("kl_estimator", &O::kl_estimator, "per-token KL estimator");
    f("reward_norm", &O::reward_norm, "score normalisation");
    f("reward_clip", &O::reward_clip, "normalised scores clipped to [-c, c] (0: off)", opt::min(0));
    f("ptx_coef", &O::ptx_coef,
      "weight of the SFT rows' language-modelling loss in each update (PPO-ptx; 0: off; the "
      "rows: ptx_data)",
      opt::min(0));
    f("ptx_rows", &O::ptx_rows, "SFT rows per update with ptx_coef (seeded order, cycling)",
      opt::min(1));
    f("epochs", &O::epochs, "passes over each rollout (ppo usually 4)", opt::min(1));
    f("minibatches", &O::minibatches, "optimiser updates per pass", opt::min(1));
    f("clip_range", &O::clip_range, "policy ratio clipping epsilon", opt::range(0, 1, "()"));
    f("value_clip_range", &O::value_clip_range, "ppo: value clipping around the rollout's values",
      opt::above(0));
    f("vf_coef", &O::vf_coef, "ppo: weight of the value loss", opt::min(0));
    f("gamma", &O::gamma, "ppo: discount", opt::range(0, 1));
    f("lam", &O::lam, "ppo: GAE lambda", opt::range(0, 1));
    f("whiten_advantages", &O::whiten_advantages, "ppo: advantages whitened per rollout");
    f("normalize_advantages", &O::normalize_advantages,
      "rloo: advantages divided by their std per rollout");
    f("scale_rewards", &O::scale_rewards, "grpo: advantages divided by their group's std");
    f.base<OptimOptions>();
    f("token_budget", &O::token_budget, "padded tokens per forward micro-batch", opt::min(1));
    f("seed", &O::seed, "prompt order, sampling, minibatch order");
    f("save_every", &O::save_every, "steps between checkpoints (0: only at the end)", opt::min(0))
        .run_only();
    f("log_every", &O::log_every, "steps between metrics lines", opt::min(1)).run_only();
  }
  void rules(opt::Rules& r) const;
  void validate() const {
    CAI_CHECK(!out_dir.empty(), "rl: out_dir is required");
    opt::validate(*this, "rl");
  }
};

}  // namespace cai::train
