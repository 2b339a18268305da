// Learning-rate schedules: linear warmup, then cosine (Loshchilov & Hutter 2017, SGDR without
// restarts), linear or constant decay towards lr * min_lr_ratio. See trainer.h for the formula.
#include <cmath>
#include <numbers>

#include "cai/train/trainer.h"

namespace cai::train {

std::int64_t warmup_steps(const OptimOptions& opts, std::int64_t total) {
  if (opts.warmup_steps >= 0) return opts.warmup_steps;
  // A tiny epsilon keeps ratios such as 0.1 * 30 from rounding up to 4 through 3.0000000004.
  return static_cast<std::int64_t>(
      std::ceil(opts.warmup_ratio * static_cast<double>(total) - 1e-9));
}

double learning_rate(const OptimOptions& opts, std::int64_t step, std::int64_t total) {
  const std::int64_t w = warmup_steps(opts, total);
  if (step < w) return opts.lr * static_cast<double>(step + 1) / static_cast<double>(w);
  const double p =
      static_cast<double>(step - w) / static_cast<double>(std::max<std::int64_t>(1, total - w));
  const double pc = std::min(1.0, std::max(0.0, p));
  double f = 1.0;
  switch (opts.schedule) {
    case Schedule::cosine:
      f = 0.5 * (1.0 + std::cos(std::numbers::pi * pc));
      break;
    case Schedule::linear:
      f = 1.0 - pc;
      break;
    case Schedule::constant:
      f = 1.0;
      break;
  }
  return opts.lr * (opts.min_lr_ratio + (1.0 - opts.min_lr_ratio) * f);
}

}  // namespace cai::train
