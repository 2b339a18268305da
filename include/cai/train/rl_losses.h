// The estimators and losses of `cai train rl` (rl.h) as pure functions, each citing what it
// implements; checked in tests against hand-computed values.
//
// Shape legend: N = response tokens (of one or many responses, concatenated), P = prompts,
// K = samples per prompt.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "cai/train/rl.h"

namespace cai::train {

// Per-token KL(policy || reference) estimate from the sampled tokens' log-probabilities
// (Schulman 2020): k1 = lp - ref; k3 = exp(ref - lp) - 1 - (ref - lp). [N], [N] -> [N].
torch::Tensor kl_estimate(const torch::Tensor& logp, const torch::Tensor& ref_logp, KlEstimator k);

// RLOO advantages (Ahmadian et al. 2024, eq. 5 without the 1/k): each sample's reward minus
// the mean reward of the other k - 1 samples of its prompt,
//   A_i = R_i - (sum_j R_j - R_i) / (k - 1).
// rewards [P*K] grouped by prompt (prompt p's samples at p*K .. p*K+K-1); K >= 2.
std::vector<double> rloo_advantages(const std::vector<double>& rewards, std::int64_t k);

// GRPO advantages with outcome supervision (Shao et al. 2024, DeepSeekMath, section 4.1.2):
// each sample's reward minus the mean reward of its prompt's k samples, divided (scale) by
// their standard deviation,
//   A_i = (R_i - mean_g R) / (std_g R + 1e-4),
// with the sample standard deviation (k - 1 in the denominator) and the 1e-4 of TRL's
// GRPOTrainer, so a group whose rewards are all equal has advantages 0. Without scale (Liu et al.
// 2025, "Understanding R1-Zero-Like Training", Dr. GRPO): A_i = R_i - mean_g R.
// rewards [P*K] grouped by prompt as for rloo_advantages; K >= 2.
std::vector<double> grpo_advantages(const std::vector<double>& rewards, std::int64_t k, bool scale);

// Generalised advantage estimation over one response (Schulman et al. 2016, eq. 16), with
// V = 0 after the last token (the episode ends there):
//   delta_t = r_t + gamma V_{t+1} - V_t,   A_t = delta_t + gamma lambda A_{t+1},
//   returns_t = A_t + V_t (the value targets).
struct Gae {
  std::vector<double> advantages, returns;
};
Gae gae(const std::vector<double>& rewards, const std::vector<double>& values, double gamma,
        double lambda);

// PPO's clipped surrogate as a per-token loss to minimise (Schulman et al. 2017, eq. 7):
//   ratio = exp(lp - old),  loss = max(-A ratio, -A clip(ratio, 1 - eps, 1 + eps)).
// Also the tokens where the clipped term was chosen (clipfrac, as 0/1) when `clipped` is set.
// [N] each -> [N]; differentiable in logp.
torch::Tensor ppo_policy_loss(const torch::Tensor& logp, const torch::Tensor& old_logp,
                              const torch::Tensor& advantages, double clip_range,
                              torch::Tensor* clipped = nullptr);

// PPO's clipped value loss (as in OpenAI baselines' ppo2 and Ziegler et al. 2019):
//   v_clip = old + clip(v - old, -eps, eps),  loss = 0.5 max((v - R)^2, (v_clip - R)^2).
// [N] each -> [N]; differentiable in values.
torch::Tensor ppo_value_loss(const torch::Tensor& values, const torch::Tensor& old_values,
                             const torch::Tensor& returns, double clip_range);

// (x - mean) / (std + 1e-8) with the population std; shift the mean back when keep_mean.
std::vector<double> whiten(const std::vector<double>& x, bool keep_mean = false);

// Ziegler et al. 2019's adaptive KL controller (section 2.2):
//   e = clip(KL / target - 1, -0.2, 0.2),  beta <- beta (1 + e n / horizon)
// with n the samples of the rollout that measured KL.
double adaptive_kl_update(double beta, double kl, double target, double horizon, std::int64_t n);

// Running mean and variance over every value seen (Chan et al. 1979's parallel update).
struct RunningMoments {
  double count = 0.0, mean = 0.0, m2 = 0.0;
  void update(const std::vector<double>& xs);
  double std() const;  // population std; 1 before two values have been seen
};

}  // namespace cai::train
