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

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cai/train/data.h"
#include "cai/train/objective.h"
#include "cai/train/reward.h"
#include "cai/train/trainer.h"

namespace cai {
struct LoadedModel;
}

namespace cai::train {

class RewardModel;

enum class RlAlgorithm { rloo, grpo, ppo };
RlAlgorithm parse_rl_algorithm(const std::string& name);  // "rloo", "grpo", "ppo"; throws
const char* to_string(RlAlgorithm a);

// Per-token KL estimators of KL(policy || reference) from the sampled token's log-probabilities
// (Schulman 2020, "Approximating KL Divergence"): k1 = log p - log q (unbiased, can be
// negative), k3 = (q/p - 1) - log(q/p) (unbiased, never negative).
enum class KlEstimator { k1, k3 };
KlEstimator parse_kl_estimator(const std::string& name);  // "k1", "k3"; throws
const char* to_string(KlEstimator k);

// How scores are normalised before the KL penalty: not at all, whitened within each rollout,
// or by running mean and standard deviation over all rollouts so far (this one included).
enum class RewardNorm { none, batch, running };
RewardNorm parse_reward_norm(const std::string& name);  // "none", "batch", "running"; throws
const char* to_string(RewardNorm r);

struct RlOptions {
  std::string out_dir;  // required: metrics.jsonl, checkpoint/, final/
  RlAlgorithm algorithm = RlAlgorithm::rloo;

  // Rollouts.
  std::int64_t steps = 100;              // rollouts (each followed by its updates)
  std::int64_t prompts_per_rollout = 8;  // prompts drawn per rollout (seeded order, cycling)
  std::int64_t samples_per_prompt = 4;   // k responses per prompt; rloo, grpo need k >= 2
  std::int64_t max_new_tokens = 64;      // per response (EOS included)
  double temperature = 1.0;              // sampling temperature; log-probabilities (policy,
                                         // reference) are of logits / temperature, so the
                                         // updates stay on the sampled distribution
  double missing_eos_penalty = 0.0;      // subtracted from the score of a response cut by
                                         // max_new_tokens (TRL's missing_eos_penalty); >= 0

  // Reward and KL.
  double kl_coef = 0.05;        // initial (or fixed) KL coefficient beta, >= 0
  double kl_target = 0.0;       // > 0: adapt beta towards this KL per response
                                // (nats, summed over its tokens); 0: fixed beta
  double kl_horizon = 10000.0;  // adaptive controller's horizon in samples
  KlEstimator kl_estimator = KlEstimator::k1;
  RewardNorm reward_norm = RewardNorm::none;
  double reward_clip = 0.0;  // > 0: normalised scores clipped to [-c, c]

  // Updates.
  std::int64_t epochs = 1;            // passes over each rollout (ppo usually 4)
  std::int64_t minibatches = 1;       // optimiser updates per pass
  double clip_range = 0.2;            // policy ratio clipping epsilon
  double value_clip_range = 0.2;      // ppo: value clipping around the rollout's values
  double vf_coef = 0.1;               // ppo: weight of the value loss
  double gamma = 1.0;                 // ppo: discount
  double lam = 0.95;                  // ppo: GAE lambda
  bool whiten_advantages = true;      // ppo: advantages whitened per rollout
  bool normalize_advantages = false;  // rloo: advantages divided by their std per rollout
  bool scale_rewards = true;          // grpo: advantages divided by their group's std

  // Optimiser (AdamW, optim.h) and schedule (trainer.h's learning_rate over all updates).
  double lr = 1e-5;
  Schedule schedule = Schedule::constant;
  std::int64_t warmup_steps = 0;  // updates warming up linearly
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double max_grad_norm = 1.0;        // 0 = no clipping
  std::int64_t token_budget = 4096;  // padded tokens per forward micro-batch

  std::uint64_t seed = 0;       // prompt order, sampling, minibatch order
  std::int64_t save_every = 0;  // steps between checkpoints (0: only at the end)
  std::int64_t log_every = 1;   // steps between metrics lines
  bool resume = false;          // continue from out_dir/checkpoint
  std::string run_config;       // settings outside these options that change the
                                // result (model, reward model, prompts): hashed so a
                                // resume with other ones is refused
  bool progress = true;         // progress bar on stderr
  void validate() const;        // throws naming the field
};

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
RlSummary train_rl(LoadedModel& policy, const std::vector<RlPrompt>& prompts,
                   const RewardFn& reward, const RlOptions& opts);

// `cai train rl`: loads the policy, the reward (a reward model, or one the caller gives) and
// the prompts, then train_rl.
struct RlRunOptions {
  std::string model;                   // policy to train (required; carries a tokenizer)
  std::string reward_model;            // reward model directory from `cai train rm`; required
                                       // unless run_rl is given a reward
  std::string prompts;                 // prompts JSONL (required)
  std::string chat_template;           // "" = the policy tokenizer's
  std::int64_t max_prompt_length = 0;  // 0: the model's context minus max_new_tokens
  std::string device = "cpu";          // where the policy and the reward model run
  RlOptions rl;
  void validate() const;
};
// `reward` (optional): the reward to train against instead of opts.reward_model (e.g. the
// constitution judge); it must outlive the call.
RlSummary run_rl(const RlRunOptions& opts, const Reward* reward = nullptr);

}  // namespace cai::train
