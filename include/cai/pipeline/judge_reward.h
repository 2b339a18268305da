// The constitution judge as a reward: direct RLAIF (d-RLAIF; Lee et al. 2023, "RLAIF: Scaling
// Reinforcement Learning from Human Feedback with AI Feedback", section 2.4), where the
// judge's own probability is the reward and no reward model is trained in between. Here the
// probability is that the response follows a principle of the constitution, read from the
// judge's critique verdict:
//  - transcript: the critique transcript of the CAI paper (constitution/transcript.h, ending in
//    "Critique:") continued by the two fixed verdict sentences, " The response follows the
//    principle." and " The response violates the principle.", each scored whole
//    (Backend::loglikelihoods); p(follows) = e^f / (e^f + e^v). Scoring the whole sentences
//    gives the same number for any tokenisation, in-process and over HTTP (servers that
//    return prompt log-probs with `echo`: vLLM, `cai serve`).
//  - chat: one user message holding the conversation, the principle's critique request and
//    the question whether the response follows it; p(follows) is the normalised probability
//    of the reply "Yes" against "No" (Backend::score_options, the first reply token, which
//    chat servers give as top log-probs).
// The reward of a response is the weighted mean of p(follows) over the principles judging it:
// every principle, or n drawn with the principles' weights per (prompt, step), so all the
// responses of one prompt in one RL step are judged on the same principles. Every request of
// a batch goes to the backend in one call.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "cai/backend/backend.h"
#include "cai/constitution/constitution.h"
#include "cai/pipeline/common.h"
#include "cai/train/reward.h"

namespace cai::pipeline {

struct JudgeRewardOptions {
  PromptFormat format = PromptFormat::transcript;
  // Principles judging each response: -1 = all (weighted mean), 0 = one drawn with the
  // weights, n > 0 = n drawn and averaged with their weights.
  std::int64_t ensemble = -1;
  std::uint64_t seed = 0;  // the principle draws
  // 0: a principle's score is p(follows) itself. t > 0: the verdict instead, 0 when the judge's
  // p(violates) is at least t and 1 otherwise, so two responses the judge passes tie however
  // its probabilities differ and group-relative RL does not follow that difference. (It did not
  // stop GRPO's drift towards declining on the demo world: README, "RL against the judge".)
  double min_violation_p = 0.0;
  static void fields(opt::Fields<JudgeRewardOptions>& f) {
    using O = JudgeRewardOptions;
    f("format", &O::format, "transcript (critique verdicts) or chat");
    f("ensemble", &O::ensemble, "principles per response (-1 all, 0 one drawn, n drawn)",
      opt::min(-1));
    f("min_violation_p", &O::min_violation_p,
      "0: a principle scores p(follows); t > 0: it scores 0 when p(violates) >= t, else 1",
      opt::range(0, 1, "[)"));
    f("seed", &O::seed, "the principle draws");
  }
  void validate() const { opt::validate(*this, "judge reward"); }
  nlohmann::json settings() const { return opt::identity_json(*this); }  // what changes rewards
};

// One response to judge. `key` fixes its principle draws (responses with one key are judged
// on the same principles).
struct JudgeItem {
  std::string prompt;    // the user's request
  std::string response;  // the assistant's reply
  std::uint64_t key = 0;
};

struct JudgeVerdicts {
  std::vector<std::string> principles;  // the principles that judged, constitution order
  std::vector<double> p_follows;        // one per principle
  // The principles' scores (p_follows, or verdicts with min_violation_p) averaged with their
  // weights.
  double reward = 0.0;
};

// The request and the options one (item, principle) verdict is read from (see the header
// comment); exposed for tests.
TextRequest verdict_request(PromptFormat format, const std::string& prompt,
                            const std::string& response, const Principle& principle);
std::vector<std::string> verdict_options(PromptFormat format);

// Judges every item, all requests in one backend call; results in item order.
std::vector<JudgeVerdicts> judge_verdicts(Backend& judge, const Constitution& c,
                                          const std::vector<JudgeItem>& items,
                                          const JudgeRewardOptions& opts);

// The judge as a reward for `cai train rl`: each query becomes an item (its prompt's user
// request, the response text, a key from the request text and the step) and its reward is the
// item's. `judge` and `c` must outlive the reward. The identity names the judge
// (Backend::describe), the constitution's hash and the options.
train::Reward judge_reward(Backend& judge, const Constitution& c, const JudgeRewardOptions& opts);

}  // namespace cai::pipeline
