#include "cai/generate/step_model.h"

#include <torch/torch.h>

#include "cai/io/error.h"
#include "cai/model/llama.h"

namespace cai {
namespace {

class LlamaStepModel final : public StepModel {
 public:
  LlamaStepModel(LlamaModel& model, std::int64_t max_batch, std::int64_t max_len)
      : model_(model), cache_(make_cache(model, max_batch, max_len)) {}

  std::int64_t vocab_size() const override { return model_.config().vocab_size; }
  std::int64_t max_batch() const override { return cache_.max_batch(); }
  std::int64_t max_len() const override { return cache_.max_len(); }

  torch::Tensor forward(const StepBatch& b) override {
    torch::NoGradGuard no_grad;
    const auto B = b.rows, T = b.width;
    CAI_CHECK(static_cast<std::int64_t>(b.tokens.size()) == B * T &&
                  static_cast<std::int64_t>(b.start_pos.size()) == B &&
                  static_cast<std::int64_t>(b.last.size()) == B,
              "step batch: {} tokens, {} start positions, {} last indices for {} x {}",
              b.tokens.size(), b.start_pos.size(), b.last.size(), B, T);
    // from_blob borrows the vectors for the duration of the call; no copies.
    auto tokens =
        torch::from_blob(const_cast<std::int64_t*>(b.tokens.data()), {B, T}, torch::kLong);
    auto start = torch::from_blob(const_cast<std::int64_t*>(b.start_pos.data()), {B}, torch::kLong);
    torch::Tensor h = model_.forward_hidden_cached(tokens, cache_, b.slot_begin, start);  // [B,T,C]
    const auto C = h.size(-1);
    bool all_first = T == 1;
    for (auto l : b.last) all_first = all_first && l == 0;
    torch::Tensor rows;
    if (all_first) {
      rows = h.reshape({B, C});
    } else {
      // The LM head runs only at the wanted positions: gather them from [B*T, C].
      std::vector<std::int64_t> flat;
      flat.reserve(B);
      for (std::int64_t r = 0; r < B; ++r)
        if (b.last[r] >= 0) flat.push_back(r * T + b.last[r]);
      auto idx = torch::tensor(flat, torch::kLong).to(h.device());
      rows = h.reshape({B * T, C}).index_select(0, idx);
    }
    return model_.logits(rows)
        .to(torch::kCPU, torch::kFloat)
        .contiguous();  // [R,V], sampled on the CPU
  }

  void move_slot(std::int64_t from, std::int64_t to, std::int64_t len) override {
    torch::NoGradGuard no_grad;
    cache_.move_slot(from, to, len);
  }

 private:
  static KVCache make_cache(LlamaModel& model, std::int64_t max_batch, std::int64_t max_len) {
    // Plain (not inference-mode) tensors: the model may also be trained in this process.
    return KVCache(model.config(), max_batch, max_len, model.device(), model.cache_dtype());
  }
  LlamaModel& model_;
  KVCache cache_;
};

}  // namespace

std::unique_ptr<StepModel> make_llama_step_model(LlamaModel& model, std::int64_t max_batch,
                                                 std::int64_t max_len) {
  return std::make_unique<LlamaStepModel>(model, max_batch, max_len);
}

}  // namespace cai
