// probe.json's writer and reader (probe_file.h): every key of the file is spelt here.
#include "cai/eval/probe_file.h"

#include <fmt/format.h>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"

namespace cai::eval {
namespace {

using nlohmann::json;
namespace jf = json_field;

json to_json(const ComplianceRates& r) {
  return {{"overall", cai::to_json(r.overall)}, {"target", cai::to_json(r.target)}};
}

ComplianceRates compliance_rates(const json& j, const std::string& where) {
  return {counted_rate(jf::any(j, "overall", where), where + ".overall"),
          counted_rate(jf::any(j, "target", where), where + ".target")};
}

json to_json(const KlRecord& r) {
  const KlByPosition& k = r.kl;
  json pos = json::array();
  for (std::size_t j = 0; j < k.mean.size(); ++j)
    pos.push_back({{"position", j}, {"mean", k.mean[j]}, {"count", k.count[j]}});
  json out = {
      {"responses", k.responses},
      {"tokens", k.tokens},
      {"first_k", {{"k", k.first_k}, {"mean", k.first_k_mean}, {"tokens", k.first_k_tokens}}},
      {"overall", {{"mean", k.overall_mean}, {"tokens", k.tokens}}},
      {"by_position", pos},
      {"source", r.source},
      {"max_positions", r.max_positions}};
  if (!r.responses_file.empty()) out["responses_file"] = r.responses_file;
  return out;
}

KlRecord kl_record(const json& j, const std::string& where) {
  KlRecord r;
  KlByPosition& k = r.kl;
  k.responses = jf::count(j, "responses", where);
  k.tokens = jf::count(j, "tokens", where);
  const auto& fk = jf::any(j, "first_k", where);
  k.first_k = jf::count(fk, "k", where + ".first_k");
  k.first_k_mean = jf::number(fk, "mean", where + ".first_k");
  k.first_k_tokens = jf::count(fk, "tokens", where + ".first_k");
  k.overall_mean = jf::number(jf::any(j, "overall", where), "mean", where + ".overall");
  jf::for_each(jf::any(j, "by_position", where), where + ".by_position",
               [&](const json& p, const std::string& at) {
                 CAI_CHECK(jf::count(p, "position", at) == static_cast<std::int64_t>(k.mean.size()),
                           "{}: positions must run 0, 1, 2, ...", at);
                 k.mean.push_back(jf::number(p, "mean", at));
                 k.count.push_back(jf::count(p, "count", at));
               });
  r.source = jf::text(j, "source", where);
  r.responses_file = jf::text_or(j, "responses_file", where);
  r.max_positions = jf::count(j, "max_positions", where);
  return r;
}

}  // namespace

json ProbeFile::to_json() const {
  json j = {{"base", base},
            {"aligned", aligned},
            {"world", world},
            {"split", split},
            {"prompts", prompts},
            {"seed", seed},
            {"sampling",
             {{"temperature", temperature},
              {"top_p", top_p},
              {"max_tokens", max_tokens},
              {"seed", sampling_seed}}}};
  if (kl) j["kl"] = eval::to_json(*kl);
  if (prefill) {
    json rows = json::array();
    for (const auto& r : *prefill) {
      json row = {
          {"k", r.k}, {"whole_prefix", r.whole_prefix}, {"aligned", eval::to_json(r.aligned)}};
      if (r.base) row["base"] = eval::to_json(*r.base);
      if (r.base_recovered) row["base_recovered"] = eval::to_json(*r.base_recovered);
      if (r.aligned_recovered) {
        row["aligned_recovered"] = eval::to_json(*r.aligned_recovered);
        row["aligned_retractions"] = r.aligned_retractions;
      }
      rows.push_back(std::move(row));
    }
    j["prefill"] = {{"rows", rows}};
  }
  if (finetune) {
    json rows = json::array();
    for (const auto& r : finetune->rows)
      rows.push_back({{"n", r.n},
                      {"steps", r.steps},
                      {"loss", r.loss ? json(*r.loss) : json(nullptr)},
                      {"overall", cai::to_json(r.rates.overall)},
                      {"target", cai::to_json(r.rates.target)}});
    j["finetune"] = {{"epochs", finetune->epochs},
                     {"max_steps", finetune->max_steps},
                     {"lr", finetune->lr},
                     {"rows", rows}};
  }
  return j;
}

ProbeFile ProbeFile::from_json(const json& j, const std::string& where) {
  ProbeFile p;
  p.base = jf::text(j, "base", where);
  p.aligned = jf::text(j, "aligned", where);
  p.world = jf::text_or(j, "world", where);
  p.split = jf::text_or(j, "split", where);
  p.prompts = jf::count(j, "prompts", where);
  p.seed = jf::whole(j, "seed", where);
  if (j.contains("sampling")) {
    const auto& s = j["sampling"];
    const std::string at = where + ": sampling";
    p.temperature = jf::number(s, "temperature", at);
    p.top_p = jf::number(s, "top_p", at);
    p.max_tokens = jf::count(s, "max_tokens", at);
    p.sampling_seed = jf::whole(s, "seed", at);
  }
  if (j.contains("kl")) p.kl = kl_record(j["kl"], where + ": kl");
  if (j.contains("prefill")) {
    const std::string at = where + ": prefill";
    p.prefill.emplace();
    jf::for_each(jf::any(j["prefill"], "rows", at), at + ".rows",
                 [&](const json& row, const std::string& ra) {
                   PrefillRow r;
                   r.k = jf::count(row, "k", ra);
                   r.whole_prefix = jf::count(row, "whole_prefix", ra);
                   if (row.contains("base")) r.base = compliance_rates(row["base"], ra + ".base");
                   r.aligned = compliance_rates(jf::any(row, "aligned", ra), ra + ".aligned");
                   if (row.contains("base_recovered"))
                     r.base_recovered =
                         compliance_rates(row["base_recovered"], ra + ".base_recovered");
                   if (row.contains("aligned_recovered")) {
                     r.aligned_recovered =
                         compliance_rates(row["aligned_recovered"], ra + ".aligned_recovered");
                     r.aligned_retractions = jf::count(row, "aligned_retractions", ra);
                   }
                   p.prefill->push_back(std::move(r));
                 });
  }
  if (j.contains("finetune")) {
    const auto& f = j["finetune"];
    const std::string at = where + ": finetune";
    FinetuneRecord ft;
    ft.epochs = jf::count(f, "epochs", at);
    ft.max_steps = jf::integer(f, "max_steps", at);  // -1: no limit
    ft.lr = jf::number(f, "lr", at);
    jf::for_each(jf::any(f, "rows", at), at + ".rows", [&](const json& row, const std::string& ra) {
      FinetuneRow r;
      r.n = jf::count(row, "n", ra);
      r.steps = jf::count(row, "steps", ra);
      if (!jf::any(row, "loss", ra).is_null()) r.loss = jf::number(row, "loss", ra);
      r.rates = compliance_rates(row, ra);
      ft.rows.push_back(std::move(r));
    });
    p.finetune = std::move(ft);
  }
  return p;
}

std::string ProbeFile::responses_drawn() const {
  return temperature == 0
             ? std::string("greedy")
             : fmt::format("sampled at temperature {:g} (top-p {:g})", temperature, top_p);
}

}  // namespace cai::eval
