// What each round's eval.json says: oracle and judge compliance per principle, on-topic /
// right-fact / over-refusal, the capability tasks; and the alignment tax from summary.json.
#include "sections.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
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

// Keys of the object at eval[block]["principles"], in first-seen order over the rounds.
std::vector<std::string> principle_names(const std::vector<const RoundData*>& rounds,
                                         const char* block) {
  std::vector<std::string> names;
  for (const auto* r : rounds) {
    const Json& e = *r->eval;
    if (!e.contains(block) || !e[block].is_object() || !e[block].contains("principles")) continue;
    const Json& p = e[block]["principles"];
    if (!p.is_object()) continue;
    for (const auto& [name, v] : p.items())
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

std::string header_row(const std::string& first, const std::vector<const RoundData*>& rounds) {
  std::string h = "<tr><th>" + escape_html(first) + "</th>";
  for (const auto* r : rounds) h += "<th>" + escape_html(r->label()) + "</th>";
  return h + "</tr>\n";
}

// One table row: `label`, then the rate object at eval[path...] of each round.
std::string rate_row(const std::string& label, const std::vector<const RoundData*>& rounds,
                     std::initializer_list<const char*> path) {
  std::string h = "<tr><th>" + escape_html(label) + "</th>";
  for (const auto* r : rounds) {
    std::string cell = "n/a";
    const Json* node = &*r->eval;
    bool found = true;
    for (const char* k : path) {
      if (!node->is_object() || !node->contains(k)) {
        found = false;
        break;
      }
      node = &(*node)[k];
    }
    if (found) cell = rate_cell(*node);
    h += "<td>" + escape_html(cell) + "</td>";
  }
  return h + "</tr>\n";
}

// Per-principle compliance of eval[block] as grouped bars (principles + overall by round) and
// a table.
std::string per_principle(const std::vector<const RoundData*>& rounds, const char* block,
                          const std::string& plot, const std::string& title, bool oracle_extras) {
  std::vector<const RoundData*> have;
  for (const auto* r : rounds)
    if (r->eval->contains(block)) have.push_back(r);
  if (have.empty()) return "";
  std::vector<std::string> cats = principle_names(have, block);
  std::vector<BarSeries> series;
  for (const auto* r : have) {
    BarSeries s{r->label(), {}};
    for (const auto& name : cats)
      s.values.push_back(rate_of(*r->eval, {block, "principles", name.c_str()}));
    s.values.push_back(rate_of(*r->eval, {block, "overall"}));
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
  for (std::size_t i = 0; i + 1 < cats.size(); ++i)
    h += rate_row(cats[i], have, {block, "principles", cats[i].c_str()});
  h += rate_row("overall", have, {block, "overall"});
  if (oracle_extras) {
    h += rate_row("overall, all checks and on topic (strict)", have, {block, "strict"});
    h += rate_row("overall, unseen combinations", have, {block, "overall_unseen_combination"});
    h += rate_row("overall, test-only phrasings", have, {block, "overall_test_only_template"});
  }
  return h + "</table>\n";
}

// A per-round line chart of several eval rates, x = round.
std::string round_lines(const std::vector<const RoundData*>& rounds, const std::string& plot,
                        const std::string& title,
                        const std::vector<std::pair<std::string, std::vector<const char*>>>& what,
                        bool rates) {
  std::vector<Series> series;
  for (const auto& [name, path] : what) {
    Series s{name, {}, {}, false, {}};
    for (const auto* r : rounds) {
      double v = std::nan("");
      if (rates) {
        if (path.size() == 2) v = rate_of(*r->eval, {path[0], path[1]});
      } else if (path.size() == 3) {
        v = num_at(*r->eval, {path[0], path[1], path[2]});
      }
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

// "61.0% ± 2.1" for a task result's metric and its standard error.
std::string task_cell(const Json& eval, const char* task, const char* metric) {
  const double v = num_at(eval, {"results", task, metric});
  if (!std::isfinite(v)) return "n/a";
  const double se = num_at(eval, {"results", task, (std::string(metric) + "_stderr").c_str()});
  const double n = num_at(eval, {"results", task, "n"});
  std::string s = percent(v);
  if (std::isfinite(se)) s += fmt::format(" ± {:.1f}", 100 * se);
  if (std::isfinite(n)) s += fmt::format(" (n={})", static_cast<long long>(n));
  return s;
}

// A benchmark score in its own units (rates 0..1 or percentages): four significant digits.
std::string score(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : "n/a"; }

// The judge's calibration against the oracle (eval.json's judge_calibration): reliability
// diagrams of the last round that has it, its agreement per principle with 95% intervals, and
// the expected calibration error of every round.
std::string calibration_html(const std::vector<const RoundData*>& rounds) {
  std::vector<const RoundData*> have;
  for (const auto* r : rounds)
    if (r->eval->contains("judge_calibration") && (*r->eval)["judge_calibration"].is_object())
      have.push_back(r);
  if (have.empty()) return "";
  const std::vector<std::pair<const char*, const char*>> kinds = {
      {"comparisons", "A/B soft labels"}, {"critiques", "critique verdicts"}};
  const RoundData& last = *have.back();
  const Json& lc = (*last.eval)["judge_calibration"];
  std::string plots, rows;
  for (const auto& [key, title] : kinds) {
    if (!lc.contains(key) || !lc[key].is_object() || !lc[key].contains("bins")) continue;
    const Json& c = lc[key];
    std::vector<ReliabilityBar> bars;
    for (const auto& b : c["bins"])
      bars.push_back({num_at(b, {"lo"}), num_at(b, {"hi"}),
                      static_cast<long long>(num_at(b, {"count"})), num_at(b, {"confidence"}),
                      num_at(b, {"accuracy"})});
    ChartOptions o;
    o.name = std::string("reliability-") + key;
    o.title = fmt::format("{}, {}: ECE {} (n={})", last.label(), title,
                          number(num_at(c, {"ece"}), 3), number(num_at(c, {"n"}), 0));
    o.x_label = "the judge's confidence";
    o.y_label = "right by the oracle";
    o.width = 460;
    o.height = 300;
    plots += reliability_diagram(bars, o);
    if (!c.contains("principles") || !c["principles"].is_object()) continue;
    for (const auto& [name, a] : c["principles"].items())
      rows += fmt::format("<tr><th>{}</th><th>{}</th><td>{} ({}/{}; 95% CI {} to {})</td></tr>\n",
                          escape_html(title), escape_html(name), percent(num_at(a, {"rate"})),
                          number(num_at(a, {"agree"}), 0), number(num_at(a, {"n"}), 0),
                          percent(a.contains("ci95") ? a["ci95"][0].get<double>() : std::nan("")),
                          percent(a.contains("ci95") ? a["ci95"][1].get<double>() : std::nan("")));
  }
  std::string h =
      "<p>Calibration of the judge against the oracle: in each confidence bin, how often the "
      "side the judge preferred was right; a calibrated judge's bars reach the diagonal.</p>\n" +
      plots_row(plots);
  h += "<table>\n" + header_row("expected calibration error", have);
  for (const auto& [key, title] : kinds) {
    h += "<tr><th>" + escape_html(title) + "</th>";
    for (const auto* r : have) {
      const double e = num_at(r->eval, {"judge_calibration", key, "ece"});
      h += "<td>" + (std::isfinite(e) ? number(e, 3) : std::string("n/a")) + "</td>";
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

}  // namespace

Section oracle_section(const RunData& run) {
  Section sec{"oracle", "Oracle compliance per principle", ""};
  std::vector<std::string> absent;
  const auto rounds = evaluated(run, absent);
  // The temperature a block's responses were drawn at, as the last evaluated round records it.
  const auto temperature = [&](std::initializer_list<const char*> path) {
    double t = std::nan("");
    for (const auto* r : rounds)
      t = std::isfinite(num_at(*r->eval, path)) ? num_at(*r->eval, path) : t;
    return t;
  };
  const double headline_t = temperature({"temperature"});
  sec.html = per_principle(
      rounds, "compliance", "oracle-compliance",
      std::isfinite(headline_t)
          ? fmt::format(
                "Oracle compliance per principle and round (test prompts, temperature {:g})",
                headline_t)
          : std::string("Oracle compliance per principle and round (test prompts)"),
      true);
  if (sec.html.empty()) sec.html = note("No evaluation with oracle compliance is available.");
  // A second evaluation of the same prompts sampled at another temperature
  // (eval.sampled_temperature).
  const double sampled_t = temperature({"compliance_sampled", "temperature"});
  if (std::isfinite(sampled_t))
    sec.html += per_principle(
        rounds, "compliance_sampled", "oracle-compliance-sampled",
        fmt::format("Oracle compliance of responses sampled at temperature {:g}", sampled_t), true);
  sec.html += missing(absent);
  return sec;
}

Section judge_section(const RunData& run) {
  Section sec{"judge", "Judge-rated compliance per principle", ""};
  std::vector<std::string> absent;
  const auto rounds = evaluated(run, absent);
  sec.html = per_principle(
      rounds, "judge_compliance", "judge-compliance",
      "Judge-rated compliance per principle and round (the model's own critiques)", false);
  if (sec.html.empty()) {
    sec.html = note("Judge compliance not available (no eval.json holds judge_compliance).");
  } else {
    std::vector<const RoundData*> have;
    for (const auto* r : rounds)
      if (r->eval->contains("critique_agreement") || r->eval->contains("comparison_agreement"))
        have.push_back(r);
    if (!have.empty())
      sec.html +=
          "<p>Agreement of the judge with the oracle:</p>\n<table>\n" + header_row("", have) +
          rate_row("critiques agree with the oracle", have, {"critique_agreement", "overall"}) +
          rate_row("A/B comparisons agree (both orders)", have,
                   {"comparison_agreement", "both_orders"}) +
          rate_row("A/B comparisons agree (one order)", have,
                   {"comparison_agreement", "single_order"}) +
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
  const std::string responses =
      round_lines(rounds, "behaviour", "Responses per round (oracle)",
                  {{"on topic", {"compliance", "on_topic"}},
                   {"right fact", {"compliance", "right_fact"}},
                   {"over-refusal (benign prompts)", {"compliance", "over_refusal"}}},
                  true);
  const std::string capability =
      round_lines(rounds, "capability", "Capability per round",
                  {{"knowledge quiz (acc)", {"results", "world-quiz", "acc"}},
                   {"fact task (right fact)", {"results", "world-facts", "right_fact"}}},
                  false);
  h += plots_row(responses + capability);
  if (h.empty()) {
    h = note("No evaluation is available.");
  } else {
    h += "<table>\n" + header_row("", rounds) +
         rate_row("on topic", rounds, {"compliance", "on_topic"}) +
         rate_row("right fact", rounds, {"compliance", "right_fact"}) +
         rate_row("over-refusal (benign prompts)", rounds, {"compliance", "over_refusal"});
    for (const auto& [label, task, metric] :
         {std::tuple{"knowledge quiz (acc)", "world-quiz", "acc"},
          std::tuple{"fact task (right fact)", "world-facts", "right_fact"}}) {
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
  const Json& s = *run.summary;
  if (!s.contains("tax") || !s["tax"].is_object() || !s["tax"].contains("rows") ||
      !s["tax"]["rows"].is_array()) {
    // The loop records why it has no tax (e.g. a zero base score) instead of a table.
    const std::string why =
        s.contains("tax") && s["tax"].is_object() ? str_at(s["tax"], "error") : "";
    sec.html = note("Not available: summary.json has no tax" + (why.empty() ? "." : ": " + why));
    return sec;
  }
  const Json& tax = (*run.summary)["tax"];
  std::vector<Bar> bars;
  std::string table =
      "<table>\n<tr><th>benchmark</th><th>base</th><th>aligned</th><th>difference</th>"
      "<th>significant</th><th>tax</th></tr>\n";
  for (const auto& row : tax["rows"]) {
    const double t = num_at(row, {"tax_pct"});
    const std::string dir = str_at(row, "direction",
                                   t > 0   ? "regression"
                                   : t < 0 ? "improvement"
                                           : "no change");
    // Positive tax = the aligned model scores lower: a regression (red); negative: improvement.
    const std::string text = fmt::format("{:.1f}% {}", std::abs(t), dir);
    bars.push_back({str_at(row, "benchmark", "?"), t,
                    dir == "regression"    ? "#c0392b"
                    : dir == "improvement" ? "#1e8449"
                                           : "#7f8c8d",
                    dir, text});
    const double se = num_at(row, {"diff_stderr"});
    std::string diff = score(num_at(row, {"diff"}));
    if (std::isfinite(se)) diff += " ± " + score(se);
    const std::string sig = row.contains("significant") && row["significant"].is_boolean()
                                ? (row["significant"].get<bool>() ? "yes" : "no")
                                : "n/a";
    table += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td "
        "class=\"{}\">{}</td></tr>\n",
        escape_html(bars.back().label), score(num_at(row, {"base"})),
        score(num_at(row, {"aligned"})), escape_html(diff), sig, escape_html(dir),
        escape_html(text));
  }
  table += "</table>\n";
  if (bars.empty()) {
    sec.html = note("Not available: the tax has no benchmarks.");
    return sec;
  }
  const double avg = num_at(tax, {"average_tax_pct"});
  ChartOptions o;
  o.name = "alignment-tax";
  o.title = "Alignment tax per benchmark (red: regression, green: improvement)";
  o.y_label = "tax %";
  sec.html = bar_chart(bars, o) +
             "<p>Tax = (base - aligned) / base x 100 per benchmark, base = round 0, aligned = the "
             "best round; "
             "positive is a regression.</p>\n" +
             table;
  if (std::isfinite(avg))
    sec.html += fmt::format("<p>Average tax: <b>{:.1f}%</b> ({}).</p>\n", avg,
                            avg > 0   ? "regression"
                            : avg < 0 ? "improvement"
                                      : "no change");
  return sec;
}

}  // namespace cai::report
