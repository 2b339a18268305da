// Fused inference kernels (see kernels.h).
#include "kernels.h"
#include "cpu/cpu.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace cai::kernels {
namespace {
// Rows per parallel task: small inputs stay on one thread.
std::int64_t grain(std::int64_t work_per_row) {
  return std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, work_per_row));
}
}  // namespace

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  const std::int64_t C = x.size(-1), N = x.numel() / C;
  auto xc = x.contiguous();
  auto out = torch::empty_like(xc);
  const float* xp = xc.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  float* op = out.data_ptr<float>();
  parallel_chunks(N, grain(C), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t n = b; n < e; ++n) {
      const float* r = xp + n * C;
      float* o = op + n * C;
      double ss = 0.0;
      for (std::int64_t i = 0; i < C; ++i) ss += static_cast<double>(r[i]) * r[i];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(C) + eps));
      for (std::int64_t i = 0; i < C; ++i) o[i] = wp[i] * (r[i] * inv);
    }
  });
  return out;
}

torch::Tensor swiglu(const torch::Tensor& gate_up) {
  const std::int64_t F2 = gate_up.size(-1), F = F2 / 2, N = gate_up.numel() / F2;
  auto g = gate_up.contiguous();
  auto sizes = g.sizes().vec();
  sizes.back() = F;
  auto out = torch::empty(sizes, g.options());
  const float* gp = g.data_ptr<float>();
  float* op = out.data_ptr<float>();
  auto rows = cpu::table().swiglu_rows;
  parallel_chunks(N, grain(F * 8), [&](std::int64_t b, std::int64_t e) { rows(gp, op, F, b, e); });
  return out;
}

}  // namespace cai::kernels
