// Recovery rows from Phase 1's pairs (recovery.h): the start is a word prefix of the initial
// response within the bounds, the row returns to the revision, unrevised records are left out,
// the draws are seeded, the file is TRL's conversational SFT format, and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/pipeline/recovery.h"
#include "test_util.h"

namespace cai::pipeline {
namespace {

std::vector<PairInput> pairs() {
  return {{0, "a", "q0", "one two three four five six", "fixed zero", ""},
          {1, "b", "q1", "same", "same", ""},  // not revised: no row
          {2, "", "q2", "alpha beta", "fixed two", ""}};
}

TEST(Phase1Recovery, RowsStartWithTheInitialResponseAndReturnToTheRevision) {
  Phase1RecoveryOptions o;
  o.count = 40;
  o.max_prefix_words = 3;
  const auto rows = phase1_recovery_rows(pairs(), o);
  ASSERT_EQ(rows.size(), 40u);
  std::map<std::string, int> per_prompt;
  std::map<std::string, std::set<std::string>> starts;
  const auto in = pairs();
  for (const auto& r : rows) {
    ++per_prompt[r.prompt];
    const PairInput& p = in[r.prompt == "q0" ? 0 : 2];
    EXPECT_NE(r.prompt, "q1");
    // 1 .. min(3, words - 1) words of the initial response, then the connector and revision.
    EXPECT_EQ(p.a.rfind(r.violating_start, 0), 0u) << r.violating_start;
    const auto words = 1 + std::count(r.violating_start.begin(), r.violating_start.end(), ' ');
    EXPECT_GE(words, 1);
    EXPECT_LE(words, r.prompt == "q0" ? 3 : 1);
    EXPECT_EQ(r.revision, p.b);
    EXPECT_EQ(r.assistant, r.violating_start + o.connector + p.b);
    starts[r.prompt].insert(r.violating_start);
    // The start is the prompt's assistant message; the completion is only the return.
    const auto j = r.to_json();
    EXPECT_EQ(j["prompt"],
              (nlohmann::json{{{"role", "user"}, {"content", r.prompt}},
                              {{"role", "assistant"}, {"content", r.violating_start}}}));
    EXPECT_EQ(j["completion"],
              (nlohmann::json{{{"role", "assistant"}, {"content", o.connector + p.b}}}));
    const auto pair = r.to_pair_json();
    EXPECT_EQ(pair["prompt"], j["prompt"]);
    EXPECT_EQ(pair["chosen"], j["completion"]);
    EXPECT_EQ(r.violating_start + pair["rejected"][0]["content"].get<std::string>(), p.a);
  }
  // Records are drawn in turn (a seeded shuffle per pass), each pass with fresh start lengths.
  EXPECT_EQ(per_prompt["q0"], 20);
  EXPECT_EQ(per_prompt["q2"], 20);
  EXPECT_EQ(starts["q0"].size(), 3u);
  // Seeded: the same seed gives the same rows, another seed other ones.
  const auto again = phase1_recovery_rows(pairs(), o);
  o.seed = 9;
  const auto other = phase1_recovery_rows(pairs(), o);
  bool differs = false;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].assistant, again[i].assistant);
    differs = differs || rows[i].assistant != other[i].assistant;
  }
  EXPECT_TRUE(differs);
}

TEST(Phase1Recovery, WritesTheRowsOfAPhase1File) {
  const auto in = testing_util::tmp_path("recovery-phase1.jsonl");
  const auto out = testing_util::tmp_path("recovery-rows.jsonl");
  {
    std::ofstream f(in);
    f << R"({"id": "p0", "prompt": "q0", "init_response": "bad start here", "messages": [{"role": "user", "content": "q0"}, {"role": "assistant", "content": "good answer"}]})"
      << "\n";
  }
  Phase1RecoveryOptions o;
  o.count = 3;
  EXPECT_EQ(write_phase1_recovery_rows(in, out, o), 3u);
  std::size_t n = 0;
  auto start_of = [](const nlohmann::json& j) {
    EXPECT_EQ(j["prompt"][0], nlohmann::json::parse(R"({"role": "user", "content": "q0"})"));
    EXPECT_EQ(j["prompt"][1]["role"], "assistant");
    const auto start = j["prompt"][1]["content"].get<std::string>();
    EXPECT_TRUE(start == "bad" || start == "bad start") << start;
    return start;
  };
  for_each_jsonl(out, [&](const nlohmann::json& j, std::size_t) {
    ++n;
    start_of(j);
    EXPECT_EQ(j["completion"][0]["content"], " - actually, let me correct that: good answer");
  });
  EXPECT_EQ(n, 3u);
  // As DPO pairs: after the same start, the return chosen over the rest of the initial
  // response.
  o.pairs = true;
  EXPECT_EQ(write_phase1_recovery_rows(in, out, o), 3u);
  n = 0;
  for_each_jsonl(out, [&](const nlohmann::json& j, std::size_t) {
    ++n;
    const auto start = start_of(j);
    EXPECT_EQ(j["rejected"][0]["role"], "assistant");
    EXPECT_EQ(start + j["rejected"][0]["content"].get<std::string>(), "bad start here");
    EXPECT_EQ(j["chosen"][0]["content"], " - actually, let me correct that: good answer");
  });
  EXPECT_EQ(n, 3u);
}

// The records a row can come from: revised, with a start and a rest, and a revision.
TEST(Phase1Recovery, RevisedRecords) {
  EXPECT_EQ(revised_records(pairs()), (std::vector<std::size_t>{0, 2}));
  EXPECT_TRUE(revised_records({{0, "", "q", "same", "same", ""},
                               {1, "", "q", " ", "fixed", ""},
                               {2, "", "q", "two words", "", ""},
                               {3, "", "q", "one ", "fixed", ""}})
                  .empty());
}

// A start is the text's own bytes up to its n-th word, so the rest of the text follows it.
TEST(Phase1Recovery, LeadingWords) {
  EXPECT_EQ(leading_words("one  two three", 2), "one  two");
  EXPECT_EQ(leading_words(" one two", 1), " one");
  EXPECT_EQ(leading_words("one two", 5), "one two");
  EXPECT_EQ(leading_words("one two", 0), "");
  EXPECT_EQ(leading_words("  ", 1), "");
  EXPECT_EQ(count_words(" one  two "), 2u);
  EXPECT_EQ(count_words(""), 0u);
}

TEST(Phase1Recovery, Errors) {
  Phase1RecoveryOptions o;
  EXPECT_THROW(phase1_recovery_rows({{0, "", "q", "same", "same", ""}}, o), Error);
  o.count = 0;
  EXPECT_THROW(phase1_recovery_rows(pairs(), o), Error);
  o.count = 1;
  o.max_prefix_words = 0;
  EXPECT_THROW(phase1_recovery_rows(pairs(), o), Error);
  o.max_prefix_words = 3;
  o.connector = "a\n\nb";
  EXPECT_THROW(phase1_recovery_rows(pairs(), o), Error);
}

}  // namespace
}  // namespace cai::pipeline
