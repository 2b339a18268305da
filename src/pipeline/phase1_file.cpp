// Phase 1's output file (see include/cai/pipeline/phase1_file.h).
#include "cai/pipeline/phase1_file.h"

#include <fmt/format.h>

#include "cai/io/error.h"
#include "cai/io/json.h"
#include "cai/io/jsonl.h"

namespace cai::pipeline {

nlohmann::json to_json(const CritiqueReviseRecord& r, const std::string& model,
                       const std::string& constitution_hash, const CritiqueReviseOptions& opts) {
  auto user = nlohmann::json{{"role", "user"}, {"content", r.prompt}};
  auto msg = [](const std::string& text) {
    return nlohmann::json{{"role", "assistant"}, {"content", text}};
  };
  nlohmann::json rounds = nlohmann::json::array();
  for (const auto& x : r.rounds) {
    rounds.push_back({{"principle", x.principle},
                      {"critique", x.critique},
                      {"revision", x.revision},
                      {"skipped", x.skipped}});
    if (x.p_violates >= 0) rounds.back()["p_violates"] = x.p_violates;
  }
  nlohmann::json j;
  if (!r.id.empty()) j["id"] = r.id;
  j["prompt"] = r.prompt;
  j["messages"] = {user, msg(r.final_response)};
  j["init_response"] = r.init_response;
  j["rounds"] = std::move(rounds);
  j["prompt_messages"] = {user};
  j["chosen"] = {msg(r.final_response)};
  j["rejected"] = {msg(r.init_response)};
  j["model"] = model;
  j["constitution_hash"] = constitution_hash;
  j["seed"] = opts.seed;
  j["settings"] = opts.settings();
  return j;
}

Phase1Line parse_phase1_line(const nlohmann::json& j, const std::string& where) {
  CAI_CHECK(j.is_object(), "{}: expected a JSON object", where);
  for (const char* k : {"prompt", "init_response"})
    CAI_CHECK(j.contains(k) && j[k].is_string(), "{}: field \"{}\" (a string) is missing", where,
              k);
  const auto& m = j.contains("messages") ? j["messages"] : nlohmann::json();
  CAI_CHECK(m.is_array() && !m.empty() && m.back().is_object() && m.back().contains("content") &&
                m.back()["content"].is_string(),
            "{}: field \"messages\" must end with the final revision message", where);
  Phase1Line l;
  if (j.contains("id") && j["id"].is_string()) l.id = j["id"].get<std::string>();
  l.prompt = j["prompt"].get<std::string>();
  l.init_response = j["init_response"].get<std::string>();
  l.final_response = m.back()["content"].get<std::string>();
  if (j.contains("rounds")) {
    namespace jf = json_field;
    jf::for_each(j["rounds"], where + ": rounds",
                 [&](const nlohmann::json& x, const std::string& at) {
                   RoundRecord r;
                   r.principle = jf::text(x, "principle", at);
                   r.critique = jf::text(x, "critique", at);
                   r.revision = jf::text(x, "revision", at);
                   r.skipped = jf::flag(x, "skipped", at);
                   if (x.contains("p_violates")) r.p_violates = jf::number(x, "p_violates", at);
                   l.rounds.push_back(std::move(r));
                 });
  }
  l.messages = m;
  l.where = where;
  return l;
}

void for_each_phase1_line(const std::filesystem::path& path,
                          const std::function<void(const Phase1Line&)>& fn) {
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    fn(parse_phase1_line(j, fmt::format("{}:{}", path.string(), line)));
  });
}

}  // namespace cai::pipeline
