// Rotary embedding + KV-cache write, and causal attention over the cache, for the inference
// path (see kernels.h). Per-row causality needs no mask tensor: row b's token t reads cache
// positions 0..pos[b*T+t] of its slot and nothing else.
#include <ATen/Parallel.h>

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"
#include "simd.h"

namespace cai::kernels {
namespace {

bool cpu_has_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

// softmax(q . K[0..len)) V for one query row; `scores` holds len floats.
void attend_one_scalar(const float* q, const float* K, const float* V, std::int64_t len,
                       std::int64_t D, float* scores, float* o) {
  float mx = -std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < len; ++j) {
    float s = 0.0f;
    for (std::int64_t d = 0; d < D; ++d) s += q[d] * K[j * D + d];
    scores[j] = s;
    mx = std::max(mx, s);
  }
  float sum = 0.0f;
  for (std::int64_t j = 0; j < len; ++j) sum += scores[j] = std::exp(scores[j] - mx);
  std::fill(o, o + D, 0.0f);
  for (std::int64_t j = 0; j < len; ++j)
    for (std::int64_t d = 0; d < D; ++d) o[d] += scores[j] * V[j * D + d];
  const float inv = 1.0f / sum;
  for (std::int64_t d = 0; d < D; ++d) o[d] *= inv;
}

__attribute__((target("avx2,fma"))) void attend_one_avx2(const float* q, const float* K,
                                                         const float* V, std::int64_t len,
                                                         std::int64_t D, float* scores, float* o) {
  const std::int64_t D8 = D / 8 * 8;
  // Scores q . k_j.
  std::int64_t j0 = 0;
  for (; j0 + 4 <= len; j0 += 4) {  // four keys at a time: independent FMA chains
    const float* k = K + j0 * D;
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps(),
           c3 = _mm256_setzero_ps();
    for (std::int64_t d = 0; d < D8; d += 8) {
      const __m256 qv = _mm256_loadu_ps(q + d);
      c0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + d), c0);
      c1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + D + d), c1);
      c2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 2 * D + d), c2);
      c3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 3 * D + d), c3);
    }
    float s4[4] = {simd::hsum(c0), simd::hsum(c1), simd::hsum(c2), simd::hsum(c3)};
    for (int i = 0; i < 4; ++i) {
      for (std::int64_t d = D8; d < D; ++d) s4[i] += q[d] * k[i * D + d];
      scores[j0 + i] = s4[i];
    }
  }
  for (std::int64_t j = j0; j < len; ++j) {
    const float* k = K + j * D;
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t d = 0; d < D8; d += 8)
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), acc);
    float s = simd::hsum(acc);
    for (std::int64_t d = D8; d < D; ++d) s += q[d] * k[d];
    scores[j] = s;
  }
  // Max, then exp(s - max) and its sum, eight at a time.
  const std::int64_t L8 = len / 8 * 8;
  __m256 vmx = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (std::int64_t j = 0; j < L8; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(scores + j));
  float mx = simd::hmax(vmx);
  for (std::int64_t j = L8; j < len; ++j) mx = std::max(mx, scores[j]);
  const __m256 m8 = _mm256_set1_ps(mx);
  __m256 vsum = _mm256_setzero_ps();
  for (std::int64_t j = 0; j < L8; j += 8) {
    const __m256 e = simd::exp(_mm256_sub_ps(_mm256_loadu_ps(scores + j), m8));
    _mm256_storeu_ps(scores + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = simd::hsum(vsum);
  for (std::int64_t j = L8; j < len; ++j) sum += scores[j] = std::exp(scores[j] - mx);
  // o = sum_j p_j v_j / sum.
  if (D8 == D && D <= 64) {
    // Head sizes up to 64: the output row stays in registers across all keys.
    __m256 acc[8];
    const std::int64_t nv = D / 8;
    for (std::int64_t i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
    for (std::int64_t j = 0; j < len; ++j) {
      const float* v = V + j * D;
      const __m256 p = _mm256_set1_ps(scores[j]);
      switch (nv) {  // fallthrough: the first nv lanes
        case 8:
          acc[7] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 56), acc[7]);
          [[fallthrough]];
        case 7:
          acc[6] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 48), acc[6]);
          [[fallthrough]];
        case 6:
          acc[5] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 40), acc[5]);
          [[fallthrough]];
        case 5:
          acc[4] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 32), acc[4]);
          [[fallthrough]];
        case 4:
          acc[3] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 24), acc[3]);
          [[fallthrough]];
        case 3:
          acc[2] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 16), acc[2]);
          [[fallthrough]];
        case 2:
          acc[1] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8), acc[1]);
          [[fallthrough]];
        case 1:
          acc[0] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v), acc[0]);
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
    const float* v = V + j * D;
    const __m256 p = _mm256_set1_ps(scores[j]);
    for (std::int64_t d = 0; d < D8; d += 8)
      _mm256_storeu_ps(o + d, _mm256_fmadd_ps(p, _mm256_loadu_ps(v + d), _mm256_loadu_ps(o + d)));
    for (std::int64_t d = D8; d < D; ++d) o[d] += scores[j] * v[d];
  }
  const float inv = 1.0f / sum;
  for (std::int64_t d = 0; d < D; ++d) o[d] *= inv;
}

}  // namespace

void rope_qkv_to_cache(torch::Tensor& qkv, const RopeArgs& a, torch::Tensor& k_cache,
                       torch::Tensor& v_cache) {
  const std::int64_t B = a.B, T = a.T, H = a.H, Hkv = a.Hkv, D = a.D, half = D / 2;
  const std::int64_t W = (H + 2 * Hkv) * D;
  TORCH_CHECK(qkv.is_contiguous() && qkv.numel() == B * T * W, "rope_qkv_to_cache: bad qkv");
  float* sp = qkv.data_ptr<float>();
  float* kc = k_cache.data_ptr<float>();
  float* vc = v_cache.data_ptr<float>();
  const std::int64_t Lc = k_cache.size(2);
  const std::int64_t slot_stride = Hkv * Lc * D, head_stride = Lc * D;
  parallel_chunks(B * T, std::max<std::int64_t>(1, 16384 / W),
                  [&](std::int64_t begin, std::int64_t end) {
                    for (std::int64_t n = begin; n < end; ++n) {
                      const std::int64_t b = n / T, p = a.pos[n];
                      const float* c = a.cos + p * D;
                      const float* s = a.sin + p * D;
                      float* row = sp + n * W;
                      // out = x * cos + rotate_half(x) * sin, rotate_half(x) = (-x2, x1)
                      auto rotate = [&](const float* x, float* o, float scale) {
                        for (std::int64_t i = 0; i < half; ++i) {
                          const float x1 = x[i], x2 = x[i + half];
                          o[i] = (x1 * c[i] - x2 * s[i]) * scale;
                          o[i + half] = (x2 * c[i + half] + x1 * s[i + half]) * scale;
                        }
                      };
                      for (std::int64_t h = 0; h < H; ++h)
                        rotate(row + h * D, row + h * D, a.q_scale);
                      float* kslot = kc + (a.slot_begin + b) * slot_stride + p * D;
                      float* vslot = vc + (a.slot_begin + b) * slot_stride + p * D;
                      for (std::int64_t h = 0; h < Hkv; ++h) {
                        rotate(row + (H + h) * D, kslot + h * head_stride, 1.0f);
                        const float* v = row + (H + Hkv + h) * D;
                        std::copy(v, v + D, vslot + h * head_stride);
                      }
                    }
                  });
}

torch::Tensor attend_cached(const torch::Tensor& qkv, const RopeArgs& a,
                            const torch::Tensor& k_cache, const torch::Tensor& v_cache) {
  const std::int64_t B = a.B, T = a.T, H = a.H, Hkv = a.Hkv, D = a.D, G = H / Hkv;
  const std::int64_t W = (H + 2 * Hkv) * D;
  auto out = torch::empty({B * T, H * D}, qkv.options());
  const float* qp = qkv.data_ptr<float>();
  const float* kc = k_cache.data_ptr<float>();
  const float* vc = v_cache.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const std::int64_t Lc = k_cache.size(2);
  const std::int64_t slot_stride = Hkv * Lc * D, head_stride = Lc * D;
  auto one = cpu_has_avx2() ? attend_one_avx2 : attend_one_scalar;
  std::int64_t max_pos = 0;
  for (std::int64_t n = 0; n < B * T; ++n) max_pos = std::max(max_pos, a.pos[n]);
  // One task per (row, key/value head): its G query heads read the same keys.
  const std::int64_t work = T * G * (max_pos + 1) * D;
  parallel_chunks(B * Hkv, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, work)),
                  [&](std::int64_t begin, std::int64_t end) {
                    std::vector<float> scores(static_cast<std::size_t>(max_pos + 1));
                    for (std::int64_t task = begin; task < end; ++task) {
                      const std::int64_t b = task / Hkv, hk = task % Hkv;
                      const float* K = kc + (a.slot_begin + b) * slot_stride + hk * head_stride;
                      const float* V = vc + (a.slot_begin + b) * slot_stride + hk * head_stride;
                      for (std::int64_t t = 0; t < T; ++t) {
                        const std::int64_t n = b * T + t;
                        for (std::int64_t g = 0; g < G; ++g) {
                          const std::int64_t h = hk * G + g;
                          one(qp + n * W + h * D, K, V, a.pos[n] + 1, D, scores.data(),
                              op + n * H * D + h * D);
                        }
                      }
                    }
                  });
  return out;
}

}  // namespace cai::kernels
