// Private helpers for objectives that train a Policy (SFT, DPO): which tensors train, how the
// result is saved, train / eval mode.
#pragma once

#include <string>
#include <vector>

#include "cai/train/objectives.h"

namespace cai::train::detail {

// Checks the policy and, with LoRA, freezes the base model (requires_grad false) so only the
// adapters receive gradients.
void prepare_policy(Policy& policy);
// Full fine-tuning: the model's own leaf parameters (fused storage such as "layer0_wqkv"),
// decay off for 1-D tensors (norms, biases). LoRA: the adapter tensors only.
std::vector<TrainableParam> policy_trainable(Policy& policy);
// Full fine-tuning: a model directory (F32); LoRA: the PEFT adapter directory.
void save_policy(Policy& policy, const std::string& dir);
void set_policy_training(Policy& policy, bool on);

}  // namespace cai::train::detail
