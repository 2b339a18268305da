// RL option names and checks (see include/cai/train/rl.h).
#include <cmath>

#include "cai/io/error.h"
#include "cai/train/rl.h"
#include "optim.h"

namespace cai::train {

RlAlgorithm parse_rl_algorithm(const std::string& name) {
  if (name == "rloo") return RlAlgorithm::rloo;
  if (name == "grpo") return RlAlgorithm::grpo;
  if (name == "ppo") return RlAlgorithm::ppo;
  throw_error("unknown RL algorithm '{}' (expected rloo, grpo or ppo)", name);
}

const char* to_string(RlAlgorithm a) {
  switch (a) {
    case RlAlgorithm::rloo:
      return "rloo";
    case RlAlgorithm::grpo:
      return "grpo";
    case RlAlgorithm::ppo:
      return "ppo";
  }
  return "rloo";
}

KlEstimator parse_kl_estimator(const std::string& name) {
  if (name == "k1") return KlEstimator::k1;
  if (name == "k3") return KlEstimator::k3;
  throw_error("unknown KL estimator '{}' (expected k1 or k3)", name);
}

const char* to_string(KlEstimator k) { return k == KlEstimator::k3 ? "k3" : "k1"; }

RewardNorm parse_reward_norm(const std::string& name) {
  if (name == "none") return RewardNorm::none;
  if (name == "batch") return RewardNorm::batch;
  if (name == "running") return RewardNorm::running;
  throw_error("unknown reward normalisation '{}' (expected none, batch or running)", name);
}

const char* to_string(RewardNorm r) {
  switch (r) {
    case RewardNorm::none:
      return "none";
    case RewardNorm::batch:
      return "batch";
    case RewardNorm::running:
      return "running";
  }
  return "none";
}

void RlOptions::validate() const {
  auto finite = [](double v) { return std::isfinite(v); };
  CAI_CHECK(!out_dir.empty(), "rl: out_dir is required");
  CAI_CHECK(steps >= 1, "rl: steps must be >= 1, got {}", steps);
  CAI_CHECK(prompts_per_rollout >= 1, "rl: prompts_per_rollout must be >= 1, got {}",
            prompts_per_rollout);
  CAI_CHECK(samples_per_prompt >= 1, "rl: samples_per_prompt must be >= 1, got {}",
            samples_per_prompt);
  CAI_CHECK(algorithm != RlAlgorithm::rloo || samples_per_prompt >= 2,
            "rl: rloo needs samples_per_prompt >= 2 (the leave-one-out baseline), got {}",
            samples_per_prompt);
  CAI_CHECK(algorithm != RlAlgorithm::grpo || samples_per_prompt >= 2,
            "rl: grpo needs samples_per_prompt >= 2 (a group to compare with), got {}",
            samples_per_prompt);
  CAI_CHECK(max_new_tokens >= 1, "rl: max_new_tokens must be >= 1, got {}", max_new_tokens);
  CAI_CHECK(temperature > 0 && finite(temperature),
            "rl: temperature must be > 0 (greedy sampling gives no exploration), got {}",
            temperature);
  CAI_CHECK(missing_eos_penalty >= 0 && finite(missing_eos_penalty),
            "rl: missing_eos_penalty must be >= 0, got {}", missing_eos_penalty);
  CAI_CHECK(kl_coef >= 0 && finite(kl_coef), "rl: kl_coef must be >= 0, got {}", kl_coef);
  CAI_CHECK(kl_target >= 0 && finite(kl_target),
            "rl: kl_target must be >= 0 (0: fixed kl_coef), got {}", kl_target);
  CAI_CHECK(kl_target == 0 || kl_coef > 0,
            "rl: an adaptive KL coefficient (kl_target > 0) needs kl_coef > 0 to start from");
  CAI_CHECK(kl_horizon > 0 && finite(kl_horizon), "rl: kl_horizon must be > 0, got {}", kl_horizon);
  CAI_CHECK(reward_clip >= 0 && finite(reward_clip),
            "rl: reward_clip must be >= 0 (0: off), got {}", reward_clip);
  CAI_CHECK(epochs >= 1, "rl: epochs must be >= 1, got {}", epochs);
  CAI_CHECK(minibatches >= 1, "rl: minibatches must be >= 1, got {}", minibatches);
  CAI_CHECK(minibatches <= prompts_per_rollout * samples_per_prompt,
            "rl: minibatches ({}) exceeds the responses per rollout ({})", minibatches,
            prompts_per_rollout * samples_per_prompt);
  CAI_CHECK(clip_range > 0 && clip_range < 1, "rl: clip_range must be in (0, 1), got {}",
            clip_range);
  CAI_CHECK(value_clip_range > 0 && finite(value_clip_range),
            "rl: value_clip_range must be > 0, got {}", value_clip_range);
  CAI_CHECK(vf_coef >= 0 && finite(vf_coef), "rl: vf_coef must be >= 0, got {}", vf_coef);
  CAI_CHECK(gamma >= 0 && gamma <= 1, "rl: gamma must be in [0, 1], got {}", gamma);
  CAI_CHECK(lam >= 0 && lam <= 1, "rl: lam (GAE lambda) must be in [0, 1], got {}", lam);
  CAI_CHECK(lr > 0 && finite(lr), "rl: lr must be > 0, got {}", lr);
  CAI_CHECK(warmup_steps >= 0, "rl: warmup_steps must be >= 0, got {}", warmup_steps);
  AdamWOptions{beta1, beta2, eps, weight_decay}.validate("rl");
  CAI_CHECK(max_grad_norm >= 0, "rl: max_grad_norm must be >= 0 (0 = off), got {}", max_grad_norm);
  CAI_CHECK(token_budget >= 1, "rl: token_budget must be >= 1, got {}", token_budget);
  CAI_CHECK(save_every >= 0, "rl: save_every must be >= 0, got {}", save_every);
  CAI_CHECK(log_every >= 1, "rl: log_every must be >= 1, got {}", log_every);
}

}  // namespace cai::train
