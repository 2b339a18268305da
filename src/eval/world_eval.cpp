// Evaluation on the embedded world (see include/cai/eval/world_eval.h).
#include "cai/eval/world_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "cai/backend/backend.h"
#include "cai/constitution/constitution.h"
#include "cai/constitution/transcript.h"
#include "cai/eval/calibration.h"
#include "cai/eval/eval_file.h"
#include "cai/eval/injection.h"
#include "cai/eval/runner.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/io/rate.h"
#include "cai/world/heldout.h"
#include "cai/world/oracle.h"
#include "cai/world/principles.h"
#include "cai/world/text.h"
#include "cai/world/world.h"

namespace cai::eval {
namespace {

using world::PrincipleId;

using Rate = CountedRate;
using PerPrinciple = std::array<Rate, world::kNumPrinciples>;

// A table's rows, one per principle with its 95% interval ("n/a" where a principle had no
// case: empathy always applies, so it has no false alarms to count); the caller adds the
// totals. Returns the same numbers by name.
NamedRates principle_table(std::string& text, const PerPrinciple& per) {
  NamedRates out;
  for (PrincipleId id : world::kAllPrinciples) {
    const Rate& r = per[static_cast<std::size_t>(id)];
    out.emplace_back(std::string(world::principle_name(id)), r);
    text += rate_row(world::principle_name(id), r);
  }
  return out;
}

std::size_t idx(PrincipleId p) { return static_cast<std::size_t>(p); }

// A comparison in both orders: first shown as (A), then as (B).
void add_both_orders(std::vector<TextRequest>& reqs, const std::string& prompt,
                     const std::string& first, const std::string& other, const std::string& q) {
  TextRequest ab, ba;
  ab.prompt = transcript::comparison_prompt(prompt, first, other, q);
  ba.prompt = transcript::comparison_prompt(prompt, other, first, q);
  reqs.push_back(std::move(ab));
  reqs.push_back(std::move(ba));
}

// The judge's probability that the first response is better, from its (A)/(B) scores in the
// two orders add_both_orders asked them.
double p_first_of(const OptionScores& ab, const OptionScores& ba) {
  return 0.5 * (std::exp(ab.normalised[0]) + std::exp(ba.normalised[1]));
}

// The judge's probabilities against the oracle: calibration (eval/calibration.h) and agreement
// per principle with its 95% interval. A prediction is the judge's probability p of an event
// (the first response is better; the response follows the principle) and whether it happened;
// the judge predicts the likelier side, with confidence max(p, 1 - p).
struct JudgeCalibration {
  std::vector<double> confidence;
  std::vector<bool> right;
  std::array<std::pair<std::int64_t, std::int64_t>, world::kNumPrinciples> per{};  // agree, n
  void add(double p, bool happened, PrincipleId id) {
    const bool agree = (p > 0.5) == happened;
    confidence.push_back(std::max(p, 1.0 - p));
    right.push_back(agree);
    per[static_cast<std::size_t>(id)].first += agree;
    per[static_cast<std::size_t>(id)].second += 1;
  }
  CalibrationRecord record() const {
    CalibrationRecord r{calibration(confidence, right), {}};
    for (PrincipleId id : world::kAllPrinciples) {
      const auto& [a, n] = per[static_cast<std::size_t>(id)];
      r.principles.emplace_back(std::string(world::principle_name(id)), Agreement{a, n});
    }
    return r;
  }
  std::string text(const std::string& title) const {
    const Calibration c = calibration(confidence, right);
    std::string t = fmt::format("\n{}\nECE {:.3f}, MCE {:.3f}, Brier {:.3f} (n={})\n", title, c.ece,
                                c.mce, c.brier, c.n);
    for (const auto& b : c.bins)
      if (b.count > 0)
        t += fmt::format("  confidence [{:.2f}, {:.2f}]  n={:<5} mean {:.3f}  right {:.3f}\n", b.lo,
                         b.hi, b.count, b.confidence, b.accuracy);
    for (PrincipleId id : world::kAllPrinciples) {
      const auto& [a, n] = per[static_cast<std::size_t>(id)];
      const Interval ci = wilson_interval(a, n);
      t += fmt::format("{:<28} {:6.1f}%  ({}/{}, 95% CI {:.1f}-{:.1f}%)\n",
                       world::principle_name(id),
                       n ? 100.0 * static_cast<double>(a) / static_cast<double>(n) : 0.0, a, n,
                       100 * ci.lo, 100 * ci.hi);
    }
    return t;
  }
};

// The constitution's principle for each world principle (by name), so the judge is asked in
// the constitution's own words.
std::array<const Principle*, world::kNumPrinciples> map_principles(const Constitution& c) {
  std::array<const Principle*, world::kNumPrinciples> out{};
  for (const auto& p : c.principles)
    if (auto id = world::principle_from_name(p.name)) out[idx(*id)] = &p;
  for (PrincipleId id : world::kAllPrinciples)
    if (!out[idx(id)])
      throw_error("world eval: the constitution has no principle named {}",
                  world::principle_name(id));
  return out;
}

std::vector<TextResult> sample_responses(Backend& b, const std::vector<world::WorldPrompt>& ps,
                                         const WorldEvalOptions& o, std::uint64_t stream_base) {
  std::vector<TextRequest> reqs;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    TextRequest r;
    r.prompt = transcript::conversation_prompt(ps[i].prompt);
    r.params.temperature = o.temperature;
    r.params.top_p = o.top_p;
    r.params.max_tokens = o.max_tokens;
    r.params.stop = {"\n\n"};
    r.params.seed = o.seed;
    r.stream = stream_base + i;
    reqs.push_back(std::move(r));
  }
  auto out = b.generate(reqs);
  for (auto& t : out) t.text = transcript::first_turn(t.text);
  return out;
}

// Right fact for the free-generation task: the answer (or an alias) and no other value of the
// same attribute, ignoring case (the oracle's rule, applied to a task record).
bool states_fact(const std::string& response, const nlohmann::json& rec,
                 const world::KnowledgeBase& kb) {
  const std::string r = world::lowercase(response);
  bool has = r.find(world::lowercase(rec.at("answer").get<std::string>())) != std::string::npos;
  if (rec.contains("aliases"))
    for (const auto& a : rec["aliases"])
      has = has || r.find(world::lowercase(a.get<std::string>())) != std::string::npos;
  if (!has) return false;
  const auto attr = world::parse_attribute(rec.at("attribute").get<std::string>());
  for (const auto& v : kb.values(attr))
    if (world::lowercase(v) != world::lowercase(rec.at("answer").get<std::string>()) &&
        r.find(world::lowercase(v)) != std::string::npos)
      return false;
  return true;
}

}  // namespace

WorldEvalResult evaluate_world(Backend& policy, Backend& judge, const WorldEvalOptions& opts) {
  opts.validate();
  // Read before any sampling, so a bad notes file fails at once.
  const auto notes =
      opts.injections.empty() ? std::vector<Injection>{} : load_injections(opts.injections);
  const world::World w = world::load_world(opts.world);
  const Constitution constitution = load_constitution(
      opts.constitution.empty() ? opts.world / "constitution.yaml" : opts.constitution);
  const auto principle = map_principles(constitution);
  const world::Oracle oracle(w.knowledge);

  std::vector<world::WorldPrompt> prompts;
  if (!opts.prompts.empty()) {
    prompts = world::load_heldout_prompts(opts.prompts, w.knowledge);
  } else {
    for (const auto& p : w.prompts)
      if (p.split == opts.split) prompts.push_back(p);
  }
  // What the prompts are called in the tables and eval.json: the split, or the file's name.
  const std::string split = opts.prompts.empty() ? opts.split : opts.prompts.filename().string();
  if (opts.limit > 0 && static_cast<std::int64_t>(prompts.size()) > opts.limit)
    prompts.resize(static_cast<std::size_t>(opts.limit));
  CAI_CHECK(!prompts.empty(), "world eval: no prompts in split {}", split);

  EvalFile report;
  report.model = policy.describe();
  report.judge = judge.describe();
  report.split = split;
  report.seed = opts.seed;
  report.temperature = opts.temperature;
  std::string text;

  // 1. Compliance of sampled responses.
  auto responses = sample_responses(policy, prompts, opts, 0);
  world::OracleSummary summary;
  std::vector<world::OracleVerdict> verdicts;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    verdicts.push_back(oracle.check(prompts[i], responses[i].text));
    summary.add(prompts[i], verdicts.back());
    report.responses.push_back({prompts[i].id, std::string(world::kind_name(prompts[i].kind)),
                                prompts[i].prompt, responses[i].text, verdicts.back()});
  }
  report.compliance = summary;
  text += fmt::format("Compliance on {} {} prompts (oracle)\n{}", prompts.size(), split,
                      summary.to_text());

  // 2. Critiques of those responses, per principle, scored by log-probability. Where the
  // principle does not apply (uncertainty on an answerable question, emergency on a benign
  // one) the response follows it by definition: a "violates" there is a false alarm, and in
  // Phase 1 a false alarm becomes a revision that breaks a good answer.
  if (opts.critiques) {
    std::vector<TextRequest> reqs;
    std::vector<std::pair<std::size_t, PrincipleId>> what;
    for (std::size_t i = 0; i < prompts.size(); ++i)
      for (PrincipleId id : world::kAllPrinciples) {
        TextRequest r;
        r.prompt = transcript::critique_prompt(prompts[i].prompt, responses[i].text,
                                               principle[idx(id)]->critique_request);
        reqs.push_back(std::move(r));
        what.emplace_back(i, id);
      }
    const std::vector<std::string> options = transcript::critique_verdict_options();
    auto scores = judge.score_options(reqs, options);
    // Agreement with the oracle, and the judge's own compliance rate (constitution-judged
    // safety: the share of (response, applicable principle) it rates as following).
    PerPrinciple per, judged, alarms;
    Rate all, judged_all, alarms_all;
    JudgeCalibration cal;
    for (std::size_t k = 0; k < what.size(); ++k) {
      const auto [i, id] = what[k];
      const bool says_follows = scores[k].normalised[0] > scores[k].normalised[1];
      if (!verdicts[i][id].applicable) {
        alarms[idx(id)].add(!says_follows);
        alarms_all.add(!says_follows);
        continue;
      }
      const bool agree = says_follows == verdicts[i][id].pass;
      per[idx(id)].add(agree);
      all.add(agree);
      judged[idx(id)].add(says_follows);
      judged_all.add(says_follows);
      cal.add(std::exp(scores[k].normalised[0]), verdicts[i][id].pass, id);
    }
    report.critique_calibration = cal.record();
    text += cal.text("Critique verdicts: calibration of p(follows) against the oracle");
    text += "\nCritique agreement with the oracle\n";
    report.critique_agreement = PrincipleRates{all, principle_table(text, per)};
    text += rate_row("overall", all);
    text += "\nJudge-rated compliance (the judge's critiques)\n";
    report.judge_compliance = PrincipleRates{judged_all, principle_table(text, judged)};
    text += rate_row("overall", judged_all);
    text += "\nFalse alarms (\"violates\" where the principle does not apply)\n";
    report.critique_false_alarms = PrincipleRates{alarms_all, principle_table(text, alarms)};
    text += rate_row("overall", alarms_all);
  }

  // 3. A/B comparisons of two sampled responses the oracle ranks differently on a principle.
  if (opts.comparisons) {
    auto second = sample_responses(policy, prompts, opts, 1u << 20);
    std::vector<TextRequest> reqs;
    struct Pair {
      std::size_t i;
      PrincipleId id;
      bool first_better;
    };
    std::vector<Pair> pairs;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      const auto v2 = oracle.check(prompts[i], second[i].text);
      for (PrincipleId id : world::kAllPrinciples) {
        if (!verdicts[i][id].applicable || verdicts[i][id].pass == v2[id].pass) continue;
        add_both_orders(reqs, prompts[i].prompt, responses[i].text, second[i].text,
                        principle[idx(id)]->comparison_question);
        pairs.push_back({i, id, verdicts[i][id].pass});
      }
    }
    const std::vector<std::string> options = {std::string(transcript::kOptionA),
                                              std::string(transcript::kOptionB)};
    auto scores = reqs.empty() ? std::vector<OptionScores>{} : judge.score_options(reqs, options);
    PerPrinciple per;
    Rate both, single;
    JudgeCalibration cal;
    std::vector<double> p_firsts;  // per pair, both orders averaged
    for (std::size_t k = 0; k < pairs.size(); ++k) {
      const double p_ab = std::exp(scores[2 * k].normalised[0]);      // first response is (A)
      const double p_ba = std::exp(scores[2 * k + 1].normalised[1]);  // first response is (B)
      const double p_first = p_first_of(scores[2 * k], scores[2 * k + 1]);
      p_firsts.push_back(p_first);
      const bool agree = (p_first > 0.5) == pairs[k].first_better;
      both.add(agree);
      per[idx(pairs[k].id)].add(agree);
      single.add((p_ab > 0.5) == pairs[k].first_better);
      single.add((p_ba > 0.5) == pairs[k].first_better);
      cal.add(p_first, pairs[k].first_better, pairs[k].id);
    }
    report.comparison_calibration = cal.record();
    text += cal.text("A/B soft labels (both orders): calibration against the oracle");
    text += "\nA/B agreement with the oracle (pairs it ranks differently)\n";
    report.comparison_agreement = ComparisonAgreement{both, single, principle_table(text, per)};
    text += rate_row("both orders averaged", both);
    text += rate_row("one order", single);
    if (!notes.empty()) {
      // The same pairs with each note appended to the first, then to the second response.
      InjectionTally tally(notes);
      std::vector<TextRequest> noted;
      for (const auto& pr : pairs)
        for (int side = 0; side < 2; ++side)
          for (const auto& note : notes) {
            std::string first = responses[pr.i].text, other = second[pr.i].text;
            (side == 0 ? first : other) += note.text;
            add_both_orders(noted, prompts[pr.i].prompt, first, other,
                            principle[idx(pr.id)]->comparison_question);
          }
      const auto ns =
          noted.empty() ? std::vector<OptionScores>{} : judge.score_options(noted, options);
      const std::size_t variants = 2 * notes.size();  // per pair: each note on either side
      for (std::size_t k = 0; k < pairs.size(); ++k)
        for (std::size_t v = 0; v < variants; ++v) {
          const std::size_t at = 2 * (k * variants + v);
          tally.add(v % notes.size(), v < notes.size(), p_firsts[k],
                    p_first_of(ns[at], ns[at + 1]));
        }
      report.injections = tally.to_json();
      text += "\n" + injection_text(report.injections);
    }
  }

  // 4. Capability: the knowledge quiz and the fact task.
  if (opts.tasks) {
    TaskSpec quiz;
    quiz.name = kQuizTask;
    quiz.dataset = opts.world / "tasks" / "quiz.jsonl";
    quiz.output_type = OutputType::multiple_choice;
    quiz.doc_to_text = "{{question}}";
    quiz.doc_to_choice = "choices";
    quiz.doc_to_target = "answer";
    quiz.metrics = {kQuizMetric, "acc_norm"};
    quiz.source = quiz.dataset;
    EvalOptions eo;
    eo.seed = opts.seed;
    eo.limit = opts.task_limit;
    auto qr = run_task(policy, quiz, eo);

    // The fact task: greedy answers, scored by the oracle's right-fact rule.
    std::vector<nlohmann::json> recs;
    for_each_jsonl(opts.world / "tasks" / "facts.jsonl",
                   [&](const nlohmann::json& j, std::size_t) { recs.push_back(j); });
    if (opts.task_limit > 0 && static_cast<std::int64_t>(recs.size()) > opts.task_limit)
      recs.resize(static_cast<std::size_t>(opts.task_limit));
    std::vector<TextRequest> reqs;
    for (std::size_t i = 0; i < recs.size(); ++i) {
      TextRequest r;
      r.prompt = recs[i].at("prompt").get<std::string>();
      r.params.temperature = 0.0;
      r.params.max_tokens = opts.max_tokens;
      r.params.stop = {"\n\n"};
      r.stream = i;
      reqs.push_back(std::move(r));
    }
    auto outs = policy.generate(reqs);
    std::vector<double> right;
    nlohmann::json fact_samples = nlohmann::json::array();
    for (std::size_t i = 0; i < recs.size(); ++i) {
      const std::string resp = transcript::first_turn(outs[i].text);
      right.push_back(states_fact(resp, recs[i], w.knowledge) ? 1.0 : 0.0);
      fact_samples.push_back(
          {{"id", recs[i].value("id", "")}, {"response", resp}, {"right", right.back()}});
    }
    auto [fm, fse] = mean_stderr(right);
    report.results.push_back(qr);
    report.results.back().samples = nlohmann::json::array();  // eval.json keeps the scores
    TaskResult facts;
    facts.name = kFactTask;
    facts.primary = kFactMetric;
    facts.metrics[facts.primary] = fm;
    facts.stderrs[facts.primary] = fse;
    facts.n = static_cast<std::int64_t>(recs.size());
    report.results.push_back(std::move(facts));
    report.fact_samples = fact_samples;
    text += fmt::format(
        "\nCapability\n{:<28} {:6.1f}%  ± {:.1f}  (n={})\n{:<28} {:6.1f}%  ± {:.1f}  (n={})\n",
        "knowledge quiz (acc)", 100 * qr.metrics[kQuizMetric], 100 * qr.stderrs[kQuizMetric], qr.n,
        "fact task (right fact)", 100 * fm, 100 * fse, recs.size());
  }
  return {std::move(report), text};
}

}  // namespace cai::eval
