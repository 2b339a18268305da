// The loop's dataset stages on hand-written Phase 1 and Phase 2 files; which backend judges
// Phase 2 (label.judge), on fake backends.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../../src/loop/internal.h"
#include "../pipeline/fake_backend.h"
#include "../pipeline/test_util.h"

namespace cai::loop::detail {
namespace stages_test {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRun = fs::path(CAI_TEST_TMPDIR) / "loop-stages";

json phase1_row(const std::string& prompt, const std::string& init, const std::string& final_text) {
  return {{"prompt", prompt},
          {"init_response", init},
          {"messages", json::array({{{"role", "user"}, {"content", prompt}},
                                    {{"role", "assistant"}, {"content", final_text}}})}};
}

json label_row(const std::string& prompt, const std::string& chosen, const std::string& rejected,
               double p) {
  return {{"prompt_text", prompt},
          {"chosen_text", chosen},
          {"rejected_text", rejected},
          {"p_chosen", p}};
}

void write_lines(const fs::path& p, const std::vector<json>& rows) {
  std::ofstream f(p);
  for (const auto& r : rows) f << r.dump() << "\n";
}

std::vector<std::string> sft_finals(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream f(p);
  for (std::string l; std::getline(f, l);)
    if (!l.empty()) out.push_back(json::parse(l)["messages"].back()["content"].get<std::string>());
  return out;
}

// Phase 1: a revision the judge prefers, one it rates below the initial response, one prompt
// left unrevised (its pair is chosen == rejected) and one revision the judge never labelled.
TEST(LoopStages, OnlyPreferredRevisionsLeavesOutThoseTheJudgeRejects) {
  fs::remove_all(kRun);
  const RoundDir rd(kRun, 1);
  write_lines(
      rd / "critique_revise.jsonl",
      {phase1_row("p1", "init one", "better one"), phase1_row("p2", "init two", "worse two"),
       phase1_row("p3", "same three", "same three"), phase1_row("p4", "init four", "new four")});
  write_lines(rd / "labels.jsonl", {label_row("p1", "better one", "init one", 0.8),
                                    label_row("p2", "init two", "worse two", 0.7),
                                    label_row("p3", "same three", "same three", 0.5)});
  LoopConfig c;
  EXPECT_EQ(write_sft_data(c, rd), 4u);  // off: every non-empty final response
  EXPECT_EQ(sft_finals(rd / "sft_data.jsonl"),
            (std::vector<std::string>{"better one", "worse two", "same three", "new four"}));
  c.sft.only_preferred_revisions = true;
  EXPECT_EQ(write_sft_data(c, rd), 3u);
  EXPECT_EQ(sft_finals(rd / "sft_data.jsonl"),
            (std::vector<std::string>{"better one", "same three", "new four"}));
}

// Backends made through a fake factory that records what each was made from.
struct MadeBackends {
  std::vector<std::string> made;  // model paths, or "api:<model>"
  Backends::Factory factory() {
    return [this](const BackendOptions& o) -> std::unique_ptr<Backend> {
      made.push_back(o.http.base_urls.empty() ? o.model : "api:" + o.http.model);
      return std::make_unique<testing_util::FakeBackend>();
    };
  }
};

TEST(LoopBackends, LabelJudgeIsThePolicyTheBaseOrAFixedModel) {
  LoopConfig c;
  c.base_model = "/models/base";
  const std::string round1 = "/run/round-1/dpo/final";
  {
    MadeBackends m;  // policy (the default): the round's model judges itself
    Backends b(c, m.factory());
    EXPECT_EQ(&b.label_judge(round1), &b.policy(round1));
    EXPECT_EQ(m.made, (std::vector<std::string>{round1}));
  }
  c.label.judge = "base";
  {
    MadeBackends m;
    Backends b(c, m.factory());
    Backend& policy = b.policy(round1);
    Backend& judge = b.label_judge(round1);
    EXPECT_NE(&judge, &policy);
    EXPECT_EQ(&judge, &b.base());
    EXPECT_EQ(m.made, (std::vector<std::string>{round1, "/models/base"}));
    // The next round's policy does not change the judge.
    EXPECT_EQ(&b.label_judge("/run/round-2/dpo/final"), &judge);
  }
  c.label.judge = "/models/judge";
  c.quality.judge = "/models/judge";
  {
    MadeBackends m;  // one copy serves both keys
    Backends b(c, m.factory());
    Backend& judge = b.label_judge(round1);
    EXPECT_EQ(&b.judge(), &judge);
    EXPECT_NE(&judge, &b.policy(round1));
    EXPECT_NE(&judge, &b.base());
    EXPECT_EQ(m.made, (std::vector<std::string>{"/models/judge", round1, "/models/base"}));
  }
  c.label.judge = "base";
  c.api.base_urls = {"http://127.0.0.1:1/v1"};
  c.api.model = "served";
  {
    MadeBackends m;  // with an api, base is the api's model
    Backends b(c, m.factory());
    b.label_judge(round1);
    EXPECT_EQ(m.made, (std::vector<std::string>{"api:served"}));
  }
}

// Phase 2 with sampled responses: the policy only writes, the judge only judges, and the pair
// of equal texts is counted, not judged.
TEST(LoopStages, Phase2SamplesWithThePolicyAndLabelsWithTheJudge) {
  fs::remove_all(kRun);
  const RoundDir rd(kRun, 1);
  testing_util::FakeBackend policy, judge;
  const std::vector<std::string> replies = {"reply 1", "reply 2", "reply 3", "reply 3"};
  std::size_t next = 0;
  policy.writer = [&](const std::string&, const TextRequest&) { return replies.at(next++); };
  std::vector<pipeline::PromptRecord> prompts(2);
  prompts[0].id = "p0";
  prompts[0].prompt = "Where is the clinic?";
  prompts[1].id = "p1";
  prompts[1].prompt = "When does it open?";
  LoopConfig c;
  c.label.samples = 2;
  const auto n = run_phase2(c, policy, judge, testing_util::test_constitution(), prompts, rd,
                            /*progress=*/false);
  EXPECT_EQ(n.written, 1u);
  EXPECT_EQ(n.equal_skipped, 1u);
  EXPECT_EQ(policy.generate_batches, (std::vector<std::size_t>{4}));
  EXPECT_TRUE(policy.score_batches.empty());
  EXPECT_EQ(judge.score_batches, (std::vector<std::size_t>{2}));  // one pair, both orders
  EXPECT_TRUE(judge.generate_batches.empty());
}

}  // namespace stages_test
}  // namespace cai::loop::detail
