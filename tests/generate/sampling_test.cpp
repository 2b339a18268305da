// The sampler against hand-computed distributions: frequencies of many seeded draws must
// match the renormalised probabilities that temperature / top-k / top-p leave.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "cai/generate/sampling.h"
#include "cai/io/error.h"

namespace cai {
namespace {

std::vector<double> frequencies(const std::vector<float>& logits, const SamplingOptions& o,
                                int draws = 40000) {
  SamplerRng rng(o.seed, 0);
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) f[sample_token(logits, o, rng)] += 1.0 / draws;
  return f;
}

// p = (0.5, 0.3, 0.2)
const std::vector<float> kLogits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};

TEST(Sampling, GreedyIsArgmax) {
  SamplingOptions o;
  o.temperature = 0.0;
  SamplerRng rng(0, 0);
  EXPECT_EQ(sample_token(std::vector<float>{0.1f, 2.0f, -1.0f, 1.9f}, o, rng), 1);
  o.temperature = 1.0;
  o.top_k = 1;
  EXPECT_EQ(sample_token(std::vector<float>{0.1f, 2.0f, -1.0f, 1.9f}, o, rng), 1);
}

TEST(Sampling, FullDistribution) {
  SamplingOptions o;
  auto f = frequencies(kLogits, o);
  EXPECT_NEAR(f[0], 0.5, 0.01);
  EXPECT_NEAR(f[1], 0.3, 0.01);
  EXPECT_NEAR(f[2], 0.2, 0.01);
}

TEST(Sampling, Temperature) {
  SamplingOptions o;
  o.temperature = 0.5;  // p^2 renormalised: .25/.38, .09/.38, .04/.38
  auto f = frequencies(kLogits, o);
  EXPECT_NEAR(f[0], 0.25 / 0.38, 0.01);
  EXPECT_NEAR(f[1], 0.09 / 0.38, 0.01);
  EXPECT_NEAR(f[2], 0.04 / 0.38, 0.01);
}

TEST(Sampling, TopK) {
  SamplingOptions o;
  o.top_k = 2;  // 0.5/0.8, 0.3/0.8
  auto f = frequencies(kLogits, o);
  EXPECT_NEAR(f[0], 0.625, 0.01);
  EXPECT_NEAR(f[1], 0.375, 0.01);
  EXPECT_EQ(f[2], 0.0);
}

TEST(Sampling, TopP) {
  SamplingOptions o;
  o.top_p = 0.6;  // 0.5 < 0.6, so the second token is needed too
  auto f = frequencies(kLogits, o);
  EXPECT_NEAR(f[0], 0.625, 0.01);
  EXPECT_EQ(f[2], 0.0);
  o.top_p = 0.45;  // the first token alone reaches it
  f = frequencies(kLogits, o, 2000);
  EXPECT_NEAR(f[0], 1.0, 1e-9);
}

TEST(Sampling, TopPBeyondFirstSortedBlock) {
  // 1000 equal logits: p = 0.9 keeps 900 tokens, more than the first sorted block of 64.
  std::vector<float> flat(1000, 0.0f);
  SamplingOptions o;
  o.top_p = 0.9;
  SamplerRng rng(3, 0);
  int hi = 0;
  for (int i = 0; i < 4000; ++i) hi = std::max(hi, static_cast<int>(sample_token(flat, o, rng)));
  EXPECT_GE(hi, 880);
  EXPECT_LE(hi, 901);
}

TEST(Sampling, SeededStreamsAreReproducibleAndIndependent) {
  std::vector<float> flat(50, 0.0f);
  SamplingOptions o;
  auto draw = [&](std::uint64_t seed, std::uint64_t stream) {
    SamplerRng rng(seed, stream);
    std::vector<std::int32_t> out;
    for (int i = 0; i < 32; ++i) out.push_back(sample_token(flat, o, rng));
    return out;
  };
  EXPECT_EQ(draw(7, 1), draw(7, 1));
  EXPECT_NE(draw(7, 1), draw(7, 2));
  EXPECT_NE(draw(7, 1), draw(8, 1));
}

TEST(Sampling, TokenLogprob) {
  EXPECT_NEAR(token_logprob(kLogits, 1), std::log(0.3), 1e-6);
  std::vector<float> x = {1.0f, 2.0f, 3.0f};
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(token_logprob(x, 0), 1.0 - std::log(z), 1e-6);
}

TEST(Sampling, Validate) {
  SamplingOptions o;
  o.temperature = -1;
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.top_p = 0.0;
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.max_new_tokens = 0;
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.stop = {""};
  EXPECT_THROW(o.validate(), Error);
  EXPECT_NO_THROW(SamplingOptions{}.validate());
}

}  // namespace
}  // namespace cai
