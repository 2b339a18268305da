// Whole training runs as library calls: load the model and its tokenizer, read and split the
// dataset (TRL's JSONL formats, data.h), build the objective and run the shared trainer
// (trainer.h). `cai train sft|dpo|rm` and `cai loop` both call these, so a loop stage trains
// exactly as the command would.
//
// Held-out data: `eval_data` (a second file), or a seeded `eval_fraction` of `data`, or none.
// The run's identity for resumption (TrainOptions::resume) is the dataset's bytes, the split,
// TrainOptions and the objective's settings (model path, template, data options, LoRA, DPO /
// RM options): a resume with any of them changed is refused by the trainer.
//
// Data parallelism: when cai::dist::world() has several ranks (cai/dist/dist.h), every rank
// calls the same run_* with the same options; each reads the whole dataset (the plan needs
// every example's length), trains on its share of each micro-batch, and rank 0 writes the run
// directory and the reference log-probability cache (see trainer.h).
#pragma once

#include <string>

#include "cai/train/data.h"
#include "cai/train/lora.h"
#include "cai/train/losses.h"
#include "cai/train/objectives.h"
#include "cai/train/token_constraint.h"
#include "cai/train/trainer.h"

namespace cai::train {

// What every run shares.
struct RunOptions {
  std::string model;           // model to train: Hugging Face directory or .gguf (required;
                               // it must carry a tokenizer)
  std::string data;            // training JSONL (required)
  std::string eval_data;       // held-out JSONL; "" = none or eval_fraction
  double eval_fraction = 0.0;  // share of `data` held out (seeded by train.seed), in [0, 1);
                               // excludes eval_data
  std::string chat_template;   // template for message lists; "" = the tokenizer's
  DataOptions data_opts;       // max_length is capped at the model's context
  bool lora = false;           // train LoRA adapters (final/ is a PEFT adapter directory)
  LoraOptions lora_opts;       // used when lora is true
  TrainOptions train;          // out_dir, schedule, steps, checkpoints, resume ...
  std::string device = "cpu";  // where the model and its batches live: cpu or cuda:N
  void validate() const;       // everything that needs no file; throws naming the field
};

struct SftRunOptions : RunOptions {
  // Token-wise constrained fine-tuning (token_constraint.h, Qi et al. 2024) towards
  // ref_model ("" = `model`, the starting weights) instead of plain cross-entropy.
  bool constrain = false;
  std::string ref_model;
  TokenConstraintOptions constraint;
  void validate() const;
};

struct DpoRunOptions : RunOptions {
  std::string ref_model;  // reference model; "" = `model` (the already-loaded model
                          // serves, before training starts)
  DpoOptions dpo;         // loss type, beta, label smoothing, rpo_alpha
  void validate() const;
};

struct RmRunOptions : RunOptions {
  RmLossOptions rm;  // margin, reward centering (full fine-tuning only: no LoRA)
  void validate() const;
};

// Each validates its options, trains into train.out_dir and returns the trainer's summary.
// Throws cai::Error for bad options, unreadable or malformed data (file:line), a model without
// a tokenizer, or a refused resume.
TrainSummary run_sft(const SftRunOptions& opts);
TrainSummary run_dpo(const DpoRunOptions& opts);
TrainSummary run_rm(const RmRunOptions& opts);

}  // namespace cai::train
