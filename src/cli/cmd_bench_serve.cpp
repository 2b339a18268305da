// `cai bench serve MODEL`: aggregate generated tokens/s through `cai serve` over loopback with
// 1, 8 and 32 concurrent clients, against the same requests run in-process on the engine with
// the same number of sequences in flight. The server runs in this process on a free port;
// clients are threads speaking HTTP to it, each sending its requests one after another.
// --half-open and --soak run the checks of bench_serve_soak.h instead of the table.
#include <torch/torch.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <thread>

#include "bench_serve_soak.h"
#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/serve/server.h"
#include "command.h"

namespace cai::cli {
namespace cmd_bench_serve {

struct BenchServeFlags {
  std::string model;
  std::string clients = "1,8,32";
  std::int64_t per_client = 4, prompt_len = 32, gen = 64, max_batch = 32;
  int threads = 0;
  std::uint64_t seed = 0;
  std::int64_t half_open = 0;  // 0 = no half-open probe
  double soak = 0.0;           // seconds; 0 = no soak
  std::int64_t soak_clients = 200;
  double drop_share = 0.25;
};

std::vector<std::int64_t> parse_clients(const std::string& s) {
  std::vector<std::int64_t> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) {
    try {
      out.push_back(std::stoll(x));
    } catch (const std::exception&) {
      throw_error("--clients: '{}' is not a number", x);
    }
    CAI_CHECK(out.back() >= 1 && out.back() <= 1024, "--clients: {} must be in [1, 1024]",
              out.back());
  }
  CAI_CHECK(!out.empty(), "--clients: give at least one count");
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Generated tokens and wall seconds for `prompts` sent by `clients` concurrent HTTP clients.
std::pair<std::int64_t, double> through_server(
    int port, const std::string& name, const std::vector<std::vector<std::int32_t>>& prompts,
    std::int64_t clients, std::int64_t gen) {
  std::atomic<std::size_t> next = 0;
  std::atomic<std::int64_t> tokens = 0;
  std::atomic<bool> failed = false;
  std::string error;
  std::mutex error_mu;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (std::int64_t c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_read_timeout(std::chrono::seconds(600));
      for (std::size_t i; (i = next.fetch_add(1)) < prompts.size();) {
        nlohmann::json body = {{"model", name},
                               {"prompt", prompts[i]},
                               {"max_tokens", gen},
                               {"temperature", 0},
                               {"ignore_eos", true}};
        auto res = cli.Post("/v1/completions", body.dump(), "application/json");
        if (!res || res->status != 200) {
          std::lock_guard lock(error_mu);
          failed = true;
          error = res ? res->body : httplib::to_string(res.error());
          return;
        }
        tokens +=
            nlohmann::json::parse(res->body)["usage"]["completion_tokens"].get<std::int64_t>();
      }
    });
  }
  for (auto& t : threads) t.join();
  CAI_CHECK(!failed, "bench serve: a request failed: {}", error);
  return {tokens.load(), seconds_since(t0)};
}

// The same requests on an engine of `clients` slots in this process.
std::pair<std::int64_t, double> in_process(LoadedModel& lm,
                                           const std::vector<std::vector<std::int32_t>>& prompts,
                                           std::int64_t clients, std::int64_t gen,
                                           std::int64_t max_batch) {
  EngineOptions eo;
  eo.max_batch = std::min(clients, max_batch);
  eo.max_seq_len = lm.config.max_position_embeddings;
  Engine engine(*lm.model, eo, &*lm.tokenizer);
  std::vector<GenerationRequest> reqs(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    reqs[i].prompt = prompts[i];
    reqs[i].sampling.temperature = 0.0;
    reqs[i].sampling.max_new_tokens = gen;
    reqs[i].sampling.ignore_eos = true;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto out = engine.generate(std::move(reqs));
  const double s = seconds_since(t0);
  std::int64_t tokens = 0;
  for (const auto& r : out) tokens += static_cast<std::int64_t>(r.tokens.size());
  return {tokens, s};
}

void run(const BenchServeFlags& f) {
  const auto clients = parse_clients(f.clients);
  CAI_CHECK(f.per_client >= 1 && f.prompt_len >= 1 && f.gen >= 1,
            "bench serve: --requests-per-client, --prompt-len and --gen must be >= 1");
  set_torch_threads(f.threads);
  auto lm = std::make_shared<LoadedModel>(load_model(f.model));
  CAI_CHECK(lm->tokenizer.has_value(), "{}: the model carries no tokenizer; cai serve needs one",
            f.model);
  CAI_CHECK(f.prompt_len + f.gen <= lm->config.max_position_embeddings,
            "bench serve: --prompt-len + --gen ({}) exceed the model's context {}",
            f.prompt_len + f.gen, lm->config.max_position_embeddings);
  serve::ServeOptions so;
  so.port = 0;
  so.max_batch = f.max_batch;
  so.max_tokens = f.gen;
  so.max_concurrent =
      std::max(*std::max_element(clients.begin(), clients.end()), f.soak_clients) + 8;
  serve::Server server(lm, so);
  const int port = server.bind();
  std::thread http([&] { server.run(); });
  // The server stops and its thread ends however the benchmark leaves (an error included).
  struct Stopper {
    serve::Server& server;
    std::thread& thread;
    ~Stopper() {
      server.stop();
      thread.join();
    }
  } stopper{server, http};
  if (f.half_open > 0 || f.soak > 0) {
    if (f.half_open > 0) bench_serve::run_half_open(port, {f.half_open, 20});
    if (f.soak > 0) {
      bench_serve::SoakOptions soak;
      soak.seconds = f.soak;
      soak.clients = f.soak_clients;
      soak.drop_share = f.drop_share;
      soak.prompt_len = f.prompt_len;
      soak.gen = f.gen;
      soak.max_batch = f.max_batch;
      soak.seed = f.seed;
      bench_serve::run_soak(port, server.model_name(), *lm, soak);
    }
    return;
  }

  std::mt19937_64 rng(f.seed);
  const auto vocab = static_cast<std::uint64_t>(lm->config.vocab_size);
  std::printf("model: %s (%lld parameters), threads %d, prompt %lld, gen %lld, engine batch %lld\n",
              f.model.c_str(), static_cast<long long>(lm->config.num_parameters()),
              at::get_num_threads(), static_cast<long long>(f.prompt_len),
              static_cast<long long>(f.gen), static_cast<long long>(f.max_batch));
  std::printf("%8s %9s %14s %16s %8s\n", "clients", "requests", "serve tok/s", "in-process tok/s",
              "ratio");
  // Warm-up: allocator, thread pools, a connection.
  through_server(port, server.model_name(), {{1, 2, 3}}, 1, 4);
  for (auto c : clients) {
    std::vector<std::vector<std::int32_t>> prompts(static_cast<std::size_t>(c * f.per_client));
    for (auto& p : prompts) {
      p.resize(static_cast<std::size_t>(f.prompt_len));
      for (auto& t : p) t = static_cast<std::int32_t>(rng() % vocab);
    }
    const auto [st, ss] = through_server(port, server.model_name(), prompts, c, f.gen);
    const auto [it, is] = in_process(*lm, prompts, c, f.gen, f.max_batch);
    const double serve_tps = st / ss, local_tps = it / is;
    std::printf("%8lld %9zu %14.1f %16.1f %8.2f\n", static_cast<long long>(c), prompts.size(),
                serve_tps, local_tps, serve_tps / local_tps);
    std::fflush(stdout);
  }
}

const Registrar reg(93, [](CLI::App& root) {
  CLI::App* bench = group(root, "bench", "Benchmarks");
  auto f = std::make_shared<BenchServeFlags>();
  CLI::App* cmd =
      bench->add_subcommand("serve", "Generated tokens/s through cai serve vs in-process");
  cmd->add_option("MODEL", f->model, "Model directory or .gguf file (with a tokenizer)")
      ->required();
  cmd->add_option("--clients", f->clients, "Concurrent client counts, comma separated")
      ->capture_default_str();
  cmd->add_option("--requests-per-client", f->per_client, "Requests each client sends in turn")
      ->capture_default_str();
  cmd->add_option("--prompt-len", f->prompt_len, "Random prompt tokens per request")
      ->capture_default_str();
  cmd->add_option("--gen", f->gen, "Generated tokens per request (EOS ignored)")
      ->capture_default_str();
  cmd->add_option("--max-batch", f->max_batch, "Engine batch (server and in-process)")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  cmd->add_option("--seed", f->seed, "Seed for the prompts")->capture_default_str();
  cmd->add_option("--half-open", f->half_open,
                  "Time /health and /v1/models while this many connections hold unfinished "
                  "requests (instead of the table)")
      ->capture_default_str();
  cmd->add_option("--soak", f->soak,
                  "Seconds of streaming clients, some leaving mid-stream; every completed "
                  "answer checked (instead of the table)")
      ->capture_default_str();
  cmd->add_option("--soak-clients", f->soak_clients, "Concurrent clients of --soak")
      ->capture_default_str();
  cmd->add_option("--drop-share", f->drop_share,
                  "Share of --soak requests whose client leaves mid-stream")
      ->capture_default_str();
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_bench_serve
}  // namespace cai::cli
