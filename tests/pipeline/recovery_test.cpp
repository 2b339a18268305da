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
    const auto j = r.to_json();
    ASSERT_EQ(j["messages"].size(), 2u);
    EXPECT_EQ(j["messages"][0], (nlohmann::json{{"role", "user"}, {"content", r.prompt}}));
    EXPECT_EQ(j["messages"][1], (nlohmann::json{{"role", "assistant"}, {"content", r.assistant}}));
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
  for_each_jsonl(out, [&](const nlohmann::json& j, std::size_t) {
    ++n;
    const auto text = j["messages"][1]["content"].get<std::string>();
    EXPECT_EQ(text.rfind("bad", 0), 0u) << text;
    EXPECT_NE(text.find(" - actually, let me correct that: good answer"), std::string::npos);
  });
  EXPECT_EQ(n, 3u);
  // As DPO pairs: the recovery chosen over the whole initial response.
  o.pairs = true;
  EXPECT_EQ(write_phase1_recovery_rows(in, out, o), 3u);
  n = 0;
  for_each_jsonl(out, [&](const nlohmann::json& j, std::size_t) {
    ++n;
    EXPECT_EQ(j["prompt"], nlohmann::json::parse(R"([{"role": "user", "content": "q0"}])"));
    EXPECT_EQ(j["rejected"][0]["role"], "assistant");
    EXPECT_EQ(j["rejected"][0]["content"], "bad start here");
    const auto chosen = j["chosen"][0]["content"].get<std::string>();
    EXPECT_EQ(chosen.rfind("bad", 0), 0u) << chosen;
    EXPECT_NE(chosen.find(" - actually, let me correct that: good answer"), std::string::npos);
  });
  EXPECT_EQ(n, 3u);
}

// The records a row can come from: revised, with words to start from and a revision.
TEST(Phase1Recovery, RevisedRecords) {
  EXPECT_EQ(revised_records(pairs()), (std::vector<std::size_t>{0, 2}));
  EXPECT_TRUE(revised_records({{0, "", "q", "same", "same", ""},
                               {1, "", "q", " ", "fixed", ""},
                               {2, "", "q", "started", "", ""}})
                  .empty());
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
