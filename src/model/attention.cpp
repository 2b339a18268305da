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
  // An F16 cache (KVCache's dtype) stores each rotated key and value rounded to half.
  const bool f16 = k_cache.scalar_type() == torch::kHalf;
  TORCH_CHECK(v_cache.scalar_type() == k_cache.scalar_type() &&
                  (f16 || k_cache.scalar_type() == torch::kFloat32),
              "rope_qkv_to_cache: the cache must be F32 or F16");
  char* kc = static_cast<char*>(k_cache.data_ptr());
  char* vc = static_cast<char*>(v_cache.data_ptr());
  const std::int64_t Lc = k_cache.size(2);
  const std::int64_t slot_stride = Hkv * Lc * D, head_stride = Lc * D;
  parallel_chunks(B * T, std::max<std::int64_t>(1, 16384 / W),
                  [&](std::int64_t begin, std::int64_t end) {
                    std::vector<float> krot(static_cast<std::size_t>(D));
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
                      const std::int64_t at = (a.slot_begin + b) * slot_stride + p * D;
                      // Stores D values at element offset `off` of a cache.
                      auto put = [&](char* cache, std::int64_t off, const float* v) {
                        if (f16) {
                          auto* h = reinterpret_cast<c10::Half*>(cache) + off;
                          for (std::int64_t i = 0; i < D; ++i) h[i] = c10::Half(v[i]);
                        } else {
                          std::copy(v, v + D, reinterpret_cast<float*>(cache) + off);
                        }
                      };
                      for (std::int64_t h = 0; h < Hkv; ++h) {
                        rotate(row + (H + h) * D, krot.data(), 1.0f);
                        put(kc, at + h * head_stride, krot.data());
                        put(vc, at + h * head_stride, row + (H + Hkv + h) * D);
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
  const bool f16 = k_cache.scalar_type() == torch::kHalf;
  const char* kc = static_cast<const char*>(k_cache.data_ptr());
  const char* vc = static_cast<const char*>(v_cache.data_ptr());
  const std::size_t el = f16 ? 2 : 4;
  float* op = out.data_ptr<float>();
  const std::int64_t Lc = k_cache.size(2);
  const std::int64_t slot_stride = Hkv * Lc * D, head_stride = Lc * D;
  const auto& table = cpu::table();
  std::int64_t max_pos = 0;
  for (std::int64_t n = 0; n < B * T; ++n) max_pos = std::max(max_pos, a.pos[n]);
  // One task per (row, key/value head): its G query heads read the same keys.
  const std::int64_t work = T * G * (max_pos + 1) * D;
  parallel_chunks(
      B * Hkv, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, work)),
      [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> scores(static_cast<std::size_t>(max_pos + 1));
        for (std::int64_t task = begin; task < end; ++task) {
          const std::int64_t b = task / Hkv, hk = task % Hkv;
          const std::size_t off =
              el * static_cast<std::size_t>((a.slot_begin + b) * slot_stride + hk * head_stride);
          for (std::int64_t t = 0; t < T; ++t) {
            const std::int64_t n = b * T + t;
            for (std::int64_t g = 0; g < G; ++g) {
              const std::int64_t h = hk * G + g;
              const float* q = qp + n * W + h * D;
              float* o = op + n * H * D + h * D;
              if (f16)
                table.attend_one_f16(q, reinterpret_cast<const std::uint16_t*>(kc + off),
                                     reinterpret_cast<const std::uint16_t*>(vc + off), a.pos[n] + 1,
                                     D, scores.data(), o);
              else
                table.attend_one(q, reinterpret_cast<const float*>(kc + off),
                                 reinterpret_cast<const float*>(vc + off), a.pos[n] + 1, D,
                                 scores.data(), o);
            }
          }
        }
      });
  return out;
}

}  // namespace cai::kernels
