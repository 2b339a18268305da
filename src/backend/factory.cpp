// make_backend: the one place that turns BackendOptions into a Backend, and the validation of
// every backend options struct (the CLI and the loop config only fill them).
#include "cai/backend/factory.h"

#include <cmath>
#include <memory>
#include <string>

#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"

namespace cai {
namespace {

constexpr std::int64_t kMaxTopLogprobs = 1 << 20;  // a sanity bound; vocabularies are smaller

}  // namespace

void GenParams::validate() const {
  CAI_CHECK(max_tokens >= 1, "gen params: max_tokens must be >= 1, got {}", max_tokens);
  CAI_CHECK(std::isfinite(temperature) && temperature >= 0.0,
            "gen params: temperature must be >= 0, got {}", temperature);
  CAI_CHECK(top_p > 0.0 && top_p <= 1.0, "gen params: top_p must be in (0, 1], got {}", top_p);
  CAI_CHECK(top_k >= 0, "gen params: top_k must be >= 0, got {}", top_k);
  for (const auto& s : stop) CAI_CHECK(!s.empty(), "gen params: stop strings must not be empty");
}

void LocalBackendOptions::validate() const {
  CAI_CHECK(max_batch >= 1, "local backend: max_batch must be >= 1, got {}", max_batch);
  CAI_CHECK(max_seq_len >= 0, "local backend: max_seq_len must be >= 0 (0 = the model's), got {}",
            max_seq_len);
  CAI_CHECK(threads >= 0, "local backend: threads must be >= 0 (0 = all cores), got {}", threads);
}

void HttpBackendOptions::validate() const {
  CAI_CHECK(!base_urls.empty(), "http backend: base_urls must name at least one server");
  for (const auto& u : base_urls) {
    CAI_CHECK(u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0,
              "http backend: base_url '{}' must start with http:// or https://", u);
    CAI_CHECK(u.find_first_of(" \t\r\n") == std::string::npos,
              "http backend: base_url '{}' must not contain whitespace", u);
  }
  CAI_CHECK(!model.empty(), "http backend: model (the server's model name) must be set");
  CAI_CHECK(concurrency >= 1 && concurrency <= 4096,
            "http backend: concurrency must be in [1, 4096], got {}", concurrency);
  CAI_CHECK(std::isfinite(timeout_s) && timeout_s > 0.0,
            "http backend: timeout_s must be > 0, got {}", timeout_s);
  CAI_CHECK(max_retries >= 0, "http backend: max_retries must be >= 0, got {}", max_retries);
  CAI_CHECK(std::isfinite(backoff_initial_s) && backoff_initial_s >= 0.0,
            "http backend: backoff_initial_s must be >= 0, got {}", backoff_initial_s);
  CAI_CHECK(std::isfinite(backoff_max_s) && backoff_max_s >= backoff_initial_s,
            "http backend: backoff_max_s must be >= backoff_initial_s ({}), got {}",
            backoff_initial_s, backoff_max_s);
  // OpenAI's API caps top_logprobs at 20 and most compatible servers follow it by default;
  // more is for servers configured for it (vLLM --max-logprobs, cai serve --max-top-logprobs).
  CAI_CHECK(top_logprobs >= 1 && top_logprobs <= kMaxTopLogprobs,
            "http backend: top_logprobs must be in [1, {}], got {}", kMaxTopLogprobs, top_logprobs);
}

void BackendOptions::validate() const {
  const bool is_local = !model.empty();
  const bool is_remote = !http.base_urls.empty();
  CAI_CHECK(!(is_local && is_remote),
            "backend: give either a local model (--model) or API base URLs (--api-base), not both");
  CAI_CHECK(is_local || is_remote,
            "backend: give a local model (--model) or an API base URL (--api-base)");
  if (is_local)
    local.validate();
  else
    http.validate();
}

std::unique_ptr<Backend> make_backend(const BackendOptions& opts) {
  opts.validate();
  if (!opts.http.base_urls.empty()) return make_http_backend(opts.http);
  set_torch_threads(opts.local.threads);
  auto lm = std::make_shared<LoadedModel>(load_model(opts.model));
  return make_local_backend(std::move(lm), opts.local);
}

}  // namespace cai
