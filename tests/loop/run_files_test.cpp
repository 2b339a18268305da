// The loop's run files (loop/run_files.h) through their one writer and reader: quality.json
// of each metric, round.json and summary.json survive the file; a malformed one is an error
// naming the file and the key.
#include "cai/loop/run_files.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "cai/io/error.h"

namespace cai::loop {
namespace run_files_test {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(CAI_TEST_TMPDIR) / "loop-run-files";

template <typename File, typename Read>
File through_file(const File& f, const char* name, Read read) {
  fs::create_directories(kDir);
  write_json(kDir / name, f.to_json());
  return read(kDir / name);
}

TEST(RunFiles, QualityOfEachMetric) {
  QualityFile judge;
  judge.round = 1;
  judge.metric = "judge";
  judge.split = "eval";
  judge.quality = 0.625;
  judge.judge_compliance = eval::PrincipleRates{{10, 16}, {{"privacy", {5, 8}}}};
  world::OracleSummary s;
  s.overall = {3, 4};
  judge.compliance = s;
  const auto j = through_file(judge, "judge.json", read_json_as<QualityFile>);
  EXPECT_EQ(j.to_json(), judge.to_json());
  EXPECT_EQ(j.judge_compliance->overall.pass, 10);
  EXPECT_FALSE(j.win_rate.has_value());

  QualityFile first;  // round 0 of a win-rate run: the reference, nothing compared
  first.metric = "winrate";
  first.split = "eval";
  first.quality = 0.5;
  first.responses = "quality_responses.jsonl";
  const auto f = through_file(first, "first.json", read_json_as<QualityFile>);
  EXPECT_TRUE(first.to_json()["against_round"].is_null());
  EXPECT_FALSE(f.against_round.has_value());
  EXPECT_EQ(f.to_json(), first.to_json());

  QualityFile w = first;
  w.round = 2;
  w.against_round = 1;
  w.judge = "runs/base";
  WinRate wr;
  wr.n = 2;
  wr.wins = 1;
  wr.ties = 1;
  wr.rate = 0.75;
  wr.ci_lo = 0.2;
  wr.ci_hi = 0.97;
  w.win_rate = wr;
  w.quality = wr.rate;
  w.prompts = {{"a", {0.8, 1, false}}, {"b", {0.5, 0, true}}};
  const auto back = through_file(w, "w.json", read_json_as<QualityFile>);
  EXPECT_EQ(back.to_json(), w.to_json());
  EXPECT_EQ(back.against_round, 1);
  EXPECT_EQ(back.prompts.at(1).preference.outcome, 0);
  EXPECT_TRUE(back.prompts.at(1).preference.equal);
  EXPECT_DOUBLE_EQ(back.win_rate->ci_hi, 0.97);
}

TEST(RunFiles, RoundAndSummary) {
  RoundFile r;
  r.round = 1;
  r.model = "runs/demo/round-1/rl/final";
  r.quality = 0.9;
  r.seconds = {{"dpo", 3.5}, {"phase1", 12.0}};
  r.done = true;
  r.notes = {{"phase1", {{"prompts", 4}}}};
  const auto rb = through_file(r, "round.json", read_json_as<RoundFile>);
  EXPECT_EQ(rb.to_json(), r.to_json());
  EXPECT_EQ(rb.seconds.at(1).first, "phase1");

  SummaryFile s;
  s.name = "demo";
  s.metric = "winrate";
  s.rounds = {{0, 0.5, "base", std::nullopt, 0.0, 0.5}, {1, 0.7, "r1", WinRate{}, 0.8, 0.75}};
  s.best_round = 1;
  s.best_model = "r1";
  s.stopped = "rounds";
  s.reason = "all 1 rounds ran";
  s.ranking = {{1, 0}, {1, 0}, 1, true};
  eval::TaxReport t;
  t.title = "round 0 -> best round";
  eval::TaxRow row;
  row.benchmark = "world-quiz";
  row.base.value = 60;
  row.aligned.value = 58;
  row.tax_pct = 3.333;
  row.diff = -2;
  row.diff_stderr = 1.5;
  row.significant = false;
  t.rows = {row};
  t.average_tax_pct = 3.333;
  s.tax.report = t;
  s.tax.zero_base = {"world-facts"};
  world::OracleSummary c;
  c.overall = {5, 8};
  s.before.compliance = c;
  s.before.temperature = 0.0;
  s.after.compliance = c;
  const auto sb = through_file(s, "summary.json", read_json_as<SummaryFile>);
  EXPECT_EQ(sb.to_json(), s.to_json());
  EXPECT_EQ(sb.ranking.oracle_best_round, 1);
  EXPECT_EQ(sb.tax.report->rows.at(0).direction(), std::string("regression"));
  EXPECT_EQ(sb.tax.zero_base, std::vector<std::string>{"world-facts"});

  // No tax: the reason is kept instead of a table.
  s.tax = {std::nullopt, "no benchmark with a non-zero round-0 score", {}};
  const auto nt = through_file(s, "summary2.json", read_json_as<SummaryFile>);
  EXPECT_FALSE(nt.tax.report.has_value());
  EXPECT_EQ(nt.tax.error, s.tax.error);
  EXPECT_EQ(nt.counted_from, 1);
  EXPECT_FALSE(nt.to_json().contains("counted_from_round"));  // older files read the same

  // Round 1's win rate not counted (the base model judged its own responses).
  s.counted_from = 2;
  const auto cf = through_file(s, "summary3.json", read_json_as<SummaryFile>);
  EXPECT_EQ(cf.counted_from, 2);
  EXPECT_EQ(cf.to_json()["counted_from_round"], 2);
}

TEST(RunFiles, AMalformedFileNamesTheFileAndKey) {
  auto error = [](auto read, const std::string& text) -> std::string {
    try {
      read(nlohmann::json::parse(text), "run/round-1/x.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error(QualityFile::from_json, R"({"round": 1, "metric": "judge"})"),
            "run/round-1/x.json: field quality: missing");
  EXPECT_EQ(
      error(QualityFile::from_json,
            R"({"round": 1, "metric": "winrate", "quality": 0.5,
                      "prompts": [{"p": 0.5, "result": "draw", "equal": false}]})"),
      "run/round-1/x.json: prompts[0]: field result: win, loss or tie is required, not 'draw'");
  EXPECT_EQ(error(RoundFile::from_json, R"({"round": 1, "model": "m", "quality": 1,
                                             "seconds": {"sft": "long"}, "done": true})"),
            "run/round-1/x.json: seconds: field sft: a number is required");
  EXPECT_EQ(error(SummaryFile::from_json,
                  R"({"rounds": [], "best_round": 0, "tax": {"rows": 3, "average_tax_pct": 1}})"),
            "run/round-1/x.json: tax.rows: an array is required");
}

}  // namespace run_files_test
}  // namespace cai::loop
