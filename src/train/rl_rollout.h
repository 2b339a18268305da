// Private pieces of `cai train rl` (rl.h): a rollout (sampled responses, their scores, the
// per-token log-probabilities of the policy and the frozen reference, values, rewards and
// advantages) and the policy/value forward pass the rollout and the updates share.
//
// Shape legend: B = responses in a micro-batch, T = longest prompt + response, C = hidden
// size, N = response tokens in the micro-batch (batch.src order: row by row).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "batch.h"
#include "cai/train/rl.h"
#include "cai/train/rl_losses.h"

namespace cai {
class Engine;
class LlamaModel;
}  // namespace cai

namespace cai::train::detail {

// PPO's value head: a linear map from the policy's hidden state before each response token
// to the value of that state. Zero-initialised, so every value starts at 0.
struct ValueHead {
  torch::Tensor weight;  // [1,C]
  torch::Tensor bias;    // [1]
};

// One response and what the updates need, one entry per response token.
struct RlSample {
  std::int64_t prompt = 0;  // index into the prompts
  Row row;                  // prompt + response; the response tokens are the targets
  std::int64_t n = 0;       // response tokens
  bool truncated = false;   // cut by max_new_tokens
  double score = 0.0;       // the reward function's score (before penalties, norms)
  double kl = 0.0;          // sum of the per-token KL estimates
  double reward = 0.0;      // normalised score - kl_coef * kl
  std::vector<double> logp_old, logp_ref, kl_tokens, values, advantages, returns;  // [n] each
};

struct Rollout {
  std::vector<RlSample> samples;  // prompt-major: sample j of prompt slot p at p * K + j
  Metrics metrics;                // score, reward, kl, entropy, response_length, truncated
};

// Per response token of a micro-batch, from one forward pass of `model`.
struct TokenStats {
  torch::Tensor logp;     // [N] log p(token) under logits / temperature
  torch::Tensor entropy;  // [N] detached; defined when asked for
  torch::Tensor values;   // [N]; defined when a value head is given
};
TokenStats token_stats(LlamaModel& model, const Batch& batch, double temperature, bool entropy,
                       const ValueHead* head);

// Groups rows (by index; lengths[i] tokens) into micro-batches of at most `token_budget`
// padded tokens, keeping their order; a single longer row is a micro-batch of its own.
std::vector<std::vector<std::int64_t>> micro_batches(const std::vector<std::int64_t>& lengths,
                                                     const std::vector<std::int64_t>& which,
                                                     std::int64_t token_budget);
// The same for samples, by the length of their prompt + response.
std::vector<std::vector<std::int64_t>> micro_batches(const std::vector<RlSample>& samples,
                                                     const std::vector<std::int64_t>& which,
                                                     std::int64_t token_budget);

// Samples K responses for each of `prompt_ids` with the policy (engine), scores them,
// computes log-probabilities (policy, reference), values (PPO), per-token KL, rewards and
// advantages. `step` (0-based) and the options' seed fix every random draw. `moments` is
// updated when the options normalise rewards by running statistics. With data-parallel ranks
// each samples, scores and evaluates a contiguous share of the responses (each response has
// its own random stream, so the shares are those one process would draw), then every rank
// receives all of them and computes the same rewards and advantages.
Rollout make_rollout(Engine& engine, LlamaModel& policy, LlamaModel& reference,
                     const ValueHead* head, const std::vector<RlPrompt>& prompts,
                     const std::vector<std::int64_t>& prompt_ids, const RewardFn& reward,
                     const RlOptions& opts, double kl_coef, std::int64_t step,
                     RunningMoments& moments);

// One optimiser update's gradients: the clipped policy loss (and for PPO the clipped value
// loss, for GRPO kl_coef times the per-token KL to the reference) over the minibatch `which`,
// accumulated over micro-batches with backward(). The policy loss is a mean over tokens (ppo),
// over responses of their token sums (rloo, the REINFORCE estimator of the sequence
// log-probability) or over responses of their token means (grpo); the value loss a mean over
// tokens. With data-parallel ranks each computes its share of `which`; the caller sums the
// gradients and the returned metrics over the ranks. Returns the minibatch's "loss",
// "loss/policy", "loss/value" (ppo), "loss/kl" (grpo), "clipfrac", "approx_kl". With `ptx`
// rows (the update's share of the SFT data) and opts.ptx_coef > 0, ptx_coef times their mean
// token negative log-likelihood joins the loss ("loss/ptx": that mean), the ranks splitting
// the rows as they split the minibatch.
Metrics update_minibatch(LlamaModel& policy, const ValueHead* head,
                         const std::vector<RlSample>& samples,
                         const std::vector<std::int64_t>& which, const RlOptions& opts,
                         double kl_coef, const std::vector<const Row*>& ptx = {});

}  // namespace cai::train::detail
