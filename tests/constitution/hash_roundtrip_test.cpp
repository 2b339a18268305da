// Content hash, YAML round trip, and the constitutions shipped in constitutions/.
#include <gtest/gtest.h>

#include <filesystem>

#include "cai/io/file.h"
#include "test_util.h"

using cai::test::kValidYaml;

namespace {
cai::Constitution valid() { return cai::parse_constitution(kValidYaml, "c.yaml"); }
}  // namespace

TEST(ConstitutionHash, StableForIdenticalContent) {
  const std::string h = valid().hash();
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(valid().hash(), h);
  // Formatting is not content: the same constitution written differently hashes the same.
  std::string reflowed = kValidYaml;
  reflowed.replace(reflowed.find("    weight: 2.5"), 15, "    weight: 2.50   # heavier");
  EXPECT_EQ(cai::parse_constitution(reflowed, "other-file.yaml").hash(), h);
}

TEST(ConstitutionHash, ChangesWithAnyField) {
  const cai::Constitution base = valid();
  const std::string h = base.hash();
  std::vector<std::function<void(cai::Constitution&)>> edits = {
      [](auto& c) { c.name += "x"; },
      [](auto& c) { c.description += "."; },
      [](auto& c) { c.principles[0].name = "be-nice"; },
      [](auto& c) { c.principles[0].critique_request += " "; },
      [](auto& c) { c.principles[1].revision_request = "Shorten it."; },
      [](auto& c) { c.principles[1].comparison_question += "?"; },
      [](auto& c) { c.principles[0].weight = 2.5000001; },
      [](auto& c) { c.principles[0].examples[0].prompt = "Hello"; },
      [](auto& c) { c.principles[0].examples[0].principle = ""; },
      [](auto& c) { c.principles[0].examples.clear(); },
      [](auto& c) { std::swap(c.principles[0], c.principles[1]); },
      [](auto& c) { c.few_shot[0].critique += "!"; },
      [](auto& c) { c.few_shot.clear(); },
      [](auto& c) { c.system_chat.push_back("[]"); },
      // Moving text between adjacent fields must not collide (length-prefixed fields).
      [](auto& c) {
        c.principles[0].revision_request = "kind. " + c.principles[0].revision_request;
        c.principles[0].critique_request.resize(c.principles[0].critique_request.size() - 6);
      },
  };
  for (std::size_t i = 0; i < edits.size(); ++i) {
    cai::Constitution c = base;
    edits[i](c);
    EXPECT_NE(c.hash(), h) << "edit " << i;
  }
}

TEST(ConstitutionYamlRoundTrip, SaveThenLoadIsEqual) {
  const auto dir = cai::test::tmpdir("roundtrip");
  cai::Constitution c = valid();
  // Text that is awkward for YAML: quotes, colons, leading spaces, trailing newlines,
  // things that look like null/bool/numbers, a line that looks like a key inside a block.
  c.description = "line one\n  indented: yes\ncritique: |\n\nlast line";
  c.principles[0].critique_request = "  starts with spaces and: a colon";
  c.principles[0].revision_request = "ends with newlines\n\n";
  c.principles[1].comparison_question = "null";
  c.principles[1].weight = 0.1;
  c.few_shot[0].prompt = "- looks like a list item";
  c.few_shot[0].response = "yes";
  c.few_shot[0].critique = std::string(200, 'w') + " \"quoted\" # not a comment";
  c.few_shot[0].revision = "tab\there and unicode: caf\xC3\xA9";
  c.system_chat = {R"([{"role":"user","content":"hi: there"}])"};
  const auto path = dir / "c.yaml";
  cai::save_constitution(c, path);
  const cai::Constitution back = cai::load_constitution(path);
  EXPECT_EQ(back, c) << cai::read_file(path);
  EXPECT_EQ(back.hash(), c.hash());
  // Long text went out as a block scalar.
  EXPECT_NE(cai::read_file(path).find("|-\n"), std::string::npos);
}

TEST(ShippedConstitutions, AllLoadAndRoundTrip) {
  const auto dir = cai::test::repo_root() / "constitutions";
  const auto tmp = cai::test::tmpdir("shipped");
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto ext = entry.path().extension();
    if (ext != ".yaml" && ext != ".json") continue;
    SCOPED_TRACE(entry.path().filename().string());
    const cai::Constitution c = cai::load_constitution(entry.path());
    EXPECT_GE(c.principles.size(), 3u);
    const auto out = tmp / (entry.path().stem().string() + ".yaml");
    cai::save_constitution(c, out);
    EXPECT_EQ(cai::load_constitution(out), c);
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST(ShippedConstitutions, TelehealthHasTheFiveDemoPrinciples) {
  const auto c =
      cai::load_constitution(cai::test::repo_root() / "constitutions" / "telehealth.yaml");
  ASSERT_EQ(c.principles.size(), 5u);
  for (const char* name : {"cite-source", "emergency-redirect", "empathy-first",
                           "no-identifying-info", "admit-uncertainty"}) {
    const cai::Principle& p = c.principle(name);
    // Critiques must open with a fixed verdict sentence: the request says so, and the
    // worked example does it.
    EXPECT_NE(p.critique_request.find("\"The response violates the principle.\""),
              std::string::npos)
        << name;
    EXPECT_NE(p.critique_request.find("\"The response follows the principle.\""), std::string::npos)
        << name;
    ASSERT_EQ(p.examples.size(), 1u) << name;
    EXPECT_EQ(p.examples[0].critique.rfind("The response violates the principle. ", 0), 0u);
  }
  EXPECT_NE(c.principle("emergency-redirect").revision_request.find("911"), std::string::npos);
}

TEST(ShippedConstitutions, OtherSetsHaveFiveToSevenPrinciples) {
  for (const char* f : {"hhh.yaml", "customer-service.yaml"}) {
    const auto c = cai::load_constitution(cai::test::repo_root() / "constitutions" / f);
    EXPECT_GE(c.principles.size(), 5u) << f;
    EXPECT_LE(c.principles.size(), 7u) << f;
  }
}
