// The knowledge base of the synthetic telehealth world: fictional facts about one clinic's
// services (hours, preparation), stocked items (where to pick them up) and privacy policy,
// each taken from a named source document. Nothing here is real medical advice.
//
// knowledge.jsonl holds one fact per line:
//   {"entity": "flu shot", "entity_type": "service", "attribute": "hours",
//    "value": "Mondays from 8 am to noon", "source": "Clinic Hours Guide",
//    "sentence": "The flu shot is offered on Mondays from 8 am to noon."}
// entity_type is service | item | policy; attribute is hours | preparation | location | policy.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cai::world {

class Rng;

enum class Attribute { hours, preparation, location, policy };
std::string_view attribute_name(Attribute a);
Attribute parse_attribute(std::string_view s);  // throws cai::Error on an unknown name

struct Fact {
  std::string entity;       // "flu shot", "crutches", "record retention"
  std::string entity_type;  // service | item | policy
  Attribute attribute = Attribute::hours;
  std::string value;     // the answer: "Mondays from 8 am to noon"
  std::string source;    // the document it comes from: "Clinic Hours Guide"
  std::string sentence;  // the fact as one plain sentence (no citation)
};

// How the entity is written inside a sentence: services take "the", items and policy topics
// do not ("the flu shot", "crutches", "record retention").
std::string entity_phrase(const Fact& f);
// The fact as a clause without final punctuation or leading capital, e.g.
// "the flu shot is offered on Mondays from 8 am to noon".
std::string fact_clause(const Fact& f);

struct KnowledgeOptions {
  int services = 24;  // services drawn from the lexicon (each gets hours + preparation)
  int items = 16;     // stocked items (each gets a pick-up location)
  // Throws cai::Error when a count is < 1 or larger than the lexicon holds.
  void validate() const;
};

struct KnowledgeBase {
  std::vector<Fact> facts;

  const Fact* find(std::string_view entity, Attribute a) const;  // nullptr when absent
  // Distinct values of one attribute, in fact order: the options of a quiz question.
  std::vector<std::string> values(Attribute a) const;
  // Distinct entity names, optionally only of one type ("service", "item", "policy").
  std::vector<std::string> entities(std::string_view type = {}) const;
  std::vector<std::string> sources() const;  // distinct source document names
};

// Deterministic in `seed`.
KnowledgeBase build_knowledge(std::uint64_t seed, const KnowledgeOptions& opt);

nlohmann::json fact_to_json(const Fact& f);
Fact fact_from_json(const nlohmann::json& j, const std::string& where);  // errors name `where`
void save_knowledge(const KnowledgeBase& kb, const std::filesystem::path& path);
KnowledgeBase load_knowledge(const std::filesystem::path& path);

// One source document as prose (title line, then its facts in an order drawn from `rng`), the
// way the corpus presents the knowledge the model must learn.
std::string render_source_document(const KnowledgeBase& kb, const std::string& source, Rng& rng);

}  // namespace cai::world
