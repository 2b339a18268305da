// What RL is rewarded by: a batch of sampled responses in, one number per response out. Two
// kinds exist: a reward model trained by `cai train rm` (reward_model_fn in train/rl.h) and the
// constitution judge's direct reward (d-RLAIF, pipeline/judge_reward.h); `cai train rl` picks
// one with --reward. The header holds no tensors, so any module can implement a reward without
// depending on the trainer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cai/tokenizer/chat_template.h"

namespace cai::train {

// A prompt to sample from: token ids as generation sees them, and its source form so a
// reward can re-read prompt + response exactly as its own data was written.
struct RlPrompt {
  std::vector<std::int32_t> tokens;   // BOS + rendered prompt (with generation prompt)
  bool chat = false;                  // messages (the chat template) or raw text
  std::string text;                   // raw text (chat false)
  std::vector<ChatMessage> messages;  // the conversation so far (chat true)
  std::vector<std::string> stop;      // stop strings (the template's end-of-turn markers)
  std::int64_t line = 0;              // 1-based line in the prompts file (0: not from a file)
};

// The request a judge reads: the last user message of a conversation, or the raw text.
inline std::string user_request(const RlPrompt& p) {
  if (!p.chat) return p.text;
  for (auto m = p.messages.rbegin(); m != p.messages.rend(); ++m)
    if (m->role == "user") return m->content;
  return "";
}

// One sampled response to score.
struct RewardQuery {
  const RlPrompt* prompt = nullptr;
  std::vector<std::int32_t> response;  // generated ids (EOS / stop id included when hit)
  std::string text;                    // response text without EOS and stop strings
  bool truncated = false;              // cut by max_new_tokens
  std::int64_t step = 0;               // the rollout (0-based) that sampled it: the responses
                                       // of one prompt in one step are compared with each other
};

// Scores a batch of responses: one number per query, in order. Must be deterministic in the
// queries (a resumed run repeats its steps exactly).
using RewardFn = std::function<std::vector<double>(const std::vector<RewardQuery>&)>;

// A reward and what fixes its numbers (a reward model's weights; a judge, its constitution and
// settings), recorded in the run's identity so that a resume with another reward is refused.
struct Reward {
  RewardFn fn;
  std::string identity;
};

}  // namespace cai::train
