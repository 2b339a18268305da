// The generic no-grad path (plain libtorch ops, what runs on CUDA) against the fused CPU
// kernels on the CPU: the same hidden states and logits for a full forward, a batched prefill
// with mixed start positions and slots, and decode steps after it, with grouped-query
// attention and Q/K/V bias. On a packed (quantized) model it takes the dequantizing product,
// so it equals the differentiable path.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "cai/model/device.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "test_util.h"

namespace {

using cai::testing_util::max_diff;

std::shared_ptr<cai::LlamaModel> biased_model() {
  auto cfg = cai::testing_util::tiny_config();
  cfg.attention_bias = true;
  return cai::testing_util::tiny_model(cfg, 11);
}

// Tolerance relative to the values' scale: the two paths round differently (the fused one
// folds 1/sqrt(D) into q and accumulates norms in double).
void expect_close(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_LT(max_diff(a, b), 2e-5 * b.abs().max().item<double>() + 1e-5);
}

TEST(GenericKernels, FullForwardAndLogitsEqualTheFusedPath) {
  auto m = biased_model();
  torch::NoGradGuard g;
  const auto tokens = torch::randint(0, 97, {3, 9}, torch::kInt64);
  ASSERT_TRUE(m->fused());
  const auto h_fused = m->forward_hidden(tokens), l_fused = m->logits(h_fused);
  m->set_kernels(cai::Kernels::generic);
  ASSERT_FALSE(m->fused());
  const auto h_gen = m->forward_hidden(tokens), l_gen = m->logits(h_gen);
  expect_close(h_gen, h_fused);
  expect_close(l_gen, l_fused);
}

TEST(GenericKernels, CachedPrefillAndDecodeEqualTheFusedPath) {
  auto m = biased_model();
  const auto cfg = m->config();
  torch::NoGradGuard g;
  cai::KVCache fused_cache(cfg, 4, 32), gen_cache(cfg, 4, 32);
  // Prefill slots 1..2: rows start at positions 0 and 3 (row 1's first three positions come
  // from an earlier prefill of 3 tokens).
  const auto early = torch::randint(0, 97, {1, 3}, torch::kInt64);
  const auto prefill = torch::randint(0, 97, {2, 6}, torch::kInt64);
  const auto start = torch::tensor({0, 3}, torch::kInt64);
  std::vector<torch::Tensor> fused, gen;
  for (bool generic : {false, true}) {
    m->set_kernels(generic ? cai::Kernels::generic : cai::Kernels::fused);
    auto& cache = generic ? gen_cache : fused_cache;
    auto& out = generic ? gen : fused;
    m->forward_hidden_cached(early, cache, 2, torch::zeros({1}, torch::kInt64));
    out.push_back(m->forward_hidden_cached(prefill, cache, 1, start));
    // Three decode steps of one token per row.
    auto pos = start + 6;
    for (int s = 0; s < 3; ++s) {
      const auto next = torch::full({2, 1}, 7 + s, torch::kInt64);
      out.push_back(m->forward_hidden_cached(next, cache, 1, pos));
      pos = pos + 1;
    }
  }
  ASSERT_EQ(fused.size(), gen.size());
  for (std::size_t i = 0; i < fused.size(); ++i) {
    SCOPED_TRACE("call " + std::to_string(i));
    expect_close(gen[i], fused[i]);
  }
}

TEST(GenericKernels, PackedWeightsTakeTheDequantizingProduct) {
  const auto path = std::filesystem::path(CAI_FIXTURES_DIR) / "quant" / "tiny-Q4_K_M.gguf";
  auto lm = cai::load_model(path.string());
  ASSERT_TRUE(lm.model->packed());
  const auto tokens = torch::randint(0, lm.config.vocab_size, {2, 7}, torch::kInt64);
  // The differentiable path dequantizes each matrix exactly; so does the generic one.
  const auto ref = lm.model->logits(lm.model->forward_hidden(tokens)).detach();
  torch::NoGradGuard g;
  lm.model->set_kernels(cai::Kernels::generic);
  cai::KVCache cache(lm.config, 2, 16);
  const auto h = lm.model->forward_hidden_cached(tokens, cache, 0, torch::zeros({2}, torch::kInt64));
  expect_close(lm.model->logits(h), ref);
  // Placing a packed model on the CPU keeps it packed (only other devices widen it).
  cai::place_model(*lm.model, c10::Device(c10::kCPU));
  EXPECT_TRUE(lm.model->packed());
}

}  // namespace
