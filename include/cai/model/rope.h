// Rotary position embedding frequencies, as Hugging Face computes them (float32), including
// the "llama3" scaling of `_compute_llama3_parameters` in transformers' modeling_rope_utils.
#pragma once

#include <cstdint>
#include <vector>

#include "cai/model/config.h"

namespace cai {

// inv_freq[i] = rope_theta^(-2i/D) for i < D/2, then rescaled per cfg.rope_scaling.
std::vector<float> rope_inv_freq(const ModelConfig& cfg);

// cos/sin tables [n_pos][D] (row-major) of the rotate-half layout: entry (p, i) is
// cos(p * inv_freq[i mod D/2]) (resp. sin), computed in float32 like Hugging Face.
void rope_tables(const std::vector<float>& inv_freq, std::int64_t n_pos, std::vector<float>& cos,
                 std::vector<float>& sin);

}  // namespace cai
