// The hand-written held-out set (examples/world/handwritten.jsonl) and its reader: the set
// loads against the demo's world, covers every kind, and none of its prompts is a text the
// generator writes; a bad file names its line.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/world/heldout.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace cai::world;

namespace heldout_test {

const fs::path kSet = fs::path(CAI_TEST_SOURCE_DIR) / "../../examples/world/handwritten.jsonl";

// Lower case, every run of non-alphanumerics one space: casing and punctuation cannot hide
// a generated text.
std::string fold(const std::string& s) {
  std::string out;
  bool space = true;
  for (unsigned char c : s) {
    if (std::isalnum(c)) {
      out += static_cast<char>(std::tolower(c));
      space = false;
    } else if (!space) {
      out += ' ';
      space = true;
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string expect_error(const std::string& text, const KnowledgeBase& kb) {
  const fs::path f = testutil::tmpdir("heldout-bad") / "bad.jsonl";
  cai::write_file_atomic(f, text);
  try {
    load_heldout_prompts(f, kb);
  } catch (const cai::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for: " << text;
  return "";
}

}  // namespace heldout_test

using heldout_test::fold;
using heldout_test::kSet;

TEST(WorldHeldout, ShippedSetLoadsAndCoversEveryKind) {
  const World w = load_world(testutil::default_world());
  const auto ps = load_heldout_prompts(kSet, w.knowledge);
  EXPECT_GE(ps.size(), 150u);
  std::map<PromptKind, int> kinds;
  for (const auto& p : ps) {
    ++kinds[p.kind];
    EXPECT_EQ(p.split, "heldout");
    if (has_expected_fact(p.kind)) {
      const Fact* f = w.knowledge.find(p.entity, parse_attribute(p.attribute));
      ASSERT_NE(f, nullptr) << p.id;
      EXPECT_EQ(p.answer, f->value) << p.id;
      EXPECT_EQ(p.source, f->source) << p.id;
    }
  }
  for (PromptKind k : all_kinds()) EXPECT_GE(kinds[k], 20) << kind_name(k);
}

TEST(WorldHeldout, NoPromptIsAGeneratedText) {
  // The demo's world (seed 0) and the tests' (seed 1), generated without excluding them:
  // neither corpus nor any split holds a hand-written prompt, even with casing and punctuation
  // set aside.
  WorldOptions o;
  o.seed = 0;
  const fs::path seed0 = testutil::tmpdir("heldout-seed-0");
  generate_world(o, seed0);
  for (const fs::path& dir : {seed0, testutil::default_world()}) {
    const World w = load_world(dir);
    const auto held = load_heldout_prompts(kSet, w.knowledge);
    const std::string corpus = " " + fold(cai::read_file(dir / "corpus" / "pretrain.txt")) + " ";
    std::set<std::string> generated;
    for (const auto& p : w.prompts) generated.insert(fold(p.prompt));
    for (const auto& p : held) {
      const std::string f = fold(p.prompt);
      EXPECT_EQ(generated.count(f), 0u) << p.id << " is a prompt of " << dir;
      EXPECT_EQ(corpus.find(" " + f + " "), std::string::npos)
          << p.id << " is in the corpus of " << dir;
    }
  }
  // The demo's world is generated without them (world generate --exclude-prompts), and its
  // manifest says how many prompts it kept out.
  WorldOptions excluded;
  excluded.seed = 0;
  excluded.exclude_prompts = {kSet};
  const fs::path seed0x = testutil::tmpdir("heldout-seed-0-excluded");
  const auto m = generate_world(excluded, seed0x);
  EXPECT_EQ(m["excluded_prompts"]["prompts"],
            load_heldout_prompts(kSet, load_world(seed0x).knowledge).size());
}

TEST(WorldHeldout, BadRecordsNameTheirLine) {
  const KnowledgeBase kb = load_world(testutil::default_world()).knowledge;
  const std::string ok = R"({"id": "a", "prompt": "hi", "kind": "emergency"})"
                         "\n";
  auto has = [](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  };
  has(heldout_test::expect_error(ok + R"({"id": "b", "prompt": "x", "kind": "chitchat"})", kb),
      "bad.jsonl:2");
  has(heldout_test::expect_error(ok + R"({"id": "a", "prompt": "x", "kind": "emergency"})", kb),
      "repeats");
  has(heldout_test::expect_error(
          R"({"id": "b", "prompt": "x", "kind": "answerable", "entity": "flu shot"})", kb),
      "\"attribute\" is required");
  has(heldout_test::expect_error(R"({"id": "b", "prompt": "x", "kind": "answerable", )"
                                 R"("entity": "jet pack", "attribute": "hours"})",
                                 kb),
      "no hours fact for \"jet pack\"");
  has(heldout_test::expect_error(R"({"id": "b", "prompt": "x", "kind": "unanswerable", )"
                                 R"("entity": "jet pack"})",
                                 kb),
      "not an entity");
  has(heldout_test::expect_error(
          R"({"id": "b", "prompt": "x", "kind": "emergency", "atribute": 1})", kb),
      "unknown field \"atribute\"");
  has(heldout_test::expect_error(R"({"id": "b", "kind": "emergency"})", kb),
      "\"prompt\" is required");
  has(heldout_test::expect_error("", kb), "no prompts");
}
