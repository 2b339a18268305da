#include "cai/pipeline/label_report.h"

#include <fmt/format.h>

#include <map>

#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/world/oracle.h"
#include "cai/world/world.h"

namespace cai::pipeline {

void LabelReportOptions::validate() const {
  CAI_CHECK(bins >= 1 && bins <= 100, "label report: bins must be in 1..100, got {}", bins);
}

namespace {

struct Rate {
  std::size_t matched = 0, agree = 0;
  nlohmann::json to_json() const {
    return {{"matched", matched},
            {"agree", agree},
            {"rate", matched ? static_cast<double>(agree) / static_cast<double>(matched) : 0.0}};
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
  Rate gold_rate, oracle_rate;
  std::size_t oracle_ties = 0, oracle_unknown = 0;
  for_each_jsonl(labels, [&](const nlohmann::json& j, std::size_t line) {
    const std::string where = fmt::format("{}:{}", labels.string(), line);
    CAI_CHECK(j.is_object() && j.contains("p_chosen") && j["p_chosen"].is_number(),
              "{}: field \"p_chosen\" (a number) is missing", where);
    const double p = j["p_chosen"].get<double>();
    CAI_CHECK(p >= 0.0 && p <= 1.0, "{}: p_chosen {} outside [0, 1]", where, p);
    ++n;
    sum_p += p;
    auto bin = static_cast<std::size_t>((std::max(p, 0.5) - 0.5) / 0.5 * opts.bins);
    hist[std::min(bin, hist.size() - 1)]++;
    if (j.value("position_flip", false)) ++flips;
    sum_d += j.value("position_disagreement", 0.0);
    const auto prompt = str_field(j, "prompt_text", where);
    const auto chosen = str_field(j, "chosen_text", where);
    const auto rejected = str_field(j, "rejected_text", where);
    if (auto it = gold.find(prompt);
        it != gold.end() && (it->second == chosen || it->second == rejected)) {
      ++gold_rate.matched;
      gold_rate.agree += it->second == chosen;
    }
    if (oracle) {
      auto it = world_prompts.find(prompt);
      if (it == world_prompts.end()) {
        ++oracle_unknown;
      } else if (int pref = oracle_prefers(*oracle, it->second, chosen, rejected); pref == 0) {
        ++oracle_ties;
      } else {
        ++oracle_rate.matched;
        oracle_rate.agree += pref > 0;
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
  if (!opts.gold.empty()) r["gold"] = gold_rate.to_json();
  if (oracle) {
    r["oracle"] = oracle_rate.to_json();
    r["oracle"]["ties"] = oracle_ties;
    r["oracle"]["unknown_prompts"] = oracle_unknown;
  }
  return r;
}

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
  for (const char* k : {"gold", "oracle"})
    if (r.contains(k))
      s += fmt::format("agreement with {:<6}     {:.1f}% ({} of {} pairs)\n", k,
                       100.0 * r[k]["rate"].get<double>(), r[k]["agree"].get<std::size_t>(),
                       r[k]["matched"].get<std::size_t>());
  return s;
}

}  // namespace cai::pipeline
