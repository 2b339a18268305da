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
  std::string model;  // Hugging Face directory or .gguf carrying a tokenizer (required)
  std::string data;   // training JSONL (required)
  std::string eval_data;
  double eval_fraction = 0.0;
  std::string chat_template;
  DataOptions data_opts;  // max_length is capped at the model's context
  LoraOptions lora;       // rank > 0: train LoRA adapters (final/ is a PEFT adapter directory)
  TrainOptions train;     // out_dir, schedule, steps, checkpoints, resume ...
  // Where the model and its batches live: cpu or cuda:N (the commands' --device, so not a
  // declared field: it moves the work, not its result).
  std::string device = "cpu";

  static void fields(opt::Fields<RunOptions>& f) {
    using O = RunOptions;
    f("model", &O::model, "model to train (Hugging Face directory or .gguf)");
    f("data", &O::data, "training data (JSONL)");
    f("eval_data", &O::eval_data, "held-out data (JSONL); excludes eval_fraction");
    f("eval_fraction", &O::eval_fraction, "share of the data held out (seeded by the seed)",
      opt::range(0, 1, "[)"));
    f("chat_template", &O::chat_template,
      "template for message lists (chatml, llama3, llama2, human-assistant; \"\": the "
      "tokenizer's)");
    f.flat(&O::data_opts);
    f("lora", &O::lora, "LoRA adapters instead of all weights (rank 0: all weights)");
    f.flat(&O::train);
  }
  void rules(opt::Rules& r) const;
  void validate() const { opt::validate(*this, "training"); }
};

struct SftRunOptions : RunOptions {
  // Token-wise constrained fine-tuning (token_constraint.h, Qi et al. 2024) towards
  // ref_model ("" = `model`, the starting weights) instead of plain cross-entropy.
  bool token_constraint = false;
  std::string ref_model;
  TokenConstraintOptions constraint;
  static void fields(opt::Fields<SftRunOptions>& f) {
    using O = SftRunOptions;
    f.base<RunOptions>();
    f("token_constraint", &O::token_constraint,
      "token-wise constrained fine-tuning towards ref_model (Qi et al. 2024): each target "
      "token's loss -(2/beta_t) log sigmoid(beta_t log(p/p_ref)), beta_t largest on a "
      "response's first tokens");
    f("ref_model", &O::ref_model, "with token_constraint: the reference (\"\": the model)");
    f("constraint", &O::constraint, "the constraint's beta_t");
  }
  void rules(opt::Rules& r) const;
  void validate() const { opt::validate(*this, "sft"); }
};

struct DpoRunOptions : RunOptions {
  std::string ref_model;  // "" = `model` (the already-loaded model serves, before training)
  DpoOptions dpo;
  static void fields(opt::Fields<DpoRunOptions>& f) {
    f.base<RunOptions>();
    f("ref_model", &DpoRunOptions::ref_model, "reference model (\"\": the model trained)");
    f.flat(&DpoRunOptions::dpo);
  }
  void validate() const { opt::validate(*this, "training"); }
};

struct RmRunOptions : RunOptions {
  RmLossOptions rm;  // full fine-tuning only: no LoRA
  static void fields(opt::Fields<RmRunOptions>& f) {
    f.base<RunOptions>();
    f.flat(&RmRunOptions::rm);
  }
  void rules(opt::Rules& r) const {
    r.require(!lora.enabled(), "lora.rank", "reward model training is full fine-tuning (rank 0)");
  }
  void validate() const { opt::validate(*this, "training"); }
};

// Each validates its options, trains into train.out_dir and returns the trainer's summary.
// Throws cai::Error for bad options, unreadable or malformed data (file:line), a model without
// a tokenizer, or a refused resume.
TrainSummary run_sft(const SftRunOptions& opts);
TrainSummary run_dpo(const DpoRunOptions& opts);
TrainSummary run_rm(const RmRunOptions& opts);

}  // namespace cai::train
