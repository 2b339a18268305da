// Rotary embedding + KV-cache write, and causal attention over the cache, for the inference
// path (see kernels.h). Per-row causality needs no mask tensor: row b's token t reads cache
// positions 0..pos[b*T+t] of its slot and nothing else.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/cpu.h"
#include "kernels.h"

namespace cai::kernels {

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
  auto one = cpu::table().attend_one;
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
