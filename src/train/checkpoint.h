// The trainer's checkpoint directory (see trainer.h for the layout): everything needed to
// continue a run exactly — trainable tensors, AdamW moments and step count, the position in
// the data plan, and torch's CPU generator state (LoRA dropout draws from it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "cai/io/dir.h"
#include "optim.h"

namespace cai::train {

struct CheckpointState {
  std::int64_t step = 0;         // optimiser steps completed
  std::int64_t epoch = 0;        // epoch of the next step
  std::int64_t micro = 0;        // index of the next micro-batch in that epoch's plan
  std::int64_t total_steps = 0;  // the run's planned steps (the schedule depends on it)
  std::string objective;         // Objective::name()
  std::string options_hash;      // hash of the options that change the result
  std::string data_hash;         // identifies the dataset
  int world_size = 1;            // data-parallel ranks that wrote it (a resume needs as many)
  std::string extra;             // a JSON object of loop state beyond the above (RL: the KL
                                 // coefficient, reward statistics); "" = none
};

// Writes the checkpoint into a sibling temporary directory, then swaps it in place of `dir`
// with one atomic rename, so `dir` always holds a whole checkpoint (the old one or the new
// one). Also records torch's default CPU generator state.
void save_checkpoint(const std::filesystem::path& dir, const CheckpointState& state, AdamW& opt);

// Reads state.json; throws cai::Error naming the file when it is missing or malformed.
CheckpointState read_checkpoint_state(const std::filesystem::path& dir);

// Copies the stored tensors into the optimiser's parameters and moments, sets its step count
// and restores torch's CPU generator. Errors name the file and tensor (missing, wrong shape).
void restore_checkpoint(const std::filesystem::path& dir, AdamW& opt);

// True when `dir` holds a checkpoint (state.json present).
bool has_checkpoint(const std::filesystem::path& dir);

// Keeps the metrics lines of steps up to `step` (those the checkpoint covers) so a resumed run
// logs every step once. Returns whether an eval line for `step` itself is among them.
bool trim_metrics(const std::filesystem::path& path, std::int64_t step);

// A fresh run in `out`: removes an earlier run's checkpoint, final model and metrics so
// nothing of it is mistaken for the new run's own.
void clear_run(const std::filesystem::path& out, const std::filesystem::path& metrics);

}  // namespace cai::train
