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

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "cai/train/objective.h"
#include "cai/train/train_options.h"

namespace cai::train {

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
double learning_rate(const OptimOptions& opts, std::int64_t step, std::int64_t total);
std::int64_t warmup_steps(const OptimOptions& opts, std::int64_t total);

}  // namespace cai::train
