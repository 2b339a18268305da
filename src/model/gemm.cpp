// y = x W^T for the inference path, with AVX2/FMA micro-kernels chosen at run time.
//
// Why not torch::mm: Debian's libtorch calls the system BLAS, which is often the netlib
// reference implementation (~0.5 GFLOP/s); decoding a small model is all small matrix
// products, so the model carries its own. W is [M,K] row-major (PyTorch's Linear layout), so
// every output is a dot product of two contiguous rows: the kernel keeps NR x MR 8-lane
// accumulators along K and reduces them at the end. On one Zen 3 core this runs at
// ~35-45 GFLOP/s for 32+ rows; a single row (decoding at batch 1) is bound by memory.
#include <ATen/Parallel.h>

#include <immintrin.h>

#include <algorithm>
#include <atomic>

#include "kernels.h"

namespace cai::kernels {
namespace {

// Portable reference (and the path for CPUs without AVX2/FMA).
void gemm_scalar(const float* x, std::int64_t ldx, const float* w, const float* bias, float* y,
                 std::int64_t ldy, std::int64_t n0, std::int64_t n1, std::int64_t m0,
                 std::int64_t m1, std::int64_t K, bool accumulate) {
  for (std::int64_t n = n0; n < n1; ++n)
    for (std::int64_t m = m0; m < m1; ++m) {
      const float* xr = x + n * ldx;
      const float* wr = w + m * K;
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::int64_t k = 0;
      for (; k + 8 <= K; k += 8)
        for (int l = 0; l < 8; ++l) acc[l] += xr[k + l] * wr[k + l];
      float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; k < K; ++k) s += xr[k] * wr[k];
      if (bias) s += bias[m];
      float& out = y[n * ldy + m];
      out = accumulate ? out + s : s;
    }
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// One NR x MR block of outputs: rows n..n+NR of x against rows m..m+MR of W.
template <int NR, int MR>
__attribute__((target("avx2,fma"))) void micro(const float* x, std::int64_t ldx, const float* w,
                                               const float* bias, float* y, std::int64_t ldy,
                                               std::int64_t K, bool accumulate) {
  __m256 acc[NR][MR];
  for (int i = 0; i < NR; ++i)
    for (int j = 0; j < MR; ++j) acc[i][j] = _mm256_setzero_ps();
  std::int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 xv[NR];
    for (int i = 0; i < NR; ++i) xv[i] = _mm256_loadu_ps(x + i * ldx + k);
    for (int j = 0; j < MR; ++j) {
      const __m256 wv = _mm256_loadu_ps(w + j * K + k);
      for (int i = 0; i < NR; ++i) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  for (int i = 0; i < NR; ++i)
    for (int j = 0; j < MR; ++j) {
      float s = hsum(acc[i][j]);
      for (std::int64_t kk = k; kk < K; ++kk) s += x[i * ldx + kk] * w[j * K + kk];
      if (bias) s += bias[j];
      float& out = y[i * ldy + j];
      out = accumulate ? out + s : s;
    }
}

template <int NR, int MR>
__attribute__((target("avx2,fma"))) void sweep_m(const float* x, std::int64_t ldx, const float* w,
                                                 const float* bias, float* y, std::int64_t ldy,
                                                 std::int64_t m0, std::int64_t m1, std::int64_t K,
                                                 bool accumulate) {
  std::int64_t m = m0;
  for (; m + MR <= m1; m += MR)
    micro<NR, MR>(x, ldx, w + m * K, bias ? bias + m : nullptr, y + m, ldy, K, accumulate);
  for (; m < m1; ++m)
    micro<NR, 1>(x, ldx, w + m * K, bias ? bias + m : nullptr, y + m, ldy, K, accumulate);
}

__attribute__((target("avx2,fma"))) void gemm_avx2(const float* x, std::int64_t ldx, const float* w,
                                                   const float* bias, float* y, std::int64_t ldy,
                                                   std::int64_t n0, std::int64_t n1,
                                                   std::int64_t m0, std::int64_t m1, std::int64_t K,
                                                   bool accumulate) {
  // Rows of x in chunks that stay in L2 while the W rows of [m0, m1) stream past.
  constexpr std::int64_t kChunk = 96;  // a multiple of the 3-row block
  for (std::int64_t c0 = n0; c0 < n1; c0 += kChunk) {
    const std::int64_t c1 = std::min(n1, c0 + kChunk);
    constexpr std::int64_t MB = 16;  // W rows reused across the chunk's x rows from L1
    for (std::int64_t mb = m0; mb < m1; mb += MB) {
      const std::int64_t me = std::min(m1, mb + MB);
      std::int64_t n = c0;
      // 3 x 4 blocks: 12 accumulators + 3 x vectors + 1 W vector fill the 16 registers
      // (measured ~1.5x faster than 4 x 2 on Zen 3).
      for (; n + 3 <= c1; n += 3)
        sweep_m<3, 4>(x + n * ldx, ldx, w, bias, y + n * ldy, ldy, mb, me, K, accumulate);
      const float* xr = x + n * ldx;
      float* yr = y + n * ldy;
      switch (c1 - n) {
        case 2:
          sweep_m<2, 4>(xr, ldx, w, bias, yr, ldy, mb, me, K, accumulate);
          break;
        case 1:
          sweep_m<1, 8>(xr, ldx, w, bias, yr, ldy, mb, me, K, accumulate);
          break;
        default:
          break;
      }
    }
  }
}

// y[0, m0..m1) for a single row of x (decoding at batch 1, bound by memory): 8 W rows at a
// time, with a software prefetch of the block two ahead. Each output is accumulated in the
// same order as micro<>, so batch-1 results match the batched path bit for bit.
__attribute__((target("avx2,fma"))) void gemv_avx2(const float* x, const float* w,
                                                   const float* bias, float* y, std::int64_t m0,
                                                   std::int64_t m1, std::int64_t K,
                                                   bool accumulate) {
  constexpr int R = 8;
  std::int64_t m = m0;
  for (; m + R <= m1; m += R) {
    const float* w0 = w + m * K;
    const float* pf = w0 + 2 * R * K;
    const bool prefetch = false;
    __m256 acc[R];
    for (int j = 0; j < R; ++j) acc[j] = _mm256_setzero_ps();
    std::int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
      if (prefetch && (k & 15) == 0)
        for (int j = 0; j < R; ++j)
          _mm_prefetch(reinterpret_cast<const char*>(pf + j * K + k), _MM_HINT_T0);
      const __m256 xv = _mm256_loadu_ps(x + k);
      for (int j = 0; j < R; ++j)
        acc[j] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w0 + j * K + k), acc[j]);
    }
    for (int j = 0; j < R; ++j) {
      float s = hsum(acc[j]);
      for (std::int64_t kk = k; kk < K; ++kk) s += x[kk] * w0[j * K + kk];
      if (bias) s += bias[m + j];
      y[m + j] = accumulate ? y[m + j] + s : s;
    }
  }
  for (; m < m1; ++m)
    micro<1, 1>(x, K, w + m * K, bias ? bias + m : nullptr, y + m, 1, K, accumulate);
}

// Runs fn on `nt` OpenMP threads. The build compiles the model with -fopenmp: libtorch's
// at::parallel_for is inline in the ATen headers, and without the flag its pragma is ignored
// and every loop runs on one thread.
template <class F>
void run_team(std::int64_t nt, F& fn) {
  if (nt > 1) {
#pragma omp parallel num_threads(static_cast <int>(nt))
    fn();
  } else {
    fn();
  }
}

bool cpu_has_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

}  // namespace

void parallel_chunks(std::int64_t n, std::int64_t grain,
                     const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(1, grain);
  const std::int64_t chunks = (n + grain - 1) / grain;
  const std::int64_t nt = std::min<std::int64_t>(at::get_num_threads(), chunks);
  if (nt <= 1 || at::in_parallel_region()) return fn(0, n);
  std::atomic<std::int64_t> next{0};
  auto body = [&] {
    for (std::int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;)
      fn(c * grain, std::min(n, (c + 1) * grain));
  };
  run_team(nt, body);
}

void gemm_xwt(const float* x, std::int64_t ldx, const float* w, const float* bias, float* y,
              std::int64_t ldy, std::int64_t N, std::int64_t M, std::int64_t K, bool accumulate) {
  if (N == 0 || M == 0) return;
  if (N == 1 && cpu_has_avx2()) {
    // Batch-1 decoding streams W once. Threads take 64-row chunks from a shared counter, so a
    // thread slowed by another process on its core does not hold the others up.
    const std::int64_t nt = at::get_num_threads();
    if (M * K < 65536 || nt <= 1 || at::in_parallel_region())
      return gemv_avx2(x, w, bias, y, 0, M, K, accumulate);
    constexpr std::int64_t kRows = 64;
    const std::int64_t chunks = (M + kRows - 1) / kRows;
    std::atomic<std::int64_t> next{0};
    auto body = [&] {
      for (std::int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;)
        gemv_avx2(x, w, bias, y, c * kRows, std::min(M, (c + 1) * kRows), K, accumulate);
    };
    run_team(nt, body);
    return;
  }
  auto run = cpu_has_avx2() ? gemm_avx2 : gemm_scalar;
  // Split W's rows into chunks of at least ~64K multiply-adds, handed out dynamically.
  const std::int64_t per_row = std::max<std::int64_t>(1, N * K);
  const std::int64_t grain = std::max<std::int64_t>(16, (65536 + per_row - 1) / per_row);
  const std::int64_t nt = at::get_num_threads();
  if (M <= grain || nt <= 1 || at::in_parallel_region())
    return run(x, ldx, w, bias, y, ldy, 0, N, 0, M, K, accumulate);
  // Chunk: a multiple of 16 rows (the kernel's W block), ~8 chunks per thread when M allows.
  std::int64_t chunk = std::max(grain, (M + 8 * nt - 1) / (8 * nt));
  chunk = (chunk + 15) / 16 * 16;
  const std::int64_t chunks = (M + chunk - 1) / chunk;
  if (chunks <= 1) return run(x, ldx, w, bias, y, ldy, 0, N, 0, M, K, accumulate);
  std::atomic<std::int64_t> next{0};
  auto body = [&] {
    for (std::int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;)
      run(x, ldx, w, bias, y, ldy, 0, N, c * chunk, std::min(M, (c + 1) * chunk), K, accumulate);
  };
  run_team(std::min(nt, chunks), body);
}

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  const std::int64_t K = x.size(-1), M = w.size(0), N = x.numel() / std::max<std::int64_t>(1, K);
  TORCH_CHECK(w.size(1) == K && w.is_contiguous() && w.scalar_type() == torch::kFloat32,
              "kernels::linear: weight must be contiguous F32 [M, ", K, "]");
  auto xc = x.contiguous();
  auto sizes = xc.sizes().vec();
  sizes.back() = M;
  auto y = torch::empty(sizes, xc.options());
  gemm_xwt(xc.data_ptr<float>(), K, w.data_ptr<float>(),
           bias.defined() ? bias.data_ptr<float>() : nullptr, y.data_ptr<float>(), M, N, M, K,
           false);
  return y;
}

void linear_add_(torch::Tensor& y, const torch::Tensor& x, const torch::Tensor& w) {
  const std::int64_t K = x.size(-1), M = w.size(0), N = x.numel() / std::max<std::int64_t>(1, K);
  TORCH_CHECK(y.is_contiguous() && y.size(-1) == M && y.numel() == N * M && w.is_contiguous(),
              "kernels::linear_add_: shapes do not match");
  auto xc = x.contiguous();
  gemm_xwt(xc.data_ptr<float>(), K, w.data_ptr<float>(), nullptr, y.data_ptr<float>(), M, N, M, K,
           true);
}

}  // namespace cai::kernels
