// The decoder against independent references: llama.cpp's logits for a GGUF model and a
// Hugging Face-definition implementation's log-probabilities for a safetensors checkpoint.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "cai/io/file.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using cai::testing_util::kFixtures;

torch::Tensor tokens_tensor(const nlohmann::json& ids) {
  std::vector<std::int64_t> v = ids.get<std::vector<std::int64_t>>();
  return torch::tensor(v, torch::kInt64).view({1, static_cast<std::int64_t>(v.size())});
}

// log p(tokens[t+1] | tokens[..t]) for each t.
std::vector<double> next_token_logprobs(const torch::Tensor& logits, const torch::Tensor& tokens) {
  auto lp = torch::log_softmax(logits.to(torch::kFloat64), -1)[0];
  std::vector<double> out;
  for (std::int64_t t = 0; t + 1 < tokens.size(1); ++t)
    out.push_back(lp[t][tokens[0][t + 1].item<std::int64_t>()].item<double>());
  return out;
}

TEST(ModelFixture, GgufLogitsMatchLlamaCpp) {
  const fs::path dir = kFixtures / "model";
  auto ref = nlohmann::json::parse(cai::read_file(dir / "reference.json"));
  auto m = cai::load_model(dir / "tiny-llama-gqa-f32.gguf");
  EXPECT_EQ(m.format, "gguf");
  EXPECT_EQ(m.config.hidden_size, 64);
  EXPECT_EQ(m.config.num_layers, 3);
  EXPECT_EQ(m.config.num_heads, 8);
  EXPECT_EQ(m.config.num_kv_heads, 2);
  EXPECT_FALSE(m.config.tie_word_embeddings);
  EXPECT_EQ(m.stored_dtypes.at("F32"), 3 * 9 + 3);

  auto tokens = tokens_tensor(ref["tokens"]);
  const std::int64_t T = tokens.size(1);
  // llama.cpp's logits at a sample of the vocabulary (every 16th id, the prompt's tokens and
  // each position's top logit): logits-sample.json names the columns of the [T][C] f32 file.
  auto sample = nlohmann::json::parse(cai::read_file(dir / "logits-sample.json"));
  const auto columns = sample["columns"].get<std::vector<std::int64_t>>();
  const auto C = static_cast<std::int64_t>(columns.size());
  std::string raw = cai::read_file(dir / sample["file"].get<std::string>());
  ASSERT_EQ(raw.size(), static_cast<std::size_t>(T * C * 4));
  auto want = torch::from_blob(raw.data(), {T, C}, torch::kFloat32).clone();
  auto column_index = torch::tensor(columns, torch::kInt64);

  for (bool autograd : {false, true}) {
    const torch::Tensor logits = cai::testing_util::forward_logits(*m.model, tokens, autograd);
    const double err = (logits[0].index_select(1, column_index) - want).abs().max().item<double>();
    std::printf("[gguf fixture] %s path: max |logit - llama.cpp| = %.3g\n",
                autograd ? "autograd" : "fused", err);
    EXPECT_LT(err, 1e-4);
    auto lp = next_token_logprobs(logits, tokens);
    auto ref_lp = ref["next_token_logprobs"].get<std::vector<double>>();
    ASSERT_EQ(lp.size(), ref_lp.size());
    double sum = 0;
    for (std::size_t i = 0; i < lp.size(); ++i) {
      EXPECT_NEAR(lp[i], ref_lp[i], 1e-4) << "position " << i;
      sum += lp[i];
    }
    EXPECT_NEAR(sum, ref["sum_logprob"].get<double>(), 1e-3);
  }
}

TEST(ModelFixture, HfCheckpointMatchesReference) {
  const fs::path dir = kFixtures / "hf-model";
  auto ref = nlohmann::json::parse(cai::read_file(dir / "reference.json"));
  auto m = cai::load_model(dir);
  EXPECT_EQ(m.format, "safetensors");
  EXPECT_TRUE(m.config.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(m.config.rope_theta, 500000.0);
  EXPECT_GT(m.stored_dtypes.at("F16"), 0);
  EXPECT_GT(m.stored_dtypes.at("BF16"), 0);
  EXPECT_GT(m.stored_dtypes.at("F32"), 0);
  auto tokens = tokens_tensor(ref["tokens"]);
  torch::InferenceMode guard;
  auto logits = m.model->forward(tokens);
  auto lp = next_token_logprobs(logits, tokens);
  auto ref_lp = ref["next_token_logprobs"].get<std::vector<double>>();
  ASSERT_EQ(lp.size(), ref_lp.size());
  double worst = 0, sum = 0;
  for (std::size_t i = 0; i < lp.size(); ++i) {
    EXPECT_NEAR(lp[i], ref_lp[i], 1e-4) << "position " << i;
    worst = std::max(worst, std::abs(lp[i] - ref_lp[i]));
    sum += lp[i];
  }
  std::printf("[hf fixture] max |logprob - reference| = %.3g\n", worst);
  EXPECT_NEAR(sum, ref["sum_logprob"].get<double>(), 1e-3);
}

}  // namespace
