// Reading per-token log-probs out of a server's answer, in every shape servers answer in. The
// shape is detected from each answer, never configured:
//  - legacy completions (OpenAI's /v1/completions, vLLM, `cai serve`): choices[0].logprobs =
//    {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset};
//  - chat-style content lists (OpenAI's and vLLM's chat API, and llama.cpp's server on both
//    /v1/completions and /v1/chat/completions): choices[0].logprobs.content = [{token,
//    logprob, bytes, top_logprobs: [{token, logprob, bytes}]}];
//  - llama.cpp's native /completion: completion_probabilities = the same entries at the top
//    level (older servers: [{content, probs: [{tok_str, prob}]}]; `post_sampling_probs` gives
//    prob / top_probs instead of logprob / top_logprobs);
//  - vLLM's prompt log-probs (an extension): choices[0].prompt_logprobs = [null, {"<token id>":
//    {logprob, rank, decoded_token}}, ...], one entry per prompt token.
// A token's text is its bytes: `bytes` where a server gives them (llama.cpp cuts `token` back
// to whole UTF-8 characters), and OpenAI's "bytes:\xe2\x80" spelling of partial characters is
// decoded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cai::http {

enum class LogprobShape { none, legacy, content, native, prompt };
const char* shape_name(LogprobShape s);

struct Candidate {
  std::string token;
  double logprob = 0.0;
};

struct TokenLogprob {
  std::string token;
  std::optional<double> logprob;            // absent for a prompt's first token
  std::vector<Candidate> top;               // the server's alternatives at this position
  std::optional<std::int64_t> text_offset;  // legacy shape only, in the server's units
};

struct Logprobs {
  LogprobShape shape = LogprobShape::none;
  std::vector<TokenLogprob> tokens;
};

// The log-probs of the answer's tokens (its generated tokens, and with `echo` the prompt's
// before them): legacy, content list or native, whichever the answer holds; shape none and
// no tokens when it holds none. Throws cai::Error for a list that is there but malformed.
Logprobs answer_logprobs(const nlohmann::json& answer);

// vLLM's choices[0].prompt_logprobs; shape none when absent. Each position's entry is the
// prompt token's own (the dict's only key when asked for `prompt_logprobs: 0`; otherwise the
// key listed in choices[0].prompt_token_ids); its text is the server's decoded_token.
Logprobs prompt_logprobs(const nlohmann::json& answer);

// Byte offsets in `text` of the tokens of `lp` that spell it: an echoed prompt (legacy shape,
// the generated token after it) or a prompt's own list (prompt shape, whose first token has
// no text). Taken from the tokens' own text where it spells `text` exactly; else, for the
// legacy shape, from text_offset, in bytes (`cai serve`) or in characters (vLLM, OpenAI),
// told apart by where the first token after `text` starts. The result has one offset per
// token of `text`. Throws cai::Error when neither adds up (a server whose tokens decode one
// by one to other text, say).
std::vector<std::size_t> text_token_offsets(const Logprobs& lp, const std::string& text);

}  // namespace cai::http
