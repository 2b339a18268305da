// The pairwise win rate of one round's responses against the previous round's, and the
// stopping and best-round rules on a chain of them (include/cai/loop/winrate.h).
#include "cai/loop/winrate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cai/eval/calibration.h"
#include "cai/io/error.h"
#include "cai/io/json.h"

namespace cai::loop {

namespace fs = std::filesystem;

nlohmann::json WinRate::to_json() const {
  return {{"n", n},           {"wins", wins},           {"ties", ties},
          {"losses", losses}, {"equal_texts", equal},   {"rate", rate},
          {"mean_p", mean_p}, {"ci95", {ci_lo, ci_hi}}, {"interval", "wilson"}};
}

WinRate WinRate::from_json(const nlohmann::json& j, const std::string& where) {
  using json_field::count;
  using json_field::number;
  WinRate w;
  w.n = count(j, "n", where);
  w.wins = count(j, "wins", where);
  w.ties = count(j, "ties", where);
  w.losses = count(j, "losses", where);
  w.equal = count(j, "equal_texts", where);
  w.rate = number(j, "rate", where);
  w.mean_p = number(j, "mean_p", where);
  const auto& ci = json_field::any(j, "ci95", where);
  CAI_CHECK(ci.is_array() && ci.size() == 2 && ci[0].is_number() && ci[1].is_number(),
            "{}: field ci95: [lo, hi] is required", where);
  w.ci_lo = ci[0].get<double>();
  w.ci_hi = ci[1].get<double>();
  return w;
}

WinRate summarise_win_rate(const std::vector<PromptPreference>& prompts) {
  WinRate w;
  w.n = static_cast<std::int64_t>(prompts.size());
  if (w.n == 0) return w;
  double p = 0.0;
  for (const auto& x : prompts) {
    w.wins += x.outcome > 0;
    w.losses += x.outcome < 0;
    w.ties += x.outcome == 0;
    w.equal += x.equal;
    p += x.p;
  }
  const double n = static_cast<double>(w.n);
  w.rate = (static_cast<double>(w.wins) + 0.5 * static_cast<double>(w.ties)) / n;
  w.mean_p = p / n;
  const eval::Interval ci = eval::wilson_interval_rate(w.rate, w.n);
  w.ci_lo = ci.lo;
  w.ci_hi = ci.hi;
  return w;
}

std::vector<PromptPreference> compare_responses(Backend& judge, const Constitution& c,
                                                const std::vector<std::string>& prompts,
                                                const std::vector<std::string>& newer,
                                                const std::vector<std::string>& older,
                                                const pipeline::LabelOptions& opts) {
  CAI_CHECK(newer.size() == prompts.size() && older.size() == prompts.size(),
            "win rate: {} prompts, {} newer and {} older responses", prompts.size(), newer.size(),
            older.size());
  std::vector<PromptPreference> out(prompts.size());
  std::vector<pipeline::PairInput> pairs;
  std::vector<std::size_t> judged;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    if (newer[i] == older[i]) {
      out[i].equal = true;
      continue;
    }
    pipeline::PairInput pi;
    pi.key = i;
    pi.prompt = prompts[i];
    pi.a = newer[i];
    pi.b = older[i];
    pairs.push_back(std::move(pi));
    judged.push_back(i);
  }
  if (pairs.empty()) return out;
  const auto labels = pipeline::judge_pairs(judge, c, pairs, opts);
  for (std::size_t j = 0; j < labels.size(); ++j) {
    auto& o = out[judged[j]];
    o.p = labels[j].p_a;
    // The sign of the weighted difference of the two orders' first-option probabilities: the
    // same as p_a - 0.5, without the rounding of 1 - p that would turn an exact tie (a judge
    // that only sees positions) into a win or a loss.
    double margin = 0.0;
    for (const auto& pj : labels[j].principles)
      margin += pj.weight * (pj.ab.p_first - pj.ba.p_first);
    o.outcome = margin > 0.0 ? 1 : margin < 0.0 ? -1 : 0;
  }
  return out;
}

std::optional<std::size_t> winrate_stop_round(const std::vector<double>& w, double factor,
                                              std::size_t first) {
  for (std::size_t k = std::max<std::size_t>(first, 1); k < w.size(); ++k)
    if (w[k] < factor * 0.5) return k;
  return std::nullopt;
}

std::vector<double> winrate_strengths(const std::vector<double>& w, std::size_t first) {
  std::vector<double> s(w.size(), 0.0);
  for (std::size_t k = std::max<std::size_t>(first, 1); k < w.size(); ++k) {
    const double x = std::clamp(w[k], 0.001, 0.999);
    s[k] = s[k - 1] + std::log(x / (1.0 - x));
  }
  // Rounded so that a chain returning to a level (0.25 then 0.75) ties exactly rather than by
  // a rounding error's sign: best round and ranking then agree on ties.
  for (auto& v : s) v = std::round(v * 1e9) / 1e9;
  return s;
}

std::size_t winrate_best_round(const std::vector<double>& w, std::size_t first) {
  const auto s = winrate_strengths(w, first);
  // Round 0 is a candidate unless the chain starts at round 1 (and there is a round 1).
  std::size_t best = first >= 2 && s.size() > 1 ? 1 : 0;
  for (std::size_t k = best + 1; k < s.size(); ++k)
    if (s[k] > s[best]) best = k;
  return best;
}

std::size_t self_judged_first_round(const std::string& judge, const std::string& base_model) {
  if (judge.empty()) return 2;
  std::error_code ec;
  return !base_model.empty() && fs::equivalent(judge, base_model, ec) ? 2 : 1;
}

}  // namespace cai::loop
