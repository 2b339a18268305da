#include "bench_serve_soak.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"

namespace cai::cli::bench_serve {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::int64_t resident_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "... kB"
  return 0;
}

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double mb(std::int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// A socket that has sent half a request line and headers and says no more.
int half_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  CAI_CHECK(fd >= 0, "bench serve: cannot open a socket (file descriptor limit?)");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CAI_CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0,
            "bench serve: cannot connect to the server");
  const std::string start = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: appl";
  CAI_CHECK(
      ::send(fd, start.data(), start.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(start.size()),
      "bench serve: cannot write to the server");
  return fd;
}

void print_latencies(const char* what, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  std::printf("  %-12s p50 %7.1f ms  max %7.1f ms  (%zu requests)\n", what, ms[ms.size() / 2],
              ms.back(), ms.size());
}

// The outcome of one streamed request.
enum class Outcome { completed, wrong, dropped, lost };

struct Tally {
  std::atomic<std::int64_t> completed{0}, wrong{0}, dropped{0}, lost{0}, tokens{0};
  std::mutex mu;
  std::string first_problem;  // guarded by mu
  void problem(const std::string& what) {
    std::lock_guard lock(mu);
    if (first_problem.empty()) first_problem = what;
  }
};

// Streams one greedy completion; with `drop_after` > 0 the client leaves after that many
// chunks. Compares a completed stream with `want`.
Outcome stream_once(httplib::Client& cli, const json& body, const std::string& want,
                    std::int64_t drop_after, std::int64_t& tokens, std::string& why) {
  std::string pending, text;
  std::int64_t chunks = 0;
  bool done = false, failed = false;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    pending.append(data, n);
    for (std::size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
      const std::string event = pending.substr(0, end);
      pending.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      const std::string payload = event.substr(6);
      if (payload == "[DONE]") {
        done = true;
        continue;
      }
      const json j = json::parse(payload, nullptr, false);
      if (j.is_discarded() || j.contains("error")) {
        failed = true;
        why = payload;
        return false;
      }
      if (j.contains("usage") && j["usage"].is_object())
        tokens = j["usage"]["completion_tokens"].get<std::int64_t>();
      for (const auto& ch : j["choices"]) text += ch["text"].get<std::string>();
      ++chunks;
    }
    return drop_after <= 0 || chunks < drop_after;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool ok = cli.send(req, res, err);
  if (drop_after > 0 && !done && !failed && err == httplib::Error::Canceled)
    return Outcome::dropped;
  if (!ok || res.status != 200 || !done || failed) {
    if (why.empty())
      why = ok ? fmt::format("status {}, {} chunks, done {}", res.status, chunks, done)
               : httplib::to_string(err);
    return Outcome::lost;
  }
  if (text != want) {
    why = fmt::format("text differs: got {} bytes, want {}", text.size(), want.size());
    return Outcome::wrong;
  }
  return Outcome::completed;
}

}  // namespace

void run_half_open(int port, const HalfOpenOptions& o) {
  CAI_CHECK(o.connections >= 1 && o.probes >= 1,
            "bench serve: --half-open and its probes must be >= 1");
  // The server starts its threads when its accept loop starts: one answered request first, so
  // that the probes time a running server, not its start-up.
  {
    httplib::Client warm("127.0.0.1", port);
    warm.set_read_timeout(std::chrono::seconds(60));
    auto r = warm.Get("/health");
    CAI_CHECK(r && r->status == 200, "bench serve: the server does not answer GET /health");
  }
  std::vector<int> fds;
  for (std::int64_t i = 0; i < o.connections; ++i) fds.push_back(half_open(port));
  std::vector<double> health, models;
  std::string error;
  for (std::int64_t i = 0; i < o.probes && error.empty(); ++i)
    for (auto* path : {"/health", "/v1/models"}) {
      httplib::Client cli("127.0.0.1", port);  // a new connection each time
      cli.set_read_timeout(std::chrono::seconds(60));
      const auto t0 = Clock::now();
      auto r = cli.Get(path);
      const double ms = ms_since(t0);
      if (!r || r->status != 200) {
        error = fmt::format("GET {} failed: {}", path,
                            r ? std::to_string(r->status) : httplib::to_string(r.error()));
        break;
      }
      (std::string(path) == "/health" ? health : models).push_back(ms);
    }
  for (const int fd : fds) ::close(fd);
  CAI_CHECK(error.empty(), "bench serve: {}", error);
  std::printf("half-open: %lld connections holding unfinished headers\n",
              static_cast<long long>(o.connections));
  print_latencies("/health", health);
  print_latencies("/v1/models", models);
  std::fflush(stdout);
}

void run_soak(int port, const std::string& model_name, LoadedModel& lm, const SoakOptions& o) {
  CAI_CHECK(o.seconds > 0 && o.clients >= 1 && o.prompts >= 1 && o.gen >= 2,
            "bench serve: --soak seconds, --soak-clients, prompts and --gen must be positive");
  CAI_CHECK(o.drop_share >= 0.0 && o.drop_share <= 1.0,
            "bench serve: --drop-share must be in [0, 1], got {}", o.drop_share);
  // Prompts and their in-process greedy answers (as text crosses JSON).
  std::mt19937_64 rng(o.seed);
  const auto vocab = static_cast<std::uint64_t>(lm.config.vocab_size);
  std::vector<std::vector<std::int32_t>> prompts(static_cast<std::size_t>(o.prompts));
  std::vector<GenerationRequest> reqs(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    for (std::int64_t t = 0; t < o.prompt_len; ++t)
      prompts[i].push_back(static_cast<std::int32_t>(rng() % vocab));
    reqs[i].prompt = prompts[i];
    reqs[i].sampling.temperature = 0.0;
    reqs[i].sampling.max_new_tokens = o.gen;
    reqs[i].sampling.ignore_eos = true;
  }
  EngineOptions eo;
  eo.max_batch = o.max_batch;
  eo.max_seq_len = lm.config.max_position_embeddings;
  std::vector<std::string> want;
  {
    Engine engine(*lm.model, eo, lm.tokenizer ? &*lm.tokenizer : nullptr);
    for (const auto& r : engine.generate(std::move(reqs))) want.push_back(json_safe_utf8(r.text));
  }

  Tally tally;
  std::vector<std::int64_t> rss;
  std::atomic<bool> sampling = true;
  std::thread sampler([&] {
    while (sampling) {
      rss.push_back(resident_bytes());
      for (int i = 0; i < 10 && sampling; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const auto t0 = Clock::now();
  const auto deadline =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> clients;
  for (std::int64_t c = 0; c < o.clients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937_64 r(o.seed * 1000003 + static_cast<std::uint64_t>(c) + 1);
      std::uniform_real_distribution<double> u(0.0, 1.0);
      auto keep = std::make_unique<httplib::Client>("127.0.0.1", port);
      keep->set_read_timeout(std::chrono::seconds(300));
      while (Clock::now() < deadline) {
        const std::size_t p = r() % prompts.size();
        const json body = {{"model", model_name},
                           {"prompt", prompts[p]},
                           {"max_tokens", o.gen},
                           {"temperature", 0},
                           {"ignore_eos", true},
                           {"stream", true},
                           {"stream_options", {{"include_usage", true}}}};
        const bool drop = u(r) < o.drop_share;
        const std::int64_t after = drop ? 1 + static_cast<std::int64_t>(r() % (o.gen / 2)) : 0;
        // A leaving client's connection is cut: it gets a client of its own.
        std::unique_ptr<httplib::Client> own;
        if (drop) {
          own = std::make_unique<httplib::Client>("127.0.0.1", port);
          own->set_read_timeout(std::chrono::seconds(300));
        }
        std::int64_t tokens = 0;
        std::string why;
        switch (stream_once(drop ? *own : *keep, body, want[p], after, tokens, why)) {
          case Outcome::completed:
            ++tally.completed;
            tally.tokens += tokens;
            break;
          case Outcome::dropped:
            ++tally.dropped;
            break;
          case Outcome::wrong:
            ++tally.wrong;
            tally.problem(fmt::format("prompt {}: {}", p, why));
            break;
          case Outcome::lost:
            ++tally.lost;
            tally.problem(fmt::format("prompt {}: {}", p, why));
            // A fresh connection after a failure.
            keep = std::make_unique<httplib::Client>("127.0.0.1", port);
            keep->set_read_timeout(std::chrono::seconds(300));
            break;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  sampling = false;
  sampler.join();

  // The server after the storm: nothing in flight once the last cancellations are stepped.
  json health;
  for (int i = 0; i < 50; ++i) {
    httplib::Client cli("127.0.0.1", port);
    auto h = cli.Get("/health");
    if (h && h->status == 200) health = json::parse(h->body);
    if (!health.is_null() && health["active_sequences"] == 0 && health["in_flight"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::printf(
      "soak: %lld clients for %.0f s, %.0f%% of requests leaving mid-stream, prompt %lld, gen "
      "%lld\n",
      static_cast<long long>(o.clients), seconds, 100.0 * o.drop_share,
      static_cast<long long>(o.prompt_len), static_cast<long long>(o.gen));
  std::printf(
      "  completed %lld, dropped on purpose %lld, lost %lld, wrong %lld\n",
      static_cast<long long>(tally.completed.load()), static_cast<long long>(tally.dropped.load()),
      static_cast<long long>(tally.lost.load()), static_cast<long long>(tally.wrong.load()));
  std::printf("  tokens/s (completed streams) %.1f\n",
              static_cast<double>(tally.tokens.load()) / seconds);
  // Quarters as well as the ends: growth that levels off after warm-up (thread stacks, the
  // allocator's arenas) reads differently from growth that goes on.
  if (!rss.empty()) {
    const auto at = [&](std::size_t q) { return mb(rss[(rss.size() - 1) * q / 4]); };
    std::printf(
        "  resident memory: start %.1f MB, quarters %.1f / %.1f / %.1f MB, end %.1f MB, max %.1f "
        "MB (%zu samples)\n",
        at(0), at(1), at(2), at(3), at(4), mb(*std::max_element(rss.begin(), rss.end())),
        rss.size());
  }
  if (!health.is_null())
    std::printf(
        "  afterwards: in flight %lld, active sequences %lld, cancelled %lld, open "
        "connections %lld\n",
        health["in_flight"].get<long long>(), health["active_sequences"].get<long long>(),
        health["cancelled"].get<long long>(), health["connections"]["open"].get<long long>());
  std::fflush(stdout);
  CAI_CHECK(tally.lost == 0 && tally.wrong == 0,
            "bench serve: {} lost and {} wrong responses (first: {})", tally.lost.load(),
            tally.wrong.load(), tally.first_problem);
}

}  // namespace cai::cli::bench_serve
