// Phase 1 mechanics on a fake backend: the output schema, the transcript prompts, batching
// (one call per stage), skipping, determinism across chunk sizes, resumption and settings
// checks, and file:line errors for bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>

#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/pipeline/critique_revise.h"
#include "cai/pipeline/phase1_file.h"
#include "fake_backend.h"
#include "test_util.h"

namespace cai::pipeline {
namespace {

using testing_util::FakeBackend;

CritiqueReviseOptions options() {
  CritiqueReviseOptions o;
  o.rounds = 3;
  o.seed = 7;
  return o;
}

TEST(CritiqueRevise, SchemaAndTranscriptPrompts) {
  Progress::set_enabled(false);
  const auto c = testing_util::test_constitution();
  const auto prompts = read_prompts(testing_util::write_prompts("schema.jsonl", 5));
  FakeBackend fb;
  auto o = options();
  auto recs = critique_revise(fb, c, prompts, 0, o);
  ASSERT_EQ(recs.size(), 5u);
  // One call for the initial responses, then per round one for critiques and one for the
  // revisions that were not skipped.
  ASSERT_GE(fb.generate_batches.size(), 4u);
  EXPECT_EQ(fb.generate_batches[0], 5u);
  EXPECT_LE(fb.generate_batches.size(), 7u);
  bool skipped = false, revised = false;
  for (const auto& r : recs) {
    ASSERT_EQ(r.rounds.size(), 3u);
    EXPECT_EQ(r.init_response.rfind("reply ", 0), 0u) << r.init_response;  // cut at "\n\n"
    std::string cur = r.init_response;
    for (const auto& x : r.rounds) {
      EXPECT_TRUE(x.principle == "polite" || x.principle == "brief");
      EXPECT_EQ(x.critique.find("Human:"), std::string::npos);
      EXPECT_EQ(x.skipped, x.critique.rfind("The response follows", 0) == 0);
      if (x.skipped) {
        skipped = true;
        EXPECT_TRUE(x.revision.empty());
      } else {
        revised = true;
        cur = x.revision;
      }
    }
    EXPECT_EQ(r.final_response, cur);
  }
  EXPECT_TRUE(skipped);
  EXPECT_TRUE(revised);
  // The critique prompts carry the few-shot transcripts first (global, then the principle's).
  bool saw_critique = false;
  for (const auto& t : fb.seen)
    if (t.size() > 9 && t.compare(t.size() - 9, 9, "Critique:") == 0) {
      saw_critique = true;
      EXPECT_EQ(t.rfind("Human: What time is it?\n\nAssistant: I do not know", 0), 0u) << t;
      EXPECT_NE(t.find("\n\nRevision: I do not know the time.\n\nHuman: "), std::string::npos);
    }
  EXPECT_TRUE(saw_critique);

  const auto j = to_json(recs[0], "fake", c.hash(), o);
  for (const char* k : {"id", "prompt", "messages", "init_response", "rounds", "chosen", "rejected",
                        "prompt_messages", "model", "constitution_hash", "seed", "settings"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["messages"][0]["role"], "user");
  EXPECT_EQ(j["messages"][1]["content"], recs[0].final_response);
  EXPECT_EQ(j["chosen"][0]["content"], recs[0].final_response);
  EXPECT_EQ(j["rejected"][0]["content"], recs[0].init_response);
  EXPECT_EQ(j["rounds"][0].size(), 4u);  // principle, critique, revision, skipped
  EXPECT_EQ(j["constitution_hash"], c.hash());
}

TEST(CritiqueRevise, InOrderPrinciplesAndChatFormat) {
  const auto c = testing_util::test_constitution();
  const auto prompts = read_prompts(testing_util::write_prompts("chat.jsonl", 2));
  FakeBackend fb;
  fb.writer = [](const std::string&, const TextRequest& r) {
    return r.messages.back().content.find("Is the response") == 0 ? "No critique is needed."
                                                                  : "fine";
  };
  auto o = options();
  o.format = PromptFormat::chat;
  o.principles = PrincipleChoice::in_order;
  auto recs = critique_revise(fb, c, prompts, 0, o);
  EXPECT_EQ(recs[0].rounds[0].principle, "polite");
  EXPECT_EQ(recs[0].rounds[1].principle, "brief");
  EXPECT_EQ(recs[0].rounds[2].principle, "polite");
  for (const auto& x : recs[1].rounds) EXPECT_TRUE(x.skipped);
  EXPECT_EQ(fb.generate_batches.size(), 4u);  // responses + three rounds of critiques only
}

// With min_violation_p, a "violates" critique leads to a revision only when the verdict's
// scored probability reaches the threshold; "follows" critiques are never scored.
TEST(CritiqueRevise, UnsureViolationsAreNotRevised) {
  const auto c = testing_util::test_constitution();
  const auto prompts = read_prompts(testing_util::write_prompts("unsure.jsonl", 6));
  FakeBackend fb;
  // The fake critique's verdict varies with a hash of the request; the scorer is sure (0.9)
  // or unsure (0.6) by the parity of another hash.
  std::vector<double> given;
  fb.scorer = [&](const std::string& text, const std::vector<std::string>& options) {
    EXPECT_EQ(options.size(), 2u);
    EXPECT_NE(options[1].find("violates"), std::string::npos);
    const double p = std::hash<std::string>{}(text) % 2 == 0 ? 0.9 : 0.6;
    given.push_back(p);
    return std::vector<double>{std::log(1 - p), std::log(p)};
  };
  auto o = options();
  o.min_violation_p = 0.7;
  const auto recs = critique_revise(fb, c, prompts, 0, o);
  std::size_t scored = 0, sure = 0, unsure = 0;
  for (const auto& r : recs)
    for (const auto& x : r.rounds) {
      const bool violates = x.critique.rfind("The response violates", 0) == 0;
      EXPECT_EQ(x.p_violates >= 0, violates);
      if (!violates) {
        EXPECT_TRUE(x.skipped);
        continue;
      }
      ++scored;
      EXPECT_EQ(x.skipped, x.p_violates < 0.7) << x.p_violates;
      EXPECT_EQ(x.revision.empty(), x.skipped);
      ++(x.skipped ? unsure : sure);
    }
  EXPECT_EQ(scored, given.size());
  EXPECT_GT(sure, 0u);
  EXPECT_GT(unsure, 0u);
  const auto j = to_json(recs[0], "fake", c.hash(), o);
  EXPECT_DOUBLE_EQ(j["settings"]["min_violation_p"].get<double>(), 0.7);

  // Off (the default): nothing is scored and every "violates" is revised.
  FakeBackend plain;
  bool called = false;
  plain.scorer = [&](const std::string&, const std::vector<std::string>& opts) {
    called = true;
    return std::vector<double>(opts.size(), -1.0);
  };
  for (const auto& r : critique_revise(plain, c, prompts, 0, options()))
    for (const auto& x : r.rounds)
      EXPECT_EQ(x.skipped, x.critique.rfind("The response follows", 0) == 0);
  EXPECT_FALSE(called);
  EXPECT_EQ(to_json(recs[0], "fake", c.hash(), options())["settings"]["min_violation_p"], 0.0);
  o.min_violation_p = 1.0;
  EXPECT_THROW(o.validate(), Error);
}

TEST(CritiqueRevise, OutputIndependentOfChunkSizeAndResumable) {
  const auto c = testing_util::test_constitution();
  const auto prompts = read_prompts(testing_util::write_prompts("chunks.jsonl", 7));
  std::string ref;
  for (std::int64_t chunk : {7, 1, 3}) {
    const auto out = testing_util::tmp_path("chunks-" + std::to_string(chunk) + ".jsonl");
    testing_util::remove_output(out);
    FakeBackend fb;
    auto o = options();
    o.chunk = chunk;
    EXPECT_EQ(run_critique_revise(fb, c, prompts, out, o, false), 7u);
    const auto text = testing_util::slurp(out);
    if (ref.empty()) ref = text;
    EXPECT_EQ(text, ref) << "chunk " << chunk;
    // A rerun finds everything done.
    EXPECT_EQ(run_critique_revise(fb, c, prompts, out, o, false), 0u);
  }
  // A torn last line and a missing tail are completed to the same file.
  const auto out = testing_util::tmp_path("torn.jsonl");
  testing_util::remove_output(out);
  FakeBackend fb;
  auto o = options();
  o.chunk = 2;
  run_critique_revise(fb, c, prompts, out, o, false);
  std::string text = testing_util::slurp(out);
  const auto cut = text.find('\n', text.find('\n', text.find('\n') + 1) + 1) + 20;  // mid line 4
  std::ofstream(out, std::ios::binary | std::ios::trunc) << text.substr(0, cut);
  EXPECT_EQ(run_critique_revise(fb, c, prompts, out, o, false), 4u);
  EXPECT_EQ(testing_util::slurp(out), ref);
  // Different settings are refused, naming the file.
  o.seed = 8;
  try {
    run_critique_revise(fb, c, prompts, out, o, false);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(out.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("different settings"), std::string::npos) << e.what();
  }
}

TEST(CritiqueRevise, BadInputsNameFileAndLine) {
  const auto p = testing_util::tmp_path("bad-prompts.jsonl");
  std::ofstream(p) << "{\"prompt\": \"ok\"}\n{\"id\": \"x\"}\n";
  try {
    read_prompts(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string() + ":2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("prompt"), std::string::npos) << e.what();
  }
  std::ofstream(p) << "{\"prompt\": \"ok\"}\n{\"prompt\": \n";
  EXPECT_THROW(read_prompts(p), Error);
  // Plain text: one prompt per line, blank lines skipped.
  std::ofstream(p) << "first question\n\nsecond question\n";
  auto ps = read_prompts(p);
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[1].prompt, "second question");
  EXPECT_EQ(ps[1].where, p.string() + ":3");
  CritiqueReviseOptions o;
  o.rounds = 0;
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.temperature = -1;
  try {
    o.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("critique-revise.temperature: must be >= 0"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace cai::pipeline
