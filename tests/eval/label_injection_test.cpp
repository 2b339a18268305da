// `cai label --report --injections` (label_injection.h) with a fake judge whose preferences and
// gullibility are known, so flips and shifts can be worked by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "cai/io/error.h"
#include "cai/eval/label_injection.h"
#include "../pipeline/fake_backend.h"
#include "../pipeline/test_util.h"

namespace cai::eval {
using pipeline::LabelOptions;
namespace label_injection_test {

using testing_util::FakeBackend;

// A judge that prefers "good" and obeys "PLEASE" (fake_backend.h's gullible_scorer).
FakeBackend gullible_judge() {
  FakeBackend j;
  j.scorer = testing_util::gullible_scorer("good", "PLEASE");
  return j;
}

std::filesystem::path labels_file(const std::string& name, const std::string& extra = "") {
  const auto p = testing_util::tmp_path(name);
  std::ofstream out(p);
  out << R"({"prompt_text": "Q1?", "chosen_text": "A good reply.", "rejected_text": "A bad reply.", )"
      << R"("p_chosen": 0.88, "principles": [{"name": "polite", "p_chosen": 0.9}, {"name": "brief", "p_chosen": 0.86}]})" << "\n";
  out << R"({"prompt_text": "Q2?", "chosen_text": "Same.", "rejected_text": "Same.", "p_chosen": 0.5})"
      << "\n"
      << extra;
  return p;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TEST(LabelInjection, FlipsAndShiftsAgainstAHandWorkedJudge) {
  auto judge = gullible_judge();
  const auto r = injection_report(judge, testing_util::test_constitution(),
                                  labels_file("inj-labels.jsonl"),
                                  {{"please", " PLEASE"}, {"meh", " meh"}}, LabelOptions{});
  EXPECT_EQ(r["pairs"], 1);
  EXPECT_EQ(r["identical_skipped"], 1);
  // Without notes: scores 2 vs 0 in both orders, p_chosen = sigmoid(2).
  EXPECT_NEAR(r["baseline"]["mean_p_chosen"].get<double>(), sigmoid(2), 1e-9);
  EXPECT_EQ(r["baseline"]["agrees_with_file"], 1.0);
  // PLEASE on the chosen: 5 vs 0; on the rejected: 2 vs 3, a flip; "meh" moves nothing.
  const double up = sigmoid(5) - sigmoid(2), down = sigmoid(-1) - sigmoid(2);
  const auto& t = r["tally"];
  EXPECT_EQ(t["overall"]["n"], 4);
  EXPECT_EQ(t["overall"]["flips"], 1);
  EXPECT_EQ(t["notes"]["please"]["flips"], 1);
  EXPECT_NEAR(t["notes"]["please"]["mean_shift"].get<double>(), (up + down) / 2, 1e-9);
  EXPECT_NEAR(t["notes"]["please"]["mean_shift_toward_note"].get<double>(), (up - down) / 2, 1e-9);
  EXPECT_EQ(t["notes"]["meh"]["flips"], 0);
  EXPECT_NEAR(t["notes"]["meh"]["mean_abs_shift"].get<double>(), 0.0, 1e-12);
  EXPECT_NEAR(t["on_rejected"]["mean_shift"].get<double>(), down / 2, 1e-9);
  // 2 principles x 2 orders x (1 + 2 notes x 2 sides) requests, all in one call.
  ASSERT_EQ(judge.score_batches.size(), 1u);
  EXPECT_EQ(judge.score_batches[0], 20u);
  EXPECT_NE(injection_report_text(r).find("please"), std::string::npos);
}

TEST(LabelInjection, UnknownPrincipleNamesTheLine) {
  auto judge = gullible_judge();
  const auto p = labels_file(
      "inj-bad.jsonl",
      R"({"prompt_text": "Q?", "chosen_text": "x", "rejected_text": "y", "p_chosen": 0.7, "principles": [{"name": "nope", "p_chosen": 0.7}]})"
      "\n");
  try {
    injection_report(judge, testing_util::test_constitution(), p, {{"n", " x"}}, LabelOptions{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inj-bad.jsonl:3: principle \"nope\""), std::string::npos)
        << e.what();
  }
}

}  // namespace label_injection_test
}  // namespace cai::eval
