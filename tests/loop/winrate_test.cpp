// The win-rate quality signal on hand-computed examples: the rate and its Wilson interval, both
// orders averaged (a judge that only sees positions gives 0.5), equal texts as unjudged ties,
// the stop and best-round rules on hand-made sequences, and the ranking beside the oracle's.
#include "cai/loop/winrate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "../../src/loop/internal.h"
#include "../pipeline/fake_backend.h"
#include "../pipeline/test_util.h"
#include "cai/io/error.h"

namespace cai::loop {
namespace {

namespace fs = std::filesystem;

std::size_t requests(const std::vector<std::size_t>& batches) {
  return std::accumulate(batches.begin(), batches.end(), std::size_t{0});
}

TEST(WinRate, RateTiesAsHalfAndWilsonIntervalByHand) {
  // Two wins, one loss, a judged tie and an equal pair: (2 + 2 / 2) / 5 = 0.6.
  const std::vector<PromptPreference> p = {
      {0.8, 1, false}, {0.6, 1, false}, {0.3, -1, false}, {0.5, 0, false}, {0.5, 0, true}};
  const WinRate w = summarise_win_rate(p);
  EXPECT_EQ(w.n, 5);
  EXPECT_EQ(w.wins, 2);
  EXPECT_EQ(w.losses, 1);
  EXPECT_EQ(w.ties, 2);
  EXPECT_EQ(w.equal, 1);
  EXPECT_DOUBLE_EQ(w.rate, 0.6);
  EXPECT_NEAR(w.mean_p, 2.7 / 5, 1e-15);
  // Wilson, z = 1.96: (0.6 + z^2/10 -+ z sqrt(0.24/5 + z^2/100)) / (1 + z^2/5).
  EXPECT_NEAR(w.ci_lo, 0.230724281276, 1e-9);
  EXPECT_NEAR(w.ci_hi, 0.882379225767, 1e-9);
  const auto j = w.to_json();
  EXPECT_EQ(j["interval"], "wilson");
  EXPECT_EQ(j["equal_texts"], 1);
  EXPECT_EQ(summarise_win_rate({}).rate, 0.5);
}

// A judge whose answer depends only on the position (it always favours (A)) is exactly
// undecided once both orders are averaged.
TEST(WinRate, PurePositionBiasGivesOneHalf) {
  testing_util::FakeBackend judge;
  judge.scorer = [](const std::string&, const std::vector<std::string>& options) {
    EXPECT_EQ(options.size(), 2u);
    return std::vector<double>{-0.1, -2.7};
  };
  const auto c = testing_util::test_constitution();
  pipeline::LabelOptions o;
  o.ensemble = -1;
  const auto prefs = compare_responses(judge, c, {"Q1?", "Q2?", "Q3?"}, {"x one", "x two", "x3"},
                                       {"y one", "y two", "y3"}, o);
  const WinRate w = summarise_win_rate(prefs);
  EXPECT_EQ(w.ties, 3);
  EXPECT_EQ(w.equal, 0);
  EXPECT_DOUBLE_EQ(w.rate, 0.5);
  EXPECT_NEAR(w.mean_p, 0.5, 1e-12);
  // Every pair was judged under both principles in both orders.
  EXPECT_EQ(requests(judge.score_batches), 3u * 2 * 2);
}

// Content and position together: the judge adds 0.5 to option (A) and 1 to the better
// response, so p(A) = sigmoid(1.5) when the better one is shown first and sigmoid(-0.5) when it
// is second; averaged, p(better) = (sigmoid(1.5) + 1 - sigmoid(-0.5)) / 2 = 0.7200169...
TEST(WinRate, BothOrdersAveragedAndEqualTextsUnjudged) {
  testing_util::FakeBackend judge;
  judge.scorer = [](const std::string& text, const std::vector<std::string>&) {
    const bool good_first = text.find("GOOD") < text.find("BAD");
    return std::vector<double>{0.5 + (good_first ? 1.0 : 0.0), good_first ? 0.0 : 1.0};
  };
  const auto c = testing_util::test_constitution();
  pipeline::LabelOptions o;
  o.ensemble = -1;
  const auto prefs = compare_responses(judge, c, {"Q1?", "Q2?", "Q3?", "Q4?"},
                                       {"GOOD reply", "BAD reply", "SAMEREPLY", "GOOD too"},
                                       {"BAD reply", "GOOD reply", "SAMEREPLY", "BAD too"}, o);
  ASSERT_EQ(prefs.size(), 4u);
  EXPECT_NEAR(prefs[0].p, 0.7200169036977, 1e-12);
  EXPECT_EQ(prefs[0].outcome, 1);
  EXPECT_NEAR(prefs[1].p, 1 - 0.7200169036977, 1e-12);
  EXPECT_EQ(prefs[1].outcome, -1);
  EXPECT_TRUE(prefs[2].equal);
  EXPECT_EQ(prefs[2].outcome, 0);
  EXPECT_EQ(prefs[3].outcome, 1);
  // Three pairs judged (2 principles x 2 orders each); the equal pair never reached the judge.
  EXPECT_EQ(requests(judge.score_batches), 3u * 2 * 2);
  for (const auto& t : judge.seen) EXPECT_EQ(t.find("SAMEREPLY"), std::string::npos);
  const WinRate w = summarise_win_rate(prefs);
  EXPECT_DOUBLE_EQ(w.rate, (2 + 0.5) / 4);
  EXPECT_NEAR(w.ci_lo, 0.219426520065, 1e-9);  // Wilson of 0.625 over 4

  // Identical responses everywhere: 0.5 without a single request.
  testing_util::FakeBackend idle;
  const auto same = compare_responses(idle, c, {"a", "b"}, {"x", "y"}, {"x", "y"}, o);
  EXPECT_DOUBLE_EQ(summarise_win_rate(same).rate, 0.5);
  EXPECT_TRUE(idle.score_batches.empty());
}

TEST(WinRate, StopWhenARoundLosesBelowFactorTimesOneHalf) {
  EXPECT_EQ(winrate_stop_round({0.5, 0.6, 0.47, 0.3}, 0.95), std::optional<std::size_t>(2));
  EXPECT_EQ(winrate_stop_round({0.5, 0.475, 0.9}, 0.95), std::nullopt);  // 0.475 is not below
  EXPECT_EQ(winrate_stop_round({0.5, 0.2}, 0.0), std::nullopt);          // factor 0: never
  EXPECT_EQ(winrate_stop_round({0.5}, 0.95), std::nullopt);
}

TEST(WinRate, BestRoundFollowsTheChainOfPairwiseResults) {
  // s = 0, log 3, 0: round 2 undid round 1's gain.
  auto s = winrate_strengths({0.5, 0.75, 0.25});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s[0], 0.0);
  EXPECT_NEAR(s[1], std::log(3.0), 1e-9);
  EXPECT_EQ(s[2], 0.0);  // exactly: strengths are rounded to 1e-9
  EXPECT_EQ(winrate_best_round({0.5, 0.75, 0.25}), 1u);
  // A small loss then a larger win: 0, 0.405, 0.205, 0.610.
  EXPECT_EQ(winrate_best_round({0.5, 0.6, 0.45, 0.6}), 3u);
  s = winrate_strengths({0.5, 0.6, 0.45, 0.6});
  EXPECT_NEAR(s[2], 0.4054651081 - 0.2006706955, 2e-9);
  // Every round lost: the base model stays best.
  EXPECT_EQ(winrate_best_round({0.5, 0.4, 0.45}), 0u);
  // Back to the same level: the earlier round wins the tie.
  EXPECT_EQ(winrate_best_round({0.5, 0.75, 0.25, 0.75}), 1u);
  // A clean sweep is clamped to 0.999, not an infinite strength.
  EXPECT_NEAR(winrate_strengths({0.5, 1.0})[1], std::log(999.0), 1e-9);
  EXPECT_EQ(winrate_best_round({0.5, 1.0, 0.0}), 1u);
}

TEST(WinRate, RoundOneJudgedByTheModelThatWroteRoundZeroNeitherStopsNorRanks) {
  // The base model judging round 1 against its own responses: 0.42 does not stop the loop, and
  // the chain starts at round 1, which is a candidate and round 0 is not.
  EXPECT_EQ(winrate_stop_round({0.5, 0.42, 0.6}, 0.95, 2), std::nullopt);
  EXPECT_EQ(winrate_stop_round({0.5, 0.42, 0.6}, 0.95, 1), std::optional<std::size_t>(1));
  EXPECT_EQ(winrate_stop_round({0.5, 0.42, 0.45, 0.9}, 0.95, 2), std::optional<std::size_t>(2));
  const auto s = winrate_strengths({0.5, 0.42, 0.75}, 2);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], 0.0);
  EXPECT_EQ(s[1], 0.0);
  EXPECT_NEAR(s[2], std::log(3.0), 1e-9);
  EXPECT_EQ(winrate_best_round({0.5, 0.42, 0.75}, 2), 2u);
  EXPECT_EQ(winrate_best_round({0.5, 0.42}, 2), 1u);       // the only trained round
  EXPECT_EQ(winrate_best_round({0.5, 0.42}, 1), 0u);       // another judge: the base can win
  EXPECT_EQ(winrate_best_round({0.5, 0.9, 0.25}, 2), 1u);  // a later loss keeps round 1
  EXPECT_EQ(winrate_best_round({0.5}, 2), 0u);             // no trained round
  // Which judge that is: none given (the base model), or the base model's own path.
  const auto dir = fs::path(CAI_TEST_TMPDIR) / ("winrate-self-" + std::to_string(::getpid()));
  fs::create_directories(dir / "base");
  fs::create_directories(dir / "judge");
  const std::string base = (dir / "base").string();
  EXPECT_EQ(self_judged_first_round("", base), 2u);
  EXPECT_EQ(self_judged_first_round(base, base), 2u);
  EXPECT_EQ(self_judged_first_round((dir / "base" / ".." / "base").string(), base), 2u);
  EXPECT_EQ(self_judged_first_round((dir / "judge").string(), base), 1u);
  EXPECT_EQ(self_judged_first_round((dir / "judge").string(), ""), 1u);  // the base is an api
  fs::remove_all(dir);
  // The quality ranking lists the candidates only; the oracle's every round.
  const Ranking r = detail::rank_rounds({0.0, 0.0, 1.1}, {0.9, 0.5, 0.6}, 2, 1);
  EXPECT_EQ(r.quality, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(r.oracle, (std::vector<std::int64_t>{0, 2, 1}));
  EXPECT_EQ(r.agree, false);
}

TEST(WinRate, RankingBesideTheOracle) {
  using Rounds = std::vector<std::int64_t>;
  const Ranking r = detail::rank_rounds({0.0, 0.4, 0.2}, {0.8, 0.7, 0.9}, 1);
  EXPECT_EQ(r.quality, (Rounds{1, 2, 0}));
  EXPECT_EQ(r.oracle, (Rounds{2, 0, 1}));
  EXPECT_EQ(r.oracle_best_round, 2);
  EXPECT_EQ(r.agree, false);
  EXPECT_EQ(detail::rank_rounds({0.0, 0.1}, {0.5, 0.6}, 1).agree, true);
  EXPECT_FALSE(detail::rank_rounds({0.0, 0.1}, {}, 1).oracle_best_round);
}

TEST(WinRate, KeptResponsesMustAnswerTheQualityPrompts) {
  const fs::path p = testing_util::tmp_path("quality_responses.jsonl");
  std::vector<pipeline::PromptRecord> prompts = {{"a", "First?", ""}, {"b", "Second?", ""}};
  detail::write_quality_responses(p, "m", prompts, {"one", "two"});
  EXPECT_EQ(detail::read_quality_responses(p, prompts), (std::vector<std::string>{"one", "two"}));
  prompts[1].prompt = "Changed?";
  try {
    detail::read_quality_responses(p, prompts);
    FAIL() << "a response to another prompt was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string() + ":2"), std::string::npos) << e.what();
  }
  prompts.push_back({"c", "Third?", ""});
  prompts[1].prompt = "Second?";
  EXPECT_THROW(detail::read_quality_responses(p, prompts), Error);  // one response missing
}

}  // namespace
}  // namespace cai::loop
