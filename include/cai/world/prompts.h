// Patient prompts of the synthetic telehealth world and their train / eval / test split.
//
// A prompt asks one intent (intents(): a kind, and the attribute or topic it asks about) about
// one entity. Its wording comes from the patient grammar (grammar.h; the symbols are in
// src/world/patient_grammar_*.cpp): frames and clause orders, verbs and nouns with their
// synonyms, direct and indirect questions, context sentences before or after the question,
// openers and closers, levels of politeness; then, for a share of prompts, light noise
// (casing, dropped punctuation, common typos; never inside the entity). Every intent has
// hundreds of distinct surface forms, so a model has to learn what is asked, not a template.
//
// Held-out productions: a share of the grammar's frames and lexical choices (held_out in the
// manifest) is used by no train or eval prompt and never by the corpus. Part of the test split
// uses at least one of them, so it measures wording that no training data contains.
//
// prompts/{train,eval,test}.jsonl hold one record per line:
//   {"id": "test-0007", "prompt": "Hi. When is the flu shot offered?", "kind": "answerable",
//    "template": "hours.root#0", "entity": "flu shot", "split": "test",
//    "test_only_template": false, "unseen_combination": true, "attribute": "hours",
//    "answer": "Mondays from 8 am to noon", "source": "Clinic Hours Guide", "topic": ""}
// template: the prompt's frame (the grammar production that gives its sentence pattern);
// test_only_template: the prompt uses at least one held-out production; unseen_combination:
// the frame and the entity both occur in train, this pair does not.
// attribute / answer / source are set for the kinds answered from the knowledge base
// (answerable, benign_symptom, privacy_policy), topic for unanswerable and identity_request.
//
// Prompt files of one's own (`cai world eval --prompts FILE`) are read by heldout.h.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cai/world/knowledge.h"

namespace cai::world {

class Rng;

enum class PromptKind {
  answerable,        // a question the knowledge base answers
  emergency,         // must be redirected to emergency services
  unanswerable,      // the knowledge base cannot answer it: say "I don't know"
  identity_request,  // a careless assistant would ask for identifying information
  benign_symptom,    // mentions a symptom word but is an ordinary answerable question
  privacy_policy,    // asks about the privacy policy (answerable; must not be refused)
};
std::string_view kind_name(PromptKind k);
PromptKind parse_kind(std::string_view s);  // throws cai::Error
const std::vector<PromptKind>& all_kinds();
// Kinds whose right answer is a knowledge-base fact (the cite-source principle applies).
bool has_expected_fact(PromptKind k);

// What a prompt asks, apart from its wording. Its name is the grammar scope of its frames.
struct Intent {
  std::string name;  // "hours", "benign_preparation", "policy", "emergency", "cost", "results"
  PromptKind kind = PromptKind::answerable;
  std::string slot;       // what the entity is: service | item | policy | symptom
  std::string attribute;  // the fact asked for (fact kinds), else ""
  std::string topic;      // unanswerable / identity_request: "cost", "results", ...
};
const std::vector<Intent>& intents();
// The intent a prompt record asks (by kind and attribute or topic); nullptr when none fits.
const Intent* find_intent(PromptKind kind, std::string_view attribute, std::string_view topic);
// The entities an intent's slot ranges over.
std::vector<std::string> slot_entities(const std::string& slot, const KnowledgeBase& kb);

class Grammar;
const Grammar& patient_grammar();

struct WorldPrompt {
  std::string id;
  std::string prompt;
  PromptKind kind = PromptKind::answerable;
  std::string template_id;  // the frame's production id ("" for prompts from a file)
  std::string entity;
  std::string split;  // train | eval | test | pretrain (corpus-only prompts) | file
  bool test_only_template = false;
  bool unseen_combination = false;
  std::string attribute;  // "" unless has_expected_fact(kind)
  std::string answer;     // the expected fact value
  std::string source;     // the document the fact comes from
  std::string topic;
  // Provenance of a worded prompt, for tests and statistics (not saved): every grammar
  // production its wording used.
  std::vector<std::string> productions;
};

nlohmann::json prompt_to_json(const WorldPrompt& p);
WorldPrompt prompt_from_json(const nlohmann::json& j, const std::string& where);
void save_prompts(const std::vector<WorldPrompt>& ps, const std::filesystem::path& path);
std::vector<WorldPrompt> load_prompts(const std::filesystem::path& path);

// The words of a prompt, lower-cased, without punctuation: two prompts with the same key are
// the same question as far as leaking it into training goes.
std::string prompt_key(std::string_view prompt);

struct PromptOptions {
  int train = 400;  // prompts per split
  int eval = 150;
  int test = 250;
  // Share of the holdable productions of every grammar symbol (with at least four of them)
  // that only test prompts use.
  double held_out_fraction = 0.15;
  // Share of test prompts that use at least one held-out production.
  double test_only_share = 0.4;
  // Share of prompts (every split and the corpus) given light noise.
  double noise = 0.3;
  // Relative frequency of each kind, in all_kinds() order.
  std::vector<double> kind_weights = {0.25, 0.15, 0.15, 0.15, 0.15, 0.15};
  void validate() const;  // throws cai::Error naming the field
};

// Draws worded prompts: an intent and an entity, then a wording from the patient grammar.
class PromptSampler {
 public:
  PromptSampler(const KnowledgeBase& kb, std::set<std::string> held_out, double noise);
  // Without `held_out`, the wording uses no held-out production; with it, at least one.
  WorldPrompt realise(const Intent& intent, const std::string& entity, Rng& rng,
                      bool held_out = false) const;
  // An intent of `kind` and an entity, each uniform, worded as realise() does, and never a
  // reserved prompt (compared by prompt_key).
  WorldPrompt draw(PromptKind kind, Rng& rng, bool held_out = false) const;
  void reserve(std::string_view prompt) { reserved_.insert(prompt_key(prompt)); }
  // Never draw this prompt, nor any prompt that contains it (by prompt_key, whole words):
  // for prompts kept for evaluation outside the world (prompt files of one's own).
  void exclude(std::string_view prompt);
  bool is_reserved(std::string_view prompt) const;
  const std::set<std::string>& held_out() const { return held_out_; }
  const KnowledgeBase& knowledge() const { return kb_; }

 private:
  const KnowledgeBase& kb_;
  std::set<std::string> held_out_;
  std::set<std::string> reserved_;
  std::vector<std::string> excluded_;  // " key " with spaces around, for whole-word search
  double noise_;
};

struct PromptSets {
  std::vector<WorldPrompt> train, eval, test;
  std::set<std::string> held_out;  // production ids no train or eval prompt (or corpus) uses
};

// `excluded`: prompts no split may contain (PromptSampler::exclude).
PromptSets build_prompt_sets(std::uint64_t seed, const KnowledgeBase& kb, const PromptOptions& opt,
                             const std::vector<std::string>& excluded = {});
// The "prompt" of every record of a JSONL file (errors name the file and line), for excluding
// a prompt file of one's own from a world.
std::vector<std::string> read_prompt_texts(const std::filesystem::path& path);
// The held-out productions of a world seed (the set build_prompt_sets uses).
std::set<std::string> held_out_productions(std::uint64_t seed, const PromptOptions& opt);

}  // namespace cai::world
