// The constitution judge as an RL reward (judge_reward.h) on a model-free backend: the verdict
// requests it sends, p(follows) from the two verdict sentences' log-likelihoods, the weighted
// mean over principles, principle draws shared by one prompt's responses in one step, the chat
// form, and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cai/constitution/transcript.h"
#include "cai/io/error.h"
#include "cai/pipeline/judge_reward.h"
#include "fake_backend.h"
#include "test_util.h"

namespace cai::pipeline {
namespace {

using testing_util::FakeBackend;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Log-likelihoods that depend on the principle asked and the response: follows gets
// -1 - 0.5 * (response length) for "polite", -2 for "brief"; violates always -1.5.
std::vector<double> fake_ll(const std::string& text, const std::vector<std::string>& options) {
  const bool polite = text.find("polite?") != std::string::npos;
  const auto at = text.find("Assistant: ");
  const auto end = text.find("\n\nCritiqueRequest:");
  const double len = static_cast<double>(end - at - 11);
  std::vector<double> out;
  for (const auto& o : options)
    out.push_back(o.find("follows") != std::string::npos ? (polite ? -1.0 - 0.5 * len : -2.0)
                                                         : -1.5);
  return out;
}

TEST(JudgeReward, VerdictProbabilityFromTheTwoSentencesAveragedOverPrinciples) {
  FakeBackend judge;
  judge.scorer = fake_ll;
  const Constitution c = testing_util::test_constitution();
  JudgeRewardOptions o;  // every principle
  const std::vector<JudgeItem> items = {{"Where is it?", "ab", 1}, {"Where is it?", "abcd", 2}};
  const auto v = judge_verdicts(judge, c, items, o);
  ASSERT_EQ(v.size(), 2u);
  // One backend call for every (item, principle); the transcript is the critique prompt.
  ASSERT_EQ(judge.score_batches.size(), 1u);
  EXPECT_EQ(judge.score_batches[0], 4u);
  EXPECT_EQ(judge.seen[0],
            transcript::critique_prompt("Where is it?", "ab", c.principles[0].critique_request));
  for (std::size_t i = 0; i < 2; ++i) {
    const double len = static_cast<double>(items[i].response.size());
    // p(follows) = e^f / (e^f + e^v) = sigmoid(f - v); weights polite 1, brief 3.
    const double polite = sigmoid(-1.0 - 0.5 * len + 1.5), brief = sigmoid(-2.0 + 1.5);
    ASSERT_EQ(v[i].principles, (std::vector<std::string>{"polite", "brief"}));
    EXPECT_NEAR(v[i].p_follows[0], polite, 1e-12);
    EXPECT_NEAR(v[i].p_follows[1], brief, 1e-12);
    EXPECT_NEAR(v[i].reward, (1.0 * polite + 3.0 * brief) / 4.0, 1e-12);
  }
}

// min_violation_p: each principle scores its verdict, 0 when p(violates) >= t, else 1: a
// principle the judge passes scores 1 whatever its p(follows). p_follows stays the probability.
TEST(JudgeReward, VerdictsInsteadOfProbabilities) {
  FakeBackend judge;
  judge.scorer = fake_ll;
  const Constitution c = testing_util::test_constitution();
  JudgeRewardOptions o;
  o.min_violation_p = 0.5;
  // polite: p(follows) = sigmoid(0.5 - 0.5 len), so p(violates) is 0.5 at len 1 and 0.73 at
  // len 3; brief: p(violates) = 1 - sigmoid(-0.5) = 0.62 for any response.
  const std::vector<JudgeItem> items = {{"q", "a", 1}, {"q", "abc", 2}};
  auto v = judge_verdicts(judge, c, items, o);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NEAR(v[0].p_follows[0], 0.5, 1e-12);
  EXPECT_NEAR(v[1].p_follows[0], sigmoid(-1.0), 1e-12);
  EXPECT_DOUBLE_EQ(v[0].reward, 0.0);  // both principles broken: p(violates) 0.5 and 0.62
  EXPECT_DOUBLE_EQ(v[1].reward, 0.0);
  o.min_violation_p = 0.7;  // brief passes (0.62 < 0.7); polite fails only at len 3 (0.73)
  v = judge_verdicts(judge, c, items, o);
  EXPECT_DOUBLE_EQ(v[0].reward, (1.0 * 1 + 3.0 * 1) / 4.0);
  EXPECT_DOUBLE_EQ(v[1].reward, (1.0 * 0 + 3.0 * 1) / 4.0);
  o.min_violation_p = 1.0;
  EXPECT_THROW(judge_verdicts(judge, c, items, o), Error);
}

TEST(JudgeReward, OneDrawnPrincipleIsSharedByAPromptsResponsesInAStep) {
  FakeBackend judge;
  judge.scorer = fake_ll;
  const Constitution c = testing_util::test_constitution();
  JudgeRewardOptions o;
  o.ensemble = 0;
  o.seed = 5;
  const train::Reward r = judge_reward(judge, c, o);
  train::RlPrompt a, b;
  a.text = "first question";
  b.chat = true;
  b.messages = {{"system", "be nice"}, {"user", "second question"}};
  std::vector<train::RewardQuery> qs;
  std::set<std::string> principles_seen;
  for (std::int64_t step = 0; step < 12; ++step) {
    qs.clear();
    for (const auto* p : {&a, &b})
      for (const char* text : {"x", "yyyy"}) qs.push_back({p, {1}, text, false, step});
    judge.seen.clear();
    const auto got = r.fn(qs);
    ASSERT_EQ(got.size(), 4u);
    ASSERT_EQ(judge.seen.size(), 4u);  // one principle per response
    // The two responses to one prompt were asked about the same principle.
    for (std::size_t k : {0u, 2u}) {
      const bool polite = judge.seen[k].find("polite?") != std::string::npos;
      EXPECT_EQ(polite, judge.seen[k + 1].find("polite?") != std::string::npos);
      principles_seen.insert(polite ? "polite" : "brief");
      // The request is the conversation's last user message.
      EXPECT_NE(judge.seen[k].find(k == 0 ? "Human: first question" : "Human: second question"),
                std::string::npos);
    }
    // Same prompt, same step, same text: same reward (deterministic for resumption).
    EXPECT_EQ(r.fn(qs), got);
  }
  EXPECT_EQ(principles_seen.size(), 2u);  // across steps the draws differ
  EXPECT_NE(r.identity.find("fake"), std::string::npos);
  EXPECT_NE(r.identity.find(c.hash()), std::string::npos);
}

TEST(JudgeReward, ChatFormAsksYesOrNo) {
  FakeBackend judge;
  std::vector<std::string> asked;
  judge.scorer = [&](const std::string&, const std::vector<std::string>& options) {
    asked = options;
    return std::vector<double>{std::log(0.2), std::log(0.6)};  // Yes 0.2, No 0.6
  };
  const Constitution c = testing_util::test_constitution();
  JudgeRewardOptions o;
  o.format = PromptFormat::chat;
  o.ensemble = 1;
  const auto v = judge_verdicts(judge, c, {{"q", "r", 0}}, o);
  EXPECT_EQ(asked, (std::vector<std::string>{"Yes", "No"}));
  EXPECT_NEAR(v[0].reward, 0.25, 1e-12);  // 0.2 / (0.2 + 0.6)
  EXPECT_EQ(judge.seen[0].rfind("<user>Consider the following conversation", 0), 0u);
}

TEST(JudgeReward, Errors) {
  FakeBackend judge;
  const Constitution c = testing_util::test_constitution();
  JudgeRewardOptions o;
  o.ensemble = -2;
  EXPECT_THROW(judge_verdicts(judge, c, {}, o), Error);
  o.ensemble = -1;
  Constitution empty;
  EXPECT_THROW(judge_reward(judge, empty, o), Error);
  const train::Reward r = judge_reward(judge, c, o);
  train::RlPrompt p;
  p.chat = true;
  p.messages = {{"system", "only a system message"}};
  try {
    r.fn({{&p, {1}, "x", false, 0}});
    FAIL() << "a prompt without a user message must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no user message"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cai::pipeline
