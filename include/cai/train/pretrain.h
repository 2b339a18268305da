// `cai pretrain`: a small Llama-shaped base model trained from scratch on a text corpus
// (the demo world's corpus by default): a byte-level BPE tokenizer trained on the corpus, a
// randomly initialised model, and next-token training on the corpus packed into fixed-length
// windows. Reproducible from the seed: the same corpus, options and seed give the same weights.
//
// Output directory:
//   config.json, model.safetensors, tokenizer.json, tokenizer_config.json   the model
//   pretrain.json                     options, corpus hash, figures (params, tokens/s, loss,
//                                     wall time); its presence marks a finished run
//   training/                         the trainer's run directory (metrics.jsonl, checkpoint/)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cai/train/trainer.h"

namespace cai::train {

struct PretrainOptions {
  std::vector<std::filesystem::path> corpus;  // text files; documents end with a line holding
                                              // only the document separator
  std::string separator = "<|endoftext|>";    // also the tokenizer's BOS/EOS special token
  std::filesystem::path out_dir;              // required

  // Tokenizer.
  std::int32_t vocab_size = 768;
  std::string pre_tokenizer = "gpt-2";

  // Model shape (d192, 4 layers, 4 heads of 48, SwiGLU: about 1.9M parameters with tied
  // embeddings; fewer, wider heads train faster on a CPU than many narrow ones, and on the
  // world's corpus this shape learns its critiques better in the time than a d256 one).
  std::int64_t hidden = 192;
  std::int64_t layers = 4;
  std::int64_t heads = 4;
  std::int64_t ffn = 512;
  std::int64_t context = 512;  // max_position_embeddings
  bool tie_embeddings = true;

  std::int64_t seq_len = 256;  // training window (tokens)
  // Trainer settings; out_dir is set to out_dir/training. Defaults suit the small model:
  // lr 2e-3, warmup 3%, cosine to 10%, weight decay 0.1, clip 1, 16 windows per step, 1 epoch.
  TrainOptions train = default_train_options();
  std::uint64_t seed = 0;
  int threads = 0;  // 0 = all cores

  static TrainOptions default_train_options();
  void validate() const;
};

// Runs everything (resuming the training when train.resume is set) and returns the
// pretrain.json it wrote.
nlohmann::json pretrain(const PretrainOptions& opts);

// The options hash pretrain.json records: a finished directory with the same hash is reused.
std::string pretrain_key(const PretrainOptions& opts);

}  // namespace cai::train
