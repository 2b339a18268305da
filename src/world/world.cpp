#include "cai/world/world.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/world/grammar.h"
#include "cai/world/principles.h"

namespace cai::world {

namespace fs = std::filesystem;

void WorldOptions::validate() const {
  knowledge.validate();
  prompts.validate();
  corpus.validate();
  tasks.validate();
}

namespace {

std::string jsonl(const std::vector<nlohmann::json>& rows) {
  std::string out;
  for (const auto& r : rows) out += r.dump() + "\n";
  return out;
}

nlohmann::json split_counts(const std::vector<WorldPrompt>& ps) {
  nlohmann::json j = {{"total", ps.size()}};
  std::size_t test_only = 0, unseen = 0;
  for (PromptKind k : all_kinds()) j["by_kind"][std::string(kind_name(k))] = 0;
  for (const auto& p : ps) {
    j["by_kind"][std::string(kind_name(p.kind))] =
        j["by_kind"][std::string(kind_name(p.kind))].get<int>() + 1;
    test_only += p.test_only_template;
    unseen += p.unseen_combination;
  }
  j["test_only_template"] = test_only;
  j["unseen_combination"] = unseen;
  return j;
}

nlohmann::json options_json(const WorldOptions& o) {
  const auto& c = o.corpus;
  nlohmann::json rates;
  for (PrincipleId id : kAllPrinciples)
    rates[std::string(principle_name(id))] = c.break_rate[static_cast<std::size_t>(id)];
  return {{"knowledge", {{"services", o.knowledge.services}, {"items", o.knowledge.items}}},
          {"prompts",
           {{"train", o.prompts.train},
            {"eval", o.prompts.eval},
            {"test", o.prompts.test},
            {"held_out_fraction", o.prompts.held_out_fraction},
            {"test_only_share", o.prompts.test_only_share},
            {"noise", o.prompts.noise},
            {"kind_weights", o.prompts.kind_weights}}},
          {"corpus",
           {{"conversations", c.conversations},
            {"critiques", c.critiques},
            {"revision_fraction", c.revision_fraction},
            {"comparisons", c.comparisons},
            {"document_repeats", c.document_repeats},
            {"break_rate", rates},
            {"privacy_leak_rate", c.privacy_leak_rate},
            {"misplaced_empathy", c.misplaced_empathy},
            {"emergency_acknowledgement", c.emergency_acknowledgement},
            {"critique_applicable", c.critique_applicable},
            {"critique_violation_rate", c.critique_violation_rate},
            {"critique_pairs", c.critique_pairs},
            {"comparison_free_pairs", c.comparison_free_pairs},
            {"comparison_overdone", c.comparison_overdone},
            {"critique_principle_weights", c.critique_principle_weights},
            {"comparison_principle_weights", c.comparison_principle_weights},
            {"kind_weights", c.kind_weights}}},
          {"tasks",
           {{"phrasings", o.tasks.phrasings},
            {"choices", o.tasks.choices},
            {"reverse_phrasings", o.tasks.reverse_phrasings}}}};
}

nlohmann::json stats_json(const CorpusStats& s) {
  nlohmann::json j = {{"conversations", s.conversations},
                      {"critiques", s.critiques},
                      {"revisions", s.revisions},
                      {"comparisons", s.comparisons},
                      {"documents", s.documents},
                      {"answer_a", s.answer_a},
                      {"answer_b", s.answer_b},
                      {"bytes", s.bytes},
                      {"format", "documents each followed by a line \"<|endoftext|>\""}};
  for (PrincipleId id : kAllPrinciples) {
    const std::size_t i = static_cast<std::size_t>(id);
    const std::string n(principle_name(id));
    j["conversation_break_rate"][n] =
        s.applicable[i] ? static_cast<double>(s.broken[i]) / static_cast<double>(s.applicable[i])
                        : 0.0;
    j["conversation_applicable"][n] = s.applicable[i];
    j["critique_verdicts"][n] = {{"follows", s.critique_follows[i]},
                                 {"violates", s.critique_violates[i]}};
  }
  return j;
}

}  // namespace

nlohmann::json generate_world(const WorldOptions& opt, const fs::path& dir) {
  opt.validate();
  fs::create_directories(dir / "prompts");
  fs::create_directories(dir / "corpus");
  fs::create_directories(dir / "tasks");

  const KnowledgeBase kb = build_knowledge(opt.seed, opt.knowledge);
  save_knowledge(kb, dir / "knowledge.jsonl");

  std::vector<std::string> excluded;
  for (const auto& f : opt.exclude_prompts)
    for (auto& p : read_prompt_texts(f)) excluded.push_back(std::move(p));
  const PromptSets sets = build_prompt_sets(opt.seed, kb, opt.prompts, excluded);
  save_prompts(sets.train, dir / "prompts" / "train.jsonl");
  save_prompts(sets.eval, dir / "prompts" / "eval.jsonl");
  save_prompts(sets.test, dir / "prompts" / "test.jsonl");

  const Constitution constitution = telehealth_constitution();
  save_constitution(constitution, dir / "constitution.yaml");

  // The corpus words its prompts afresh, without held-out productions and never as an eval or
  // test prompt.
  PromptSampler corpus_prompts(kb, sets.held_out, opt.prompts.noise);
  for (const auto* split : {&sets.eval, &sets.test})
    for (const auto& p : *split) corpus_prompts.reserve(p.prompt);
  for (const auto& p : excluded) corpus_prompts.exclude(p);
  const auto docs = build_corpus(opt.seed, kb, corpus_prompts, constitution, opt.corpus);
  write_file_atomic(dir / "corpus" / "pretrain.txt", render_corpus(docs));

  const auto quiz = build_quiz(opt.seed, kb, opt.tasks);
  const auto facts = build_fact_task(opt.seed, kb, opt.tasks);
  write_file_atomic(dir / "tasks" / "quiz.jsonl", jsonl(quiz));
  write_file_atomic(dir / "tasks" / "facts.jsonl", jsonl(facts));

  std::size_t productions = 0;
  for (const auto& [name, alts] : patient_grammar().symbols()) productions += alts.size();
  std::map<std::string, int> intents_per_kind;
  for (const auto& i : intents()) ++intents_per_kind[std::string(kind_name(i.kind))];
  nlohmann::json m = {
      {"generator", kGeneratorVersion},
      {"seed", opt.seed},
      {"options", options_json(opt)},
      {"knowledge",
       {{"facts", kb.facts.size()}, {"entities", kb.entities().size()}, {"sources", kb.sources()}}},
      {"prompts",
       {{"train", split_counts(sets.train)},
        {"eval", split_counts(sets.eval)},
        {"test", split_counts(sets.test)},
        {"intents_per_kind", intents_per_kind},
        {"grammar",
         {{"symbols", patient_grammar().symbols().size()},
          {"productions", productions},
          {"held_out", sets.held_out}}}}},
      {"corpus", stats_json(corpus_stats(docs))},
      {"tasks", {{"quiz", quiz.size()}, {"facts", facts.size()}}},
      {"excluded_prompts", {{"files", nlohmann::json::array()}, {"prompts", excluded.size()}}},
      {"constitution", {{"name", constitution.name}, {"hash", constitution.hash()}}},
      {"files",
       {"knowledge.jsonl", "prompts/train.jsonl", "prompts/eval.jsonl", "prompts/test.jsonl",
        "corpus/pretrain.txt", "tasks/quiz.jsonl", "tasks/facts.jsonl", "constitution.yaml",
        "manifest.json"}}};
  for (const auto& f : opt.exclude_prompts)
    m["excluded_prompts"]["files"].push_back(f.filename().string());
  write_json(dir / "manifest.json", m);
  return m;
}

World load_world(const fs::path& dir) {
  World w;
  CAI_CHECK(fs::exists(dir / "knowledge.jsonl"), "{}: not a world directory (no knowledge.jsonl)",
            dir.string());
  w.knowledge = load_knowledge(dir / "knowledge.jsonl");
  for (const char* split : {"train", "eval", "test"}) {
    const fs::path p = dir / "prompts" / (std::string(split) + ".jsonl");
    CAI_CHECK(fs::exists(p), "{}: missing", p.string());
    for (auto& x : load_prompts(p)) w.prompts.push_back(std::move(x));
  }
  return w;
}

}  // namespace cai::world
