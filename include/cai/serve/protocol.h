// The OpenAI wire format `cai serve` speaks: request bodies of /v1/completions and
// /v1/chat/completions parsed and checked (wrong types and values become ApiError with the
// HTTP status and OpenAI's error type and code), and responses, stream chunks and error bodies
// built. Pure JSON: no model, no sockets, so it is tested on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/tokenizer/chat_template.h"

namespace cai::serve {

// An error answered to the client: {"error": {"message", "type", "code"}} with `status`.
class ApiError : public Error {
 public:
  ApiError(int status, std::string type, std::string code, const std::string& message)
      : Error(message), status(status), type(std::move(type)), code(std::move(code)) {}
  int status;
  std::string type;  // "invalid_request_error", "authentication_error", ...
  std::string code;  // "invalid_json", "invalid_value", "model_not_found", ...
};

nlohmann::json error_body(const std::string& message, const std::string& type,
                          const std::string& code);

enum class Endpoint { completions, chat };

struct ApiRequest {
  Endpoint endpoint = Endpoint::completions;
  std::string model;   // "" when the client left it out
  std::string prompt;  // completions: the text, unless prompt_ids is set
  std::optional<std::vector<std::int32_t>> prompt_ids;  // completions: a token-id prompt
  std::vector<ChatMessage> messages;                    // chat
  std::optional<std::int64_t> max_tokens;  // absent: the server's default for the endpoint;
                                           // 0 only with echo (score the prompt, generate nothing)
  double temperature = 1.0;                // OpenAI's defaults
  double top_p = 1.0;
  std::int64_t top_k = 0;  // extension (vLLM, llama.cpp): 0 = off
  std::optional<std::uint64_t> seed;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool logprobs = false;          // per-token log-probs wanted
  std::int64_t top_logprobs = 0;  // and the n most likely alternatives
                                  // (0..max_top_logprobs of parse_request)
  bool echo = false;              // completions: the text and log-probs start with the
                                  // prompt's (its first token's log-prob is null)
  bool ignore_eos = false;        // extension (vLLM): generate max_tokens tokens
  std::int64_t n = 1;             // choices to generate (the server bounds it)
};

// Throws ApiError (400) naming the field for malformed JSON, wrong types and bad values;
// `max_top_logprobs` bounds the alternatives a request may ask for (OpenAI allows 20).
ApiRequest parse_request(const std::string& body, Endpoint endpoint,
                         std::int64_t max_top_logprobs = 20);

// One token for the logprobs fields.
struct TokenLogprob {
  std::string text;
  std::optional<float> logprob;                    // null: an echoed prompt's first token
  std::vector<std::pair<std::string, float>> top;  // most likely first
  std::optional<std::size_t> text_offset;          // byte offset in the returned text; unset:
                                                   // right after the previous token
};

struct Usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

// Identity of one response (shared by all its stream chunks).
struct ResponseMeta {
  std::string id;  // "cmpl-..." / "chatcmpl-..."
  std::int64_t created = 0;
  std::string model;
};

// One choice of a whole response; choices[i].index is its position.
struct Choice {
  std::string text;
  std::string finish_reason;
  std::optional<std::vector<TokenLogprob>> logprobs;  // absent: "logprobs": null
};

// A whole (non-streamed) response.
nlohmann::json make_response(Endpoint endpoint, const ResponseMeta& meta,
                             const std::vector<Choice>& choices, const Usage& usage);

// One stream chunk of choice `index`; `finish_reason` empty while generating; `first` adds
// the chat role.
nlohmann::json make_chunk(Endpoint endpoint, const ResponseMeta& meta, std::int64_t index,
                          const std::string& delta, const std::string& finish_reason, bool first,
                          const std::vector<TokenLogprob>* logprobs);

// The final usage-only chunk of a stream when stream_options.include_usage.
nlohmann::json make_usage_chunk(Endpoint endpoint, const ResponseMeta& meta, const Usage& usage);

// "data: <json>\n\n" (invalid UTF-8 from partial tokens replaced, never thrown on).
std::string sse_event(const nlohmann::json& j);
std::string dump(const nlohmann::json& j);

}  // namespace cai::serve
