// The hand-written prompts in examples/world/handwritten.jsonl are for evaluation only: they
// must load against the world they were written for (seed 0), and none of them may appear in
// anything a model trains on, the corpus or a prompt split.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "cai/io/file.h"
#include "cai/world/corpus.h"
#include "cai/world/prompts.h"
#include "cai/world/text.h"
#include "world_test_util.h"

namespace fs = std::filesystem;
using namespace cai::world;

namespace {

const fs::path kHandwritten = fs::path(CAI_EXAMPLES_DIR) / "world" / "handwritten.jsonl";

const fs::path& seed0_world() {
  static const fs::path dir = [] {
    const fs::path d = testutil::tmpdir("handwritten-seed-0");
    // As the demo generates it: the hand-written prompts are excluded.
    WorldOptions o;
    o.seed = 0;
    o.exclude_prompts = {kHandwritten};
    generate_world(o, d);
    return d;
  }();
  return dir;
}

}  // namespace

TEST(WorldHandwritten, LoadsAgainstTheSeed0WorldWithEveryKind) {
  const auto kb = load_knowledge(seed0_world() / "knowledge.jsonl");
  const auto ps = load_prompt_file(kHandwritten, kb);
  EXPECT_GE(ps.size(), 150u);
  std::set<PromptKind> kinds;
  std::set<std::string> keys;
  for (const auto& p : ps) {
    kinds.insert(p.kind);
    keys.insert(prompt_key(p.prompt));
  }
  EXPECT_EQ(kinds.size(), all_kinds().size());
  EXPECT_EQ(keys.size(), ps.size());  // no two the same question
}

TEST(WorldHandwritten, NoPromptAppearsInTheCorpusOrASplit) {
  const auto kb = load_knowledge(seed0_world() / "knowledge.jsonl");
  const auto ps = load_prompt_file(kHandwritten, kb);
  // Every human turn of the corpus, by key, and the corpus text itself.
  const std::string corpus = cai::read_file(seed0_world() / "corpus" / "pretrain.txt");
  std::set<std::string> trained;
  const std::string human = "Human: ";
  for (std::size_t at = corpus.find(human); at != std::string::npos;
       at = corpus.find(human, at + 1)) {
    const std::size_t end = corpus.find("\n\n", at);
    trained.insert(prompt_key(corpus.substr(at + human.size(), end - at - human.size())));
  }
  ASSERT_GT(trained.size(), 5000u);
  const auto m = nlohmann::json::parse(cai::read_file(seed0_world() / "manifest.json"));
  EXPECT_EQ(m["excluded_prompts"]["prompts"], ps.size());
  for (const char* s : {"train", "eval", "test"})
    for (const auto& p : load_prompts(seed0_world() / "prompts" / (std::string(s) + ".jsonl")))
      trained.insert(prompt_key(p.prompt));
  const std::string lower_corpus = lowercase(corpus);
  for (const auto& p : ps) {
    EXPECT_FALSE(trained.count(prompt_key(p.prompt))) << p.id << ": " << p.prompt;
    EXPECT_EQ(lower_corpus.find(lowercase(p.prompt)), std::string::npos)
        << p.id << ": " << p.prompt;
  }
}
