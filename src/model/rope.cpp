// Rotary embedding frequencies and tables (see include/cai/model/rope.h).
#include "cai/model/rope.h"

#include <cmath>
#include <numbers>

namespace cai {

std::vector<float> rope_inv_freq(const ModelConfig& cfg) {
  const std::int64_t D = cfg.head_dim;
  std::vector<float> inv(static_cast<std::size_t>(D / 2));
  // HF: 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)), all in float32.
  const float base = static_cast<float>(cfg.rope_theta);
  for (std::int64_t i = 0; i < D / 2; ++i) {
    const float expo = static_cast<float>(2 * i) / static_cast<float>(D);
    inv[static_cast<std::size_t>(i)] = 1.0f / std::pow(base, expo);
  }
  if (cfg.rope_scaling.type != "llama3") return inv;

  // transformers' _compute_llama3_parameters: long wavelengths are divided by `factor`, short
  // ones kept, the band between interpolated smoothly.
  const RopeScaling& rs = cfg.rope_scaling;
  // Python scalars meet float32 tensors, so the arithmetic is float32 throughout.
  const float old_ctx = static_cast<float>(rs.original_max_position_embeddings);
  const float low = static_cast<float>(rs.low_freq_factor),
              high = static_cast<float>(rs.high_freq_factor);
  const float low_wavelen =
      static_cast<float>(rs.original_max_position_embeddings / rs.low_freq_factor);
  const float high_wavelen =
      static_cast<float>(rs.original_max_position_embeddings / rs.high_freq_factor);
  const float factor = static_cast<float>(rs.factor);
  for (auto& f : inv) {
    const float wavelen = 2.0f * std::numbers::pi_v<float> / f;
    float scaled = wavelen > low_wavelen ? f / factor : f;
    const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
    if (medium) {
      const float smooth = (old_ctx / wavelen - low) / (high - low);
      scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
    }
    f = scaled;
  }
  return inv;
}

void rope_tables(const std::vector<float>& inv_freq, std::int64_t n_pos, std::vector<float>& cos,
                 std::vector<float>& sin) {
  const std::size_t half = inv_freq.size(), D = 2 * half;
  cos.assign(static_cast<std::size_t>(n_pos) * D, 0.0f);
  sin.assign(static_cast<std::size_t>(n_pos) * D, 0.0f);
  for (std::int64_t p = 0; p < n_pos; ++p) {
    float* c = cos.data() + static_cast<std::size_t>(p) * D;
    float* s = sin.data() + static_cast<std::size_t>(p) * D;
    for (std::size_t i = 0; i < half; ++i) {
      const float a = static_cast<float>(p) * inv_freq[i];  // float32 product, as HF
      c[i] = c[i + half] = std::cos(a);
      s[i] = s[i + half] = std::sin(a);
    }
  }
}

}  // namespace cai
