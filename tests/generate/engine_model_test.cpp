// The engine on a real (tiny, random) Llama: cached incremental decoding must equal a full
// forward pass, batched generation must equal one request at a time, padding must change
// nothing, and seeded sampling must be reproducible.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cai/generate/engine.h"
#include "tiny_model.h"

namespace cai {
namespace {

using testing_util::tiny_model;

std::vector<std::int32_t> prompt_of(int i) {
  std::vector<std::int32_t> p;
  for (int j = 0; j < 2 + (i * 5) % 17; ++j) p.push_back((i * 31 + j * 17 + 3) % 100);
  return p;
}

TEST(EngineModel, CachedIncrementalEqualsFullForward) {
  torch::NoGradGuard g;
  auto m = tiny_model();
  const std::int64_t T = 20;
  auto tokens = torch::randint(0, 100, {1, T}, torch::kLong);
  auto full = m->forward(tokens);  // [1,T,V]
  // Prefill 7 tokens, then one at a time.
  KVCache cache(m->config(), 2, 64);
  auto h0 = m->forward_hidden_cached(tokens.narrow(1, 0, 7), cache, 1, torch::tensor({0L}));
  auto pieces = std::vector<torch::Tensor>{m->logits(h0)};
  for (std::int64_t t = 7; t < T; ++t)
    pieces.push_back(
        m->logits(m->forward_hidden_cached(tokens.narrow(1, t, 1), cache, 1, torch::tensor({t}))));
  auto inc = torch::cat(pieces, 1);
  EXPECT_LT((inc - full).abs().max().item<float>(), 1e-4);
}

TEST(EngineModel, PaddingChangesNothing) {
  torch::NoGradGuard g;
  auto m = tiny_model();
  auto a = torch::randint(0, 100, {1, 5}, torch::kLong);
  auto b = torch::randint(0, 100, {1, 12}, torch::kLong);
  auto padded = torch::zeros({2, 12}, torch::kLong);
  padded[0].narrow(0, 0, 5).copy_(a[0]);
  padded[1].copy_(b[0]);
  auto hp = m->forward_hidden(padded);
  EXPECT_LT((hp[0].narrow(0, 0, 5) - m->forward_hidden(a)[0]).abs().max().item<float>(), 1e-4);
  EXPECT_LT((hp[1] - m->forward_hidden(b)[0]).abs().max().item<float>(), 1e-4);
}

// Greedy generation recomputing the whole sequence each token: the reference.
std::vector<std::int32_t> naive_greedy(LlamaModel& m, std::vector<std::int32_t> seq, int n) {
  torch::NoGradGuard g;
  std::vector<std::int32_t> out;
  for (int i = 0; i < n; ++i) {
    std::vector<std::int64_t> ids(seq.begin(), seq.end());
    auto logits = m.forward(torch::tensor(ids, torch::kLong).unsqueeze(0));
    auto next = static_cast<std::int32_t>(logits[0][-1].argmax().item<std::int64_t>());
    out.push_back(next);
    seq.push_back(next);
  }
  return out;
}

std::vector<GenerationResult> run(LlamaModel& m, std::int64_t batch, std::int64_t chunk,
                                  const SamplingOptions& sp, int n) {
  EngineOptions o;
  o.max_batch = batch;
  o.prefill_chunk = chunk;
  o.max_seq_len = 64;
  Engine engine(m, o);
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < n; ++i) {
    GenerationRequest r;
    r.prompt = prompt_of(i);
    r.sampling = sp;
    r.sampling.max_new_tokens = 4 + (i * 3) % 11;
    reqs.push_back(r);
  }
  return engine.generate(reqs);
}

TEST(EngineModel, GreedyEqualsNaiveAndBatchedEqualsOneAtATime) {
  auto m = tiny_model();
  SamplingOptions sp;
  sp.temperature = 0.0;
  sp.logprobs = true;
  const int n = 9;
  auto single = run(*m, 1, 512, sp, n);
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(single[i].tokens, naive_greedy(*m, prompt_of(i), 4 + (i * 3) % 11)) << i;
  for (auto [batch, chunk] : {std::pair<std::int64_t, std::int64_t>{4, 512}, {8, 3}, {3, 1}}) {
    auto batched = run(*m, batch, chunk, sp, n);
    for (int i = 0; i < n; ++i) {
      SCOPED_TRACE(testing::Message() << "batch " << batch << " chunk " << chunk << " req " << i);
      ASSERT_EQ(batched[i].tokens, single[i].tokens);
      for (std::size_t k = 0; k < single[i].logprobs.size(); ++k)
        EXPECT_NEAR(batched[i].logprobs[k], single[i].logprobs[k], 1e-4);
    }
  }
}

TEST(EngineModel, SeededSamplingIsReproducible) {
  auto m = tiny_model();
  SamplingOptions sp;
  sp.temperature = 1.0;
  sp.top_k = 50;
  sp.top_p = 0.9;
  sp.seed = 1234;
  auto a = run(*m, 8, 512, sp, 6);
  auto b = run(*m, 8, 512, sp, 6);
  auto c = run(*m, 1, 4, sp, 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    EXPECT_EQ(a[i].tokens, c[i].tokens);  // batch composition does not matter
  }
}

}  // namespace
}  // namespace cai
