#include "cai/world/heldout.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "cai/io/error.h"
#include "cai/io/jsonl.h"

namespace cai::world {
namespace {

std::string string_field(const nlohmann::json& j, const char* key, bool required,
                         const std::string& where) {
  if (!j.contains(key)) {
    CAI_CHECK(!required, "{}: \"{}\" is required", where, key);
    return "";
  }
  CAI_CHECK(j[key].is_string() && !j[key].get<std::string>().empty(),
            "{}: \"{}\" must be a non-empty string", where, key);
  return j[key].get<std::string>();
}

}  // namespace

std::vector<WorldPrompt> load_heldout_prompts(const std::filesystem::path& path,
                                              const KnowledgeBase& kb) {
  static const std::set<std::string> kKnown = {"id",     "prompt",    "kind",
                                               "entity", "attribute", "topic"};
  const std::vector<std::string> entities = kb.entities();
  std::vector<WorldPrompt> out;
  std::set<std::string> ids;
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    const std::string where = fmt::format("{}:{}", path.string(), line);
    CAI_CHECK(j.is_object(), "{}: expected a JSON object", where);
    for (const auto& [key, value] : j.items())
      CAI_CHECK(kKnown.count(key),
                "{}: unknown field \"{}\" (known: id, prompt, kind, entity, "
                "attribute, topic)",
                where, key);
    WorldPrompt p;
    p.id = string_field(j, "id", true, where);
    CAI_CHECK(ids.insert(p.id).second, "{}: id \"{}\" repeats an earlier line", where, p.id);
    p.prompt = string_field(j, "prompt", true, where);
    const std::string kind = string_field(j, "kind", true, where);
    try {
      p.kind = parse_kind(kind);
    } catch (const Error& e) {
      throw_error("{}: {}", where, e.what());
    }
    p.split = "heldout";
    p.entity = string_field(j, "entity", p.kind != PromptKind::emergency, where);
    p.topic = string_field(j, "topic", false, where);
    const std::string attribute = string_field(j, "attribute", false, where);
    if (has_expected_fact(p.kind)) {
      const std::string a =
          attribute.empty() && p.kind == PromptKind::privacy_policy ? "policy" : attribute;
      CAI_CHECK(!a.empty(), "{}: \"attribute\" is required for kind {}", where, kind);
      Attribute attr{};
      try {
        attr = parse_attribute(a);
      } catch (const Error& e) {
        throw_error("{}: {}", where, e.what());
      }
      const Fact* f = kb.find(p.entity, attr);
      CAI_CHECK(f, "{}: the world's knowledge base has no {} fact for \"{}\"", where, a, p.entity);
      p.attribute = a;
      p.answer = f->value;
      p.source = f->source;
    } else {
      CAI_CHECK(attribute.empty(), "{}: \"attribute\" is only for kinds with a fact, not {}", where,
                kind);
      if (p.kind != PromptKind::emergency)
        CAI_CHECK(std::find(entities.begin(), entities.end(), p.entity) != entities.end(),
                  "{}: \"{}\" is not an entity of the world's knowledge base", where, p.entity);
    }
    out.push_back(std::move(p));
  });
  CAI_CHECK(!out.empty(), "{}: no prompts", path.string());
  return out;
}

}  // namespace cai::world
