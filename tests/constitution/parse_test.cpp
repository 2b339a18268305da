// The YAML reader: a valid file parses to the expected values, and every kind of mistake is
// reported with the file, the line and the field at fault.
#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

using cai::test::kValidYaml;
using cai::test::parse_error;

namespace {

// kValidYaml with the first occurrence of `from` replaced by `to`.
std::string edit(const std::string& from, const std::string& to) {
  std::string s = kValidYaml;
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

TEST(ConstitutionYaml, ParsesEveryField) {
  const cai::Constitution c = cai::parse_constitution(kValidYaml, "c.yaml");
  EXPECT_EQ(c.name, "demo");
  EXPECT_EQ(c.description, "A two-principle test constitution.");
  ASSERT_EQ(c.principles.size(), 2u);
  const cai::Principle& kind = c.principles[0];
  EXPECT_EQ(kind.name, "be-kind");
  EXPECT_EQ(kind.critique_request, "Say whether the response is kind.");
  EXPECT_EQ(kind.revision_request, "Make the response kind.");
  EXPECT_EQ(kind.comparison_question, "Which response is kinder?");
  EXPECT_DOUBLE_EQ(kind.weight, 2.5);
  ASSERT_EQ(kind.examples.size(), 1u);
  EXPECT_EQ(kind.examples[0].prompt, "Hi");
  EXPECT_EQ(kind.examples[0].revision, "Hello! How can I help?");
  EXPECT_EQ(kind.examples[0].principle, "be-kind");  // implied by where it is listed
  const cai::Principle& brief = c.principles[1];
  EXPECT_EQ(brief.critique_request, "Say whether the response is brief.\nTwo lines here.\n");
  EXPECT_DOUBLE_EQ(brief.weight, 1.0);  // the default
  EXPECT_TRUE(brief.examples.empty());
  ASSERT_EQ(c.few_shot.size(), 1u);
  EXPECT_EQ(c.few_shot[0].principle, "be_brief");
  EXPECT_EQ(c.few_shot[0].revision, "It is noon.");
  EXPECT_TRUE(c.system_chat.empty());
  EXPECT_EQ(&c.principle("be_brief"), &c.principles[1]);
}

TEST(ConstitutionYaml, NameDefaultsToFileStem) {
  const auto c = cai::parse_constitution(edit("name: demo\n", ""), "dir/my-rules.yaml");
  EXPECT_EQ(c.name, "my-rules");
}

TEST(ConstitutionYaml, UnknownPrincipleLookupNamesIt) {
  const auto c = cai::parse_constitution(kValidYaml, "c.yaml");
  try {
    c.principle("be-rude");
    FAIL() << "no throw";
  } catch (const cai::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'be-rude'"), std::string::npos) << e.what();
  }
}

// Each case: the edit, then the exact error (file:line: field: problem).
struct BadCase {
  const char* label;
  std::string text;
  std::string error;
};

class ConstitutionYamlErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConstitutionYamlErrors, NameFileLineAndField) {
  EXPECT_EQ(parse_error(GetParam().text), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    All, ConstitutionYamlErrors,
    ::testing::Values(
        BadCase{"missing_field", edit("    comparison: Which response is briefer?\n", ""),
                "c.yaml:14: principles[1].comparison: missing required field"},
        BadCase{"empty_critique", edit("Say whether the response is kind.", "\"\""),
                "c.yaml:5: principles[0].critique: must be a non-empty string"},
        BadCase{"null_revision", edit("revision: Make the response kind.", "revision:"),
                "c.yaml:6: principles[0].revision: must be a non-empty string"},
        BadCase{"blank_comparison", edit("Which response is kinder?", "\"   \""),
                "c.yaml:7: principles[0].comparison: must be a non-empty string"},
        BadCase{"list_as_text", edit("revision: Shorten the response.", "revision: [a, b]"),
                "c.yaml:18: principles[1].revision: must be a string, not a list"},
        BadCase{"duplicate_name", edit("name: be_brief", "name: be-kind"),
                "c.yaml:14: principles[1].name: duplicate name 'be-kind' (first used by "
                "principles[0])"},
        BadCase{"bad_name", edit("name: be_brief", "name: Be Brief"),
                "c.yaml:14: principles[1].name: 'Be Brief' may use only a-z, 0-9, '_' and '-'"},
        BadCase{"zero_weight", edit("weight: 2.5", "weight: 0"),
                "c.yaml:8: principles[0].weight: must be a number > 0, got 0"},
        BadCase{"negative_weight", edit("weight: 2.5", "weight: -1"),
                "c.yaml:8: principles[0].weight: must be a number > 0, got -1"},
        BadCase{"text_weight", edit("weight: 2.5", "weight: heavy"),
                "c.yaml:8: principles[0].weight: must be a number > 0, got 'heavy'"},
        BadCase{"unknown_key", edit("    weight: 2.5", "    wieght: 2.5"),
                "c.yaml:8: principles[0].wieght: unknown key 'wieght' (allowed: name, "
                "critique, revision, comparison, weight, examples)"},
        BadCase{"unknown_top_key", edit("description:", "descripton:"),
                "c.yaml:2: descripton: unknown key 'descripton' (allowed: name, description, "
                "principles, few_shot, system_chat)"},
        BadCase{"unknown_example_key",
                edit("        response: Go away.", "        reply: Go away."),
                "c.yaml:11: principles[0].examples[0].reply: unknown key 'reply' (allowed: "
                "prompt, response, critique, revision, principle)"},
        BadCase{"repeated_key", edit("    weight: 2.5\n", "    weight: 2.5\n    weight: 3\n"),
                "c.yaml:9: principles[0].weight: key given twice"},
        BadCase{"example_missing", edit("        response: Go away.\n", ""),
                "c.yaml:10: principles[0].examples[0].response: missing required field"},
        BadCase{"example_empty", edit("revision: It is noon.", "revision: ''"),
                "c.yaml:25: few_shot[0].revision: must be a non-empty string"},
        BadCase{"few_shot_unknown_principle", edit("principle: be_brief", "principle: be-short"),
                "c.yaml:21: few_shot[0].principle: no principle is named 'be-short'"},
        BadCase{"example_wrong_owner",
                edit("      - prompt: Hi\n", "      - prompt: Hi\n        principle: be_brief\n"),
                "c.yaml:11: principles[0].examples[0].principle: is 'be_brief' but the example "
                "belongs to principle 'be-kind'"},
        BadCase{"no_principles", "name: x\nprinciples: []\n",
                "c.yaml:2: principles: must list at least one principle"},
        BadCase{"principles_missing", "name: x\n", "c.yaml:1: principles: missing required field"},
        BadCase{"principles_not_list", "name: x\nprinciples: lots\n",
                "c.yaml:2: principles: must be a list, not a scalar"},
        BadCase{"principle_not_map", "principles:\n  - just a string\n",
                "c.yaml:2: principles[0]: must be a mapping, not a scalar"},
        BadCase{"empty_file", "",
                "c.yaml:1: principles: the file is empty; expected a mapping with 'principles'"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(ConstitutionYaml, SyntaxErrorNamesFileAndLine) {
  const std::string err = parse_error(
      edit("    revision: Shorten the response.\n", "    revision: [unclosed\n"), "rules/c.yaml");
  EXPECT_EQ(err.rfind("rules/c.yaml:", 0), 0u) << err;
  EXPECT_NE(err.find("YAML syntax error"), std::string::npos) << err;
  // The error is at or just after the broken line (18), never line 1.
  const int line = std::stoi(err.substr(std::string("rules/c.yaml:").size()));
  EXPECT_GE(line, 18) << err;
  EXPECT_LE(line, 20) << err;

  const std::string tabs = parse_error("principles:\n\t- name: x\n");
  EXPECT_EQ(tabs.rfind("c.yaml:2: YAML syntax error", 0), 0u) << tabs;
}

TEST(ConstitutionYaml, InvalidUtf8NamesItsLine) {
  // "Make the response kind." is on line 6; 0x97 is a lone continuation byte.
  const std::string err =
      parse_error(edit("Make the response kind.", "Make the \x97response kind."), "c.yaml");
  EXPECT_EQ(err.rfind("c.yaml:6: invalid UTF-8 (byte ", 0), 0u) << err;
  EXPECT_EQ(parse_error(edit("Make the response kind.", "Make the r\xc3\xa9sponse kind.")), "");
}

TEST(ConstitutionYaml, StrayCommaIsASyntaxError) {
  // yaml-cpp's LoadAll never returns on these; the error names the line.
  EXPECT_EQ(parse_error(","),
            "c.yaml:1: YAML syntax error: unexpected token at column 1 (a stray ','?)");
  EXPECT_EQ(parse_error("name: x\n\"a\",").rfind("c.yaml:2: YAML syntax error", 0), 0u);
  EXPECT_EQ(parse_error("name: a\n---\nname: b\n"),
            "c.yaml: holds 2 YAML documents; a constitution is exactly one");
}

TEST(ConstitutionYaml, ValidateWithoutSourceLines) {
  // Constitutions built in code get the same checks, named by field only.
  cai::Constitution c = cai::parse_constitution(kValidYaml, "c.yaml");
  EXPECT_NO_THROW(c.validate("mem"));
  c.principles[1].weight = -2;
  try {
    c.validate("mem");
    FAIL() << "no throw";
  } catch (const cai::Error& e) {
    EXPECT_STREQ(e.what(), "mem: principles[1].weight: must be a number > 0, got -2");
  }
  c.principles.clear();
  EXPECT_THROW(c.validate("mem"), cai::Error);
}

TEST(ConstitutionYaml, LoadNamesMissingFile) {
  try {
    cai::load_constitution("no/such/constitution.yaml");
    FAIL() << "no throw";
  } catch (const cai::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/constitution.yaml"), std::string::npos);
  }
}
