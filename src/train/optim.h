// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2) and
// gradient clipping by global norm, on the trainer's named parameters. Written out rather than
// taken from torch::optim so that the moments are addressable by parameter name (checkpoints
// store them as safetensors) and weight decay can be switched off per tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "cai/train/objective.h"
#include "cai/train/trainer.h"

namespace cai::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999;  // moment decay rates
  double eps = 1e-8;                  // added to sqrt(v_hat)
  double weight_decay = 0.0;          // decoupled: p -= lr * wd * p, only where param.decay
  // Throws cai::Error "<who>: beta1 must be ..." naming the field.
  void validate(const char* who) const;
};

inline AdamWOptions adamw_options(const OptimOptions& o) {
  return {o.beta1, o.beta2, o.eps, o.weight_decay};
}

class AdamW {
 public:
  AdamW(std::vector<TrainableParam> params, AdamWOptions opts);

  // One update with learning rate `lr`, as torch.optim.AdamW does it:
  //   p <- p (1 - lr wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
  //   p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
  // Parameters without a gradient (unused this step) are left alone, moments included.
  void step(double lr);
  // Drops every gradient (set to undefined, so the next backward starts from zero).
  void zero_grad();

  const std::vector<TrainableParam>& params() const { return params_; }
  std::vector<torch::Tensor>& exp_avg() { return m_; }
  std::vector<torch::Tensor>& exp_avg_sq() { return v_; }
  std::int64_t steps() const { return t_; }  // updates applied so far (bias correction's t)
  void set_steps(std::int64_t t) { t_ = t; }

 private:
  std::vector<TrainableParam> params_;
  AdamWOptions opts_;
  std::vector<torch::Tensor> m_, v_;  // zeros shaped like each parameter
  std::int64_t t_ = 0;
};

// The global L2 norm of all gradients (computed in double) before clipping; when it exceeds
// max_norm > 0 every gradient is scaled by max_norm / (norm + 1e-6), as
// torch.nn.utils.clip_grad_norm_ does. Returns the pre-clip norm (NaN/Inf passed through).
double clip_grad_norm(const std::vector<TrainableParam>& params, double max_norm);

}  // namespace cai::train
