// A tiny base model pretrained for a few steps on a world's corpus (tests/world/tiny_world.h):
// enough for tests of the stages that need a model, not for its quality.
#pragma once

#include <cstdint>
#include <filesystem>

#include "cai/train/pretrain.h"

namespace cai::testing_util {

// A 2-layer, hidden-32 model with a 300-token BPE vocabulary, 3 steps on the world's corpus.
inline void pretrain_tiny(const std::filesystem::path& world_dir, const std::filesystem::path& out,
                          std::int64_t context) {
  train::PretrainOptions p;
  p.corpus = {world_dir / "corpus" / "pretrain.txt"};
  p.out_dir = out;
  p.vocab_size = 300;
  p.hidden = 32;
  p.layers = 2;
  p.heads = 2;
  p.ffn = 64;
  p.context = context;
  p.seq_len = 64;
  p.train.token_budget = 4 * 65;
  p.train.max_steps = 3;
  p.train.progress = false;
  p.seed = 1;
  train::pretrain(p);
}

}  // namespace cai::testing_util
