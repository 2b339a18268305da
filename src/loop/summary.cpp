// The loop's summary: before / after figures of round 0 and the best round, the alignment tax
// between them, and the table `cai loop` prints.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "cai/eval/tax.h"
#include "cai/io/error.h"
#include "internal.h"

namespace cai::loop::detail {
namespace {

double rate(const nlohmann::json& j) {
  return j.is_object() && j.contains("rate") ? j["rate"].get<double>() : 0.0;
}

std::string pct(const nlohmann::json& j) {
  return j.is_object() && j.contains("rate") ? fmt::format("{:6.1f}%", 100 * rate(j)) : "      -";
}

// Task results ({"task": {"primary", <metric>, <metric>_stderr, "n"}}) as percentage scores.
eval::Scores scores_of(const nlohmann::json& results) {
  eval::Scores s;
  if (!results.is_object()) return s;
  for (auto it = results.begin(); it != results.end(); ++it) {
    const auto& r = it.value();
    const std::string m = r.value("primary", "");
    if (m.empty() || !r.contains(m)) continue;
    eval::BenchScore b;
    b.value = 100 * r[m].get<double>();
    if (r.contains(m + "_stderr")) b.stderr_ = 100 * r[m + "_stderr"].get<double>();
    if (r.contains("n")) b.n = r["n"].get<long long>();
    s.emplace_back(it.key(), b);
  }
  return s;
}

}  // namespace

nlohmann::json eval_summary(const nlohmann::json& e) {
  nlohmann::json s = nlohmann::json::object();
  for (const char* k : {"temperature", "compliance", "compliance_sampled", "judge_compliance",
                        "critique_agreement", "comparison_agreement", "results"})
    if (e.contains(k)) s[k] = e[k];
  return s;
}

nlohmann::json tax_json(const nlohmann::json& before, const nlohmann::json& after) {
  const auto b = scores_of(before.value("results", nlohmann::json::object()));
  const auto a = scores_of(after.value("results", nlohmann::json::object()));
  // A zero base score has no relative tax: such benchmarks are listed, not taxed.
  eval::Scores base, aligned;
  nlohmann::json zero = nlohmann::json::array();
  for (const auto& [name, score] : b) {
    if (score.value == 0.0) {
      zero.push_back(name);
      continue;
    }
    base.emplace_back(name, score);
    for (const auto& [n2, s2] : a)
      if (n2 == name) aligned.emplace_back(n2, s2);
  }
  nlohmann::json j;
  if (base.empty()) {
    j = {{"error", "no benchmark with a non-zero round-0 score"}};
  } else {
    try {
      j = eval::compute_tax(base, aligned, "round 0 -> best round").to_json();
    } catch (const Error& e) {
      j = {{"error", e.what()}};
    }
  }
  if (!zero.empty()) j["zero_base"] = zero;
  return j;
}

nlohmann::json ranking_json(const std::vector<double>& score, const std::vector<double>& oracle,
                            std::size_t best) {
  const auto rank = [](const std::vector<double>& v) {
    std::vector<std::size_t> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::size_t a, std::size_t b) { return v[a] > v[b]; });
    return idx;
  };
  nlohmann::json j = {{"quality", rank(score)}};
  if (!oracle.empty() && oracle.size() == score.size()) {
    const auto o = rank(oracle);
    j["oracle"] = o;
    j["oracle_best_round"] = o.front();
    j["agree"] = o.front() == best;
  }
  return j;
}

std::string summary_table(const nlohmann::json& s, const fs::path& run) {
  std::string out;
  const auto& before = s["before"];
  const auto& after = s["after"];
  out += fmt::format("\nLoop summary: best round {} of {} ({}: {})\n",
                     s["best_round"].get<std::int64_t>(), s["rounds"].size() - 1,
                     s["stopped"].get<std::string>(), s["reason"].get<std::string>());
  out += fmt::format("quality ({}) per round:", s.value("metric", std::string("?")));
  for (const auto& r : s["rounds"]) {
    out += fmt::format(" [{}] {:.3f}", r["round"].get<std::int64_t>(), r["quality"].get<double>());
    if (r.contains("win_rate"))
      out += fmt::format(" ({:.3f}-{:.3f})", r["win_rate"]["ci95"][0].get<double>(),
                         r["win_rate"]["ci95"][1].get<double>());
  }
  out += "\n";
  if (s.contains("ranking") && s["ranking"].contains("oracle")) {
    out += "oracle compliance per round:";
    for (const auto& r : s["rounds"])
      if (r.contains("oracle"))
        out += fmt::format(" [{}] {:.1f}%", r["round"].get<std::int64_t>(),
                           100 * r["oracle"].get<double>());
    out += fmt::format("\noracle's best round: {} ({} the quality signal)\n",
                       s["ranking"]["oracle_best_round"].get<std::int64_t>(),
                       s["ranking"]["agree"].get<bool>() ? "agrees with" : "differs from");
  }
  out += "\n";
  out += fmt::format("{:<32} {:>8} {:>8}\n", "", "before", "after");
  auto section = [&](const std::string& title, const char* key) {
    if (!before.contains(key)) return;
    out += fmt::format("{}\n", title);
    const auto& bp = before[key].value("principles", nlohmann::json::object());
    const auto& ap = after.contains(key) ? after[key].value("principles", nlohmann::json::object())
                                         : nlohmann::json::object();
    for (auto it = bp.begin(); it != bp.end(); ++it)
      out += fmt::format("  {:<30} {:>8} {:>8}\n", it.key(), pct(it.value()),
                         pct(ap.contains(it.key()) ? ap[it.key()] : nlohmann::json()));
    out += fmt::format("  {:<30} {:>8} {:>8}\n", "overall",
                       pct(before[key].value("overall", nlohmann::json())),
                       pct(after.contains(key) ? after[key].value("overall", nlohmann::json())
                                               : nlohmann::json()));
    for (const char* extra :
         {"overall_unseen_combination", "overall_test_only_template", "over_refusal", "on_topic"})
      if (before[key].contains(extra))
        out += fmt::format("  {:<30} {:>8} {:>8}\n", extra, pct(before[key][extra]),
                           pct(after.contains(key) ? after[key].value(extra, nlohmann::json())
                                                   : nlohmann::json()));
  };
  // Each oracle block titled with the temperature its responses were drawn at (when recorded).
  const auto oracle_title = [](const nlohmann::json& temperature) {
    return temperature.is_number()
               ? fmt::format("compliance (oracle, temperature {:g})", temperature.get<double>())
               : std::string("compliance (oracle)");
  };
  section(oracle_title(before.value("temperature", nlohmann::json())), "compliance");
  if (before.contains("compliance_sampled"))
    section(oracle_title(before["compliance_sampled"].value("temperature", nlohmann::json())),
            "compliance_sampled");
  section("compliance (judge)", "judge_compliance");
  const auto br = scores_of(before.value("results", nlohmann::json::object()));
  const auto ar = scores_of(after.value("results", nlohmann::json::object()));
  if (!br.empty()) {
    out += "capability\n";
    for (const auto& [name, b] : br) {
      std::string a = "       -";
      for (const auto& [n2, v] : ar)
        if (n2 == name) a = fmt::format("{:7.1f}%", v.value);
      out += fmt::format("  {:<30} {:7.1f}% {:>8}\n", name, b.value, a);
    }
  }
  if (s.contains("tax") && s["tax"].is_object() && s["tax"].contains("rows")) {
    out += "alignment tax (positive: regression)\n";
    for (const auto& r : s["tax"]["rows"])
      out +=
          fmt::format("  {:<30} {:+7.1f}%\n", r.value("benchmark", "?"), r.value("tax_pct", 0.0));
    out += fmt::format("  {:<30} {:+7.1f}%\n", "average", s["tax"].value("average_tax_pct", 0.0));
  }
  out += fmt::format("\nbest model: {}\nsummary:    {}\nreport:     {}\n",
                     s["best_model"].get<std::string>(), (run / "summary.json").string(),
                     (run / "report.html").string());
  return out;
}

}  // namespace cai::loop::detail
