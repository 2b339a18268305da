// The training losses (see include/cai/train/losses.h for the equations and references).
//
// Shape legend: B = sequences or pairs, T = positions, V = vocabulary.
#include "cai/train/losses.h"

#include <torch/torch.h>

#include "cai/io/error.h"

namespace cai::train {

torch::Tensor sequence_logprobs(const torch::Tensor& logits, const torch::Tensor& tokens,
                                const torch::Tensor& target, torch::Tensor* counts) {
  CAI_CHECK(logits.dim() == 3, "sequence_logprobs: logits must be [B,T,V], got {} dims",
            logits.dim());
  const std::int64_t B = logits.size(0), T = logits.size(1);
  CAI_CHECK(tokens.dim() == 2 && tokens.size(0) == B && tokens.size(1) == T,
            "sequence_logprobs: tokens must be [{},{}]", B, T);
  CAI_CHECK(target.sizes() == tokens.sizes(), "sequence_logprobs: target must be [{},{}]", B, T);
  if (T < 2) {
    if (counts) *counts = torch::zeros({B}, logits.options());
    return torch::zeros({B}, logits.options());
  }
  // Position t predicts token t + 1: logits[:, :-1] against tokens[:, 1:].
  auto logp = torch::log_softmax(logits.narrow(1, 0, T - 1), -1);  // [B,T-1,V]
  auto picked = logp.gather(2, tokens.narrow(1, 1, T - 1).to(torch::kInt64).unsqueeze(2))
                    .squeeze(2);                                  // [B,T-1]
  auto mask = target.narrow(1, 1, T - 1).to(logp.scalar_type());  // [B,T-1]
  if (counts) *counts = mask.sum(1);
  // where() rather than a product: a masked position's value never enters the sum.
  return torch::where(mask > 0, picked, torch::zeros_like(picked)).sum(1);
}

torch::Tensor sft_loss_sum(const torch::Tensor& logits, const torch::Tensor& tokens,
                           const torch::Tensor& target) {
  return -sequence_logprobs(logits, tokens, target).sum();
}

// ---- Reward model ----------------------------------------------------------------------------

torch::Tensor bt_loss(const torch::Tensor& r_chosen, const torch::Tensor& r_rejected,
                      const torch::Tensor& p_chosen, const RmLossOptions& opts) {
  opts.validate();
  CAI_CHECK(r_chosen.sizes() == r_rejected.sizes() && r_chosen.sizes() == p_chosen.sizes(),
            "bt_loss: r_chosen, r_rejected and p_chosen must have the same shape");
  const auto delta = r_chosen - r_rejected;
  const auto p = p_chosen.to(delta.scalar_type());
  // The margin asks the preferred response to win by at least `margin`: on the chosen side
  // for p, on the rejected side for 1 - p (identical to TRL when p = 1).
  auto loss = -(p * torch::log_sigmoid(delta - opts.margin) +
                (1 - p) * torch::log_sigmoid(-delta - opts.margin));
  if (opts.centering_coef > 0) loss = loss + opts.centering_coef * (r_chosen + r_rejected).pow(2);
  return loss;
}

// ---- DPO ---------------------------------------------------------------------------------------

DpoLossTerms dpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                      const torch::Tensor& ref_chosen, const torch::Tensor& ref_rejected,
                      const torch::Tensor& p_chosen, const DpoLossOptions& opts) {
  opts.validate();
  CAI_CHECK(policy_chosen.sizes() == policy_rejected.sizes() &&
                policy_chosen.sizes() == ref_chosen.sizes() &&
                policy_chosen.sizes() == ref_rejected.sizes() &&
                policy_chosen.sizes() == p_chosen.sizes(),
            "dpo_loss: all inputs must have the same shape [B]");
  const auto dt = policy_chosen.scalar_type();
  const auto rc = ref_chosen.to(dt), rr = ref_rejected.to(dt);
  const auto p = p_chosen.to(dt);
  const double beta = opts.beta, eps = opts.label_smoothing;
  // h: the difference of implicit rewards divided by beta (DPO eq. 7's logit).
  const auto h = (policy_chosen - rc) - (policy_rejected - rr);
  const auto bh = beta * h;
  // Soft-label logistic loss l(q) = -[q log sigmoid(bh) + (1 - q) log sigmoid(-bh)].
  auto logistic = [&](const torch::Tensor& q) {
    return -(q * torch::log_sigmoid(bh) + (1 - q) * torch::log_sigmoid(-bh));
  };
  DpoLossTerms out;
  switch (opts.type) {
    case DpoLossType::sigmoid:
      out.loss = logistic(p * (1 - eps) + (1 - p) * eps);
      break;
    case DpoLossType::robust:
      out.loss = ((1 - eps) * logistic(p) - eps * logistic(1 - p)) / (1 - 2 * eps);
      break;
    case DpoLossType::ipo:
      out.loss = (h - (p - 0.5) / beta).pow(2);
      break;
    case DpoLossType::hinge:
      out.loss = p * torch::relu(1 - bh) + (1 - p) * torch::relu(1 + bh);
      break;
  }
  out.chosen_rewards = (beta * (policy_chosen - rc)).detach();
  out.rejected_rewards = (beta * (policy_rejected - rr)).detach();
  return out;
}

}  // namespace cai::train
