// Portable kernels: the path for CPUs without the SIMD sets, and the reference every SIMD
// kernel is tested against.
//
// The packed dot products work on a block's values in the form w = a_g * q + b_g, q an integer
// and (a_g, b_g) constant over each group g of 16 values; with activations x ~ d_g * qx:
//   dot(w, x) = sum_g a_g d_g sum(q qx) + b_g (d_g sum(qx)) = sum_g a_g d16_g (q . qx) + b_g s16_g
// which needs one integer dot product per group and nothing per value but multiply-adds.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cai/formats/dtype.h"
#include "cpu.h"

namespace cai::kernels::cpu {
namespace {

void gemm_f32(const float* x, std::int64_t ldx, const float* w, const float* bias, float* y,
              std::int64_t ldy, std::int64_t n0, std::int64_t n1, std::int64_t m0, std::int64_t m1,
              std::int64_t K, bool accumulate) {
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

void gemv_f32(const float* x, const float* w, const float* bias, float* y, std::int64_t m0,
              std::int64_t m1, std::int64_t K, bool accumulate) {
  gemm_f32(x, K, w, bias, y, 0, 0, 1, m0, m1, K, accumulate);
}

// K and V elements of the cache: F32, or F16 bits.
inline float cache_value(float v) { return v; }
inline float cache_value(std::uint16_t h) { return f16_to_f32(h); }

template <class E>
void attend(const float* q, const E* K, const E* V, std::int64_t len, std::int64_t D, float* scores,
            float* o) {
  float mx = -std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < len; ++j) {
    float s = 0.0f;
    for (std::int64_t d = 0; d < D; ++d) s += q[d] * cache_value(K[j * D + d]);
    scores[j] = s;
    mx = std::max(mx, s);
  }
  float sum = 0.0f;
  for (std::int64_t j = 0; j < len; ++j) sum += scores[j] = std::exp(scores[j] - mx);
  std::fill(o, o + D, 0.0f);
  for (std::int64_t j = 0; j < len; ++j)
    for (std::int64_t d = 0; d < D; ++d) o[d] += scores[j] * cache_value(V[j * D + d]);
  const float inv = 1.0f / sum;
  for (std::int64_t d = 0; d < D; ++d) o[d] *= inv;
}

void swiglu_rows(const float* gp, float* op, std::int64_t F, std::int64_t b, std::int64_t e) {
  for (std::int64_t n = b; n < e; ++n) {
    const float* gr = gp + n * 2 * F;
    const float* ur = gr + F;
    float* o = op + n * F;
    for (std::int64_t i = 0; i < F; ++i) o[i] = gr[i] / (1.0f + std::exp(-gr[i])) * ur[i];
  }
}

void quantize_rows(const float* x, std::int64_t ldx, std::int64_t n0, std::int64_t n1,
                   std::int64_t K, std::int64_t Kp, std::int8_t* q, float* d16, float* s16) {
  for (std::int64_t n = n0; n < n1; ++n) {
    const float* xr = x + n * ldx;
    std::int8_t* qr = q + n * Kp;
    float* dr = d16 + n * (Kp / 16);
    float* sr = s16 + n * (Kp / 16);
    for (std::int64_t b = 0; b < Kp / 32; ++b) {
      const std::int64_t k0 = b * 32;
      float amax = 0.0f;
      for (std::int64_t k = k0; k < std::min(K, k0 + 32); ++k)
        amax = std::max(amax, std::fabs(xr[k]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      int sum[2] = {0, 0};
      for (std::int64_t k = k0; k < k0 + 32; ++k) {
        const int v = k < K ? static_cast<int>(std::nearbyint(xr[k] * id)) : 0;
        qr[k] = static_cast<std::int8_t>(v);
        sum[(k - k0) / 16] += v;
      }
      for (int h = 0; h < 2; ++h) {
        dr[2 * b + h] = d;
        sr[2 * b + h] = d * static_cast<float>(sum[h]);
      }
    }
  }
}

// --- Block decoders: q (integers), a and b per group of 16 (w = a * q + b).

float h2f(const std::uint8_t* p) {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

template <ggml::Type T>
struct Decode;

template <>
struct Decode<ggml::Type::Q4_0> {
  static constexpr int kBlock = 32, kBytes = 18;
  static void run(const std::uint8_t* b, int* q, float* a, float* c) {
    const float d = h2f(b);
    for (int j = 0; j < 16; ++j) {
      q[j] = (b[2 + j] & 0xF) - 8;
      q[16 + j] = (b[2 + j] >> 4) - 8;
    }
    a[0] = a[1] = d;
    c[0] = c[1] = 0.0f;
  }
};

template <>
struct Decode<ggml::Type::Q4_1> {
  static constexpr int kBlock = 32, kBytes = 20;
  static void run(const std::uint8_t* b, int* q, float* a, float* c) {
    for (int j = 0; j < 16; ++j) {
      q[j] = b[4 + j] & 0xF;
      q[16 + j] = b[4 + j] >> 4;
    }
    a[0] = a[1] = h2f(b);
    c[0] = c[1] = h2f(b + 2);
  }
};

// Q5_0 / Q5_1: nibbles plus a fifth bit from 32 high bits.
void unpack5(const std::uint8_t* qh, const std::uint8_t* qs, int off, int* q) {
  std::uint32_t h;
  std::memcpy(&h, qh, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = ((qs[j] & 0xF) | static_cast<int>(((h >> j) & 1u) << 4)) - off;
    q[16 + j] = ((qs[j] >> 4) | static_cast<int>(((h >> (j + 16)) & 1u) << 4)) - off;
  }
}

template <>
struct Decode<ggml::Type::Q5_0> {
  static constexpr int kBlock = 32, kBytes = 22;
  static void run(const std::uint8_t* b, int* q, float* a, float* c) {
    unpack5(b + 2, b + 6, 16, q);
    a[0] = a[1] = h2f(b);
    c[0] = c[1] = 0.0f;
  }
};

template <>
struct Decode<ggml::Type::Q5_1> {
  static constexpr int kBlock = 32, kBytes = 24;
  static void run(const std::uint8_t* b, int* q, float* a, float* c) {
    unpack5(b + 4, b + 8, 0, q);
    a[0] = a[1] = h2f(b);
    c[0] = c[1] = h2f(b + 2);
  }
};

template <>
struct Decode<ggml::Type::Q8_0> {
  static constexpr int kBlock = 32, kBytes = 34;
  static void run(const std::uint8_t* b, int* q, float* a, float* c) {
    for (int j = 0; j < 32; ++j) q[j] = static_cast<std::int8_t>(b[2 + j]);
    a[0] = a[1] = h2f(b);
    c[0] = c[1] = 0.0f;
  }
};

// Q4_K / Q5_K: sub-block j of 32 has scale d * sc_j and minimum -dmin * m_j.
template <bool kFive>
void decode_q45k(const std::uint8_t* b, int* q, float* a, float* c) {
  const float d = h2f(b), dmin = h2f(b + 2);
  const std::uint8_t* qh = b + 16;
  const std::uint8_t* qs = b + (kFive ? 48 : 16);
  for (int j = 0; j < 8; ++j) {
    std::uint8_t sc, m;
    ggml::k_scale_min(j, b + 4, &sc, &m);
    a[2 * j] = a[2 * j + 1] = d * sc;
    c[2 * j] = c[2 * j + 1] = -dmin * m;
  }
  for (int ch = 0; ch < 4; ++ch)
    for (int l = 0; l < 32; ++l) {
      const std::uint8_t v = qs[32 * ch + l];
      int lo = v & 0xF, hi = v >> 4;
      if (kFive) {
        lo |= ((qh[l] >> (2 * ch)) & 1) << 4;
        hi |= ((qh[l] >> (2 * ch + 1)) & 1) << 4;
      }
      q[64 * ch + l] = lo;
      q[64 * ch + 32 + l] = hi;
    }
}

template <>
struct Decode<ggml::Type::Q4_K> {
  static constexpr int kBlock = 256, kBytes = 144;
  static void run(const std::uint8_t* b, int* q, float* a, float* c) {
    decode_q45k<false>(b, q, a, c);
  }
};

template <>
struct Decode<ggml::Type::Q5_K> {
  static constexpr int kBlock = 256, kBytes = 176;
  static void run(const std::uint8_t* b, int* q, float* a, float* c) {
    decode_q45k<true>(b, q, a, c);
  }
};

template <>
struct Decode<ggml::Type::Q6_K> {
  static constexpr int kBlock = 256, kBytes = 210;
  static void run(const std::uint8_t* b, int* q, float* a, float* c) {
    const std::uint8_t* ql = b;
    const std::uint8_t* qh = b + 128;
    const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
    const float d = h2f(b + 208);
    for (int n = 0; n < 2; ++n)
      for (int l = 0; l < 32; ++l) {
        const int h = qh[32 * n + l];
        const int lo0 = ql[64 * n + l], lo1 = ql[64 * n + 32 + l];
        q[128 * n + l] = ((lo0 & 0xF) | ((h & 3) << 4)) - 32;
        q[128 * n + 32 + l] = ((lo1 & 0xF) | (((h >> 2) & 3) << 4)) - 32;
        q[128 * n + 64 + l] = ((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32;
        q[128 * n + 96 + l] = ((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32;
      }
    for (int g = 0; g < 16; ++g) {
      a[g] = d * sc[g];
      c[g] = 0.0f;
    }
  }
};

template <ggml::Type T>
void dot_blocks(const std::uint8_t* w, std::size_t row_bytes, std::int64_t m0, std::int64_t m1,
                const Act& x, std::int64_t n0, std::int64_t n1, float* y, std::int64_t ldy,
                bool accumulate) {
  using D = Decode<T>;
  constexpr int G = D::kBlock / 16;
  int q[D::kBlock];
  float a[G], c[G];
  const std::int64_t nb = x.K / D::kBlock, G16 = x.Kp / 16;
  std::vector<float> acc(static_cast<std::size_t>(n1 - n0));
  for (std::int64_t m = m0; m < m1; ++m) {
    const std::uint8_t* row = w + static_cast<std::size_t>(m - m0) * row_bytes;
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (std::int64_t b = 0; b < nb; ++b) {
      D::run(row + b * D::kBytes, q, a, c);  // once per block, for every activation row
      for (std::int64_t n = n0; n < n1; ++n) {
        const std::int8_t* xq = x.q + n * x.Kp + b * D::kBlock;
        const float* d16 = x.d16 + n * G16 + b * G;
        const float* s16 = x.s16 + n * G16 + b * G;
        float& s_acc = acc[static_cast<std::size_t>(n - n0)];
        for (int g = 0; g < G; ++g) {
          int s = 0;
          for (int i = 0; i < 16; ++i) s += q[16 * g + i] * xq[16 * g + i];
          s_acc += a[g] * d16[g] * static_cast<float>(s) + c[g] * s16[g];
        }
      }
    }
    for (std::int64_t n = n0; n < n1; ++n) {
      float& out = y[n * ldy + m];
      const float v = acc[static_cast<std::size_t>(n - n0)];
      out = accumulate ? out + v : v;
    }
  }
}

// F32 / F16 / BF16 rows against the F32 activations.
template <ggml::Type T>
void dot_float(const std::uint8_t* w, std::size_t row_bytes, std::int64_t m0, std::int64_t m1,
               const Act& x, std::int64_t n0, std::int64_t n1, float* y, std::int64_t ldy,
               bool accumulate) {
  for (std::int64_t m = m0; m < m1; ++m) {
    const std::uint8_t* row = w + static_cast<std::size_t>(m - m0) * row_bytes;
    for (std::int64_t n = n0; n < n1; ++n) {
      const float* xr = x.f + n * x.ldf;
      float acc = 0.0f;
      for (std::int64_t k = 0; k < x.K; ++k) {
        float v;
        if constexpr (T == ggml::Type::F32) {
          std::memcpy(&v, row + 4 * k, 4);
        } else {
          std::uint16_t h;
          std::memcpy(&h, row + 2 * k, 2);
          v = T == ggml::Type::F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
        acc += v * xr[k];
      }
      float& out = y[n * ldy + m];
      out = accumulate ? out + acc : acc;
    }
  }
}

template <ggml::Type T>
void to_f32(const std::uint8_t* w, std::int64_t K, float* out) {
  ggml::dequantize_row(T, w, out, K);
}

void gemm_tile16(const float* x, std::int64_t ldx, std::int64_t N, const float* tile,
                 std::int64_t K, float* y, std::int64_t ldy, std::int64_t cols, bool accumulate) {
  for (std::int64_t n = 0; n < N; ++n) {
    float acc[16] = {};
    for (std::int64_t k = 0; k < K; ++k)
      for (int j = 0; j < 16; ++j) acc[j] += x[n * ldx + k] * tile[k * 16 + j];
    for (std::int64_t j = 0; j < cols; ++j) {
      float& o = y[n * ldy + j];
      o = accumulate ? o + acc[j] : acc[j];
    }
  }
}

}  // namespace

void fill_scalar(Table& t) {
  using ggml::Type;
  t.gemm_f32 = gemm_f32;
  t.gemv_f32 = gemv_f32;
  t.attend_one = attend<float>;
  t.attend_one_f16 = attend<std::uint16_t>;
  t.swiglu_rows = swiglu_rows;
  t.quantize_rows = quantize_rows;
  t.gemm_tile16 = gemm_tile16;
  t.dot[kF32] = dot_float<Type::F32>;
  t.dot[kF16] = dot_float<Type::F16>;
  t.dot[kBF16] = dot_float<Type::BF16>;
  t.dot[kQ4_0] = dot_blocks<Type::Q4_0>;
  t.dot[kQ4_1] = dot_blocks<Type::Q4_1>;
  t.dot[kQ5_0] = dot_blocks<Type::Q5_0>;
  t.dot[kQ5_1] = dot_blocks<Type::Q5_1>;
  t.dot[kQ8_0] = dot_blocks<Type::Q8_0>;
  t.dot[kQ4_K] = dot_blocks<Type::Q4_K>;
  t.dot[kQ5_K] = dot_blocks<Type::Q5_K>;
  t.dot[kQ6_K] = dot_blocks<Type::Q6_K>;
  t.to_f32[kF32] = to_f32<Type::F32>;
  t.to_f32[kF16] = to_f32<Type::F16>;
  t.to_f32[kBF16] = to_f32<Type::BF16>;
  t.to_f32[kQ4_0] = to_f32<Type::Q4_0>;
  t.to_f32[kQ4_1] = to_f32<Type::Q4_1>;
  t.to_f32[kQ5_0] = to_f32<Type::Q5_0>;
  t.to_f32[kQ5_1] = to_f32<Type::Q5_1>;
  t.to_f32[kQ8_0] = to_f32<Type::Q8_0>;
  t.to_f32[kQ4_K] = to_f32<Type::Q4_K>;
  t.to_f32[kQ5_K] = to_f32<Type::Q5_K>;
  t.to_f32[kQ6_K] = to_f32<Type::Q6_K>;
}

}  // namespace cai::kernels::cpu
