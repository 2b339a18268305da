// The training objectives' losses as pure functions on tensors, each citing the equation it
// implements. Checked in tests against hand-computed values and finite differences.
//
// Shape legend: B = sequences (or pairs) in a micro-batch, T = positions, V = vocabulary.
#pragma once

#include <torch/types.h>

#include <string>

namespace cai::train {

// Per-sequence sums of log p(tokens[b,t] | tokens[b,<t]) over positions with target[b,t] = 1.
// logits [B,T,V] (position t predicts token t+1), tokens [B,T] int64, target [B,T] (0/1, any
// dtype) -> [B] float. Differentiable in logits. Also returns the per-row target counts [B]
// through `counts` when non-null.
torch::Tensor sequence_logprobs(const torch::Tensor& logits, const torch::Tensor& tokens,
                                const torch::Tensor& target, torch::Tensor* counts = nullptr);

// Sum of the token cross-entropies over the targets (the caller divides by the step's target
// count so gradient accumulation gives the mean over the whole step).
torch::Tensor sft_loss_sum(const torch::Tensor& logits, const torch::Tensor& tokens,
                           const torch::Tensor& target);

// ---- Reward model: Bradley-Terry with soft labels -------------------------------------------
// d = r_chosen - r_rejected, m = margin;
//   loss_b = -[p log sigmoid(d - m) + (1 - p) log sigmoid(-d - m)]
// (Bradley & Terry 1952; Ouyang et al. 2022 eq. 1; the margin as in Llama 2, Touvron et al.
// 2023 eq. 2: the preferred side must win by m, so with p = 1 it is TRL's RewardTrainer loss),
// plus centering_coef * (r_chosen + r_rejected)^2 (Eisenstein et al. 2023, TRL's
// center_rewards_coefficient). Inputs [B]; returns per-pair losses [B].
struct RmLossOptions {
  double margin = 0.0;          // fixed margin added to every pair
  double centering_coef = 0.0;  // reward-centering coefficient (TRL suggests ~0.01)
  void validate() const;
};
torch::Tensor bt_loss(const torch::Tensor& r_chosen, const torch::Tensor& r_rejected,
                      const torch::Tensor& p_chosen, const RmLossOptions& opts);

// ---- DPO (Rafailov et al. 2023) and variants ------------------------------------------------
// h = (pi_c - ref_c) - (pi_r - ref_r), the difference of implicit rewards / beta, with p the
// per-example soft label after label smoothing eps: p' = p (1 - eps) + (1 - p) eps.
//   sigmoid:  -[p' log sigmoid(beta h) + (1 - p') log sigmoid(-beta h)]    (DPO eq. 7; with
//             eps > 0 the conservative cDPO of Mitchell 2023)
//   robust:   [(1 - eps) l(p) - eps l(1 - p)] / (1 - 2 eps), l(p) the soft sigmoid loss with
//             label p (Chowdhury et al. 2024, rDPO eq. 8), eps < 0.5
//   ipo:      (h - (p - 1/2) / beta)^2  (Azar et al. 2023 eq. 17; p = 1 gives 1/(2 beta))
//   hinge:    p relu(1 - beta h) + (1 - p) relu(1 + beta h)  (SLiC, Zhao et al. 2023)
// label_smoothing applies to sigmoid and robust only (validate() refuses it elsewhere).
// Returned rewards are beta (pi - ref) for chosen and rejected, detached.
enum class DpoLossType { sigmoid, robust, ipo, hinge };
DpoLossType parse_dpo_loss(const std::string& name);  // throws listing the names
const char* to_string(DpoLossType t);

struct DpoLossOptions {
  DpoLossType type = DpoLossType::sigmoid;
  double beta = 0.1;
  double label_smoothing = 0.0;  // eps in [0, 0.5)
  void validate() const;
};
struct DpoLossTerms {
  torch::Tensor loss;              // [B]
  torch::Tensor chosen_rewards;    // [B], detached
  torch::Tensor rejected_rewards;  // [B], detached
};
DpoLossTerms dpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                      const torch::Tensor& ref_chosen, const torch::Tensor& ref_rejected,
                      const torch::Tensor& p_chosen, const DpoLossOptions& opts);

}  // namespace cai::train
