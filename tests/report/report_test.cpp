#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/report/report.h"
#include "run_fixture.h"

namespace {

namespace fs = std::filesystem;
using namespace report_test;

std::string render(const fs::path& dir) {
  cai::report::ReportOptions o;
  o.run_dir = dir;
  return cai::report::render_report(o);
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// The text of the <svg> element whose data-plot is `name`.
std::string plot(const std::string& html, const std::string& name) {
  const auto a = html.find("data-plot=\"" + name + "\"");
  if (a == std::string::npos) return "";
  return html.substr(a, html.find("</svg>", a) - a);
}

std::string error_of(const fs::path& dir) {
  try {
    render(dir);
  } catch (const cai::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Report, FullRunHasEverySectionAndPlot) {
  const std::string html = render(make_run("full"));
  for (const char* id : {"summary", "training", "oracle", "judge", "behaviour", "tax", "probe",
                         "labels", "examples"})
    EXPECT_EQ(count(html, std::string("<section id=\"") + id + "\">"), 1u) << id;
  for (const auto& p : kPlots) {
    EXPECT_EQ(count(html, "<svg class=\"plot\" data-plot=\"" + p + "\""), 1u) << p;
    EXPECT_NE(plot(html, p).find("class=\"mark"), std::string::npos) << p << " draws nothing";
  }
  EXPECT_EQ(count(html, "<svg class=\"plot\""), kPlots.size());
  EXPECT_EQ(html.find("Not available"), std::string::npos) << "every file of the full run is there";
  EXPECT_NE(html.find("<title>cai run tiny-loop</title>"), std::string::npos);
}

TEST(Report, EscapesTextAndStaysOffline) {
  const std::string html = render(make_run("escape"));
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; When is the clinic open?"),
            std::string::npos);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(count(html, "<script"), 1u) << "only the page's own measuring script";
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("src=\""), std::string::npos) << "nothing is loaded from elsewhere";
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

TEST(Report, FiguresMatchTheRunFiles) {
  const std::string html = render(make_run("figures"));
  // Oracle privacy compliance: 4/8, 6/8, 7/8 in rounds 0, 1, 2.
  // Each with its 95% Wilson interval.
  for (const char* cell :
       {"50.0% [21.5, 78.5] (4/8)", "75.0% [40.9, 92.9] (6/8)", "87.5% [52.9, 97.8] (7/8)"})
    EXPECT_NE(html.find(cell), std::string::npos) << cell;
  // Unseen combinations and test-only phrasings are reported separately.
  EXPECT_NE(html.find("overall, unseen combinations</th><td>66.7% [20.8, 93.9] (2/3)"),
            std::string::npos);
  EXPECT_NE(html.find("overall, test-only phrasings</th><td>50.0% [9.5, 90.5] (1/2)"),
            std::string::npos);
  // Position flips: 1 of 4 pairs in round 1, 1 of 2 in round 2; mean p_chosen of round 1 is
  // (0.57 + 0.58 + 0.74 + 0.97) / 4 = 0.715.
  EXPECT_NE(html.find("<td>round 1</td><td>4</td><td>0.715</td><td>25.0% [4.6, 69.9] (1/4)</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>round 2</td><td>2</td><td>0.750</td><td>50.0% [9.5, 90.5] (1/2)</td>"),
            std::string::npos);
  // Histogram of the six p_chosen over [0.5, 1] in 10 bins: 0.57, 0.58 | 0.62 | 0.74 | 0.88 | 0.97.
  const std::string hist = plot(html, "label-confidence");
  EXPECT_NE(hist.find("p_chosen of 6 labelled pairs"), std::string::npos);
  std::vector<std::string> counts;
  std::regex re("data-count=\"([0-9]+)\"");
  for (std::sregex_iterator it(hist.begin(), hist.end(), re), end; it != end; ++it)
    counts.push_back((*it)[1]);
  EXPECT_EQ(counts, (std::vector<std::string>{"2", "1", "1", "1", "1"}));
  // Alignment tax bars: regression red, improvement green, with their numbers.
  const std::string tax = plot(html, "alignment-tax");
  EXPECT_NE(tax.find("class=\"mark regression\""), std::string::npos);
  EXPECT_NE(tax.find("fill=\"#c0392b\""), std::string::npos);
  EXPECT_NE(tax.find("class=\"mark improvement\""), std::string::npos);
  EXPECT_NE(tax.find("fill=\"#1e8449\""), std::string::npos);
  EXPECT_NE(tax.find(">10.0% regression<"), std::string::npos);
  EXPECT_NE(tax.find(">3.3% improvement<"), std::string::npos);
  EXPECT_NE(html.find("Average tax: <b>3.3%</b> (regression)"), std::string::npos);
  // Capability with its standard error; the best round marked.
  EXPECT_NE(html.find("62.0% ± 5.0 (n=100)"), std::string::npos);
  EXPECT_NE(html.find("round 2 (best)"), std::string::npos);
  // The manifest's inputs and hashes sit in a collapsed <details>.
  const auto details = html.find("<details><summary>Inputs and their SHA-256 (2)");
  ASSERT_NE(details, std::string::npos);
  EXPECT_LT(details, html.find("ef56ab78"));
}

TEST(Report, JudgeCalibrationHasReliabilityDiagramsAndTheErrorPerRound) {
  const std::string html = render(make_run("calibration"));
  // The last round's diagrams: its two non-empty bins each, titled with its ECE.
  const std::string a = plot(html, "reliability-comparisons");
  EXPECT_EQ(count(a, "data-count="), 2u);
  EXPECT_NE(a.find("ECE 0.050"), std::string::npos) << a.substr(0, 400);
  EXPECT_NE(plot(html, "reliability-critiques").find("ECE 0.200"), std::string::npos);
  // The error of every round (base 0.100, then 0.050 twice), and the interval per principle.
  const auto at = html.find("expected calibration error");
  ASSERT_NE(at, std::string::npos);
  const std::string table = html.substr(at, html.find("</table>", at) - at);
  EXPECT_EQ(count(table, "<td>0.100</td>"), 1u) << table;
  EXPECT_EQ(count(table, "<td>0.050</td>"), 2u) << table;
  // The interval is the Wilson interval of 3 of 4, computed from the counts.
  EXPECT_NE(html.find("75.0% (3/4; 95% CI 30.1% to 95.4%)"), std::string::npos) << html;
}

TEST(Report, ProbeSectionHasTheKlPlotAndAttackTables) {
  const std::string html = render(make_run("probe"));
  const auto at = html.find("<section id=\"probe\">");
  ASSERT_NE(at, std::string::npos);
  const std::string s = html.substr(at, html.find("</section>", at) - at);
  // One KL marker per position (five points: every point gets one).
  const std::string kl = plot(s, "probe-kl");
  ASSERT_FALSE(kl.empty());
  EXPECT_NE(kl.find("class=\"mark"), std::string::npos);
  EXPECT_NE(s.find("Mean KL over the first 5 tokens: <b>0.3117</b> (30 tokens)"), std::string::npos)
      << s;
  // How the responses were drawn, so that two probes' figures are compared only when alike.
  EXPECT_NE(s.find("on 8 test prompts of the world, responses sampled at temperature 1 (top-p 1)"),
            std::string::npos)
      << s;
  // Prefill rows: k, base overall / target, aligned overall / target; rates with their 95%
  // Wilson intervals.
  EXPECT_NE(s.find("<tr><td>5</td><td>12.5% [2.2, 47.1] (1/8)</td><td>25.0% [7.1, 59.1] "
                   "(2/8)</td><td>62.5% [30.6, 86.3] "
                   "(5/8)</td><td>75.0% [40.9, 92.9] (6/8)</td><td>0</td></tr>"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("<tr><td>0</td><td>37.5% [13.7, 69.4] (3/8)</td><td>50.0% [21.5, 78.5] "
                   "(4/8)</td><td>87.5% [52.9, 97.8] "
                   "(7/8)</td><td>100.0% [67.6, 100.0] (8/8)</td><td>0</td></tr>"),
            std::string::npos);
  // Fine-tuning rows: n, steps, loss, overall, target.
  EXPECT_NE(s.find("<tr><td>10</td><td>5</td><td>1.2345</td><td>25.0% [7.1, 59.1] "
                   "(2/8)</td><td>50.0% [21.5, 78.5] (4/8)</td></tr>"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("<tr><td>0</td><td>0</td><td>-</td><td>87.5% [52.9, 97.8] (7/8)</td>"),
            std::string::npos);
}

// With deepening, the probe of the round's model before it follows, with its own tables.
TEST(Report, ProbeSectionShowsTheModelBeforeDeepening) {
  const fs::path dir = make_run("probe-deepen");
  const std::string plain = render(dir);
  EXPECT_EQ(plain.find("Before deepening"), std::string::npos);
  nlohmann::json before = report_test::probe_json();
  before["aligned"] = "/data/round-1/rl/final";
  before["prefill"]["rows"][2]["aligned"]["target"] = report_test::rate(1, 8);
  report_test::put(dir / "probe" / "before-deepen" / "probe.json", before);
  const std::string html = render(dir);
  const auto at = html.find("<h3>Before deepening</h3>");
  ASSERT_NE(at, std::string::npos);
  const std::string s = html.substr(at, html.find("</section>", at) - at);
  EXPECT_NE(s.find("The same probe of /data/round-1/rl/final"), std::string::npos) << s;
  EXPECT_NE(s.find("Mean KL over the first 5 tokens: <b>0.3117</b>"), std::string::npos) << s;
  EXPECT_NE(s.find("<td>12.5% [2.2, 47.1] (1/8)</td><td>1</td></tr>"), std::string::npos) << s;
  EXPECT_NE(s.find("<h3>Fine-tuning attack</h3>"), std::string::npos);
  // Its figures are tables only: the section keeps one KL plot.
  EXPECT_EQ(count(html, "data-plot=\"probe-kl\""), 1u);
}

TEST(Report, ProbeSectionWithoutProbeJsonSaysNotAvailable) {
  const fs::path dir = make_run("no-probe");
  fs::remove_all(dir / "probe");
  const std::string html = render(dir);
  EXPECT_NE(html.find("Not available (missing): probe/probe.json."), std::string::npos);
  EXPECT_EQ(html.find("data-plot=\"probe-kl\""), std::string::npos);
  // A probe.json with only some measurements says which were not run.
  auto p = probe_json();
  p.erase("finetune");
  p.erase("kl");
  put(dir / "probe" / "probe.json", p);
  const std::string partial = render(dir);
  EXPECT_NE(partial.find("Fine-tuning attack not run."), std::string::npos);
  EXPECT_NE(partial.find("Per-token KL not measured."), std::string::npos);
  EXPECT_NE(partial.find("<h3>Prefill attack</h3>"), std::string::npos);
  // The loop's probe samples as its evaluation does: greedy by default.
  p["sampling"] = {{"temperature", 0.0}, {"top_p", 1.0}, {"max_tokens", 96}, {"seed", 0}};
  put(dir / "probe" / "probe.json", p);
  EXPECT_NE(render(dir).find("prompts of the world, responses greedy."), std::string::npos);
}

TEST(Report, ExamplesShowTheCritiqueTrailAndBeforeAfter) {
  const std::string html = render(make_run("examples"));
  const auto ex = html.find("<section id=\"examples\">");
  ASSERT_NE(ex, std::string::npos);
  const std::string s = html.substr(ex);
  // The revised record comes before the one without rounds.
  EXPECT_LT(s.find("train-0003"), s.find("train-0004"));
  EXPECT_NE(s.find("Tell me your date of birth first."), std::string::npos);
  EXPECT_NE(s.find("Principle: <b>privacy</b>"), std::string::npos);
  EXPECT_NE(s.find("The clinic opens at 9 am."), std::string::npos);
  EXPECT_NE(s.find("Not revised: the critique found nothing to fix."), std::string::npos);
  // Before/after: test-0001 violated privacy at round 0 and is fixed in round 2 (best): first.
  EXPECT_LT(s.find("test-0001"), s.find("test-0002"));
  EXPECT_NE(s.find("violates privacy (asks for a date of birth)"), std::string::npos);
  EXPECT_NE(s.find("After: round 2 (best)"), std::string::npos);
}

TEST(Report, WritesBesideTheRunByDefault) {
  const fs::path dir = make_run("default-out");
  cai::report::ReportOptions o;
  o.run_dir = dir;
  const fs::path out = cai::report::write_report(o);
  EXPECT_EQ(out, dir / "report.html");
  EXPECT_EQ(cai::read_file(out), cai::report::render_report(o));
  o.out = dir / "sub" / "r.html";
  o.title = "A <b>title</b>";
  EXPECT_EQ(cai::report::write_report(o), dir / "sub" / "r.html");
  EXPECT_NE(cai::read_file(o.out).find("<h1>A &lt;b&gt;title&lt;/b&gt;</h1>"), std::string::npos);
}

TEST(Report, MissingFilesSayNotAvailable) {
  const fs::path dir = make_run("missing");
  fs::remove(dir / "round-2" / "eval.json");
  fs::remove(dir / "round-2" / "labels.jsonl");
  fs::remove_all(dir / "round-2" / "dpo");
  fs::remove(dir / "summary.json");
  std::string html;
  ASSERT_NO_THROW(html = render(dir));
  EXPECT_NE(html.find("Not available (missing): round-2/dpo/metrics.jsonl."), std::string::npos);
  EXPECT_NE(html.find("Not available (missing): round-2/eval.json."), std::string::npos);
  EXPECT_NE(html.find("Not available (missing): round-2/labels.jsonl."), std::string::npos);
  EXPECT_NE(html.find("Not available (missing): summary.json."), std::string::npos);
  // What is there still plots; the tax (summary.json) does not.
  EXPECT_NE(html.find("data-plot=\"oracle-compliance\""), std::string::npos);
  EXPECT_NE(html.find("data-plot=\"dpo-loss\""), std::string::npos);
  // Round 2's RL log plots; no reward-model log is no gap to report (the stage is optional).
  for (const char* plot :
       {"rl-score", "rl-kl", "rl-entropy", "rl-length", "deepen-loss", "deepen-nll"})
    EXPECT_NE(html.find(std::string("data-plot=\"") + plot + "\""), std::string::npos) << plot;
  EXPECT_EQ(html.find("rm/metrics.jsonl"), std::string::npos);
  EXPECT_EQ(html.find("deepen/metrics.jsonl"), std::string::npos);
  EXPECT_EQ(html.find("data-plot=\"alignment-tax\""), std::string::npos);
  // Without a summary the best round is the one with the highest quality: round 2.
  EXPECT_NE(html.find("round 2 (best)"), std::string::npos);
}

// A win-rate run: each round's interval and the oracle's compliance beside the quality, and
// whether the oracle's best round is the loop's.
TEST(Report, WinRateBesideTheOraclesRanking) {
  const fs::path dir = make_run("winrate");
  for (int k = 1; k <= 2; ++k)
    put(dir / ("round-" + std::to_string(k)) / "quality.json", {{"round", k},
                                                                {"metric", "winrate"},
                                                                {"quality", k == 1 ? 0.625 : 0.375},
                                                                {"against_round", k - 1},
                                                                {"win_rate",
                                                                 {{"n", 8},
                                                                  {"wins", k == 1 ? 5 : 3},
                                                                  {"ties", 0},
                                                                  {"losses", k == 1 ? 3 : 5},
                                                                  {"equal_texts", 0},
                                                                  {"rate", k == 1 ? 0.625 : 0.375},
                                                                  {"mean_p", 0.5},
                                                                  {"ci95", {0.3057, 0.8632}}}}});
  auto summary = json::parse(cai::read_file(dir / "summary.json"));
  summary["metric"] = "winrate";
  summary["best_round"] = 1;
  summary["ranking"] = {
      {"quality", {1, 0, 2}}, {"oracle", {2, 1, 0}}, {"oracle_best_round", 2}, {"agree", false}};
  put(dir / "summary.json", summary);
  const std::string html = render(dir);
  EXPECT_NE(html.find("<th>oracle compliance</th>"), std::string::npos);
  EXPECT_NE(html.find("2 (differs from the quality signal)"), std::string::npos);
  EXPECT_NE(html.find("<td>0.306 - 0.863</td>"), std::string::npos);
  // Round 2's oracle compliance (6 of 8) beside its win rate.
  EXPECT_NE(html.find("<td>0.3750</td><td>0.306 - 0.863</td><td>0.7500</td>"), std::string::npos);
  EXPECT_NE(plot(html, "quality").find("oracle compliance"), std::string::npos);
}

TEST(Report, TaxTheLoopCouldNotComputeIsExplained) {
  const fs::path dir = make_run("tax-error");
  auto summary = json::parse(cai::read_file(dir / "summary.json"));
  summary["tax"] = {{"error", "benchmark world-quiz: base score is 0"}};
  put(dir / "summary.json", summary);
  std::string html = render(dir);
  EXPECT_NE(
      html.find("Not available: summary.json has no tax: benchmark world-quiz: base score is 0"),
      std::string::npos);
  summary["tax"] = nullptr;
  put(dir / "summary.json", summary);
  html = render(dir);
  EXPECT_NE(html.find("Not available: summary.json has no tax."), std::string::npos);
  EXPECT_EQ(html.find("data-plot=\"alignment-tax\""), std::string::npos);
}

TEST(Report, RunKilledRightAfterStarting) {
  const fs::path dir = fs::path(CAI_TEST_TMPDIR) / "report" / "early";
  fs::remove_all(dir);
  put(dir / "manifest.json", {{"name", "early"}});
  fs::create_directories(dir / "round-0");
  std::string html;
  ASSERT_NO_THROW(html = render(dir));
  EXPECT_NE(html.find("No training metrics are available yet."), std::string::npos);
  EXPECT_NE(html.find("No labels are available."), std::string::npos);
  EXPECT_NE(html.find("round-0/eval.json"), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
}

TEST(Report, MalformedMetricsLineNamesFileAndLine) {
  const fs::path dir = make_run("bad-metrics");
  const fs::path m = dir / "round-1" / "sft" / "metrics.jsonl";
  cai::write_file_atomic(
      m, "{\"step\": 1, \"loss\": 2}\n{\"step\": 2, \"loss\": 1}\n{\"step\": 3, \"loss\": \n");
  EXPECT_NE(error_of(dir).find(m.string() + ":3"), std::string::npos) << error_of(dir);
  cai::write_file_atomic(m, "{\"step\": 1, \"loss\": 2}\n{\"loss\": 1}\n");
  EXPECT_NE(error_of(dir).find(m.string() + ":2: a metrics line needs a numeric \"step\""),
            std::string::npos)
      << error_of(dir);
}

// A prompt file answered beside the split (eval.heldout) gets blocks of its own, named by the
// file, greedy and sampled, beside the test split's.
TEST(Report, HeldOutPromptsAreShownBesideTheSplit) {
  const fs::path dir = make_run("heldout");
  for (const char* round : {"round-0", "round-1", "round-2"}) {
    const fs::path e = dir / round / "eval.json";
    auto j = nlohmann::json::parse(cai::read_file(e));
    j["temperature"] = 0.0;
    j["compliance_sampled"] = j["compliance"];
    j["compliance_sampled"]["temperature"] = 0.7;
    nlohmann::json h = {{"overall", rate(3, 8)}};
    h["principles"] = {{"privacy", rate(7, 8)}};
    j["heldout"] = {{"file", "handwritten.jsonl"}, {"compliance", h}, {"compliance_sampled", h}};
    cai::write_file_atomic(e, j.dump());
  }
  const std::string html = render(dir);
  EXPECT_NE(html.find("Oracle compliance on handwritten.jsonl (temperature 0)"), std::string::npos);
  EXPECT_NE(html.find("Oracle compliance on handwritten.jsonl sampled at temperature 0.7"),
            std::string::npos);
  EXPECT_NE(html.find("37.5% [13.7, 69.4] (3/8)"), std::string::npos);
  EXPECT_NE(html.find("data-plot=\"oracle-compliance-heldout\""), std::string::npos);
}

TEST(Report, MalformedJsonFileNamesFileAndLine) {
  const fs::path dir = make_run("bad-eval");
  const fs::path e = dir / "round-1" / "eval.json";
  cai::write_file_atomic(e, "{\n  \"compliance\": {},\n  \"results\": [1, 2,,]\n}\n");
  EXPECT_NE(error_of(dir).find(e.string() + ":3: invalid JSON"), std::string::npos)
      << error_of(dir);
}

TEST(Report, TornLastLineOfAKilledWriterIsDropped) {
  const fs::path dir = make_run("torn");
  const fs::path l = dir / "round-2" / "labels.jsonl";
  cai::write_file_atomic(l, cai::read_file(l) + "{\"p_chosen\": 0.9, \"posi");
  std::string html;
  ASSERT_NO_THROW(html = render(dir));
  EXPECT_NE(html.find("p_chosen of 6 labelled pairs"), std::string::npos);
  // A torn line in the middle is corruption, not a killed writer.
  cai::write_file_atomic(l, "{\"p_chosen\": 0.9, \"posi\n{\"p_chosen\": 0.8}\n");
  EXPECT_NE(error_of(dir).find(l.string() + ":1"), std::string::npos) << error_of(dir);
}

TEST(Report, RejectsWhatIsNotARunDirectory) {
  const fs::path empty = fs::path(CAI_TEST_TMPDIR) / "report" / "not-a-run";
  fs::remove_all(empty);
  fs::create_directories(empty);
  EXPECT_NE(error_of(empty).find("is not a loop run directory"), std::string::npos);
  EXPECT_NE(error_of(empty / "nope").find("does not exist"), std::string::npos);
  cai::report::ReportOptions o;
  EXPECT_THROW(o.validate(), cai::Error);
  o.run_dir = empty;
  o.examples = -1;
  EXPECT_THROW(o.validate(), cai::Error);
}

TEST(Report, CommandLinePrintsThePathWritten) {
  const fs::path dir = make_run("cli");
  const fs::path out = dir / "out.html";
  const std::string cmd =
      std::string(CAI_BINARY) + " report " + dir.string() + " -o " + out.string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string text;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) text += buf;
  EXPECT_EQ(pclose(p), 0) << text;
  EXPECT_EQ(text, out.string() + "\n");
  EXPECT_TRUE(fs::exists(out));
  // Errors reach the user as one line and exit status 1.
  FILE* q = popen(
      (std::string(CAI_BINARY) + " report " + (dir / "nope").string() + " 2>&1").c_str(), "r");
  ASSERT_NE(q, nullptr);
  text.clear();
  while (fgets(buf, sizeof buf, q)) text += buf;
  EXPECT_NE(pclose(q), 0);
  EXPECT_NE(text.find("does not exist"), std::string::npos) << text;
}

}  // namespace
