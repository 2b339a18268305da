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
void HttpBackendOptions::rules(opt::Rules& r) const {
  for (const auto& u : base_urls) {
    r.require(u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0, "base_url",
              fmt::format("'{}' must start with http:// or https://", u));
    r.require(u.find_first_of(" \t\r\n") == std::string::npos, "base_url",
              fmt::format("'{}' must not contain whitespace", u));
  }
  r.require(base_urls.empty() || !model.empty(), "model",
            "the server's model name must be set with base_url");
  r.require(backoff_max_s >= backoff_initial_s, "backoff_max_s",
            fmt::format("must be >= backoff_initial_s ({})", backoff_initial_s));
}

void HttpBackendOptions::validate() const {
  CAI_CHECK(given(), "http backend: base_url: no server given (base_urls is empty)");
  opt::validate(*this, "http backend");
}

void BackendOptions::rules(opt::Rules& r) const {
  const bool is_local = !model.empty(), is_remote = http.given();
  r.require(!(is_local && is_remote), "model",
            "give either a local model (--model) or API base URLs (--api-base), not both");
  r.require(is_local || is_remote, "model",
            "give a local model (--model) or an API base URL (--api-base)");
}

std::unique_ptr<Backend> make_backend(const BackendOptions& opts) {
  opts.validate();
  if (!opts.http.base_urls.empty()) return make_http_backend(opts.http);
  set_torch_threads(opts.local.threads);
  auto lm = std::make_shared<LoadedModel>(load_model(opts.model));
  return make_local_backend(std::move(lm), opts.local);
}

}  // namespace cai
