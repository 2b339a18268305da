// eval.json's writer and reader (eval_file.h): every key of the file is spelt here.
#include "cai/eval/eval_file.h"

#include <fmt/format.h>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"

namespace cai::eval {
namespace {

using nlohmann::json;

json rates_json(const NamedRates& rates) {
  json j = json::object();
  for (const auto& [name, r] : rates) j[name] = to_json(r);
  return j;
}

// An object's members, each read by `read(value, "<where>.<key>")`.
template <typename T, typename Read>
std::vector<std::pair<std::string, T>> members(const json& j, const std::string& where, Read read) {
  json_field::object(j, where);
  std::vector<std::pair<std::string, T>> out;
  for (const auto& [k, v] : j.items()) out.emplace_back(k, read(v, where + "." + k));
  return out;
}

NamedRates rates_from(const json& j, const std::string& where) {
  return members<CountedRate>(j, where, counted_rate);
}

json to_json(const ComparisonAgreement& a) {
  return {{"both_orders", cai::to_json(a.both_orders)},
          {"single_order", cai::to_json(a.single_order)},
          {"principles", rates_json(a.principles)}};
}

ComparisonAgreement read_comparison_agreement(const json& j, const std::string& where) {
  ComparisonAgreement a;
  a.both_orders = counted_rate(json_field::any(j, "both_orders", where), where + ".both_orders");
  a.single_order = counted_rate(json_field::any(j, "single_order", where), where + ".single_order");
  if (j.contains("principles")) a.principles = rates_from(j["principles"], where + ".principles");
  return a;
}

json to_json(const CalibrationRecord& c) {
  json j = c.calibration.to_json();
  j["principles"] = json::object();
  for (const auto& [name, a] : c.principles) j["principles"][name] = a.to_json();
  return j;
}

CalibrationRecord calibration_record(const json& j, const std::string& where) {
  CalibrationRecord c;
  c.calibration = Calibration::from_json(j, where);
  if (j.contains("principles"))
    c.principles = members<Agreement>(j["principles"], where + ".principles", Agreement::from_json);
  return c;
}

json to_json(const EvalSample& s) {
  return {{"id", s.id},
          {"kind", s.kind},
          {"prompt", s.prompt},
          {"response", s.response},
          {"verdict", s.verdict.to_json()}};
}

EvalSample eval_sample(const json& j, const std::string& where) {
  return {
      json_field::text_or(j, "id", where), json_field::text_or(j, "kind", where),
      json_field::text_or(j, "prompt", where), json_field::text_or(j, "response", where),
      world::OracleVerdict::from_json(json_field::any(j, "verdict", where), where + ".verdict")};
}

}  // namespace

json PrincipleRates::to_json() const {
  return {{"overall", cai::to_json(overall)}, {"principles", rates_json(principles)}};
}

PrincipleRates PrincipleRates::from_json(const json& j, const std::string& where) {
  PrincipleRates r;
  r.overall = counted_rate(json_field::any(j, "overall", where), where + ".overall");
  if (j.contains("principles")) r.principles = rates_from(j["principles"], where + ".principles");
  return r;
}

PrincipleRates principle_rates(const world::OracleSummary& s) {
  PrincipleRates r;
  r.overall = s.overall;
  for (world::PrincipleId id : world::kAllPrinciples)
    r.principles.emplace_back(std::string(world::principle_name(id)),
                              s.principles[static_cast<std::size_t>(id)]);
  return r;
}

const TaskResult* EvalFile::result(const std::string& name) const {
  for (const auto& r : results)
    if (r.name == name) return &r;
  return nullptr;
}

json EvalFile::to_json() const {
  json j = json::object();
  if (!model.empty()) j["model"] = model;
  if (!judge.empty()) j["judge"] = judge;
  if (!split.empty()) j["split"] = split;
  if (seed) j["seed"] = *seed;
  if (temperature) j["temperature"] = *temperature;
  if (compliance) j["compliance"] = compliance->to_json();
  if (compliance_sampled) {
    j["compliance_sampled"] = compliance_sampled->to_json();
    j["compliance_sampled"]["temperature"] = sampled_temperature;
  }
  if (heldout) {
    j["heldout"] = {{"file", heldout_file}, {"compliance", heldout->to_json()}};
    if (heldout_sampled) j["heldout"]["compliance_sampled"] = heldout_sampled->to_json();
    if (!heldout_responses.empty()) {
      j["heldout"]["responses"] = json::array();
      for (const auto& s : heldout_responses) j["heldout"]["responses"].push_back(eval::to_json(s));
    }
  }
  if (critique_calibration)
    j["judge_calibration"]["critiques"] = eval::to_json(*critique_calibration);
  if (comparison_calibration)
    j["judge_calibration"]["comparisons"] = eval::to_json(*comparison_calibration);
  if (critique_agreement) j["critique_agreement"] = critique_agreement->to_json();
  if (judge_compliance) j["judge_compliance"] = judge_compliance->to_json();
  if (critique_false_alarms) j["critique_false_alarms"] = critique_false_alarms->to_json();
  if (comparison_agreement) j["comparison_agreement"] = eval::to_json(*comparison_agreement);
  if (!injections.is_null()) j["injections"] = injections;
  j["results"] = json::object();
  for (const auto& r : results) j["results"][r.name] = r.to_json();
  if (!fact_samples.is_null()) j["fact_samples"] = fact_samples;
  if (!responses.empty()) {
    j["responses"] = json::array();
    for (const auto& s : responses) j["responses"].push_back(eval::to_json(s));
  }
  return j;
}

EvalFile EvalFile::from_json(const json& j, const std::string& where) {
  json_field::object(j, where);
  EvalFile e;
  e.model = json_field::text_or(j, "model", where);
  e.judge = json_field::text_or(j, "judge", where);
  e.split = json_field::text_or(j, "split", where);
  if (j.contains("seed")) e.seed = json_field::whole(j, "seed", where);
  if (j.contains("temperature")) e.temperature = json_field::number(j, "temperature", where);
  auto at = [&](const char* key) { return where + ": " + key; };
  if (j.contains("compliance"))
    e.compliance = world::OracleSummary::from_json(j["compliance"], at("compliance"));
  if (j.contains("compliance_sampled")) {
    const auto& s = j["compliance_sampled"];
    e.compliance_sampled = world::OracleSummary::from_json(s, at("compliance_sampled"));
    if (s.contains("temperature") && s["temperature"].is_number())
      e.sampled_temperature = s["temperature"].get<double>();
  }
  if (j.contains("heldout")) {
    const auto& h = j["heldout"];
    json_field::object(h, at("heldout"));
    e.heldout_file = json_field::text_or(h, "file", at("heldout"));
    e.heldout = world::OracleSummary::from_json(json_field::any(h, "compliance", at("heldout")),
                                                at("heldout.compliance"));
    if (h.contains("compliance_sampled"))
      e.heldout_sampled = world::OracleSummary::from_json(h["compliance_sampled"],
                                                          at("heldout.compliance_sampled"));
    if (h.contains("responses"))
      json_field::for_each(h["responses"], at("heldout.responses"),
                           [&](const json& s, const std::string& a) {
                             e.heldout_responses.push_back(eval_sample(s, a));
                           });
  }
  if (j.contains("judge_calibration")) {
    const auto& c = j["judge_calibration"];
    json_field::object(c, at("judge_calibration"));
    if (c.contains("critiques"))
      e.critique_calibration =
          calibration_record(c["critiques"], at("judge_calibration.critiques"));
    if (c.contains("comparisons"))
      e.comparison_calibration =
          calibration_record(c["comparisons"], at("judge_calibration.comparisons"));
  }
  if (j.contains("critique_agreement"))
    e.critique_agreement =
        PrincipleRates::from_json(j["critique_agreement"], at("critique_agreement"));
  if (j.contains("judge_compliance"))
    e.judge_compliance = PrincipleRates::from_json(j["judge_compliance"], at("judge_compliance"));
  if (j.contains("critique_false_alarms"))
    e.critique_false_alarms =
        PrincipleRates::from_json(j["critique_false_alarms"], at("critique_false_alarms"));
  if (j.contains("comparison_agreement"))
    e.comparison_agreement =
        read_comparison_agreement(j["comparison_agreement"], at("comparison_agreement"));
  if (j.contains("injections")) {
    json_field::object(j["injections"], at("injections"));
    e.injections = j["injections"];
  }
  if (j.contains("results")) {
    json_field::object(j["results"], at("results"));
    for (const auto& [name, r] : j["results"].items())
      e.results.push_back(TaskResult::from_json(name, r, at("results.") + name));
  }
  if (j.contains("fact_samples")) e.fact_samples = j["fact_samples"];
  if (j.contains("responses")) {
    json_field::for_each(j["responses"], at("responses"), [&](const json& s, const std::string& a) {
      e.responses.push_back(eval_sample(s, a));
    });
  }
  return e;
}

}  // namespace cai::eval
