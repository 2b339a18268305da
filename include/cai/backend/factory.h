// Choosing a backend from options (the CLI's --model / --api-* flags and the loop config's
// backend keys map onto BackendOptions; nothing else parses them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cai/backend/backend.h"
#include "cai/io/options.h"

namespace cai {

struct LoadedModel;

struct LocalBackendOptions {
  std::int64_t max_batch = 32;
  std::int64_t max_seq_len = 0;  // the cache is allocated up front for every slot
  std::string chat_template;
  int threads = 0;
  bool prefix_cache = true;
  static void fields(opt::Fields<LocalBackendOptions>& f) {
    using O = LocalBackendOptions;
    f("max_batch", &O::max_batch, "local model: sequences decoded together", opt::min(1));
    f("max_seq_len", &O::max_seq_len,
      "local model: tokens per sequence (0: the model's context, at most 4096)", opt::min(0));
    f("chat_template", &O::chat_template,
      "local model: chat template (chatml, llama3, llama2, human-assistant; \"\": the "
      "tokenizer's, else human-assistant)");
    f("threads", &O::threads, "local model: intra-op threads (0: all cores)", opt::min(0));
    f("prefix_cache", &O::prefix_cache, "local model: reuse the KV cache of shared prefixes");
  }
  void validate() const { opt::validate(*this, "local backend"); }
};

struct HttpBackendOptions {
  std::vector<std::string> base_urls;  // load is spread over them
  std::string model;
  std::string api_key_env = "OPENAI_API_KEY";  // may be unset
  std::int64_t concurrency = 8;                // across all base URLs
  double timeout_s = 120.0;
  std::int64_t max_retries = 5;
  double backoff_initial_s = 0.5;  // exponential backoff with full jitter, capped
  double backoff_max_s = 20.0;
  // OpenAI and most servers allow at most 20 unless configured for more (vLLM
  // --max-logprobs, cai serve --max-top-logprobs).
  std::int64_t top_logprobs = 20;
  static void fields(opt::Fields<HttpBackendOptions>& f) {
    using O = HttpBackendOptions;
    f("base_url", &O::base_urls,
      "OpenAI-compatible base URLs, e.g. http://127.0.0.1:8000/v1 (load is spread over them)")
        .flag_name("api-base");
    f("model", &O::model, "the server's model name").flag_name("api-model");
    f("api_key_env", &O::api_key_env,
      "environment variable holding the API key (sent as a Bearer token)");
    f("concurrency", &O::concurrency, "requests in flight", opt::range(1, 4096));
    f("timeout_s", &O::timeout_s, "seconds per request", opt::above(0)).flag_name("timeout");
    f("max_retries", &O::max_retries, "retries on 429, 5xx, timeouts and connection errors",
      opt::min(0));
    f("backoff_initial_s", &O::backoff_initial_s, "first retry delay in seconds", opt::min(0));
    f("backoff_max_s", &O::backoff_max_s, "longest retry delay in seconds", opt::min(0));
    f("top_logprobs", &O::top_logprobs,
      "top log-probs asked for when judging options (the answers must be among them)",
      opt::range(1, 1 << 20))
        .flag_name("api-top-logprobs");
  }
  void rules(opt::Rules& r) const;  // URLs well formed, a model name with them
  void validate() const;            // the rules, and at least one base URL
  bool given() const { return !base_urls.empty(); }
};

// A local model, or servers (http.base_urls): exactly one.
struct BackendOptions {
  std::string model;  // local model path (directory or .gguf)
  HttpBackendOptions http;
  LocalBackendOptions local;
  static void fields(opt::Fields<BackendOptions>& f) {
    f("model", &BackendOptions::model, "local model directory or .gguf file");
    f.flat(&BackendOptions::http);
    f.flat(&BackendOptions::local);
  }
  void rules(opt::Rules& r) const;
  void validate() const { opt::validate(*this, "backend"); }
};

std::unique_ptr<Backend> make_backend(const BackendOptions& opts);
// A local backend over an already loaded model (shared with other users, e.g. a trainer).
std::unique_ptr<Backend> make_local_backend(std::shared_ptr<LoadedModel> model,
                                            const LocalBackendOptions& opts);
std::unique_ptr<Backend> make_http_backend(const HttpBackendOptions& opts);

}  // namespace cai
