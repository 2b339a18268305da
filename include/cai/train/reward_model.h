// A reward model: the Llama decoder with a scalar head on the hidden state of each sequence's
// last token, saved like Hugging Face's LlamaForSequenceClassification (config.json with
// "architectures": ["LlamaForSequenceClassification"], "num_labels": 1; tensor "score.weight"
// [1, C] beside the decoder's tensors, without lm_head).
//
// Shape legend: B = sequences, T = longest sequence, C = hidden size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "cai/model/loader.h"

namespace cai::train {

class RewardModel {
 public:
  // A new head (zero-initialised, so every reward starts at 0) on a loaded base model.
  explicit RewardModel(LoadedModel base);
  // Loads a directory written by save() (or by transformers' save_pretrained).
  static RewardModel load(const std::filesystem::path& dir);

  // tokens [B,T] right padded, lengths [B] (real tokens per row) -> rewards [B].
  // Differentiable when autograd is on.
  torch::Tensor rewards(const torch::Tensor& tokens, const std::vector<std::int64_t>& lengths);
  // Scores many token sequences without gradients, batched by a token budget.
  std::vector<double> score(const std::vector<std::vector<std::int32_t>>& sequences,
                            std::int64_t token_budget = 8192);

  LoadedModel& base() { return base_; }
  torch::Tensor& head() { return head_; }  // [1, C], requires_grad
  void save(const std::filesystem::path& dir) const;

 private:
  LoadedModel base_;
  torch::Tensor head_;
};

}  // namespace cai::train
