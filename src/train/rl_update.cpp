// One optimiser update of `cai train rl` (see rl_rollout.h): the clipped policy loss of PPO
// (Schulman et al. 2017, eq. 7) and, for PPO, the clipped value loss, accumulated over
// micro-batches. RLOO uses the same clipped surrogate: on a rollout's first pass the ratio is
// 1 and its gradient is exactly REINFORCE's, A_i grad log pi(y_i | x) (Ahmadian et al. 2024).
// GRPO too, with its per-token KL term added (Shao et al. 2024, eq. 3).
//
// Shape legend: N = response tokens in a micro-batch.
#include <torch/torch.h>

#include "cai/dist/dist.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "rl_rollout.h"

namespace cai::train::detail {
namespace {

torch::Tensor gather_field(const std::vector<RlSample>& samples,
                           const std::vector<std::int64_t>& mb,
                           std::vector<double> RlSample::*field, torch::Device device) {
  std::vector<float> v;
  for (auto i : mb) {
    const auto& src = samples[static_cast<std::size_t>(i)].*field;
    v.insert(v.end(), src.begin(), src.end());
  }
  return torch::tensor(v, torch::kFloat32).to(device);  // [N]
}

}  // namespace

Metrics update_minibatch(LlamaModel& policy, const ValueHead* head,
                         const std::vector<RlSample>& samples,
                         const std::vector<std::int64_t>& which, const RlOptions& o, double kl_coef,
                         const std::vector<const Row*>& ptx) {
  CAI_CHECK(!which.empty(), "rl: empty minibatch");
  const bool ppo = o.algorithm == RlAlgorithm::ppo, grpo = o.algorithm == RlAlgorithm::grpo;
  double tokens = 0.0;
  for (auto i : which) tokens += static_cast<double>(samples[static_cast<std::size_t>(i)].n);
  const double responses = static_cast<double>(which.size());
  // Each token's weight in the policy loss: ppo a mean over tokens; rloo a mean over responses
  // of their token sums; grpo a mean over responses of their token means (DeepSeekMath eq. 3).
  auto token_weights = [&](const std::vector<std::int64_t>& mb) {
    std::vector<float> w;
    for (auto i : mb) {
      const auto n = samples[static_cast<std::size_t>(i)].n;
      const double wi = ppo    ? 1.0 / tokens
                        : grpo ? 1.0 / (static_cast<double>(n) * responses)
                               : 1.0 / responses;
      w.insert(w.end(), static_cast<std::size_t>(n), static_cast<float>(wi));
    }
    return torch::tensor(w, torch::kFloat32);  // [N]
  };

  // Data-parallel ranks each take a contiguous share of the minibatch; the loss weights above
  // are the whole minibatch's, so the ranks' gradients and metric sums add up to one process's.
  const dist::ProcessGroup& pg = dist::world();
  const auto [b, e] = dist::shard(static_cast<std::int64_t>(which.size()), pg.rank(), pg.size());
  const std::vector<std::int64_t> mine(which.begin() + b, which.begin() + e);
  double policy_loss = 0, value_loss = 0, kl_loss = 0, clipfrac = 0, approx_kl = 0;
  for (const auto& mb : micro_batches(samples, mine, o.token_budget)) {
    std::vector<const Row*> rows;
    for (auto i : mb) rows.push_back(&samples[static_cast<std::size_t>(i)].row);
    const Batch batch = make_batch(rows);
    const TokenStats st = token_stats(policy, batch, o.temperature, false, ppo ? head : nullptr);
    const auto dev = policy.device();
    const auto old = gather_field(samples, mb, &RlSample::logp_old, dev);    // [N]
    const auto adv = gather_field(samples, mb, &RlSample::advantages, dev);  // [N]
    const auto w = token_weights(mb).to(dev);                                // [N]
    torch::Tensor clipped;
    const auto pl = (ppo_policy_loss(st.logp, old, adv, o.clip_range, &clipped) * w).sum();
    auto loss = pl;
    if (grpo) {
      // The KL to the reference as a term of the loss, per token (DeepSeekMath eq. 3-4).
      const auto kl = (kl_estimate(st.logp, gather_field(samples, mb, &RlSample::logp_ref, dev),
                                   o.kl_estimator) *
                       w)
                          .sum();
      loss = loss + kl_coef * kl;
      kl_loss += kl.item<double>();
    }
    if (ppo) {
      const auto vl =
          ppo_value_loss(st.values, gather_field(samples, mb, &RlSample::values, dev),
                         gather_field(samples, mb, &RlSample::returns, dev), o.value_clip_range)
              .sum() /
          tokens;
      loss = loss + o.vf_coef * vl;
      value_loss += vl.item<double>();
    }
    loss.backward();
    policy_loss += pl.item<double>();
    torch::NoGradGuard no_grad;
    clipfrac += clipped.sum().item<double>();
    // 0.5 E[(log ratio)^2]: how far this update has moved from the sampling policy.
    approx_kl += 0.5 * (st.logp - old).square().sum().item<double>();
  }
  // PPO-ptx (Ouyang et al. 2022, eq. 2): gamma E_{x~D}[log pi(x)] joins the objective, here as
  // ptx_coef times the mean negative log-likelihood over the rows' target tokens.
  double ptx_nll = 0;
  if (o.ptx_coef > 0 && !ptx.empty()) {
    double targets = 0;
    for (const Row* r : ptx)
      for (auto t : r->target) targets += t;
    const auto [pb, pe] = dist::shard(static_cast<std::int64_t>(ptx.size()), pg.rank(), pg.size());
    std::vector<std::int64_t> lengths, shard;
    for (const Row* r : ptx) lengths.push_back(static_cast<std::int64_t>(r->tokens.size()));
    for (auto k = pb; k < pe; ++k) shard.push_back(k);
    // Micro-batches of at most token_budget padded tokens, as the responses are cut.
    for (const auto& mb : micro_batches(lengths, shard, o.token_budget)) {
      std::vector<const Row*> rows;
      for (auto k : mb) rows.push_back(ptx[static_cast<std::size_t>(k)]);
      const TokenStats st = token_stats(policy, make_batch(rows), 1.0, false, nullptr);  // [N]
      const auto nll = -st.logp.sum() / targets;
      (o.ptx_coef * nll).backward();
      ptx_nll += nll.item<double>();
    }
  }
  Metrics m;
  m["loss/policy"] = policy_loss;
  if (o.ptx_coef > 0) m["loss/ptx"] = ptx_nll;
  if (ppo) m["loss/value"] = value_loss;
  if (grpo) m["loss/kl"] = kl_loss;
  m["loss"] = policy_loss + (ppo ? o.vf_coef * value_loss : 0.0) +
              (grpo ? kl_coef * kl_loss : 0.0) + o.ptx_coef * ptx_nll;
  m["clipfrac"] = clipfrac / tokens;
  m["approx_kl"] = approx_kl / tokens;
  return m;
}

}  // namespace cai::train::detail
