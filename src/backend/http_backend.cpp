// The OpenAI-compatible HTTP backend: raw prompts go to /completions, chat messages to
// /chat/completions, `concurrency` requests in flight spread over the base URLs (http_client.h
// does the retries), results in request order.
//
// Option scoring asks for one token with its top log-probs and looks up, for each option, the
// first piece that tells it apart from the others (see score_options below); log-likelihoods
// of whole continuations read the prompt's own log-probs back with `echo`.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "cai/backend/factory.h"
#include "cai/generate/sampling.h"
#include "cai/io/error.h"
#include "http_client.h"
#include "logprob_shapes.h"

namespace cai {
namespace {

using nlohmann::json;

// Runs work(i) for i in [0, n) on up to `workers` threads; on_done(i) is called on the calling
// thread as each finishes (so callers need no locking). The first error stops the hand-out of
// new work and is rethrown once the running ones have returned.
void run_parallel(std::size_t n, std::int64_t workers, const std::function<void(std::size_t)>& work,
                  const std::function<void(std::size_t)>& on_done) {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::size_t> finished;
  std::exception_ptr error;
  std::atomic<std::size_t> next = 0;
  std::atomic<bool> stop = false;
  const std::size_t count =
      std::min<std::size_t>(n, static_cast<std::size_t>(std::max<std::int64_t>(1, workers)));
  std::size_t running = count;  // guarded by mu
  std::vector<std::thread> threads;
  threads.reserve(count);
  for (std::size_t t = 0; t < count; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        if (stop.load()) break;
        const std::size_t i = next.fetch_add(1);
        if (i >= n) break;
        try {
          work(i);
          std::lock_guard lock(mu);
          finished.push_back(i);
        } catch (...) {
          std::lock_guard lock(mu);
          if (!error) error = std::current_exception();
          stop = true;
        }
        cv.notify_all();
      }
      std::lock_guard lock(mu);
      --running;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  for (;;) {
    cv.wait(lock, [&] { return !finished.empty() || running == 0; });
    while (!finished.empty()) {
      const std::size_t i = finished.front();
      finished.pop_front();
      if (on_done && !error) {
        lock.unlock();
        on_done(i);
        lock.lock();
      }
    }
    if (running == 0) break;
  }
  lock.unlock();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

json messages_json(const std::vector<ChatMessage>& messages) {
  json m = json::array();
  for (const auto& msg : messages) m.push_back({{"role", msg.role}, {"content", msg.content}});
  return m;
}

// The request body without its sampling fields.
json base_body(const TextRequest& r, const std::string& model) {
  json b = {{"model", model}};
  if (r.chat) {
    CAI_CHECK(!r.messages.empty(), "http backend: a chat request needs at least one message");
    b["messages"] = messages_json(r.messages);
  } else {
    b["prompt"] = r.prompt;
  }
  return b;
}

json generate_body(const TextRequest& r, const std::string& model) {
  json b = base_body(r, model);
  const GenParams& p = r.params;
  b["max_tokens"] = p.max_tokens;
  b["temperature"] = p.temperature;
  b["top_p"] = p.top_p;
  if (p.top_k > 0) b["top_k"] = p.top_k;  // an extension (vLLM, llama.cpp, cai serve)
  if (!p.stop.empty()) b["stop"] = p.stop;
  // The stream is folded into the seed so each request draws its own numbers; 31 bits because
  // some servers keep the seed in a 32-bit signed integer.
  b["seed"] = (p.seed ^ splitmix64(r.stream)) & 0x7fffffffULL;
  return b;
}

std::string str_or_empty(const json& j) { return j.is_string() ? j.get<std::string>() : ""; }

const json& first_choice(const json& answer) {
  CAI_CHECK(answer.is_object() && answer.contains("choices") && answer["choices"].is_array() &&
                !answer["choices"].empty() && answer["choices"][0].is_object(),
            "the server's answer has no choices: {}",
            answer.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 300));
  return answer["choices"][0];
}

TextResult parse_generation(const json& answer, const TextRequest& r) {
  const json& c = first_choice(answer);
  TextResult out;
  if (r.chat) {
    CAI_CHECK(c.contains("message") && c["message"].is_object(),
              "the server's chat answer has no message");
    out.text = str_or_empty(c["message"].value("content", json()));
  } else {
    CAI_CHECK(c.contains("text") && c["text"].is_string(), "the server's answer has no text");
    out.text = c["text"].get<std::string>();
  }
  out.finish_reason =
      str_or_empty(c.value("finish_reason", json())) == "length" ? "length" : "stop";
  // A server that does not apply stop strings itself still gets them applied here.
  std::size_t cut = std::string::npos;
  for (const auto& s : r.params.stop) cut = std::min(cut, out.text.find(s));
  if (cut != std::string::npos) {
    out.text.resize(cut);
    out.finish_reason = "stop";
  }
  if (answer.contains("usage") && answer["usage"].is_object()) {
    const json& u = answer["usage"];
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
      out.prompt_tokens = u["prompt_tokens"].get<std::int64_t>();
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
      out.completion_tokens = u["completion_tokens"].get<std::int64_t>();
  }
  return out;
}

std::string lstrip(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
  return s.substr(i);
}

// Token text -> log-prob among the first generated position's candidates (the sampled token
// and the top list), in whatever shape the answer holds them.
std::map<std::string, double> first_position_logprobs(const json& answer) {
  const http::Logprobs lp = http::answer_logprobs(answer);
  std::map<std::string, double> out;
  if (lp.tokens.empty()) return out;
  const http::TokenLogprob& first = lp.tokens[0];
  for (const auto& c : first.top) out.emplace(c.token, c.logprob);
  if (first.logprob) out.emplace(first.token, *first.logprob);
  return out;
}

// GBNF: any run of printable ASCII.
constexpr const char* kAsciiGrammar = "root ::= [ -~]*";

// The longest common prefix of the options, cut back to a UTF-8 character boundary and before
// trailing whitespace (tokenizers attach a space to the word after it, so " Yes"/" No" share
// nothing and " (A)"/" (B)" share " (").
std::string option_prefix(const std::vector<std::string>& options) {
  std::string p = options[0];
  for (const auto& o : options) {
    std::size_t k = 0;
    while (k < p.size() && k < o.size() && p[k] == o[k]) ++k;
    p.resize(k);
  }
  while (!p.empty() && p.size() < options[0].size() &&
         (static_cast<unsigned char>(options[0][p.size()]) & 0xC0) == 0x80)
    p.pop_back();
  while (!p.empty() && (p.back() == ' ' || p.back() == '\t' || p.back() == '\n')) p.pop_back();
  return p;
}

class HttpBackend final : public Backend {
 public:
  explicit HttpBackend(const HttpBackendOptions& opts)
      : opts_(opts), client_(client_options(opts)) {}

  std::string describe() const override {
    std::string urls;
    for (const auto& u : opts_.base_urls) urls += (urls.empty() ? "" : ",") + u;
    return urls + " " + opts_.model;
  }

  std::vector<TextResult> generate(const std::vector<TextRequest>& requests,
                                   const std::function<void(std::size_t)>& on_done) override {
    for (std::size_t i = 0; i < requests.size(); ++i) {
      try {
        requests[i].params.validate();
      } catch (const Error& e) {
        throw_error("http backend: request {}: {}", i, e.what());
      }
    }
    std::vector<TextResult> results(requests.size());
    run_parallel(
        requests.size(), opts_.concurrency,
        [&](std::size_t i) {
          const TextRequest& r = requests[i];
          try {
            const json answer = client_.post(r.chat ? "/chat/completions" : "/completions",
                                             generate_body(r, opts_.model));
            results[i] = parse_generation(answer, r);
          } catch (const Error& e) {
            throw_error("http backend ({}): request {}: {}", describe(), i, e.what());
          }
        },
        on_done);
    return results;
  }

  // A server returns log-probs of whole tokens, so each option is judged by the first token
  // that tells it apart: the options' common prefix is appended to a raw prompt, and a token
  // from the top list counts for option i when (without leading whitespace) it and the
  // option's remaining text start one another and it fits no other option; the log-probs of
  // all tokens counting for an option are summed (log-sum-exp). Chat APIs cannot continue an
  // assistant message portably, so for chat requests nothing is appended and a token may
  // also match the start of the whole option.
  std::vector<OptionScores> score_options(const std::vector<TextRequest>& requests,
                                          const std::vector<std::string>& options) override {
    CAI_CHECK(!options.empty(), "http backend: score_options needs at least one option");
    for (const auto& o : options)
      CAI_CHECK(!lstrip(o).empty(), "http backend: options must not be empty or blank");
    const std::string prefix = option_prefix(options);
    std::vector<std::string> rest;
    for (const auto& o : options) {
      rest.push_back(lstrip(o.substr(prefix.size())));
      CAI_CHECK(!rest.back().empty(),
                "http backend: option '{}' is a prefix of another; a server's top log-probs can "
                "only tell options apart by their first differing token",
                o);
    }
    std::vector<OptionScores> results(requests.size());
    run_parallel(requests.size(), opts_.concurrency,
                 [&](std::size_t i) {
                   try {
                     results[i] = score_one(requests[i], options, prefix, rest);
                   } catch (const Error& e) {
                     throw_error("http backend ({}): scoring request {}: {}", describe(), i,
                                 e.what());
                   }
                 },
                 {});
    return results;
  }

  // Whole continuations (backend.h): /completions on prompt + continuation with `echo`, so
  // the answer carries the log-prob of every prompt token; the continuation's are those whose
  // text_offset lies in [prompt bytes, prompt + continuation bytes). One request per pair.
  std::vector<std::vector<double>> loglikelihoods(
      const std::vector<TextRequest>& requests,
      const std::vector<std::string>& continuations) override {
    CAI_CHECK(!continuations.empty(),
              "http backend: loglikelihoods needs at least one continuation");
    for (std::size_t i = 0; i < requests.size(); ++i) {
      CAI_CHECK(!requests[i].chat,
                "http backend: loglikelihoods of request {}: chat requests are not supported (chat "
                "APIs return no log-probs of the prompt); use a raw prompt",
                i);
      CAI_CHECK(!requests[i].prompt.empty(),
                "http backend: loglikelihoods of request {}: the prompt is empty", i);
    }
    const std::size_t nc = continuations.size();
    std::vector<std::vector<double>> results(requests.size(), std::vector<double>(nc, 0.0));
    run_parallel(requests.size() * nc, opts_.concurrency,
                 [&](std::size_t k) {
                   const std::size_t i = k / nc, j = k % nc;
                   try {
                     results[i][j] = loglikelihood_one(requests[i].prompt, continuations[j]);
                   } catch (const Error& e) {
                     throw_error(
                         "http backend ({}): loglikelihood of request {}, continuation '{}': {}",
                         describe(), i, continuations[j], e.what());
                   }
                 },
                 {});
    return results;
  }

 private:
  static http::ClientOptions client_options(const HttpBackendOptions& o) {
    o.validate();
    http::ClientOptions c;
    c.base_urls = o.base_urls;
    if (!o.api_key_env.empty())
      if (const char* key = std::getenv(o.api_key_env.c_str())) c.api_key = key;
    c.timeout_s = o.timeout_s;
    c.max_retries = o.max_retries;
    c.backoff_initial_s = o.backoff_initial_s;
    c.backoff_max_s = o.backoff_max_s;
    return c;
  }

  OptionScores score_one(const TextRequest& r, const std::vector<std::string>& options,
                         const std::string& prefix, const std::vector<std::string>& rest) {
    json body = base_body(r, opts_.model);
    body["max_tokens"] = 1;
    body["temperature"] = 0.0;
    if (r.chat) {
      body["logprobs"] = true;
      body["top_logprobs"] = opts_.top_logprobs;
    } else {
      body["prompt"] = r.prompt + prefix;
      body["logprobs"] = opts_.top_logprobs;
    }
    const std::string path = r.chat ? "/chat/completions" : "/completions";
    auto cands = first_position_logprobs(client_.post(path, body));
    if (cands.empty()) {
      // llama.cpp's server holds back a generated token that ends inside a UTF-8 character
      // (a byte token) and with it the token's log-probs, so a one-token answer can come
      // without any. Asked again with a grammar (its extension) that lets it sample only
      // printable ASCII, it answers with a whole character; the log-probs it lists are the
      // model's own, taken before the grammar. Servers that refuse the field keep the error.
      body["grammar"] = kAsciiGrammar;
      try {
        cands = first_position_logprobs(client_.post(path, body));
      } catch (const http::RequestRefused&) {}
    }
    CAI_CHECK(!cands.empty(),
              "the server returned no usable log-probs (it may not support {}); option scoring "
              "needs them",
              r.chat ? "logprobs / top_logprobs on chat completions" : "logprobs on completions");

    const double ninf = -std::numeric_limits<double>::infinity();
    const std::size_t n = options.size();
    std::vector<std::vector<double>> hits(n);
    for (const auto& [tok, lp] : cands) {
      const std::string t = lstrip(tok);
      if (t.empty() || !std::isfinite(lp)) continue;
      std::size_t match = n, count = 0;
      for (std::size_t k = 0; k < n; ++k) {
        auto fits = [&](const std::string& key) {
          return key.rfind(t, 0) == 0 || t.rfind(key, 0) == 0;
        };
        if (fits(rest[k]) || (r.chat && fits(lstrip(options[k])))) match = k, ++count;
      }
      if (count == 1) hits[match].push_back(lp);
    }
    OptionScores s;
    s.raw.assign(n, ninf);
    for (std::size_t k = 0; k < n; ++k) {
      if (hits[k].empty()) continue;
      const double m = *std::max_element(hits[k].begin(), hits[k].end());
      double sum = 0.0;
      for (double v : hits[k]) sum += std::exp(v - m);
      s.raw[k] = m + std::log(sum);
    }
    const double m = *std::max_element(s.raw.begin(), s.raw.end());
    if (!std::isfinite(m)) {
      std::string listed;
      for (const auto& [tok, lp] : cands) listed += (listed.empty() ? "'" : ", '") + tok + "'";
      throw_error(
          "none of the options is among the server's top {} log-probs ({}); the server "
          "returned no usable log-probs for them",
          opts_.top_logprobs, listed);
    }
    double z = 0.0;
    for (double v : s.raw)
      if (std::isfinite(v)) z += std::exp(v - m);
    s.normalised.resize(n);
    for (std::size_t k = 0; k < n; ++k)
      s.normalised[k] = std::isfinite(s.raw[k]) ? s.raw[k] - m - std::log(z) : ninf;
    return s;
  }

  double loglikelihood_one(const std::string& prompt, const std::string& cont) {
    const std::string whole = prompt + cont;
    const http::Logprobs lp = prompt_token_logprobs(whole);
    const auto offs = http::text_token_offsets(lp, whole);
    double sum = 0.0;
    std::size_t counted = 0;
    for (std::size_t t = 0; t < offs.size(); ++t) {
      if (offs[t] < prompt.size()) continue;
      CAI_CHECK(
          lp.tokens[t].logprob.has_value(),
          "the server gave no log-prob for token {} of the continuation (nothing precedes it?)", t);
      sum += *lp.tokens[t].logprob;
      ++counted;
    }
    CAI_CHECK(cont.empty() || counted > 0,
              "the continuation has no token of its own after the prompt (the tokenizer merges it "
              "into the prompt's last token)");
    return sum;
  }

  // The log-prob of every token of `text` as a prompt. Servers offer it two ways: `echo` with
  // `logprobs` on /completions (OpenAI's legacy API, vLLM, `cai serve`), or vLLM's
  // `prompt_logprobs`; the first that answers is remembered. A server that ignores `echo`
  // answers with the generated token alone, one that does not know it (llama.cpp's) refuses.
  http::Logprobs prompt_token_logprobs(const std::string& text) {
    const int route = prompt_route_.load();
    std::string why;
    if (route == kRouteUnknown || route == kRouteEcho) {
      const json body = {{"model", opts_.model}, {"prompt", text},  {"echo", true},
                         {"logprobs", 1},        {"max_tokens", 1}, {"temperature", 0.0}};
      try {
        const json answer = client_.post("/completions", body);
        http::Logprobs lp = http::answer_logprobs(answer);
        const std::string echoed = str_or_empty(first_choice(answer).value("text", json()));
        if (lp.shape == http::LogprobShape::legacy && echoed.rfind(text, 0) == 0) {
          prompt_route_ = kRouteEcho;
          return lp;
        }
        why = fmt::format("with `echo` it answered with {} log-probs of the generated token only",
                          http::shape_name(lp.shape));
      } catch (const http::RequestRefused& e) {
        if (route == kRouteEcho) throw;
        why = "it refused `echo`: " + e.server_message;
      }
    }
    if (route == kRouteUnknown || route == kRoutePromptLogprobs) {
      const json body = {{"model", opts_.model},
                         {"prompt", text},
                         {"prompt_logprobs", 0},
                         {"max_tokens", 1},
                         {"temperature", 0.0}};
      try {
        const json answer = client_.post("/completions", body);
        http::Logprobs lp = http::prompt_logprobs(answer);
        if (lp.shape == http::LogprobShape::prompt) {
          prompt_route_ = kRoutePromptLogprobs;
          return lp;
        }
        why += "; it answered `prompt_logprobs` with none";
      } catch (const http::RequestRefused& e) {
        if (route == kRoutePromptLogprobs) throw;
        why += "; it refused `prompt_logprobs`: " + e.server_message;
      }
    }
    prompt_route_ = kRouteNone;
    throw_error(
        "the server offers no log-probs of the prompt{}; loglikelihoods needs them: `echo` with "
        "`logprobs` on /completions (vLLM, `cai serve`) or vLLM's `prompt_logprobs` (llama.cpp's "
        "server and OpenAI's chat models offer neither)",
        why.empty() ? "" : " (" + why + ")");
  }

  static constexpr int kRouteUnknown = 0, kRouteEcho = 1, kRoutePromptLogprobs = 2, kRouteNone = 3;
  std::atomic<int> prompt_route_ = kRouteUnknown;
  HttpBackendOptions opts_;
  http::Client client_;
};

}  // namespace

std::unique_ptr<Backend> make_http_backend(const HttpBackendOptions& opts) {
  return std::make_unique<HttpBackend>(opts);
}

}  // namespace cai
