#include "cai/world/knowledge.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/world/rng.h"
#include "cai/world/text.h"
#include "lexicon.h"

namespace cai::world {

std::string_view attribute_name(Attribute a) {
  switch (a) {
    case Attribute::hours:
      return "hours";
    case Attribute::preparation:
      return "preparation";
    case Attribute::location:
      return "location";
    case Attribute::policy:
      return "policy";
  }
  return "hours";
}

Attribute parse_attribute(std::string_view s) {
  for (Attribute a :
       {Attribute::hours, Attribute::preparation, Attribute::location, Attribute::policy})
    if (attribute_name(a) == s) return a;
  throw_error("unknown attribute '{}' (expected hours, preparation, location or policy)", s);
}

std::string entity_phrase(const Fact& f) {
  return f.entity_type == "service" ? "the " + f.entity : f.entity;
}

std::string fact_clause(const Fact& f) {
  const std::string e = entity_phrase(f);
  switch (f.attribute) {
    case Attribute::hours:
      return e + " is offered on " + f.value;
    case Attribute::preparation:
      return "before " + e + ", " + f.value;
    case Attribute::location:
      return e + " can be picked up at " + f.value;
    case Attribute::policy:
      return "for " + e + ", " + f.value;
  }
  return e;
}

void KnowledgeOptions::validate() const {
  const int ns = static_cast<int>(lexicon::services().size());
  const int ni = static_cast<int>(lexicon::items().size());
  CAI_CHECK(services >= 1 && services <= ns, "world: services must be in [1, {}], got {}", ns,
            services);
  CAI_CHECK(items >= 1 && items <= ni, "world: items must be in [1, {}], got {}", ni, items);
}

const Fact* KnowledgeBase::find(std::string_view entity, Attribute a) const {
  for (const Fact& f : facts)
    if (f.entity == entity && f.attribute == a) return &f;
  return nullptr;
}

namespace {
void push_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}
}  // namespace

std::vector<std::string> KnowledgeBase::values(Attribute a) const {
  std::vector<std::string> out;
  for (const Fact& f : facts)
    if (f.attribute == a) push_unique(out, f.value);
  return out;
}

std::vector<std::string> KnowledgeBase::entities(std::string_view type) const {
  std::vector<std::string> out;
  for (const Fact& f : facts)
    if (type.empty() || f.entity_type == type) push_unique(out, f.entity);
  return out;
}

std::vector<std::string> KnowledgeBase::sources() const {
  std::vector<std::string> out;
  for (const Fact& f : facts) push_unique(out, f.source);
  return out;
}

KnowledgeBase build_knowledge(std::uint64_t seed, const KnowledgeOptions& opt) {
  opt.validate();
  Rng rng(seed, "knowledge");
  KnowledgeBase kb;
  auto add = [&](std::string entity, std::string type, Attribute a, std::string value,
                 std::string source) {
    Fact f{std::move(entity), std::move(type), a, std::move(value), std::move(source), ""};
    f.sentence = capitalize(fact_clause(f)) + ".";
    kb.facts.push_back(std::move(f));
  };

  std::vector<std::string> services = lexicon::services();
  rng.shuffle(services);
  services.resize(opt.services);
  // Every service gets its own (day, time) pair while pairs last, so hours tell services apart.
  std::vector<std::string> hours;
  for (const auto& d : lexicon::hour_days())
    for (const auto& t : lexicon::hour_times()) hours.push_back(d + " from " + t);
  rng.shuffle(hours);
  for (std::size_t i = 0; i < services.size(); ++i)
    add(services[i], "service", Attribute::hours, hours[i % hours.size()], lexicon::kHoursSource);
  for (const auto& s : services)
    add(s, "service", Attribute::preparation, rng.pick(lexicon::preparations()),
        lexicon::kPrepSource);

  std::vector<std::string> items = lexicon::items();
  rng.shuffle(items);
  items.resize(opt.items);
  for (const auto& it : items)
    add(it, "item", Attribute::location, rng.pick(lexicon::locations()), lexicon::kStockSource);

  for (std::size_t i = 0; i < lexicon::policy_topics().size(); ++i)
    add(lexicon::policy_topics()[i], "policy", Attribute::policy, lexicon::policy_rules()[i],
        lexicon::kPrivacySource);
  return kb;
}

nlohmann::json fact_to_json(const Fact& f) {
  return {{"entity", f.entity},
          {"entity_type", f.entity_type},
          {"attribute", attribute_name(f.attribute)},
          {"value", f.value},
          {"source", f.source},
          {"sentence", f.sentence}};
}

Fact fact_from_json(const nlohmann::json& j, const std::string& where) {
  Fact f;
  try {
    f.entity = j.at("entity").get<std::string>();
    f.entity_type = j.at("entity_type").get<std::string>();
    f.attribute = parse_attribute(j.at("attribute").get<std::string>());
    f.value = j.at("value").get<std::string>();
    f.source = j.at("source").get<std::string>();
    f.sentence = j.value("sentence", "");
  } catch (const nlohmann::json::exception& e) {
    throw_error("{}: bad fact record: {}", where, e.what());
  } catch (const Error& e) {
    throw_error("{}: {}", where, e.what());
  }
  return f;
}

void save_knowledge(const KnowledgeBase& kb, const std::filesystem::path& path) {
  std::string out;
  for (const Fact& f : kb.facts) out += fact_to_json(f).dump() + "\n";
  write_file_atomic(path, out);
}

KnowledgeBase load_knowledge(const std::filesystem::path& path) {
  KnowledgeBase kb;
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    kb.facts.push_back(fact_from_json(j, path.string() + ":" + std::to_string(line)));
  });
  CAI_CHECK(!kb.facts.empty(), "{}: no facts", path.string());
  return kb;
}

std::string render_source_document(const KnowledgeBase& kb, const std::string& source, Rng& rng) {
  std::vector<const Fact*> facts;
  for (const Fact& f : kb.facts)
    if (f.source == source) facts.push_back(&f);
  rng.shuffle(facts);
  std::string doc = std::string(lexicon::kClinic) + " " + source + "\n\n";
  // Two phrasings: plain, and with the document named, as answers are expected to cite it.
  for (const Fact* f : facts) {
    if (rng.chance(0.5))
      doc += f->sentence + "\n";
    else
      doc += "The " + source + " says " + fact_clause(*f) + ".\n";
  }
  return doc;
}

}  // namespace cai::world
