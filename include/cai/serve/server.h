// `cai serve`: an OpenAI-compatible HTTP server over a local model. Request threads parse and
// tokenize; one engine thread drives cai::Engine, so concurrent requests are decoded together
// (continuous batching) and each request receives its tokens through callbacks.
//
// Endpoints: GET /health (status and counters), GET /v1/models, POST /v1/completions (with
// `echo`: the prompt's own log-probs, for log-likelihood scoring; `max_tokens` 0 then
// generates nothing), POST /v1/chat/completions (stream: server-sent events ending with
// "data: [DONE]"). Both take `n` choices (up to max_n), decoded together, choice i with
// seed + i; usage counts every choice's tokens. Errors are OpenAI-style JSON bodies: 400
// malformed (a prompt longer than the context included), 401 unauthorised, 404 unknown model
// or route, 408 a request not received in time, 413 body too large, 429 too many sequences in
// flight, 500 when the engine fails (the requests it was serving fail; a fresh engine serves
// the next ones), 503 at the connection cap. A client that disconnects cancels its generation
// at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace cai {

struct LoadedModel;

namespace serve {

// How long clients may take and how many connections may be open, so that slow or idle
// clients cannot starve the server (src/serve/connections.h has the mechanism).
struct ConnectionLimits {
  std::int64_t max_connections = 512;  // open connections; past it a new one takes the place of
                                       // the one waiting longest for its request, else 503
  double header_timeout_s = 10.0;      // request line and headers, from their first byte
  double body_timeout_s = 30.0;        // the body, from the end of the headers; else 408
  double keep_alive_timeout_s = 5.0;   // idle time between two requests of a connection
  std::int64_t keep_alive_max = 100;   // requests per connection
  double write_timeout_s = 10.0;       // a response write making no progress this long fails
  std::int64_t max_header_bytes = 64 << 10;  // request line + headers; more gets 431
  void validate() const;
};

struct ServeOptions {
  std::string host = "127.0.0.1";  // loopback only unless asked
  int port = 8000;                 // 0 = any free port (see Server::bind)
  std::string model_name;          // the name clients use; "" = the model path's file name
  std::string api_key;             // "" = no authentication; else "Authorization: Bearer KEY"
  std::int64_t max_body_bytes = 4 << 20;  // larger bodies get 413
  std::int64_t max_tokens = 4096;         // cap on a request's max_tokens (and the chat default)
  std::int64_t max_concurrent = 256;      // generation requests being served; more get 429
  std::int64_t max_batch = 32;            // sequences decoded together by the engine
  std::int64_t max_seq_len = 0;           // prompt + completion tokens; 0 = the model's context
  std::int64_t prefix_cache_slots = 0;    // engine slots keeping finished prompts for reuse
  std::string chat_template;              // "" = the tokenizer's, else human-assistant
  // A chat ending with an assistant message is continued from it (the reply is the rest),
  // as llama.cpp's server does; false: that message is a closed turn and a new one begins.
  bool prefill_assistant = true;
  std::int64_t max_top_logprobs = 20;  // most alternatives a request may ask for (`logprobs`,
                                       // `top_logprobs`); OpenAI's limit by default
  std::int64_t max_n = 8;              // most choices (`n`) one request may ask for; each
                                       // takes one of the max_concurrent places
  ConnectionLimits connections;
  void validate() const;
};

class Server {
 public:
  // The model (with its tokenizer) is shared with the caller and must stay loaded.
  Server(std::shared_ptr<LoadedModel> model, ServeOptions opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: a free one) and returns the port. Throws cai::Error on failure.
  int bind();
  // Serves until stop(); returns once in-flight requests have been answered.
  void run();
  // Stops accepting connections; run() returns after finishing what is in flight. Thread-safe.
  void stop();

  const std::string& model_name() const;
  std::int64_t in_flight() const;  // generation requests being served

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace serve
}  // namespace cai
