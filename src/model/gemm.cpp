// y = x W^T for the inference path: threading around the micro-kernels of the CPU's kernel
// table (cpu/cpu.h; the AVX2 ones are in cpu/x86_avx2.cpp).
//
// Why not torch::mm: Debian's libtorch calls the system BLAS, which is often the netlib
// reference implementation (~0.5 GFLOP/s); decoding a small model is all small matrix
// products, so the model carries its own. W is [M,K] row-major (PyTorch's Linear layout), so
// every output is a dot product of two contiguous rows: the kernel keeps NR x MR 8-lane
// accumulators along K and reduces them at the end. On one Zen 3 core this runs at
// ~35-45 GFLOP/s for 32+ rows; a single row (decoding at batch 1) is bound by memory.
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>

#include "cpu/cpu.h"
#include "kernels.h"

namespace cai::kernels {
namespace {

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
  const cpu::Table& T = cpu::table();
  if (N == 1) {
    // Batch-1 decoding streams W once. Threads take 64-row chunks from a shared counter, so a
    // thread slowed by another process on its core does not hold the others up.
    const std::int64_t nt = at::get_num_threads();
    if (M * K < 65536 || nt <= 1 || at::in_parallel_region())
      return T.gemv_f32(x, w, bias, y, 0, M, K, accumulate);
    constexpr std::int64_t kRows = 64;
    const std::int64_t chunks = (M + kRows - 1) / kRows;
    std::atomic<std::int64_t> next{0};
    auto body = [&] {
      for (std::int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;)
        T.gemv_f32(x, w, bias, y, c * kRows, std::min(M, (c + 1) * kRows), K, accumulate);
    };
    run_team(nt, body);
    return;
  }
  auto run = T.gemm_f32;
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
