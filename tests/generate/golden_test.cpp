// Scoring against log-probabilities computed by independent implementations (llama.cpp for
// the GGUF fixture, a Hugging Face-definition implementation for the safetensors one), and
// the engine's cached decoding against the scorer's uncached forward pass on the same model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "cai/generate/engine.h"
#include "cai/generate/scorer.h"
#include "cai/io/file.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"

namespace cai {
namespace {

const std::string kFixtures = CAI_FIXTURES_DIR;

struct Golden {
  std::vector<std::int32_t> tokens;
  std::vector<double> logprobs;
};

Golden read_golden(const std::string& path) {
  auto j = nlohmann::json::parse(read_file(path));
  return {j.at("tokens").get<std::vector<std::int32_t>>(),
          j.at("next_token_logprobs").get<std::vector<double>>()};
}

void check_against(LlamaModel& m, const Golden& g, double tol) {
  ASSERT_EQ(g.logprobs.size() + 1, g.tokens.size());
  auto r = score_tokens(m, g.tokens);
  ASSERT_EQ(r.token_logprobs.size(), g.logprobs.size());
  double sum = 0;
  for (std::size_t k = 0; k < g.logprobs.size(); ++k) {
    EXPECT_NEAR(r.token_logprobs[k], g.logprobs[k], tol) << "token " << k + 1;
    sum += g.logprobs[k];
  }
  EXPECT_NEAR(r.sum, sum, tol * g.logprobs.size());
  // The same text split into (prefix, continuation) pairs, batched together.
  std::vector<ScoreRequest> reqs;
  for (std::size_t cut : {std::size_t{1}, std::size_t{4}, g.tokens.size() - 2}) {
    ScoreRequest q;
    q.prefix.assign(g.tokens.begin(), g.tokens.begin() + cut);
    q.continuation.assign(g.tokens.begin() + cut, g.tokens.end());
    reqs.push_back(q);
  }
  auto res = score(m, reqs);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto off = reqs[i].prefix.size() - 1;
    for (std::size_t k = 0; k < res[i].token_logprobs.size(); ++k)
      EXPECT_NEAR(res[i].token_logprobs[k], g.logprobs[off + k], tol);
  }
}

TEST(Golden, ScoreMatchesLlamaCpp) {
  auto lm = load_model(kFixtures + "/model/tiny-llama-gqa-f32.gguf");
  check_against(*lm.model, read_golden(kFixtures + "/model/reference.json"), 2e-4);
}

TEST(Golden, ScoreMatchesHuggingFaceReference) {
  auto lm = load_model(kFixtures + "/hf-model");
  check_against(*lm.model, read_golden(kFixtures + "/hf-model/reference.json"), 2e-4);
}

TEST(Golden, CachedGenerationAgreesWithScoring) {
  auto lm = load_model(kFixtures + "/model/tiny-llama-gqa-f32.gguf");
  auto g = read_golden(kFixtures + "/model/reference.json");
  EngineOptions o;
  o.max_batch = 3;
  o.max_seq_len = 64;
  Engine engine(*lm.model, o);
  std::vector<GenerationRequest> reqs;
  for (std::size_t len : {std::size_t{13}, std::size_t{5}, std::size_t{9}, std::size_t{2}}) {
    GenerationRequest r;
    r.prompt.assign(g.tokens.begin(), g.tokens.begin() + len);
    r.sampling.temperature = 0.7;
    r.sampling.seed = 11;
    r.sampling.max_new_tokens = 12;
    r.sampling.ignore_eos = true;
    r.sampling.logprobs = true;
    reqs.push_back(r);
  }
  auto out = engine.generate(reqs);
  std::vector<ScoreRequest> sq;
  for (std::size_t i = 0; i < reqs.size(); ++i) sq.push_back({reqs[i].prompt, out[i].tokens});
  auto scored = score(*lm.model, sq);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    ASSERT_EQ(out[i].tokens.size(), 12u);
    for (std::size_t k = 0; k < 12; ++k)
      EXPECT_NEAR(out[i].logprobs[k], scored[i].token_logprobs[k], 1e-4) << i << " " << k;
  }
}

}  // namespace
}  // namespace cai
