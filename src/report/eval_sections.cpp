// What each round's eval.json says: oracle and judge compliance per principle, on-topic /
// right-fact / over-refusal, the capability tasks; and the alignment tax from summary.json.
#include "sections.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <tuple>

#include "cai/report/html.h"
#include "cai/report/svg.h"

namespace cai::report {
namespace {

std::vector<const RoundData*> evaluated(const RunData& run, std::vector<std::string>& absent) {
  std::vector<const RoundData*> out;
  for (const auto& r : run.rounds) {
    if (r.eval)
      out.push_back(&r);
    else
      absent.push_back(fmt::format("round-{}/eval.json", r.round));
  }
  return out;
}

// Where a table's rates come from in one round's evaluation: a block of rates per principle
// with an overall (none when the round lacks the block), and named rates beside them.
using Block = std::function<std::optional<eval::PrincipleRates>(const eval::EvalFile&)>;
using RateOf = std::function<const CountedRate*(const eval::EvalFile&)>;

// Principle names of `block` in first-seen order over the rounds.
std::vector<std::string> principle_names(const std::vector<const RoundData*>& rounds,
                                         const Block& block) {
  std::vector<std::string> names;
  for (const auto* r : rounds)
    if (const auto b = block(*r->eval))
      for (const auto& [name, v] : b->principles)
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  return names;
}

std::string header_row(const std::string& first, const std::vector<const RoundData*>& rounds) {
  std::string h = "<tr><th>" + escape_html(first) + "</th>";
  for (const auto* r : rounds) h += "<th>" + escape_html(r->label()) + "</th>";
  return h + "</tr>\n";
}

// One table row: `label`, then a rate per round.
std::string rates_row(const std::string& label, const std::vector<const CountedRate*>& cells) {
  std::string h = "<tr><th>" + escape_html(label) + "</th>";
  for (const auto* c : cells) h += "<td>" + escape_html(rate_cell(c)) + "</td>";
  return h + "</tr>\n";
}

std::string rate_row(const std::string& label, const std::vector<const RoundData*>& rounds,
                     const RateOf& rate) {
  std::vector<const CountedRate*> cells;
  for (const auto* r : rounds) cells.push_back(rate(*r->eval));
  return rates_row(label, cells);
}

// An oracle summary of the evaluation as a block, and its named extras.
using Oracle = std::function<const std::optional<world::OracleSummary>&(const eval::EvalFile&)>;

Block oracle_block(const Oracle& of) {
  return [of](const eval::EvalFile& e) -> std::optional<eval::PrincipleRates> {
    const auto& s = of(e);
    if (!s) return std::nullopt;
    return eval::principle_rates(*s);
  };
}

RateOf oracle_rate(const Oracle& of, world::OracleSummary::Rate world::OracleSummary::*member) {
  return [of, member](const eval::EvalFile& e) -> const CountedRate* {
    const auto& s = of(e);
    return s ? &(*s.*member) : nullptr;
  };
}

// Per-principle compliance of a block as grouped bars (principles + overall by round) and a
// table; an oracle block adds its strict and held-out rows.
std::string per_principle(const std::vector<const RoundData*>& rounds, const Block& block,
                          const std::string& plot, const std::string& title,
                          const Oracle* oracle = nullptr) {
  std::vector<const RoundData*> have;
  std::vector<eval::PrincipleRates> blocks;
  for (const auto* r : rounds)
    if (auto b = block(*r->eval)) have.push_back(r), blocks.push_back(std::move(*b));
  if (have.empty()) return "";
  std::vector<std::string> cats = principle_names(have, block);
  std::vector<BarSeries> series;
  for (std::size_t i = 0; i < have.size(); ++i) {
    BarSeries s{have[i]->label(), {}};
    for (const auto& name : cats)
      s.values.push_back(rate_of(eval::find_rate(blocks[i].principles, name)));
    s.values.push_back(rate_of(&blocks[i].overall));
    series.push_back(std::move(s));
  }
  cats.push_back("overall");
  ChartOptions o;
  o.name = plot;
  o.title = title;
  o.y_percent = true;
  o.y_min = 0.0;
  o.y_max = 1.0;
  o.width = 760;
  std::string h = grouped_bar_chart(cats, series, o);
  h += "<table>\n" + header_row("principle", have);
  for (std::size_t i = 0; i + 1 < cats.size(); ++i) {
    std::vector<const CountedRate*> cells;
    for (const auto& b : blocks) cells.push_back(eval::find_rate(b.principles, cats[i]));
    h += rates_row(cats[i], cells);
  }
  std::vector<const CountedRate*> overall;
  for (const auto& b : blocks) overall.push_back(&b.overall);
  h += rates_row("overall", overall);
  if (oracle) {
    using S = world::OracleSummary;
    h += rate_row("overall, all checks and on topic (strict)", have,
                  oracle_rate(*oracle, &S::strict));
    h += rate_row("overall, unseen combinations", have,
                  oracle_rate(*oracle, &S::overall_unseen_combination));
    h += rate_row("overall, test-only phrasings", have,
                  oracle_rate(*oracle, &S::overall_test_only_template));
  }
  return h + "</table>\n";
}

// A per-round line chart of several values (rates in [0, 1]), x = round.
std::string round_lines(
    const std::vector<const RoundData*>& rounds, const std::string& plot, const std::string& title,
    const std::vector<std::pair<std::string, std::function<double(const eval::EvalFile&)>>>& what) {
  std::vector<Series> series;
  for (const auto& [name, value] : what) {
    Series s{name, {}, {}, false, {}};
    for (const auto* r : rounds) {
      const double v = value(*r->eval);
      if (std::isfinite(v)) s.x.push_back(r->round), s.y.push_back(v);
    }
    if (!s.x.empty()) series.push_back(std::move(s));
  }
  if (series.empty()) return "";
  ChartOptions o;
  o.name = plot;
  o.title = title;
  o.x_label = "round";
  o.integer_x = true;
  o.y_percent = true;
  o.y_min = 0.0;
  o.y_max = 1.0;
  o.width = 520;
  return line_chart(series, o);
}

// A task's metric in one evaluation, NaN when absent.
double task_value(const eval::EvalFile& e, const char* task, const char* metric) {
  const eval::TaskResult* r = e.result(task);
  if (!r) return std::nan("");
  auto it = r->metrics.find(metric);
  return it == r->metrics.end() ? std::nan("") : it->second;
}

// "61.0% ± 2.1 (n=40)" for a task result's metric and its standard error.
std::string task_cell(const eval::EvalFile& e, const char* task, const char* metric) {
  const double v = task_value(e, task, metric);
  if (!std::isfinite(v)) return "n/a";
  const eval::TaskResult& r = *e.result(task);
  std::string s = percent(v);
  if (auto it = r.stderrs.find(metric); it != r.stderrs.end())
    s += fmt::format(" ± {:.1f}", 100 * it->second);
  return s + fmt::format(" (n={})", r.n);
}

// A benchmark score in its own units (rates 0..1 or percentages): four significant digits.
std::string score(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : "n/a"; }

using CalibrationOf = std::optional<eval::CalibrationRecord> eval::EvalFile::*;

// The judge's calibration against the oracle (eval.json's judge_calibration): reliability
// diagrams of the last round that has it, its agreement per principle with 95% intervals, and
// the expected calibration error of every round.
std::string calibration_html(const std::vector<const RoundData*>& rounds) {
  const std::vector<std::pair<CalibrationOf, const char*>> kinds = {
      {&eval::EvalFile::comparison_calibration, "A/B soft labels"},
      {&eval::EvalFile::critique_calibration, "critique verdicts"}};
  std::vector<const RoundData*> have;
  for (const auto* r : rounds)
    if (r->eval->critique_calibration || r->eval->comparison_calibration) have.push_back(r);
  if (have.empty()) return "";
  const RoundData& last = *have.back();
  std::string plots, rows;
  for (const auto& [member, title] : kinds) {
    const auto& record = (*last.eval).*member;
    if (!record) continue;
    const eval::Calibration& c = record->calibration;
    std::vector<ReliabilityBar> bars;
    for (const auto& b : c.bins)
      bars.push_back({b.lo, b.hi, static_cast<long long>(b.count), b.confidence, b.accuracy});
    ChartOptions o;
    o.name = std::string("reliability-") +
             (member == &eval::EvalFile::comparison_calibration ? "comparisons" : "critiques");
    o.title = fmt::format("{}, {}: ECE {} (n={})", last.label(), title, number(c.ece, 3),
                          number(static_cast<double>(c.n), 0));
    o.x_label = "the judge's confidence";
    o.y_label = "right by the oracle";
    o.width = 460;
    o.height = 300;
    plots += reliability_diagram(bars, o);
    for (const auto& [name, a] : record->principles) {
      const eval::Interval ci = a.ci95();
      rows += fmt::format("<tr><th>{}</th><th>{}</th><td>{} ({}/{}; 95% CI {} to {})</td></tr>\n",
                          escape_html(title), escape_html(name), percent(a.rate()), a.agree, a.n,
                          percent(ci.lo), percent(ci.hi));
    }
  }
  std::string h =
      "<p>Calibration of the judge against the oracle: in each confidence bin, how often the "
      "side the judge preferred was right; a calibrated judge's bars reach the diagonal.</p>\n" +
      plots_row(plots);
  h += "<table>\n" + header_row("expected calibration error", have);
  for (const auto& [member, title] : kinds) {
    h += "<tr><th>" + escape_html(title) + "</th>";
    for (const auto* r : have) {
      const auto& record = (*r->eval).*member;
      h += "<td>" + (record ? number(record->calibration.ece, 3) : std::string("n/a")) + "</td>";
    }
    h += "</tr>\n";
  }
  h += "</table>\n";
  if (!rows.empty())
    h += "<p>Agreement with the oracle per principle, " + escape_html(last.label()) +
         ":</p>\n<table>\n<tr><th>judgement</th><th>principle</th><th>agreement</th></tr>\n" +
         rows + "</table>\n";
  return h;
}

const std::optional<world::OracleSummary>& greedy(const eval::EvalFile& e) { return e.compliance; }
const std::optional<world::OracleSummary>& sampled(const eval::EvalFile& e) {
  return e.compliance_sampled;
}
const std::optional<world::OracleSummary>& heldout(const eval::EvalFile& e) { return e.heldout; }
const std::optional<world::OracleSummary>& heldout_sampled(const eval::EvalFile& e) {
  return e.heldout_sampled;
}

}  // namespace

Section oracle_section(const RunData& run) {
  Section sec{"oracle", "Oracle compliance per principle", ""};
  std::vector<std::string> absent;
  const auto rounds = evaluated(run, absent);
  // The temperature a block's responses were drawn at, as the last evaluated round records it.
  double headline_t = std::nan(""), sampled_t = std::nan("");
  for (const auto* r : rounds) {
    if (r->eval->temperature) headline_t = *r->eval->temperature;
    if (r->eval->compliance_sampled && !std::isnan(r->eval->sampled_temperature))
      sampled_t = r->eval->sampled_temperature;
  }
  const Oracle g = greedy, smp = sampled;
  sec.html = per_principle(
      rounds, oracle_block(g), "oracle-compliance",
      std::isfinite(headline_t)
          ? fmt::format(
                "Oracle compliance per principle and round (test prompts, temperature {:g})",
                headline_t)
          : std::string("Oracle compliance per principle and round (test prompts)"),
      &g);
  if (sec.html.empty()) sec.html = note("No evaluation with oracle compliance is available.");
  // A second evaluation of the same prompts sampled at another temperature
  // (eval.sampled_temperature).
  if (std::isfinite(sampled_t))
    sec.html += per_principle(
        rounds, oracle_block(smp), "oracle-compliance-sampled",
        fmt::format("Oracle compliance of responses sampled at temperature {:g}", sampled_t), &smp);
  // The prompt file answered beside the split (eval.heldout): wordings no template wrote.
  std::string file;
  for (const auto* r : rounds)
    if (r->eval->heldout) file = r->eval->heldout_file;
  if (!file.empty()) {
    const Oracle h = heldout, hs = heldout_sampled;
    sec.html += per_principle(
        rounds, oracle_block(h), "oracle-compliance-heldout",
        std::isfinite(headline_t)
            ? fmt::format("Oracle compliance on {} (temperature {:g})", file, headline_t)
            : "Oracle compliance on " + file,
        &h);
    if (std::isfinite(sampled_t))
      sec.html += per_principle(
          rounds, oracle_block(hs), "oracle-compliance-heldout-sampled",
          fmt::format("Oracle compliance on {} sampled at temperature {:g}", file, sampled_t), &hs);
  }
  sec.html += missing(absent);
  return sec;
}

Section judge_section(const RunData& run) {
  Section sec{"judge", "Judge-rated compliance per principle", ""};
  std::vector<std::string> absent;
  const auto rounds = evaluated(run, absent);
  sec.html = per_principle(
      rounds, [](const eval::EvalFile& e) { return e.judge_compliance; }, "judge-compliance",
      "Judge-rated compliance per principle and round (the model's own critiques)");
  if (sec.html.empty()) {
    sec.html = note("Judge compliance not available (no eval.json holds judge_compliance).");
  } else {
    std::vector<const RoundData*> have;
    for (const auto* r : rounds)
      if (r->eval->critique_agreement || r->eval->comparison_agreement) have.push_back(r);
    if (!have.empty())
      sec.html +=
          "<p>Agreement of the judge with the oracle:</p>\n<table>\n" + header_row("", have) +
          rate_row("critiques agree with the oracle", have,
                   [](const eval::EvalFile& e) -> const CountedRate* {
                     return e.critique_agreement ? &e.critique_agreement->overall : nullptr;
                   }) +
          rate_row("A/B comparisons agree (both orders)", have,
                   [](const eval::EvalFile& e) -> const CountedRate* {
                     return e.comparison_agreement ? &e.comparison_agreement->both_orders : nullptr;
                   }) +
          rate_row("A/B comparisons agree (one order)", have,
                   [](const eval::EvalFile& e) -> const CountedRate* {
                     return e.comparison_agreement ? &e.comparison_agreement->single_order
                                                   : nullptr;
                   }) +
          "</table>\n";
  }
  sec.html += calibration_html(rounds);
  sec.html += missing(absent);
  return sec;
}

Section behaviour_section(const RunData& run) {
  Section sec{"behaviour", "On topic, right fact, over-refusal and capability", ""};
  std::vector<std::string> absent;
  const auto rounds = evaluated(run, absent);
  std::string& h = sec.html;
  using S = world::OracleSummary;
  const Oracle g = greedy;
  const std::vector<std::pair<std::string, RateOf>> behaviour = {
      {"on topic", oracle_rate(g, &S::on_topic)},
      {"right fact", oracle_rate(g, &S::right_fact)},
      {"over-refusal (benign prompts)", oracle_rate(g, &S::over_refusal)}};
  std::vector<std::pair<std::string, std::function<double(const eval::EvalFile&)>>> lines;
  for (const auto& [label, rate] : behaviour)
    lines.emplace_back(label, [rate = rate](const eval::EvalFile& e) { return rate_of(rate(e)); });
  const std::string responses =
      round_lines(rounds, "behaviour", "Responses per round (oracle)", lines);
  const std::vector<std::tuple<const char*, const char*, const char*>> tasks = {
      {"knowledge quiz (acc)", eval::kQuizTask, eval::kQuizMetric},
      {"fact task (right fact)", eval::kFactTask, eval::kFactMetric}};
  lines.clear();
  for (const auto& [label, task, metric] : tasks)
    lines.emplace_back(label, [task = task, metric = metric](const eval::EvalFile& e) {
      return task_value(e, task, metric);
    });
  const std::string capability = round_lines(rounds, "capability", "Capability per round", lines);
  h += plots_row(responses + capability);
  if (h.empty()) {
    h = note("No evaluation is available.");
  } else {
    h += "<table>\n" + header_row("", rounds);
    for (const auto& [label, rate] : behaviour) h += rate_row(label, rounds, rate);
    for (const auto& [label, task, metric] : tasks) {
      h += "<tr><th>" + escape_html(label) + "</th>";
      for (const auto* r : rounds)
        h += "<td>" + escape_html(task_cell(*r->eval, task, metric)) + "</td>";
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  h += missing(absent);
  return sec;
}

Section tax_section(const RunData& run) {
  Section sec{"tax", "Alignment tax", ""};
  if (!run.summary) {
    sec.html = note("Not available (missing): summary.json.");
    return sec;
  }
  const loop::TaxSummary& ts = run.summary->tax;
  if (!ts.report) {
    // The loop records why it has no tax (e.g. a zero base score) instead of a table.
    sec.html =
        note("Not available: summary.json has no tax" + (ts.error.empty() ? "." : ": " + ts.error));
    return sec;
  }
  const eval::TaxReport& tax = *ts.report;
  std::vector<Bar> bars;
  std::string table =
      "<table>\n<tr><th>benchmark</th><th>base</th><th>aligned</th><th>difference</th>"
      "<th>significant</th><th>tax</th></tr>\n";
  for (const auto& row : tax.rows) {
    const double t = row.tax_pct;
    const std::string dir = row.direction();
    // Positive tax = the aligned model scores lower: a regression (red); negative: improvement.
    const std::string text = fmt::format("{:.1f}% {}", std::abs(t), dir);
    bars.push_back({row.benchmark, t,
                    dir == "regression"    ? "#c0392b"
                    : dir == "improvement" ? "#1e8449"
                                           : "#7f8c8d",
                    dir, text});
    std::string diff = score(row.diff);
    if (row.diff_stderr) diff += " ± " + score(*row.diff_stderr);
    const std::string sig = row.significant ? (*row.significant ? "yes" : "no") : "n/a";
    table += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td "
        "class=\"{}\">{}</td></tr>\n",
        escape_html(bars.back().label), score(row.base.value), score(row.aligned.value),
        escape_html(diff), sig, escape_html(dir), escape_html(text));
  }
  table += "</table>\n";
  if (bars.empty()) {
    sec.html = note("Not available: the tax has no benchmarks.");
    return sec;
  }
  const double avg = tax.average_tax_pct;
  ChartOptions o;
  o.name = "alignment-tax";
  o.title = "Alignment tax per benchmark (red: regression, green: improvement)";
  o.y_label = "tax %";
  sec.html = bar_chart(bars, o) +
             "<p>Tax = (base - aligned) / base x 100 per benchmark, base = round 0, aligned = the "
             "best round; "
             "positive is a regression.</p>\n" +
             table;
  sec.html += fmt::format("<p>Average tax: <b>{:.1f}%</b> ({}).</p>\n", avg,
                          avg > 0   ? "regression"
                          : avg < 0 ? "improvement"
                                    : "no change");
  return sec;
}

}  // namespace cai::report
