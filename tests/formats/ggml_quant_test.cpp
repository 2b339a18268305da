// ggml's block codecs: hand-decoded blocks, quantize -> dequantize error within each format's
// step, and byte equality with the blocks llama-quantize wrote into the quant fixtures.
#include "cai/formats/ggml_quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "cai/formats/dtype.h"
#include "cai/formats/gguf.h"
#include "test_util.h"

namespace cai {
namespace {

using ggml::Type;

void put_f16(std::vector<std::uint8_t>& b, std::size_t at, float v) {
  const std::uint16_t h = f32_to_f16(v);
  std::memcpy(b.data() + at, &h, 2);
}

TEST(GgmlQuant, DecodesHandBuiltQ4_0AndQ5_1) {
  // Q4_0: d = 0.5, byte j holds value j (low nibble) and value 16 + j (high nibble).
  std::vector<std::uint8_t> b(18);
  put_f16(b, 0, 0.5f);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<std::uint8_t>(j | ((15 - j) << 4));
  std::vector<float> y(32);
  ggml::dequantize_row(Type::Q4_0, b.data(), y.data(), 32);
  EXPECT_EQ(y[0], -4.0f);   // 0.5 * (0 - 8)
  EXPECT_EQ(y[9], 0.5f);    // 0.5 * (9 - 8)
  EXPECT_EQ(y[16], 3.5f);   // 0.5 * (15 - 8)
  EXPECT_EQ(y[31], -4.0f);  // 0.5 * (0 - 8)
  // Q5_1: d = 0.25, m = -1, fifth bits set for values 1 and 17.
  std::vector<std::uint8_t> c(24);
  put_f16(c, 0, 0.25f);
  put_f16(c, 2, -1.0f);
  const std::uint32_t qh = (1u << 1) | (1u << 17);
  std::memcpy(c.data() + 4, &qh, 4);
  for (int j = 0; j < 16; ++j) c[8 + j] = static_cast<std::uint8_t>(3 | (5 << 4));
  ggml::dequantize_row(Type::Q5_1, c.data(), y.data(), 32);
  EXPECT_EQ(y[0], -0.25f);  // 0.25 * 3 - 1
  EXPECT_EQ(y[1], 3.75f);   // 0.25 * (3 + 16) - 1
  EXPECT_EQ(y[16], 0.25f);  // 0.25 * 5 - 1
  EXPECT_EQ(y[17], 4.25f);  // 0.25 * (5 + 16) - 1
}

TEST(GgmlQuant, DecodesHandBuiltQ6_K) {
  // Every value 33 (low nibble 1, high bits 2): x = d * sc_g * (33 - 32) = d * sc_g.
  std::vector<std::uint8_t> b(210);
  for (int i = 0; i < 128; ++i) b[i] = 0x11;
  for (int i = 0; i < 64; ++i) b[128 + i] = 0xAA;  // 2 in every 2-bit field
  for (int g = 0; g < 16; ++g) b[192 + g] = static_cast<std::uint8_t>(g - 8);
  put_f16(b, 208, 0.5f);
  std::vector<float> y(256);
  ggml::dequantize_row(Type::Q6_K, b.data(), y.data(), 256);
  for (int k = 0; k < 256; ++k) ASSERT_EQ(y[k], 0.5f * static_cast<float>(k / 16 - 8)) << k;
}

// The largest reconstruction error a type allows in a block of values spanning [lo, hi]: half
// a quantization step (a whole one for Q4_0 and Q5_0, see there), plus the F16 rounding of the
// stored scale and minimum (2^-11 relative, times at most 32 steps), and for the K-quants the
// rounding of the sub-block scales and minimums to 6 or 8 bits (a quarter step more).
double step_bound(Type t, double lo, double hi) {
  const double amax = std::max(std::fabs(lo), std::fabs(hi));
  const double range = hi - std::min(lo, 0.0);
  const double f16 = (std::fabs(lo) + std::fabs(hi)) / 1024;
  switch (t) {
    case Type::Q8_0:
      return amax / 127 * 0.5 + f16;
    // The scale maps the value of largest magnitude to -8 (-16): values of the other sign reach
    // only +7 (+15), so one near -amax is clamped a whole step short.
    case Type::Q4_0:
      return amax / 8 + f16;
    case Type::Q5_0:
      return amax / 16 + f16;
    case Type::Q4_1:
      return (hi - lo) / 15 * 0.5 + f16;
    case Type::Q5_1:
      return (hi - lo) / 31 * 0.5 + f16;
    case Type::Q4_K:
      return range / 15 * 0.75 + f16;
    case Type::Q5_K:
      return range / 31 * 0.75 + f16;
    case Type::Q6_K:
      return amax / 32 * 0.75 + f16;
    default:
      return amax / 256;  // F16 / BF16: relative rounding
  }
}

TEST(GgmlQuant, RoundTripErrorWithinTheStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Type t : {Type::Q8_0, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q4_K, Type::Q5_K,
                 Type::Q6_K, Type::F16, Type::BF16}) {
    const auto& tr = ggml::traits(t);
    const std::int64_t n = 1024;
    std::vector<float> x(n), y(n);
    for (std::int64_t i = 0; i < n; ++i) x[i] = normal(rng) * (i < 512 ? 0.05f : 3.0f) + 0.01f;
    x[5] = 0.0f;
    std::vector<std::uint8_t> q(ggml::row_bytes(t, n));
    ggml::quantize_row(t, x.data(), q.data(), n);
    ggml::dequantize_row(t, q.data(), y.data(), n);
    const std::int64_t block = tr.quantized ? tr.block : 32;
    double worst = 0;
    for (std::int64_t b = 0; b < n / block; ++b) {
      const auto first = x.begin() + b * block, last = first + block;
      const double lo = *std::min_element(first, last), hi = *std::max_element(first, last);
      const double bound = step_bound(t, lo, hi);
      for (std::int64_t k = b * block; k < (b + 1) * block; ++k) {
        ASSERT_LE(std::fabs(y[k] - x[k]), bound) << tr.name << " value " << k;
        worst = std::max(worst, std::fabs(y[k] - x[k]) / bound);
      }
    }
    std::printf("[round trip] %-5s worst error %.2f of the bound\n", std::string(tr.name).c_str(),
                worst);
    // Requantizing the reconstruction is stable (a fixed point for the simple types).
    if (t == Type::Q8_0 || t == Type::Q4_0) {
      std::vector<std::uint8_t> q2(q.size());
      ggml::quantize_row(t, y.data(), q2.data(), n);
      EXPECT_EQ(q2, q) << tr.name;
    }
  }
}

TEST(GgmlQuant, MatchesLlamaQuantizeByteForByte) {
  // The quant fixtures were made by llama-quantize from tiny-F32.gguf without an importance
  // matrix: quantizing the F32 rows with the same type must give the same bytes.
  const auto dir = test::fixtures() / "quant";
  gguf::Reader f32(dir / "tiny-F32.gguf");
  int compared = 0;
  for (const char* file : {"tiny-Q8_0.gguf", "tiny-Q4_0.gguf", "tiny-Q4_K_M.gguf",
                           "tiny-Q5_K_M.gguf", "tiny-Q6_K.gguf"}) {
    gguf::Reader q(dir / file);
    for (const auto& t : q.tensors()) {
      const auto* tr = ggml::traits(t.type);
      ASSERT_NE(tr, nullptr) << file << " " << t.name;
      if (!tr->quantized) continue;
      const auto* src = f32.find_tensor(t.name);
      ASSERT_NE(src, nullptr) << t.name;
      const auto x = f32.read_f32(*src);
      std::vector<std::uint8_t> mine(t.nbytes);
      const std::int64_t cols = t.ne[0], rows = t.numel() / cols;
      const std::size_t rb = ggml::row_bytes(tr->type, cols);
      for (std::int64_t r = 0; r < rows; ++r)
        ggml::quantize_row(tr->type, x.data() + r * cols, mine.data() + r * rb, cols);
      const std::uint8_t* theirs = q.tensor_data(t);
      std::size_t differ = 0;
      for (std::size_t i = 0; i < mine.size(); ++i) differ += mine[i] != theirs[i];
      EXPECT_EQ(differ, 0u) << file << " " << t.name << " (" << tr->name << ")";
      ++compared;
    }
  }
  EXPECT_GE(compared, 5 * 14);
}

TEST(GgmlQuant, TypeNamesAndSizes) {
  Type t;
  ASSERT_TRUE(ggml::parse_type("q4_k", &t));
  EXPECT_EQ(t, Type::Q4_K);
  EXPECT_FALSE(ggml::parse_type("q3_k", &t));
  EXPECT_EQ(ggml::type_name(11), "Q3_K");
  EXPECT_EQ(ggml::traits(11u), nullptr);
  EXPECT_EQ(ggml::row_bytes(Type::Q4_K, 512), 288u);
  EXPECT_EQ(ggml::row_bytes(Type::Q6_K, 256), 210u);
  EXPECT_EQ(ggml::row_bytes(Type::Q5_0, 64), 44u);
  EXPECT_THROW(ggml::row_bytes(Type::Q4_K, 288), Error);
}

}  // namespace
}  // namespace cai
