// The loop's summary: before / after figures of round 0 and the best round, the alignment tax
// between them, and the table `cai loop` prints.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cai/eval/tax.h"
#include "cai/io/error.h"
#include "internal.h"

namespace cai::loop::detail {
namespace {

// The rate with its 95% Wilson interval: "91.5% [88.1, 94.1]".
std::string pct(const CountedRate* r) { return r ? percent_with_ci(*r) : "-"; }

// An oracle summary's rows as the table shows them: per principle, overall, then the extras.
struct Rows {
  eval::NamedRates principles;
  std::optional<CountedRate> overall;
  eval::NamedRates extras;
};

Rows rows_of(const std::optional<world::OracleSummary>& s) {
  Rows r;
  if (!s) return r;
  const eval::PrincipleRates p = eval::principle_rates(*s);
  r.principles = p.principles;
  r.overall = p.overall;
  // Rates of nothing are left out: a prompt file has no unseen combinations or test-only
  // templates.
  for (const auto& [name, rate] :
       eval::NamedRates{{"overall_unseen_combination", s->overall_unseen_combination},
                        {"overall_test_only_template", s->overall_test_only_template},
                        {"over_refusal", s->over_refusal},
                        {"on_topic", s->on_topic},
                        {"right_fact", s->right_fact}})
    if (rate.known()) r.extras.emplace_back(name, rate);
  return r;
}

Rows rows_of(const std::optional<eval::PrincipleRates>& s) {
  Rows r;
  if (!s) return r;
  r.principles = s->principles;
  r.overall = s->overall;
  return r;
}

// Task results as percentage scores (the primary metric of each).
eval::Scores scores_of(const std::vector<eval::TaskResult>& results) {
  eval::Scores s;
  for (const auto& r : results) {
    eval::BenchScore b;
    b.value = 100 * r.primary_value();
    if (!std::isnan(r.primary_stderr())) b.stderr_ = 100 * r.primary_stderr();
    b.n = r.n;
    s.emplace_back(r.name, b);
  }
  return s;
}

}  // namespace

TaxSummary tax_summary(const eval::EvalFile& before, const eval::EvalFile& after) {
  const auto b = scores_of(before.results);
  const auto a = scores_of(after.results);
  // A zero base score has no relative tax: such benchmarks are listed, not taxed.
  eval::Scores base, aligned;
  TaxSummary t;
  for (const auto& [name, score] : b) {
    if (score.value == 0.0) {
      t.zero_base.push_back(name);
      continue;
    }
    base.emplace_back(name, score);
    for (const auto& [n2, s2] : a)
      if (n2 == name) aligned.emplace_back(n2, s2);
  }
  if (base.empty()) {
    t.error = "no benchmark with a non-zero round-0 score";
  } else {
    try {
      t.report = eval::compute_tax(base, aligned, "round 0 -> best round");
    } catch (const Error& e) {
      t.error = e.what();
    }
  }
  return t;
}

Ranking rank_rounds(const std::vector<double>& score, const std::vector<double>& oracle,
                    std::size_t best, std::size_t first_candidate) {
  const auto rank = [](const std::vector<double>& v, std::size_t from) {
    std::vector<std::int64_t> idx(v.size() - std::min(from, v.size()));
    std::iota(idx.begin(), idx.end(), static_cast<std::int64_t>(std::min(from, v.size())));
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::int64_t a, std::int64_t b) { return v[a] > v[b]; });
    return idx;
  };
  Ranking r;
  r.quality = rank(score, first_candidate);
  if (!oracle.empty() && oracle.size() == score.size()) {
    r.oracle = rank(oracle, 0);
    r.oracle_best_round = r.oracle.front();
    r.agree = r.oracle.front() == static_cast<std::int64_t>(best);
  }
  return r;
}

std::string summary_table(const SummaryFile& s, const fs::path& run) {
  std::string out;
  const auto& before = s.before;
  const auto& after = s.after;
  out += fmt::format("\nLoop summary: best round {} of {} ({}: {})\n", s.best_round,
                     s.rounds.size() - 1, s.stopped, s.reason);
  out += fmt::format("quality ({}) per round:", s.metric.empty() ? "?" : s.metric);
  for (const auto& r : s.rounds) {
    out += fmt::format(" [{}] {:.3f}", r.round, r.quality);
    if (r.win_rate) out += fmt::format(" ({:.3f}-{:.3f})", r.win_rate->ci_lo, r.win_rate->ci_hi);
  }
  out += "\n";
  if (s.counted_from == 2 && s.rounds.size() > 1)
    out +=
        "round 1's win rate is the base model judging its own responses: not counted (the "
        "stop and the best round count from round 2)\n";
  if (s.ranking.oracle_best_round) {
    out += "oracle compliance per round:";
    for (const auto& r : s.rounds)
      if (r.oracle) out += fmt::format(" [{}] {:.1f}%", r.round, 100 * *r.oracle);
    out += fmt::format("\noracle's best round: {} ({} the quality signal)\n",
                       *s.ranking.oracle_best_round,
                       s.ranking.agree.value_or(false) ? "agrees with" : "differs from");
  }
  out += "\n";
  // Rates carry their 95% Wilson intervals, so a column is wide.
  out += fmt::format("{:<32} {:>20} {:>20}\n", "", "before", "after");
  auto section = [&](const std::string& title, const Rows& b, const Rows& a) {
    if (!b.overall) return;
    out += fmt::format("{}\n", title);
    for (const auto& [name, r] : b.principles)
      out += fmt::format("  {:<30} {:>20} {:>20}\n", name, pct(&r),
                         pct(eval::find_rate(a.principles, name)));
    out += fmt::format("  {:<30} {:>20} {:>20}\n", "overall", pct(&*b.overall),
                       pct(a.overall ? &*a.overall : nullptr));
    for (const auto& [name, r] : b.extras)
      out += fmt::format("  {:<30} {:>20} {:>20}\n", name, pct(&r),
                         pct(eval::find_rate(a.extras, name)));
  };
  // Each oracle block titled with the temperature its responses were drawn at (when recorded).
  const auto oracle_title = [](std::optional<double> temperature) {
    return temperature && !std::isnan(*temperature)
               ? fmt::format("compliance (oracle, temperature {:g})", *temperature)
               : std::string("compliance (oracle)");
  };
  section(oracle_title(before.temperature), rows_of(before.compliance), rows_of(after.compliance));
  if (before.compliance_sampled)
    section(oracle_title(before.sampled_temperature), rows_of(before.compliance_sampled),
            rows_of(after.compliance_sampled));
  if (before.heldout) {
    const std::string file = " on " + before.heldout_file;
    section(oracle_title(before.temperature) + file, rows_of(before.heldout),
            rows_of(after.heldout));
    if (before.heldout_sampled)
      section(oracle_title(before.sampled_temperature) + file, rows_of(before.heldout_sampled),
              rows_of(after.heldout_sampled));
  }
  section("compliance (judge)", rows_of(before.judge_compliance), rows_of(after.judge_compliance));
  const auto br = scores_of(before.results);
  const auto ar = scores_of(after.results);
  if (!br.empty()) {
    out += "capability\n";
    for (const auto& [name, b] : br) {
      std::string a = "-";
      for (const auto& [n2, v] : ar)
        if (n2 == name) a = fmt::format("{:.1f}%", v.value);
      out += fmt::format("  {:<30} {:>20} {:>20}\n", name, fmt::format("{:.1f}%", b.value), a);
    }
  }
  if (s.tax.report) {
    out += "alignment tax (positive: regression)\n";
    for (const auto& r : s.tax.report->rows)
      out += fmt::format("  {:<30} {:+7.1f}%\n", r.benchmark, r.tax_pct);
    out += fmt::format("  {:<30} {:+7.1f}%\n", "average", s.tax.report->average_tax_pct);
  }
  out += fmt::format("\nbest model: {}\nsummary:    {}\nreport:     {}\n", s.best_model,
                     (run / "summary.json").string(), (run / "report.html").string());
  return out;
}

}  // namespace cai::loop::detail
