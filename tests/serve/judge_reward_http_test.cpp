// The constitution judge's reward (pipeline/judge_reward.h) through the HTTP backend against
// `cai serve` over loopback equals the same reward on the in-process model: both score the
// whole verdict sentences (Backend::loglikelihoods), which a server computes from the prompt's
// own log-probs with `echo`.
#include <gtest/gtest.h>

#include <memory>

#include "cai/backend/factory.h"
#include "cai/constitution/constitution.h"
#include "cai/pipeline/judge_reward.h"
#include "serve_process.h"

namespace judge_reward_http_test {

const std::string kModel = std::string(CAI_FIXTURES_DIR) + "/hf-model";

TEST(ServeJudgeReward, JudgeRewardOverHttpEqualsInProcess) {
  // Short requests: the fixture model's vocabulary is tiny, so long text overflows its context.
  const cai::Constitution c = cai::parse_constitution(
      "name: short\nprinciples:\n"
      "  - name: kind\n    critique: Is it unkind?\n    revision: Make it kind.\n"
      "    comparison: Which is kinder?\n"
      "  - name: brief\n    critique: Is it long?\n    revision: Make it brief.\n"
      "    comparison: Which is briefer?\n    weight: 2\n",
      "short.yaml");
  cai::testing_util::ServeProcess s({kModel, "--model-name", "m"});
  ASSERT_GT(s.port, 0);
  cai::BackendOptions local_opts;
  local_opts.model = kModel;
  const auto local = cai::make_backend(local_opts);
  cai::HttpBackendOptions ho;
  ho.base_urls = {s.base_url()};
  ho.model = "m";
  const auto remote = cai::make_http_backend(ho);

  const std::vector<cai::pipeline::JudgeItem> items = {
      {"How do I bake bread?", "Mix flour and water.", 0},
      {"Tell me about the moon.", "It orbits the earth.", 1},
      {"Tell me about the moon.", "", 2}};
  for (const std::int64_t ensemble : {-1, 0}) {
    cai::pipeline::JudgeRewardOptions o;
    o.ensemble = ensemble;
    o.seed = 3;
    const auto a = cai::pipeline::judge_verdicts(*local, c, items, o);
    const auto b = cai::pipeline::judge_verdicts(*remote, c, items, o);
    ASSERT_EQ(a.size(), items.size());
    ASSERT_EQ(b.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      EXPECT_EQ(a[i].principles, b[i].principles) << i;
      ASSERT_EQ(a[i].p_follows.size(), b[i].p_follows.size()) << i;
      for (std::size_t k = 0; k < a[i].p_follows.size(); ++k)
        EXPECT_NEAR(a[i].p_follows[k], b[i].p_follows[k], 1e-4) << i << ":" << k;
      EXPECT_NEAR(a[i].reward, b[i].reward, 1e-4) << i;
      EXPECT_GT(a[i].reward, 0.0);
      EXPECT_LT(a[i].reward, 1.0);
    }
  }
}

}  // namespace judge_reward_http_test
