// The reward model: the last real token's hidden state through the head, the Hugging Face
// LlamaForSequenceClassification layout on disk, and save -> load round trips.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "cai/formats/safetensors.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/model/llama.h"
#include "cai/train/reward_model.h"
#include "tiny_data.h"

namespace cai::train {
namespace {

using train_test::temp_dir;
using train_test::tiny_loaded;
using train_test::write_text;

RewardModel random_rm(std::uint64_t seed) {
  RewardModel rm(tiny_loaded(seed));
  torch::NoGradGuard g;
  rm.head().normal_();
  return rm;
}

const std::vector<std::vector<std::int32_t>> kSeqs = {
    {5, 40, 41, 42, 43}, {5, 60}, {5, 70, 71, 72, 73, 74, 75, 76}, {9}};

TEST(RewardModel, RewardIsTheHeadOnTheLastRealToken) {
  auto rm = random_rm(1);
  torch::NoGradGuard g;
  // Reference: the model's hidden state at the row's last token, dotted with the head.
  std::vector<double> want;
  for (const auto& s : kSeqs) {
    const auto t = torch::tensor(std::vector<std::int64_t>(s.begin(), s.end())).view({1, -1});
    const auto h = rm.base().model->forward_hidden(t)[0][static_cast<std::int64_t>(s.size()) - 1];
    want.push_back(torch::dot(h, rm.head()[0]).item<double>());
  }
  const auto got = rm.score(kSeqs);
  for (std::size_t i = 0; i < kSeqs.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << i;
  // Padding, and what is written in it, does not matter.
  auto tokens = torch::full({2, 8}, 99, torch::kInt64);
  for (int t = 0; t < 5; ++t) tokens[0][t] = kSeqs[0][static_cast<std::size_t>(t)];
  for (int t = 0; t < 8; ++t) tokens[1][t] = kSeqs[2][static_cast<std::size_t>(t)];
  const auto r = rm.rewards(tokens, {5, 8});
  EXPECT_NEAR(r[0].item<double>(), want[0], 1e-4);
  EXPECT_NEAR(r[1].item<double>(), want[2], 1e-4);
  // A tiny token budget (one row per batch) changes nothing.
  const auto one_by_one = rm.score(kSeqs, 1);
  for (std::size_t i = 0; i < kSeqs.size(); ++i) EXPECT_NEAR(one_by_one[i], got[i], 1e-5);
}

TEST(RewardModel, NewHeadStartsAtZeroAndIsDifferentiable) {
  RewardModel rm(tiny_loaded(2));
  for (double r : rm.score(kSeqs)) EXPECT_EQ(r, 0.0);
  const auto tokens = torch::tensor({{5, 40, 41}}, torch::kInt64);
  rm.rewards(tokens, {3}).sum().backward();
  ASSERT_TRUE(rm.head().grad().defined());
  EXPECT_GT(rm.head().grad().abs().sum().item<double>(), 0);
}

TEST(RewardModel, SaveLoadRoundTripGivesIdenticalRewards) {
  auto rm = random_rm(3);
  const auto dir = temp_dir("rm_roundtrip");
  rm.save(dir);
  // The Hugging Face sequence-classification layout.
  const auto cfg = nlohmann::json::parse(read_file(dir / "config.json"));
  EXPECT_EQ(cfg["architectures"][0], "LlamaForSequenceClassification");
  EXPECT_EQ(cfg["num_labels"], 1);
  EXPECT_EQ(cfg["id2label"].size(), 1u);
  safetensors::File f(dir / "model.safetensors");
  ASSERT_NE(f.find("score.weight"), nullptr);
  EXPECT_EQ(f.find("score.weight")->shape, (std::vector<std::int64_t>{1, 32}));
  EXPECT_EQ(f.find("lm_head.weight"), nullptr);
  EXPECT_NE(f.find("model.layers.1.mlp.down_proj.weight"), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir / "tokenizer.json"));

  auto back = RewardModel::load(dir);
  EXPECT_EQ(back.score(kSeqs), rm.score(kSeqs));
  EXPECT_TRUE(torch::equal(back.head(), rm.head()));
  ASSERT_TRUE(back.base().tokenizer.has_value());
}

TEST(RewardModel, LoadErrorsNameFileAndTensor) {
  auto rm = random_rm(4);
  const auto dir = temp_dir("rm_errors");
  rm.save(dir);
  auto expect_error = [&](const std::string& what) {
    try {
      RewardModel::load(dir);
      ADD_FAILURE() << "no error, expected " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  auto cfg = nlohmann::json::parse(read_file(dir / "config.json"));
  // A causal LM directory is not a reward model.
  auto c2 = cfg;
  c2["architectures"] = {"LlamaForCausalLM"};
  write_text(dir / "config.json", c2.dump());
  expect_error("not a sequence-classification");
  c2 = cfg;
  c2["num_labels"] = 3;
  write_text(dir / "config.json", c2.dump());
  expect_error("field num_labels");
  write_text(dir / "config.json", cfg.dump());
  // Weights without the head.
  safetensors::File f(dir / "model.safetensors");
  std::vector<std::vector<float>> keep;
  std::vector<safetensors::TensorToWrite> ts;
  for (const auto& t : f.tensors()) {
    if (t.name == "score.weight") continue;
    keep.push_back(f.read_f32(t.name));
    ts.push_back({t.name, t.shape, keep.back().data(), DType::F32});
  }
  safetensors::write(dir / "model.safetensors.tmp", ts);
  std::filesystem::rename(dir / "model.safetensors.tmp", dir / "model.safetensors");
  expect_error("tensor score.weight: missing");
  EXPECT_THROW(RewardModel::load(temp_dir("rm_empty")), Error);
}

}  // namespace
}  // namespace cai::train
