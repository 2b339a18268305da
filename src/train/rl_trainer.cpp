// The RL loop of `cai train rl` (see include/cai/train/rl.h): rollout, updates, KL controller,
// metrics, progress, checkpoints at step boundaries and the final model directory. It reuses
// the trainer's AdamW, gradient clipping, learning-rate schedule and checkpoint format.
#include <torch/torch.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>

#include "cai/dist/dist.h"
#include "cai/dist/grad_sync.h"
#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/io/progress.h"
#include "cai/io/sha256.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/rl.h"
#include "cai/train/rl_losses.h"
#include "checkpoint.h"
#include "optim.h"
#include "rl_rollout.h"

namespace cai::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Everything that changes the trained weights; a resume with a different hash is refused.
std::string rl_options_hash(const RlOptions& o) {
  nlohmann::json j = opt::identity_json(o);
  if (o.ptx_coef == 0) {
    // Off, the SFT term changes nothing: runs begun before it existed still resume.
    j.erase("ptx_coef");
    j.erase("ptx_rows");
  }
  j["run_config"] = o.run_config;
  return sha256_hex(j.dump());
}

std::string prompts_hash(const std::vector<RlPrompt>& prompts) {
  std::string s;
  for (const auto& p : prompts) {
    for (auto id : p.tokens) s += std::to_string(id) + ",";
    s += "|";
  }
  return sha256_hex(s);
}

// A frozen copy of the policy's starting weights: the reference of the KL penalty. It never
// trains, so it carries no gradients and no optimiser state.
std::shared_ptr<LlamaModel> frozen_copy(LlamaModel& m) {
  auto ref = std::make_shared<LlamaModel>(m.config());
  ref->to(m.device());
  torch::NoGradGuard no_grad;
  const auto src = m.named_parameters(/*recurse=*/true);
  for (auto& item : ref->named_parameters(/*recurse=*/true)) {
    item.value().copy_(src[item.key()]);
    item.value().set_requires_grad(false);
  }
  ref->eval();
  return ref;
}

// The prompts of step `step` (and the SFT rows of update `step` with ptx_coef): the seeded
// order of pass q is a permutation of all n; steps read it P at a time, passes following one
// another.
std::vector<std::int64_t> step_prompts(std::int64_t n, std::int64_t P, std::uint64_t seed,
                                       std::int64_t step) {
  std::vector<std::int64_t> out;
  std::int64_t pass = -1;
  std::vector<std::int64_t> order;
  for (std::int64_t k = step * P; k < (step + 1) * P; ++k) {
    if (k / n != pass) {
      pass = k / n;
      order.resize(static_cast<std::size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 rng(splitmix64(seed ^ splitmix64(static_cast<std::uint64_t>(pass) + 0x9e37)));
      for (std::int64_t i = n - 1; i > 0; --i)
        std::swap(order[static_cast<std::size_t>(i)],
                  order[static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(i + 1))]);
    }
    out.push_back(order[static_cast<std::size_t>(k % n)]);
  }
  return out;
}

// The samples of one pass over a rollout, shuffled by (seed, step, epoch) and cut into
// `m` minibatches of nearly equal size.
std::vector<std::vector<std::int64_t>> minibatches(std::int64_t S, std::int64_t m,
                                                   std::uint64_t seed, std::int64_t step,
                                                   std::int64_t epoch) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(S));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(splitmix64(seed ^ splitmix64(static_cast<std::uint64_t>(step) * 1000003u +
                                                   static_cast<std::uint64_t>(epoch))));
  for (std::int64_t i = S - 1; i > 0; --i)
    std::swap(order[static_cast<std::size_t>(i)],
              order[static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(i + 1))]);
  std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < S; ++i)
    out[static_cast<std::size_t>(i * m / S)].push_back(order[static_cast<std::size_t>(i)]);
  return out;
}

nlohmann::json rl_metrics_line(std::int64_t step, const Metrics& m) {
  nlohmann::json j;
  j["step"] = step;
  j["split"] = "train";
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

}  // namespace

RlSummary train_rl(LoadedModel& policy, const std::vector<RlPrompt>& prompts,
                   const RewardFn& reward, const RlOptions& o,
                   const std::vector<TokenizedSequence>& ptx) {
  o.validate();
  CAI_CHECK(policy.model, "rl: no policy model");
  CAI_CHECK(policy.tokenizer.has_value(),
            "rl: the policy carries no tokenizer; sampling needs one");
  CAI_CHECK(policy.model->adapter() == nullptr,
            "rl: a LoRA adapter is attached; RL trains all weights (merge the adapter first)");
  CAI_CHECK(!prompts.empty(), "rl: no prompts");
  CAI_CHECK(static_cast<bool>(reward), "rl: no reward function");
  // The global generator from this run's seed. RL draws its samples and minibatches from
  // streams of its own, but the generator's state goes into every checkpoint: left as the
  // process's earlier stages left it, a run resumed in a fresh process saved other bytes than
  // an uninterrupted one.
  torch::manual_seed(o.seed);
  LlamaModel& model = *policy.model;
  const ModelConfig& cfg = model.config();
  std::int64_t longest = 0;
  for (const auto& p : prompts) {
    CAI_CHECK(!p.tokens.empty(), "rl: the prompt at line {} has no tokens", p.line);
    for (auto id : p.tokens)
      CAI_CHECK(id >= 0 && id < cfg.vocab_size,
                "rl: the prompt at line {}: token id {} outside the "
                "model's vocabulary of {}",
                p.line, id, cfg.vocab_size);
    longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(p.tokens.size()));
  }
  CAI_CHECK(
      longest + o.max_new_tokens <= cfg.max_position_embeddings,
      "rl: the longest prompt ({} tokens) + max_new_tokens ({}) exceeds the model's context of {}",
      longest, o.max_new_tokens, cfg.max_position_embeddings);
  CAI_CHECK(o.ptx_coef == 0 || !ptx.empty(), "rl: ptx_coef > 0 needs SFT rows (ptx_data)");
  std::vector<detail::Row> ptx_rows;
  if (o.ptx_coef > 0)
    for (std::size_t i = 0; i < ptx.size(); ++i) {
      const auto& s = ptx[i];
      CAI_CHECK(s.num_targets() > 0 && s.tokens.size() == s.target.size(),
                "rl: ptx row {} has no targets", i + 1);
      CAI_CHECK(static_cast<std::int64_t>(s.tokens.size()) <= cfg.max_position_embeddings,
                "rl: ptx row {} ({} tokens) exceeds the model's context of {}", i + 1,
                s.tokens.size(), cfg.max_position_embeddings);
      for (auto id : s.tokens)
        CAI_CHECK(id >= 0 && id < cfg.vocab_size,
                  "rl: ptx row {}: token id {} outside the model's vocabulary of {}", i + 1, id,
                  cfg.vocab_size);
      ptx_rows.push_back({s.tokens, s.target});
    }

  const fs::path out(o.out_dir), ckpt = out / "checkpoint", metrics_path = out / "metrics.jsonl";
  fs::create_directories(out);
  const std::string objective = std::string("rl-") + to_string(o.algorithm);
  std::string dhash = prompts_hash(prompts);
  if (!ptx_rows.empty()) {
    // The SFT rows change the weights too: a resume with other rows is refused.
    std::string s;
    for (const auto& r : ptx_rows) {
      for (std::size_t i = 0; i < r.tokens.size(); ++i)
        s += std::to_string(r.tokens[i]) + (r.target[i] ? "+" : ",");
      s += "|";
    }
    dhash = sha256_hex(dhash + sha256_hex(s));
  }
  const std::string ohash = rl_options_hash(o);

  // The reference (the weights on entry), then the trainable tensors: every weight of the
  // policy and, for PPO, the value head.
  model.unpack_weights();  // every weight trains (packed ones are frozen)
  const auto reference = frozen_copy(model);
  std::vector<TrainableParam> params;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    item.value().set_requires_grad(true);
    params.push_back({item.key(), item.value(), item.value().dim() >= 2});
  }
  std::optional<detail::ValueHead> head;
  if (o.algorithm == RlAlgorithm::ppo) {
    head.emplace();
    const auto on = torch::TensorOptions().dtype(torch::kFloat32).device(model.device());
    head->weight = torch::zeros({1, cfg.hidden_size}, on).set_requires_grad(true);
    head->bias = torch::zeros({1}, on).set_requires_grad(true);
    params.push_back({"value_head.weight", head->weight, true});
    params.push_back({"value_head.bias", head->bias, false});
  }
  AdamW opt(params, adamw_options(o));

  // The schedule runs over optimiser updates, not steps.
  const std::int64_t updates_per_step = o.epochs * o.minibatches;
  const std::int64_t total_updates = o.steps * updates_per_step;

  // Data parallelism (cai/dist/dist.h): ranks share each rollout's sampling and scoring and
  // each minibatch's gradients; rank 0 alone writes the run directory.
  dist::ProcessGroup& pg = dist::world();
  const bool main_rank = pg.rank() == 0;
  if (main_rank) remove_stale_temporaries(out);  // a killed run's half-written files
  std::int64_t step = 0, saved_step = -1;
  double kl_coef = o.kl_coef;
  RunningMoments moments;
  if (o.resume && main_rank) {
    CAI_CHECK(has_checkpoint(ckpt), "rl: --resume: no checkpoint in {}", ckpt.string());
    const CheckpointState s = read_checkpoint_state(ckpt);
    CAI_CHECK(s.objective == objective, "rl: {} holds a {} checkpoint, this run trains {}",
              ckpt.string(), s.objective, objective);
    CAI_CHECK(s.world_size == pg.size(),
              "rl: {} was written by {} data-parallel rank(s), this run has {}; resume with the "
              "same number of ranks or start a new run",
              ckpt.string(), s.world_size, pg.size());
    CAI_CHECK(s.options_hash == ohash,
              "rl: {} was written with different options; resume with the "
              "same options or start a new run in another directory",
              ckpt.string());
    CAI_CHECK(s.data_hash == dhash,
              "rl: {} was written for different prompts; resume with the same "
              "prompts or start a new run in another directory",
              ckpt.string());
    CAI_CHECK(s.total_steps == o.steps, "rl: {} plans {} steps, this run {}", ckpt.string(),
              s.total_steps, o.steps);
    restore_checkpoint(ckpt, opt);
    try {
      const auto x = nlohmann::json::parse(s.extra);
      kl_coef = x.at("kl_coef").get<double>();
      moments.count = x.at("reward_count").get<double>();
      moments.mean = x.at("reward_mean").get<double>();
      moments.m2 = x.at("reward_m2").get<double>();
    } catch (const nlohmann::json::exception& e) {
      throw_error("{}: state.json: field extra: {}", ckpt.string(), e.what());
    }
    step = saved_step = s.step;
    trim_metrics(metrics_path, step);
  } else if (main_rank) {
    clear_run(out, metrics_path);
  }
  std::vector<torch::Tensor> trainable;
  for (const auto& p : opt.params()) trainable.push_back(p.tensor);
  if (pg.size() > 1) {
    // Rank 0's weights, moments and loop state (restored or initial) become every rank's.
    auto pos = torch::tensor({step, saved_step, opt.steps()}, torch::kInt64);
    auto st = torch::tensor({kl_coef, moments.count, moments.mean, moments.m2}, torch::kFloat64);
    pg.broadcast(pos);
    pg.broadcast(st);
    step = pos[0].item<std::int64_t>(), saved_step = pos[1].item<std::int64_t>();
    opt.set_steps(pos[2].item<std::int64_t>());
    kl_coef = st[0].item<double>(), moments.count = st[1].item<double>();
    moments.mean = st[2].item<double>(), moments.m2 = st[3].item<double>();
    std::vector<torch::Tensor> state = trainable;
    for (const auto& m : opt.exp_avg()) state.push_back(m);
    for (const auto& v : opt.exp_avg_sq()) state.push_back(v);
    dist::broadcast_params(pg, state);
  }
  std::optional<JsonlWriter> log;
  if (main_rank) log.emplace(metrics_path, /*append=*/true);

  auto save = [&] {
    CheckpointState s;
    s.step = step, s.total_steps = o.steps;
    s.objective = objective, s.options_hash = ohash, s.data_hash = dhash;
    s.world_size = pg.size();
    s.extra = nlohmann::json{{"kl_coef", kl_coef},
                             {"reward_count", moments.count},
                             {"reward_mean", moments.mean},
                             {"reward_m2", moments.m2}}
                  .dump();
    if (main_rank) save_checkpoint(ckpt, s, opt);
    saved_step = step;
  };
  auto last_good = [&] {
    return saved_step < 0 ? std::string("no checkpoint had been written yet")
                          : fmt::format("the last good checkpoint (step {}) is kept in {}",
                                        saved_step, ckpt.string());
  };

  // One engine for the whole run: it reads the policy's weights as they are at each step.
  EngineOptions eo;
  eo.max_batch = std::min<std::int64_t>(64, o.prompts_per_rollout * o.samples_per_prompt);
  eo.max_seq_len = longest + o.max_new_tokens;
  Engine engine(model, eo, &*policy.tokenizer);

  std::optional<Progress> bar;
  if (o.progress && main_rank) {
    bar.emplace("train " + objective, static_cast<std::uint64_t>(o.steps), "step");
    bar->set(static_cast<std::uint64_t>(step));
  }
  RlSummary summary;
  const auto t_start = Clock::now();
  const std::int64_t S = o.prompts_per_rollout * o.samples_per_prompt;
  model.train();
  while (step < o.steps) {
    const auto t0 = Clock::now();
    const auto ids = step_prompts(static_cast<std::int64_t>(prompts.size()), o.prompts_per_rollout,
                                  o.seed, step);
    detail::Rollout r = detail::make_rollout(engine, model, *reference, head ? &*head : nullptr,
                                             prompts, ids, reward, o, kl_coef, step, moments);
    Metrics m = r.metrics;
    m["kl_coef"] = kl_coef;
    Metrics upd;
    double grad_norm_sum = 0.0, lr = 0.0;
    for (std::int64_t e = 0; e < o.epochs; ++e)
      for (const auto& mb : minibatches(S, o.minibatches, o.seed, step, e)) {
        opt.zero_grad();
        // The update's SFT rows: the optimiser's update count indexes a seeded order that
        // cycles, so a resumed run reads the rows an uninterrupted one would.
        std::vector<const detail::Row*> ptx_batch;
        if (!ptx_rows.empty())
          for (auto i : step_prompts(static_cast<std::int64_t>(ptx_rows.size()), o.ptx_rows,
                                     o.seed ^ 0x707478u, opt.steps()))
            ptx_batch.push_back(&ptx_rows[static_cast<std::size_t>(i)]);
        Metrics mm = detail::update_minibatch(model, head ? &*head : nullptr, r.samples, mb, o,
                                              kl_coef, ptx_batch);
        if (pg.size() > 1) {
          dist::all_reduce_grads(pg, trainable);
          dist::all_reduce_sums(mm);
        }
        for (const auto& [k, v] : mm) upd[k] += v;
        CAI_CHECK(std::isfinite(upd["loss"]), "rl: step {}: the loss is {}; stopping ({})",
                  step + 1, upd["loss"], last_good());
        const double gn = clip_grad_norm(opt.params(), o.max_grad_norm);
        CAI_CHECK(std::isfinite(gn), "rl: step {}: the gradient norm is {}; stopping ({})",
                  step + 1, gn, last_good());
        lr = learning_rate(o, opt.steps(), total_updates);
        opt.step(lr);
        opt.zero_grad();
        grad_norm_sum += gn;
      }
    for (auto& [k, v] : upd) m[k] = v / static_cast<double>(updates_per_step);
    m["grad_norm"] = grad_norm_sum / static_cast<double>(updates_per_step);
    m["lr"] = lr;
    if (o.kl_target > 0)
      kl_coef = adaptive_kl_update(kl_coef, m["kl"], o.kl_target, o.kl_horizon, S);
    ++step;
    m["samples_per_s"] = static_cast<double>(S) /
                         std::max(std::chrono::duration<double>(Clock::now() - t0).count(), 1e-9);
    if (summary.first.empty()) summary.first = m;
    summary.last = m;
    if ((step % o.log_every == 0 || step == o.steps) && log) log->write(rl_metrics_line(step, m));
    if (bar) {
      bar->set_postfix(fmt::format("score {:.3f} kl {:.3f} len {:.1f}", m["score"], m["kl"],
                                   m["response_length"]));
      bar->set(static_cast<std::uint64_t>(step));
    }
    if (o.save_every > 0 && step % o.save_every == 0 && step < o.steps) save();
  }
  if (bar) bar->finish();
  if (saved_step != step) save();

  // The policy as a model directory, exactly what `cai train sft` writes.
  if (main_rank) {
    write_dir_atomic(out / "final",
                     [&](const fs::path& tmp) { save_model_dir(policy, tmp, DType::F32); });
  }
  pg.barrier();  // every rank returns once final/ is in place
  summary.steps = step;
  summary.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  return summary;
}

}  // namespace cai::train
