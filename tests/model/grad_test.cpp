// The differentiable path's gradients against central finite differences in double precision,
// the F32 fused path against the differentiable one, and the adapter hook against the
// equivalent change of the weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <map>
#include <string>

#include "cai/io/error.h"
#include "cai/model/llama.h"

namespace {

cai::ModelConfig grad_config(bool tied_with_bias) {
  cai::ModelConfig c;
  c.vocab_size = 41;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = tied_with_bias ? 4 : 2;
  c.head_dim = 4;
  c.max_position_embeddings = 32;
  c.tie_word_embeddings = tied_with_bias;
  c.attention_bias = tied_with_bias;
  return c;
}

// Weights large enough that attention is far from uniform, norms and biases away from their
// trivial initial values so that their gradients are generic.
std::shared_ptr<cai::LlamaModel> make_model(const cai::ModelConfig& cfg, std::uint64_t seed) {
  torch::manual_seed(seed);
  auto m = std::make_shared<cai::LlamaModel>(cfg);
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) {
    if (p.dim() == 2)
      p.mul_(10.0);
    else
      p.add_(torch::randn_like(p) * 0.2);
  }
  return m;
}

std::map<std::string, torch::Tensor> by_name(cai::LlamaModel& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : m.named_parameters()) out.emplace(item.key(), item.value());
  return out;
}

// A generic scalar of the logits: a fixed random weighting of the log-probabilities.
double objective(cai::LlamaModel& m, const torch::Tensor& tokens, const torch::Tensor& w) {
  torch::NoGradGuard g;
  return (torch::log_softmax(m.forward(tokens), -1) * w).sum().item<double>();
}

// Central differences of `objective` w.r.t. entry `flat` of parameter `p` (perturbed in place).
double central_difference(cai::LlamaModel& m, torch::Tensor p, std::int64_t flat,
                          const torch::Tensor& tokens, const torch::Tensor& w, double h) {
  auto entry = p.view({-1})[flat];  // a view, so in-place updates reach the parameter
  double orig;
  {
    torch::NoGradGuard g;
    orig = entry.item<double>();
    entry.fill_(orig + h);
  }
  const double up = objective(m, tokens, w);
  {
    torch::NoGradGuard g;
    entry.fill_(orig - h);
  }
  const double down = objective(m, tokens, w);
  {
    torch::NoGradGuard g;
    entry.fill_(orig);
  }
  return (up - down) / (2 * h);
}

class ModelGrad : public ::testing::TestWithParam<bool> {};

TEST_P(ModelGrad, DoublePrecisionGradientsMatchFiniteDifferences) {
  const auto cfg = grad_config(GetParam());
  auto m = make_model(cfg, 3);
  m->to(torch::kFloat64);
  torch::manual_seed(4);
  const std::int64_t B = 2, T = 5;
  auto tokens = torch::randint(0, cfg.vocab_size, {B, T}, torch::kInt64);
  auto w = torch::randn({B, T, cfg.vocab_size}, torch::kFloat64);

  auto loss = (torch::log_softmax(m->forward(tokens), -1) * w).sum();
  ASSERT_EQ(loss.scalar_type(), torch::kFloat64);
  loss.backward();
  EXPECT_NEAR(loss.item<double>(), objective(*m, tokens, w), 1e-12 * std::abs(loss.item<double>()));

  auto params = by_name(*m);
  std::vector<std::string> names = {
      "embed_tokens",    "layer0_wqkv",      "layer1_attn_norm", "layer0_wo",
      "layer1_mlp_norm", "layer0_w_gate_up", "layer1_w_down",    "norm"};
  if (cfg.attention_bias) names.push_back("layer1_bqkv");
  if (!cfg.tie_word_embeddings) names.push_back("lm_head");
  int checked = 0;
  double worst = 0;
  for (const auto& name : names) {
    ASSERT_TRUE(params.count(name)) << name;
    torch::Tensor p = params.at(name);
    ASSERT_EQ(p.scalar_type(), torch::kFloat64) << name;
    auto g = p.grad().view({-1});
    // The entry with the largest gradient (for the embedding: a row the tokens use) and two
    // more spread over the tensor, skipping entries whose gradient is negligible.
    std::vector<std::int64_t> entries = {g.abs().argmax().item<std::int64_t>(), g.numel() / 3,
                                         (2 * g.numel()) / 3 + 1};
    const double gmax = g.abs().max().item<double>();
    for (std::int64_t e : entries) {
      const double analytic = g[e].item<double>();
      if (std::abs(analytic) < 1e-3 * gmax) continue;
      const double numeric = central_difference(*m, p, e, tokens, w, 1e-5);
      const double rel = std::abs(analytic - numeric) / std::abs(analytic);
      worst = std::max(worst, rel);
      EXPECT_LT(rel, 1e-6) << name << "[" << e << "]: autograd " << analytic
                           << ", finite differences " << numeric;
      ++checked;
    }
  }
  EXPECT_GE(checked, static_cast<int>(names.size()));
  std::printf("[grad] %d entries, max relative error vs finite differences %.3g\n", checked, worst);
}

INSTANTIATE_TEST_SUITE_P(Configs, ModelGrad, ::testing::Values(false, true), [](const auto& info) {
  return info.param ? "TiedWithBias" : "GqaUntied";
});

TEST(ModelGrad, FusedPathMatchesDifferentiablePathInF32) {
  const auto cfg = grad_config(false);
  auto m = make_model(cfg, 5);
  auto tokens = torch::randint(0, cfg.vocab_size, {3, 9}, torch::kInt64);
  auto ref = m->forward(tokens).detach();  // autograd on: the differentiable path
  torch::Tensor fused;
  {
    torch::NoGradGuard g;
    fused = m->forward(tokens);
  }
  ASSERT_EQ(fused.scalar_type(), torch::kFloat32);
  EXPECT_LT((fused - ref).abs().max().item<double>(),
            1e-4 * std::max(1.0, ref.abs().max().item<double>()));
}

TEST(ModelGrad, DoubleModelMatchesF32AndRefusesTheCachedPath) {
  const auto cfg = grad_config(true);
  auto m = make_model(cfg, 6);
  auto tokens = torch::randint(0, cfg.vocab_size, {2, 7}, torch::kInt64);
  torch::NoGradGuard g;
  auto f32 = m->forward(tokens);
  m->to(torch::kFloat64);
  auto f64 = m->forward(tokens);  // no autograd, yet the differentiable ops in double
  ASSERT_EQ(f64.scalar_type(), torch::kFloat64);
  EXPECT_LT((f64 - f32.to(torch::kFloat64)).abs().max().item<double>(),
            1e-4 * std::max(1.0, f32.abs().max().item<double>()));
  cai::KVCache cache(cfg, 2, 8);
  EXPECT_THROW(m->forward_hidden_cached(tokens, cache, 0, torch::zeros({2}, torch::kInt64)),
               cai::Error);
}

// Adds x M_p^T to projection p: the same function as W_p += M_p.
class LinearDelta : public cai::LinearAdapter {
 public:
  std::map<std::pair<std::int64_t, cai::Proj>, torch::Tensor> m;
  torch::Tensor delta(std::int64_t layer, cai::Proj p, const torch::Tensor& x, bool) override {
    auto it = m.find({layer, p});
    return it == m.end() ? torch::Tensor() : torch::linear(x, it->second);
  }
};

TEST(ModelGrad, AdapterDeltaEqualsTheWeightChange) {
  using cai::Proj;
  const auto cfg = grad_config(false);
  const std::vector<Proj> projs = {Proj::q,    Proj::k,  Proj::v,   Proj::o,
                                   Proj::gate, Proj::up, Proj::down};
  auto tokens = torch::randint(0, cfg.vocab_size, {2, 6}, torch::kInt64);
  // One projection at a time, so an adapter landing in the wrong rows of q|k|v or gate|up
  // cannot be compensated by another.
  for (Proj p : projs) {
    for (std::int64_t layer : {0, 1}) {
      auto adapted = make_model(cfg, 7), moved = make_model(cfg, 7);
      adapted->to(torch::kFloat64);
      moved->to(torch::kFloat64);
      const std::string wname =
          std::string("model.layers.") + std::to_string(layer) +
          (p == Proj::gate || p == Proj::up || p == Proj::down ? ".mlp." : ".self_attn.") +
          cai::proj_name(p) + ".weight";
      torch::Tensor w;
      for (auto& [n, t] : moved->hf_parameters())
        if (n == wname) w = t;
      ASSERT_TRUE(w.defined()) << wname;
      auto delta = torch::randn(w.sizes(), torch::kFloat64);
      auto hook = std::make_shared<LinearDelta>();
      hook->m[{layer, p}] = delta;
      adapted->set_adapter(hook);
      ASSERT_EQ(adapted->adapter(), hook.get());
      torch::NoGradGuard g;
      w.add_(delta);  // through the view into the fused storage
      auto a = adapted->forward(tokens), b = moved->forward(tokens);
      EXPECT_LT((a - b).abs().max().item<double>(),
                1e-9 * std::max(1.0, b.abs().max().item<double>()))
          << wname;
      // And the change is not vacuous.
      adapted->set_adapter(nullptr);
      EXPECT_GT((adapted->forward(tokens) - b).abs().max().item<double>(), 1e-6) << wname;
    }
  }
}

TEST(ModelGrad, AttachedAdapterBlocksTheCachedPathOnly) {
  const auto cfg = grad_config(false);
  auto m = make_model(cfg, 8);
  auto tokens = torch::randint(0, cfg.vocab_size, {1, 5}, torch::kInt64);
  auto hook = std::make_shared<LinearDelta>();
  hook->m[{0, cai::Proj::o}] = torch::randn({cfg.hidden_size, cfg.num_heads * cfg.head_dim});
  m->set_adapter(hook);
  auto with_grad = m->forward(tokens).detach();
  torch::NoGradGuard g;
  // Without autograd forward_hidden still applies the adapter (differentiable ops, no graph).
  EXPECT_TRUE(torch::allclose(m->forward(tokens), with_grad, 1e-6, 1e-6));
  cai::KVCache cache(cfg, 1, 8);
  try {
    m->forward_hidden_cached(tokens, cache, 0, torch::zeros({1}, torch::kInt64));
    FAIL() << "expected an error";
  } catch (const cai::Error& e) {
    EXPECT_NE(std::string(e.what()).find("merge"), std::string::npos) << e.what();
  }
  m->set_adapter(nullptr);
  EXPECT_NO_THROW(m->forward_hidden_cached(tokens, cache, 0, torch::zeros({1}, torch::kInt64)));
}

}  // namespace
