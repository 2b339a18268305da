// AVX-512 kernels (F, BW, VL, DQ and VNNI: Ice Lake, Zen 4 and later) for the packed weight
// types: VNNI's vpdpbusd multiplies 64 unsigned weight bytes by 64 signed activation bytes and
// sums each four into 16 int32 lanes in one instruction. Q8_0's signed bytes are shifted to
// unsigned (q + 128) with the shift taken back through the activations' block sums. The F32
// kernels stay those of the AVX2 file.
#if defined(__x86_64__) || defined(__i386__)

#include <algorithm>

#include "cpu.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
// GCC 12 warns inside its own intrinsic headers about the deliberately undefined pass-through
// operand (_mm512_undefined_ps) of unmasked AVX-512 builtins; nothing here reads it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "x86_common.h"

namespace cai::kernels::cpu {
namespace {

// Weight rows against NR activation rows, 64 values per step (see scalar.cpp for the
// arithmetic): the 16 lanes of a dot product are groups of 16 values four lanes each, so one
// permute spreads the four groups' scales over them.
//
// The blocks are decoded straight into registers (for_each_part): a decoded unit stored and
// loaded back (two 256-bit stores under one 512-bit load, scales written one by one) cannot be
// store-forwarded, and at batch 1 nothing amortises that stall.
template <class D, int NR>
void dot_rows_nr(const std::uint8_t* row, const Act& x, std::int64_t n, float* out) {
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512 acc[NR];
  __m128 macc[NR];
  for (int r = 0; r < NR; ++r) {
    acc[r] = _mm512_setzero_ps();
    macc[r] = _mm_setzero_ps();
  }
  const std::int64_t G16 = x.Kp / 16;
  // 64 weights qv (unsigned) from value k on, with the scales a4 and offsets c4 of their four
  // groups of 16.
  auto step = [&](__m512i qv, __m128 a4, __m128 c4, std::int64_t k) {
    const std::int64_t g = k / 16;
    for (int r = 0; r < NR; ++r) {
      const std::int8_t* xq = x.q + (n + r) * x.Kp + k;
      const __m512i i = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qv, _mm512_loadu_si512(xq));
      const __m128 s4 = _mm_mul_ps(a4, _mm_loadu_ps(x.d16 + (n + r) * G16 + g));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i),
                               _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(s4)), acc[r]);
      macc[r] = _mm_fmadd_ps(c4, _mm_loadu_ps(x.s16 + (n + r) * G16 + g), macc[r]);
    }
  };
  for_each_part<D, true>(row, x.K, [&](__m256i q0, __m256i q1, __m128 a4, __m128 c4,
                                       std::int64_t k) {
    step(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), a4, c4, k);
  });
  for (int r = 0; r < NR; ++r) out[r] = _mm512_reduce_add_ps(acc[r]) + hsum128(macc[r]);
}

// Sixteen F32 weights from F32, F16 or BF16 storage.
template <ggml::Type T>
inline __m512 load16(const std::uint8_t* p) {
  if constexpr (T == ggml::Type::F32) {
    return _mm512_loadu_ps(p);
  } else if constexpr (T == ggml::Type::F16) {
    return _mm512_cvtph_ps(load256(p));
  } else {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load256(p)), 16));
  }
}

template <ggml::Type T>
void dot_float(const std::uint8_t* w, std::size_t row_bytes, std::int64_t m0, std::int64_t m1,
               const Act& x, std::int64_t n0, std::int64_t n1, float* y, std::int64_t ldy,
               bool accumulate) {
  constexpr int kEl = T == ggml::Type::F32 ? 4 : 2;
  const std::int64_t K = x.K, K16 = K / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (K - K16)) - 1);
  for (std::int64_t m = m0; m < m1; ++m) {
    const std::uint8_t* row = w + static_cast<std::size_t>(m - m0) * row_bytes;
    for (std::int64_t n = n0; n < n1; ++n) {
      const float* xr = x.f + n * x.ldf;
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      std::int64_t k = 0;
      for (; k + 32 <= K16; k += 32) {
        acc0 = _mm512_fmadd_ps(load16<T>(row + kEl * k), _mm512_loadu_ps(xr + k), acc0);
        acc1 = _mm512_fmadd_ps(load16<T>(row + kEl * (k + 16)), _mm512_loadu_ps(xr + k + 16), acc1);
      }
      for (; k < K16; k += 16)
        acc0 = _mm512_fmadd_ps(load16<T>(row + kEl * k), _mm512_loadu_ps(xr + k), acc0);
      if (tail) {
        __m512 wv;
        if constexpr (T == ggml::Type::F32) {
          wv = _mm512_maskz_loadu_ps(tail, row + kEl * k);
        } else {
          const __m256i h = _mm256_maskz_loadu_epi16(tail, row + kEl * k);
          wv = T == ggml::Type::F16
                   ? _mm512_cvtph_ps(h)
                   : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
        }
        acc1 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail, xr + k), acc1);
      }
      const float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
      float& o = y[n * ldy + m];
      o = accumulate ? o + s : s;
    }
  }
}

// NR rows of x against a 16-column tile: one accumulator per row, each weight vector loaded
// once per NR rows (NR <= 12 leaves registers to spare of the 32).
template <int NR>
void tile_rows(const float* x, std::int64_t ldx, const float* tile, std::int64_t K, float* y,
               std::int64_t ldy, std::int64_t cols, bool accumulate) {
  __m512 acc[NR];
  for (int r = 0; r < NR; ++r) acc[r] = _mm512_setzero_ps();
  std::int64_t k = 0;
  for (; k + 2 <= K; k += 2) {  // two steps of k: independent loads ahead of the FMAs
    const __m512 w0 = _mm512_loadu_ps(tile + 16 * k), w1 = _mm512_loadu_ps(tile + 16 * k + 16);
    for (int r = 0; r < NR; ++r) {
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * ldx + k]), w0, acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * ldx + k + 1]), w1, acc[r]);
    }
  }
  for (; k < K; ++k) {
    const __m512 w0 = _mm512_loadu_ps(tile + 16 * k);
    for (int r = 0; r < NR; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * ldx + k]), w0, acc[r]);
  }
  const __mmask16 m = static_cast<__mmask16>(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
  for (int r = 0; r < NR; ++r) {
    float* yr = y + r * ldy;
    const __m512 v = accumulate ? _mm512_add_ps(acc[r], _mm512_maskz_loadu_ps(m, yr)) : acc[r];
    _mm512_mask_storeu_ps(yr, m, v);
  }
}

void gemm_tile16(const float* x, std::int64_t ldx, std::int64_t N, const float* tile,
                 std::int64_t K, float* y, std::int64_t ldy, std::int64_t cols, bool accumulate) {
  std::int64_t n = 0;
  for (; n + 12 <= N; n += 12)
    tile_rows<12>(x + n * ldx, ldx, tile, K, y + n * ldy, ldy, cols, accumulate);
  const float* xr = x + n * ldx;
  float* yr = y + n * ldy;
  switch (N - n) {
#define CAI_TILE_CASE(R) \
  case R:                \
    return tile_rows<R>(xr, ldx, tile, K, yr, ldy, cols, accumulate);
    CAI_TILE_CASE(11)
    CAI_TILE_CASE(10)
    CAI_TILE_CASE(9)
    CAI_TILE_CASE(8)
    CAI_TILE_CASE(7)
    CAI_TILE_CASE(6)
    CAI_TILE_CASE(5)
    CAI_TILE_CASE(4)
    CAI_TILE_CASE(3)
    CAI_TILE_CASE(2)
    CAI_TILE_CASE(1)
#undef CAI_TILE_CASE
    default:
      return;
  }
}

}  // namespace
}  // namespace cai::kernels::cpu

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace cai::kernels::cpu {

void fill_avx512(Table& t) {
  using ggml::Type;
  t.gemm_tile16 = gemm_tile16;
  t.dot[kF32] = dot_float<Type::F32>;
  t.dot[kF16] = dot_float<Type::F16>;
  t.dot[kBF16] = dot_float<Type::BF16>;
  fill_block_dots<8>(t);
}

}  // namespace cai::kernels::cpu

#endif  // x86
