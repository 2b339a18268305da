// The optimiser's and the trainer's options (trainer.h runs them), apart from the trainer so
// that configs (the loop's, the commands') hold them without libtorch.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "cai/io/options.h"

namespace cai::train {

enum class Schedule { cosine, linear, constant };
constexpr std::array<opt::EnumName<Schedule>, 3> enum_names(Schedule) {
  return {{{Schedule::cosine, "cosine"},
           {Schedule::linear, "linear"},
           {Schedule::constant, "constant"}}};
}
inline const char* to_string(Schedule s) { return opt::name_of(s).data(); }

// AdamW and its learning-rate schedule; what every trainer (this one and RL's) optimises with.
struct OptimOptions {
  double lr = 1e-5;
  Schedule schedule = Schedule::cosine;
  double warmup_ratio = 0.0;
  std::int64_t warmup_steps = -1;
  double min_lr_ratio = 0.0;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double max_grad_norm = 1.0;

  static void fields(opt::Fields<OptimOptions>& f) {
    using O = OptimOptions;
    f("lr", &O::lr, "peak learning rate", opt::above(0));
    f("schedule", &O::schedule, "decay after the warmup");
    f("warmup_ratio", &O::warmup_ratio, "share of the steps spent warming up linearly from 0",
      opt::range(0, 1));
    f("warmup_steps", &O::warmup_steps, "warmup steps; overrides warmup_ratio when >= 0",
      opt::min(-1));
    f("min_lr_ratio", &O::min_lr_ratio, "the decay ends at lr * min_lr_ratio", opt::range(0, 1));
    f("weight_decay", &O::weight_decay, "decoupled weight decay (not on norms and biases)",
      opt::min(0));
    f("beta1", &O::beta1, "AdamW's first-moment decay", opt::range(0, 1, "[)"));
    f("beta2", &O::beta2, "AdamW's second-moment decay", opt::range(0, 1, "[)"));
    f("eps", &O::eps, "added to AdamW's denominator", opt::above(0));
    f("max_grad_norm", &O::max_grad_norm, "gradient clipping by global norm (0: off)", opt::min(0));
  }
};

struct TrainOptions : OptimOptions {
  std::string out_dir;  // required
  std::int64_t grad_accum = 1;
  std::int64_t token_budget = 4096;
  std::int64_t epochs = 1;
  std::int64_t max_steps = -1;
  std::int64_t eval_every = 0;
  std::int64_t save_every = 0;
  std::int64_t log_every = 1;
  std::uint64_t seed = 0;
  bool resume = false;           // continue from out_dir/checkpoint (error when absent
                                 // or made with different options or data)
  std::string objective_config;  // the objective's and model's settings that change the
                                 // result (beta, LoRA rank, base model ...): hashed with
                                 // these options so a resume with other ones is refused
  bool progress = true;          // draw the progress bar on stderr

  static void fields(opt::Fields<TrainOptions>& f) {
    using O = TrainOptions;
    f.base<OptimOptions>();
    f("grad_accum", &O::grad_accum, "micro-batches per optimiser step", opt::min(1));
    f("token_budget", &O::token_budget,
      "padded tokens (rows x length) per micro-batch; a pair counts both rows", opt::min(1));
    f("epochs", &O::epochs, "passes over the data", opt::min(1));
    f("max_steps", &O::max_steps, "optimiser steps (-1: the epochs decide)", [](std::int64_t v) {
      return v == -1 || v >= 1 ? "" : fmt::format("must be >= 1 or -1, got {}", v);
    });
    f("eval_every", &O::eval_every, "steps between held-out evaluations (0: only at the end)",
      opt::min(0))
        .run_only();
    f("save_every", &O::save_every, "steps between checkpoints (0: only at the end)", opt::min(0))
        .run_only();
    f("log_every", &O::log_every, "steps between metrics lines", opt::min(1)).run_only();
    f("seed", &O::seed, "data order, held-out split and initialisation");
  }
  void validate() const {
    CAI_CHECK(!out_dir.empty(), "train: out_dir is required");
    opt::validate(*this, "train");
  }
};

}  // namespace cai::train
