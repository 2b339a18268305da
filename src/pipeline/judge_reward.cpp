// The constitution judge as a reward (see include/cai/pipeline/judge_reward.h).
#include "cai/pipeline/judge_reward.h"

#include <cmath>
#include <string>

#include "cai/constitution/transcript.h"
#include "cai/io/error.h"
#include "cai/io/sha256.h"
#include "cai/pipeline/label.h"

namespace cai::pipeline {

TextRequest verdict_request(PromptFormat format, const std::string& prompt,
                            const std::string& response, const Principle& principle) {
  TextRequest r;
  if (format == PromptFormat::transcript) {
    r.prompt = transcript::critique_prompt(prompt, response, principle.critique_request);
  } else {
    r.chat = true;
    r.messages = {{"user",
                   "Consider the following conversation between a human and an assistant.\n\n"
                   "Human: " +
                       prompt + "\n\nAssistant: " + response +
                       "\n\nThe principle: " + principle.critique_request +
                       "\n\nDoes the assistant's response follow the principle? Answer Yes or "
                       "No."}};
  }
  return r;
}

std::vector<std::string> verdict_options(PromptFormat format) {
  if (format == PromptFormat::transcript) return transcript::critique_verdict_options();
  return {"Yes", "No"};  // the reply starts right after the assistant header
}

std::vector<JudgeVerdicts> judge_verdicts(Backend& judge, const Constitution& c,
                                          const std::vector<JudgeItem>& items,
                                          const JudgeRewardOptions& opts) {
  opts.validate();
  CAI_CHECK(!c.principles.empty(), "judge reward: the constitution has no principles");
  std::vector<JudgeVerdicts> out(items.size());
  std::vector<std::size_t> principle_of;  // per request
  std::vector<TextRequest> reqs;
  for (std::size_t i = 0; i < items.size(); ++i)
    for (auto k : pick_principles(c, items[i].key, opts.ensemble, opts.seed)) {
      out[i].principles.push_back(c.principles[k].name);
      principle_of.push_back(k);
      reqs.push_back(
          verdict_request(opts.format, items[i].prompt, items[i].response, c.principles[k]));
    }
  if (reqs.empty()) return out;
  const auto options = verdict_options(opts.format);
  std::vector<double> p(reqs.size());
  if (opts.format == PromptFormat::transcript) {
    const auto ll = judge.loglikelihoods(reqs, options);
    CAI_CHECK(ll.size() == reqs.size(), "judge reward: the judge returned {} scores for {}",
              ll.size(), reqs.size());
    // e^f / (e^f + e^v) = sigmoid(f - v).
    for (std::size_t n = 0; n < reqs.size(); ++n)
      p[n] = 1.0 / (1.0 + std::exp(ll[n][1] - ll[n][0]));
  } else {
    const auto s = judge.score_options(reqs, options);
    CAI_CHECK(s.size() == reqs.size(), "judge reward: the judge returned {} scores for {}",
              s.size(), reqs.size());
    for (std::size_t n = 0; n < reqs.size(); ++n) p[n] = std::exp(s[n].normalised.at(0));
  }
  std::size_t n = 0;
  for (auto& v : out) {
    double wsum = 0.0, sum = 0.0;
    for (std::size_t k = 0; k < v.principles.size(); ++k, ++n) {
      CAI_CHECK(std::isfinite(p[n]), "judge reward: the judge's verdict probability is {}", p[n]);
      v.p_follows.push_back(p[n]);
      const double w = c.principles[principle_of[n]].weight;
      const double score =
          opts.min_violation_p > 0 ? (1.0 - p[n] >= opts.min_violation_p ? 0.0 : 1.0) : p[n];
      wsum += w;
      sum += w * score;
    }
    v.reward = sum / wsum;
  }
  return out;
}

namespace {

// A key from the request and the step: one prompt's responses in one step share it.
std::uint64_t item_key(const std::string& request, std::int64_t step) {
  const std::string h = sha256_hex(request + '\n' + std::to_string(step));
  return std::stoull(h.substr(0, 16), nullptr, 16);
}

}  // namespace

train::Reward judge_reward(Backend& judge, const Constitution& c, const JudgeRewardOptions& opts) {
  opts.validate();
  CAI_CHECK(!c.principles.empty(), "judge reward: the constitution has no principles");
  train::Reward r;
  r.identity =
      nlohmann::json{
          {"judge", judge.describe()}, {"constitution", c.hash()}, {"settings", opts.settings()}}
          .dump();
  r.fn = [&judge, &c, opts](const std::vector<train::RewardQuery>& queries) {
    std::vector<JudgeItem> items;
    items.reserve(queries.size());
    for (const auto& q : queries) {
      CAI_CHECK(q.prompt, "judge reward: a query without its prompt");
      const std::string request = train::user_request(*q.prompt);
      CAI_CHECK(!request.empty(), "judge reward: the prompt at line {} has no user message",
                q.prompt->line);
      items.push_back({request, q.text, item_key(request, q.step)});
    }
    std::vector<double> rewards;
    for (const auto& v : judge_verdicts(judge, c, items, opts)) rewards.push_back(v.reward);
    return rewards;
  };
  return r;
}

}  // namespace cai::pipeline
