// Products with F32 or packed weight matrices (see weight.h).
#include "weight.h"

#include <cstdint>

#include "cai/io/error.h"
#include "cpu/cpu.h"
#include "kernels.h"

namespace cai::detail {

torch::Tensor dequantized(const PackedMatrix& w) {
  const std::int64_t K = w.cols();
  auto out = torch::empty({w.rows(), K}, torch::kFloat32);
  float* op = out.data_ptr<float>();
  const kernels::cpu::Table& T = kernels::cpu::table();
  for (const auto& p : w.parts()) {
    const auto to_f32 = T.to_f32[kernels::cpu::type_index(p.type)];
    kernels::parallel_chunks(p.rows, std::max<std::int64_t>(1, 65536 / K),
                             [&](std::int64_t b, std::int64_t e) {
                               for (std::int64_t r = b; r < e; ++r)
                                 to_f32(p.row(r), K, op + (p.row0 + r) * K);
                             });
  }
  return out;
}

namespace {

// y = x W^T through a frozen packed W. The pointer stays valid while the model lives (the
// graph never outlives the model that built it).
struct PackedLinearFn : torch::autograd::Function<PackedLinearFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               const PackedMatrix* w) {
    ctx->saved_data["w"] = static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(w));
    return torch::linear(x, dequantized(*w).to(x.scalar_type()));
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto* w = reinterpret_cast<const PackedMatrix*>(
        static_cast<std::intptr_t>(ctx->saved_data["w"].toInt()));
    const torch::Tensor& g = grads[0];  // [..., M]
    return {torch::matmul(g, dequantized(*w).to(g.scalar_type())), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor linear(const torch::Tensor& x, const Weight& w, const torch::Tensor& b) {
  if (!w.is_packed()) return torch::linear(x, w.f32, b);
  auto y = PackedLinearFn::apply(x, w.packed.get());
  return b.defined() ? y + b : y;
}

torch::Tensor fused_linear(const torch::Tensor& x, const Weight& w, const torch::Tensor& b) {
  return w.is_packed() ? kernels::linear(x, *w.packed, b) : kernels::linear(x, w.f32, b);
}

void fused_linear_add_(torch::Tensor& y, const torch::Tensor& x, const Weight& w) {
  if (w.is_packed())
    kernels::linear_add_(y, x, *w.packed);
  else
    kernels::linear_add_(y, x, w.f32);
}

torch::Tensor rows(const Weight& w, const torch::Tensor& ids, torch::ScalarType dtype) {
  if (!w.is_packed()) return torch::embedding(w.f32, ids.to(torch::kInt64));
  auto sizes = ids.sizes().vec();
  sizes.push_back(w.cols);
  return kernels::packed_rows(*w.packed, ids.reshape({-1})).view(sizes).to(dtype);
}

}  // namespace cai::detail
