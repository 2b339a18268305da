#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cai/constitution/constitution.h"
#include "cai/constitution/transcript.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/world/corpus.h"
#include "cai/world/grammar.h"
#include "cai/world/principles.h"
#include "cai/world/rng.h"
#include "cai/world/text.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace cai::world;

namespace {

const char* kFiles[] = {"knowledge.jsonl",    "prompts/train.jsonl", "prompts/eval.jsonl",
                        "prompts/test.jsonl", "corpus/pretrain.txt", "tasks/quiz.jsonl",
                        "tasks/facts.jsonl",  "constitution.yaml",   "manifest.json"};

std::vector<WorldPrompt> split(const std::string& name) {
  return load_prompts(testutil::default_world() / "prompts" / (name + ".jsonl"));
}

}  // namespace

TEST(WorldGenerate, SameSeedGivesByteIdenticalFiles) {
  WorldOptions o;
  o.seed = 1;
  const fs::path again = testutil::tmpdir("default-seed-1-again");
  generate_world(o, again);
  for (const char* f : kFiles)
    EXPECT_EQ(cai::read_file(testutil::default_world() / f), cai::read_file(again / f)) << f;
}

TEST(WorldGenerate, DifferentSeedGivesDifferentWorld) {
  WorldOptions o;
  o.seed = 2;
  const fs::path other = testutil::tmpdir("default-seed-2");
  generate_world(o, other);
  for (const char* f :
       {"knowledge.jsonl", "prompts/train.jsonl", "corpus/pretrain.txt", "tasks/quiz.jsonl"})
    EXPECT_NE(cai::read_file(testutil::default_world() / f), cai::read_file(other / f)) << f;
}

TEST(WorldGenerate, OptionsValidate) {
  WorldOptions o;
  o.knowledge.services = 0;
  EXPECT_THROW(o.validate(), cai::Error);
  o = {};
  o.corpus.break_rate[2] = 1.5;
  EXPECT_THROW(o.validate(), cai::Error);
  o = {};
  o.prompts.kind_weights = {1.0};
  EXPECT_THROW(o.validate(), cai::Error);
}

TEST(WorldSplits, NoPromptIsInTwoSplits) {
  std::map<std::string, std::string> owner;
  for (const char* s : {"train", "eval", "test"})
    for (const auto& p : split(s)) {
      auto [it, fresh] = owner.emplace(prompt_key(p.prompt), s);
      EXPECT_TRUE(fresh) << p.prompt << " is in " << it->second << " and " << s;
    }
}

TEST(WorldSplits, HeldOutProductionsAppearOnlyInTestOnlyPrompts) {
  // The same sets as the default world's, in memory (the files do not keep productions).
  const auto kb = load_knowledge(testutil::default_world() / "knowledge.jsonl");
  const PromptSets sets = build_prompt_sets(1, kb, {});
  ASSERT_FALSE(sets.held_out.empty());
  auto held_out_used = [&](const WorldPrompt& p) {
    std::size_t n = 0;
    for (const auto& id : p.productions) n += sets.held_out.count(id);
    return n;
  };
  for (const auto* s : {&sets.train, &sets.eval})
    for (const auto& p : *s) {
      ASSERT_FALSE(p.productions.empty());
      EXPECT_EQ(held_out_used(p), 0u) << p.prompt;
      EXPECT_FALSE(p.test_only_template);
    }
  std::set<PromptKind> kinds_with_test_only;
  std::size_t test_only = 0;
  for (const auto& p : sets.test) {
    EXPECT_EQ(held_out_used(p) > 0, p.test_only_template) << p.prompt;
    if (!p.test_only_template) continue;
    EXPECT_FALSE(p.unseen_combination);
    kinds_with_test_only.insert(p.kind);
    ++test_only;
  }
  EXPECT_EQ(kinds_with_test_only.size(), all_kinds().size());
  EXPECT_GT(test_only, 80u);
  // The files hold the same prompts as the sets built in memory.
  ASSERT_EQ(split("test").size(), sets.test.size());
  for (std::size_t i = 0; i < sets.test.size(); ++i)
    EXPECT_EQ(split("test")[i].prompt, sets.test[i].prompt);
}

TEST(WorldSplits, UnseenCombinationsHaveBothHalvesInTrain) {
  std::set<std::string> tt, te, pairs;
  for (const auto& p : split("train")) {
    tt.insert(p.template_id);
    te.insert(p.entity);
    pairs.insert(p.template_id + "|" + p.entity);
  }
  std::size_t unseen = 0;
  for (const auto& p : split("test")) {
    if (!p.unseen_combination) continue;
    ++unseen;
    EXPECT_TRUE(tt.count(p.template_id) && te.count(p.entity));
    EXPECT_FALSE(pairs.count(p.template_id + "|" + p.entity));
  }
  EXPECT_GT(unseen, 50u);
}

TEST(WorldSplits, SplitsHaveEveryKindAndAFewHundredPrompts) {
  for (const char* s : {"train", "eval", "test"}) {
    const auto ps = split(s);
    EXPECT_GE(ps.size(), std::string(s) == "eval" ? 100u : 200u) << s;
    std::set<PromptKind> kinds;
    for (const auto& p : ps) kinds.insert(p.kind);
    EXPECT_EQ(kinds.size(), all_kinds().size()) << s;
  }
}

TEST(WorldPatientGrammar, HundredsOfDistinctWordingsPerIntent) {
  // Noise off: the count is of wordings the grammar itself makes, for one entity.
  const auto kb = load_knowledge(testutil::default_world() / "knowledge.jsonl");
  const PromptSampler sampler(kb, held_out_productions(1, PromptOptions{}), 0.0);
  Rng rng(4);
  for (const Intent& intent : intents()) {
    const std::string entity = slot_entities(intent.slot, kb).front();
    std::set<std::string> forms, frames;
    for (int i = 0; i < 2000; ++i) {
      const WorldPrompt p = sampler.realise(intent, entity, rng);
      forms.insert(p.prompt);
      frames.insert(p.template_id);
    }
    EXPECT_GE(forms.size(), 300u) << intent.name;
    EXPECT_GE(frames.size(), 8u) << intent.name;
  }
}

TEST(WorldPatientGrammar, EveryProductionIsUsedAndHeldOutOnesOnlyOnRequest) {
  // Every intent with every entity it ranges over; held-out wordings asked for one time in
  // four. Every production of the grammar shows up, and a held-out one only when asked.
  const auto kb = load_knowledge(testutil::default_world() / "knowledge.jsonl");
  const auto held_out = held_out_productions(1, PromptOptions{});
  const PromptSampler sampler(kb, held_out, 0.3);
  Rng rng(5);
  std::set<std::string> used;
  for (const Intent& intent : intents()) {
    const auto entities = slot_entities(intent.slot, kb);
    const int draws = std::max<int>(120, 3000 / static_cast<int>(entities.size()));
    for (const auto& entity : entities)
      for (int i = 0; i < draws; ++i) {
        const bool ask = i % 4 == 0;
        const WorldPrompt p = sampler.realise(intent, entity, rng, ask);
        bool any = false;
        for (const auto& id : p.productions) {
          used.insert(id);
          any = any || held_out.count(id);
        }
        ASSERT_EQ(any, ask) << p.prompt;
        ASSERT_EQ(p.prompt.find("\n"), std::string::npos);
        ASSERT_EQ(p.prompt.find('{'), std::string::npos) << p.prompt;
      }
  }
  for (const auto& [name, alts] : patient_grammar().symbols())
    for (std::size_t i = 0; i < alts.size(); ++i) {
      EXPECT_TRUE(used.count(Grammar::production_id(name, i))) << name << "#" << i;
    }
}

TEST(WorldPatientGrammar, FramesAndWordsOfEveryIntentAreHeldOut) {
  const auto held_out = held_out_productions(1, PromptOptions{});
  for (const Intent& intent : intents()) {
    if (intent.kind == PromptKind::benign_symptom) continue;  // frames are hours' and preparation's
    std::size_t frames = 0;
    for (const auto& id : held_out) frames += id.starts_with(intent.name + ".root#");
    EXPECT_GE(frames, 1u) << intent.name;
  }
  for (const char* lexical : {"opener#", "closer#", "lead_q#", "offered#", "get#", "mild_np#"}) {
    std::size_t n = 0;
    for (const auto& id : held_out) n += id.starts_with(lexical);
    EXPECT_GE(n, 1u) << lexical;
  }
  EXPECT_NE(held_out, held_out_productions(2, PromptOptions{}));
}

TEST(WorldPatientGrammar, OpeningWordsAreSharedAcrossKinds) {
  // The first two words of a prompt must not give its kind away: most of each kind's openings
  // are also openings of another kind.
  std::map<PromptKind, std::map<std::string, int>> openings;
  for (const char* s : {"train", "eval", "test"})
    for (const auto& p : split(s)) {
      const std::string k = prompt_key(p.prompt);
      const std::size_t second = k.find(' ', k.find(' ') + 1);
      ++openings[p.kind][k.substr(0, second)];
    }
  for (const auto& [kind, counts] : openings) {
    int total = 0, shared = 0;
    for (const auto& [w, n] : counts) {
      total += n;
      for (const auto& [other, oc] : openings)
        if (other != kind && oc.count(w)) {
          shared += n;
          break;
        }
    }
    EXPECT_GT(shared, total / 3) << kind_name(kind);
  }
}

TEST(WorldKnowledge, NamesDoNotOverlap) {
  // The oracle finds entities, values and sources in text: none may hide inside another.
  const auto kb = load_knowledge(testutil::default_world() / "knowledge.jsonl");
  std::vector<std::string> names = kb.entities();
  for (auto a : {Attribute::hours, Attribute::preparation, Attribute::location, Attribute::policy})
    for (auto& v : kb.values(a)) names.push_back(v);
  for (auto& s : kb.sources()) names.push_back(s);
  for (const auto& a : names)
    for (const auto& b : names)
      if (a != b) {
        EXPECT_FALSE(contains_phrase(a, b)) << "'" << b << "' inside '" << a << "'";
      }
  EXPECT_GE(kb.facts.size(), 40u);
  for (const auto& f : kb.facts) {
    EXPECT_FALSE(f.source.empty());
  }
}

TEST(WorldTasks, QuizOptionsAreValuesOfTheSameAttribute) {
  const auto kb = load_knowledge(testutil::default_world() / "knowledge.jsonl");
  std::size_t n = 0, reverse = 0;
  std::map<std::size_t, std::size_t> answer_pos;
  cai::for_each_jsonl(
      testutil::default_world() / "tasks" / "quiz.jsonl",
      [&](const nlohmann::json& j, std::size_t) {
        const auto choices = j["choices"].get<std::vector<std::string>>();
        ASSERT_EQ(choices.size(), 4u);
        EXPECT_EQ(std::set<std::string>(choices.begin(), choices.end()).size(), 4u);
        const Attribute attr = parse_attribute(j["attribute"].get<std::string>());
        const std::size_t a = j["answer"].get<std::size_t>();
        ++answer_pos[a];
        const Fact* f = kb.find(j["entity"].get<std::string>(), attr);
        ASSERT_NE(f, nullptr);
        if (j["direction"] == "reverse") {
          // The value is asked about; the options are entities of the type, and only the answer
          // has that value.
          ++reverse;
          EXPECT_EQ(choices[a], entity_phrase(*f));
          EXPECT_TRUE(contains_phrase(j["question"].get<std::string>(), f->value));
          for (const Fact& g : kb.facts)
            if (g.attribute == attr && g.entity != f->entity &&
                std::find(choices.begin(), choices.end(), entity_phrase(g)) != choices.end()) {
              EXPECT_NE(g.value, f->value) << g.entity;
            }
          return;
        }
        ++n;
        const auto values = kb.values(attr);
        for (const auto& c : choices) {
          EXPECT_NE(std::find(values.begin(), values.end(), c), values.end()) << c;
        }
        EXPECT_EQ(choices[a], f->value);
        for (const auto& c : choices) {
          EXPECT_FALSE(contains_phrase(j["question"].get<std::string>(), c));
        }
      });
  EXPECT_EQ(n, 2 * kb.facts.size());
  EXPECT_GT(reverse, kb.facts.size() / 2);
  EXPECT_EQ(answer_pos.size(), 4u);  // the right option is not always in the same place
}

TEST(WorldTasks, FactTaskAnswersAreKnowledgeValues) {
  const auto kb = load_knowledge(testutil::default_world() / "knowledge.jsonl");
  std::size_t n = 0;
  cai::for_each_jsonl(testutil::default_world() / "tasks" / "facts.jsonl",
                      [&](const nlohmann::json& j, std::size_t) {
                        ++n;
                        const Fact* f = kb.find(j["entity"].get<std::string>(),
                                                parse_attribute(j["attribute"].get<std::string>()));
                        ASSERT_NE(f, nullptr);
                        EXPECT_EQ(j["answer"], f->value);
                        EXPECT_TRUE(j["prompt"].get<std::string>().ends_with("\n\nAssistant:"));
                        EXPECT_TRUE(j["aliases"].is_array());
                      });
  EXPECT_EQ(n, 2 * kb.facts.size());
}

TEST(WorldGenerate, ConstitutionFileHasTheFivePrinciples) {
  const cai::Constitution c =
      cai::load_constitution(testutil::default_world() / "constitution.yaml");
  ASSERT_EQ(c.principles.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(c.principles[i].name, principle_name(kAllPrinciples[i]));
    EXPECT_NE(c.principles[i].critique_request.find(cai::transcript::kViolatesVerdict),
              std::string::npos);
    EXPECT_FALSE(c.principles[i].comparison_question.empty());
  }
  EXPECT_EQ(c.hash(), telehealth_constitution().hash());
}

TEST(WorldGenerate, CorpusFileSplitsIntoTheManifestCounts) {
  const std::string text = cai::read_file(testutil::default_world() / "corpus" / "pretrain.txt");
  const auto m = nlohmann::json::parse(cai::read_file(testutil::default_world() / "manifest.json"));
  std::size_t docs = 0;
  const std::string delim = std::string("\n") + kCorpusDelimiter + "\n";
  for (std::size_t pos = text.find(delim); pos != std::string::npos;
       pos = text.find(delim, pos + 1))
    ++docs;
  const auto& c = m["corpus"];
  EXPECT_EQ(docs, c["conversations"].get<std::size_t>() + c["critiques"].get<std::size_t>() +
                      c["revisions"].get<std::size_t>() + c["comparisons"].get<std::size_t>() +
                      c["documents"].get<std::size_t>());
  const CorpusOptions defaults;
  EXPECT_EQ(c["conversations"], defaults.conversations);
  EXPECT_EQ(c["critiques"].get<int>() + c["revisions"].get<int>(), defaults.critiques);
  EXPECT_EQ(c["comparisons"], defaults.comparisons);
  EXPECT_EQ(m["seed"], 1);
  EXPECT_EQ(m["generator"], kGeneratorVersion);
}
