// RL estimators and losses (see include/cai/train/rl_losses.h for the equations).
//
// Shape legend: N = response tokens.
#include "cai/train/rl_losses.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cai/io/error.h"

namespace cai::train {

torch::Tensor kl_estimate(const torch::Tensor& logp, const torch::Tensor& ref_logp, KlEstimator k) {
  CAI_CHECK(logp.sizes() == ref_logp.sizes(), "kl_estimate: log-probabilities of {} and {} tokens",
            logp.numel(), ref_logp.numel());
  const auto log_ratio = logp - ref_logp;  // log p/q
  switch (k) {
    case KlEstimator::k1:
      return log_ratio;
    case KlEstimator::k3:
      return torch::exp(-log_ratio) - 1.0 + log_ratio;
  }
  return log_ratio;
}

std::vector<double> rloo_advantages(const std::vector<double>& rewards, std::int64_t k) {
  CAI_CHECK(k >= 2, "rloo: samples per prompt must be >= 2 for a leave-one-out baseline, got {}",
            k);
  CAI_CHECK(rewards.size() % static_cast<std::size_t>(k) == 0,
            "rloo: {} rewards are not whole groups of {}", rewards.size(), k);
  std::vector<double> out(rewards.size());
  for (std::size_t g = 0; g < rewards.size(); g += static_cast<std::size_t>(k)) {
    const auto first = rewards.begin() + static_cast<std::ptrdiff_t>(g);
    const double sum = std::accumulate(first, first + k, 0.0);
    for (std::size_t i = g; i < g + static_cast<std::size_t>(k); ++i)
      out[i] = rewards[i] - (sum - rewards[i]) / static_cast<double>(k - 1);
  }
  return out;
}

std::vector<double> grpo_advantages(const std::vector<double>& rewards, std::int64_t k,
                                    bool scale) {
  CAI_CHECK(k >= 2, "grpo: samples per prompt must be >= 2 for a group baseline, got {}", k);
  CAI_CHECK(rewards.size() % static_cast<std::size_t>(k) == 0,
            "grpo: {} rewards are not whole groups of {}", rewards.size(), k);
  const auto K = static_cast<std::size_t>(k);
  std::vector<double> out(rewards.size());
  for (std::size_t g = 0; g < rewards.size(); g += K) {
    const auto first = rewards.begin() + static_cast<std::ptrdiff_t>(g);
    const double mean = std::accumulate(first, first + k, 0.0) / static_cast<double>(k);
    double ss = 0.0;
    for (std::size_t i = g; i < g + K; ++i) ss += (rewards[i] - mean) * (rewards[i] - mean);
    const double sd = std::sqrt(ss / static_cast<double>(k - 1));
    for (std::size_t i = g; i < g + K; ++i)
      out[i] = scale ? (rewards[i] - mean) / (sd + 1e-4) : rewards[i] - mean;
  }
  return out;
}

Gae gae(const std::vector<double>& rewards, const std::vector<double>& values, double gamma,
        double lambda) {
  CAI_CHECK(rewards.size() == values.size(), "gae: {} rewards but {} values", rewards.size(),
            values.size());
  const std::size_t n = rewards.size();
  Gae g;
  g.advantages.assign(n, 0.0);
  g.returns.assign(n, 0.0);
  double next_adv = 0.0, next_value = 0.0;  // past the last token: terminal
  for (std::size_t t = n; t-- > 0;) {
    const double delta = rewards[t] + gamma * next_value - values[t];
    next_adv = delta + gamma * lambda * next_adv;
    g.advantages[t] = next_adv;
    g.returns[t] = next_adv + values[t];
    next_value = values[t];
  }
  return g;
}

torch::Tensor ppo_policy_loss(const torch::Tensor& logp, const torch::Tensor& old_logp,
                              const torch::Tensor& advantages, double clip_range,
                              torch::Tensor* clipped) {
  CAI_CHECK(logp.sizes() == old_logp.sizes() && logp.sizes() == advantages.sizes(),
            "ppo_policy_loss: logp, old_logp and advantages must have one shape");
  const auto ratio = torch::exp(logp - old_logp);  // [N]
  const auto unclipped = -advantages * ratio;      // [N]
  const auto clipped_term = -advantages * torch::clamp(ratio, 1.0 - clip_range, 1.0 + clip_range);
  if (clipped) {
    torch::NoGradGuard no_grad;
    *clipped = clipped_term.gt(unclipped).to(logp.scalar_type());
  }
  return torch::max(unclipped, clipped_term);
}

torch::Tensor ppo_value_loss(const torch::Tensor& values, const torch::Tensor& old_values,
                             const torch::Tensor& returns, double clip_range) {
  CAI_CHECK(values.sizes() == old_values.sizes() && values.sizes() == returns.sizes(),
            "ppo_value_loss: values, old_values and returns must have one shape");
  const auto v_clip = old_values + torch::clamp(values - old_values, -clip_range, clip_range);
  return 0.5 * torch::max((values - returns).square(), (v_clip - returns).square());
}

std::vector<double> whiten(const std::vector<double>& x, bool keep_mean) {
  if (x.empty()) return x;
  const double n = static_cast<double>(x.size());
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double var = 0.0;
  for (double v : x) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / n);
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    out[i] = (x[i] - mean) / (sd + 1e-8) + (keep_mean ? mean : 0.0);
  return out;
}

double adaptive_kl_update(double beta, double kl, double target, double horizon, std::int64_t n) {
  CAI_CHECK(target > 0 && horizon > 0, "adaptive KL: target and horizon must be > 0");
  const double err = std::clamp(kl / target - 1.0, -0.2, 0.2);
  return beta * (1.0 + err * static_cast<double>(n) / horizon);
}

void RunningMoments::update(const std::vector<double>& xs) {
  if (xs.empty()) return;
  const double nb = static_cast<double>(xs.size());
  const double mb = std::accumulate(xs.begin(), xs.end(), 0.0) / nb;
  double m2b = 0.0;
  for (double v : xs) m2b += (v - mb) * (v - mb);
  const double n = count + nb, delta = mb - mean;
  mean += delta * nb / n;
  m2 += m2b + delta * delta * count * nb / n;
  count = n;
}

double RunningMoments::std() const { return count >= 2 ? std::sqrt(m2 / count) : 1.0; }

}  // namespace cai::train
