// AVX2 + FMA kernels (Haswell, Zen and later): the F32 matrix products, attention and SwiGLU
// of the inference path, and the packed weight types' dot products on 8-bit activations
// (maddubs: unsigned weight values x signed activations, pairs summed in 16 bits, which cannot
// saturate for values below 64; Q8_0 takes the sign trick).
#if defined(__x86_64__) || defined(__i386__)

#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

#include "x86_common.h"

namespace cai::kernels::cpu {
namespace {

// ---------------------------------------------------------------------------------------------
// F32 weights

// One NR x MR block of outputs: rows n..n+NR of x against rows m..m+MR of W.
template <int NR, int MR>
void micro(const float* x, std::int64_t ldx, const float* w, const float* bias, float* y,
           std::int64_t ldy, std::int64_t K, bool accumulate) {
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
void sweep_m(const float* x, std::int64_t ldx, const float* w, const float* bias, float* y,
             std::int64_t ldy, std::int64_t m0, std::int64_t m1, std::int64_t K, bool accumulate) {
  std::int64_t m = m0;
  for (; m + MR <= m1; m += MR)
    micro<NR, MR>(x, ldx, w + m * K, bias ? bias + m : nullptr, y + m, ldy, K, accumulate);
  for (; m < m1; ++m)
    micro<NR, 1>(x, ldx, w + m * K, bias ? bias + m : nullptr, y + m, ldy, K, accumulate);
}

void gemm_f32(const float* x, std::int64_t ldx, const float* w, const float* bias, float* y,
              std::int64_t ldy, std::int64_t n0, std::int64_t n1, std::int64_t m0, std::int64_t m1,
              std::int64_t K, bool accumulate) {
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
// time. Each output is accumulated in the same order as micro<>, so batch-1 results match the
// batched path bit for bit.
void gemv_f32(const float* x, const float* w, const float* bias, float* y, std::int64_t m0,
              std::int64_t m1, std::int64_t K, bool accumulate) {
  constexpr int R = 8;
  std::int64_t m = m0;
  for (; m + R <= m1; m += R) {
    const float* w0 = w + m * K;
    __m256 acc[R];
    for (int j = 0; j < R; ++j) acc[j] = _mm256_setzero_ps();
    std::int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
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

// Eight K or V elements of the cache, F32 or F16 (F16C widens them as they are loaded: an F16
// cache halves the bytes attention reads, which at batch 8 and a few hundred positions is about
// as much as the weights).
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const std::uint16_t* p) { return _mm256_cvtph_ps(load128(p)); }
inline float cache_value(float v) { return v; }
inline float cache_value(std::uint16_t h) { return _cvtsh_ss(h); }

template <class E>
void attend_one(const float* q, const E* K, const E* V, std::int64_t len, std::int64_t D,
                float* scores, float* o) {
  const std::int64_t D8 = D / 8 * 8;
  // Scores q . k_j.
  std::int64_t j0 = 0;
  for (; j0 + 4 <= len; j0 += 4) {  // four keys at a time: independent FMA chains
    const E* k = K + j0 * D;
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps(),
           c3 = _mm256_setzero_ps();
    for (std::int64_t d = 0; d < D8; d += 8) {
      const __m256 qv = _mm256_loadu_ps(q + d);
      c0 = _mm256_fmadd_ps(qv, load8(k + d), c0);
      c1 = _mm256_fmadd_ps(qv, load8(k + D + d), c1);
      c2 = _mm256_fmadd_ps(qv, load8(k + 2 * D + d), c2);
      c3 = _mm256_fmadd_ps(qv, load8(k + 3 * D + d), c3);
    }
    float s4[4] = {hsum(c0), hsum(c1), hsum(c2), hsum(c3)};
    for (int i = 0; i < 4; ++i) {
      for (std::int64_t d = D8; d < D; ++d) s4[i] += q[d] * cache_value(k[i * D + d]);
      scores[j0 + i] = s4[i];
    }
  }
  for (std::int64_t j = j0; j < len; ++j) {
    const E* k = K + j * D;
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t d = 0; d < D8; d += 8)
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8(k + d), acc);
    float s = hsum(acc);
    for (std::int64_t d = D8; d < D; ++d) s += q[d] * cache_value(k[d]);
    scores[j] = s;
  }
  // Max, then exp(s - max) and its sum, eight at a time.
  const std::int64_t L8 = len / 8 * 8;
  __m256 vmx = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (std::int64_t j = 0; j < L8; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(scores + j));
  float mx = hmax(vmx);
  for (std::int64_t j = L8; j < len; ++j) mx = std::max(mx, scores[j]);
  const __m256 m8 = _mm256_set1_ps(mx);
  __m256 vsum = _mm256_setzero_ps();
  for (std::int64_t j = 0; j < L8; j += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(scores + j), m8));
    _mm256_storeu_ps(scores + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = hsum(vsum);
  for (std::int64_t j = L8; j < len; ++j) sum += scores[j] = std::exp(scores[j] - mx);
  // o = sum_j p_j v_j / sum.
  if (D8 == D && D <= 64) {
    // Head sizes up to 64: the output row stays in registers across all keys.
    __m256 acc[8];
    const std::int64_t nv = D / 8;
#pragma GCC unroll 8  // no memset of the array (see x86_common.h)
    for (std::int64_t i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
    for (std::int64_t j = 0; j < len; ++j) {
      const E* v = V + j * D;
      const __m256 p = _mm256_set1_ps(scores[j]);
      switch (nv) {  // fallthrough: the first nv lanes
        case 8:
          acc[7] = _mm256_fmadd_ps(p, load8(v + 56), acc[7]);
          [[fallthrough]];
        case 7:
          acc[6] = _mm256_fmadd_ps(p, load8(v + 48), acc[6]);
          [[fallthrough]];
        case 6:
          acc[5] = _mm256_fmadd_ps(p, load8(v + 40), acc[5]);
          [[fallthrough]];
        case 5:
          acc[4] = _mm256_fmadd_ps(p, load8(v + 32), acc[4]);
          [[fallthrough]];
        case 4:
          acc[3] = _mm256_fmadd_ps(p, load8(v + 24), acc[3]);
          [[fallthrough]];
        case 3:
          acc[2] = _mm256_fmadd_ps(p, load8(v + 16), acc[2]);
          [[fallthrough]];
        case 2:
          acc[1] = _mm256_fmadd_ps(p, load8(v + 8), acc[1]);
          [[fallthrough]];
        case 1:
          acc[0] = _mm256_fmadd_ps(p, load8(v), acc[0]);
          [[fallthrough]];
        default:
          break;
      }
    }
    const __m256 inv8 = _mm256_set1_ps(1.0f / sum);
    for (std::int64_t i = 0; i < nv; ++i) _mm256_storeu_ps(o + 8 * i, _mm256_mul_ps(acc[i], inv8));
    return;
  }
  std::fill(o, o + D, 0.0f);
  for (std::int64_t j = 0; j < len; ++j) {
    const E* v = V + j * D;
    const __m256 p = _mm256_set1_ps(scores[j]);
    for (std::int64_t d = 0; d < D8; d += 8)
      _mm256_storeu_ps(o + d, _mm256_fmadd_ps(p, load8(v + d), _mm256_loadu_ps(o + d)));
    for (std::int64_t d = D8; d < D; ++d) o[d] += scores[j] * cache_value(v[d]);
  }
  const float inv = 1.0f / sum;
  for (std::int64_t d = 0; d < D; ++d) o[d] *= inv;
}

void swiglu_rows(const float* gp, float* op, std::int64_t F, std::int64_t b, std::int64_t e) {
  const std::int64_t F8 = F / 8 * 8;
  const __m256 one = _mm256_set1_ps(1.0f);
  for (std::int64_t n = b; n < e; ++n) {
    const float* gr = gp + n * 2 * F;
    const float* ur = gr + F;
    float* o = op + n * F;
    for (std::int64_t i = 0; i < F8; i += 8) {
      const __m256 g = _mm256_loadu_ps(gr + i);
      const __m256 den = _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), g)));
      _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_div_ps(g, den), _mm256_loadu_ps(ur + i)));
    }
    for (std::int64_t i = F8; i < F; ++i) o[i] = gr[i] / (1.0f + std::exp(-gr[i])) * ur[i];
  }
}

// ---------------------------------------------------------------------------------------------
// Packed weights

// 32 unsigned (or, kSigned, signed) weight bytes . 32 signed activation bytes -> 8 int32 lanes,
// lanes 0-3 summing values 0-15 and lanes 4-7 values 16-31.
template <bool kSigned>
inline __m256i dot32(__m256i q, __m256i x) {
  const __m256i ones = _mm256_set1_epi16(1);
  if (kSigned)
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q)),
                             ones);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), ones);
}

// out[r] = the sum of s[r]'s eight lanes and m[r]'s four, for NR (at most 4) activation rows,
// through a transposing tree of horizontal adds (a dot product call covers one short weight
// row, 576 values are nine steps, so its reductions are a sizeable share of it). Every row is
// summed in the same order, ((v0+v1)+(v2+v3)) + ((v4+v5)+(v6+v7)), whatever NR: a row's result
// must not depend on how many rows share its call, or decoding one token would differ in the
// last bit from the same token among other rows (see the AVX-512 dot products).
template <int NR>
inline void sum_rows(const __m256* s, const __m128* m, float* out) {
  static_assert(NR >= 1 && NR <= 4);
  __m256 v[4];
  for (int r = 0; r < 4; ++r)
    v[r] = r < NR ? _mm256_add_ps(s[r], _mm256_zextps128_ps256(m[r])) : _mm256_setzero_ps();
  if constexpr (NR == 1) {
    const __m256 t = _mm256_hadd_ps(v[0], v[0]), t2 = _mm256_hadd_ps(t, t);
    out[0] = _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(t2), _mm256_extractf128_ps(t2, 1)));
  } else {
    // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | the same of lanes 4-7]: two levels leave the
    // rows summed over each 128-bit half, added last.
    const __m256 g = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    alignas(16) float t[4];
    _mm_store_ps(t, _mm_add_ps(_mm256_castps256_ps128(g), _mm256_extractf128_ps(g, 1)));
    for (int r = 0; r < NR; ++r) out[r] = t[r];
  }
}

// Weight rows against NR activation rows: each unit of the weight row is decoded once and
// multiplied into every activation row (see scalar.cpp for the arithmetic). Blocks are decoded
// into registers (for_each_part); a unit stored and loaded back stalls on its scales, written
// one by one and read four at a time (no store forwarding).
template <class D, int NR>
void dot_rows_nr(const std::uint8_t* row, const Act& x, std::int64_t n, float* out) {
  const __m256i lo2 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i hi2 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
  __m256 acc[NR];
  __m128 macc[NR];
#pragma GCC unroll 16  // no memset of the arrays (see x86_common.h)
  for (int r = 0; r < NR; ++r) {
    acc[r] = _mm256_setzero_ps();
    macc[r] = _mm_setzero_ps();
  }
  const std::int64_t G16 = x.Kp / 16;
  // 64 weights (q0, q1) from value k on, with the scales a4 and offsets c4 of their four
  // groups of 16.
  auto step = [&](__m256i q0, __m256i q1, __m128 a4, __m128 c4, std::int64_t k) {
    const std::int64_t g = k / 16;
    for (int r = 0; r < NR; ++r) {
      const std::int8_t* xq = x.q + (n + r) * x.Kp + k;
      const float* d16 = x.d16 + (n + r) * G16 + g;
      const float* s16 = x.s16 + (n + r) * G16 + g;
      const __m256i i0 = dot32<D::kSigned>(q0, load256(xq));
      const __m256i i1 = dot32<D::kSigned>(q1, load256(xq + 32));
      const __m256 s4 = _mm256_castps128_ps256(_mm_mul_ps(a4, _mm_loadu_ps(d16)));
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), _mm256_permutevar8x32_ps(s4, lo2), acc[r]);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), _mm256_permutevar8x32_ps(s4, hi2), acc[r]);
      macc[r] = _mm_fmadd_ps(c4, _mm_loadu_ps(s16), macc[r]);
    }
  };
  for_each_part<D, false>(row, x.K, step);
  sum_rows<NR>(acc, macc, out);
}

// Eight F32 weights from F32, F16 or BF16 storage.
template <ggml::Type T>
inline __m256 load8(const std::uint8_t* p) {
  if constexpr (T == ggml::Type::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  } else if constexpr (T == ggml::Type::F16) {
    return _mm256_cvtph_ps(load128(p));
  } else {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
  }
}

template <ggml::Type T>
inline float value_at(const std::uint8_t* row, std::int64_t k) {
  if constexpr (T == ggml::Type::F32) {
    float v;
    std::memcpy(&v, row + 4 * k, 4);
    return v;
  } else {
    std::uint16_t h;
    std::memcpy(&h, row + 2 * k, 2);
    if constexpr (T == ggml::Type::F16) return _cvtsh_ss(h);
    const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
}

template <ggml::Type T>
void dot_float(const std::uint8_t* w, std::size_t row_bytes, std::int64_t m0, std::int64_t m1,
               const Act& x, std::int64_t n0, std::int64_t n1, float* y, std::int64_t ldy,
               bool accumulate) {
  constexpr int kEl = T == ggml::Type::F32 ? 4 : 2;
  const std::int64_t K = x.K, K8 = K / 8 * 8;
  for (std::int64_t m = m0; m < m1; ++m) {
    const std::uint8_t* row = w + static_cast<std::size_t>(m - m0) * row_bytes;
    for (std::int64_t n = n0; n < n1; ++n) {
      const float* xr = x.f + n * x.ldf;
      __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
      std::int64_t k = 0;
      for (; k + 16 <= K8; k += 16) {
        acc0 = _mm256_fmadd_ps(load8<T>(row + kEl * k), _mm256_loadu_ps(xr + k), acc0);
        acc1 = _mm256_fmadd_ps(load8<T>(row + kEl * (k + 8)), _mm256_loadu_ps(xr + k + 8), acc1);
      }
      for (; k < K8; k += 8)
        acc0 = _mm256_fmadd_ps(load8<T>(row + kEl * k), _mm256_loadu_ps(xr + k), acc0);
      float s = hsum(_mm256_add_ps(acc0, acc1));
      for (; k < K; ++k) s += value_at<T>(row, k) * xr[k];
      float& o = y[n * ldy + m];
      o = accumulate ? o + s : s;
    }
  }
}

// One row of any packed type -> F32 (the batched path's weight tiles).
template <class D>
void to_f32_blocks(const std::uint8_t* w, std::int64_t K, float* out) {
  for_each_part<D, false>(w, K, [&](__m256i q0, __m256i q1, __m128 a4, __m128 c4, std::int64_t k) {
    alignas(16) float a[4], c[4];
    _mm_store_ps(a, a4);
    _mm_store_ps(c, c4);
    const __m128i groups[4] = {_mm256_castsi256_si128(q0), _mm256_extracti128_si256(q0, 1),
                               _mm256_castsi256_si128(q1), _mm256_extracti128_si256(q1, 1)};
    const std::int64_t n = std::min<std::int64_t>(64, K - k);
    for (std::int64_t g = 0; g < n / 16; ++g) {
      const __m256 av = _mm256_set1_ps(a[g]), cv = _mm256_set1_ps(c[g]);
      const __m128i b16 = groups[g], b8 = _mm_srli_si128(b16, 8);
      const __m256i lo = D::kSigned ? _mm256_cvtepi8_epi32(b16) : _mm256_cvtepu8_epi32(b16);
      const __m256i hi = D::kSigned ? _mm256_cvtepi8_epi32(b8) : _mm256_cvtepu8_epi32(b8);
      _mm256_storeu_ps(out + k + 16 * g, _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), av, cv));
      _mm256_storeu_ps(out + k + 16 * g + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), av, cv));
    }
  });
}

template <ggml::Type T>
void to_f32_float(const std::uint8_t* w, std::int64_t K, float* out) {
  constexpr int kEl = T == ggml::Type::F32 ? 4 : 2;
  std::int64_t k = 0;
  for (; k + 8 <= K; k += 8) _mm256_storeu_ps(out + k, load8<T>(w + kEl * k));
  for (; k < K; ++k) out[k] = value_at<T>(w, k);
}

// NR rows of x against a 16-column tile: 2 x NR accumulators, each weight vector loaded once
// per NR rows (NR <= 6 fills the 16 registers).
template <int NR>
void tile_rows(const float* x, std::int64_t ldx, const float* tile, std::int64_t K, float* y,
               std::int64_t ldy, std::int64_t cols, bool accumulate) {
  __m256 acc[NR][2];
  for (int r = 0; r < NR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (std::int64_t k = 0; k < K; ++k) {
    const __m256 w0 = _mm256_loadu_ps(tile + 16 * k), w1 = _mm256_loadu_ps(tile + 16 * k + 8);
    for (int r = 0; r < NR; ++r) {
      const __m256 xv = _mm256_broadcast_ss(x + r * ldx + k);
      acc[r][0] = _mm256_fmadd_ps(xv, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xv, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    alignas(32) float out[16];
    _mm256_store_ps(out, acc[r][0]);
    _mm256_store_ps(out + 8, acc[r][1]);
    float* yr = y + r * ldy;
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = accumulate ? yr[j] + out[j] : out[j];
  }
}

void gemm_tile16(const float* x, std::int64_t ldx, std::int64_t N, const float* tile,
                 std::int64_t K, float* y, std::int64_t ldy, std::int64_t cols, bool accumulate) {
  std::int64_t n = 0;
  for (; n + 6 <= N; n += 6)
    tile_rows<6>(x + n * ldx, ldx, tile, K, y + n * ldy, ldy, cols, accumulate);
  switch (N - n) {
    case 5:
      return tile_rows<5>(x + n * ldx, ldx, tile, K, y + n * ldy, ldy, cols, accumulate);
    case 4:
      return tile_rows<4>(x + n * ldx, ldx, tile, K, y + n * ldy, ldy, cols, accumulate);
    case 3:
      return tile_rows<3>(x + n * ldx, ldx, tile, K, y + n * ldy, ldy, cols, accumulate);
    case 2:
      return tile_rows<2>(x + n * ldx, ldx, tile, K, y + n * ldy, ldy, cols, accumulate);
    case 1:
      return tile_rows<1>(x + n * ldx, ldx, tile, K, y + n * ldy, ldy, cols, accumulate);
    default:
      return;
  }
}

}  // namespace
}  // namespace cai::kernels::cpu

#pragma GCC pop_options

namespace cai::kernels::cpu {

void fill_avx2(Table& t) {
  using ggml::Type;
  t.gemm_f32 = gemm_f32;
  t.gemv_f32 = gemv_f32;
  t.attend_one = attend_one<float>;
  t.attend_one_f16 = attend_one<std::uint16_t>;
  t.swiglu_rows = swiglu_rows;
  t.quantize_rows = quantize_rows_x86;
  t.gemm_tile16 = gemm_tile16;
  t.dot[kF32] = dot_float<Type::F32>;
  t.dot[kF16] = dot_float<Type::F16>;
  t.dot[kBF16] = dot_float<Type::BF16>;
  fill_block_dots<4>(t);
  t.to_f32[kF32] = to_f32_float<Type::F32>;
  t.to_f32[kF16] = to_f32_float<Type::F16>;
  t.to_f32[kBF16] = to_f32_float<Type::BF16>;
  t.to_f32[kQ4_0] = to_f32_blocks<XDec<Type::Q4_0>>;
  t.to_f32[kQ4_1] = to_f32_blocks<XDec<Type::Q4_1>>;
  t.to_f32[kQ5_0] = to_f32_blocks<XDec<Type::Q5_0>>;
  t.to_f32[kQ5_1] = to_f32_blocks<XDec<Type::Q5_1>>;
  t.to_f32[kQ8_0] = to_f32_blocks<XDec<Type::Q8_0>>;
  t.to_f32[kQ4_K] = to_f32_blocks<XDec<Type::Q4_K>>;
  t.to_f32[kQ5_K] = to_f32_blocks<XDec<Type::Q5_K>>;
  t.to_f32[kQ6_K] = to_f32_blocks<XDec<Type::Q6_K>>;
}

}  // namespace cai::kernels::cpu

#endif  // x86
