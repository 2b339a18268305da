// The three objectives of the CAI loop: supervised fine-tuning on revisions, a reward
// (preference) model on AI-labelled pairs, and DPO on those pairs.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cai/train/data.h"
#include "cai/train/loss_options.h"
#include "cai/train/losses.h"
#include "cai/train/objective.h"

namespace cai {
struct LoadedModel;
}

namespace cai::train {

class LoraAdapter;
class RewardModel;

// The model being trained: a loaded base model, optionally with a LoRA adapter attached.
// save() writes a full model directory (config.json, model.safetensors, tokenizer files)
// without LoRA, or the PEFT adapter directory with it.
struct Policy {
  LoadedModel* model = nullptr;       // not owned; outlives the objective
  std::shared_ptr<LoraAdapter> lora;  // null: full fine-tuning
  std::string base_name;              // recorded in adapter_config.json
};

struct SftConstraint;

// Cross-entropy on target (assistant) tokens only; also logs "mean_token_accuracy" (targets
// whose label is the most likely token). With LoRA the base model is frozen. With a
// constraint, the loss is the token-wise constrained objective of Qi et al. 2024
// (token_constraint.h) and "nll" logs the cross-entropy beside it.
std::unique_ptr<Objective> make_sft_objective(Policy policy, std::vector<SftExample> train,
                                              std::vector<SftExample> eval,
                                              const SftConstraint* constraint = nullptr);

// Bradley-Terry on a scalar head over the last token; reports "accuracy" (pairs whose chosen
// reward is higher; ties count half) and "rewards/chosen", "rewards/rejected",
// "rewards/margins".
std::unique_ptr<Objective> make_rm_objective(RewardModel& rm, std::vector<PreferenceExample> train,
                                             std::vector<PreferenceExample> eval,
                                             const RmLossOptions& opts);

// Reference log-probabilities (sum over response tokens) of every pair, computed once with
// the reference model and cached in a file beside the dataset so the reference model is not
// kept in memory while training. The cache file name carries a hash of the dataset bytes,
// the reference model's weights hash, the template and the data options; a mismatching or
// corrupt cache is recomputed, never trusted.
struct RefLogps {
  std::vector<double> chosen, rejected;  // one per example, in dataset order
};
//
// Cache file (JSON, written atomically): {"format": "cai-ref-logps", "version": 1,
// "examples_sha256": hash of the examples' token ids, "count": n, "chosen": [n numbers],
// "rejected": [n numbers]}. A file whose examples hash or count does not match the examples
// it is asked for is ignored (and rewritten), so a stale key cannot give wrong numbers.
//
// ref_cache_key: SHA-256 (hex) over the dataset file's bytes, the reference model's files
// (config.json, *.safetensors and index, or the .gguf file; read from disk, so the model need
// not be loaded), the chat template name and the data options.
std::string ref_cache_key(const std::filesystem::path& dataset,
                          const std::filesystem::path& reference_model,
                          const std::string& template_name, const DataOptions& opts);
// <dataset dir>/<dataset file name>.ref-<first 16 hex digits of key>.json
std::filesystem::path ref_cache_path(const std::filesystem::path& dataset, const std::string& key);
// The cached values, or nullopt when the file is missing, corrupt or made for other examples.
std::optional<RefLogps> load_ref_logps(const std::filesystem::path& cache_file,
                                       const std::vector<PreferenceExample>& examples);
// Sums of log p(response | prompt) under `reference` (fast no-grad scorer), in order. With
// data-parallel ranks (cai/dist/dist.h) each scores a contiguous share and all get every
// value; the load_or_compute forms use the cache only when every rank can read it, and rank 0
// alone writes it.
RefLogps compute_ref_logps(const std::vector<PreferenceExample>& examples, LoadedModel& reference);
RefLogps load_or_compute_ref_logps(const std::filesystem::path& cache_file,
                                   const std::vector<PreferenceExample>& examples,
                                   LoadedModel& reference);
// As above, loading the reference model only when the cache cannot be used (and freeing it
// before returning).
RefLogps load_or_compute_ref_logps(const std::filesystem::path& cache_file,
                                   const std::vector<PreferenceExample>& examples,
                                   const std::function<LoadedModel()>& load_reference);

// Logs "loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
// "logps/chosen", "logps/rejected", and "nll" when rpo_alpha > 0 ("constraint" too, the RPO
// term, with opts.token_constraint, which needs `constraint`). The IPO loss compares mean
// token log-probabilities (sums divided by the response lengths), as TRL does; the others sums.
struct DpoConstraint;
std::unique_ptr<Objective> make_dpo_objective(Policy policy, std::vector<PreferenceExample> train,
                                              RefLogps train_ref,
                                              std::vector<PreferenceExample> eval,
                                              RefLogps eval_ref, const DpoOptions& opts,
                                              const DpoConstraint* constraint = nullptr);

}  // namespace cai::train
