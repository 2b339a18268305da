// Phase 2's output file (see include/cai/pipeline/label_file.h).
#include "cai/pipeline/label_file.h"

#include <fmt/format.h>

#include "cai/io/error.h"
#include "cai/io/jsonl.h"

namespace cai::pipeline {

namespace {
// One turn as TRL's conversational format: [{"role", "content"}].
nlohmann::json turn(const char* role, const std::string& text) {
  return nlohmann::json::array({{{"role", role}, {"content", text}}});
}
}  // namespace

nlohmann::json to_json(const PairLabel& l, const std::string& judge, const LabelOptions& opts) {
  // a wins ties: p_a = 0.5 keeps the input order (Phase 1: the revision is b, so a tie says
  // nothing; min_confidence drops such pairs).
  const bool a_wins = l.p_a >= 0.5;
  const auto& chosen = a_wins ? l.pair.a : l.pair.b;
  const auto& rejected = a_wins ? l.pair.b : l.pair.a;
  auto order = [](const OrderJudgement& o) {
    nlohmann::json j = {{"raw_logprobs", o.raw}, {"p_first", o.p_first}};
    if (!o.reasoning.empty()) j["reasoning"] = o.reasoning;
    return j;
  };
  nlohmann::json ps = nlohmann::json::array();
  for (const auto& pj : l.principles) {
    // "chosen_first": the order that showed the chosen response as (A).
    const auto& cf = a_wins ? pj.ab : pj.ba;
    const auto& rf = a_wins ? pj.ba : pj.ab;
    ps.push_back({{"name", pj.principle},
                  {"weight", pj.weight},
                  {"p_chosen", a_wins ? pj.p_a : 1.0 - pj.p_a},
                  {"disagreement", pj.disagreement},
                  {"chosen_first", order(cf)},
                  {"rejected_first", order(rf)}});
  }
  nlohmann::json j;
  if (!l.pair.id.empty()) j["id"] = l.pair.id;
  j["prompt"] = turn("user", l.pair.prompt);
  j["chosen"] = turn("assistant", chosen);
  j["rejected"] = turn("assistant", rejected);
  j["prompt_text"] = l.pair.prompt;
  j["chosen_text"] = chosen;
  j["rejected_text"] = rejected;
  j["p_chosen"] = a_wins ? l.p_a : 1.0 - l.p_a;
  j["principles"] = std::move(ps);
  j["position_disagreement"] = l.disagreement;
  j["position_flip"] = l.order_flip;
  j["judge"] = judge;
  j["seed"] = opts.seed;
  return j;
}

LabelLine parse_label_line(const nlohmann::json& j, const std::string& where) {
  CAI_CHECK(j.is_object(), "{}: expected a JSON object", where);
  auto text = [&](const char* k) {
    CAI_CHECK(j.contains(k) && j[k].is_string(), "{}: field \"{}\" (a string) is missing", where,
              k);
    return j[k].get<std::string>();
  };
  LabelLine l;
  l.prompt = text("prompt_text");
  l.chosen = text("chosen_text");
  l.rejected = text("rejected_text");
  CAI_CHECK(j.contains("p_chosen") && j["p_chosen"].is_number(),
            "{}: field \"p_chosen\" (a number) is missing", where);
  l.p_chosen = j["p_chosen"].get<double>();
  CAI_CHECK(l.p_chosen >= 0.0 && l.p_chosen <= 1.0, "{}: p_chosen {} outside [0, 1]", where,
            l.p_chosen);
  if (j.contains("position_disagreement") && j["position_disagreement"].is_number())
    l.position_disagreement = j["position_disagreement"].get<double>();
  if (j.contains("position_flip") && j["position_flip"].is_boolean())
    l.position_flip = j["position_flip"].get<bool>();
  if (j.contains("principles") && j["principles"].is_array())
    for (const auto& pj : j["principles"])
      if (pj.is_object() && pj.contains("name") && pj["name"].is_string() &&
          pj.contains("p_chosen") && pj["p_chosen"].is_number())
        l.principles.emplace_back(pj["name"].get<std::string>(), pj["p_chosen"].get<double>());
  l.where = where;
  return l;
}

// The lists to_json wrote, from the texts.
nlohmann::json LabelLine::preference() const {
  return {{"prompt", turn("user", prompt)},
          {"chosen", turn("assistant", chosen)},
          {"rejected", turn("assistant", rejected)},
          {"p_chosen", p_chosen}};
}

void for_each_label_line(const std::filesystem::path& path,
                         const std::function<void(const LabelLine&)>& fn) {
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    fn(parse_label_line(j, fmt::format("{}:{}", path.string(), line)));
  });
}

}  // namespace cai::pipeline
