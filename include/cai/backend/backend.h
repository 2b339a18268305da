// One interface for everything that generates or judges text, so every stage runs the same
// against the in-process model and against an OpenAI-compatible server (vLLM, TGI,
// llama.cpp server, Ollama, `cai serve`).
//
// Requests are either raw text (completions: the prompt is sent as is, for base models and the
// CAI paper's transcripts) or chat messages (chat completions: the local backend renders them
// with the model's chat template, a server with its own).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cai/tokenizer/chat_template.h"

namespace cai {

struct GenParams {
  std::int64_t max_tokens = 256;
  double temperature = 0.0;          // 0 = greedy
  double top_p = 1.0;
  std::int64_t top_k = 0;            // 0 = off (servers that lack it ignore it)
  std::vector<std::string> stop;     // stop strings (excluded from the text)
  std::uint64_t seed = 0;            // with the request's stream, fixes its random draws
  void validate() const;
};

struct TextRequest {
  bool chat = false;                  // true: `messages`; false: `prompt`
  std::string prompt;
  std::vector<ChatMessage> messages;
  GenParams params;
  std::uint64_t stream = 0;           // random stream id (the local backend's per-request
                                      // stream; sent to servers as seed ^ mix(stream))
};

struct TextResult {
  std::string text;
  std::string finish_reason;          // "stop" or "length"
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

// The log-probability of each option continuing a prompt. Options may share a common prefix
// (" (A)" / " (B)"): a backend scores what tells them apart. `normalised` holds log p over the
// options only (log softmax across them); `raw` the model's own log-probabilities (a server
// that returns only top log-probs gives -inf for an option outside them; when none of the
// options is present the backend throws cai::Error saying so).
struct OptionScores {
  std::vector<double> raw;
  std::vector<double> normalised;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // What produced the data: a model path or "<base_url> <model>".
  virtual std::string describe() const = 0;
  // Generates for every request (batched / concurrent inside); results in request order.
  // `on_done` (optional) is called with the index of each finished request, for progress.
  virtual std::vector<TextResult> generate(const std::vector<TextRequest>& requests,
                                           const std::function<void(std::size_t)>& on_done = {}) = 0;
  // For each request (its prompt / messages; params ignored), scores of the given options.
  virtual std::vector<OptionScores> score_options(const std::vector<TextRequest>& requests,
                                                  const std::vector<std::string>& options) = 0;
};

}  // namespace cai
