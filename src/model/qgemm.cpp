// y = x W^T for packed weights (see kernels.h), on the kernel table of cpu/cpu.h.
//
// Decoding (few rows) is bound by reading W, so W is read once and every block is multiplied
// into all rows while it sits in registers, with the activations quantized to 8 bits so the
// products are integer (llama.cpp's approach). Prefill and batched decoding (many rows) are
// bound by arithmetic: a tile of W's rows is dequantized to F32 once and the F32 kernel reuses
// it across every row of x, which costs one dequantization per weight and step however many
// rows there are.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "cai/io/error.h"
#include "cai/model/packed.h"
#include "cpu/cpu.h"
#include "kernels.h"

namespace cai::kernels {
namespace {

// Weight rows per tile (the tile kernels' width; the tile stays in L1/L2 while the rows of x
// stream past).
constexpr std::int64_t kTileM = 16;

struct Item {
  const PackedMatrix::Part* part;
  std::int64_t m0, m1;  // absolute rows of W
};

// Work items: each part cut into chunks of `rows` rows, so threads balance dynamically.
std::vector<Item> items(const PackedMatrix& w, std::int64_t rows) {
  std::vector<Item> out;
  for (const auto& p : w.parts())
    for (std::int64_t m = p.row0; m < p.row0 + p.rows; m += rows)
      out.push_back({&p, m, std::min(p.row0 + p.rows, m + rows)});
  return out;
}

}  // namespace

void gemm_packed(const float* x, std::int64_t ldx, const PackedMatrix& w, const float* bias,
                 float* y, std::int64_t ldy, std::int64_t N, bool accumulate) {
  using namespace cpu;
  const Table& T = table();
  const std::int64_t M = w.rows(), K = w.cols();
  if (N == 0 || M == 0) return;
  CAI_CHECK(w.complete(), "packed matrix [{}, {}]: rows missing", M, K);
  const bool tiled = N >= kPackedTileRows;

  bool need_q = false;
  for (const auto& p : w.parts()) need_q = need_q || int8_dot(p.type);
  // The 8-bit activations, in buffers reused across calls on this thread.
  thread_local ActBuffers buf;
  const Act act = make_act(T, x, ldx, N, K, need_q && !tiled, buf);

  // Chunks of at least ~64K multiply-adds (a multiple of the tile when tiled).
  std::int64_t rows = std::max<std::int64_t>(kTileM, 65536 / std::max<std::int64_t>(1, N * K));
  rows = (rows + kTileM - 1) / kTileM * kTileM;
  const auto work = items(w, rows);
  auto run = [&](std::int64_t begin, std::int64_t end) {
    thread_local std::vector<float> tile, row;
    for (std::int64_t i = begin; i < end; ++i) {
      const Item& it = work[static_cast<std::size_t>(i)];
      const int ti = type_index(it.part->type);
      if (!tiled) {
        T.dot[ti](it.part->row(it.m0 - it.part->row0), it.part->row_bytes, it.m0, it.m1, act, 0, N,
                  y, ldy, accumulate);
        continue;
      }
      // The tile is 16 weight rows dequantized and stored transposed ([K][16]), the layout
      // the tile kernel streams.
      tile.resize(static_cast<std::size_t>(kTileM * K));
      row.resize(static_cast<std::size_t>(K));
      for (std::int64_t m = it.m0; m < it.m1; m += kTileM) {
        const std::int64_t me = std::min(it.m1, m + kTileM);
        for (std::int64_t r = m; r < m + kTileM; ++r) {
          if (r < me)
            T.to_f32[ti](it.part->row(r - it.part->row0), K, row.data());
          else
            std::fill(row.begin(), row.end(), 0.0f);
          float* col = tile.data() + (r - m);
          for (std::int64_t k = 0; k < K; ++k) col[k * kTileM] = row[static_cast<std::size_t>(k)];
        }
        T.gemm_tile16(x, ldx, N, tile.data(), K, y + m, ldy, me - m, accumulate);
      }
    }
  };
  parallel_chunks(static_cast<std::int64_t>(work.size()), 1, run);
  if (bias)
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t m = 0; m < M; ++m) y[n * ldy + m] += bias[m];
}

torch::Tensor linear(const torch::Tensor& x, const PackedMatrix& w, const torch::Tensor& bias) {
  const std::int64_t K = x.size(-1), M = w.rows(), N = x.numel() / std::max<std::int64_t>(1, K);
  TORCH_CHECK(w.cols() == K && x.scalar_type() == torch::kFloat32,
              "kernels::linear: packed weight [", M, ", ", w.cols(), "] for input width ", K);
  auto xc = x.contiguous();
  auto sizes = xc.sizes().vec();
  sizes.back() = M;
  auto y = torch::empty(sizes, xc.options());
  gemm_packed(xc.data_ptr<float>(), K, w, bias.defined() ? bias.data_ptr<float>() : nullptr,
              y.data_ptr<float>(), M, N, false);
  return y;
}

void linear_add_(torch::Tensor& y, const torch::Tensor& x, const PackedMatrix& w) {
  const std::int64_t K = x.size(-1), M = w.rows(), N = x.numel() / std::max<std::int64_t>(1, K);
  TORCH_CHECK(y.is_contiguous() && y.size(-1) == M && y.numel() == N * M && w.cols() == K,
              "kernels::linear_add_: shapes do not match");
  auto xc = x.contiguous();
  gemm_packed(xc.data_ptr<float>(), K, w, nullptr, y.data_ptr<float>(), M, N, true);
}

torch::Tensor packed_rows(const PackedMatrix& w, const torch::Tensor& ids) {
  const auto idx = ids.to(torch::kInt64).contiguous();
  const std::int64_t N = idx.numel(), K = w.cols();
  auto out = torch::empty({N, K}, torch::kFloat32);
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  float* op = out.data_ptr<float>();
  const cpu::Table& T = cpu::table();
  for (std::int64_t n = 0; n < N; ++n) {
    const std::int64_t r = ip[n];
    CAI_CHECK(r >= 0 && r < w.rows(), "token id {} outside the vocabulary of {}", r, w.rows());
    for (const auto& p : w.parts())
      if (p.row0 <= r && r < p.row0 + p.rows)
        T.to_f32[cpu::type_index(p.type)](p.row(r - p.row0), K, op + n * K);
  }
  return out;
}

}  // namespace cai::kernels
