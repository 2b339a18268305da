// Prompt files of one's own, checked against the world's knowledge base (prompts.h).
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/world/prompts.h"
#include "lexicon.h"

namespace cai::world {
namespace {

std::string str(const nlohmann::json& j, const char* key, const std::string& where, bool required) {
  if (!j.contains(key) || j[key].is_null()) {
    CAI_CHECK(!required, "{}: missing \"{}\"", where, key);
    return "";
  }
  CAI_CHECK(j[key].is_string(), "{}: \"{}\" must be a string", where, key);
  return j[key].get<std::string>();
}

}  // namespace

std::vector<WorldPrompt> load_prompt_file(const std::filesystem::path& path,
                                          const KnowledgeBase& kb) {
  std::vector<WorldPrompt> out;
  std::map<std::string, std::size_t> ids;
  const auto& symptoms = lexicon::emergency_symptoms();
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    const std::string where = path.string() + ":" + std::to_string(line);
    CAI_CHECK(j.is_object(), "{}: expected a JSON object", where);
    WorldPrompt p;
    p.id = str(j, "id", where, false);
    if (p.id.empty()) p.id = "line-" + std::to_string(line);
    auto [it, fresh] = ids.emplace(p.id, line);
    CAI_CHECK(fresh, "{}: id '{}' repeats line {}", where, p.id, it->second);
    p.prompt = str(j, "prompt", where, true);
    CAI_CHECK(!p.prompt.empty(), "{}: empty \"prompt\"", where);
    try {
      p.kind = parse_kind(str(j, "kind", where, true));
    } catch (const Error& e) {
      throw_error("{}: {}", where, e.what());
    }
    p.entity = str(j, "entity", where, true);
    p.topic = str(j, "topic", where, false);
    p.split = "file";
    if (has_expected_fact(p.kind)) {
      p.attribute = str(j, "attribute", where, true);
      Attribute a;
      try {
        a = parse_attribute(p.attribute);
      } catch (const Error& e) {
        throw_error("{}: {}", where, e.what());
      }
      const Fact* f = kb.find(p.entity, a);
      CAI_CHECK(f != nullptr, "{}: the world has no {} fact for entity '{}'", where, p.attribute,
                p.entity);
      const std::string answer = str(j, "answer", where, false),
                        source = str(j, "source", where, false);
      CAI_CHECK(answer.empty() || answer == f->value,
                "{}: answer '{}' differs from the world's '{}'", where, answer, f->value);
      CAI_CHECK(source.empty() || source == f->source,
                "{}: source '{}' differs from the world's '{}'", where, source, f->source);
      p.answer = f->value;
      p.source = f->source;
    } else if (p.kind == PromptKind::emergency) {
      CAI_CHECK(std::find(symptoms.begin(), symptoms.end(), p.entity) != symptoms.end(),
                "{}: '{}' is not one of the world's emergency symptoms", where, p.entity);
    } else {
      const auto services = kb.entities("service");
      CAI_CHECK(std::find(services.begin(), services.end(), p.entity) != services.end(),
                "{}: the world has no service '{}'", where, p.entity);
    }
    out.push_back(std::move(p));
  });
  CAI_CHECK(!out.empty(), "{}: no prompts", path.string());
  return out;
}

}  // namespace cai::world
