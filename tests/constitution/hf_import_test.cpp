// Import of the Hugging Face open CAI recipe's constitution JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

using cai::test::parse_error;

TEST(HfImport, ShippedExampleMapsPrinciplesAndFewShot) {
  const auto path = cai::test::repo_root() / "constitutions" / "hf-recipe-example.json";
  const cai::Constitution c = cai::load_constitution(path);
  EXPECT_EQ(c.name, "hf-recipe-example");
  ASSERT_EQ(c.principles.size(), 3u);
  EXPECT_EQ(c.principles[0].name, "hf-1");
  EXPECT_EQ(c.principles[2].name, "hf-3");
  const cai::Principle& p = c.principles[1];
  EXPECT_EQ(p.critique_request,
            "Identify any statement in the response that is presented as fact but may be false "
            "or invented.");
  EXPECT_EQ(p.revision_request.rfind("Rewrite the response so that it only states", 0), 0u);
  EXPECT_EQ(p.comparison_question, cai::comparison_from_critique(p.critique_request));
  EXPECT_EQ(p.comparison_question,
            "Which response gives less reason for this critique: \"Identify any statement in "
            "the response that is presented as fact but may be false or invented.\"?");
  EXPECT_DOUBLE_EQ(p.weight, 1.0);

  // Three transcripts kept; the two in critique/revision shape become few-shot examples,
  // the plain two-message chat does not.
  ASSERT_EQ(c.system_chat.size(), 3u);
  const auto first = nlohmann::json::parse(c.system_chat[0]);
  ASSERT_EQ(first.size(), 6u);
  EXPECT_EQ(first[0]["role"], "user");
  EXPECT_EQ(nlohmann::json::parse(c.system_chat[2]).size(), 2u);
  ASSERT_EQ(c.few_shot.size(), 2u);
  EXPECT_EQ(c.few_shot[0].principle, "hf-1");
  EXPECT_EQ(c.few_shot[0].prompt.rfind("My neighbour's dog keeps barking.", 0), 0u);
  EXPECT_EQ(c.few_shot[0].critique.rfind("The response suggests poisoning", 0), 0u);
  EXPECT_EQ(c.few_shot[0].revision.rfind("I can't help with harming the dog.", 0), 0u);
  EXPECT_EQ(c.few_shot[1].principle, "hf-2");
  EXPECT_EQ(c.few_shot[1].response, "It is an oak that is exactly 41 metres tall.");
}

TEST(HfImport, FlatMessageListIsScannedForCritiqueRuns) {
  const std::string text =
      R"({"constitutions": [{"critic": "Is it rude?", "revision": "Be polite."}],
    "system_chat": [
      {"role": "user", "content": "Hello there"},
      {"role": "assistant", "content": "What do you want?"},
      {"role": "user", "content": "Is it rude?"},
      {"role": "assistant", "content": "Yes, it is curt."},
      {"role": "user", "content": "Be polite."},
      {"role": "assistant", "content": "Hello! How can I help?"},
      {"role": "user", "content": "Thanks"},
      {"role": "assistant", "content": "You're welcome."}
    ]})";
  const cai::Constitution c = cai::parse_constitution(text, "flat.json");
  ASSERT_EQ(c.system_chat.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(c.system_chat[0]).size(), 8u);
  ASSERT_EQ(c.few_shot.size(), 1u);
  EXPECT_EQ(c.few_shot[0].prompt, "Hello there");
  EXPECT_EQ(c.few_shot[0].critique, "Yes, it is curt.");
  EXPECT_EQ(c.few_shot[0].revision, "Hello! How can I help?");
  EXPECT_EQ(c.few_shot[0].principle, "hf-1");
}

TEST(HfImport, WithoutSystemChat) {
  const auto c = cai::parse_constitution(
      "{\"constitutions\": [{\"critic\": \"a\", \"revision\": \"b\"}]}", "x.json");
  EXPECT_EQ(c.principles.size(), 1u);
  EXPECT_TRUE(c.few_shot.empty());
  EXPECT_TRUE(c.system_chat.empty());
}

TEST(HfImport, ErrorsNameFileAndJsonPointer) {
  EXPECT_EQ(parse_error(R"({"constitutions": [{"critic": "a", "revision": "b"}, {"critic": ""}]})",
                        "h.json"),
            "h.json: /constitutions/1/critic: must be a non-empty string");
  EXPECT_EQ(parse_error(R"({"constitutions": [{"critic": "a"}]})", "h.json"),
            "h.json: /constitutions/0/revision: missing required field");
  EXPECT_EQ(parse_error(R"({"constitutions": [{"critic": "a", "revison": "b"}]})", "h.json"),
            "h.json: /constitutions/0/revison: unknown key (allowed: critic, revision)");
  EXPECT_EQ(parse_error(R"({"constitutions": [{"critic": 3, "revision": "b"}]})", "h.json"),
            "h.json: /constitutions/0/critic: must be a string, not number");
  EXPECT_EQ(parse_error(R"({"constitutions": []})", "h.json"),
            "h.json: /constitutions: must be a non-empty list of {critic, revision} objects");
  EXPECT_EQ(parse_error(R"({"constitutions": [{"critic": "a", "revision": "b"}],
                            "system_chat": [[{"role": "robot", "content": "x"}]]})",
                        "h.json"),
            "h.json: /system_chat/0/0/role: 'robot' is not user, assistant or system");
  EXPECT_EQ(parse_error(R"({"constitutions": [{"critic": "a", "revision": "b"}],
                            "system_chat": [[], {"role": "user", "content": "x"}]})",
                        "h.json"),
            "h.json: /system_chat/1: must be a list of messages (the other entries are lists)");
  EXPECT_EQ(
      parse_error(R"({"constitutions": [{"critic": "a", "revision": "b"}], "extra": 1})", "h.json"),
      "h.json: /extra: unknown key (allowed: constitutions, system_chat)");
}

TEST(HfImport, JsonSyntaxErrorNamesLine) {
  const std::string err =
      parse_error("{\n  \"constitutions\": [\n    {\"critic\": \"a\",,}\n  ]\n}", "h.json");
  EXPECT_EQ(err.rfind("h.json:3: invalid JSON", 0), 0u) << err;
}
