// A tiny random Llama (grouped-query attention, untied head) for fast engine tests.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "cai/model/config.h"
#include "cai/model/llama.h"

namespace cai::testing_util {

inline ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 100;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 128;
  return c;
}

// Weights scaled up from the default std 0.02 so that logits differ clearly between tokens
// (greedy ties would make token-equality tests meaningless).
inline std::shared_ptr<LlamaModel> tiny_model(std::uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto m = std::make_shared<LlamaModel>(tiny_config());
  torch::NoGradGuard g;
  for (auto& p : m->parameters())
    if (p.dim() == 2) p.mul_(25.0);
  return m;
}

}  // namespace cai::testing_util
