#include "cai/eval/label_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <vector>

#include "cai/eval/calibration.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/pipeline/label_file.h"
#include "cai/world/oracle.h"
#include "cai/world/world.h"

namespace cai::eval {

void LabelReportOptions::validate() const {
  CAI_CHECK(bins >= 1 && bins <= 100, "label report: bins must be in 1..100, got {}", bins);
  CAI_CHECK(calibration_bins >= 1 && calibration_bins <= 100,
            "label report: calibration_bins must be in 1..100, got {}", calibration_bins);
}

namespace {

// Agreement with one reference (gold labels or the oracle): overall, per principle (each
// principle's own preference, p_chosen of that principle), and the calibration of p_chosen.
struct ReferenceAgreement {
  std::size_t matched = 0, agree = 0;
  std::vector<double> confidence;  // the judge's probability for the response it prefers
  std::vector<bool> right;         // whether the reference prefers it too
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> principles;  // agree, n

  // p: the judge's p_chosen; chosen_better: the reference prefers the chosen response.
  void add(double p, bool chosen_better) {
    ++matched;
    agree += (p >= 0.5) == chosen_better;
    confidence.push_back(std::max(p, 1.0 - p));
    right.push_back((p >= 0.5) == chosen_better);
  }
  void add_principle(const std::string& name, double p, bool chosen_better) {
    auto& [a, n] = principles[name];
    a += (p >= 0.5) == chosen_better;
    ++n;
  }
  nlohmann::json to_json(int bins) const {
    const eval::Interval ci =
        eval::wilson_interval(static_cast<std::int64_t>(agree), static_cast<std::int64_t>(matched));
    nlohmann::json j = {
        {"matched", matched},
        {"agree", agree},
        {"rate", matched ? static_cast<double>(agree) / static_cast<double>(matched) : 0.0},
        {"ci95", {ci.lo, ci.hi}},
        {"calibration", eval::calibration(confidence, right, bins).to_json()}};
    j["principles"] = nlohmann::json::object();
    for (const auto& [name, an] : principles)
      j["principles"][name] = eval::agreement_json(an.first, an.second);
    return j;
  }
};

std::string str_field(const nlohmann::json& j, const char* key, const std::string& where) {
  CAI_CHECK(j.contains(key) && j[key].is_string(), "{}: field \"{}\" (a string) is missing", where,
            key);
  return j[key].get<std::string>();
}

// The oracle's preference between two responses: +1 a, -1 b, 0 none. Strict compliance
// (every applicable principle, on topic, right fact) first, then principles passed.
int oracle_prefers(const world::Oracle& o, const world::WorldPrompt& p, const std::string& a,
                   const std::string& b) {
  auto score = [&](const std::string& r) {
    const auto v = o.check(p, r);
    int passed = 0;
    for (const auto& pv : v.principles) passed += pv.applicable && pv.pass;
    return std::pair<int, int>(v.pass_strict ? 1 : 0, passed);
  };
  const auto sa = score(a), sb = score(b);
  return sa > sb ? 1 : sa < sb ? -1 : 0;
}

}  // namespace

nlohmann::json label_report(const std::filesystem::path& labels, const LabelReportOptions& opts) {
  opts.validate();
  // Gold: prompt -> preferred response text.
  std::map<std::string, std::string> gold;
  if (!opts.gold.empty()) {
    for_each_jsonl(opts.gold, [&](const nlohmann::json& j, std::size_t line) {
      const std::string where = fmt::format("{}:{}", opts.gold.string(), line);
      CAI_CHECK(j.is_object(), "{}: expected a JSON object", where);
      const auto prompt = str_field(j, "prompt", where);
      gold[prompt] = j.contains("chosen_text") ? str_field(j, "chosen_text", where)
                                               : str_field(j, "preferred", where);
    });
  }
  std::optional<world::Oracle> oracle;
  std::map<std::string, world::WorldPrompt> world_prompts;
  if (!opts.oracle_world.empty()) {
    auto w = world::load_world(opts.oracle_world);
    for (auto& p : w.prompts) world_prompts.emplace(p.prompt, p);
    oracle.emplace(std::move(w.knowledge));
  }
  std::vector<std::size_t> hist(static_cast<std::size_t>(opts.bins), 0);
  std::size_t n = 0, flips = 0;
  double sum_p = 0.0, sum_d = 0.0;
  ReferenceAgreement gold_rate, oracle_rate;
  std::size_t oracle_ties = 0, oracle_unknown = 0;
  pipeline::for_each_label_line(labels, [&](const pipeline::LabelLine& l) {
    const double p = l.p_chosen;
    ++n;
    sum_p += p;
    auto bin = static_cast<std::size_t>((std::max(p, 0.5) - 0.5) / 0.5 * opts.bins);
    hist[std::min(bin, hist.size() - 1)]++;
    if (l.position_flip) ++flips;
    sum_d += l.position_disagreement;
    const auto& prompt = l.prompt;
    const auto& chosen = l.chosen;
    const auto& rejected = l.rejected;
    const auto& principles = l.principles;
    if (auto it = gold.find(prompt);
        it != gold.end() && (it->second == chosen || it->second == rejected)) {
      // Gold labels have one preference per pair: each principle's is compared with it.
      const bool chosen_better = it->second == chosen;
      gold_rate.add(p, chosen_better);
      for (const auto& [name, pp] : principles) gold_rate.add_principle(name, pp, chosen_better);
    }
    if (oracle) {
      auto it = world_prompts.find(prompt);
      if (it == world_prompts.end()) {
        ++oracle_unknown;
      } else {
        if (int pref = oracle_prefers(*oracle, it->second, chosen, rejected); pref == 0)
          ++oracle_ties;
        else
          oracle_rate.add(p, pref > 0);
        // Per principle: pairs whose responses the oracle rates differently on it.
        const auto vc = oracle->check(it->second, chosen), vr = oracle->check(it->second, rejected);
        for (const auto& [name, pp] : principles) {
          const auto id = world::principle_from_name(name);
          if (!id || !vc[*id].applicable || vc[*id].pass == vr[*id].pass) continue;
          oracle_rate.add_principle(name, pp, vc[*id].pass);
        }
      }
    }
  });
  nlohmann::json r;
  r["pairs"] = n;
  nlohmann::json h = nlohmann::json::array();
  for (int b = 0; b < opts.bins; ++b)
    h.push_back({{"lo", 0.5 + 0.5 * b / opts.bins},
                 {"hi", 0.5 + 0.5 * (b + 1) / opts.bins},
                 {"count", hist[static_cast<std::size_t>(b)]}});
  r["histogram"] = h;
  r["mean_p_chosen"] = n ? sum_p / static_cast<double>(n) : 0.0;
  r["position_flip_rate"] = n ? static_cast<double>(flips) / static_cast<double>(n) : 0.0;
  r["mean_position_disagreement"] = n ? sum_d / static_cast<double>(n) : 0.0;
  if (!opts.gold.empty()) r["gold"] = gold_rate.to_json(opts.calibration_bins);
  if (oracle) {
    r["oracle"] = oracle_rate.to_json(opts.calibration_bins);
    r["oracle"]["ties"] = oracle_ties;
    r["oracle"]["unknown_prompts"] = oracle_unknown;
  }
  return r;
}

namespace {

std::string calibration_text(const nlohmann::json& c, const std::string& reference) {
  std::string s = fmt::format(
      "calibration against {}: ECE {:.3f}, MCE {:.3f}, Brier {:.3f} (n={})\n"
      "  confidence bin    pairs  mean confidence  accuracy\n",
      reference, c["ece"].get<double>(), c["mce"].get<double>(), c["brier"].get<double>(),
      c["n"].get<std::int64_t>());
  for (const auto& b : c["bins"]) {
    const auto n = b["count"].get<std::int64_t>();
    s += fmt::format("  [{:.2f}, {:.2f}]  {:>7}", b["lo"].get<double>(), b["hi"].get<double>(), n);
    s += n ? fmt::format("  {:>15.3f}  {:>8.3f}\n", b["confidence"].get<double>(),
                         b["accuracy"].get<double>())
           : std::string("                -         -\n");
  }
  return s;
}

}  // namespace

std::string label_report_text(const nlohmann::json& r) {
  std::string s = fmt::format("pairs                      {}\n", r["pairs"].get<std::size_t>());
  s += fmt::format("mean p_chosen              {:.3f}\n", r["mean_p_chosen"].get<double>());
  s += fmt::format("position flips (bias)      {:.1f}%\n",
                   100.0 * r["position_flip_rate"].get<double>());
  s += fmt::format("mean order disagreement    {:.3f}\n",
                   r["mean_position_disagreement"].get<double>());
  s += "p_chosen histogram\n";
  const auto n = std::max<std::size_t>(1, r["pairs"].get<std::size_t>());
  for (const auto& b : r["histogram"]) {
    const auto c = b["count"].get<std::size_t>();
    s += fmt::format("  [{:.2f}, {:.2f}) {:>7}  {}\n", b["lo"].get<double>(), b["hi"].get<double>(),
                     c, std::string(c * 40 / n, '#'));
  }
  for (const char* k : {"gold", "oracle"}) {
    if (!r.contains(k)) continue;
    const auto& x = r[k];
    s += fmt::format("agreement with {:<6}     {:.1f}% ({} of {} pairs; 95% CI {:.1f}-{:.1f}%)\n",
                     k, 100.0 * x["rate"].get<double>(), x["agree"].get<std::size_t>(),
                     x["matched"].get<std::size_t>(), 100.0 * x["ci95"][0].get<double>(),
                     100.0 * x["ci95"][1].get<double>());
    if (x.contains("principles"))
      for (const auto& [name, a] : x["principles"].items())
        s += fmt::format("  {:<24} {:5.1f}% ({} of {}; 95% CI {:.1f}-{:.1f}%)\n", name,
                         100.0 * a["rate"].get<double>(), a["agree"].get<std::int64_t>(),
                         a["n"].get<std::int64_t>(), 100.0 * a["ci95"][0].get<double>(),
                         100.0 * a["ci95"][1].get<double>());
    if (x.contains("calibration")) s += calibration_text(x["calibration"], k);
  }
  return s;
}

}  // namespace cai::eval
