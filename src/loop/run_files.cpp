// The loop's run files (run_files.h): quality.json, round.json and summary.json, written and
// read here alone.
#include "cai/loop/run_files.h"

#include <fmt/format.h>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/loop/config.h"

namespace cai::loop {
namespace {

using nlohmann::json;
namespace jf = json_field;

const char* outcome_name(int outcome) { return outcome > 0 ? "win" : outcome < 0 ? "loss" : "tie"; }

int outcome_of(const std::string& name, const std::string& where) {
  if (name == "win") return 1;
  if (name == "loss") return -1;
  CAI_CHECK(name == "tie", "{}: field result: win, loss or tie is required, not '{}'", where, name);
  return 0;
}

// A list of round numbers.
std::vector<std::int64_t> indices(const json& j, const char* key, const std::string& where) {
  std::vector<std::int64_t> out;
  jf::for_each(jf::any(j, key, where), where + "." + key,
               [&](const json& x, const std::string& at) {
                 CAI_CHECK(x.is_number_integer() && x.get<std::int64_t>() >= 0,
                           "{}: a round number is required", at);
                 out.push_back(x.get<std::int64_t>());
               });
  return out;
}

}  // namespace

json QualityFile::to_json() const {
  json j = {{"round", round}, {"metric", metric}, {"split", split}, {"quality", quality}};
  if (compliance || judge_compliance) {
    j["detail"] = json::object();
    if (compliance) j["detail"]["compliance"] = compliance->to_json();
    if (judge_compliance) j["detail"]["judge_compliance"] = judge_compliance->to_json();
  }
  if (metric == opt::name_of(QualityMetric::winrate)) {
    j["responses"] = responses;
    j["against_round"] = against_round ? json(*against_round) : json(nullptr);
  }
  if (!judge.empty()) j["judge"] = judge;
  if (win_rate) {
    j["win_rate"] = win_rate->to_json();
    j["prompts"] = json::array();
    for (const auto& p : prompts)
      j["prompts"].push_back({{"id", p.id},
                              {"p", p.preference.p},
                              {"result", outcome_name(p.preference.outcome)},
                              {"equal", p.preference.equal}});
  }
  return j;
}

QualityFile QualityFile::from_json(const json& j, const std::string& where) {
  QualityFile q;
  q.round = jf::count(j, "round", where);
  q.metric = jf::text(j, "metric", where);
  q.split = jf::text_or(j, "split", where);
  q.quality = jf::number(j, "quality", where);
  if (j.contains("detail")) {
    const auto& d = j["detail"];
    const std::string at = where + ": detail";
    jf::object(d, at);
    if (d.contains("compliance"))
      q.compliance = world::OracleSummary::from_json(d["compliance"], at + ".compliance");
    if (d.contains("judge_compliance"))
      q.judge_compliance =
          eval::PrincipleRates::from_json(d["judge_compliance"], at + ".judge_compliance");
  }
  q.responses = jf::text_or(j, "responses", where);
  q.judge = jf::text_or(j, "judge", where);
  if (j.contains("against_round") && !j["against_round"].is_null())
    q.against_round = jf::count(j, "against_round", where);
  if (j.contains("win_rate")) q.win_rate = WinRate::from_json(j["win_rate"], where + ": win_rate");
  if (j.contains("prompts")) {
    jf::for_each(j["prompts"], where + ": prompts", [&](const json& p, const std::string& at) {
      PromptComparison c;
      c.id = jf::text_or(p, "id", at);
      c.preference.p = jf::number(p, "p", at);
      c.preference.outcome = outcome_of(jf::text(p, "result", at), at);
      c.preference.equal = jf::flag(p, "equal", at);
      q.prompts.push_back(std::move(c));
    });
  }
  return q;
}

json RoundFile::to_json() const {
  json s = json::object();
  for (const auto& [stage, t] : seconds) s[stage] = t;
  json j = {
      {"round", round}, {"model", model}, {"quality", quality}, {"seconds", s}, {"done", done}};
  if (!notes.is_null()) j["notes"] = notes;
  return j;
}

RoundFile RoundFile::from_json(const json& j, const std::string& where) {
  RoundFile r;
  r.round = jf::count(j, "round", where);
  r.model = jf::text(j, "model", where);
  r.quality = jf::number(j, "quality", where);
  const auto& s = jf::any(j, "seconds", where);
  jf::object(s, where + ": seconds");
  for (const auto& [stage, t] : s.items())
    r.seconds.emplace_back(stage, jf::number(s, stage.c_str(), where + ": seconds"));
  r.done = jf::flag(j, "done", where);
  if (j.contains("notes")) r.notes = j["notes"];
  return r;
}

eval::EvalFile summary_eval(const eval::EvalFile& e) {
  eval::EvalFile s;
  s.temperature = e.temperature;
  s.compliance = e.compliance;
  s.compliance_sampled = e.compliance_sampled;
  s.sampled_temperature = e.sampled_temperature;
  s.heldout_file = e.heldout_file;
  s.heldout = e.heldout;
  s.heldout_sampled = e.heldout_sampled;
  s.judge_compliance = e.judge_compliance;
  s.critique_agreement = e.critique_agreement;
  s.comparison_agreement = e.comparison_agreement;
  s.results = e.results;
  return s;
}

json SummaryFile::to_json() const {
  json rs = json::array();
  for (const auto& r : rounds) {
    json x = {{"round", r.round}, {"quality", r.quality}, {"model", r.model}};
    if (r.win_rate) x["win_rate"] = r.win_rate->to_json();
    if (r.strength) x["strength"] = *r.strength;
    if (r.oracle) x["oracle"] = *r.oracle;
    rs.push_back(std::move(x));
  }
  json rank = {{"quality", ranking.quality}};
  if (ranking.oracle_best_round) {
    rank["oracle"] = ranking.oracle;
    rank["oracle_best_round"] = *ranking.oracle_best_round;
    rank["agree"] = ranking.agree.value_or(false);
  }
  json t = tax.report ? tax.report->to_json() : json{{"error", tax.error}};
  if (!tax.zero_base.empty()) t["zero_base"] = tax.zero_base;
  json j = {{"name", name},
            {"metric", metric},
            {"rounds", rs},
            {"best_round", best_round},
            {"best_model", best_model},
            {"stopped", stopped},
            {"reason", reason},
            {"ranking", rank},
            {"tax", t},
            {"before", before.to_json()},
            {"after", after.to_json()}};
  if (counted_from != 1) j["counted_from_round"] = counted_from;
  return j;
}

SummaryFile SummaryFile::from_json(const json& j, const std::string& where) {
  SummaryFile s;
  s.name = jf::text_or(j, "name", where);
  s.metric = jf::text_or(j, "metric", where);
  jf::for_each(jf::any(j, "rounds", where), where + ": rounds",
               [&](const json& x, const std::string& at) {
                 SummaryRound r;
                 r.round = jf::count(x, "round", at);
                 r.quality = jf::number(x, "quality", at);
                 r.model = jf::text_or(x, "model", at);
                 if (x.contains("win_rate")) r.win_rate = WinRate::from_json(x["win_rate"], at);
                 if (x.contains("strength")) r.strength = jf::number(x, "strength", at);
                 if (x.contains("oracle")) r.oracle = jf::number(x, "oracle", at);
                 s.rounds.push_back(std::move(r));
               });
  s.best_round = jf::count(j, "best_round", where);
  s.best_model = jf::text_or(j, "best_model", where);
  s.stopped = jf::text_or(j, "stopped", where);
  s.reason = jf::text_or(j, "reason", where);
  if (j.contains("counted_from_round")) s.counted_from = jf::count(j, "counted_from_round", where);
  if (j.contains("ranking")) {
    const auto& r = j["ranking"];
    const std::string at = where + ": ranking";
    s.ranking.quality = indices(r, "quality", at);
    if (r.contains("oracle")) {
      s.ranking.oracle = indices(r, "oracle", at);
      s.ranking.oracle_best_round = jf::count(r, "oracle_best_round", at);
      s.ranking.agree = jf::flag(r, "agree", at);
    }
  }
  if (j.contains("tax") && !j["tax"].is_null()) {
    const auto& t = j["tax"];
    const std::string at = where + ": tax";
    if (t.is_object() && t.contains("rows"))
      s.tax.report = eval::TaxReport::from_json(t, at);
    else
      s.tax.error = jf::text_or(t, "error", at);
    if (t.contains("zero_base")) {
      CAI_CHECK(t["zero_base"].is_array(), "{}: field zero_base: an array is required", at);
      for (const auto& b : t["zero_base"]) {
        CAI_CHECK(b.is_string(), "{}: field zero_base: benchmark names are required", at);
        s.tax.zero_base.push_back(b.get<std::string>());
      }
    }
  }
  if (j.contains("before")) s.before = eval::EvalFile::from_json(j["before"], where + ": before");
  if (j.contains("after")) s.after = eval::EvalFile::from_json(j["after"], where + ": after");
  return s;
}

}  // namespace cai::loop
