// LoRA (Hu et al. 2021): W x + (alpha / r) B A dropout(x) on chosen projections, A [r, in]
// initialised like PEFT (Kaiming-uniform, a = sqrt(5)), B [out, r] zero, so training starts
// from the base model exactly. Only A and B train.
//
// Saved in the PEFT layout so Python tools load it: `adapter_config.json` (peft_type "LORA",
// r, lora_alpha, lora_dropout, target_modules, bias "none", task_type "CAUSAL_LM",
// base_model_name_or_path) and `adapter_model.safetensors` with tensors
// "base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight" [r, in] and
// "...lora_B.weight" [out, r].
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "cai/train/lora_options.h"

namespace cai {
class LlamaModel;
}

namespace cai::train {

class LoraAdapter;  // defined in src/train/lora_adapter.h; implements the model's LinearAdapter

// Creates adapters for `model` (seeded from torch's global generator; opts.rank > 0) and
// attaches them:
// from now on the model's forward includes them (only its differentiable path: cached
// inference refuses until merge_lora). The adapters take the model's dtype at this point, so
// convert the model first. The base is frozen here: requires_grad is set false on all of the
// model's parameters (merge_lora leaves it so). Dropout applies only when the model is in
// training mode and autograd is on. Throws when the model already has an adapter.
std::shared_ptr<LoraAdapter> attach_lora(LlamaModel& model, const LoraOptions& opts);

// The adapter's trainable tensors under their safetensors keys (PEFT names, see above):
// leaves with requires_grad, per layer in the order q, k, v, o, gate, up, down, A before B.
std::vector<std::pair<std::string, torch::Tensor>> lora_parameters(LoraAdapter& adapter);

// Writes adapter_config.json + adapter_model.safetensors (F32) into `dir`, each atomically.
void save_lora(LoraAdapter& adapter, const std::filesystem::path& dir,
               const std::string& base_model_name);
// Reads a PEFT adapter directory and attaches it to `model` (freezing the base as
// attach_lora); errors name the file and tensor or field (unknown module, shape mismatch,
// missing tensor, unsupported peft_type / bias / use_dora / use_rslora / fan_in_fan_out /
// rank_pattern ...). target_modules may be a list or "all-linear"; only
// adapter_model.safetensors is read (not adapter_model.bin).
std::shared_ptr<LoraAdapter> load_lora(LlamaModel& model, const std::filesystem::path& dir);

// W += (alpha / r) B A for every adapted projection, then detaches the adapter from the model
// (its outputs are unchanged up to rounding; the fast inference path is usable again).
void merge_lora(LlamaModel& model, LoraAdapter& adapter);

}  // namespace cai::train
