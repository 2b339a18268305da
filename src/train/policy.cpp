// Policy helpers shared by the SFT and DPO objectives (see policy.h).
#include "policy.h"

#include <torch/torch.h>

#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/lora.h"

namespace cai::train::detail {

void prepare_policy(Policy& policy) {
  CAI_CHECK(policy.model && policy.model->model, "training objective: no policy model");
  auto& m = *policy.model->model;
  if (policy.lora) {
    for (auto& p : m.parameters()) p.set_requires_grad(false);
  } else {
    // Full fine-tuning trains every weight: packed (quantized, F16, BF16) matrices are frozen,
    // so they are widened to F32 parameters first.
    m.unpack_weights();
    for (auto& p : m.parameters()) p.set_requires_grad(true);
  }
}

std::vector<TrainableParam> policy_trainable(Policy& policy) {
  std::vector<TrainableParam> out;
  if (policy.lora) {
    for (auto& [name, t] : lora_parameters(*policy.lora)) out.push_back({name, t, true});
    return out;
  }
  for (const auto& item : policy.model->model->named_parameters(/*recurse=*/true))
    out.push_back({item.key(), item.value(), item.value().dim() >= 2});
  return out;
}

void save_policy(Policy& policy, const std::string& dir) {
  if (policy.lora)
    save_lora(*policy.lora, dir, policy.base_name);
  else
    save_model_dir(*policy.model, dir, DType::F32);
}

void set_policy_training(Policy& policy, bool on) { policy.model->model->train(on); }

}  // namespace cai::train::detail
