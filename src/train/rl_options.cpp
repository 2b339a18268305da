// RL option rules (see include/cai/train/rl.h); each field's own check is its declaration.
#include "cai/io/error.h"
#include "cai/train/rl.h"

namespace cai::train {

void RlOptions::rules(opt::Rules& r) const {
  r.require(
      algorithm != RlAlgorithm::rloo || samples_per_prompt >= 2, "samples_per_prompt",
      fmt::format("rloo needs >= 2 (the leave-one-out baseline), got {}", samples_per_prompt));
  r.require(algorithm != RlAlgorithm::grpo || samples_per_prompt >= 2, "samples_per_prompt",
            fmt::format("grpo needs >= 2 (a group to compare with), got {}", samples_per_prompt));
  r.require(kl_target == 0 || kl_coef > 0, "kl_coef",
            "an adaptive KL coefficient (kl_target > 0) needs kl_coef > 0 to start from");
  r.require(minibatches <= prompts_per_rollout * samples_per_prompt, "minibatches",
            fmt::format("{} exceeds the responses per rollout ({})", minibatches,
                        prompts_per_rollout * samples_per_prompt));
}

}  // namespace cai::train
