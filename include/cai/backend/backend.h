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

#include "cai/io/options.h"
#include "cai/tokenizer/chat_template.h"

namespace cai {

struct GenParams {
  std::int64_t max_tokens = 256;
  double temperature = 0.0;
  double top_p = 1.0;
  std::int64_t top_k = 0;
  std::vector<std::string> stop;
  std::uint64_t seed = 0;
  static void fields(opt::Fields<GenParams>& f) {
    f("max_tokens", &GenParams::max_tokens, "new tokens at most", opt::min(1));
    f("temperature", &GenParams::temperature, "sampling temperature (0: greedy)", opt::min(0));
    f("top_p", &GenParams::top_p, "nucleus sampling mass", opt::range(0, 1, "(]"));
    f("top_k", &GenParams::top_k, "top-k sampling (0: off; servers that lack it ignore it)",
      opt::min(0));
    f("stop", &GenParams::stop, "stop strings (excluded from the text)",
      opt::each(opt::not_empty()));
    f("seed", &GenParams::seed, "with the request's stream, fixes its random draws");
  }
  void validate() const { opt::validate(*this, "gen params"); }
};

struct TextRequest {
  bool chat = false;  // true: `messages`; false: `prompt`
  std::string prompt;
  std::vector<ChatMessage> messages;
  GenParams params;
  std::uint64_t stream = 0;  // random stream id (the local backend's per-request
                             // stream; sent to servers as seed ^ mix(stream))
};

struct TextResult {
  std::string text;
  std::string finish_reason;  // "stop" or "length"
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

// A judge's reading of its answer options (" (A)" / " (B)", " Yes" / " No"): the log-prob of
// the first token that tells each option apart, after the text the options share, which is
// what a server's top log-probs can give and so what both backends compute:
//  - raw prompts: the options' common text prefix (cut back before trailing whitespace and to
//    a UTF-8 boundary: " (" for " (A)" / " (B)") is appended to the prompt, and an option's
//    score is the log-prob of a next token that starts its remaining text (tokens with and
//    without a leading space both count, summed). The local backend encodes prompt + option
//    for each option, takes the token prefix they all share and scores exactly one token
//    after it per option; two options whose first differing token is the same are an error
//    naming both.
//  - chat requests: chat APIs cannot continue an assistant message portably, so a server is
//    asked for the first reply token (nothing appended); the local backend renders the chat
//    template and proceeds as for raw prompts.
// `raw` holds the model's own log-probabilities (a server that returns only its top n
// log-probs gives -inf for an option outside them; when none of the options is present the
// backend throws cai::Error saying so); `normalised` log p over the options only (log softmax
// across them). Whole multi-token continuations are Backend::loglikelihoods.
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
  virtual std::vector<TextResult> generate(
      const std::vector<TextRequest>& requests,
      const std::function<void(std::size_t)>& on_done = {}) = 0;
  // For each request (its prompt / messages; params ignored), scores of the given options
  // (see OptionScores: the first token that tells them apart).
  virtual std::vector<OptionScores> score_options(const std::vector<TextRequest>& requests,
                                                  const std::vector<std::string>& options) = 0;
  // For each request and each continuation, log p(continuation | prompt) summed over all its
  // tokens: lm-evaluation-harness's loglikelihood, for multiple-choice evaluation. The text
  // prompt + continuation is tokenized as one, and the tokens that start at or after the
  // prompt's last byte (and before the text's end) are the continuation's; a continuation
  // the tokenizer merges wholly into the prompt's last token is an error. Servers compute it
  // from /completions with `echo` (the prompt's own log-probs), so raw prompts only: the HTTP
  // backend rejects chat requests; the local backend renders them with its chat template.
  // result[i][j] is request i, continuation j.
  virtual std::vector<std::vector<double>> loglikelihoods(
      const std::vector<TextRequest>& requests, const std::vector<std::string>& continuations) = 0;
};

}  // namespace cai
