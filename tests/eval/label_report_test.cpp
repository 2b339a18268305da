// `cai label --report` against gold labels: agreement with its interval, per principle, and
// the calibration of p_chosen, on a hand-written label file.
#include <gtest/gtest.h>

#include <fstream>

#include "../pipeline/test_util.h"
#include "cai/eval/calibration.h"
#include "cai/eval/label_report.h"

namespace cai::eval {
namespace {

nlohmann::json line(const std::string& q, double p, double polite, double brief) {
  return {{"prompt_text", q},
          {"chosen_text", "c-" + q},
          {"rejected_text", "r-" + q},
          {"p_chosen", p},
          {"principles",
           {{{"name", "polite"}, {"p_chosen", polite}}, {{"name", "brief"}, {"p_chosen", brief}}}}};
}

// p_chosen 0.92 (gold agrees), 0.63 (gold prefers the other), 0.74 (agrees), 0.96 (other).
// Five bins of [0.5, 1]: [0.6, 0.7) 0.63 wrong (gap 0.63); [0.7, 0.8) 0.74 right (gap 0.26);
// [0.9, 1] 0.92 right and 0.96 wrong (confidence 0.94, accuracy 0.5, gap 0.44):
// ECE = (0.63 + 0.26 + 2 * 0.44) / 4 = 0.4425.
TEST(LabelReportCalibration, AgainstGoldLabels) {
  const auto labels = testing_util::tmp_path("calibration-labels.jsonl");
  const auto gold = testing_util::tmp_path("calibration-gold.jsonl");
  {
    std::ofstream f(labels);
    f << line("q1", 0.92, 0.8, 0.6).dump() << "\n"
      << line("q2", 0.63, 0.4, 0.6).dump() << "\n"
      << line("q3", 0.74, 0.7, 0.2).dump() << "\n"
      << line("q4", 0.96, 0.3, 0.9).dump() << "\n";
    std::ofstream g(gold);
    g << R"({"prompt": "q1", "chosen_text": "c-q1"})"
      << "\n"
      << R"({"prompt": "q2", "chosen_text": "r-q2"})"
      << "\n"
      << R"({"prompt": "q3", "preferred": "c-q3"})"
      << "\n"
      << R"({"prompt": "q4", "preferred": "r-q4"})"
      << "\n";
  }
  LabelReportOptions o;
  o.gold = gold;
  const auto r = label_report(labels, o);
  const auto& g = r.at("gold");
  EXPECT_EQ(g["matched"], 4);
  EXPECT_EQ(g["agree"], 2);
  const eval::Interval ci = eval::wilson_interval(2, 4);
  EXPECT_NEAR(g["ci95"][0].get<double>(), ci.lo, 1e-12);
  EXPECT_NEAR(g["ci95"][1].get<double>(), ci.hi, 1e-12);
  const auto& c = g["calibration"];
  EXPECT_EQ(c["n"], 4);
  EXPECT_NEAR(c["ece"].get<double>(), 0.4425, 1e-12);
  EXPECT_EQ(c["bins"].size(), 5u);
  EXPECT_EQ(c["bins"][4]["count"], 2);
  // Each principle's own preference against the pair's gold preference: polite agrees on all
  // four (0.8 c, 0.4 r, 0.7 c, 0.3 r), brief on one (0.6 c on q1).
  EXPECT_EQ(g["principles"]["polite"]["agree"], 4);
  EXPECT_EQ(g["principles"]["polite"]["n"], 4);
  EXPECT_EQ(g["principles"]["brief"]["agree"], 1);
  EXPECT_NEAR(g["principles"]["brief"]["ci95"][1].get<double>(), eval::wilson_interval(1, 4).hi,
              1e-12);
  const std::string text = label_report_text(r);
  EXPECT_NE(text.find("ECE 0.44"), std::string::npos) << text;
  EXPECT_NE(text.find("polite"), std::string::npos) << text;
}

}  // namespace
}  // namespace cai::eval
