// Choosing a backend from options (the CLI's --model / --api-* flags and the loop config's
// backend keys map onto BackendOptions; nothing else parses them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cai/backend/backend.h"

namespace cai {

struct LoadedModel;

struct LocalBackendOptions {
  std::int64_t max_batch = 32;   // sequences decoded together
  std::int64_t max_seq_len = 0;  // 0 = the model's context length, capped at 4096 (the
                                 // cache is allocated up front for every slot)
  std::string chat_template;     // override; "" = the tokenizer's, else human-assistant
  int threads = 0;               // 0 = all cores
  bool prefix_cache = true;      // reuse the KV cache of shared prompt prefixes
  void validate() const;
};

struct HttpBackendOptions {
  std::vector<std::string> base_urls;  // "http://host:port/v1"; load is spread over them
  std::string model;                   // the server's model name
  std::string api_key_env =
      "OPENAI_API_KEY";            // environment variable holding the key (may be unset)
  std::int64_t concurrency = 8;    // requests in flight (across all base URLs)
  double timeout_s = 120.0;        // per request
  std::int64_t max_retries = 5;    // on 429, 5xx, timeouts and connection errors
  double backoff_initial_s = 0.5;  // exponential backoff with full jitter, capped
  double backoff_max_s = 20.0;
  std::int64_t top_logprobs = 20;  // asked for when scoring options; OpenAI and most
                                   // servers allow at most 20 unless configured for more
  void validate() const;
};

struct BackendOptions {
  std::string model;        // local model path (directory or .gguf), or
  HttpBackendOptions http;  // used when http.base_urls is non-empty
  LocalBackendOptions local;
  void validate() const;  // exactly one of model / base_urls
};

std::unique_ptr<Backend> make_backend(const BackendOptions& opts);
// A local backend over an already loaded model (shared with other users, e.g. a trainer).
std::unique_ptr<Backend> make_local_backend(std::shared_ptr<LoadedModel> model,
                                            const LocalBackendOptions& opts);
std::unique_ptr<Backend> make_http_backend(const HttpBackendOptions& opts);

}  // namespace cai
