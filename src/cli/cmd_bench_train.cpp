// `cai bench train`: training throughput (tokens/s) and model FLOPs utilisation of SFT and DPO
// optimiser steps on a random F32 Llama of the comparison shape (embedding 288, 6 layers,
// 6 heads, feed-forward 768, vocabulary 32000) at sequence length 256. A step is what the
// trainer does: the objective's forward and backward, gradient clipping and an AdamW update.
//
// MFU = model FLOP/s / the machine's own F32 matmul peak (measured here with torch::mm), with
// model FLOPs per token = 6 N + 12 L T C (N: parameters that multiply, i.e. all but the input
// embedding; the second term is attention's scores and weighted sum, forward and backward;
// Chowdhery et al. 2022, PaLM, appendix B). bench/train_reference.py measures the same model
// and steps in PyTorch and prints the same figures.
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "../train/optim.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/objectives.h"
#include "command.h"

namespace cai::cli {
namespace cmd_bench_train {

using namespace cai::train;
using Clock = std::chrono::steady_clock;

struct BenchTrainFlags {
  std::int64_t batch = 8;  // sequences per step (DPO: batch / 2 pairs)
  std::int64_t seq_len = 256;
  std::int64_t steps = 5;       // timed steps (after one warm-up step)
  std::int64_t mm_size = 2048;  // matmul peak: [n,n] x [n,n]
  int threads = 0;
  std::uint64_t seed = 0;
  std::string profile;  // directory for per-op traces of one more step of each
};

double seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Best of a few timed F32 matmuls, in GFLOP/s.
double matmul_peak(std::int64_t n) {
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  auto c = torch::mm(a, b);  // warm-up (thread pool, caches)
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    c = torch::mm(a, b);
    best = std::max(best, 2.0 * n * n * n / seconds(t0) / 1e9);
  }
  return best;
}

std::vector<std::int32_t> random_tokens(std::mt19937_64& rng, std::int64_t n, std::int64_t vocab) {
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(vocab));
  return t;
}

// Median seconds per optimiser step over `steps` timed steps, after one warm-up step; with a
// trace path, one more step is recorded by libtorch's profiler (Chrome trace format, the
// format bench/train_reference.py --profile writes too, so the two compare op by op).
double time_steps(Objective& obj, std::int64_t steps, const std::string& trace) {
  AdamW opt(obj.trainable(), AdamWOptions{0.9, 0.999, 1e-8, 0.0});
  std::vector<std::int64_t> all;
  double units = 0;
  for (std::int64_t i = 0; i < obj.size(Split::train); ++i) {
    all.push_back(i);
    units += obj.loss_units(Split::train, i);
  }
  std::vector<double> times;
  for (std::int64_t s = 0; s <= steps; ++s) {
    const auto t0 = Clock::now();
    opt.zero_grad();
    const Metrics m = obj.train_micro(all, units);
    clip_grad_norm(opt.params(), 1.0);
    opt.step(1e-5);
    if (s > 0) times.push_back(seconds(t0));
    CAI_CHECK(std::isfinite(m.at("loss")), "bench train: the loss is not finite");
  }
  if (!trace.empty()) {
    torch::autograd::profiler::RecordProfile guard(trace);
    opt.zero_grad();
    obj.train_micro(all, units);
    clip_grad_norm(opt.params(), 1.0);
    opt.step(1e-5);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void run(const BenchTrainFlags& f) {
  CAI_CHECK(f.batch >= 2 && f.batch % 2 == 0, "bench train: --batch must be even and >= 2, got {}",
            f.batch);
  CAI_CHECK(f.seq_len >= 4, "bench train: --seq-len must be >= 4, got {}", f.seq_len);
  CAI_CHECK(f.steps >= 1, "bench train: --steps must be >= 1, got {}", f.steps);
  set_torch_threads(f.threads);
  auto trace = [&](const char* what) {
    return f.profile.empty()
               ? std::string()
               : (std::filesystem::path(f.profile) / (std::string(what) + ".trace.json")).string();
  };
  if (!f.profile.empty()) std::filesystem::create_directories(f.profile);
  const int threads = at::get_num_threads();

  ModelConfig cfg;
  cfg.hidden_size = 288, cfg.num_layers = 6, cfg.num_heads = 6, cfg.num_kv_heads = 6;
  cfg.head_dim = 48, cfg.intermediate_size = 768, cfg.vocab_size = 32000;
  cfg.max_position_embeddings = std::max<std::int64_t>(1024, f.seq_len);
  const std::int64_t T = f.seq_len, L = cfg.num_layers, C = cfg.hidden_size;
  // Parameters that multiply: everything but the input embedding (a table lookup).
  const double n_mul = static_cast<double>(cfg.num_parameters() - cfg.vocab_size * cfg.hidden_size);
  const double flops_per_token = 6.0 * n_mul + 12.0 * L * T * C;

  const double peak = matmul_peak(f.mm_size);
  std::printf("threads %d; F32 matmul peak (%lldx%lld mm): %.1f GFLOP/s\n", threads,
              static_cast<long long>(f.mm_size), static_cast<long long>(f.mm_size), peak);
  std::printf(
      "model: embedding %lld, %lld layers, %lld heads, ffn %lld, vocab %lld; %.2fM parameters "
      "(%.2fM multiplying); %.1f MFLOP per token\n",
      static_cast<long long>(C), static_cast<long long>(L), static_cast<long long>(cfg.num_heads),
      static_cast<long long>(cfg.intermediate_size), static_cast<long long>(cfg.vocab_size),
      cfg.num_parameters() / 1e6, n_mul / 1e6, flops_per_token / 1e6);

  auto report = [&](const char* what, double step_s, std::int64_t tokens) {
    const double tps = static_cast<double>(tokens) / step_s;
    const double gflops = tps * flops_per_token / 1e9;
    std::printf(
        "%-4s batch %lld x %lld tokens: %7.1f ms/step  %8.0f tokens/s  %6.1f GFLOP/s  MFU "
        "%5.1f%%\n",
        what, static_cast<long long>(f.batch), static_cast<long long>(T), step_s * 1e3, tps, gflops,
        100.0 * gflops / peak);
  };

  torch::manual_seed(f.seed);
  LoadedModel lm;
  lm.config = cfg;
  lm.model = std::make_shared<LlamaModel>(cfg);
  std::mt19937_64 rng(f.seed);

  {  // SFT: every position after the first is a target.
    std::vector<SftExample> ex(static_cast<std::size_t>(f.batch));
    for (auto& e : ex) {
      e.seq.tokens = random_tokens(rng, T, cfg.vocab_size);
      e.seq.target.assign(static_cast<std::size_t>(T), 1);
      e.seq.target[0] = 0;
    }
    auto obj = make_sft_objective(Policy{&lm, nullptr, "bench"}, std::move(ex), {});
    report("sft", time_steps(*obj, f.steps, trace("sft")), f.batch * T);
  }
  {  // DPO: batch / 2 pairs; prompt T / 2 tokens, each response T - T / 2 (cached reference).
    std::vector<PreferenceExample> ex(static_cast<std::size_t>(f.batch / 2));
    RefLogps ref;
    for (auto& e : ex) {
      e.prompt = random_tokens(rng, T / 2, cfg.vocab_size);
      e.chosen = random_tokens(rng, T - T / 2, cfg.vocab_size);
      e.rejected = random_tokens(rng, T - T / 2, cfg.vocab_size);
      ref.chosen.push_back(-1000.0);
      ref.rejected.push_back(-1000.0);
    }
    DpoOptions dpo;
    auto obj = make_dpo_objective(Policy{&lm, nullptr, "bench"}, std::move(ex), std::move(ref), {},
                                  {}, dpo);
    report("dpo", time_steps(*obj, f.steps, trace("dpo")), f.batch * T);
  }
}

const Registrar reg(92, [](CLI::App& root) {
  CLI::App* bench = group(root, "bench", "Benchmarks");
  auto f = std::make_shared<BenchTrainFlags>();
  CLI::App* cmd = bench->add_subcommand("train", "SFT and DPO training-step throughput and MFU");
  cmd->add_option("--batch", f->batch, "Sequences per step (DPO: half as many pairs)")
      ->capture_default_str();
  cmd->add_option("--seq-len", f->seq_len, "Tokens per sequence")->capture_default_str();
  cmd->add_option("--steps", f->steps, "Timed steps (median reported)")->capture_default_str();
  cmd->add_option("--mm-size", f->mm_size, "Matrix size for the matmul peak")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  cmd->add_option("--seed", f->seed, "Random weights and tokens")->capture_default_str();
  cmd->add_option("--profile", f->profile,
                  "Write per-op traces of one more SFT and DPO step here "
                  "(sft.trace.json, dpo.trace.json; Chrome trace format)");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_bench_train
}  // namespace cai::cli
