// The prefix cache and top log-probabilities. Reusing a finished sequence's keys and values
// must not change any result: the same requests with and without the cache give the same
// greedy tokens and log-probabilities (within float noise), on a scheduler fake whose output
// depends on every cached position and on a real tiny Llama. Top log-probabilities are checked
// against a log-softmax of the model's own logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "history_model.h"
#include "tiny_model.h"

namespace cai {
namespace {

using testing_util::tiny_model;

using testing_util::HistoryModel;

// Prompts sharing a 30-token preamble, some of them continuing an earlier prompt.
std::vector<std::vector<std::int32_t>> shared_prompts(std::int32_t vocab) {
  std::vector<std::int32_t> pre;
  for (int j = 0; j < 30; ++j) pre.push_back((j * 13 + 5) % vocab);
  std::vector<std::vector<std::int32_t>> ps;
  for (int i = 0; i < 10; ++i) {
    auto p = pre;
    for (int j = 0; j < 1 + (i * 7) % 9; ++j) p.push_back((i * 31 + j * 17 + 3) % vocab);
    ps.push_back(p);
  }
  auto longer = ps[0];
  longer.insert(longer.end(), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  ps.push_back(longer);
  ps.push_back(ps[1]);  // an exact repeat (at least one token is still computed)
  return ps;
}

std::vector<GenerationResult> generate_waves(Engine& engine,
                                             const std::vector<std::vector<std::int32_t>>& ps,
                                             const SamplingOptions& sp) {
  // Two waves, so the second finds the first's sequences in the cache.
  std::vector<GenerationResult> all;
  for (std::size_t w = 0; w < 2; ++w) {
    std::vector<GenerationRequest> reqs;
    for (std::size_t i = w * ps.size() / 2; i < (w + 1) * ps.size() / 2; ++i) {
      GenerationRequest r;
      r.prompt = ps[i];
      r.sampling = sp;
      r.sampling.max_new_tokens = 3 + static_cast<std::int64_t>(i % 5);
      r.stream = i;
      reqs.push_back(r);
    }
    for (auto& g : engine.generate(reqs)) all.push_back(g);
  }
  return all;
}

TEST(EnginePrefixCache, SchedulerFakeGivesTheSameTokens) {
  SamplingOptions sp;
  sp.temperature = 0.0;
  const auto ps = shared_prompts(testing_util::kHistoryVocab);
  for (std::int64_t chunk : {512, 7}) {
    EngineOptions plain;
    plain.max_batch = 3;
    plain.prefill_chunk = chunk;
    EngineOptions cached = plain;
    cached.prefix_cache_slots = 2;
    auto m0 = std::make_unique<HistoryModel>(3, 64);
    auto m1 = std::make_unique<HistoryModel>(5, 64);
    HistoryModel* fake1 = m1.get();
    Engine e0(std::move(m0), plain, {}, {});
    Engine e1(std::move(m1), cached, {}, {});
    auto a = generate_waves(e0, ps, sp);
    auto b = generate_waves(e1, ps, sp);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens) << i;
    EXPECT_GT(e1.stats().prefix_reused_tokens, 0);
    EXPECT_EQ(e0.stats().prefix_reused_tokens, 0);
    EXPECT_EQ(e1.stats().prefill_tokens + e1.stats().prefix_reused_tokens,
              e0.stats().prefill_tokens);
    EXPECT_GT(fake1->computed, 0);
  }
}

TEST(EnginePrefixCache, TinyLlamaGivesTheSameGreedyTokensAndLogprobs) {
  auto m = tiny_model();
  SamplingOptions sp;
  sp.temperature = 0.0;
  sp.logprobs = true;
  const auto ps = shared_prompts(100);
  EngineOptions plain;
  plain.max_batch = 4;
  plain.max_seq_len = 64;
  EngineOptions cached = plain;
  cached.prefix_cache_slots = 3;
  Engine e0(*m, plain);
  Engine e1(*m, cached);
  auto a = generate_waves(e0, ps, sp);
  auto b = generate_waves(e1, ps, sp);
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].tokens, b[i].tokens) << i;
    for (std::size_t k = 0; k < a[i].logprobs.size(); ++k)
      EXPECT_NEAR(a[i].logprobs[k], b[i].logprobs[k], 1e-5) << i << ":" << k;
  }
  EXPECT_GT(e1.stats().prefix_reused_tokens, 0);
}

TEST(EngineTopLogprobs, MatchLogSoftmaxOfTheModelLogits) {
  torch::NoGradGuard g;
  auto m = tiny_model();
  EngineOptions o;
  o.max_batch = 2;
  o.max_seq_len = 64;
  Engine engine(*m, o);
  SamplingOptions sp;
  sp.temperature = 0.0;
  sp.logprobs = true;
  sp.top_logprobs = 5;
  sp.max_new_tokens = 6;
  GenerationRequest r;
  r.prompt = {3, 14, 15, 92, 65, 35};
  r.sampling = sp;
  std::vector<std::vector<std::pair<std::int32_t, float>>> streamed;
  r.on_token = [&](const TokenEvent& ev) { streamed.push_back(ev.top); };
  auto res = engine.generate({r});
  ASSERT_EQ(res[0].top_logprobs.size(), res[0].tokens.size());
  EXPECT_EQ(streamed, res[0].top_logprobs);
  // Reference: a full forward pass over prompt + generated tokens, log-softmax per step.
  std::vector<std::int64_t> seq(r.prompt.begin(), r.prompt.end());
  for (auto t : res[0].tokens) seq.push_back(t);
  auto lp = torch::log_softmax(m->forward(torch::tensor(seq, torch::kLong).unsqueeze(0))[0], -1);
  for (std::size_t k = 0; k < res[0].tokens.size(); ++k) {
    auto row = lp[static_cast<std::int64_t>(r.prompt.size() + k) - 1];
    auto [vals, ids] = row.topk(5);
    const auto& top = res[0].top_logprobs[k];
    ASSERT_EQ(top.size(), 5u);
    EXPECT_EQ(top[0].first, res[0].tokens[k]);  // greedy picks the most likely
    EXPECT_NEAR(top[0].second, res[0].logprobs[k], 1e-6);
    for (int j = 0; j < 5; ++j) {
      EXPECT_EQ(top[j].first, ids[j].item<std::int64_t>()) << k << ":" << j;
      EXPECT_NEAR(top[j].second, vals[j].item<float>(), 1e-4) << k << ":" << j;
    }
  }
  SamplingOptions bad = sp;
  bad.top_logprobs = 21;
  EXPECT_THROW(bad.validate(), Error);
}

}  // namespace
}  // namespace cai
