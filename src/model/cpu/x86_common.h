// AVX2 building blocks shared by the AVX2 and AVX-512 files: included inside each file's
// `#pragma GCC target` region, so every function here is compiled for that file's set, and
// they all have internal linkage (one copy per file, no mixing across instruction sets).
//
// Block decoders turn one ggml block into unsigned 8-bit values q (0..63) plus, per group of
// 16 values, a scale a and an offset c with w = a * q + c; Q8_0 keeps its signed bytes (the
// AVX2 dot product takes them with the sign trick) or, with kU8, stores q + 128 (c = -128 d)
// for VNNI's unsigned x signed products.
//
// Arrays of vector accumulators are zeroed in loops marked `#pragma GCC unroll`: otherwise GCC
// turns the zeroing into a memset of the array in memory (a rep stos on every call, 6% of a
// batch-8 dot product kernel) that the registers holding the accumulators never read.
#pragma once

#if !(defined(__x86_64__) || defined(__i386__))
#error "x86 only"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cai/formats/ggml_quant.h"
#include "cpu.h"

namespace cai::kernels::cpu {
namespace {

inline float hsum(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline float hmax(__m256 v) {
  __m128 lo = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_max_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_max_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// exp(x), Cephes' single-precision polynomial (about 1 ulp), inputs clamped to +-88.38.
inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f)),
                    _mm256_set1_ps(88.3762626647949f));
  __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 x2 = _mm256_mul_ps(x, x);
  p = _mm256_fmadd_ps(p, x2, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  // Scale by 2^fx through the exponent bits (fx in [-127, 128] after the clamp).
  __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127));
  e = _mm256_slli_epi32(e, 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline float h2f(const std::uint8_t* p) {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store256(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

// 16 bytes of nibbles -> 32 values: low nibbles first, then high nibbles.
inline __m256i nibbles_lo_hi(__m128i v) {
  const __m128i m = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

// 32 bits -> 32 bytes, byte j = 0x10 where bit j is set (the fifth bit of Q5 values).
inline __m256i fifth_bits(const std::uint8_t* p) {
  std::uint32_t h;
  std::memcpy(&h, p, 4);
  const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                          0x0202020202020202, 0x0303030303030303);
  __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)), shuf);
  v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));  // all bits but bit j % 8
  v = _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
  return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

template <ggml::Type T>
struct XDec;

// The 32-value types decode into registers (regs: the 32 values q, the block's a and c).
template <>
struct XDec<ggml::Type::Q4_0> {
  static constexpr int kBlock = 32, kBytes = 18;
  static constexpr bool kSigned = false;
  template <bool kU8>
  static __m256i regs(const std::uint8_t* b, float& a, float& c) {
    a = h2f(b);
    c = -8.0f * a;
    return nibbles_lo_hi(load128(b + 2));
  }
};

template <>
struct XDec<ggml::Type::Q4_1> {
  static constexpr int kBlock = 32, kBytes = 20;
  static constexpr bool kSigned = false;
  template <bool kU8>
  static __m256i regs(const std::uint8_t* b, float& a, float& c) {
    a = h2f(b);
    c = h2f(b + 2);
    return nibbles_lo_hi(load128(b + 4));
  }
};

template <>
struct XDec<ggml::Type::Q5_0> {
  static constexpr int kBlock = 32, kBytes = 22;
  static constexpr bool kSigned = false;
  template <bool kU8>
  static __m256i regs(const std::uint8_t* b, float& a, float& c) {
    a = h2f(b);
    c = -16.0f * a;
    return _mm256_or_si256(nibbles_lo_hi(load128(b + 6)), fifth_bits(b + 2));
  }
};

template <>
struct XDec<ggml::Type::Q5_1> {
  static constexpr int kBlock = 32, kBytes = 24;
  static constexpr bool kSigned = false;
  template <bool kU8>
  static __m256i regs(const std::uint8_t* b, float& a, float& c) {
    a = h2f(b);
    c = h2f(b + 2);
    return _mm256_or_si256(nibbles_lo_hi(load128(b + 8)), fifth_bits(b + 4));
  }
};

template <>
struct XDec<ggml::Type::Q8_0> {
  static constexpr int kBlock = 32, kBytes = 34;
  static constexpr bool kSigned = true;  // unless kU8
  template <bool kU8>
  static __m256i regs(const std::uint8_t* b, float& a, float& c) {
    a = h2f(b);
    c = kU8 ? -128.0f * a : 0.0f;
    const __m256i v = load256(b + 2);
    return kU8 ? _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))) : v;
  }
};

// The 256-value types decode in parts of 64 values, in registers too: Block reads a block's
// scales once, part(p) gives values 64p..64p+63 as q0, q1 (32 each) with the scales a4 and
// offsets c4 of their four groups of 16.

// Eight bytes (four in l, four in h) -> eight floats.
inline __m256 bytes_to_floats(std::uint32_t l, std::uint32_t h) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_setr_epi32(static_cast<int>(l), static_cast<int>(h), 0, 0)));
}

// Q4_K / Q5_K scales as vectors: sub-block j of 32 has a = d * sc_j, c = -dmin * m_j, with
// sc_j and m_j unpacked from the 12 scale bytes as ggml::k_scale_min does, four at a time.
inline void k_scales8(const std::uint8_t* b, __m256& a8, __m256& c8) {
  std::uint32_t s[3];
  std::memcpy(s, b + 4, 12);
  const std::uint32_t lo6 = 0x3f3f3f3f, lo4 = 0x0f0f0f0f, lo2 = 0x03030303;
  const std::uint32_t sc_lo = s[0] & lo6, m_lo = s[1] & lo6;
  const std::uint32_t sc_hi = (s[2] & lo4) | (((s[0] >> 6) & lo2) << 4);
  const std::uint32_t m_hi = ((s[2] >> 4) & lo4) | (((s[1] >> 6) & lo2) << 4);
  a8 = _mm256_mul_ps(_mm256_set1_ps(h2f(b)), bytes_to_floats(sc_lo, sc_hi));
  c8 = _mm256_mul_ps(_mm256_set1_ps(-h2f(b + 2)), bytes_to_floats(m_lo, m_hi));
}

// [v_2p, v_2p, v_2p+1, v_2p+1] of eight per-sub-block values: part p's four groups of 16.
inline __m128 pair_groups(__m256 v8, int p) {
  const __m256i idx = _mm256_setr_epi32(2 * p, 2 * p, 2 * p + 1, 2 * p + 1, 0, 0, 0, 0);
  return _mm256_castps256_ps128(_mm256_permutevar8x32_ps(v8, idx));
}

template <>
struct XDec<ggml::Type::Q4_K> {
  static constexpr int kBlock = 256, kBytes = 144;
  static constexpr bool kSigned = false;
  struct Block {
    const std::uint8_t* b;
    __m256 a8, c8;
    explicit Block(const std::uint8_t* block) : b(block) { k_scales8(b, a8, c8); }
    void part(int p, __m256i& q0, __m256i& q1, __m128& a4, __m128& c4) const {
      const __m256i m = _mm256_set1_epi8(0x0F), v = load256(b + 16 + 32 * p);
      q0 = _mm256_and_si256(v, m);
      q1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
      a4 = pair_groups(a8, p);
      c4 = pair_groups(c8, p);
    }
  };
};

template <>
struct XDec<ggml::Type::Q5_K> {
  static constexpr int kBlock = 256, kBytes = 176;
  static constexpr bool kSigned = false;
  struct Block {
    const std::uint8_t* b;
    __m256 a8, c8;
    explicit Block(const std::uint8_t* block) : b(block) { k_scales8(b, a8, c8); }
    void part(int p, __m256i& q0, __m256i& q1, __m128& a4, __m128& c4) const {
      const __m256i m = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
      const __m256i v = load256(b + 48 + 32 * p);
      // Bit 2p of qh[l] is the fifth bit of value 64p + l, bit 2p + 1 that of 64p + 32 + l.
      const __m256i h = _mm256_srl_epi16(load256(b + 16), _mm_cvtsi32_si128(2 * p));
      const __m256i hl = _mm256_slli_epi16(_mm256_and_si256(h, one), 4);
      const __m256i hh = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4);
      q0 = _mm256_or_si256(_mm256_and_si256(v, m), hl);
      q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m), hh);
      a4 = pair_groups(a8, p);
      c4 = pair_groups(c8, p);
    }
  };
};

template <>
struct XDec<ggml::Type::Q6_K> {
  static constexpr int kBlock = 256, kBytes = 210;
  static constexpr bool kSigned = false;
  struct Block {
    const std::uint8_t* b;
    __m128 d;
    explicit Block(const std::uint8_t* block) : b(block), d(_mm_set1_ps(h2f(b + 208))) {}
    // Half n (128 values) of the block: low nibbles l0, l1 and two high bits each from h; the
    // four 32-value parts are l0 | h bits 0-1, l1 | bits 2-3, l0 >> 4 | bits 4-5, l1 >> 4 | bits
    // 6-7. Each group of 16 has a signed 8-bit scale; values are 6-bit with offset -32.
    void part(int p, __m256i& q0, __m256i& q1, __m128& a4, __m128& c4) const {
      const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03),
                    m30 = _mm256_set1_epi8(0x30);
      const int n = p / 2;
      const __m256i l0 = load256(b + 64 * n), l1 = load256(b + 64 * n + 32);
      const __m256i h = load256(b + 128 + 32 * n);
      if (p % 2 == 0) {
        q0 = _mm256_or_si256(_mm256_and_si256(l0, m4),
                             _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
        q1 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
      } else {
        q0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                             _mm256_and_si256(h, m30));
        q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                             _mm256_and_si256(_mm256_srli_epi16(h, 2), m30));
      }
      std::int32_t sc4;
      std::memcpy(&sc4, b + 192 + 4 * p, 4);
      a4 = _mm_mul_ps(d, _mm_cvtepi32_ps(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(sc4))));
      c4 = _mm_mul_ps(_mm_set1_ps(-32.0f), a4);
    }
  };
};

// Calls part(q0, q1, a4, c4, k) for values k..k+63 of a row of K values, in order and in
// registers: two blocks per call for the 32-value types (the second zero past the row's end),
// a quarter block for the 256-value types. a4 and c4 are the scales and offsets of the four
// groups of 16 (w = a * q + c).
template <class D, bool kU8, class F>
inline void for_each_part(const std::uint8_t* row, std::int64_t K, F&& part) {
  if constexpr (D::kBlock == 32) {
    const std::int64_t blocks = K / 32;
    for (std::int64_t b = 0; b < blocks; b += 2) {
      float a0, c0, a1 = 0.0f, c1 = 0.0f;
      const __m256i q0 = D::template regs<kU8>(row + b * D::kBytes, a0, c0);
      const __m256i q1 = b + 1 < blocks ? D::template regs<kU8>(row + (b + 1) * D::kBytes, a1, c1)
                                        : _mm256_setzero_si256();
      part(q0, q1, _mm_setr_ps(a0, a0, a1, a1), _mm_setr_ps(c0, c0, c1, c1), 32 * b);
    }
  } else {
    for (std::int64_t k0 = 0; k0 < K; k0 += D::kBlock) {
      const typename D::Block blk(row + k0 / D::kBlock * D::kBytes);
      for (int p = 0; p < D::kBlock / 64; ++p) {
        __m256i q0, q1;
        __m128 a4, c4;
        blk.part(p, q0, q1, a4, c4);
        part(q0, q1, a4, c4, k0 + 64 * p);
      }
    }
  }
}

// Rows of F32 activations -> Act's int8 blocks (see cpu.h), eight values at a time.
inline void quantize_rows_x86(const float* x, std::int64_t ldx, std::int64_t n0, std::int64_t n1,
                              std::int64_t K, std::int64_t Kp, std::int8_t* q, float* d16,
                              float* s16) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (std::int64_t n = n0; n < n1; ++n) {
    const float* xr = x + n * ldx;
    std::int8_t* qr = q + n * Kp;
    float* dr = d16 + n * (Kp / 16);
    float* sr = s16 + n * (Kp / 16);
    for (std::int64_t k0 = 0; k0 < Kp; k0 += 32) {
      __m256 v[4];
      if (k0 + 32 <= K) {
        for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(xr + k0 + 8 * i);
      } else {
        alignas(32) float tmp[32] = {};
        for (std::int64_t k = k0; k < K; ++k) tmp[k - k0] = xr[k];
        for (int i = 0; i < 4; ++i) v[i] = _mm256_load_ps(tmp + 8 * i);
      }
      __m256 amax = _mm256_andnot_ps(sign, v[0]);
      for (int i = 1; i < 4; ++i) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[i]));
      const float d = hmax(amax) / 127.0f;
      const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
      __m256i iv[4];
      for (int i = 0; i < 4; ++i) iv[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], id));  // nearest
      const __m256i s0 = _mm256_add_epi32(iv[0], iv[1]), s1 = _mm256_add_epi32(iv[2], iv[3]);
      const __m256i p =
          _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]), _mm256_packs_epi32(iv[2], iv[3]));
      store256(qr + k0, _mm256_permutevar8x32_epi32(p, perm));
      const __m256 fs0 = _mm256_cvtepi32_ps(s0), fs1 = _mm256_cvtepi32_ps(s1);
      const std::int64_t g = k0 / 16;
      dr[g] = dr[g + 1] = d;
      sr[g] = d * hsum(fs0);
      sr[g + 1] = d * hsum(fs1);
    }
  }
}

// One weight row against NR activation rows from row n: each file defines it for its set.
template <class D, int NR>
void dot_rows_nr(const std::uint8_t* row, const Act& x, std::int64_t n, float* out);

// The table's dot product for block decoder D: each weight row against the activation rows,
// kGroup (or fewer) at a time, so a row is read from memory once, decoded once per group and
// read from L1 for the rest of it. AVX-512's 32 registers hold eight rows' accumulators (batch-8
// decoding about 15% faster than in two groups of four); AVX2's 16 hold four, and eight spill.
template <class D, int kGroup>
void dot_blocks(const std::uint8_t* w, std::size_t row_bytes, std::int64_t m0, std::int64_t m1,
                const Act& x, std::int64_t n0, std::int64_t n1, float* y, std::int64_t ldy,
                bool accumulate) {
  static_assert(kGroup == 4 || kGroup == 8);
  float out[kGroup];
  for (std::int64_t m = m0; m < m1; ++m) {
    const std::uint8_t* row = w + static_cast<std::size_t>(m - m0) * row_bytes;
    for (std::int64_t n = n0; n < n1;) {
      const std::int64_t left = n1 - n;
      const int nr = static_cast<int>(left >= kGroup ? kGroup : std::min<std::int64_t>(4, left));
      switch (nr) {
        case 8:
          if constexpr (kGroup == 8) dot_rows_nr<D, 8>(row, x, n, out);
          break;
        case 4:
          dot_rows_nr<D, 4>(row, x, n, out);
          break;
        case 3:
          dot_rows_nr<D, 3>(row, x, n, out);
          break;
        case 2:
          dot_rows_nr<D, 2>(row, x, n, out);
          break;
        default:
          dot_rows_nr<D, 1>(row, x, n, out);
          break;
      }
      for (int r = 0; r < nr; ++r) {
        float& o = y[(n + r) * ldy + m];
        o = accumulate ? o + out[r] : out[r];
      }
      n += nr;
    }
  }
}

// The table's block-type dot products, made from the including file's dot_rows_nr.
template <int kGroup>
inline void fill_block_dots(Table& t) {
  using ggml::Type;
  t.dot[kQ4_0] = dot_blocks<XDec<Type::Q4_0>, kGroup>;
  t.dot[kQ4_1] = dot_blocks<XDec<Type::Q4_1>, kGroup>;
  t.dot[kQ5_0] = dot_blocks<XDec<Type::Q5_0>, kGroup>;
  t.dot[kQ5_1] = dot_blocks<XDec<Type::Q5_1>, kGroup>;
  t.dot[kQ8_0] = dot_blocks<XDec<Type::Q8_0>, kGroup>;
  t.dot[kQ4_K] = dot_blocks<XDec<Type::Q4_K>, kGroup>;
  t.dot[kQ5_K] = dot_blocks<XDec<Type::Q5_K>, kGroup>;
  t.dot[kQ6_K] = dot_blocks<XDec<Type::Q6_K>, kGroup>;
}

}  // namespace
}  // namespace cai::kernels::cpu
