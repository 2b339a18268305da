// The training loop (see trainer.h): plans, accumulation, AdamW, clipping, evaluation, the
// metrics log, checkpoints and exact resumption.
#include "cai/train/trainer.h"

#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "cai/dist/dist.h"
#include "cai/dist/grad_sync.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/io/progress.h"
#include "cai/io/sha256.h"
#include "cai/train/data.h"
#include "checkpoint.h"
#include "optim.h"

namespace cai::train {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
using Plan = std::vector<std::vector<std::int64_t>>;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Everything that changes the trained weights: a resume with a different hash is refused.
std::string options_hash(const TrainOptions& o, const std::string& objective) {
  nlohmann::json j = opt::identity_json(o);
  j["objective"] = objective;
  j["objective_config"] = o.objective_config;
  return sha256_hex(j.dump());
}

// Each epoch's micro-batches, computed on first use (they depend only on seed and epoch).
class Plans {
 public:
  // `ranks` data-parallel ranks share each micro-batch: the plan packs ranks x token_budget.
  Plans(const Objective& obj, const TrainOptions& o, int ranks) : seed_(o.seed) {
    const std::int64_t n = obj.size(Split::train);
    lengths_.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
      lengths_[static_cast<std::size_t>(i)] = obj.length(Split::train, i);
    // plan_epoch packs examples x longest length; a pair costs rows_per_example() rows.
    budget_ = std::max<std::int64_t>(
        1, o.token_budget * ranks / std::max<std::int64_t>(1, obj.rows_per_example()));
  }
  const Plan& get(std::int64_t epoch) {
    auto it = cache_.find(epoch);
    if (it == cache_.end()) {
      it = cache_.emplace(epoch, plan_epoch(lengths_, budget_, seed_, epoch)).first;
      CAI_CHECK(!it->second.empty(), "train: epoch {} has no micro-batches", epoch);
    }
    return it->second;
  }
  void forget_before(std::int64_t epoch) {
    cache_.erase(cache_.begin(), cache_.lower_bound(epoch));
  }

 private:
  std::vector<std::int64_t> lengths_;
  std::int64_t budget_ = 1;
  std::uint64_t seed_;
  std::map<std::int64_t, Plan> cache_;
};

std::int64_t steps_in(const Plan& p, std::int64_t grad_accum) {
  return (static_cast<std::int64_t>(p.size()) + grad_accum - 1) / grad_accum;
}

std::int64_t total_steps(Plans& plans, const TrainOptions& o) {
  if (o.max_steps > 0) return o.max_steps;
  std::int64_t total = 0;
  for (std::int64_t e = 0; e < o.epochs; ++e) total += steps_in(plans.get(e), o.grad_accum);
  plans.forget_before(1);
  return total;
}

// Held-out metrics: examples in order, packed by the token budget, each chunk's means
// weighted by its loss units so the result is the mean over all units.
Metrics evaluate_all(Objective& obj, const TrainOptions& o) {
  const std::int64_t n = obj.size(Split::eval);
  if (n == 0) return {};
  torch::NoGradGuard no_grad;
  obj.set_training(false);
  const std::int64_t rows = std::max<std::int64_t>(1, obj.rows_per_example());
  Metrics sums;
  double weight = 0.0;
  std::vector<std::int64_t> chunk;
  std::int64_t longest = 0, n_chunks = 0;
  // Data-parallel ranks take the chunks in turn and add up their sums.
  const dist::ProcessGroup& pg = dist::world();
  auto flush = [&] {
    if (chunk.empty()) return;
    if (n_chunks++ % pg.size() == pg.rank()) {
      double w = 0.0;
      for (auto i : chunk) w += obj.loss_units(Split::eval, i);
      for (const auto& [k, v] : obj.evaluate(chunk)) sums[k] += v * w;
      weight += w;
    }
    chunk.clear();
    longest = 0;
  };
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t len = obj.length(Split::eval, i);
    const std::int64_t next = std::max(longest, len);
    if (!chunk.empty() &&
        (static_cast<std::int64_t>(chunk.size()) + 1) * rows * next > o.token_budget)
      flush();
    chunk.push_back(i);
    longest = std::max(longest, len);
  }
  flush();
  obj.set_training(true);
  dist::all_reduce_sums(sums);
  weight = dist::all_reduce_sum(weight);
  if (weight > 0)
    for (auto& [k, v] : sums) v /= weight;
  // How many held-out examples the means are over, so a reader can put an interval on them.
  sums["examples"] = static_cast<double>(n);
  return sums;
}

nlohmann::json metrics_line(std::int64_t step, double epoch, const char* split, const Metrics& m) {
  nlohmann::json j;
  j["step"] = step;
  j["epoch"] = epoch;
  j["split"] = split;
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

std::string last_good(const fs::path& ckpt, std::int64_t saved_step) {
  if (saved_step < 0) return "no checkpoint had been written yet";
  return fmt::format("the last good checkpoint (step {}) is kept in {}", saved_step, ckpt.string());
}

}  // namespace

TrainSummary run_training(Objective& obj, const TrainOptions& o, const std::string& data_hash) {
  o.validate();
  CAI_CHECK(obj.size(Split::train) > 0, "train: the training set is empty");
  const fs::path out(o.out_dir), ckpt = out / "checkpoint", metrics_path = out / "metrics.jsonl";
  fs::create_directories(out);
  const std::string ohash = options_hash(o, obj.name());
  // Data parallelism: every rank plans the same global micro-batches and trains on its share
  // of each; gradients and metric sums are added up over the ranks before the optimiser step,
  // so every rank takes the same step. Rank 0 alone writes the run directory.
  dist::ProcessGroup& pg = dist::world();
  const bool main_rank = pg.rank() == 0;
  if (main_rank) remove_stale_temporaries(out);  // a killed run's half-written files

  Plans plans(obj, o, pg.size());
  const std::int64_t total = total_steps(plans, o);
  AdamW opt(obj.trainable(), adamw_options(o));
  CAI_CHECK(!opt.params().empty(), "train: the {} objective has no trainable tensors", obj.name());

  // Where the run stands: `step` optimiser steps done; the next one starts at micro-batch
  // `micro` of epoch `epoch`'s plan.
  std::int64_t step = 0, epoch = 0, micro = 0, saved_step = -1;
  bool have_final_eval = false;
  if (o.resume && main_rank) {
    CAI_CHECK(has_checkpoint(ckpt), "train: --resume: no checkpoint in {}", ckpt.string());
    const CheckpointState s = read_checkpoint_state(ckpt);
    CAI_CHECK(s.objective == obj.name(), "train: {} holds a {} checkpoint, this run trains {}",
              ckpt.string(), s.objective, obj.name());
    CAI_CHECK(s.world_size == pg.size(),
              "train: {} was written by {} data-parallel rank(s), this run has {}; resume with "
              "the same number of ranks (the data plan depends on it) or start a new run",
              ckpt.string(), s.world_size, pg.size());
    CAI_CHECK(s.options_hash == ohash,
              "train: {} was written with different training options; resume with the same "
              "options or start a new run in another directory",
              ckpt.string());
    CAI_CHECK(s.data_hash == data_hash,
              "train: {} was written for a different dataset; resume with the same data or "
              "start a new run in another directory",
              ckpt.string());
    CAI_CHECK(s.total_steps == total, "train: {} plans {} steps, this run {}", ckpt.string(),
              s.total_steps, total);
    restore_checkpoint(ckpt, opt);
    step = saved_step = s.step;
    epoch = s.epoch;
    micro = s.micro;
    have_final_eval = trim_metrics(metrics_path, step) && step >= total;
  } else if (main_rank) {
    clear_run(out, metrics_path);
  }
  if (pg.size() > 1) {
    // Rank 0's weights, moments and position (restored or initial) become every rank's.
    auto pos =
        torch::tensor({step, epoch, micro, saved_step, std::int64_t{have_final_eval}, opt.steps()},
                      torch::kInt64);
    pg.broadcast(pos);
    step = pos[0].item<std::int64_t>(), epoch = pos[1].item<std::int64_t>();
    micro = pos[2].item<std::int64_t>(), saved_step = pos[3].item<std::int64_t>();
    have_final_eval = pos[4].item<std::int64_t>() != 0;
    opt.set_steps(pos[5].item<std::int64_t>());
    std::vector<torch::Tensor> state;
    for (const auto& p : opt.params()) state.push_back(p.tensor);
    for (const auto& m : opt.exp_avg()) state.push_back(m);
    for (const auto& v : opt.exp_avg_sq()) state.push_back(v);
    dist::broadcast_params(pg, state);
  }
  std::optional<JsonlWriter> log;
  if (main_rank) log.emplace(metrics_path, /*append=*/true);
  std::vector<torch::Tensor> grads_of;
  for (const auto& p : opt.params()) grads_of.push_back(p.tensor);

  auto save = [&] {
    CheckpointState s;
    s.step = step, s.epoch = epoch, s.micro = micro, s.total_steps = total;
    s.objective = obj.name(), s.options_hash = ohash, s.data_hash = data_hash;
    s.world_size = pg.size();
    if (main_rank) save_checkpoint(ckpt, s, opt);
    saved_step = step;
  };

  std::optional<Progress> bar;
  if (o.progress && main_rank) {
    bar.emplace("train " + obj.name(), static_cast<std::uint64_t>(total), "step");
    bar->set(static_cast<std::uint64_t>(step));
  }
  TrainSummary summary;
  const auto t_start = Clock::now();
  auto t_window = t_start;
  double tokens_total = 0.0, tokens_window = 0.0;
  const std::int64_t rows = std::max<std::int64_t>(1, obj.rows_per_example());
  double epoch_pos = 0.0;  // fractional epochs completed, for the logs

  obj.set_training(true);
  while (step < total) {
    const Plan& plan = plans.get(epoch);
    const std::int64_t n_micro = static_cast<std::int64_t>(plan.size());
    if (micro >= n_micro) {
      ++epoch, micro = 0;
      plans.forget_before(epoch);
      continue;
    }
    const std::int64_t end = std::min(micro + o.grad_accum, n_micro);

    // The step's loss units first: every micro-batch divides by the same denominator, so the
    // accumulated gradient is that of the step's mean loss.
    double units = 0.0, tokens = 0.0;
    for (std::int64_t m = micro; m < end; ++m)
      for (auto i : plan[static_cast<std::size_t>(m)]) {
        units += obj.loss_units(Split::train, i);
        tokens += static_cast<double>(rows * obj.length(Split::train, i));
      }
    CAI_CHECK(units > 0, "train: step {} has no loss units (examples without targets?)", step + 1);

    opt.zero_grad();
    Metrics sums;
    for (std::int64_t m = micro; m < end; ++m) {
      const auto& mb = plan[static_cast<std::size_t>(m)];
      const auto [b, e] = dist::shard(static_cast<std::int64_t>(mb.size()), pg.rank(), pg.size());
      if (b == e) continue;  // fewer examples than ranks: this one adds zeros
      const std::vector<std::int64_t> mine(mb.begin() + b, mb.begin() + e);
      for (const auto& [k, v] : obj.train_micro(mine, units)) sums[k] += v;
    }
    if (pg.size() > 1) {
      dist::all_reduce_grads(pg, grads_of);
      dist::all_reduce_sums(sums);
    }
    const double lr = learning_rate(o, step, total);
    const double loss = sums["loss"] / units;
    CAI_CHECK(std::isfinite(loss), "train: step {}: the loss is {}; stopping ({})", step + 1, loss,
              last_good(ckpt, saved_step));
    const double grad_norm = clip_grad_norm(opt.params(), o.max_grad_norm);
    CAI_CHECK(std::isfinite(grad_norm), "train: step {}: the gradient norm is {}; stopping ({})",
              step + 1, grad_norm, last_good(ckpt, saved_step));
    opt.step(lr);
    opt.zero_grad();

    ++step;
    epoch_pos =
        static_cast<double>(epoch) + static_cast<double>(end) / static_cast<double>(n_micro);
    micro = end;
    if (micro == n_micro) {
      ++epoch, micro = 0;
      plans.forget_before(epoch);
    }
    tokens_total += tokens;
    tokens_window += tokens;

    Metrics m;
    for (const auto& [k, v] : sums) m[k] = v / units;
    m["lr"] = lr;
    m["grad_norm"] = grad_norm;
    if (step % o.log_every == 0 || step == total) {
      m["tokens_per_s"] = tokens_window / std::max(seconds_since(t_window), 1e-9);
      if (log) log->write(metrics_line(step, epoch_pos, "train", m));
      summary.last_train = m;
      t_window = Clock::now();
      tokens_window = 0.0;
    }
    if (bar) {
      bar->set_postfix(fmt::format("loss {:.4f} lr {:.2e} {:.0f} tok/s", loss, lr,
                                   tokens_total / std::max(seconds_since(t_start), 1e-9)));
      bar->set(static_cast<std::uint64_t>(step));
    }
    if (step < total) {
      if (o.eval_every > 0 && step % o.eval_every == 0) {
        summary.last_eval = evaluate_all(obj, o);
        if (!summary.last_eval.empty() && log)
          log->write(metrics_line(step, epoch_pos, "eval", summary.last_eval));
      }
      if (o.save_every > 0 && step % o.save_every == 0) save();
    }
  }
  if (bar) bar->finish();

  // The end: a held-out evaluation (unless a finished run is only being re-saved), the last
  // checkpoint, and the objective's artifact.
  if (!have_final_eval) {
    summary.last_eval = evaluate_all(obj, o);
    if (!summary.last_eval.empty() && log)
      log->write(metrics_line(step, epoch_pos > 0 ? epoch_pos : static_cast<double>(epoch), "eval",
                              summary.last_eval));
  }
  if (saved_step != step) save();
  if (main_rank) {
    write_dir_atomic(out / "final", [&](const fs::path& tmp) { obj.save(tmp.string()); });
  }
  pg.barrier();  // every rank returns once final/ is in place

  summary.steps = step;
  summary.seconds = seconds_since(t_start);
  summary.tokens_per_s = tokens_total / std::max(summary.seconds, 1e-9);
  return summary;
}

}  // namespace cai::train
