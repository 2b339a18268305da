// The scheduler on its own, against a model-free fake whose "cache" is the token history of
// each slot and whose logits are a known function of that history. Any slip in slot
// assignment, compaction, padding, chunking or positions changes the tokens produced.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <numeric>

#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "history_model.h"

namespace cai {
namespace {

using testing_util::HistoryModel;
constexpr std::int64_t kVocab = testing_util::kHistoryVocab;
constexpr auto next_of = testing_util::history_next;

// Greedy reference: one sequence, no cache.
std::vector<std::int32_t> reference(const std::vector<std::int32_t>& prompt, std::int64_t n,
                                    std::int32_t eos = -1) {
  std::vector<std::int64_t> h(prompt.begin(), prompt.end());
  std::vector<std::int32_t> out;
  while (static_cast<std::int64_t>(out.size()) < n) {
    out.push_back(next_of(h));
    h.push_back(out.back());
    if (out.back() == eos) break;
  }
  return out;
}

std::vector<GenerationRequest> make_requests(int n, SamplingOptions sp) {
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < n; ++i) {
    GenerationRequest r;
    for (int j = 0; j < 1 + (i * 7) % 13; ++j) r.prompt.push_back((i * 5 + j * 3) % kVocab);
    r.sampling = sp;
    r.sampling.max_new_tokens = 2 + (i * 5) % 9;
    reqs.push_back(std::move(r));
  }
  return reqs;
}

Engine make_engine(std::int64_t batch, std::int64_t chunk, std::vector<std::int32_t> eos = {},
                   std::int64_t len = 64) {
  EngineOptions o;
  o.max_batch = batch;
  o.prefill_chunk = chunk;
  return Engine(std::make_unique<HistoryModel>(batch, len), o, {}, std::move(eos));
}

TEST(EngineScheduler, ContinuousBatchingMatchesReference) {
  SamplingOptions sp;
  sp.temperature = 0.0;
  for (std::int64_t batch : {1, 3, 8}) {
    for (std::int64_t chunk : {2, 5, 512}) {
      auto engine = make_engine(batch, chunk);
      auto reqs = make_requests(11, sp);
      auto copy = reqs;
      auto res = engine.generate(std::move(reqs));
      ASSERT_EQ(res.size(), copy.size());
      for (std::size_t i = 0; i < res.size(); ++i) {
        SCOPED_TRACE(testing::Message() << "batch " << batch << " chunk " << chunk << " req " << i);
        EXPECT_EQ(res[i].tokens, reference(copy[i].prompt, copy[i].sampling.max_new_tokens));
        EXPECT_EQ(res[i].finish, FinishReason::length);
        EXPECT_EQ(res[i].prompt_tokens, static_cast<std::int64_t>(copy[i].prompt.size()));
      }
      EXPECT_TRUE(engine.idle());
    }
  }
}

TEST(EngineScheduler, EosFinishesEarlyAndFreesTheSlot) {
  SamplingOptions sp;
  sp.temperature = 0.0;
  const std::int32_t eos = 5;
  auto engine = make_engine(2, 4, {eos});
  auto reqs = make_requests(9, sp);
  for (auto& r : reqs) r.sampling.max_new_tokens = 30;
  auto copy = reqs;
  auto res = engine.generate(std::move(reqs));
  int stopped = 0;
  for (std::size_t i = 0; i < res.size(); ++i) {
    auto ref = reference(copy[i].prompt, 30, eos);
    EXPECT_EQ(res[i].tokens, ref);
    EXPECT_EQ(res[i].finish, ref.back() == eos ? FinishReason::stop : FinishReason::length);
    stopped += res[i].finish == FinishReason::stop;
  }
  EXPECT_GT(stopped, 0);  // the test would prove nothing otherwise
}

TEST(EngineScheduler, SeededSamplingIndependentOfBatching) {
  SamplingOptions sp;
  sp.temperature = 1.5;
  sp.top_p = 0.95;
  sp.seed = 42;
  auto run = [&](std::int64_t batch) {
    auto engine = make_engine(batch, 3);
    std::vector<std::vector<std::int32_t>> out;
    for (auto& r : engine.generate(make_requests(7, sp))) out.push_back(r.tokens);
    return out;
  };
  auto a = run(1), b = run(4), c = run(4);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b, c);
  sp.seed = 43;
  EXPECT_NE(run(4), a);
}

TEST(EngineScheduler, CallbacksAndCancel) {
  SamplingOptions sp;
  sp.temperature = 0.0;
  sp.max_new_tokens = 50;
  auto engine = make_engine(2, 8, {}, 128);
  std::map<RequestId, int> tokens_seen;
  std::map<RequestId, FinishReason> finished;
  std::vector<RequestId> ids;
  for (int i = 0; i < 4; ++i) {
    GenerationRequest r;
    r.prompt = {1, 2, static_cast<std::int32_t>(i)};
    r.sampling = sp;
    r.on_token = [&](const TokenEvent& e) { ++tokens_seen[e.id]; };
    r.on_finish = [&](const GenerationResult& g) {
      finished[g.id] = g.finish;
      EXPECT_EQ(static_cast<int>(g.tokens.size()), tokens_seen[g.id]);
    };
    ids.push_back(engine.submit(std::move(r)));
  }
  engine.step();
  engine.step();
  engine.cancel(ids[0]);  // live
  engine.cancel(ids[3]);  // still waiting
  while (engine.step()) {}
  EXPECT_EQ(finished.size(), 4u);
  EXPECT_EQ(finished[ids[0]], FinishReason::cancelled);
  EXPECT_EQ(finished[ids[3]], FinishReason::cancelled);
  EXPECT_EQ(tokens_seen[ids[3]], 0);
  EXPECT_EQ(finished[ids[1]], FinishReason::length);
  EXPECT_EQ(tokens_seen[ids[1]], 50);
}

TEST(EngineScheduler, StopStringsWithTokenText) {
  // Token t's text is the letter 'a' + t % 26, so stop strings can be checked by hand.
  EngineOptions o;
  o.max_batch = 2;
  auto bytes = [](std::int32_t t) { return std::string(1, static_cast<char>('a' + t % 26)); };
  Engine engine(std::make_unique<HistoryModel>(2, 64), o, bytes, {});
  GenerationRequest r;
  r.prompt = {3, 1, 4};
  r.sampling.temperature = 0.0;
  r.sampling.max_new_tokens = 40;
  auto ref = reference(r.prompt, 40);
  std::string full;
  for (auto t : ref) full += bytes(t);
  const std::string stop = full.substr(10, 2);
  const auto cut = full.find(stop);
  r.sampling.stop = {stop};
  std::string streamed;
  r.on_token = [&](const TokenEvent& e) { streamed += e.text; };
  auto res = engine.generate({r});
  EXPECT_EQ(res[0].finish, FinishReason::stop);
  EXPECT_EQ(res[0].text, full.substr(0, cut));
  EXPECT_EQ(streamed, res[0].text);
  EXPECT_EQ(res[0].stop_matched, stop);
}

TEST(EngineScheduler, RejectsBadRequests) {
  auto engine = make_engine(2, 8, {}, 16);
  GenerationRequest r;
  EXPECT_THROW(engine.submit(r), Error);  // empty prompt
  r.prompt = {1, 2, static_cast<std::int32_t>(kVocab)};
  EXPECT_THROW(engine.submit(r), Error);  // id outside vocabulary
  r.prompt.assign(17, 1);
  EXPECT_THROW(engine.submit(r), Error);  // longer than the cache
  r.prompt = {1};
  r.sampling.stop = {"x"};
  EXPECT_THROW(engine.submit(r), Error);  // stop strings without token text
}

TEST(EngineScheduler, LengthCappedByCache) {
  auto engine = make_engine(1, 8, {}, 16);
  GenerationRequest r;
  r.prompt.assign(10, 2);
  r.sampling.temperature = 0.0;
  r.sampling.max_new_tokens = 100;
  auto res = engine.generate({r});
  EXPECT_EQ(res[0].tokens.size(), 7u);  // 10 + 7 - 1 = 16 cached positions
  EXPECT_EQ(res[0].finish, FinishReason::length);
}

}  // namespace
}  // namespace cai
