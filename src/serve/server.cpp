#include "cai/serve/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>

#include <sys/socket.h>

#include "cai/generate/chat.h"
#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/serve/protocol.h"
#include "connections.h"
#include "engine_loop.h"
#include "logprobs.h"

namespace cai::serve {

void ServeOptions::validate() const {
  CAI_CHECK(!host.empty(), "serve: host must not be empty");
  CAI_CHECK(port >= 0 && port <= 65535, "serve: port must be in [0, 65535], got {}", port);
  CAI_CHECK(max_body_bytes >= 1024, "serve: max_body_bytes must be >= 1024, got {}",
            max_body_bytes);
  CAI_CHECK(max_tokens >= 1, "serve: max_tokens must be >= 1, got {}", max_tokens);
  CAI_CHECK(max_concurrent >= 1 && max_concurrent <= 4096,
            "serve: max_concurrent must be in [1, 4096], got {}", max_concurrent);
  CAI_CHECK(max_batch >= 1, "serve: max_batch must be >= 1, got {}", max_batch);
  CAI_CHECK(max_seq_len >= 0, "serve: max_seq_len must be >= 0 (0 = the model's), got {}",
            max_seq_len);
  CAI_CHECK(prefix_cache_slots >= 0, "serve: prefix_cache_slots must be >= 0, got {}",
            prefix_cache_slots);
  CAI_CHECK(max_top_logprobs >= 0 && max_top_logprobs <= (1 << 20),
            "serve: max_top_logprobs must be in [0, {}], got {}", 1 << 20, max_top_logprobs);
  CAI_CHECK(max_n >= 1, "serve: max_n must be >= 1, got {}", max_n);
  connections.validate();
}

namespace {

using nlohmann::json;

void send_error(httplib::Response& res, int status, const std::string& type,
                const std::string& code, const std::string& message) {
  res.status = status;
  res.set_content(dump(error_body(message, type, code)), "application/json");
}

const char* finish_name(FinishReason r) { return r == FinishReason::length ? "length" : "stop"; }

// The most alternatives the engine records per decoded token (SamplingOptions::validate);
// longer lists, and echoed prompts, are computed by a teacher-forced pass (logprobs.h).
constexpr std::int64_t kEngineTopLogprobs = 20;

// What one request's callbacks (engine thread) hand to its HTTP thread: its n choices'
// tokens (streamed requests only) and results.
struct Pending {
  explicit Pending(std::size_t n, bool stream) : stream(stream), results(n) {}
  std::mutex mu;
  std::condition_variable cv;
  const bool stream;
  std::deque<std::pair<std::size_t, TokenEvent>> events;  // (choice, token)
  std::vector<std::optional<GenerationResult>> results;   // by choice
  std::size_t finished = 0;
  std::optional<std::string> error;  // the engine failed while serving it
  bool over() const { return finished == results.size() || error.has_value(); }
};

// How often a handler waiting for tokens looks whether its client is still there.
constexpr auto kClientCheck = std::chrono::milliseconds(50);

ApiError engine_error(const std::string& message) {
  return ApiError(500, "server_error", "engine_error", "the engine failed: " + message);
}

// Holds a request's places among the max_concurrent (one per choice) while it is served.
struct Place {
  Place(std::atomic<std::int64_t>& n, std::int64_t k) : n(n), k(k) {}
  ~Place() { n -= k; }
  std::atomic<std::int64_t>& n;
  std::int64_t k;
};

}  // namespace

struct Server::Impl {
  std::shared_ptr<LoadedModel> model;
  ServeOptions opts;
  const Tokenizer* tok = nullptr;
  ChatTemplate tmpl;
  std::string name;
  std::unique_ptr<EngineLoop> loop;
  GuardedServer http;
  std::atomic<std::int64_t> in_flight = 0;
  std::atomic<std::uint64_t> next_id = 0;
  std::uint64_t seed_base = std::random_device{}();
  int port = -1;
  int listen_fd = -1;  // the listening socket, to widen its backlog after bind

  static ServeOptions checked(ServeOptions o) {
    o.validate();
    return o;
  }

  Impl(std::shared_ptr<LoadedModel> m, ServeOptions o)
      : model(std::move(m)),
        opts(checked(std::move(o))),
        tmpl(ChatTemplate::by_name("human-assistant")),
        // One thread per request that may be in flight (each waits on its generation), plus
        // a few so that requests over the limit still get their 429.
        http(opts.connections, opts.max_body_bytes,
             static_cast<std::size_t>(opts.max_concurrent + 8)) {
    CAI_CHECK(model && model->model, "serve: no model loaded");
    CAI_CHECK(model->tokenizer.has_value(),
              "serve: {}: the model carries no tokenizer; cai serve needs one",
              model->source.string());
    tok = &*model->tokenizer;
    tmpl = pick_chat_template(tok, opts.chat_template);
    name = opts.model_name;
    if (name.empty()) {
      std::filesystem::path p = model->source;
      if (p.filename().empty()) p = p.parent_path();
      name = p.has_extension() ? p.stem().string() : p.filename().string();
      if (name.empty()) name = "cai";
    }
    EngineOptions eo;
    eo.max_batch = opts.max_batch;
    eo.max_seq_len = opts.max_seq_len == 0
                         ? model->config.max_position_embeddings
                         : std::min(opts.max_seq_len, model->config.max_position_embeddings);
    eo.prefix_cache_slots = opts.prefix_cache_slots;
    loop = std::make_unique<EngineLoop>(
        [m = model, eo, t = tok] { return std::make_unique<Engine>(*m->model, eo, t); });
    routes();
  }

  // Whether a request's log-probs come from a teacher-forced pass rather than the engine.
  static bool rescored(const ApiRequest& a) {
    return a.logprobs && (a.echo || a.top_logprobs > kEngineTopLogprobs);
  }

  // The logprobs entries of a finished request from a teacher-forced pass on the engine
  // thread (logprobs.h); its failure is a 500.
  std::vector<TokenLogprob> rescore(const ApiRequest& a, const std::vector<std::int32_t>& prompt,
                                    const std::string& prompt_text, const GenerationResult& r) {
    std::vector<std::int32_t> full = prompt;
    full.insert(full.end(), r.tokens.begin(), r.tokens.end());
    const std::size_t from = a.echo ? 1 : prompt.size();
    const std::int64_t top = a.top_logprobs;
    PositionLogprobs ps;
    try {
      ps = loop->call(
          [m = model, &full, from, top] { return score_positions(*m->model, full, from, top); });
    } catch (const std::exception& e) {
      throw engine_error(e.what());
    }
    return rescored_entries(*tok, prompt, prompt_text, r.tokens, a.echo, ps);
  }

  std::shared_ptr<Place> take_places(std::int64_t k) {
    if ((in_flight += k) > opts.max_concurrent) {
      in_flight -= k;
      throw ApiError(429, "rate_limit_error", "too_many_requests",
                     fmt::format("the server is serving its limit of {} sequences; retry later",
                                 opts.max_concurrent));
    }
    return std::make_shared<Place>(in_flight, k);
  }

  // The text of a prompt given as token ids: its tokens' bytes.
  std::string ids_text(const std::vector<std::int32_t>& ids) const {
    std::string t;
    for (const auto id : ids) t += tok->token_bytes(id);
    return t;
  }

  // A chat's prompt tokens: with a final assistant message (and prefill_assistant), the
  // generation prompt, then that message tokenised on its own, as training reads a given start.
  std::vector<std::int32_t> encode_chat(const std::vector<ChatMessage>& messages) const {
    if (!opts.prefill_assistant)
      return tok->encode_prompt(tmpl.render(messages, /*add_generation_prompt=*/true));
    const auto c = tmpl.render_continued(messages);
    return tok->encode_prompt(c.prompt, c.prefill);
  }

  GenerationRequest build(const ApiRequest& a) const {
    if (!a.model.empty() && a.model != name)
      throw ApiError(
          404, "invalid_request_error", "model_not_found",
          fmt::format("the model '{}' does not exist; this server serves '{}'", a.model, name));
    GenerationRequest g;
    SamplingOptions& s = g.sampling;
    if (a.endpoint == Endpoint::chat) {
      g.prompt = encode_chat(a.messages);
      s.stop = tmpl.stop_strings();
    } else if (a.prompt_ids) {
      g.prompt = *a.prompt_ids;
      // Checked here too: an echo with max_tokens 0 never reaches the engine's own check.
      const std::int64_t V = tok->vocab_size();
      for (const auto id : g.prompt)
        if (id >= V)
          throw ApiError(
              400, "invalid_request_error", "invalid_value",
              fmt::format("'prompt' token id {} is outside the vocabulary of {}", id, V));
    } else {
      g.prompt = tok->encode_prompt(a.prompt);
    }
    if (g.prompt.empty())
      throw ApiError(400, "invalid_request_error", "invalid_value",
                     "the prompt is empty after tokenization");
    const std::int64_t max_tokens =
        a.max_tokens.value_or(a.endpoint == Endpoint::completions ? 16 : opts.max_tokens);
    if (max_tokens > opts.max_tokens)
      throw ApiError(400, "invalid_request_error", "invalid_value",
                     fmt::format("'max_tokens' is {}; this server allows at most {}", max_tokens,
                                 opts.max_tokens));
    const std::int64_t ctx = loop->options().max_seq_len;
    if (static_cast<std::int64_t>(g.prompt.size()) >= ctx)
      throw ApiError(
          400, "invalid_request_error", "context_length_exceeded",
          fmt::format("the prompt has {} tokens; the context holds {}", g.prompt.size(), ctx));
    s.max_new_tokens = max_tokens;  // the engine stops at the end of the context
    s.temperature = a.temperature;
    s.top_p = a.top_p;
    s.top_k = a.top_k;
    s.seed = a.seed ? *a.seed : splitmix64(seed_base ^ (next_id.load() * 0x9e3779b97f4a7c15ULL));
    for (const auto& x : a.stop) s.stop.push_back(x);
    s.ignore_eos = a.ignore_eos;
    if (rescored(a) && a.stream)
      throw ApiError(
          400, "invalid_request_error", "invalid_value",
          fmt::format("more than {} top log-probs cannot be streamed", kEngineTopLogprobs));
    // Log-probs a teacher-forced pass computes afterwards are not asked of the engine.
    s.logprobs = a.logprobs && !rescored(a);
    s.top_logprobs = s.logprobs ? a.top_logprobs : 0;
    g.stream = 0;  // the seed alone fixes the draws: the same request gives the same answer
    return g;
  }

  void generate(const httplib::Request& req, httplib::Response& res, Endpoint ep) {
    const ApiRequest a = parse_request(req.body, ep, opts.max_top_logprobs);
    // Each choice takes one of the max_concurrent places.
    const std::int64_t max_n = std::min(opts.max_n, opts.max_concurrent);
    if (a.n > max_n)
      throw ApiError(400, "invalid_request_error", "invalid_value",
                     fmt::format("'n' is {}; this server allows at most {}", a.n, max_n));
    auto place = take_places(a.n);
    const GenerationRequest g = build(a);
    const std::vector<std::int32_t>& prompt = g.prompt;
    const auto n = static_cast<std::size_t>(a.n);
    auto st = std::make_shared<Pending>(n, a.stream);
    ResponseMeta meta;
    meta.id = fmt::format("{}-{}", ep == Endpoint::chat ? "chatcmpl" : "cmpl", next_id++);
    meta.created = static_cast<std::int64_t>(std::time(nullptr));
    meta.model = name;
    std::vector<RequestId> ids;
    if (a.max_tokens.value_or(1) == 0) {
      // Echo only: the prompt is scored, nothing is generated.
      for (auto& r : st->results) {
        r.emplace();
        r->prompt_tokens = static_cast<std::int64_t>(prompt.size());
      }
      st->finished = n;
    } else {
      ids = submit_choices(g, st);
    }
    if (a.stream) return stream(res, ep, a, meta, st, std::move(ids), place);

    std::vector<GenerationResult> results;
    {
      std::unique_lock lock(st->mu);
      while (!st->over()) {
        if (client_gone()) {
          lock.unlock();
          for (const auto id : ids) loop->cancel(id);  // nobody is left to answer
          return;
        }
        st->cv.wait_for(lock, kClientCheck);
      }
      if (st->error) throw engine_error(*st->error);
      for (auto& r : st->results) results.push_back(std::move(*r));
    }
    const std::string prompt_text = a.echo && a.prompt_ids ? ids_text(prompt) : a.prompt;
    std::vector<Choice> choices;
    Usage usage{results[0].prompt_tokens, 0};
    for (const auto& r : results) {
      Choice c{a.echo ? prompt_text + r.text : r.text, finish_name(r.finish), std::nullopt};
      if (rescored(a)) {
        c.logprobs = rescore(a, prompt, prompt_text, r);
      } else if (a.logprobs) {
        c.logprobs.emplace();
        for (std::size_t k = 0; k < r.tokens.size(); ++k)
          c.logprobs->push_back(
              token_entry(*tok, r.tokens[k], k < r.logprobs.size() ? r.logprobs[k] : 0.0f,
                          k < r.top_logprobs.size() ? &r.top_logprobs[k] : nullptr));
      }
      usage.completion_tokens += static_cast<std::int64_t>(r.tokens.size());
      choices.push_back(std::move(c));
    }
    res.set_content(dump(make_response(ep, meta, choices, usage)), "application/json");
  }

  // Submits the request's n choices together, choice i with seed + i (so each equals the
  // same request with n = 1 and that seed), their tokens and results landing in `st`.
  std::vector<RequestId> submit_choices(const GenerationRequest& g,
                                        const std::shared_ptr<Pending>& st) {
    std::vector<RequestId> ids;
    auto on_error = [st](const std::string& message) {
      std::lock_guard lock(st->mu);
      st->error = message;
      st->cv.notify_all();
    };
    for (std::size_t i = 0; i < st->results.size(); ++i) {
      GenerationRequest gi = g;
      gi.sampling.seed = g.sampling.seed + i;
      gi.on_token = [st, i](const TokenEvent& ev) {
        if (!st->stream) return;
        std::lock_guard lock(st->mu);
        st->events.emplace_back(i, ev);
        st->cv.notify_all();
      };
      gi.on_finish = [st, i](const GenerationResult& r) {
        std::lock_guard lock(st->mu);
        st->results[i] = r;
        ++st->finished;
        st->cv.notify_all();
      };
      try {
        ids.push_back(loop->submit(std::move(gi), on_error));
      } catch (const ApiError&) {
        for (const auto id : ids) loop->cancel(id);
        throw;
      } catch (const Error& e) {
        for (const auto id : ids) loop->cancel(id);
        throw ApiError(400, "invalid_request_error", "invalid_value", e.what());
      }
    }
    return ids;
  }

  // Server-sent events: a chunk per token of each choice (text deltas as the engine releases
  // them, with the choice's index), a last chunk per choice with its finish reason, optional
  // usage, then [DONE]. A client that goes away cancels its choices at once: the handler
  // looks every kClientCheck while it waits for tokens.
  void stream(httplib::Response& res, Endpoint ep, const ApiRequest& a, const ResponseMeta& meta,
              const std::shared_ptr<Pending>& st, std::vector<RequestId> ids,
              const std::shared_ptr<Place>& place) {
    struct StreamState {
      explicit StreamState(std::size_t n) : sent(n), reported(n, false) {}
      bool started = false, finished = false;
      std::vector<std::string> sent;  // text streamed so far, by choice
      std::vector<bool> reported;     // finish chunk written, by choice
      std::size_t reported_count = 0;
      Usage usage;
    };
    auto ss = std::make_shared<StreamState>(st->results.size());
    const bool want_lp = a.logprobs, usage = a.include_usage;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, ep, meta, st, ss, want_lp, usage, place](std::size_t, httplib::DataSink& sink) {
          std::deque<std::pair<std::size_t, TokenEvent>> events;
          std::vector<std::pair<std::size_t, GenerationResult>> done;
          std::optional<std::string> error;
          {
            std::unique_lock lock(st->mu);
            const auto ready = [&] {
              return !st->events.empty() || st->finished > ss->reported_count || st->error;
            };
            if (!st->cv.wait_for(lock, kClientCheck, ready)) {
              lock.unlock();
              return sink.is_writable();  // false: the client left, the release cancels
            }
            events.swap(st->events);
            for (std::size_t i = 0; i < st->results.size(); ++i)
              if (st->results[i] && !ss->reported[i]) done.emplace_back(i, *st->results[i]);
            error = st->error;
          }
          if (error) {
            // Headers are gone already: the error travels as an event, as OpenAI's does.
            const ApiError e = engine_error(*error);
            const std::string out =
                sse_event(error_body(e.what(), e.type, e.code)) + "data: [DONE]\n\n";
            ss->finished = true;
            sink.write(out.data(), out.size());
            sink.done();
            return true;
          }
          std::string out;
          if (!ss->started && ep == Endpoint::chat)
            for (std::size_t i = 0; i < ss->sent.size(); ++i)
              out += sse_event(
                  make_chunk(ep, meta, static_cast<std::int64_t>(i), "", "", true, nullptr));
          ss->started = true;
          for (const auto& [i, ev] : events) {
            ss->sent[i] += ev.text;
            if (ev.text.empty() && !want_lp) continue;
            std::vector<TokenLogprob> lp;
            if (want_lp) lp.push_back(token_entry(*tok, ev.token, ev.logprob, &ev.top));
            out += sse_event(make_chunk(ep, meta, static_cast<std::int64_t>(i), ev.text, "", false,
                                        want_lp ? &lp : nullptr));
          }
          for (const auto& [i, r] : done) {
            // Whatever the engine held back and released only in its result.
            std::string rest;
            const std::string& sent = ss->sent[i];
            if (r.text.size() > sent.size() && r.text.rfind(sent, 0) == 0)
              rest = r.text.substr(sent.size());
            out += sse_event(make_chunk(ep, meta, static_cast<std::int64_t>(i), rest,
                                        finish_name(r.finish), false, nullptr));
            ss->reported[i] = true;
            ++ss->reported_count;
            ss->usage.prompt_tokens = r.prompt_tokens;
            ss->usage.completion_tokens += static_cast<std::int64_t>(r.tokens.size());
          }
          const bool last = ss->reported_count == ss->sent.size();
          if (last) {
            if (usage) out += sse_event(make_usage_chunk(ep, meta, ss->usage));
            out += "data: [DONE]\n\n";
          }
          if (!out.empty() && !sink.write(out.data(), out.size())) return false;
          if (last) {
            ss->finished = true;
            sink.done();
          }
          return true;
        },
        [this, ss, ids = std::move(ids)](bool) {
          if (!ss->finished)
            for (const auto id : ids) loop->cancel(id);
        });
  }

  bool authorised(const httplib::Request& req) const {
    if (opts.api_key.empty()) return true;
    const std::string want = "Bearer " + opts.api_key;
    const std::string got = req.get_header_value("Authorization");
    // Compared without an early exit so the time taken does not reveal the key's prefix.
    unsigned diff = got.size() != want.size();
    for (std::size_t i = 0; i < want.size(); ++i)
      diff |= static_cast<unsigned char>(want[i]) ^
              static_cast<unsigned char>(i < got.size() ? got[i] : 0);
    return diff == 0;
  }

  void routes() {
    // Small responses must not wait for delayed ACKs (Nagle): one client would see ~40 ms each.
    http.set_tcp_nodelay(true);
    http.set_socket_options([this](socket_t sock) {
      httplib::default_socket_options(sock);
      if (listen_fd < 0) listen_fd = sock;  // the first socket made is the listening one
    });
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path != "/health" && !authorised(req)) {
        send_error(res, 401, "authentication_error", "invalid_api_key",
                   "missing or wrong API key (send \"Authorization: Bearer KEY\")");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // Errors httplib raises itself (unknown route, body too large, bad HTTP) get JSON bodies.
    http.set_error_handler(
        httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          const int s = res.status;
          const std::string code = s == 404   ? "not_found"
                                   : s == 413 ? "payload_too_large"
                                              : "bad_request";
          const std::string msg = s == 404   ? "no such route"
                                  : s == 413 ? "the request body is too large"
                                             : fmt::format("HTTP {}", s);
          send_error(res, s, s >= 500 ? "server_error" : "invalid_request_error", code, msg);
          return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          try {
            std::rethrow_exception(ep);
          } catch (const ApiError& e) {
            send_error(res, e.status, e.type, e.code, e.what());
            if (e.status == 429) res.set_header("Retry-After", "1");
          } catch (const Error& e) {
            send_error(res, 400, "invalid_request_error", "invalid_value", e.what());
          } catch (const std::exception& e) {
            send_error(res, 500, "server_error", "internal_error", e.what());
          } catch (...) {
            send_error(res, 500, "server_error", "internal_error", "unknown error");
          }
        });
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      const ConnectionStats c = http.stats();
      res.set_content(dump({{"status", "ok"},
                            {"model", name},
                            {"in_flight", in_flight.load()},
                            {"active_sequences", loop->active()},
                            {"cancelled", loop->cancelled()},
                            {"engine_restarts", loop->restarts()},
                            {"connections",
                             {{"open", c.open},
                              {"accepted", c.accepted},
                              {"requests", c.requests},
                              {"timed_out", c.timed_out},
                              {"evicted", c.evicted},
                              {"refused", c.refused}}}}),
                      "application/json");
    });
    auto models = [this](const httplib::Request&, httplib::Response& res) {
      json m = {{"id", name},
                {"object", "model"},
                {"created", 0},
                {"owned_by", "cai"},
                {"max_model_len", loop->options().max_seq_len}};
      res.set_content(dump({{"object", "list"}, {"data", json::array({m})}}), "application/json");
    };
    http.Get("/v1/models", models);
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      generate(req, res, Endpoint::completions);
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      generate(req, res, Endpoint::chat);
    });
  }
};

Server::Server(std::shared_ptr<LoadedModel> model, ServeOptions opts)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(opts))) {}

Server::~Server() { stop(); }

int Server::bind() {
  auto& i = *impl_;
  if (i.opts.port == 0) {
    i.port = i.http.bind_to_any_port(i.opts.host);
    CAI_CHECK(i.port > 0, "serve: cannot bind {} on any port", i.opts.host);
  } else {
    CAI_CHECK(i.http.bind_to_port(i.opts.host, i.opts.port), "serve: cannot bind {}:{} (in use?)",
              i.opts.host, i.opts.port);
    i.port = i.opts.port;
  }
  // httplib listens with a backlog of 5: a burst of clients overflows it and the kernel drops
  // their handshakes. Listening again on the bound socket only widens the queue.
  if (i.listen_fd >= 0) ::listen(i.listen_fd, SOMAXCONN);
  return i.port;
}

void Server::run() {
  CAI_CHECK(impl_->port > 0, "serve: bind() before run()");
  impl_->http.listen_after_bind();
}

void Server::stop() {
  if (impl_) impl_->http.stop();
}

const std::string& Server::model_name() const { return impl_->name; }

std::int64_t Server::in_flight() const { return impl_->in_flight.load(); }

}  // namespace cai::serve
