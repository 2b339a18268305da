// Helpers the model tests share.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <memory>

#include "cai/model/llama.h"

namespace cai::testing_util {

inline const std::filesystem::path kFixtures = CAI_FIXTURES_DIR;

inline double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// A 2-layer model with grouped-query attention (4 heads over 2 key/value heads).
inline cai::ModelConfig tiny_config() {
  cai::ModelConfig c;
  c.vocab_size = 97;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  return c;
}

// Random weights scaled up so that attention patterns are far from uniform.
inline std::shared_ptr<cai::LlamaModel> tiny_model(const cai::ModelConfig& cfg,
                                                   std::uint64_t seed = 1) {
  torch::manual_seed(seed);
  auto m = std::make_shared<cai::LlamaModel>(cfg);
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.mul_(10.0).add_(torch::randn_like(p) * 0.05);
  return m;
}

// Logits [B,T,V] of `tokens`: through the differentiable path (autograd), or the fused
// inference kernels (under InferenceMode, cloned out of it).
inline torch::Tensor forward_logits(cai::LlamaModel& m, const torch::Tensor& tokens,
                                    bool autograd) {
  if (autograd) return m.forward(tokens).detach();
  torch::InferenceMode guard;
  return m.forward(tokens).clone();
}

}  // namespace cai::testing_util
