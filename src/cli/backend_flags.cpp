#include "backend_flags.h"

#include <sstream>
#include <vector>

namespace cai::cli {

void add_backend_flags(CLI::App* cmd, BackendOptions& opts, const std::string& prefix,
                       bool model_positional) {
  const std::string p = prefix.empty() ? "--" : "--" + prefix + "-";
  const std::string who = prefix.empty() ? "" : " (" + prefix + ")";
  std::string model_names = p + "model";
  if (model_positional) model_names = "MODEL," + model_names;
  cmd->add_option(model_names, opts.model, "Local model directory or .gguf file" + who);
  cmd->add_option(p + "api-base", opts.http.base_urls,
                  "OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (repeatable or "
                  "comma-separated; load is spread over them)" +
                      who);
  cmd->add_option(p + "api-model", opts.http.model, "The server's model name" + who);
  cmd->add_option(p + "api-key-env", opts.http.api_key_env,
                  "Environment variable holding the API key (sent as a Bearer token)" + who)
      ->capture_default_str();
  cmd->add_option(p + "concurrency", opts.http.concurrency, "Requests in flight" + who)
      ->capture_default_str();
  cmd->add_option(p + "timeout", opts.http.timeout_s, "Seconds per request" + who)
      ->capture_default_str();
  cmd->add_option(p + "max-retries", opts.http.max_retries,
                  "Retries on 429, 5xx, timeouts and connection errors" + who)
      ->capture_default_str();
  cmd->add_option(p + "api-top-logprobs", opts.http.top_logprobs,
                  "Top log-probs asked for when judging options (servers allow 20 unless "
                  "configured for more)" +
                      who)
      ->capture_default_str();
  cmd->add_option(p + "max-batch", opts.local.max_batch,
                  "Local model: sequences decoded together" + who)
      ->capture_default_str();
  cmd->add_option(p + "threads", opts.local.threads,
                  "Local model: intra-op threads (0 = all cores)" + who)
      ->capture_default_str();
  cmd->add_option(p + "chat-template", opts.local.chat_template,
                  "Local model: chat template (chatml, llama3, llama2, human-assistant); "
                  "default: the tokenizer's, else human-assistant" +
                      who);
}

void finish_backend_flags(BackendOptions& opts) {
  std::vector<std::string> urls;
  for (const auto& v : opts.http.base_urls) {
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) urls.push_back(item);
  }
  opts.http.base_urls = std::move(urls);
}

}  // namespace cai::cli
