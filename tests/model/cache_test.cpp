// The cached forward (prefill + decode, mixed start positions, slots) agrees with the full
// forward; batching and right padding do not change real positions.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <optional>

#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "test_util.h"

namespace {

using cai::testing_util::max_diff;
using cai::testing_util::tiny_config;
using cai::testing_util::tiny_model;

torch::Tensor random_tokens(std::int64_t B, std::int64_t T, std::int64_t V) {
  return torch::randint(0, V, {B, T}, torch::kInt64);
}

TEST(ModelCache, FusedPathMatchesAutogradPath) {
  auto cfg = tiny_config();
  auto m = tiny_model(cfg);
  auto tokens = random_tokens(3, 11, cfg.vocab_size);
  auto ref = m->forward_hidden(tokens).detach();
  ASSERT_TRUE(torch::GradMode::is_enabled());
  torch::InferenceMode g;
  // Same function, different rounding (fused kernels, scale folded into q): relative check.
  EXPECT_LT(max_diff(m->forward_hidden(tokens), ref), 1e-5 * ref.abs().max().item<double>() + 1e-5);
}

TEST(ModelCache, PrefillThenDecodeEqualsFullForward) {
  auto cfg = tiny_config();
  auto m = tiny_model(cfg);
  torch::InferenceMode g;
  const std::int64_t T = 12, P = 5;
  auto tokens = random_tokens(1, T, cfg.vocab_size);
  auto full = m->forward_hidden(tokens);
  cai::KVCache cache(cfg, 3, 32);
  // Slot 1 of 3, to check slot addressing.
  auto h =
      m->forward_hidden_cached(tokens.narrow(1, 0, P), cache, 1, torch::tensor({0}, torch::kInt64));
  EXPECT_LT(max_diff(h, full.narrow(1, 0, P)), 1e-5);
  for (std::int64_t t = P; t < T; ++t) {
    auto step = m->forward_hidden_cached(tokens.narrow(1, t, 1), cache, 1,
                                         torch::tensor({t}, torch::kInt64));
    EXPECT_LT(max_diff(step, full.narrow(1, t, 1)), 1e-5) << "position " << t;
  }
}

TEST(ModelCache, RowsWithDifferentStartPositions) {
  auto cfg = tiny_config();
  auto m = tiny_model(cfg);
  torch::InferenceMode g;
  auto a = random_tokens(1, 10, cfg.vocab_size), b = random_tokens(1, 10, cfg.vocab_size);
  auto c = random_tokens(1, 10, cfg.vocab_size);
  auto fa = m->forward_hidden(a), fb = m->forward_hidden(b), fc = m->forward_hidden(c);
  cai::KVCache cache(cfg, 4, 16);
  // Prefill three slots (1..3) to different lengths, one row at a time.
  m->forward_hidden_cached(a.narrow(1, 0, 6), cache, 1, torch::tensor({0}, torch::kInt64));
  m->forward_hidden_cached(b.narrow(1, 0, 3), cache, 2, torch::tensor({0}, torch::kInt64));
  m->forward_hidden_cached(c.narrow(1, 0, 1), cache, 3, torch::tensor({0}, torch::kInt64));
  // Two tokens per row in one batch, at starts 6, 3, 1.
  auto step = torch::cat({a.narrow(1, 6, 2), b.narrow(1, 3, 2), c.narrow(1, 1, 2)}, 0);
  auto h = m->forward_hidden_cached(step, cache, 1, torch::tensor({6, 3, 1}, torch::kInt64));
  EXPECT_LT(max_diff(h[0], fa[0].narrow(0, 6, 2)), 1e-5);
  EXPECT_LT(max_diff(h[1], fb[0].narrow(0, 3, 2)), 1e-5);
  EXPECT_LT(max_diff(h[2], fc[0].narrow(0, 1, 2)), 1e-5);
  // Then one token each, still at different positions.
  auto step2 = torch::cat({a.narrow(1, 8, 1), b.narrow(1, 5, 1), c.narrow(1, 3, 1)}, 0);
  auto h2 = m->forward_hidden_cached(step2, cache, 1, torch::tensor({8, 5, 3}, torch::kInt64));
  EXPECT_LT(max_diff(h2[0][0], fa[0][8]), 1e-5);
  EXPECT_LT(max_diff(h2[1][0], fb[0][5]), 1e-5);
  EXPECT_LT(max_diff(h2[2][0], fc[0][3]), 1e-5);
}

TEST(ModelCache, MoveSlotKeepsTheSequence) {
  auto cfg = tiny_config();
  auto m = tiny_model(cfg);
  torch::InferenceMode g;
  auto a = random_tokens(1, 8, cfg.vocab_size);
  auto full = m->forward_hidden(a);
  cai::KVCache cache(cfg, 4, 16);
  m->forward_hidden_cached(a.narrow(1, 0, 7), cache, 3, torch::tensor({0}, torch::kInt64));
  cache.move_slot(3, 0, 7);
  auto h = m->forward_hidden_cached(a.narrow(1, 7, 1), cache, 0, torch::tensor({7}, torch::kInt64));
  EXPECT_LT(max_diff(h[0][0], full[0][7]), 1e-5);
}

TEST(ModelCache, BatchedRowsEqualOneAtATime) {
  auto cfg = tiny_config();
  auto m = tiny_model(cfg);
  auto tokens = random_tokens(4, 9, cfg.vocab_size);
  for (bool inference : {true, false}) {
    std::optional<torch::InferenceMode> g;
    if (inference) g.emplace();
    auto batched = m->forward(tokens);
    // The autograd path runs on the system BLAS, whose kernels (and so rounding) depend on the
    // matrix sizes: compare relative to the logits' scale there.
    const double scale = inference ? 1.0 : batched.abs().max().item<double>();
    for (std::int64_t b = 0; b < 4; ++b)
      EXPECT_LT(max_diff(batched[b], m->forward(tokens.narrow(0, b, 1))[0]), 1e-5 * scale)
          << "row " << b << (inference ? " (inference)" : " (autograd)");
  }
}

TEST(ModelCache, RightPaddingChangesNothingAtRealPositions) {
  auto cfg = tiny_config();
  auto m = tiny_model(cfg);
  torch::InferenceMode g;
  auto real = random_tokens(1, 7, cfg.vocab_size);
  auto padded = torch::cat({real, random_tokens(1, 5, cfg.vocab_size)}, 1);
  EXPECT_LT(max_diff(m->forward(padded).narrow(1, 0, 7), m->forward(real)), 1e-5);
  // The same in the cached path with rows of different real lengths.
  auto other = random_tokens(1, 12, cfg.vocab_size);
  cai::KVCache cache(cfg, 2, 16);
  auto h = m->forward_hidden_cached(torch::cat({padded, other}, 0), cache, 0,
                                    torch::zeros({2}, torch::kInt64));
  EXPECT_LT(max_diff(h[0].narrow(0, 0, 7), m->forward_hidden(real)[0]), 1e-5);
  // Decoding row 0 from its real length overwrites the pad entries it needs.
  auto next = random_tokens(1, 1, cfg.vocab_size);
  auto h2 = m->forward_hidden_cached(torch::cat({next, next}, 0), cache, 0,
                                     torch::tensor({7, 12}, torch::kInt64));
  auto want = m->forward_hidden(torch::cat({real, next}, 1))[0][7];
  EXPECT_LT(max_diff(h2[0][0], want), 1e-5);
}

TEST(ModelCache, RejectsPositionsBeyondTheCache) {
  auto cfg = tiny_config();
  auto m = tiny_model(cfg);
  torch::InferenceMode g;
  cai::KVCache cache(cfg, 1, 8);
  EXPECT_THROW(m->forward_hidden_cached(random_tokens(1, 4, cfg.vocab_size), cache, 0,
                                        torch::tensor({5}, torch::kInt64)),
               cai::Error);
  EXPECT_THROW(m->forward_hidden_cached(random_tokens(2, 1, cfg.vocab_size), cache, 0,
                                        torch::tensor({0, 0}, torch::kInt64)),
               cai::Error);
}

TEST(ModelCache, GradientsReachTheFusedParameters) {
  auto cfg = tiny_config();
  auto m = tiny_model(cfg);
  auto logits = m->forward(random_tokens(2, 6, cfg.vocab_size));
  logits.logsumexp(-1).sum().backward();
  for (const auto& item : m->named_parameters()) {
    const torch::Tensor& p = item.value();
    ASSERT_TRUE(p.grad().defined()) << item.key();
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0) << item.key();
  }
}

TEST(ModelCache, PackedModelsCacheInF16AndDecodeAsTheyPrefill) {
  // A quantized file decodes over an F16 cache (llama.cpp's default for such files): prefill
  // then decode equals the full forward, which rounds its keys and values the same way, and
  // stays within the half rounding of an F32 cache. An F32 model keeps an F32 cache.
  EXPECT_EQ(tiny_model(tiny_config())->cache_dtype(), torch::kFloat32);
  const auto path = std::filesystem::path(CAI_FIXTURES_DIR) / "quant" / "tiny-Q4_K_M.gguf";
  auto lm = cai::load_model(path.string());
  ASSERT_TRUE(lm.model->packed());
  ASSERT_EQ(lm.model->cache_dtype(), torch::kHalf);
  torch::InferenceMode g;
  const std::int64_t T = 10, P = 4;
  auto tokens = random_tokens(1, T, lm.config.vocab_size);
  auto full = lm.model->forward_hidden(tokens);
  cai::KVCache cache(lm.config, 2, 16, torch::kCPU, lm.model->cache_dtype());
  auto h = lm.model->forward_hidden_cached(tokens.narrow(1, 0, P), cache, 1,
                                           torch::tensor({0}, torch::kInt64));
  EXPECT_LT(max_diff(h, full.narrow(1, 0, P)), 1e-4);
  for (std::int64_t t = P; t < T; ++t) {
    auto step = lm.model->forward_hidden_cached(tokens.narrow(1, t, 1), cache, 1,
                                                torch::tensor({t}, torch::kInt64));
    EXPECT_LT(max_diff(step, full.narrow(1, t, 1)), 1e-4) << "position " << t;
  }
  cai::KVCache f32(lm.config, 1, 16);
  auto h32 = lm.model->forward_hidden_cached(tokens, f32, 0, torch::tensor({0}, torch::kInt64));
  const double scale = full.abs().max().item<double>();
  EXPECT_GT(max_diff(h32, full), 0.0);           // the half rounding is there
  EXPECT_LT(max_diff(h32, full), 3e-2 * scale);  // 1.5% on this random model
}

}  // namespace
