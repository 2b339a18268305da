// Log-probability scoring under teacher forcing: log p(continuation | prefix) token by token,
// many pairs at once (right padded, no cache), with the LM head applied only at the positions
// that predict a continuation token. Also the log-probabilities of chosen candidate tokens
// after a prefix (A/B judging reads the option tokens "A" / "B" this way).
//
// Shape legend: B = pairs in a batch, T = longest prefix + continuation, C = hidden size,
// N = scored positions in a batch, V = vocabulary.
#pragma once

#include <cstdint>
#include <vector>

namespace cai {

class LlamaModel;

struct ScoreOptions {
  std::int64_t max_batch_tokens = 8192;  // padded tokens (B * T) per forward pass
  std::int64_t max_head_rows = 1024;     // positions sent through the LM head at once (N);
                                         // bounds the [N, V] logits buffer
  void validate() const;
};

struct ScoreRequest {
  std::vector<std::int32_t> prefix;        // at least one token
  std::vector<std::int32_t> continuation;  // may be empty (sum 0)
};

struct ScoreResult {
  std::vector<float> token_logprobs;  // log p(continuation[i] | prefix, continuation[:i])
  double sum = 0.0;
};

// One result per request, in order. Throws cai::Error for an empty prefix, an id outside
// the vocabulary, or a pair longer than the model's max_position_embeddings.
std::vector<ScoreResult> score(LlamaModel& model, const std::vector<ScoreRequest>& requests,
                               const ScoreOptions& opts = {});

// Teacher forcing over a whole text: the log-probability of tokens[1..] given what precedes.
ScoreResult score_tokens(LlamaModel& model, const std::vector<std::int32_t>& tokens,
                         const ScoreOptions& opts = {});

// For each prefix, log softmax of the next-token distribution at the given candidate ids
// (normalised over the whole vocabulary): result[i][j] = log p(candidates[j] | prefixes[i]).
std::vector<std::vector<float>> next_token_logprobs(
    LlamaModel& model, const std::vector<std::vector<std::int32_t>>& prefixes,
    const std::vector<std::int32_t>& candidates, const ScoreOptions& opts = {});

}  // namespace cai
