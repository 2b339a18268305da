// Private helpers of the objectives: padding examples into a micro-batch and the
// log-probabilities of its target tokens with the LM head applied only where it is needed.
//
// Shape legend: B = rows, T = longest row, C = hidden size, N = target tokens in the batch,
// V = vocabulary.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "cai/train/data.h"
#include "cai/train/objective.h"

namespace cai {
class LlamaModel;
}

namespace cai::train::detail {

// A row of a micro-batch: tokens and target flags (see TokenizedSequence).
struct Row {
  std::vector<std::int32_t> tokens;
  std::vector<std::uint8_t> target;
};
// prompt + response, the response tokens being the targets.
Row prompt_response_row(const std::vector<std::int32_t>& prompt,
                        const std::vector<std::int32_t>& response);

struct Batch {
  torch::Tensor tokens;               // [B,T] int64, right padded with 0
  std::vector<std::int64_t> lengths;  // real tokens per row
  // Where the targets are: hidden row b*T + t - 1 predicts label tokens[b,t] for row b.
  torch::Tensor src;             // [N] int64 index into the flattened [B*T] positions
  torch::Tensor labels;          // [N] int64
  torch::Tensor row_of;          // [N] int64
  std::int64_t real_tokens = 0;  // sum of lengths
};
Batch make_batch(const std::vector<const Row*>& rows);

struct TargetLogprobs {
  torch::Tensor sums;     // [B] sum of log p(label) over each row's targets (differentiable)
  torch::Tensor tokens;   // [N] log p(label) of each target, in batch.src order (differentiable)
  torch::Tensor entropy;  // [N] entropy of each target position's distribution (detached;
                          // defined when asked for)
  double correct = 0;     // targets whose label is the argmax of the logits (when asked for)
};
struct LogprobOptions {
  std::int64_t head_chunk = 1024;  // with autograd off the LM head runs over at most this many
                                   // rows at a time, bounding the [N,V] buffer
  double temperature = 1.0;        // log-probabilities of logits / temperature (RL sampling)
  bool entropy = false;            // also the per-position entropy
  bool correct = true;             // count argmax hits (an extra pass over [N,V]; SFT logs it)
};
// hidden [B,T,C] from model.forward_hidden(batch.tokens).
TargetLogprobs target_logprobs(LlamaModel& model, const torch::Tensor& hidden, const Batch& batch,
                               const LogprobOptions& opts);
inline TargetLogprobs target_logprobs(LlamaModel& model, const torch::Tensor& hidden,
                                      const Batch& batch, std::int64_t head_chunk = 1024) {
  LogprobOptions o;
  o.head_chunk = head_chunk;
  return target_logprobs(model, hidden, batch, o);
}

// Padded tokens per evaluation forward pass of the SFT, DPO and reward-model objectives.
inline constexpr std::int64_t kEvalTokenBudget = 8192;

// Groups examples (by their lengths) into evaluation batches of at most `token_budget` padded
// tokens, longest first so rows of similar length share a batch.
std::vector<std::vector<std::int64_t>> eval_batches(const std::vector<std::int64_t>& examples,
                                                    const std::vector<std::int64_t>& lengths,
                                                    std::int64_t token_budget);

// The per-example mean of pair metrics over `examples`, evaluated in eval_batches of
// `token_budget` (each pair counts two rows of its longer side: lengths2[i] = 2 * length).
// `forward` returns the metric sums of one batch. Shared by the DPO and reward-model objectives.
Metrics mean_pair_metrics(const std::vector<std::int64_t>& examples,
                          const std::vector<std::int64_t>& lengths2, std::int64_t token_budget,
                          const std::function<Metrics(const std::vector<std::int64_t>&)>& forward);

// Puts a module in eval mode for the lifetime of the guard, restoring its mode after.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& m) : m_(m), was_(m.is_training()) { m_.eval(); }
  ~EvalModeGuard() { m_.train(was_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& m_;
  bool was_;
};

}  // namespace cai::train::detail
