// Token-wise constrained fine-tuning: its betas and its per-token loss (see
// include/cai/train/token_constraint.h for the equation).
//
// Shape legend: N = target tokens.
#include "cai/train/token_constraint.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "cai/io/error.h"

namespace cai::train {

std::vector<double> token_betas(std::int64_t n, const TokenConstraintOptions& o,
                                std::int64_t from) {
  std::vector<double> b(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)), o.beta);
  for (std::int64_t t = std::max<std::int64_t>(from, 0); t < std::min(from + n, o.bias_length); ++t)
    b[static_cast<std::size_t>(t - from)] = o.beta * (t == 0 ? o.first_token_bias : o.bias);
  return b;
}

std::vector<double> target_betas(const std::vector<std::uint8_t>& target,
                                 const TokenConstraintOptions& o, std::int64_t continued) {
  const std::vector<double> schedule = token_betas(o.bias_length + 1, o);
  std::vector<double> out;
  std::int64_t t = continued;                        // position in the current run of targets
  for (std::size_t i = 1; i < target.size(); ++i) {  // position 0 is never a target
    if (!target[i]) {
      if (!out.empty()) t = 0;  // a later turn starts its own count
      continue;
    }
    out.push_back(schedule[static_cast<std::size_t>(std::min(t, o.bias_length))]);
    ++t;
  }
  return out;
}

torch::Tensor token_constrained_loss(const torch::Tensor& logp, const torch::Tensor& ref_logp,
                                     const torch::Tensor& beta) {
  CAI_CHECK(logp.sizes() == ref_logp.sizes() && logp.sizes() == beta.sizes(),
            "token_constrained_loss: {} log-probabilities, {} reference, {} betas", logp.numel(),
            ref_logp.numel(), beta.numel());
  // softplus(-x) = -log sigmoid(x), stable for large |x|.
  return 2.0 / beta * torch::nn::functional::softplus(-beta * (logp - ref_logp));  // [N]
}

}  // namespace cai::train
