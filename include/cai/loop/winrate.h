// The loop's pairwise quality signal: how often round K's responses beat round K-1's on the
// quality prompts, as a fixed judge (the base model or a configured one, never the policy being
// scored) answers Phase 2's A/B comparison question (pipeline::judge_pairs, the same prompt and
// scoring as the labels). Each pair is judged in both orders and the orders averaged, so a
// judge's position bias cancels: a judge that only ever prefers the first option gives 0.5.
//
// Per prompt, the judge's preference for round K is p = mean over the principles (weighted) of
// (p(K first wins) + 1 - p(K-1 first wins)) / 2; round K wins the prompt when p > 0.5, loses
// when p < 0.5, ties otherwise. Two equal texts are a tie without asking the judge.
//   win rate = (wins + ties / 2) / n,
// with a 95% Wilson score interval (Wilson 1927) on that rate over the n prompts. The mean of p
// is reported beside it.
//
// Rounds (round 0 = the base model, whose win rate is 0.5 by definition: nothing came before):
//  - early stop after round K when win_rate_K < factor * 0.5 (the seed's 0.95 rule with the
//    previous round's quality replaced by the 0.5 of a round against an equal one), from round 2
//    when round 1's comparison is the base model judging its own responses (below);
//  - best round: the chain of pairwise results read as Bradley-Terry strengths (Bradley and
//    Terry 1952): s_0 = 0, s_K = s_{K-1} + log(w_K / (1 - w_K)) with w_K clamped to
//    [0.001, 0.999] and s rounded to 1e-9; the best round has the highest strength (the
//    earliest on ties). A round that lost to its predecessor is never best unless a later win
//    makes up the loss.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cai/backend/backend.h"
#include "cai/constitution/constitution.h"
#include "cai/pipeline/label.h"

namespace cai::loop {

// One prompt's comparison of the newer response against the older.
struct PromptPreference {
  double p = 0.5;      // the judge's preference for the newer response, both orders averaged
  int outcome = 0;     // +1 newer wins, -1 older wins, 0 tie
  bool equal = false;  // the two texts were equal (not judged)
};

struct WinRate {
  std::int64_t n = 0, wins = 0, ties = 0, losses = 0, equal = 0;
  double rate = 0.5;                // (wins + ties / 2) / n; 0.5 when n = 0
  double mean_p = 0.5;              // mean of the per-prompt preferences
  double ci_lo = 0.0, ci_hi = 1.0;  // 95% Wilson interval of rate
  // {"n", "wins", "ties", "losses", "equal_texts", "rate", "mean_p", "ci95": [lo, hi],
  //  "interval": "wilson"}
  nlohmann::json to_json() const;
  static WinRate from_json(const nlohmann::json& j, const std::string& where);
};

WinRate summarise_win_rate(const std::vector<PromptPreference>& prompts);

// Compares newer[i] with older[i] for every prompt (the three vectors are parallel). Equal
// texts are ties without a request; the others go to the judge in one judge_pairs call with
// `opts` (format, ensemble, seed). Pair i's key is i, so its principle draws do not depend on
// which other pairs were equal.
std::vector<PromptPreference> compare_responses(Backend& judge, const Constitution& c,
                                                const std::vector<std::string>& prompts,
                                                const std::vector<std::string>& newer,
                                                const std::vector<std::string>& older,
                                                const pipeline::LabelOptions& opts);

// win_rates[0] is round 0's (0.5); win_rates[K] is round K's against round K-1. `first` is the
// first round whose win rate counts: 1, or 2 when round 1's comparison was judged by the model
// that wrote round 0's responses (see self_judged_first_round). The round after which the loop
// stops (win_rates[K] < factor * 0.5, K >= first), or nullopt.
std::optional<std::size_t> winrate_stop_round(const std::vector<double>& win_rates, double factor,
                                              std::size_t first = 1);
// The Bradley-Terry strengths of the chain (see above), round 0 first; with first = 2 the chain
// starts at round 1 (s_0 = s_1 = 0).
std::vector<double> winrate_strengths(const std::vector<double>& win_rates, std::size_t first = 1);
// The index of the highest strength among rounds first - 1 .. (the earliest on ties): with
// first = 2 round 0 is the reference the trained rounds are compared with, not a candidate.
std::size_t winrate_best_round(const std::vector<double>& win_rates, std::size_t first = 1);

// Round 1 is compared with round 0's responses, which the base model wrote. When the base model
// also judges (quality.judge empty or the base model itself), that comparison is a model scoring
// its own responses against another's, which the signal's judge must never do: it is written to
// quality.json and the summary, but the early stop and the best round count from round 2, as the
// seed's loop compares only trained rounds and never returns the untrained model. Returns the
// `first` of the functions above: 2 in that case, else 1.
std::size_t self_judged_first_round(const std::string& judge, const std::string& base_model);

}  // namespace cai::loop
