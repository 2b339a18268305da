// eval.json through its one writer and reader (eval/eval_file.h): every block survives a round
// trip through the file, a file without a world (task results only) reads, and a malformed
// block is an error naming the file and the key.
#include "cai/eval/eval_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/world/principles.h"

namespace cai::eval {
namespace eval_file_test {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(CAI_TEST_TMPDIR) / "eval_file";

EvalFile full() {
  EvalFile e;
  e.model = "runs/base";
  e.judge = "runs/base";
  e.split = "test";
  e.seed = 7;
  e.temperature = 0.0;
  world::OracleSummary s;
  s.overall = {5, 8};
  s.strict = {4, 8};
  s.on_topic = {7, 8};
  s.right_fact = {3, 4};
  s.over_refusal = {0, 2};
  s.overall_unseen_combination = {1, 2};
  s.overall_test_only_template = {2, 3};
  s.principles[static_cast<std::size_t>(world::PrincipleId::privacy)] = {6, 8};
  s.overall_by_kind["answerable"] = {3, 4};
  e.compliance = s;
  e.compliance_sampled = s;
  e.sampled_temperature = 0.7;
  e.heldout_file = "handwritten.jsonl";
  e.heldout = s;
  e.heldout->overall = {4, 8};
  e.heldout_sampled = s;
  e.critique_agreement = PrincipleRates{{12, 16}, {{"empathy", {3, 4}}, {"privacy", {2, 4}}}};
  e.judge_compliance = PrincipleRates{{10, 16}, {{"privacy", {1, 4}}}};
  e.critique_false_alarms = PrincipleRates{{1, 9}, {}};
  e.comparison_agreement = ComparisonAgreement{{3, 4}, {5, 8}, {{"cite-source", {1, 2}}}};
  Calibration c;
  c.n = 8;
  c.ece = 0.1;
  c.bins = {{0.5, 0.75, 3, 0.6, 2.0 / 3.0}, {0.75, 1.0, 5, 0.9, 0.8}};
  e.critique_calibration = CalibrationRecord{c, {{"privacy", Agreement{3, 4}}}};
  e.comparison_calibration = CalibrationRecord{c, {}};
  TaskResult quiz;
  quiz.name = kQuizTask;
  quiz.primary = kQuizMetric;
  quiz.metrics = {{"acc", 0.6}, {"acc_norm", 0.55}};
  quiz.stderrs = {{"acc", 0.05}};
  quiz.n = 100;
  e.results = {quiz};
  e.fact_samples = nlohmann::json::array({{{"id", "f1"}, {"response", "9 am"}, {"right", 1.0}}});
  world::OracleVerdict v;
  v.pass = false;
  v.on_topic = true;
  v.states_right_fact = false;
  v.principles[static_cast<std::size_t>(world::PrincipleId::privacy)] = {true, false, "asks"};
  e.responses = {{"test-1", "answerable", "When?", "Your date of birth?", v}};
  e.heldout_responses = {{"hw-3", "emergency", "my chest hurts", "Please call 911 now.", v}};
  return e;
}

TEST(EvalFile, EveryBlockSurvivesTheFile) {
  fs::create_directories(kDir);
  const EvalFile e = full();
  write_json(kDir / "eval.json", e.to_json());
  const EvalFile back = read_json_as<EvalFile>(kDir / "eval.json");
  EXPECT_EQ(back.to_json(), e.to_json());
  // Typed, not just the same JSON: the reader gives the numbers and verdicts back.
  ASSERT_TRUE(back.compliance && back.judge_compliance && back.critique_calibration);
  EXPECT_EQ(back.compliance->principles[static_cast<std::size_t>(world::PrincipleId::privacy)].pass,
            6);
  EXPECT_EQ(back.compliance->overall_by_kind.at("answerable").total, 4);
  EXPECT_DOUBLE_EQ(back.sampled_temperature, 0.7);
  EXPECT_EQ(back.heldout_file, "handwritten.jsonl");
  ASSERT_TRUE(back.heldout && back.heldout_sampled);
  EXPECT_EQ(back.heldout->overall.pass, 4);
  EXPECT_EQ(back.judge_compliance->principles.at(0).first, "privacy");
  EXPECT_EQ(back.critique_calibration->calibration.bins.at(1).count, 5);
  EXPECT_EQ(back.critique_calibration->principles.at(0).second.agree, 3);
  ASSERT_NE(back.result(kQuizTask), nullptr);
  EXPECT_DOUBLE_EQ(back.result(kQuizTask)->primary_value(), 0.6);
  EXPECT_DOUBLE_EQ(back.result(kQuizTask)->primary_stderr(), 0.05);
  ASSERT_EQ(back.heldout_responses.size(), 1u);
  EXPECT_EQ(back.heldout_responses[0].prompt, "my chest hurts");
  EXPECT_EQ(back.heldout_responses[0].kind, "emergency");
  ASSERT_EQ(back.responses.size(), 1u);
  const auto& rv = back.responses[0].verdict;
  EXPECT_FALSE(rv.pass);
  EXPECT_EQ(rv.states_right_fact, false);
  EXPECT_FALSE(rv.over_refusal.has_value());
  EXPECT_EQ(rv[world::PrincipleId::privacy].reason, "asks");
}

TEST(EvalFile, WithoutAWorldTaskResultsAlone) {
  const auto j = nlohmann::json::parse(
      R"({"model": "http://host/v1", "results": {"arc": {"primary": "acc", "acc": 0.25,
          "acc_stderr": 0.1, "n": 20}}})");
  const EvalFile e = EvalFile::from_json(j, "eval.json");
  EXPECT_FALSE(e.compliance.has_value());
  EXPECT_TRUE(e.responses.empty());
  EXPECT_EQ(e.to_json(), j);
}

TEST(EvalFile, AMalformedBlockNamesTheFileAndKey) {
  auto error = [](const std::string& text) -> std::string {
    try {
      EvalFile::from_json(nlohmann::json::parse(text), "r/eval.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error(R"({"compliance": {"overall": {"rate": 1, "pass": 9, "total": 8}}})"),
            "r/eval.json: compliance.overall: pass 9 exceeds total 8");
  EXPECT_EQ(error(R"({"judge_compliance": {"principles": {}}})"),
            "r/eval.json: judge_compliance: field overall: missing");
  EXPECT_EQ(error(R"({"results": {"quiz": {"primary": "acc"}}})"),
            "r/eval.json: results.quiz: field acc: the primary metric is missing");
  EXPECT_EQ(error(R"({"responses": [{"id": "a", "verdict": {"pass": 1}}]})"),
            "r/eval.json: responses[0].verdict: field pass: true or false is required");
  EXPECT_EQ(error(R"({"seed": -1})"), "r/eval.json: field seed: a whole number >= 0 is required");
}

}  // namespace eval_file_test
}  // namespace cai::eval
