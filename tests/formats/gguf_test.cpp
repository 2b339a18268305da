#include "cai/formats/gguf.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"

namespace cai {
namespace {

using gguf::Reader;
using gguf::TensorType;
using gguf::ValueType;

TEST(Gguf, ReadsLlamaCppModel) {
  Reader r(test::fixtures() / "model" / "tiny-llama-gqa-f32.gguf");
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(r.get_string("general.architecture"), "llama");
  EXPECT_EQ(r.get_int("llama.embedding_length"), 64);
  EXPECT_EQ(r.get_int("llama.block_count"), 3);
  EXPECT_EQ(r.get_int("llama.attention.head_count"), 8);
  EXPECT_EQ(r.get_int("llama.attention.head_count_kv"), 2);
  EXPECT_EQ(r.get_int("llama.feed_forward_length"), 160);
  EXPECT_GT(r.get_float("llama.attention.layer_norm_rms_epsilon"), 0.0);
  EXPECT_EQ(r.get_string_array("tokenizer.ggml.tokens").size(), 32000u);
  EXPECT_EQ(r.get_float_array("tokenizer.ggml.scores").size(), 32000u);
  EXPECT_EQ(r.get_int_array("tokenizer.ggml.token_type").size(), 32000u);
  EXPECT_FALSE(r.get_int_opt("no.such.key"));

  const auto* emb = r.find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape(), (std::vector<std::int64_t>{32000, 64}));
  EXPECT_EQ(emb->ne, (std::vector<std::int64_t>{64, 32000}));
  EXPECT_EQ(emb->type, static_cast<std::uint32_t>(TensorType::F32));
  EXPECT_EQ(emb->nbytes, 32000u * 64 * 4);
  EXPECT_EQ(r.tensors().size(), 2u + 3 * 9 + 1);
  EXPECT_EQ(r.find_tensor("blk.0.ffn_down.weight")->shape(), (std::vector<std::int64_t>{64, 160}));
  for (const auto& t : r.tensors()) {
    const auto v = r.read_f32(t);
    ASSERT_EQ(v.size(), static_cast<std::size_t>(t.numel())) << t.name;
    for (float x : v) ASSERT_TRUE(std::isfinite(x)) << t.name;
  }
}

TEST(Gguf, GettersNameKeyOnMismatch) {
  Reader r(test::fixtures() / "model" / "tiny-llama-gqa-f32.gguf");
  test::expect_error([&] { r.get_int("general.architecture"); },
                     {"tiny-llama-gqa-f32.gguf", "general.architecture"});
  test::expect_error([&] { r.get_string("missing.key"); },
                     {"tiny-llama-gqa-f32.gguf", "missing.key"});
  test::expect_error([&] { r.get_string_array("llama.block_count"); }, {"llama.block_count"});
  test::expect_error([&] { r.get_bool("llama.block_count"); }, {"llama.block_count"});
}

TEST(Gguf, ReadsVocabularies) {
  const std::pair<const char*, std::size_t> vocabs[] = {{"llama-spm", 32000},
                                                        {"phi-3", 32064},
                                                        {"gpt-2", 50257},
                                                        {"starcoder", 49152},
                                                        {"falcon", 65024}};
  for (const auto& [name, n] : vocabs) {
    Reader r(test::fixtures() / "tokenizer" / (std::string("ggml-vocab-") + name + ".gguf"));
    EXPECT_EQ(r.get_string_array("tokenizer.ggml.tokens").size(), n) << name;
    EXPECT_TRUE(r.tensors().empty());
    EXPECT_TRUE(r.has("tokenizer.ggml.model"));
  }
}

TEST(Gguf, WriteReadRoundTrip) {
  const auto path = test::tmpdir() / "rt.gguf";
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 7);
  w.set_i32("neg", -5);
  w.set_u64("big", 1ull << 40);
  w.set_f32("eps", 1e-5f);
  w.set_bool("flag", true);
  w.set_string_array("tokens", {"a", "", "ü", std::string("\0x", 2)});
  w.set_f32_array("scores", {0.5f, -1.25f});
  w.set_i32_array("types", {1, -2, 3});
  w.set_u32("llama.block_count", 8);  // re-set replaces in place

  std::vector<float> a(3 * 5), b(2 * 7);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.37f - 2.0f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::sin(static_cast<float>(i)) * 100.0f;
  w.add_tensor("a", {3, 5}, a.data(), TensorType::F32);
  w.add_tensor("b", {2, 7}, b.data(), TensorType::F16);
  w.write(path);

  Reader r(path);
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(r.metadata().size(), 9u);
  EXPECT_EQ(r.get_string("general.architecture"), "llama");
  EXPECT_EQ(r.get_int("llama.block_count"), 8);
  EXPECT_EQ(r.find("llama.block_count")->type, ValueType::U32);
  EXPECT_EQ(r.get_int("neg"), -5);
  EXPECT_EQ(r.get_int("big"), 1ll << 40);
  EXPECT_EQ(r.get_float("eps"), static_cast<double>(1e-5f));
  EXPECT_TRUE(r.get_bool("flag"));
  EXPECT_EQ(r.get_int("flag"), 1);
  EXPECT_EQ(r.get_string_array("tokens"),
            (std::vector<std::string>{"a", "", "ü", std::string("\0x", 2)}));
  EXPECT_EQ(r.get_float_array("scores"), (std::vector<double>{0.5, -1.25}));
  EXPECT_EQ(r.get_int_array("types"), (std::vector<std::int64_t>{1, -2, 3}));
  EXPECT_EQ(r.find("types")->size(), 3u);

  ASSERT_EQ(r.tensors().size(), 2u);
  const auto& ta = r.tensors()[0];
  EXPECT_EQ(ta.name, "a");
  EXPECT_EQ(ta.shape(), (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(ta.offset % 32, 0u);
  EXPECT_EQ(r.read_f32(ta), a);
  const auto& tb = r.tensors()[1];
  EXPECT_EQ(tb.offset % 32, 0u);
  EXPECT_EQ(tb.type, 1u);
  EXPECT_EQ(tb.nbytes, 2u * 7 * 2);
  const auto rb = r.read_f32(tb);
  for (std::size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(rb[i], f16_to_f32(f32_to_f16(b[i])));
    EXPECT_NEAR(rb[i], b[i], std::fabs(b[i]) * (1.0 / 2048) + 1e-7);
  }
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(r.tensor_data(ta)) % 32, 0u);
}

// A hand-built Q8_0 tensor: two rows of 32, scale 0.5 (f16 0x3800) and 0.25 (0x3400).
TEST(Gguf, DequantisesQ8_0) {
  test::Bytes f;
  f.raw("GGUF").put<std::uint32_t>(3).put<std::uint64_t>(1).put<std::uint64_t>(0);
  f.str("q").put<std::uint32_t>(2).put<std::int64_t>(32).put<std::int64_t>(2);
  f.put<std::uint32_t>(8).put<std::uint64_t>(0).pad(32);
  for (int row = 0; row < 2; ++row) {
    f.put<std::uint16_t>(row == 0 ? 0x3800 : 0x3400);
    for (int k = 0; k < 32; ++k) f.put<std::int8_t>(static_cast<std::int8_t>(k - 16 + row * 90));
  }
  const auto path = test::tmpdir() / "q8.gguf";
  test::write_bytes(path, f.s);
  Reader r(path);
  const auto& t = r.tensors().at(0);
  EXPECT_EQ(t.nbytes, 68u);
  const auto v = r.read_f32(t);
  ASSERT_EQ(v.size(), 64u);
  EXPECT_EQ(v[0], -8.0f);    // 0.5 * -16
  EXPECT_EQ(v[17], 0.5f);    // 0.5 * 1
  EXPECT_EQ(v[32], 18.5f);   // 0.25 * 74
  EXPECT_EQ(v[63], 26.25f);  // 0.25 * 105
}

TEST(Gguf, WritesQ8_0LikeGgml) {
  std::vector<float> x(64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = (static_cast<float>(i) - 20.0f) * 0.1f;
  const auto path = test::tmpdir() / "q8w.gguf";
  gguf::Writer w;
  w.add_tensor("w", {2, 32}, x.data(), TensorType::Q8_0);
  w.write(path);
  Reader r(path);
  const auto v = r.read_f32(r.tensors().at(0));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float amax = i < 32 ? 2.0f : 4.3f;  // max |x| in each block
    EXPECT_NEAR(v[i], x[i], amax / 127 * 0.5 + 1e-3) << i;
  }
}

TEST(Gguf, HonoursCustomAlignment) {
  const auto path = test::tmpdir() / "align.gguf";
  gguf::Writer w;
  w.set_u32("general.alignment", 64);
  const float x[3] = {1, 2, 3}, y[2] = {4, 5};
  w.add_tensor("x", {3}, x, TensorType::F32);
  w.add_tensor("y", {2}, y, TensorType::F32);
  w.write(path);
  Reader r(path);
  EXPECT_EQ(r.find_tensor("y")->offset, 64u);
  EXPECT_EQ(r.read_f32(*r.find_tensor("y")), (std::vector<float>{4, 5}));
}

}  // namespace
}  // namespace cai
