// LoRA on a frozen quantized base (QLoRA): the base stays packed in memory, its matrices out of
// the optimiser; the adapters' gradients through the custom autograd function of the packed
// matmul equal those with the base widened to F32, and match finite differences in double.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/lora.h"
#include "finite_diff.h"

namespace {

namespace fs = std::filesystem;

const fs::path kQ4KM = fs::path(CAI_FIXTURES_DIR) / "quant" / "tiny-Q4_K_M.gguf";

cai::train::LoraOptions all_linear() {
  cai::train::LoraOptions o;
  o.rank = 2;
  o.alpha = 4.0;
  o.dropout = 0.0;  // the models train (dropout would draw differently on each)
  o.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  return o;
}

std::shared_ptr<cai::train::LoraAdapter> attach(cai::LlamaModel& m) {
  torch::manual_seed(17);
  auto a = cai::train::attach_lora(m, all_linear());
  torch::NoGradGuard g;
  for (auto& [name, t] : cai::train::lora_parameters(*a))
    if (name.find("lora_B") != std::string::npos) t.copy_(torch::randn_like(t) * 0.3);
  return a;
}

// A generic scalar of the logits and its gradients w.r.t. the adapter.
std::map<std::string, torch::Tensor> adapter_grads(cai::LlamaModel& m, cai::train::LoraAdapter& a,
                                                   const torch::Tensor& tokens,
                                                   const torch::Tensor& w) {
  auto loss = (torch::log_softmax(m.forward(tokens), -1) * w).sum();
  loss.backward();
  std::map<std::string, torch::Tensor> out;
  for (auto& [name, t] : cai::train::lora_parameters(a)) out[name] = t.grad().clone();
  return out;
}

TEST(QLora, AdapterGradientsEqualThoseOnTheWidenedBase) {
  auto packed = cai::load_model(kQ4KM);
  auto widened = cai::load_model(kQ4KM);
  widened.model->unpack_weights();
  ASSERT_TRUE(packed.model->packed());
  ASSERT_FALSE(widened.model->packed());
  // Only norms are parameters of the packed base: nothing quantized reaches an optimiser.
  for (auto& p : packed.model->parameters()) EXPECT_EQ(p.dim(), 1);
  auto a = attach(*packed.model), b = attach(*widened.model);
  packed.model->train();
  widened.model->train();
  torch::manual_seed(3);
  auto tokens = torch::randint(0, packed.config.vocab_size, {2, 9}, torch::kInt64);
  auto w = torch::randn({2, 9, packed.config.vocab_size});
  auto ga = adapter_grads(*packed.model, *a, tokens, w);
  auto gb = adapter_grads(*widened.model, *b, tokens, w);
  ASSERT_EQ(ga.size(), 2u * 7 * 2);
  for (auto& [name, g] : ga) {
    const double scale = gb.at(name).abs().max().item<double>();
    ASSERT_GT(scale, 0.0) << name;
    EXPECT_LT((g - gb.at(name)).abs().max().item<double>(), 1e-5 * scale) << name;
  }
}

TEST(QLora, GradientsThroughThePackedBaseMatchFiniteDifferences) {
  auto m = cai::load_model(kQ4KM);
  m.model->to(torch::kFloat64);  // the norms; the packed matmul follows its input's dtype
  ASSERT_TRUE(m.model->packed());
  auto a = attach(*m.model);
  torch::manual_seed(4);
  auto tokens = torch::randint(0, m.config.vocab_size, {1, 6}, torch::kInt64);
  auto w = torch::randn({1, 6, m.config.vocab_size}, torch::kFloat64);
  auto f = [&] {
    torch::NoGradGuard g;
    return (torch::log_softmax(m.model->forward(tokens), -1) * w).sum().item<double>();
  };
  auto grads = adapter_grads(*m.model, *a, tokens, w);
  int checked = 0;
  for (auto& [name, t] : cai::train::lora_parameters(*a)) {
    // One adapter of the first layer and one of the last, A and B.
    if (name.find("q_proj") == std::string::npos && name.find("down_proj") == std::string::npos)
      continue;
    ASSERT_EQ(t.scalar_type(), torch::kFloat64);
    auto g = grads.at(name).view({-1});
    const std::int64_t e = g.abs().argmax().item<std::int64_t>();
    const double analytic = g[e].item<double>(),
                 numeric = cai::testing_util::central_difference(t.view({-1})[e], f);
    EXPECT_LT(std::abs(analytic - numeric), 1e-6 * std::abs(analytic) + 1e-9)
        << name << ": autograd " << analytic << ", finite differences " << numeric;
    ++checked;
  }
  EXPECT_EQ(checked, 2 * 2 * 2);
}

TEST(QLora, MergingWidensThePackedBase) {
  auto m = cai::load_model(kQ4KM);
  auto a = attach(*m.model);
  torch::manual_seed(5);
  auto tokens = torch::randint(0, m.config.vocab_size, {1, 7}, torch::kInt64);
  // Both through the differentiable path, in F32: the inference path quantizes activations to
  // 8 bits for packed weights, which alone moves logits by ~1e-2.
  const torch::Tensor adapted = m.model->forward(tokens).detach();
  cai::train::merge_lora(*m.model, *a);
  EXPECT_FALSE(m.model->packed());
  EXPECT_LT((m.model->forward(tokens).detach() - adapted).abs().max().item<double>(), 1e-4);
}

}  // namespace
