// Reinforcement learning against a reward: the policy samples k responses per prompt with the
// generation engine (fast no-grad path), a reward function scores them (a reward model trained
// by `cai train rm`, or any function in tests), and the policy is updated with a per-token KL
// penalty to the frozen reference policy (its starting weights):
//
//   rloo  REINFORCE with the leave-one-out baseline over the k samples of a prompt (Ahmadian et
//         al. 2024, "Back to Basics: Revisiting REINFORCE Style Optimization for Learning from
//         Human Feedback in LLMs"); the KL penalty is summed over the response into its reward.
//   grpo  Group Relative Policy Optimization (Shao et al. 2024, "DeepSeekMath", section 4.1,
//         eq. 3 with outcome supervision): each response's advantage is its reward minus the
//         mean reward of its prompt's k samples, divided by their standard deviation
//         (scale_rewards); no value head; the KL to the reference is a per-token term of the
//         loss, not a penalty in the reward; the loss averages over each response's tokens,
//         then over responses.
//   ppo   PPO with a value head on the policy's hidden states, clipped policy objective and
//         clipped value loss, GAE (Schulman et al. 2017 "Proximal Policy Optimization
//         Algorithms"; 2016 "High-Dimensional Continuous Control Using GAE"); the KL penalty
//         is a per-token reward and the score is paid at the last token (Ouyang et al. 2022).
//
// KL coefficient fixed or adapted towards a target KL (Ziegler et al. 2019, "Fine-Tuning
// Language Models from Human Preferences", section 2.2).
//
// One step = one rollout (prompts_per_rollout x samples_per_prompt responses) followed by
// `epochs` passes over it in `minibatches` optimiser updates each. Run directory (`out_dir`):
//   metrics.jsonl  one line per logged step: {"step", "split": "train", "score", "reward",
//                  "kl", "kl_coef", "entropy", "response_length", "truncated", "loss",
//                  "loss/policy", "loss/value" (ppo), "clipfrac", "approx_kl", "grad_norm",
//                  "lr", "samples_per_s"}
//   checkpoint/    the trainer's checkpoint format (trainer.h), written at step boundaries,
//                  plus the KL coefficient and the running reward statistics
//   final/         the policy as a model directory (the format `cai train sft` writes; the
//                  value head is not part of it)
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cai/train/data.h"
#include "cai/train/objective.h"
#include "cai/train/reward.h"
#include "cai/train/rl_options.h"
#include "cai/train/trainer.h"

namespace cai {
struct LoadedModel;
}

namespace cai::train {

class RewardModel;

// RlPrompt, RewardQuery, RewardFn and Reward: cai/train/reward.h.

// Lines {"prompt": str}, {"prompt": [messages]} or {"messages": [...]} (trailing assistant
// messages are dropped, so SFT and preference files serve as prompts). Prompts longer than
// max_prompt_length tokens are an error naming file:line.
std::vector<RlPrompt> load_rl_prompts(const std::string& path, const Tokenizer& tok,
                                      const ChatTemplate& tmpl, std::int64_t max_prompt_length,
                                      bool add_bos = true);

// A reward model as a RewardFn: prompt + response text tokenised with the reward model's
// tokenizer and `tmpl` as `cai rm score` does, then RewardModel::score. `rm` must outlive it.
RewardFn reward_model_fn(RewardModel& rm, const ChatTemplate& tmpl,
                         std::int64_t token_budget = 8192);

struct RlSummary {
  std::int64_t steps = 0;
  double seconds = 0.0;
  Metrics first;  // metrics of the first step this process ran
  Metrics last;   // metrics of the last step
};

// Trains `policy` (full fine-tuning, F32, no LoRA adapter) in place and writes out_dir/final.
// The reference policy is a frozen copy of `policy` taken on entry (or, on resume, of the
// weights it holds on entry: pass the starting model, not the checkpoint's). Throws cai::Error
// on bad options, empty prompts, a policy without a tokenizer, NaN/Inf, or a refused resume.
// `ptx`: the SFT rows whose language-modelling loss, times opts.ptx_coef, joins each update
// (required when ptx_coef > 0); ptx_rows of them per update, in a seeded order that cycles.
RlSummary train_rl(LoadedModel& policy, const std::vector<RlPrompt>& prompts,
                   const RewardFn& reward, const RlOptions& opts,
                   const std::vector<TokenizedSequence>& ptx = {});

// `cai train rl`: loads the policy, the reward (a reward model, or one the caller gives) and
// the prompts, then train_rl.
struct RlRunOptions {
  std::string model;
  std::string reward_model;
  std::string prompts;
  std::string chat_template;
  std::int64_t max_prompt_length = 0;
  std::string ptx_data;  // SFT rows for rl.ptx_coef
  std::string device = "cpu";  // where the policy and the reward model run (the command's
                               // --device: not a declared field)
  RlOptions rl;
  static void fields(opt::Fields<RlRunOptions>& f) {
    using O = RlRunOptions;
    f("model", &O::model,
      "policy to train (Hugging Face directory or .gguf carrying a tokenizer); also the KL "
      "reference");
    f("reward_model", &O::reward_model,
      "reward model directory (cai train rm's final/); required unless a reward is given");
    f("prompts", &O::prompts, "prompts (JSONL)");
    f("chat_template", &O::chat_template,
      "template for message prompts (chatml, llama3, llama2, human-assistant; \"\": the "
      "tokenizer's)");
    f("max_prompt_length", &O::max_prompt_length,
      "tokens per prompt at most (0: the context minus max_new_tokens)", opt::min(0));
    f("ptx_data", &O::ptx_data,
      "SFT rows (JSONL, the formats `cai train sft` reads) whose loss joins each update with "
      "ptx_coef");
    f.flat(&O::rl);
  }
  void rules(opt::Rules& r) const;
  void validate() const { opt::validate(*this, "rl"); }
};
// `reward` (optional): the reward to train against instead of opts.reward_model (e.g. the
// constitution judge); it must outlive the call.
RlSummary run_rl(const RlRunOptions& opts, const Reward* reward = nullptr);

}  // namespace cai::train
