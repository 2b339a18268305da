// Fused CPU kernels for the inference path of the decoder (no autograd): each replaces a
// handful of small libtorch ops, which dominate the cost of decoding a tiny model.
// All tensors are contiguous F32 unless stated. N = rows (B*T), W = (H + 2*Hkv) * D.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace cai {
class PackedMatrix;
}

namespace cai::kernels {

// x [N,C] -> x * rsqrt(mean(x^2) + eps) * w, accumulated in double.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps);

// gate_up [N,2F] (gate | up) -> silu(gate) * up [N,F].
torch::Tensor swiglu(const torch::Tensor& gate_up);

struct RopeArgs {
  std::int64_t B = 0, T = 0, H = 0, Hkv = 0, D = 0;
  const std::int64_t* pos = nullptr;  // [B*T] position of each row
  std::int64_t slot_begin = 0;        // row b goes to cache slot slot_begin + b
  const float* cos = nullptr;         // [n_pos][D] tables (rotate-half layout)
  const float* sin = nullptr;
  float q_scale = 1.0f;  // folded into q (the attention's 1/sqrt(D))
};

// qkv [B*T, W] (rows ordered b, t): rotates and scales the q heads in place, and writes the
// rotated k and raw v heads into the caches k, v [max_batch, Hkv, max_len, D] (F32, or F16
// rounded to nearest) at
// (slot_begin + b, :, pos).
void rope_qkv_to_cache(torch::Tensor& qkv, const RopeArgs& a, torch::Tensor& k_cache,
                       torch::Tensor& v_cache);

// Causal attention of the (rotated, scaled) q heads in qkv [B*T, W] over cache positions
// 0..pos of each row's slot; query head h reads key/value head h / (H/Hkv). -> [B*T, H*D].
torch::Tensor attend_cached(const torch::Tensor& qkv, const RopeArgs& a,
                            const torch::Tensor& k_cache, const torch::Tensor& v_cache);

// Calls fn(begin, end) over [0, n) in chunks of `grain` handed out dynamically to the intra-op
// threads (libgomp's team, called directly: at::parallel_for's inline OpenMP body runs
// serially in files compiled without -fopenmp).
void parallel_chunks(std::int64_t n, std::int64_t grain,
                     const std::function<void(std::int64_t, std::int64_t)>& fn);

// y[n, m] = sum_k x[n*ldx + k] * w[m*K + k] (+ bias[m]), written to y[n*ldy + m], or added to
// it when `accumulate`. W is [M,K] row-major, as torch::nn::Linear stores it.
void gemm_xwt(const float* x, std::int64_t ldx, const float* w, const float* bias, float* y,
              std::int64_t ldy, std::int64_t N, std::int64_t M, std::int64_t K, bool accumulate);
// x [...,K] -> x W^T (+ bias) [...,M]; w contiguous [M,K]; bias may be undefined.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w,
                     const torch::Tensor& bias = {});
// y [...,M] += x W^T, in place (residual connections).
void linear_add_(torch::Tensor& y, const torch::Tensor& x, const torch::Tensor& w);

// The same products for a packed weight W [M,K] (qgemm.cpp). Few rows (decoding) take the
// integer dot products on 8-bit activations; many rows dequantize W a tile of rows at a time
// and reuse each tile across all of them with the F32 kernel.
//
// Rows from which the tiled path is taken. With blocks decoded in registers the dot products
// stay ahead up to here: batch-8 decoding of a 135M Q4_K_M model ran 1.6x faster on them than
// on tiles (2 threads, AVX-512), batch 32 the same either way.
inline constexpr std::int64_t kPackedTileRows = 16;
void gemm_packed(const float* x, std::int64_t ldx, const PackedMatrix& w, const float* bias,
                 float* y, std::int64_t ldy, std::int64_t N, bool accumulate);
torch::Tensor linear(const torch::Tensor& x, const PackedMatrix& w, const torch::Tensor& bias = {});
void linear_add_(torch::Tensor& y, const torch::Tensor& x, const PackedMatrix& w);
// Rows `ids` [N] of W -> [N, K] F32 (a packed embedding table).
torch::Tensor packed_rows(const PackedMatrix& w, const torch::Tensor& ids);

}  // namespace cai::kernels
