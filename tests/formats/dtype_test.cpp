#include "cai/formats/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "test_util.h"

namespace cai {
namespace {

// Independent definition of an IEEE half: (-1)^s * 2^(e-15) * (1 + m/1024), subnormal
// 2^-14 * m/1024.
double half_value(std::uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  const double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return s ? -v : v;
}

TEST(DType, F16KnownPatterns) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_f32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7C01)));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
  EXPECT_EQ(f16_to_f32(0x8000), 0.0f);
}

TEST(DType, F16NarrowingRoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie -> even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.1f, -11)), 0x3C01);      // above tie
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // tie between max and 2^16 rounds to inf
  EXPECT_EQ(f32_to_f16(1e10f), 0x7C00);
  EXPECT_EQ(f32_to_f16(-1e10f), 0xFC00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (zero)
  EXPECT_EQ(f32_to_f16(std::ldexp(1.01f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 ulp -> 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.5f, -24)), 0x0400);  // carries into the normals
  EXPECT_EQ(f32_to_f16(1e-10f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
  const std::uint16_t nan = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
}

TEST(DType, F16ExhaustiveRoundTrip) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<std::uint16_t>(h));
    const int e = (h >> 10) & 31;
    if (e == 31 && (h & 1023) != 0) {
      ASSERT_TRUE(std::isnan(f)) << h;
      ASSERT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << h;
      continue;
    }
    if (e != 31) {
      ASSERT_EQ(static_cast<double>(f), half_value(static_cast<std::uint16_t>(h))) << h;
    }
    ASSERT_EQ(f32_to_f16(f), h) << h;
  }
}

TEST(DType, F16NarrowingIsNearest) {
  // For values between consecutive halves the result must be the closer one.
  for (std::uint32_t h = 0; h < 0x7BFF; h += 7) {
    const float lo = f16_to_f32(static_cast<std::uint16_t>(h));
    const float hi = f16_to_f32(static_cast<std::uint16_t>(h + 1));
    const float a = lo + (hi - lo) * 0.3f, b = lo + (hi - lo) * 0.7f;
    ASSERT_EQ(f32_to_f16(a), h);
    ASSERT_EQ(f32_to_f16(b), h + 1);
    ASSERT_EQ(f32_to_f16(-b), (h + 1) | 0x8000);
  }
}

TEST(DType, BF16) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(bf16_to_f32(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bf16_to_f32(0x0001), std::ldexp(1.0f, -133));
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7FC0)));
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x7F7FFFFFu)), 0x7F80);  // overflow -> inf
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::bit_cast<float>(0x7F800001u)))));
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const float f = bf16_to_f32(static_cast<std::uint16_t>(b));
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_bf16(f), b);
  }
}

TEST(DType, NamesAndSizes) {
  EXPECT_EQ(dtype_name(DType::BF16), "BF16");
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_EQ(dtype_size(DType::BOOL), 1u);
  EXPECT_EQ(parse_dtype("F16", "x"), DType::F16);
  EXPECT_EQ(parse_dtype("I64", "x"), DType::I64);
  test::expect_error([] { parse_dtype("F8_E4M3", "weights.safetensors"); },
                     {"weights.safetensors", "F8_E4M3"});
}

TEST(DType, ConvertUnalignedAndIntegers) {
  alignas(8) unsigned char buf[64] = {};
  const std::uint16_t h[3] = {0x3C00, 0xC000, 0x0001};
  std::memcpy(buf + 1, h, sizeof h);  // deliberately misaligned
  float out[3];
  convert_to_f32(DType::F16, buf + 1, 3, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -24));

  const std::int8_t i8[3] = {-128, 0, 127};
  convert_to_f32(DType::I8, i8, 3, out);
  EXPECT_EQ(out[0], -128.0f);
  EXPECT_EQ(out[2], 127.0f);
  const std::uint8_t u8[3] = {255, 0, 2};
  convert_to_f32(DType::BOOL, u8, 3, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 0.0f);
  convert_to_f32(DType::U8, u8, 3, out);
  EXPECT_EQ(out[0], 255.0f);
  const double d[2] = {0.5, -3.25};
  std::memcpy(buf + 3, d, sizeof d);
  convert_to_f32(DType::F64, buf + 3, 2, out);
  EXPECT_EQ(out[0], 0.5f);
  EXPECT_EQ(out[1], -3.25f);
  const std::int64_t i64[2] = {-7, 1LL << 40};
  convert_to_f32(DType::I64, i64, 2, out);
  EXPECT_EQ(out[0], -7.0f);
  EXPECT_EQ(out[1], std::ldexp(1.0f, 40));
  const std::int32_t i32[1] = {-123456};
  convert_to_f32(DType::I32, i32, 1, out);
  EXPECT_EQ(out[0], -123456.0f);
  const std::int16_t i16[1] = {-300};
  convert_to_f32(DType::I16, i16, 1, out);
  EXPECT_EQ(out[0], -300.0f);
}

}  // namespace
}  // namespace cai
