#include "optim.h"

#include <cmath>

#include "cai/io/error.h"

namespace cai::train {

void AdamWOptions::validate(const char* who) const {
  CAI_CHECK(beta1 >= 0 && beta1 < 1, "{}: beta1 must be in [0, 1), got {}", who, beta1);
  CAI_CHECK(beta2 >= 0 && beta2 < 1, "{}: beta2 must be in [0, 1), got {}", who, beta2);
  CAI_CHECK(eps > 0, "{}: eps must be > 0, got {}", who, eps);
  CAI_CHECK(weight_decay >= 0, "{}: weight_decay must be >= 0, got {}", who, weight_decay);
}

AdamW::AdamW(std::vector<TrainableParam> params, AdamWOptions opts)
    : params_(std::move(params)), opts_(opts) {
  opts_.validate("AdamW");
  for (const auto& p : params_) {
    CAI_CHECK(p.tensor.defined() && p.tensor.requires_grad(),
              "AdamW: parameter '{}' is not a tensor that requires grad", p.name);
    m_.push_back(torch::zeros_like(p.tensor, torch::MemoryFormat::Contiguous));
    v_.push_back(torch::zeros_like(p.tensor, torch::MemoryFormat::Contiguous));
  }
}

void AdamW::zero_grad() {
  for (auto& p : params_) p.tensor.mutable_grad() = torch::Tensor();
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++t_;
  const double bc1 = 1.0 - std::pow(opts_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(opts_.beta2, static_cast<double>(t_));
  const double step_size = lr / bc1;
  const double bc2_sqrt = std::sqrt(bc2);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i].tensor;
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (params_[i].decay && opts_.weight_decay != 0.0) p.mul_(1.0 - lr * opts_.weight_decay);
    m_[i].mul_(opts_.beta1).add_(g, 1.0 - opts_.beta1);
    v_[i].mul_(opts_.beta2).addcmul_(g, g, 1.0 - opts_.beta2);
    auto denom = v_[i].sqrt().div_(bc2_sqrt).add_(opts_.eps);  // one temporary, not two
    p.addcdiv_(m_[i], denom, -step_size);
  }
}

double clip_grad_norm(const std::vector<TrainableParam>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  double sq = 0.0;
  for (const auto& p : params) {
    const torch::Tensor& g = p.tensor.grad();
    if (!g.defined()) continue;
    const double n = g.norm(2).item<double>();
    sq += n * n;
  }
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && std::isfinite(norm)) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0)
      for (const auto& p : params) {
        torch::Tensor g = p.tensor.grad();
        if (g.defined()) g.mul_(coef);
      }
  }
  return norm;
}

}  // namespace cai::train
