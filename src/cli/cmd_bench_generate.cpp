// `cai bench generate`: prompt (prefill) throughput, generated tokens/s at several batch
// sizes, and scoring throughput. Defaults to a random F32 Llama of the llama.cpp comparison
// shape (embedding 288, 6 layers, 6 heads, feed-forward 768, vocabulary 32000); --model takes
// any model file, quantized GGUF included (its weights stay quantized). Decoding reads every
// weight once per step, so it also reports the weights' bytes read per second against this
// machine's measured memory bandwidth.
#include <torch/torch.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>

#include "cai/generate/engine.h"
#include "cai/generate/scorer.h"
#include "cai/io/error.h"
#include "cai/model/cpu.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "command.h"

namespace cai::cli {
namespace cmd_bench_generate {

struct BenchGenFlags {
  std::string model;
  std::int64_t prompt_len = 128, gen = 128;
  std::string batches = "1,8,32";
  int threads = 0;
  std::uint64_t seed = 0;
  double temperature = 0.0;
  bool bandwidth = true;
};

std::vector<std::int64_t> parse_list(const std::string& s) {
  std::vector<std::int64_t> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) {
    try {
      out.push_back(std::stoll(x));
    } catch (const std::exception&) {
      throw_error("--batches: '{}' is not a number", x);
    }
    CAI_CHECK(out.back() >= 1, "--batches: {} must be >= 1", out.back());
  }
  return out;
}

std::vector<std::int32_t> random_prompt(std::mt19937_64& rng, std::int64_t n, std::int64_t vocab) {
  std::vector<std::int32_t> p(n);
  for (auto& t : p) t = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(vocab));
  return p;
}

// Runs `batch` requests of prompt_len + gen tokens in one engine and returns its stats.
EngineStats run_batch(LlamaModel& m, const BenchGenFlags& f, std::int64_t batch, std::int64_t gen,
                      std::mt19937_64& rng) {
  EngineOptions o;
  o.max_batch = batch;
  o.max_seq_len = f.prompt_len + gen;
  Engine engine(m, o);
  std::vector<GenerationRequest> reqs(batch);
  for (auto& r : reqs) {
    r.prompt = random_prompt(rng, f.prompt_len, m.config().vocab_size);
    r.sampling.temperature = f.temperature;
    r.sampling.max_new_tokens = gen;
    r.sampling.ignore_eos = true;
    r.sampling.seed = f.seed;
  }
  engine.generate(std::move(reqs));
  return engine.stats();
}

void run(const BenchGenFlags& f) {
  CAI_CHECK(f.prompt_len >= 1 && f.gen >= 2, "bench generate: --prompt-len >= 1 and --gen >= 2");
  const auto batches = parse_list(f.batches);
  set_torch_threads(f.threads);
  const int threads = at::get_num_threads();
  std::shared_ptr<LlamaModel> model;
  std::string label;
  if (f.model.empty()) {
    ModelConfig cfg;  // the defaults are the comparison shape
    cfg.hidden_size = 288, cfg.num_layers = 6, cfg.num_heads = 6, cfg.num_kv_heads = 6;
    cfg.head_dim = 48, cfg.intermediate_size = 768, cfg.vocab_size = 32000;
    cfg.max_position_embeddings = std::max<std::int64_t>(2048, f.prompt_len + f.gen);
    torch::manual_seed(f.seed);
    model = std::make_shared<LlamaModel>(cfg);
    label = "random 288/6/6/768/32000 F32";
  } else {
    model = load_model(f.model).model;
    label = f.model;
  }
  const auto& c = model->config();
  std::printf("model: %s (%lld parameters), threads %d, kernels %s\n", label.c_str(),
              static_cast<long long>(c.num_parameters()), threads, cpu_kernels());
  std::string types;
  for (const auto& [type, bytes] : model->weight_bytes())
    types += fmt::format("{}{} {:.1f} MB", types.empty() ? "" : ", ", type, bytes / 1e6);
  // Bytes one decoding step reads; a step of batch B yields B tokens.
  const double step_bytes = static_cast<double>(model->streamed_weight_bytes());
  std::printf("weights: %.1f MB read per decoding step (%s)\n", step_bytes / 1e6, types.c_str());
  const double bw = f.bandwidth ? measure_read_bandwidth(threads) : 0.0;
  if (bw > 0)
    std::printf("memory bandwidth: %.1f GB/s (streaming read, %d threads)\n", bw, threads);
  std::mt19937_64 rng(f.seed);
  LlamaModel& m = *model;

  run_batch(m, f, 2, 4, rng);  // warm-up: allocator, rope tables, thread pool

  // Prompt processing: one prompt at a time (as llama-bench's pp), several repetitions.
  {
    EngineStats total;
    for (int rep = 0; rep < 8; ++rep) {
      auto s = run_batch(m, f, 1, 2, rng);
      total.prefill_tokens += s.prefill_tokens;
      total.prefill_seconds += s.prefill_seconds;
    }
    std::printf("prompt    threads %d  batch %3d  prompt %4lld            %10.1f prompt tok/s\n",
                threads, 1, static_cast<long long>(f.prompt_len),
                total.prefill_tokens / total.prefill_seconds);
  }
  // Generation: decode throughput (all sequences live) after a batched prefill.
  std::string table;
  for (auto b : batches) {
    auto s = run_batch(m, f, b, f.gen, rng);
    const double tps = s.decode_tokens / s.decode_seconds;
    const double gbs = step_bytes * tps / static_cast<double>(b) / 1e9;
    std::printf(
        "generate  threads %d  batch %3lld  prompt %4lld  gen %4lld  %10.1f gen tok/s"
        "   (prefill %.1f tok/s)   weights %.1f GB/s",
        threads, static_cast<long long>(b), static_cast<long long>(f.prompt_len),
        static_cast<long long>(f.gen), tps, s.prefill_tokens / s.prefill_seconds, gbs);
    if (bw > 0) std::printf(" (%.0f%% of memory)", 100.0 * gbs / bw);
    std::printf("\n");
    table += fmt::format(" | {:.1f}", tps);
  }
  // One line for scripts/bench.sh's table: model | weight MB | tok/s per batch size.
  std::printf("table: %s | %.1f%s\n", label.c_str(), step_bytes / 1e6, table.c_str());
  // Scoring: 32 (prefix, continuation) pairs of prompt_len/2 + prompt_len/2 tokens.
  {
    std::vector<ScoreRequest> reqs(32);
    const auto half = std::max<std::int64_t>(1, f.prompt_len / 2);
    for (auto& q : reqs) {
      q.prefix = random_prompt(rng, half, c.vocab_size);
      q.continuation = random_prompt(rng, half, c.vocab_size);
    }
    score(m, {reqs.front()});  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    score(m, reqs);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "score     threads %d  pairs %3d  prefix %4lld  cont %4lld  %10.1f tok/s"
        "   (%.1f scored tok/s)\n",
        threads, 32, static_cast<long long>(half), static_cast<long long>(half),
        32.0 * 2 * half / s, 32.0 * half / s);
  }
}

const Registrar reg(91, [](CLI::App& root) {
  CLI::App* bench = group(root, "bench", "Benchmarks");
  auto f = std::make_shared<BenchGenFlags>();
  CLI::App* cmd = bench->add_subcommand("generate", "Prompt, generation and scoring throughput");
  cmd->add_option("--model", f->model,
                  "Model directory or .gguf (default: random 288/6/6/768/32000)");
  cmd->add_option("--prompt-len", f->prompt_len, "Prompt tokens per sequence")
      ->capture_default_str();
  cmd->add_option("--gen", f->gen, "Generated tokens per sequence")->capture_default_str();
  cmd->add_option("--batches", f->batches, "Batch sizes, comma separated")->capture_default_str();
  cmd->add_option("--threads", f->threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  cmd->add_option("--temperature", f->temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--seed", f->seed, "Seed for weights and prompts")->capture_default_str();
  cmd->add_flag("!--no-bandwidth", f->bandwidth, "Skip measuring the memory bandwidth");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_bench_generate
}  // namespace cai::cli
