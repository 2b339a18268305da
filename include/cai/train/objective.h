// What the trainer asks of a training objective (SFT, reward model, DPO, ...). The trainer
// owns the loop (data order, accumulation, optimiser, schedule, clipping, checkpoints, logs);
// an objective owns its examples and turns a micro-batch of them into a loss and gradients.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace cai::train {

// Metric name -> value. Names are stable ("loss", "rewards/chosen", "rewards/margins", ...).
using Metrics = std::map<std::string, double>;

// A trainable tensor under a stable name, and whether weight decay applies (off for norms
// and biases).
struct TrainableParam {
  std::string name;
  torch::Tensor tensor;  // a leaf with requires_grad
  bool decay = true;
};

enum class Split { train, eval };

class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string name() const = 0;  // "sft", "rm", "dpo"

  virtual std::int64_t size(Split s) const = 0;
  // The padded length example i costs in a micro-batch (DPO / RM: the longer of its two
  // sequences; both are run, so the trainer counts it twice when packing).
  virtual std::int64_t length(Split s, std::int64_t i) const = 0;
  // Rows example i adds to a micro-batch (1 for SFT, 2 for pairs).
  virtual std::int64_t rows_per_example() const = 0;
  // How many loss units example i contributes: target tokens for SFT, 1 for pairs. The
  // trainer sums them over a whole optimiser step and passes the total as `denominator`.
  virtual double loss_units(Split s, std::int64_t i) const = 0;

  // Forward and backward on a micro-batch of training examples: the loss summed over its
  // units, divided by `denominator`, then backward(), so gradients accumulated over a step's
  // micro-batches equal those of the step's mean loss. Returns metric SUMS over the
  // micro-batch's units (the trainer divides by the step's units), always including "loss".
  virtual Metrics train_micro(const std::vector<std::int64_t>& examples, double denominator) = 0;

  // Mean metrics over the given held-out examples, without gradients.
  virtual Metrics evaluate(const std::vector<std::int64_t>& examples) = 0;

  // The tensors the optimiser updates (full fine-tuning: the model's parameters; LoRA: the
  // adapters only; RM: plus the score head).
  virtual std::vector<TrainableParam> trainable() = 0;
  // Puts modules in train / eval mode (dropout).
  virtual void set_training(bool on) = 0;
  // Writes the trained artifact (model directory, adapter, reward model) to `dir`.
  virtual void save(const std::string& dir) = 0;
};

}  // namespace cai::train
