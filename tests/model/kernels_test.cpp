// The CPU kernel tables: every instruction set this machine runs against the portable scalar
// reference on random blocks of every weight type, the scalar integer dot products against the
// exact product within the activations' quantization error, and the packed matrix product
// (both of its paths) against torch on the dequantized weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "../../src/model/cpu/cpu.h"
#include "../../src/model/kernels.h"
#include "cai/formats/ggml_quant.h"
#include "cai/model/packed.h"

namespace {

using cai::ggml::Type;
using namespace cai::kernels::cpu;

std::vector<Isa> simd_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::avx2, Isa::avx512})
    if (available(isa)) out.push_back(isa);
  if (out.empty()) std::printf("[kernels] no SIMD instruction set on this CPU: scalar only\n");
  return out;
}

std::vector<float> randn(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Rows [M, K] of `t` quantized from random values (one outlier per row so scales vary).
std::vector<std::uint8_t> random_rows(Type t, std::int64_t M, std::int64_t K, std::uint32_t seed) {
  auto w = randn(static_cast<std::size_t>(M * K), seed, 0.1f);
  for (std::int64_t m = 0; m < M; ++m) w[m * K + (m * 7) % K] = 1.5f;
  const std::size_t rb = cai::ggml::row_bytes(t, K);
  std::vector<std::uint8_t> out(rb * M);
  for (std::int64_t m = 0; m < M; ++m)
    cai::ggml::quantize_row(t, w.data() + m * K, out.data() + m * rb, K);
  return out;
}

// Activations in both forms, quantized by `table` (through make_act, as gemm_packed does). The
// buffers start as sentinels so that an entry make_act leaves unwritten shows.
struct Acts {
  std::vector<float> f;
  ActBuffers buf;
  Act act;
  Acts(const Table& table, std::int64_t N, std::int64_t K, std::uint32_t seed)
      : Acts(table, randn(static_cast<std::size_t>(N * K), seed), N, K) {}
  Acts(const Table& table, std::vector<float> values, std::int64_t N, std::int64_t K)
      : f(std::move(values)) {
    const std::int64_t Kp = (K + 63) / 64 * 64, N4 = (N + 3) / 4;
    buf.q.assign(static_cast<std::size_t>(N * Kp), 99);
    buf.qs.assign(static_cast<std::size_t>(N4 * 4 * Kp), 99);
    buf.d16.assign(static_cast<std::size_t>(N * Kp / 16), 99.0f);
    buf.s16.assign(buf.d16.size(), 99.0f);
    buf.d16s.assign(static_cast<std::size_t>(N4 * 4 * Kp / 16), 99.0f);
    buf.s16s.assign(buf.d16s.size(), 99.0f);
    act = make_act(table, f.data(), K, N, K, true, buf);
  }
};

const Type kAllTypes[] = {Type::F32,  Type::F16,  Type::BF16, Type::Q4_0, Type::Q4_1, Type::Q5_0,
                          Type::Q5_1, Type::Q8_0, Type::Q4_K, Type::Q5_K, Type::Q6_K};

// Row lengths a type's blocks fit: an odd number of 32-value blocks for the small types (the
// padded tail of the 64-value steps), several super-blocks for the K-quants.
std::vector<std::int64_t> lengths(Type t) {
  if (cai::ggml::traits(t).block == 256) return {256, 768};
  if (cai::ggml::traits(t).block == 32) return {96, 288};
  return {37, 288};
}

TEST(CpuKernels, ActivationQuantizationIsTheSameOnEveryIsa) {
  const Table& ref = table_for(Isa::scalar);
  for (Isa isa : simd_isas())
    for (std::int64_t K : {96, 100, 288}) {
      Acts a(ref, 3, K, 11), b(table_for(isa), 3, K, 11);
      EXPECT_EQ(a.buf.q, b.buf.q) << isa_name(isa) << " K " << K;
      EXPECT_EQ(a.buf.d16, b.buf.d16) << isa_name(isa) << " K " << K;
      EXPECT_EQ(a.buf.s16, b.buf.s16) << isa_name(isa) << " K " << K;
    }
}

TEST(CpuKernels, DotProductsMatchTheScalarReferenceOnEveryIsa) {
  const Table& ref = table_for(Isa::scalar);
  const std::int64_t M = 13;
  for (Isa isa : simd_isas()) {
    const Table& T = table_for(isa);
    for (Type t : kAllTypes)
      for (std::int64_t K : lengths(t)) {
        const auto w = random_rows(t, M, K, 3);
        const std::size_t rb = cai::ggml::row_bytes(t, K);
        const int ti = type_index(t);
        for (std::int64_t N : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15}) {
          Acts a(T, N, K, 5);  // quantized alike on every set (tested above)
          std::vector<float> want(N * M), got(N * M, 7.0f), acc(N * M, 1.0f);
          ref.dot[ti](w.data(), rb, 0, M, a.act, 0, N, want.data(), M, false);
          T.dot[ti](w.data(), rb, 0, M, a.act, 0, N, got.data(), M, false);
          T.dot[ti](w.data(), rb, 0, M, a.act, 0, N, acc.data(), M, true);
          for (std::int64_t i = 0; i < N * M; ++i) {
            const double tol =
                1e-5 * (1.0 + std::fabs(want[i])) * std::sqrt(static_cast<double>(K));
            ASSERT_NEAR(got[i], want[i], tol) << isa_name(isa) << " " << cai::ggml::traits(t).name
                                              << " K " << K << " N " << N << " at " << i;
            ASSERT_NEAR(acc[i], want[i] + 1.0f, tol + 1e-6);
          }
        }
        // Dequantization of a row.
        std::vector<float> r0(K), r1(K);
        for (std::int64_t m = 0; m < M; ++m) {
          ref.to_f32[ti](w.data() + m * rb, K, r0.data());
          T.to_f32[ti](w.data() + m * rb, K, r1.data());
          for (std::int64_t k = 0; k < K; ++k)
            ASSERT_NEAR(r1[k], r0[k], 1e-6 * (1.0 + std::fabs(r0[k])))
                << isa_name(isa) << " " << cai::ggml::traits(t).name << " row " << m << " " << k;
        }
      }
  }
}

TEST(CpuKernels, ARowsDotProductDoesNotDependOnTheRowsBesideIt) {
  // Decoding one token must give the bits the same token gets among other rows of the integer
  // path, in a batch or a short prefill (the cached forward is tested equal to the full one):
  // each activation row's result is the same alone as in any group the kernels take together.
  const std::int64_t M = 5, N = 11;
  for (Isa isa : simd_isas()) {
    const Table& T = table_for(isa);
    for (Type t : kAllTypes) {
      const std::int64_t K = lengths(t).back();
      const auto w = random_rows(t, M, K, 3);
      const std::size_t rb = cai::ggml::row_bytes(t, K);
      const int ti = type_index(t);
      Acts all(T, N, K, 9);
      std::vector<float> together(N * M);
      T.dot[ti](w.data(), rb, 0, M, all.act, 0, N, together.data(), M, false);
      for (std::int64_t n = 0; n < N; ++n) {
        Acts one(T, {all.f.begin() + n * K, all.f.begin() + (n + 1) * K}, 1, K);
        std::vector<float> alone(M);
        T.dot[ti](w.data(), rb, 0, M, one.act, 0, 1, alone.data(), M, false);
        for (std::int64_t m = 0; m < M; ++m)
          ASSERT_EQ(alone[m], together[n * M + m])
              << isa_name(isa) << " " << cai::ggml::traits(t).name << " row " << n << " of " << N;
      }
    }
  }
}

TEST(CpuKernels, IntegerDotsWithinTheActivationRounding) {
  // The scalar integer dot product of a block type against the exact product of the
  // dequantized weights with the F32 activations: each activation moves by at most half its
  // block's step d, so |error| <= sum_k |w_k| d_k / 2.
  const Table& ref = table_for(Isa::scalar);
  const std::int64_t M = 5;
  for (Type t : kAllTypes) {
    for (std::int64_t K : lengths(t)) {
      const auto w = random_rows(t, M, K, 21);
      const std::size_t rb = cai::ggml::row_bytes(t, K);
      Acts a(ref, 2, K, 22);
      std::vector<float> y(2 * M), wf(K);
      ref.dot[type_index(t)](w.data(), rb, 0, M, a.act, 0, 2, y.data(), M, false);
      for (std::int64_t m = 0; m < M; ++m) {
        cai::ggml::dequantize_row(t, w.data() + m * rb, wf.data(), K);
        for (std::int64_t n = 0; n < 2; ++n) {
          double exact = 0, bound = 1e-4;
          for (std::int64_t k = 0; k < K; ++k) {
            exact += static_cast<double>(wf[k]) * a.f[n * K + k];
            if (cai::kernels::cpu::int8_dot(t))
              bound += std::fabs(wf[k]) * a.buf.d16[n * a.act.Kp / 16 + k / 16] * 0.5;
          }
          bound += 1e-5 * std::fabs(exact);
          EXPECT_NEAR(y[n * M + m], exact, bound) << cai::ggml::traits(t).name << " K " << K;
        }
      }
    }
  }
}

TEST(CpuKernels, F32KernelsMatchTheScalarReferenceOnEveryIsa) {
  const Table& ref = table_for(Isa::scalar);
  const std::int64_t N = 7, M = 19, K = 37, D = 40, L = 23, F = 29;
  const auto x = randn(N * K, 1), w = randn(M * K, 2), bias = randn(M, 3);
  const auto q = randn(D, 4), keys = randn(L * D, 5), vals = randn(L * D, 6),
             gu = randn(3 * 2 * F, 7);
  for (Isa isa : simd_isas()) {
    const Table& T = table_for(isa);
    std::vector<float> a(N * M), b(N * M);
    ref.gemm_f32(x.data(), K, w.data(), bias.data(), a.data(), M, 0, N, 0, M, K, false);
    T.gemm_f32(x.data(), K, w.data(), bias.data(), b.data(), M, 0, N, 0, M, K, false);
    for (std::int64_t i = 0; i < N * M; ++i) ASSERT_NEAR(b[i], a[i], 1e-4) << isa_name(isa);
    std::vector<float> g(M);
    T.gemv_f32(x.data(), w.data(), bias.data(), g.data(), 0, M, K, false);
    for (std::int64_t m = 0; m < M; ++m) ASSERT_NEAR(g[m], a[m], 1e-4) << isa_name(isa);
    std::vector<float> s0(L), s1(L), o0(D), o1(D);
    ref.attend_one(q.data(), keys.data(), vals.data(), L, D, s0.data(), o0.data());
    T.attend_one(q.data(), keys.data(), vals.data(), L, D, s1.data(), o1.data());
    for (std::int64_t d = 0; d < D; ++d) ASSERT_NEAR(o1[d], o0[d], 1e-5) << isa_name(isa);
    // Over an F16 cache: the same as F32 attention over the half-rounded keys and values.
    std::vector<std::uint16_t> kh(keys.size()), vh(vals.size());
    std::vector<float> kr(keys.size()), vr(vals.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      kh[i] = c10::Half(keys[i]).x;
      vh[i] = c10::Half(vals[i]).x;
      kr[i] = static_cast<float>(c10::Half(keys[i]));
      vr[i] = static_cast<float>(c10::Half(vals[i]));
    }
    ref.attend_one(q.data(), kr.data(), vr.data(), L, D, s0.data(), o0.data());
    for (const Table* t : {&ref, &T}) {
      t->attend_one_f16(q.data(), kh.data(), vh.data(), L, D, s1.data(), o1.data());
      for (std::int64_t d = 0; d < D; ++d)
        ASSERT_NEAR(o1[d], o0[d], 1e-5) << isa_name(t->isa) << " F16 cache";
    }
    const auto tile = randn(K * 16, 8);
    for (std::int64_t cols : {16, 11})
      for (std::int64_t rows : {N, std::int64_t{13}, std::int64_t{25}}) {
        const auto xs = randn(rows * K, 9);
        std::vector<float> t0(rows * 20, 2.0f), t1(rows * 20, 2.0f);
        ref.gemm_tile16(xs.data(), K, rows, tile.data(), K, t0.data(), 20, cols, true);
        T.gemm_tile16(xs.data(), K, rows, tile.data(), K, t1.data(), 20, cols, true);
        for (std::size_t i = 0; i < t0.size(); ++i)
          ASSERT_NEAR(t1[i], t0[i], 1e-4) << isa_name(isa) << " tile, " << rows << " rows, " << i;
      }
    std::vector<float> w0(3 * F), w1(3 * F);
    ref.swiglu_rows(gu.data(), w0.data(), F, 0, 3);
    T.swiglu_rows(gu.data(), w1.data(), F, 0, 3);
    for (std::int64_t i = 0; i < 3 * F; ++i)
      ASSERT_NEAR(w1[i], w0[i], 1e-5 * (1 + std::fabs(w0[i]))) << isa_name(isa);
  }
}

TEST(PackedGemm, BothPathsMatchTheDequantizedProduct) {
  // A fused matrix of three parts in three types (as q|k|v of a Q4_K_M layer), against
  // torch::linear on its dequantized values: few rows take the integer dot products, many the
  // dequantized tiles.
  const std::int64_t K = 512, M = 48 + 16 + 21;
  cai::PackedMatrix w(M, K);
  w.set_rows(0, 48, Type::Q4_K, random_rows(Type::Q4_K, 48, K, 1));
  w.set_rows(48, 16, Type::Q6_K, random_rows(Type::Q6_K, 16, K, 2));
  w.set_rows(64, 21, Type::F16, random_rows(Type::F16, 21, K, 3));
  ASSERT_TRUE(w.complete());
  auto wf = torch::empty({M, K});
  w.dequantize_rows(0, M, wf.data_ptr<float>());
  auto bias = torch::randn({M});
  for (std::int64_t N : {std::int64_t{1}, std::int64_t{3}, cai::kernels::kPackedTileRows - 1,
                         cai::kernels::kPackedTileRows, std::int64_t{40}}) {
    auto x = torch::randn({N, K});
    auto want =
        torch::linear(x.to(torch::kFloat64), wf.to(torch::kFloat64), bias.to(torch::kFloat64));
    auto got = cai::kernels::linear(x, w, bias);
    // Integer path: activation rounding (|x| d / 2 per term); tiled path: F32 rounding.
    const double tol = N < cai::kernels::kPackedTileRows ? 0.1 : 1e-3;
    EXPECT_LT((got.to(torch::kFloat64) - want).abs().max().item<double>(), tol) << "N " << N;
    auto y = torch::ones({N, M});
    cai::kernels::linear_add_(y, x, w);
    EXPECT_LT((y - 1 - got + bias).abs().max().item<double>(), 1e-4) << "N " << N;
  }
  // Embedding rows.
  auto ids = torch::tensor({0, 50, 84}, torch::kInt64);
  auto rows = cai::kernels::packed_rows(w, ids);
  EXPECT_LT((rows - wf.index_select(0, ids)).abs().max().item<double>(), 1e-6);
}

}  // namespace
