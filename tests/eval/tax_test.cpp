#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "cai/eval/tax.h"
#include "cai/io/error.h"
#include "cai/io/file.h"

namespace {

using cai::eval::BenchScore;
using cai::eval::compute_tax;
using cai::eval::Scores;

Scores plain(std::initializer_list<std::pair<const char*, double>> v) {
  Scores s;
  for (auto& [k, x] : v) s.emplace_back(k, BenchScore{x, std::nullopt, std::nullopt});
  return s;
}

// The worked example of the alignment-tax section: base and aligned scores of five benchmarks.
TEST(Tax, SeedExample) {
  Scores base = plain({{"MMLU", 65.2},
                       {"HumanEval", 42.1},
                       {"GSM8K", 56.8},
                       {"TruthfulQA", 38.5},
                       {"HellaSwag", 78.3}});
  Scores aligned = plain({{"MMLU", 63.8},
                          {"HumanEval", 40.5},
                          {"GSM8K", 58.2},
                          {"TruthfulQA", 52.1},
                          {"HellaSwag", 76.9}});
  auto r = compute_tax(base, aligned, "Llama-3.1-8B-Instruct vs Base");
  ASSERT_EQ(r.rows.size(), 5u);
  // Hand-computed: (65.2-63.8)/65.2 = 2.147%, (42.1-40.5)/42.1 = 3.800%, (56.8-58.2)/56.8 =
  // -2.465%, (38.5-52.1)/38.5 = -35.325%, (78.3-76.9)/78.3 = 1.788%; mean -6.011%.
  const double expect[] = {2.1472, 3.8005, -2.4648, -35.3247, 1.7880};
  const char* dir[] = {"regression", "regression", "improvement", "improvement", "regression"};
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(r.rows[i].tax_pct, expect[i], 1e-3) << r.rows[i].benchmark;
    EXPECT_STREQ(r.rows[i].direction(), dir[i]);
  }
  EXPECT_EQ(r.rows[0].benchmark, "MMLU");  // input order kept
  EXPECT_NEAR(r.average_tax_pct, -6.0108, 1e-3);
  const std::string text = r.to_text();
  for (const char* s : {"2.1% regression", "3.8% regression", "2.5% improvement",
                        "35.3% improvement", "1.8% regression"})
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
  EXPECT_NE(text.find("-6.0%"), std::string::npos) << text;
  EXPECT_EQ(text.find("-5.8%"), std::string::npos);
}

TEST(Tax, StandardErrorAndSignificance) {
  Scores base = {{"quiz", BenchScore{0.80, 0.02, 400}}, {"facts", BenchScore{0.60, 0.03, 300}}};
  Scores aligned = {{"quiz", BenchScore{0.70, 0.02, 400}}, {"facts", BenchScore{0.62, 0.03, 300}}};
  auto r = compute_tax(base, aligned);
  // quiz: diff -0.10, se sqrt(0.02^2 * 2) = 0.02828 -> |z| = 3.54: significant.
  EXPECT_NEAR(r.rows[0].diff, -0.10, 1e-12);
  EXPECT_NEAR(*r.rows[0].diff_stderr, std::sqrt(0.0008), 1e-12);
  EXPECT_TRUE(*r.rows[0].significant);
  // facts: diff 0.02, se 0.0424 -> not significant.
  EXPECT_FALSE(*r.rows[1].significant);
  EXPECT_NEAR(r.rows[0].tax_pct, 12.5, 1e-9);
}

TEST(Tax, Errors) {
  EXPECT_THROW(compute_tax(plain({{"a", 1.0}}), plain({{"b", 1.0}})), cai::Error);
  EXPECT_THROW(compute_tax(plain({{"a", 0.0}}), plain({{"a", 1.0}})), cai::Error);
  EXPECT_THROW(compute_tax(plain({{"a", 1.0}, {"b", 1.0}}), plain({{"a", 1.0}})), cai::Error);
  EXPECT_THROW(compute_tax({}, {}), cai::Error);
}

TEST(Tax, ReadScoresShapes) {
  const auto dir = std::filesystem::path(CAI_TEST_TMPDIR) / "eval_tax";
  std::filesystem::create_directories(dir);
  cai::write_file_atomic(dir / "flat.json", R"({"MMLU": 65.2, "GSM8K": 56.8})");
  auto s = cai::eval::read_scores(dir / "flat.json");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].first, "MMLU");
  EXPECT_DOUBLE_EQ(s[1].second.value, 56.8);
  cai::write_file_atomic(dir / "obj.json", R"({"q": {"value": 0.5, "stderr": 0.1, "n": 25}})");
  s = cai::eval::read_scores(dir / "obj.json");
  EXPECT_DOUBLE_EQ(*s[0].second.stderr_, 0.1);
  EXPECT_EQ(*s[0].second.n, 25);
  cai::write_file_atomic(dir / "eval.json",
                         R"({"results": {"quiz": {"primary": "acc", "acc": 0.7, "acc_stderr": 0.03,
                             "acc_norm": 0.6, "n": 200}}})");
  s = cai::eval::read_scores(dir / "eval.json");
  EXPECT_DOUBLE_EQ(s[0].second.value, 0.7);
  EXPECT_DOUBLE_EQ(*s[0].second.stderr_, 0.03);
  cai::write_file_atomic(dir / "bad.json", R"({"q": "high"})");
  try {
    cai::eval::read_scores(dir / "bad.json");
    FAIL();
  } catch (const cai::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json: q"), std::string::npos) << e.what();
  }
  cai::write_file_atomic(dir / "broken.json", "{");
  EXPECT_THROW(cai::eval::read_scores(dir / "broken.json"), cai::Error);
}

}  // namespace
