// The per-token entries of a response's logprobs field. They come from the engine's records
// while decoding, or (for an echoed prompt, and for top lists longer than the engine keeps)
// from a teacher-forced pass over prompt + completion, which runs on the engine thread
// (EngineLoop::call) so it never overlaps a step on the same model.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cai/serve/protocol.h"

namespace cai {
class LlamaModel;
class Tokenizer;
}  // namespace cai

namespace cai::serve {

using TopList = std::vector<std::pair<std::int32_t, float>>;  // (id, log-prob), most likely first

struct PositionLogprobs {
  std::vector<float> logprob;  // per position from `from`
  std::vector<TopList> top;
};

// For k in [from, tokens.size()): log p(tokens[k] | tokens[:k]) and the top_n most likely ids
// there (empty lists when top_n is 0). `from` >= 1: nothing predicts the first token.
PositionLogprobs score_positions(LlamaModel& model, const std::vector<std::int32_t>& tokens,
                                 std::size_t from, std::int64_t top_n);

// One token's entry: its text and log-prob, and its alternatives' texts (top may be null).
TokenLogprob token_entry(const Tokenizer& tok, std::int32_t id, float logprob, const TopList* top);

// The entries of a finished request from score_positions over prompt + completion (started at
// 1 with echo, else at the prompt's end): with echo the prompt's tokens come first (the first
// without a log-prob) at their offsets in `prompt_text`, the text sent, then the completion's.
std::vector<TokenLogprob> rescored_entries(const Tokenizer& tok,
                                           const std::vector<std::int32_t>& prompt,
                                           const std::string& prompt_text,
                                           const std::vector<std::int32_t>& completion, bool echo,
                                           const PositionLogprobs& scores);

}  // namespace cai::serve
