// The training loop shared by every objective: AdamW (Loshchilov & Hutter 2019) with weight
// decay off for norms and biases, linear warmup then cosine / linear / constant decay,
// gradient clipping by global norm, gradient accumulation over micro-batches packed by a
// token budget, seeded shuffling, held-out evaluation every N steps, a JSONL metrics log, a
// progress bar, checkpoints every N steps and at the end, and exact resumption.
//
// Run directory layout (`out_dir`):
//   metrics.jsonl            one line per logged step / eval: {"step", "epoch", "loss", "lr",
//                            "grad_norm", "tokens_per_s", ...objective metrics, "split"}
//   checkpoint/              the latest complete checkpoint (replaced atomically by rename):
//     trainable.safetensors  the trainable tensors by name
//     optimizer.safetensors  AdamW moments by parameter name ("exp_avg/<name>",
//     "exp_avg_sq/<name>") state.json             step, epoch, position in the epoch's plan,
//     optimiser step count,
//                            torch RNG state, options hash, data hash
//   final/                   the objective's artifact (model dir, PEFT adapter, reward model)
// A NaN or Inf loss or gradient norm stops the run with cai::Error naming the step; the last
// good checkpoint stays in place. A run without `resume` starts clean: it removes an earlier
// run's metrics.jsonl, checkpoint/ and final/ in out_dir.
//
// Steps: each epoch's plan (plan_epoch, by seed and epoch) is cut into optimiser steps of
// `grad_accum` consecutive micro-batches (an epoch's last step may have fewer). With
// max_steps > 0 the run takes exactly that many steps, starting further epochs as needed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "cai/train/objective.h"

namespace cai::train {

enum class Schedule { cosine, linear, constant };
Schedule parse_schedule(const std::string& name);  // "cosine", "linear", "constant"; throws
const char* to_string(Schedule s);

struct TrainOptions {
  std::string out_dir;  // required
  double lr = 1e-5;     // peak learning rate
  Schedule schedule = Schedule::cosine;
  double warmup_ratio = 0.0;       // share of total steps spent warming up linearly from 0
  std::int64_t warmup_steps = -1;  // overrides warmup_ratio when >= 0
  double min_lr_ratio = 0.0;       // decay ends at lr * min_lr_ratio
  double weight_decay = 0.0;       // decoupled; not applied to norms and biases
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double max_grad_norm = 1.0;        // 0 = no clipping
  std::int64_t grad_accum = 1;       // micro-batches per optimiser step
  std::int64_t token_budget = 4096;  // padded tokens (rows x length) per micro-batch; pairs
                                     // count both rows (rows_per_example())
  std::int64_t epochs = 1;
  std::int64_t max_steps = -1;   // stop after this many optimiser steps (-1: epochs decide)
  std::int64_t eval_every = 0;   // steps between held-out evaluations (0: only at the end)
  std::int64_t save_every = 0;   // steps between checkpoints (0: only at the end)
  std::int64_t log_every = 1;    // steps between metrics lines
  std::uint64_t seed = 0;        // data order (and initialisation upstream)
  bool resume = false;           // continue from out_dir/checkpoint (error when absent
                                 // or made with different options or data)
  std::string objective_config;  // the objective's and model's settings that change the
                                 // result (beta, LoRA rank, base model ...): hashed with
                                 // these options so a resume with other ones is refused
  bool progress = true;          // draw the progress bar on stderr
  void validate() const;
};

struct TrainSummary {
  std::int64_t steps = 0;
  double seconds = 0.0;
  double tokens_per_s = 0.0;  // tokens processed per second by this process (an
                              // example counts rows x length(i): exact for SFT, the
                              // longer sequence twice for pairs)
  Metrics last_train;         // metrics of the last logged step
  Metrics last_eval;          // metrics of the last evaluation (empty when no eval set)
};

// Runs the loop. `data_hash` identifies the dataset (stored in checkpoints so a resume against
// different data is refused). Throws cai::Error on bad options, NaN/Inf, or I/O failures.
TrainSummary run_training(Objective& objective, const TrainOptions& opts,
                          const std::string& data_hash);

// The learning rate at optimiser step `step` (0-based) of `total`. With W warmup steps
// (warmup_steps, else ceil(warmup_ratio * total)):
//   step < W:  lr * (step + 1) / W
//   after:     lr * (m + (1 - m) * f(p)),  p = (step - W) / max(1, total - W), m = min_lr_ratio,
//              f = (1 + cos(pi p)) / 2 (cosine), 1 - p (linear), 1 (constant).
double learning_rate(const TrainOptions& opts, std::int64_t step, std::int64_t total);
std::int64_t warmup_steps(const TrainOptions& opts, std::int64_t total);

}  // namespace cai::train
