// `cai serve MODEL`: an OpenAI-compatible server over a local model (see
// include/cai/serve/server.h). Prints "listening on http://HOST:PORT" once it accepts
// connections; SIGTERM or SIGINT stops accepting, finishes the requests in flight and exits 0.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include <pthread.h>

#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/serve/server.h"
#include "command.h"

namespace cai::cli {
namespace cmd_serve {

struct ServeFlags {
  std::string model, api_key_env;
  int threads = 0;
  bool no_prefill_assistant = false;
  serve::ServeOptions opts;
};

void run(const ServeFlags& f) {
  // Signals are taken by sigwait() below; blocked before any thread starts so that every
  // thread (engine, HTTP workers, OpenMP) inherits the mask and none is killed by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  serve::ServeOptions opts = f.opts;
  opts.prefill_assistant = !f.no_prefill_assistant;
  if (!f.api_key_env.empty()) {
    const char* key = std::getenv(f.api_key_env.c_str());
    CAI_CHECK(key && *key, "cai serve: --api-key-env names {}, which is unset or empty",
              f.api_key_env);
    opts.api_key = key;
  }
  opts.validate();
  set_torch_threads(f.threads);
  auto lm = std::make_shared<LoadedModel>(load_model(f.model));
  serve::Server server(lm, opts);
  const int port = server.bind();
  std::printf("listening on http://%s:%d\n", opts.host.c_str(), port);
  std::fflush(stdout);
  std::thread http([&] { server.run(); });
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "cai serve: %s received; finishing %lld request(s) in flight\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", static_cast<long long>(server.in_flight()));
  server.stop();
  http.join();
  std::fprintf(stderr, "cai serve: stopped\n");
}

const Registrar reg(45, [](CLI::App& root) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = root.add_subcommand("serve", "OpenAI-compatible HTTP server over a local model");
  cmd->add_option("MODEL", f->model, "Model directory or .gguf file")->required();
  auto& o = f->opts;
  cmd->add_option("--host", o.host, "Address to bind (loopback by default)")->capture_default_str();
  cmd->add_option("--port", o.port, "Port (0 = pick a free one; the ready line names it)")
      ->capture_default_str();
  cmd->add_option("--model-name", o.model_name,
                  "Name clients use (default: the model's file name)");
  cmd->add_option("--api-key-env", f->api_key_env,
                  "Environment variable holding the API key clients must send as a Bearer token");
  cmd->add_option("--max-body", o.max_body_bytes, "Largest request body in bytes")
      ->capture_default_str();
  cmd->add_option("--max-tokens", o.max_tokens, "Largest max_tokens a request may ask for")
      ->capture_default_str();
  cmd->add_option("--max-concurrent", o.max_concurrent, "Requests served at once; more get 429")
      ->capture_default_str();
  cmd->add_option("--max-batch", o.max_batch, "Sequences decoded together")->capture_default_str();
  cmd->add_option("--max-seq-len", o.max_seq_len,
                  "Prompt + completion tokens (0 = the model's context)")
      ->capture_default_str();
  cmd->add_option("--prefix-cache", o.prefix_cache_slots,
                  "Cache slots keeping finished prompts for prefix reuse (0 = off)")
      ->capture_default_str();
  cmd->add_option("--max-top-logprobs", o.max_top_logprobs,
                  "Most alternative tokens a request may ask log-probs for (OpenAI allows 20)")
      ->capture_default_str();
  cmd->add_option("--max-n", o.max_n, "Most choices (n) one request may ask for")
      ->capture_default_str();
  auto& c = o.connections;
  cmd->add_option("--max-connections", c.max_connections,
                  "Open connections; past it the one waiting longest for its request is closed")
      ->capture_default_str();
  cmd->add_option("--header-timeout", c.header_timeout_s,
                  "Seconds a client has to send a request's headers")
      ->capture_default_str();
  cmd->add_option("--body-timeout", c.body_timeout_s,
                  "Seconds a client has to send a request's body after its headers")
      ->capture_default_str();
  cmd->add_option("--keep-alive-timeout", c.keep_alive_timeout_s,
                  "Seconds an idle keep-alive connection stays open")
      ->capture_default_str();
  cmd->add_option("--keep-alive-max", c.keep_alive_max, "Requests per keep-alive connection")
      ->capture_default_str();
  cmd->add_option("--chat-template", o.chat_template,
                  "Chat template (chatml, llama3, llama2, human-assistant); default: the "
                  "tokenizer's, else human-assistant");
  cmd->add_flag("--no-prefill-assistant", f->no_prefill_assistant,
                "Answer a chat ending with an assistant message in a new turn, instead of "
                "continuing that message");
  cmd->add_option("--threads", f->threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_serve
}  // namespace cai::cli
