// Scoring against log_softmax over a plain full forward pass of each pair on its own.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cai/generate/scorer.h"
#include "cai/io/error.h"
#include "tiny_model.h"

namespace cai {
namespace {

using testing_util::tiny_model;

// log p(seq[t+1] | seq[..t]) for t >= from-1, from one unbatched forward pass.
std::vector<float> reference(LlamaModel& m, const std::vector<std::int32_t>& seq,
                             std::size_t from) {
  torch::NoGradGuard g;
  std::vector<std::int64_t> ids(seq.begin(), seq.end());
  auto lp = torch::log_softmax(m.forward(torch::tensor(ids, torch::kLong).unsqueeze(0))[0], -1);
  std::vector<float> out;
  for (std::size_t t = from; t < seq.size(); ++t) out.push_back(lp[t - 1][seq[t]].item<float>());
  return out;
}

TEST(Scorer, MatchesUnbatchedForward) {
  auto m = tiny_model(3);
  std::vector<ScoreRequest> reqs;
  for (int i = 0; i < 7; ++i) {
    ScoreRequest q;
    for (int j = 0; j < 1 + i % 4; ++j) q.prefix.push_back((i * 13 + j * 7) % 100);
    for (int j = 0; j < i % 5; ++j) q.continuation.push_back((i * 3 + j * 11 + 1) % 100);
    reqs.push_back(q);
  }
  ScoreOptions o;
  o.max_batch_tokens = 20;  // several batches
  o.max_head_rows = 3;      // head rows split across requests
  auto res = score(*m, reqs, o);
  ASSERT_EQ(res.size(), reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    auto seq = reqs[i].prefix;
    seq.insert(seq.end(), reqs[i].continuation.begin(), reqs[i].continuation.end());
    auto ref = reference(*m, seq, reqs[i].prefix.size());
    ASSERT_EQ(res[i].token_logprobs.size(), ref.size()) << i;
    double sum = 0;
    for (std::size_t k = 0; k < ref.size(); ++k) {
      EXPECT_NEAR(res[i].token_logprobs[k], ref[k], 1e-4);
      sum += ref[k];
    }
    EXPECT_NEAR(res[i].sum, sum, 1e-3);
  }
}

TEST(Scorer, TeacherForcingAndOptionTokens) {
  auto m = tiny_model(4);
  std::vector<std::int32_t> text = {5, 17, 42, 8, 99, 0, 23};
  auto r = score_tokens(*m, text);
  auto ref = reference(*m, text, 1);
  ASSERT_EQ(r.token_logprobs.size(), 6u);
  for (std::size_t k = 0; k < ref.size(); ++k) EXPECT_NEAR(r.token_logprobs[k], ref[k], 1e-4);

  std::vector<std::vector<std::int32_t>> prefixes = {{1, 2, 3}, {9}, {4, 4, 4, 4, 4, 4}};
  std::vector<std::int32_t> cands = {10, 20};
  auto lp = next_token_logprobs(*m, prefixes, cands);
  for (std::size_t i = 0; i < prefixes.size(); ++i)
    for (std::size_t j = 0; j < cands.size(); ++j) {
      auto seq = prefixes[i];
      seq.push_back(cands[j]);
      EXPECT_NEAR(lp[i][j], reference(*m, seq, seq.size() - 1)[0], 1e-4);
    }
}

TEST(Scorer, Errors) {
  auto m = tiny_model();
  EXPECT_THROW(score(*m, {ScoreRequest{{}, {1}}}), Error);
  EXPECT_THROW(score(*m, {ScoreRequest{{1}, {100}}}), Error);
}

}  // namespace
}  // namespace cai
