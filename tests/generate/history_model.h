// A model-free StepModel for scheduler tests: each slot's "cache" is its token history and
// the logits are a known function of all of it (the next token hashes the history), so any
// slip in slot assignment, compaction, copying, padding, chunking or positions changes the
// tokens produced, and reading a stale or unwritten position fails the test.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cai/generate/step_model.h"

namespace cai::testing_util {

inline constexpr std::int64_t kHistoryVocab = 37;

// The token the fake predicts after `history`.
inline std::int32_t history_next(const std::vector<std::int64_t>& history) {
  std::uint64_t h = 1469598103934665603ULL;
  for (auto t : history) h = (h ^ static_cast<std::uint64_t>(t)) * 1099511628211ULL;
  return static_cast<std::int32_t>(h % kHistoryVocab);
}

class HistoryModel : public StepModel {
 public:
  HistoryModel(std::int64_t slots, std::int64_t len)
      : len_(len), cache_(slots, std::vector<std::int64_t>(len, -1)) {}
  std::int64_t vocab_size() const override { return kHistoryVocab; }
  std::int64_t max_batch() const override { return static_cast<std::int64_t>(cache_.size()); }
  std::int64_t max_len() const override { return len_; }
  torch::Tensor forward(const StepBatch& b) override {
    EXPECT_LE(b.slot_begin + b.rows, max_batch());
    std::vector<float> out;
    for (std::int64_t r = 0; r < b.rows; ++r) {
      auto& slot = cache_[b.slot_begin + r];
      for (std::int64_t t = 0; t < b.width; ++t) {
        EXPECT_LT(b.start_pos[r] + t, len_);
        slot[b.start_pos[r] + t] = b.tokens[r * b.width + t];
      }
      if (b.last[r] < 0) continue;
      // "Attention" reads positions [0, own position].
      std::vector<std::int64_t> hist(slot.begin(), slot.begin() + b.start_pos[r] + b.last[r] + 1);
      for (auto t : hist) EXPECT_GE(t, 0) << "read an unwritten cache position";
      const auto next = history_next(hist);
      // Distinct small logits elsewhere, so sampling tests see a real distribution.
      for (std::int64_t v = 0; v < kHistoryVocab; ++v)
        out.push_back(v == next ? 2.0f : -0.05f * static_cast<float>((v * 7 + hist.size()) % 11));
      computed += b.last[r] + 1;
    }
    ++calls;
    const auto R = static_cast<std::int64_t>(out.size()) / kHistoryVocab;
    return torch::from_blob(out.data(), {R, kHistoryVocab}, torch::kFloat).clone();
  }
  void move_slot(std::int64_t from, std::int64_t to, std::int64_t len) override {
    std::copy(cache_[from].begin(), cache_[from].begin() + len, cache_[to].begin());
    std::fill(cache_[from].begin(), cache_[from].end(), -1);  // stale data must not be read
  }
  void copy_slot(std::int64_t from, std::int64_t to, std::int64_t len) override {
    std::fill(cache_[to].begin(), cache_[to].end(), -1);
    std::copy(cache_[from].begin(), cache_[from].begin() + len, cache_[to].begin());
  }
  int calls = 0;              // forward passes
  std::int64_t computed = 0;  // positions whose logits were asked for

 private:
  std::int64_t len_;
  std::vector<std::vector<std::int64_t>> cache_;
};

}  // namespace cai::testing_util
