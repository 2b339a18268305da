// The training objectives' losses as pure functions on tensors, each citing the equation it
// implements. Checked in tests against hand-computed values and finite differences.
//
// Shape legend: B = sequences (or pairs) in a micro-batch, T = positions, V = vocabulary.
#pragma once

#include <torch/types.h>

#include "cai/train/loss_options.h"

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

// ---- Reward model: Bradley-Terry with soft labels (the loss: RmLossOptions, loss_options.h)
torch::Tensor bt_loss(const torch::Tensor& r_chosen, const torch::Tensor& r_rejected,
                      const torch::Tensor& p_chosen, const RmLossOptions& opts);

// ---- DPO (Rafailov et al. 2023) and variants (the losses: DpoLossOptions, loss_options.h)
struct DpoLossTerms {
  torch::Tensor loss;              // [B]
  torch::Tensor chosen_rewards;    // [B], detached
  torch::Tensor rejected_rewards;  // [B], detached
};
DpoLossTerms dpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                      const torch::Tensor& ref_chosen, const torch::Tensor& ref_rejected,
                      const torch::Tensor& p_chosen, const DpoLossOptions& opts);

}  // namespace cai::train
