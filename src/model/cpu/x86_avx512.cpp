// AVX-512 kernels (F, BW, VL, DQ and VNNI: Ice Lake, Zen 4 and later) for the packed weight
// types: VNNI's vpdpbusd multiplies 64 unsigned weight bytes by 64 signed activation bytes and
// sums each four into 16 int32 lanes in one instruction. Q8_0's signed bytes are shifted to
// unsigned (q + 128) with the shift taken back through the activations' block sums. The F32
// kernels stay those of the AVX2 file.
#if defined(__x86_64__) || defined(__i386__)

#include <algorithm>
#include <cstring>
#include <type_traits>

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

// [d0, d0, d1, d1] from the f16 scales that open two blocks.
inline __m128 pair_scales(const std::uint8_t* b0, const std::uint8_t* b1) {
  std::uint16_t d0, d1;
  std::memcpy(&d0, b0, 2);
  std::memcpy(&d1, b1, 2);
  const std::uint32_t dd = d0 | static_cast<std::uint32_t>(d1) << 16;
  const __m128 d = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dd)));
  return _mm_unpacklo_ps(d, d);
}

// Calls step(qv, a4, c4, k) for values k..k+63 of a row of K values (as for_each_part, with
// the 64 values in one register). Q5_0 and Q8_0, most of the weight bytes of llama.cpp's
// Q4_K_M mix on models whose width is no multiple of 256, decode two blocks at once in 512
// bits, with both scales converted together. Q5_0 uses mask operations: the nibbles of both
// blocks by one variable shift, the fifth bits by one masked add. That is about half the
// operations of decoding each block in 256 bits, which is most of the work per step at batch 1.
template <class D, class F>
inline void for_each_step(const std::uint8_t* row, std::int64_t K, F&& step) {
  std::int64_t k = 0;
  if constexpr (std::is_same_v<D, XDec<ggml::Type::Q8_0>>) {
    // Each block, as XDec<Q8_0>::regs<true> reads it: f16 scale d, 32 signed bytes, taken as
    // q + 128 (w = d * q - 128 d).
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    for (; k + 64 <= K; k += 64, row += 2 * D::kBytes) {
      const std::uint8_t* b1 = row + D::kBytes;
      const __m512i v = _mm512_xor_si512(
          _mm512_inserti64x4(_mm512_castsi256_si512(load256(row + 2)), load256(b1 + 2), 1), flip);
      const __m128 a4 = pair_scales(row, b1);
      step(v, a4, _mm_mul_ps(a4, _mm_set1_ps(-128.0f)), k);
    }
  } else if constexpr (std::is_same_v<D, XDec<ggml::Type::Q5_0>>) {
    // Each block, as XDec<Q5_0>::regs reads it: f16 scale d, 32 fifth bits, 16 bytes of
    // nibbles (value j low in byte j, value j + 16 high); w = d * q - 16 d.
    const __m512i shift = _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4);
    const __m512i low4 = _mm512_set1_epi8(0x0F), bit5 = _mm512_set1_epi8(0x10);
    for (; k + 64 <= K; k += 64, row += 2 * D::kBytes) {
      const std::uint8_t* b1 = row + D::kBytes;
      // [qs0, qs0, qs1, qs1], the second copy of each shifted down to its high nibbles.
      __m512i v =
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(load128(row + 6))),
                             _mm256_broadcastsi128_si256(load128(b1 + 6)), 1);
      v = _mm512_and_si512(_mm512_srlv_epi64(v, shift), low4);
      std::uint32_t h0, h1;
      std::memcpy(&h0, row + 2, 4);
      std::memcpy(&h1, b1 + 2, 4);
      v = _mm512_mask_add_epi8(v, _cvtu64_mask64(h0 | static_cast<std::uint64_t>(h1) << 32), v,
                               bit5);
      const __m128 a4 = pair_scales(row, b1);
      step(v, a4, _mm_mul_ps(a4, _mm_set1_ps(-16.0f)), k);
    }
  }
  // The rest (every other type; a Q5_0 or Q8_0 row's last odd block) block by block.
  for_each_part<D, true>(
      row, K - k, [&](__m256i q0, __m256i q1, __m128 a4, __m128 c4, std::int64_t kk) {
        step(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), a4, c4, k + kk);
      });
}

// Weight rows against NR (at most 8) activation rows from row n (a multiple of 4), 64 values
// per step (see scalar.cpp for the arithmetic).
//
// dpbusd sums four products into each int32 lane, so a group of 16 values takes four lanes.
// Rather than one dpbusd per row and a transposition of four rows' lanes (six unpacks and three
// adds, which made the shuffle port the bottleneck), four dpbusd per four rows take the step's
// weights turned by 0, 1, 2 and 3 lanes within each group against the four "turns" of the
// activations (Act::qs): lane 4g + r then sums all 16 products of row r and group g, an exact
// group sum, for three shuffles per step however many rows share it. The activations' scales
// and sums come step-major in that same layout (Act::d16s, s16s), so a step ends in one convert
// and one FMA for four rows, and eight rows need four accumulators (even and odd steps apart).
//
// A lone row (batch-1 decoding) sums two steps' lanes together instead (see below). Both paths
// compute every row's value with the same operations in the same order, so a row's result does not
// depend on the rows beside it: decoding a token gives the bits the same token gets among other
// rows on this integer path (batched decoding, or a prefill shorter than kPackedTileRows).
//
// The blocks are decoded straight into registers (for_each_step): a decoded unit stored and
// loaded back (two 256-bit stores under one 512-bit load, scales written one by one) cannot be
// store-forwarded, and at batch 1 nothing amortises that stall.
template <class D, int NR>
void dot_rows_nr(const std::uint8_t* row, const Act& x, std::int64_t n, float* out) {
  static_assert(NR >= 1 && NR <= 8);
  // Lanes 4g..4g+3 take group g's value.
  const __m512i groups = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i zero = _mm512_setzero_si512();
  if constexpr (NR == 1) {
    // Two steps at a time: step s's group sums go to lanes 0 and 2 of their group, step s + 1's
    // to lanes 1 and 3 (one unpack pair, one shuffle, two adds for both), and their scales
    // likewise, so lane 0 accumulates the even steps and lane 1 the odd ones, as the two
    // accumulators of the four-row path do. Scales and sums are read row-major (four
    // contiguous per step) in 128 bits.
    const float* d16 = x.d16 + n * (x.Kp / 16);
    const float* s16 = x.s16 + n * (x.Kp / 16);
    const std::int8_t* xq = x.q + n * x.Kp;
    // [s g0, t g0, s g0, t g0, s g1, ...] from [s g0..g3 | t g0..g3].
    const __m512i pairs = _mm512_setr_epi32(0, 4, 0, 4, 1, 5, 1, 5, 2, 6, 2, 6, 3, 7, 3, 7);
    __m512 acc = _mm512_setzero_ps();
    __m128 macc = _mm_setzero_ps();
    __m512i p_even = zero;
    __m128 sc_even = _mm_setzero_ps();
    auto pair = [&](__m512i p_odd, __m128 sc_odd) {
      const __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi32(p_even, p_odd),
                                         _mm512_unpackhi_epi32(p_even, p_odd));
      const __m512i sum = _mm512_add_epi32(u, _mm512_shuffle_epi32(u, _MM_PERM_BADC));
      const __m512 sc =
          _mm512_permutexvar_ps(pairs, _mm512_castps256_ps512(_mm256_set_m128(sc_odd, sc_even)));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), sc, acc);
    };
    for_each_step<D>(row, x.K, [&](__m512i qv, __m128 a4, __m128 c4, std::int64_t k) {
      const __m512i p = _mm512_dpbusd_epi32(zero, qv, _mm512_loadu_si512(xq + k));
      const __m128 sc = _mm_mul_ps(a4, _mm_loadu_ps(d16 + k / 16));
      macc = _mm_fmadd_ps(c4, _mm_loadu_ps(s16 + k / 16), macc);
      if ((k / 64) % 2 == 0) {
        p_even = p;
        sc_even = sc;
      } else {
        pair(p, sc);
      }
    });
    if ((x.Kp / 64) % 2 == 1) pair(zero, _mm_setzero_ps());  // the last, even, step alone
    // Per group (even + odd) + offsets, then (g0 + g1) + (g2 + g3).
    const __m512i even = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i odd = _mm512_setr_epi32(1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128 t = _mm_add_ps(_mm_add_ps(_mm512_castps512_ps128(_mm512_permutexvar_ps(even, acc)),
                                           _mm512_castps512_ps128(_mm512_permutexvar_ps(odd, acc))),
                                macc);
    const __m128 h = _mm_hadd_ps(t, t);
    out[0] = _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
    return;
  }
  constexpr int NQ = (NR + 3) / 4;  // four-row vectors
  const std::int64_t N4 = (x.N + 3) / 4;
  // Even and odd steps accumulate apart (see the lone row above).
  __m512 acc_even[NQ], acc_odd[NQ], macc[NQ];
  for (int i = 0; i < NQ; ++i) acc_even[i] = acc_odd[i] = macc[i] = _mm512_setzero_ps();
  // 64 weights qv (unsigned) from value k on, with the scales a4 and offsets c4 of their four
  // groups of 16.
  for_each_step<D>(row, x.K, [&](__m512i qv, __m128 a4, __m128 c4, std::int64_t k) {
    const std::int64_t at = ((k / 64) * N4 + n / 4) * 16;
    const __m512 a16 = _mm512_permutexvar_ps(groups, _mm512_castps128_ps512(a4));
    const __m512 c16 = _mm512_permutexvar_ps(groups, _mm512_castps128_ps512(c4));
    const bool odd = (k / 64) % 2 == 1;
    // The weights turned by one, two and three int32 lanes within each group (see Act::qs).
    const __m512i qv1 = _mm512_shuffle_epi32(qv, _MM_PERM_ADCB);
    const __m512i qv2 = _mm512_shuffle_epi32(qv, _MM_PERM_BADC);
    const __m512i qv3 = _mm512_shuffle_epi32(qv, _MM_PERM_CBAD);
    const std::int8_t* xs = x.qs + ((k / 64) * N4 + n / 4) * 256;
    for (int i = 0; i < NQ; ++i, xs += 256) {
      __m512i sum = _mm512_dpbusd_epi32(zero, qv, _mm512_loadu_si512(xs));
      sum = _mm512_dpbusd_epi32(sum, qv1, _mm512_loadu_si512(xs + 64));
      sum = _mm512_dpbusd_epi32(sum, qv2, _mm512_loadu_si512(xs + 128));
      sum = _mm512_dpbusd_epi32(sum, qv3, _mm512_loadu_si512(xs + 192));
      const __m512 sc = _mm512_mul_ps(a16, _mm512_loadu_ps(x.d16s + at + 16 * i));
      if (odd)
        acc_odd[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), sc, acc_odd[i]);
      else
        acc_even[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), sc, acc_even[i]);
      macc[i] = _mm512_fmadd_ps(c16, _mm512_loadu_ps(x.s16s + at + 16 * i), macc[i]);
    }
  });
  // Row r's total: its four groups (lane r of each 128-bit part), each (even + odd) plus its
  // offsets, summed as (g0 + g1) + (g2 + g3), as for a lone row.
  for (int i = 0; i < NQ; ++i) {
    const __m512 t = _mm512_add_ps(_mm512_add_ps(acc_even[i], acc_odd[i]), macc[i]);
    const __m128 g01 = _mm_add_ps(_mm512_extractf32x4_ps(t, 0), _mm512_extractf32x4_ps(t, 1));
    const __m128 g23 = _mm_add_ps(_mm512_extractf32x4_ps(t, 2), _mm512_extractf32x4_ps(t, 3));
    alignas(16) float v[4];
    _mm_store_ps(v, _mm_add_ps(g01, g23));
    for (int j = 0; j < 4 && 4 * i + j < NR; ++j) out[4 * i + j] = v[j];
  }
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
#pragma GCC unroll 16  // no memset of the array (see x86_common.h)
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
  t.step_major = true;
  t.dot[kF32] = dot_float<Type::F32>;
  t.dot[kF16] = dot_float<Type::F16>;
  t.dot[kBF16] = dot_float<Type::BF16>;
  fill_block_dots<8>(t);
}

}  // namespace cai::kernels::cpu

#endif  // x86
