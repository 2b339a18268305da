// Shared fixtures for the data / objective / reward-model tests: a small byte-level BPE
// tokenizer with chat special tokens, a tiny random Llama sized to it, and temp files.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "cai/model/config.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/tokenizer/tokenizer.h"
#include "cai/tokenizer/trainer.h"

namespace cai::train_test {

inline const Tokenizer& tiny_tokenizer() {
  static const Tokenizer tok = [] {
    BpeTrainerOptions o;
    o.vocab_size = 320;
    o.min_frequency = 1;
    o.special_tokens = {"<s>", "</s>", "<|im_start|>", "<|im_end|>"};
    o.add_bos = true;
    const std::vector<std::string> corpus = {
        "Human: what is the capital of France?\n\nAssistant: The capital of France is Paris.",
        "Human: say something good\n\nAssistant: good good good, a good day",
        "Human: say something bad\n\nAssistant: bad bad bad, a bad day",
        "system user assistant hello there, how are you? I am fine, thank you.",
    };
    return train_bpe(corpus, o);
  }();
  return tok;
}

inline ModelConfig tiny_config(std::int64_t vocab) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 256;
  return c;
}

// A tiny model (weights from `seed`) with the tiny tokenizer, as load_model would return it.
inline LoadedModel tiny_loaded(std::uint64_t seed = 0) {
  torch::manual_seed(seed);
  LoadedModel lm;
  lm.config = tiny_config(tiny_tokenizer().vocab_size());
  lm.model = std::make_shared<LlamaModel>(lm.config);
  lm.tokenizer = tiny_tokenizer();
  lm.format = "safetensors";
  return lm;
}

inline std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::path(CAI_TEST_TMPDIR) / "train" / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline std::filesystem::path write_text(const std::filesystem::path& path,
                                        const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace cai::train_test
