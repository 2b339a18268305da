// The loop's evaluation of a round's model (eval.json) and its quality score (quality.json).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "cai/constitution/transcript.h"
#include "cai/eval/runner.h"
#include "cai/eval/task.h"
#include "cai/eval/world_eval.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/loop/winrate.h"
#include "cai/pipeline/common.h"
#include "cai/pipeline/label.h"
#include "cai/world/principles.h"
#include "internal.h"

namespace cai::loop::detail {
namespace {

// Task files given in the config, run on the spot; a task of the same name is replaced.
void run_task_files(const LoopConfig& c, Backend& policy, eval::EvalFile& report) {
  eval::EvalOptions eo;
  eo.seed = c.seed;
  eo.limit = c.eval.world.task_limit;
  for (const auto& f : c.eval.tasks_files) {
    const auto spec = eval::load_task(f);
    auto r = eval::run_task(policy, spec, eo);
    r.samples = nlohmann::json::array();  // eval.json keeps the scores only
    auto& results = report.results;
    results.erase(std::remove_if(results.begin(), results.end(),
                                 [&](const eval::TaskResult& x) { return x.name == r.name; }),
                  results.end());
    results.push_back(std::move(r));
  }
}

// Without a world, the judge's critiques decide: each response is critiqued against every
// principle of the constitution (all apply) in the transcript form, and the judge's verdict is
// the likelier of " The response follows the principle." / "... violates ...".
eval::PrincipleRates judge_quality_without_world(const LoopConfig& c, Backend& policy,
                                                 Backend& judge) {
  const auto prompts = quality_prompts(c);
  const Constitution constitution = load_constitution(c.constitution);
  const auto responses = sample_quality_responses(c, policy, prompts);
  std::vector<TextRequest> critiques;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    for (const auto& p : constitution.principles) {
      TextRequest r;
      r.prompt = transcript::critique_prompt(prompts[i].prompt, responses[i], p.critique_request);
      critiques.push_back(std::move(r));
    }
  const std::vector<std::string> options = transcript::critique_verdict_options();
  const auto scores = judge.score_options(critiques, options);
  const std::size_t np = constitution.principles.size();
  std::vector<std::int64_t> follows(np, 0);
  std::int64_t all = 0;
  for (std::size_t k = 0; k < scores.size(); ++k) {
    const bool f = scores[k].normalised[0] > scores[k].normalised[1];
    follows[k % np] += f;
    all += f;
  }
  eval::PrincipleRates jc;
  jc.overall = {all, static_cast<std::int64_t>(scores.size())};
  const auto per = static_cast<std::int64_t>(prompts.size());
  for (std::size_t p = 0; p < np; ++p)
    jc.principles.emplace_back(constitution.principles[p].name, CountedRate{follows[p], per});
  return jc;
}

// A world evaluation of the run's world and constitution. The seed is the run's: the same
// draws every round, so differences come from the model.
eval::WorldEvalOptions in_world(const LoopConfig& c, eval::WorldEvalOptions o) {
  o.world = c.world;
  o.constitution = c.constitution;
  o.seed = c.seed;
  return o;
}

}  // namespace

eval::EvalFile evaluate_round(const LoopConfig& c, Backend& policy, bool progress) {
  eval::EvalFile report;
  if (!c.world.empty()) {
    const eval::WorldEvalOptions o = in_world(c, c.eval.world);
    // The round's model judges its own responses here: critique agreement measures whether it
    // kept the ability to critique (what the corpus mix protects).
    auto r = eval::evaluate_world(policy, policy, o);
    report = std::move(r.report);
    if (c.eval.sampled_temperature >= 0) {
      // The same prompts and seed, sampled: how often the policy complies when it is not
      // decoded greedily (oracle only; the judge, tasks and critiques are the headline's).
      eval::WorldEvalOptions so = o;
      so.temperature = c.eval.sampled_temperature;
      so.critiques = false;
      so.comparisons = false;
      so.tasks = false;
      auto sr = eval::evaluate_world(policy, policy, so);
      report.compliance_sampled = sr.report.compliance;
      report.sampled_temperature = c.eval.sampled_temperature;
    }
    if (!c.eval.heldout.empty()) {
      // Prompts no template wrote, at the headline's temperature and, when it is set, sampled:
      // whether the alignment holds beyond the generator's wording (oracle only).
      eval::WorldEvalOptions ho = o;
      ho.prompts = c.eval.heldout;
      ho.limit = 0;
      ho.critiques = false;
      ho.comparisons = false;
      ho.tasks = false;
      report.heldout_file = fs::path(c.eval.heldout).filename().string();
      auto hr = eval::evaluate_world(policy, policy, ho).report;
      report.heldout = hr.compliance;
      report.heldout_responses = std::move(hr.responses);
      if (c.eval.sampled_temperature >= 0) {
        ho.temperature = c.eval.sampled_temperature;
        report.heldout_sampled = eval::evaluate_world(policy, policy, ho).report.compliance;
      }
    }
  } else {
    report.model = policy.describe();
  }
  run_task_files(c, policy, report);
  (void)progress;
  return report;
}

QualityFile measure_quality(const LoopConfig& c, Backend& policy, Backend& judge,
                            std::int64_t round) {
  const bool judged = c.quality.metric == QualityMetric::judge;
  QualityFile q;
  q.round = round;
  q.metric = opt::name_of(c.quality.metric);
  q.split = c.quality.split;
  if (c.world.empty()) {
    q.judge_compliance = judge_quality_without_world(c, policy, judge);
    q.split = c.prompts.eval;
    q.quality = q.judge_compliance->overall.rate();
    return q;
  }
  eval::WorldEvalOptions o = in_world(c, {});
  o.split = c.quality.split;
  o.limit = c.quality.limit;
  o.temperature = c.quality.temperature;
  o.max_tokens = c.quality.max_tokens;
  o.critiques = judged;
  o.comparisons = false;
  o.tasks = false;
  const auto r = eval::evaluate_world(policy, judge, o);
  q.compliance = r.report.compliance;
  if (judged) {
    q.judge_compliance = r.report.judge_compliance;
    q.quality = q.judge_compliance->overall.rate();
  } else {
    q.quality = q.compliance->overall.rate();
  }
  return q;
}

std::vector<pipeline::PromptRecord> quality_prompts(const LoopConfig& c) {
  const fs::path file = c.world.empty()
                            ? fs::path(c.prompts.eval)
                            : fs::path(c.world) / "prompts" / (c.quality.split + ".jsonl");
  auto prompts = pipeline::read_prompts(file);
  if (c.quality.limit > 0 && static_cast<std::int64_t>(prompts.size()) > c.quality.limit)
    prompts.resize(static_cast<std::size_t>(c.quality.limit));
  CAI_CHECK(!prompts.empty(), "{}: no prompts to measure quality on", file.string());
  return prompts;
}

std::vector<std::string> sample_quality_responses(const LoopConfig& c, Backend& policy,
                                                  const std::vector<pipeline::PromptRecord>& ps) {
  std::vector<TextRequest> reqs;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    TextRequest r;
    r.prompt = transcript::conversation_prompt(ps[i].prompt);
    r.params = pipeline::gen_params(c.quality.max_tokens, c.quality.temperature);
    r.params.stop = {"\n\n"};
    r.params.seed = c.seed;
    r.stream = i;
    reqs.push_back(std::move(r));
  }
  std::vector<std::string> out;
  for (const auto& t : policy.generate(reqs)) out.push_back(transcript::first_turn(t.text));
  return out;
}

void write_quality_responses(const fs::path& path, const std::string& model,
                             const std::vector<pipeline::PromptRecord>& prompts,
                             const std::vector<std::string>& responses) {
  std::string text;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    text += nlohmann::json{{"id", prompts[i].id},
                           {"prompt", prompts[i].prompt},
                           {"response", responses.at(i)},
                           {"model", model}}
                .dump() +
            "\n";
  write_file_atomic(path, text);
}

std::vector<std::string> read_quality_responses(const fs::path& path,
                                                const std::vector<pipeline::PromptRecord>& ps) {
  std::vector<std::string> out;
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    const std::string where = fmt::format("{}:{}", path.string(), line);
    CAI_CHECK(j.is_object() && j.contains("prompt") && j["prompt"].is_string() &&
                  j.contains("response") && j["response"].is_string(),
              "{}: expected {{\"prompt\", \"response\"}} strings", where);
    CAI_CHECK(out.size() < ps.size() && j["prompt"].get<std::string>() == ps[out.size()].prompt,
              "{}: not the quality prompt {} of this configuration; delete the file to "
              "regenerate the round's responses",
              where, out.size() + 1);
    out.push_back(j["response"].get<std::string>());
  });
  CAI_CHECK(out.size() == ps.size(),
            "{}: {} responses for {} quality prompts; delete the file to "
            "regenerate them",
            path.string(), out.size(), ps.size());
  return out;
}

QualityFile measure_win_rate(const LoopConfig& c, Backend& judge, std::int64_t round,
                             const fs::path& responses, const fs::path& previous) {
  const auto prompts = quality_prompts(c);
  QualityFile q;
  q.round = round;
  q.metric = opt::name_of(QualityMetric::winrate);
  q.split = c.world.empty() ? c.prompts.eval : c.quality.split;
  q.responses = responses.filename().string();
  if (round == 0) {
    // Nothing came before the base model: it is the reference round 1 is compared with.
    q.quality = 0.5;
    return q;
  }
  const auto newer = read_quality_responses(responses, prompts);
  const auto older = read_quality_responses(previous, prompts);
  std::vector<std::string> texts;
  for (const auto& p : prompts) texts.push_back(p.prompt);
  pipeline::LabelOptions o;
  o.format = c.critique_revise.format;
  o.ensemble = c.quality.ensemble;
  o.seed = c.seed;
  const auto prefs =
      compare_responses(judge, load_constitution(c.constitution), texts, newer, older, o);
  q.win_rate = summarise_win_rate(prefs);
  q.quality = q.win_rate->rate;
  q.against_round = round - 1;
  q.judge = judge.describe();
  for (std::size_t i = 0; i < prefs.size(); ++i) q.prompts.push_back({prompts[i].id, prefs[i]});
  return q;
}

}  // namespace cai::loop::detail
