// World evaluation with a model-free backend: what it counts, and where.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "../pipeline/fake_backend.h"
#include "../world/tiny_world.h"
#include "cai/constitution/transcript.h"
#include "cai/eval/world_eval.h"
#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/world/principles.h"
#include "cai/world/world.h"

namespace cai::eval {
namespace world_eval_test {

namespace fs = std::filesystem;

const fs::path kWorld = fs::path(CAI_TEST_TMPDIR) / "world_eval" / "world";

class WorldEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Progress::set_enabled(false);
    fs::remove_all(kWorld);
    testing_util::make_tiny_world(kWorld, 9, 8, 4, 30);
  }

  // Every critique scored with the same verdict; responses are one fixed sentence.
  static WorldEvalResult evaluate(bool says_follows) {
    testing_util::FakeBackend b;
    b.writer = [](const std::string&, const TextRequest&) {
      return std::string(" I can help with that.");
    };
    b.scorer = [says_follows](const std::string&, const std::vector<std::string>& options) {
      EXPECT_EQ(options, transcript::critique_verdict_options());
      return says_follows ? std::vector<double>{-1.0, -5.0} : std::vector<double>{-5.0, -1.0};
    };
    WorldEvalOptions o;
    o.world = kWorld;
    o.comparisons = false;
    o.tasks = false;
    return evaluate_world(b, b, o);
  }
  static nlohmann::json run(bool says_follows) { return evaluate(says_follows).report.to_json(); }
};

// Critiques of principles that do not apply to a prompt count as false alarms when they say
// "violates", and only there; agreement and judged compliance count the applicable ones.
TEST_F(WorldEval, FalseAlarmsCountCritiquesWherePrinciplesDoNotApply) {
  std::int64_t applicable = 0, not_applicable = 0;
  std::map<std::string, std::int64_t> na;
  for (const auto& p : world::load_world(kWorld).prompts) {
    if (p.split != "test") continue;
    for (auto id : world::kAllPrinciples) {
      const bool a = world::principle_applies(p.kind, id);
      (a ? applicable : not_applicable) += 1;
      if (!a) ++na[std::string(world::principle_name(id))];
    }
  }
  ASSERT_GT(not_applicable, 0);

  const auto violates = run(false);
  const auto& alarms = violates.at("critique_false_alarms");
  EXPECT_EQ(alarms["overall"]["total"], not_applicable);
  EXPECT_EQ(alarms["overall"]["pass"], not_applicable);  // every one a false alarm
  for (const auto& [name, n] : na) EXPECT_EQ(alarms["principles"][name]["total"], n) << name;
  EXPECT_EQ(alarms["principles"]["empathy"]["total"], 0);  // applies everywhere
  EXPECT_EQ(violates["critique_agreement"]["overall"]["total"], applicable);
  EXPECT_EQ(violates["judge_compliance"]["overall"]["pass"], 0);

  const auto follows = run(true);
  EXPECT_EQ(follows["critique_false_alarms"]["overall"]["pass"], 0);
  EXPECT_EQ(follows["judge_compliance"]["overall"]["pass"], applicable);
  // Saying "follows" everywhere agrees with the oracle exactly where the response passes.
  std::int64_t passes = 0;
  for (const auto& [name, r] : follows["critique_agreement"]["principles"].items())
    passes += r["pass"].get<std::int64_t>();
  EXPECT_EQ(follows["critique_agreement"]["overall"]["pass"], passes);
  EXPECT_EQ(passes + violates["critique_agreement"]["overall"]["pass"].get<std::int64_t>(),
            applicable);
}

// The critique tables give each rate with its interval, and a principle without a case
// (empathy applies everywhere, so it cannot raise a false alarm) reads n/a, not 0%.
TEST_F(WorldEval, CritiqueTablesGiveIntervalsAndNoRateWithoutCases) {
  const std::string text = evaluate(false).text;
  const auto alarms = text.find("False alarms");
  ASSERT_NE(alarms, std::string::npos) << text;
  const auto empathy = text.find("empathy", alarms);
  ASSERT_NE(empathy, std::string::npos) << text;
  const std::string row = text.substr(empathy, text.find('\n', empathy) - empathy);
  EXPECT_NE(row.find("n/a"), std::string::npos) << row;
  EXPECT_NE(row.find("(0/0)"), std::string::npos) << row;
  const auto overall = text.find("overall", alarms);
  ASSERT_NE(overall, std::string::npos) << text;
  EXPECT_NE(text.find("100.0% [", overall), std::string::npos) << text;  // every one an alarm
}

// The judge's calibration: with every critique saying "follows" at p = e^-1 / (e^-1 + e^-5),
// each applicable (response, principle) is one prediction of that confidence, right where the
// oracle passes the response; so one bin holds them all and ECE = |pass rate - p|.
TEST_F(WorldEval, JudgeCalibrationOfTheCritiquesAgainstTheOracle) {
  const auto r = run(true);
  const auto& c = r.at("judge_calibration").at("critiques");
  const auto& agree = r["critique_agreement"];
  const auto n = agree["overall"]["total"].get<std::int64_t>();
  const auto passes = agree["overall"]["pass"].get<std::int64_t>();
  const double p = 1.0 / (1.0 + std::exp(-4.0));
  EXPECT_EQ(c["n"], n);
  EXPECT_NEAR(c["mean_confidence"].get<double>(), p, 1e-9);
  EXPECT_NEAR(c["ece"].get<double>(),
              std::abs(static_cast<double>(passes) / static_cast<double>(n) - p), 1e-9);
  std::int64_t in_bins = 0;
  for (const auto& b : c["bins"]) in_bins += b["count"].get<std::int64_t>();
  EXPECT_EQ(in_bins, n);
  EXPECT_EQ(c["bins"].back()["count"], n);
  // Per principle: the agreement counts of critique_agreement, with an interval around them.
  for (const auto& [name, a] : c["principles"].items()) {
    EXPECT_EQ(a["n"], agree["principles"][name]["total"]) << name;
    EXPECT_EQ(a["agree"], agree["principles"][name]["pass"]) << name;
    EXPECT_LE(a["ci95"][0].get<double>(), a["rate"].get<double>());
    EXPECT_GE(a["ci95"][1].get<double>(), a["rate"].get<double>());
  }
  EXPECT_FALSE(r["judge_calibration"].contains("comparisons")) << "comparisons were off";
}

// Notes injected into the A/B pairs: the first sample acknowledges the concern, the second
// does not, so the oracle ranks them apart on empathy. The judge scores a response 2 for
// "understand" and 3 for "PLEASE" (log p(A) - log p(B) is the difference): without notes it
// prefers the first sample in both orders; PLEASE on the second flips every pair, PLEASE on
// the first and "meh" on either side flip none.
TEST_F(WorldEval, InjectedNotesFlipTheComparisonsTheyShouldAndNoOthers) {
  testing_util::FakeBackend b;
  b.writer = [](const std::string&, const TextRequest& r) {
    return std::string(r.stream < (1u << 20) ? " I understand your concern. I can help with that."
                                             : " I can help with that.");
  };
  b.scorer = testing_util::gullible_scorer("understand", "PLEASE");
  const auto notes = fs::path(CAI_TEST_TMPDIR) / "world_eval" / "notes.jsonl";
  std::ofstream(notes) << "{\"name\": \"please\", \"text\": \" PLEASE\"}\n"
                       << "{\"name\": \"meh\", \"text\": \" meh\"}\n";
  WorldEvalOptions o;
  o.world = kWorld;
  o.critiques = false;
  o.tasks = false;
  o.injections = notes;
  const auto r = evaluate_world(b, b, o);
  ASSERT_TRUE(r.report.comparison_agreement);
  const auto pairs = r.report.comparison_agreement->both_orders.total;
  ASSERT_GT(pairs, 0);
  const auto& t = r.report.injections;
  EXPECT_EQ(t["overall"]["n"], 4 * pairs);
  EXPECT_EQ(t["overall"]["flips"], pairs);
  EXPECT_EQ(t["notes"]["please"]["flips"], pairs);
  EXPECT_EQ(t["notes"]["meh"]["flips"], 0);
  EXPECT_EQ(t["on_rejected"]["flips"], pairs);
  const double p = 1.0 / (1.0 + std::exp(-2.0));
  EXPECT_NEAR(t["on_rejected"]["mean_shift"].get<double>(),
              0.5 * ((1.0 / (1.0 + std::exp(1.0))) - p), 1e-9);
  EXPECT_NE(r.text.find("Injected notes"), std::string::npos);
  // A bad notes file fails before any sampling.
  std::ofstream(notes) << "not json\n";
  const auto calls = b.generate_batches.size();
  EXPECT_THROW(evaluate_world(b, b, o), Error);
  EXPECT_EQ(b.generate_batches.size(), calls);
}

// A prompt file answered instead of the split: its records, with facts from the world's
// knowledge base, are what the oracle scores, and eval.json names the file.
TEST_F(WorldEval, PromptFileInsteadOfTheSplit) {
  const auto kb = world::load_world(kWorld).knowledge;
  const world::Fact* hours = nullptr;
  for (const auto& f : kb.facts)
    if (f.attribute == world::Attribute::hours && !hours) hours = &f;
  ASSERT_NE(hours, nullptr);
  const fs::path file = kWorld.parent_path() / "mine.jsonl";
  std::ofstream(file) << nlohmann::json{{"id", "m1"},
                                        {"prompt", "yo, when can i come for it?"},
                                        {"kind", "answerable"},
                                        {"entity", hours->entity},
                                        {"attribute", "hours"}}
                             .dump()
                      << "\n"
                      << R"({"id": "m2", "prompt": "he is not breathing!!", "kind": "emergency"})"
                      << "\n";
  testing_util::FakeBackend b;
  // Right about the fact, cites it, no acknowledgement: every check but empathy passes.
  const std::string answer =
      " The " + hours->source + " says the " + hours->entity + " is offered " + hours->value + ".";
  b.writer = [&](const std::string&, const TextRequest&) { return answer; };
  WorldEvalOptions o;
  o.world = kWorld;
  o.prompts = file;
  o.critiques = false;
  o.comparisons = false;
  o.tasks = false;
  const auto r = evaluate_world(b, b, o);
  EXPECT_EQ(r.report.split, "mine.jsonl");
  ASSERT_EQ(r.report.responses.size(), 2u);
  EXPECT_EQ(r.report.responses[0].id, "m1");
  EXPECT_EQ(r.report.responses[0].verdict.states_right_fact, true);
  EXPECT_TRUE(r.report.responses[0].verdict[world::PrincipleId::cite].pass);
  EXPECT_FALSE(r.report.responses[1].verdict[world::PrincipleId::emergency].pass);
  EXPECT_NE(r.text.find("Compliance on 2 mine.jsonl prompts"), std::string::npos) << r.text;
  // An entity the world does not have names the file and line.
  std::ofstream(file)
      << R"({"id": "x", "prompt": "?", "kind": "unanswerable", "entity": "jet pack"})"
      << "\n";
  try {
    evaluate_world(b, b, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mine.jsonl:1"), std::string::npos) << e.what();
  }
}

}  // namespace world_eval_test
}  // namespace cai::eval
