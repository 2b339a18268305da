#include "cai/formats/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "cai/io/file.h"
#include "test_util.h"

namespace cai {
namespace {

namespace st = safetensors;
using test::Bytes;

TEST(Safetensors, ReadsHuggingFaceFixture) {
  const auto path = test::fixtures() / "hf-model" / "model.safetensors";
  st::File f(path);
  EXPECT_EQ(f.tensors().size(), 20u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto* emb = f.find("model.embed_tokens.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->dtype, DType::F32);
  EXPECT_EQ(emb->shape, (std::vector<std::int64_t>{272, 64}));
  const auto* k = f.find("model.layers.0.self_attn.k_proj.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->dtype, DType::F16);
  EXPECT_EQ(k->shape, (std::vector<std::int64_t>{32, 64}));
  const auto* down = f.find("model.layers.1.mlp.down_proj.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->dtype, DType::BF16);
  EXPECT_EQ(down->shape, (std::vector<std::int64_t>{64, 128}));

  for (const auto& t : f.tensors()) {
    const auto v = f.read_f32(t.name);
    ASSERT_EQ(v.size(), static_cast<std::size_t>(t.numel()));
    for (float x : v) ASSERT_TRUE(std::isfinite(x)) << t.name;
  }
  // Widening through read_f32 equals widening the raw 16-bit words one by one.
  for (const auto* t : {k, down}) {
    const auto v = f.read_f32(t->name);
    const std::uint8_t* raw = f.data(*t);
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::uint16_t h;
      std::memcpy(&h, raw + 2 * i, 2);
      ASSERT_EQ(v[i], t->dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h)) << t->name;
    }
  }
  test::expect_error([&] { f.read_f32("nope"); }, {"model.safetensors", "nope"});

  st::Checkpoint dir(path.parent_path());
  EXPECT_EQ(dir.names().size(), 20u);
  EXPECT_EQ(dir.read_f32("model.norm.weight"), f.read_f32("model.norm.weight"));
  st::Checkpoint single(path);
  EXPECT_TRUE(single.has("model.norm.weight"));
  EXPECT_EQ(single.file_of("model.norm.weight"), path);
}

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * 0.7f) * scale;
  return v;
}

TEST(Safetensors, WriteReadRoundTrip) {
  const auto path = test::tmpdir() / "rt.safetensors";
  const auto a = ramp(6, 3.0f), b = ramp(10, 1000.0f), c = ramp(12, 1e-3f);
  st::write(path,
            {{"z.f32", {2, 3}, a.data(), DType::F32},
             {"b.f16", {10}, b.data(), DType::F16},
             {"m.bf16", {3, 2, 2}, c.data(), DType::BF16},
             {"empty", {0, 4}, nullptr, DType::F32}},
            {{"format", "pt"}, {"note", "hi"}});
  const std::string bytes = test::read_bytes(path);
  std::uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const auto header = nlohmann::ordered_json::parse(bytes.substr(8, n));
  std::vector<std::string> order;
  for (const auto& [key, _] : header.items()) order.push_back(key);
  EXPECT_EQ(order, (std::vector<std::string>{"__metadata__", "b.f16", "empty", "m.bf16", "z.f32"}));

  st::File f(path);
  EXPECT_EQ(f.metadata().at("note"), "hi");
  EXPECT_EQ(f.read_f32("z.f32"), a);
  EXPECT_EQ(f.find("z.f32")->shape, (std::vector<std::int64_t>{2, 3}));
  const auto rb = f.read_f32("b.f16");
  for (std::size_t i = 0; i < b.size(); ++i) EXPECT_EQ(rb[i], f16_to_f32(f32_to_f16(b[i])));
  const auto rc = f.read_f32("m.bf16");
  for (std::size_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(rc[i], bf16_to_f32(f32_to_bf16(c[i])));
    EXPECT_NEAR(rc[i], c[i], std::fabs(c[i]) / 128);
  }
  EXPECT_TRUE(f.read_f32("empty").empty());
}

TEST(Safetensors, ShardedRoundTrip) {
  const auto dir = test::tmpdir();
  std::vector<std::vector<float>> data;
  std::vector<st::TensorToWrite> ts;
  for (int k = 0; k < 5; ++k) data.push_back(ramp(100 + k, static_cast<float>(k + 1)));
  for (int k = 0; k < 5; ++k)
    ts.push_back({"layer." + std::to_string(k),
                  {static_cast<std::int64_t>(100 + k)},
                  data[k].data(),
                  k % 2 ? DType::F16 : DType::F32});
  // Byte sizes 400, 202, 408, 206, 416: no two neighbours fit in 500, so five shards.
  st::write_sharded(dir / "sharded", ts, 500);
  ASSERT_TRUE(std::filesystem::exists(dir / "sharded" / "model.safetensors.index.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "sharded" / "model-00005-of-00005.safetensors"));
  const auto index =
      nlohmann::json::parse(test::read_bytes(dir / "sharded" / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"].get<std::uint64_t>(), 400u + 202 + 408 + 206 + 416);

  st::write_sharded(dir / "single", ts, 1 << 20);
  EXPECT_TRUE(std::filesystem::exists(dir / "single" / "model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "single" / "model.safetensors.index.json"));

  st::Checkpoint sharded(dir / "sharded"), single(dir / "single");
  EXPECT_EQ(sharded.names(), single.names());
  EXPECT_EQ(sharded.names().size(), 5u);
  for (const auto& name : sharded.names()) {
    EXPECT_EQ(sharded.read_f32(name), single.read_f32(name)) << name;
    EXPECT_EQ(sharded.info(name).shape, single.info(name).shape);
  }
  EXPECT_EQ(sharded.read_f32("layer.0"), data[0]);
  EXPECT_NE(sharded.file_of("layer.0"), sharded.file_of("layer.4"));
  test::expect_error([&] { sharded.read_f32("layer.9"); }, {"layer.9"});
}

TEST(Safetensors, CheckpointIndexErrors) {
  const auto dir = test::tmpdir();
  const auto v = ramp(4, 1.0f);
  st::write(dir / "shard-a.safetensors", {{"w", {4}, v.data(), DType::F32}});
  write_file_atomic(
      dir / "model.safetensors.index.json",
      R"({"weight_map": {"w": "shard-a.safetensors", "ghost": "shard-a.safetensors"}})");
  test::expect_error([&] { st::Checkpoint c(dir); }, {"shard-a.safetensors", "ghost"});
  write_file_atomic(dir / "model.safetensors.index.json",
                    R"({"weight_map": {"w": "shard-a.safetensors", "u": "shard-b.safetensors"}})");
  test::expect_error([&] { st::Checkpoint c(dir); }, {"shard-b.safetensors", "'u'"});
  write_file_atomic(dir / "model.safetensors.index.json",
                    R"({"weight_map": {"w": "../shard-a.safetensors"}})");
  test::expect_error([&] { st::Checkpoint c(dir); }, {"../shard-a.safetensors"});
  write_file_atomic(dir / "model.safetensors.index.json", R"({"weight_map": )");
  test::expect_error([&] { st::Checkpoint c(dir); }, {"model.safetensors.index.json"});
  test::expect_error([&] { st::Checkpoint c(dir / "nothing-here"); }, {"nothing-here"});
}

// A safetensors file with the given JSON header text and `data_size` zero bytes of data.
std::string st_file(const std::string& header, std::size_t data_size) {
  Bytes b;
  b.put<std::uint64_t>(header.size()).raw(header).raw(std::string(data_size, '\0'));
  return b.s;
}

class SafetensorsMalformed : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::tmpdir(); }
  void expect_bad(const std::string& name, const std::string& bytes,
                  std::initializer_list<std::string> parts) {
    test::write_bytes(dir_ / name, bytes);
    test::expect_error([&] { st::File f(dir_ / name); }, parts);
    test::expect_error([&] { st::File f(dir_ / name); }, {name});
  }
  std::filesystem::path dir_;
};

TEST_F(SafetensorsMalformed, EveryTruncationFails) {
  const auto full = dir_ / "full.safetensors";
  const auto a = ramp(5, 1.0f), b = ramp(3, 2.0f);
  st::write(full, {{"a", {5}, a.data(), DType::F32}, {"b", {3}, b.data(), DType::F16}});
  const std::string bytes = test::read_bytes(full);
  ASSERT_NO_THROW(st::File{full});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    test::write_bytes(dir_ / "cut.safetensors", bytes.substr(0, n));
    try {
      st::File f(dir_ / "cut.safetensors");
      ADD_FAILURE() << "prefix of " << n << " bytes was accepted";
    } catch (const Error& e) {
      ASSERT_NE(std::string(e.what()).find("cut.safetensors"), std::string::npos) << e.what();
    }
  }
}

// Random byte corruption: either the file opens and every tensor reads, or cai::Error.
TEST_F(SafetensorsMalformed, RandomCorruptionNeverCrashes) {
  const auto a = ramp(6, 1.0f);
  st::write(dir_ / "base.safetensors",
            {{"a", {2, 3}, a.data(), DType::F32}, {"b", {6}, a.data(), DType::BF16}});
  const std::string base = test::read_bytes(dir_ / "base.safetensors");
  std::mt19937 rng(99);
  const auto p = dir_ / "fuzz.safetensors";
  for (int iter = 0; iter < 500; ++iter) {
    std::string bytes = base;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      const std::size_t at = rng() % bytes.size();
      bytes[at] = "0123456789,:[]{}\"-e "[rng() % 19];
    }
    test::write_bytes(p, bytes);
    try {
      st::File f(p);
      for (const auto& t : f.tensors()) f.read_f32(t.name);
    } catch (const Error&) {}
  }
}

TEST_F(SafetensorsMalformed, HeaderProblems) {
  expect_bad("short.safetensors", "abc", {"truncated"});
  Bytes huge;
  huge.put<std::uint64_t>(1ull << 62).raw("{}");
  expect_bad("hlen.safetensors", huge.s, {"header length"});
  expect_bad("json.safetensors", st_file(R"({"a": {"dtype": )", 0), {"JSON"});
  expect_bad("array.safetensors", st_file("[1, 2]", 0), {"not an object"});
  expect_bad("meta.safetensors", st_file(R"({"__metadata__": {"k": 5}})", 0), {"'k'"});
  expect_bad("fields.safetensors", st_file(R"({"w": {"dtype": "F32"}})", 0), {"tensor 'w'"});
}

TEST_F(SafetensorsMalformed, TensorEntryProblems) {
  expect_bad("dtype.safetensors",
             st_file(R"({"w.q": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 2]}})", 2),
             {"tensor 'w.q'", "Q4"});
  expect_bad("range.safetensors",
             st_file(R"({"far": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8),
             {"tensor 'far'", "data_offsets"});
  expect_bad("reversed.safetensors",
             st_file(R"({"rev": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})", 8),
             {"tensor 'rev'"});
  expect_bad("length.safetensors",
             st_file(R"({"len": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 8]}})", 8),
             {"tensor 'len'", "expected 12"});
  expect_bad("negative.safetensors",
             st_file(R"({"neg": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})", 0),
             {"tensor 'neg'", "shape"});
  expect_bad(
      "overflow.safetensors",
      st_file(
          R"({"big": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})",
          0),
      {"tensor 'big'", "overflow"});
  expect_bad("overlap.safetensors",
             st_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                     12),
             {"tensor 'b'", "overlap"});
  expect_bad("gap.safetensors",
             st_file(R"({"g": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8),
             {"tensor 'g'"});
}

}  // namespace
}  // namespace cai
