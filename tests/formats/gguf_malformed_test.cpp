// Corrupt GGUF files built byte by byte: each must fail with a cai::Error naming the file and
// the key or tensor at fault, never crash, over-read or allocate absurd amounts.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "cai/formats/gguf.h"
#include "test_util.h"

namespace cai {
namespace {

using test::Bytes;

// Header + given kv bytes + tensor info bytes, padded to 32, then `data`.
std::string gguf(std::uint64_t n_kv, const std::string& kv, std::uint64_t n_t,
                 const std::string& infos, const std::string& data, std::uint32_t version = 3) {
  Bytes b;
  b.raw("GGUF").put(version).put(n_t).put(n_kv).raw(kv).raw(infos).pad(32).raw(data);
  return b.s;
}

std::string info(const std::string& name, std::vector<std::int64_t> ne, std::uint32_t type,
                 std::uint64_t offset) {
  Bytes b;
  b.str(name).put<std::uint32_t>(static_cast<std::uint32_t>(ne.size()));
  for (auto n : ne) b.put(n);
  b.put(type).put(offset);
  return b.s;
}

std::string kv_u32(const std::string& key, std::uint32_t v) {
  return Bytes().str(key).put<std::uint32_t>(4).put(v).s;
}

class GgufMalformed : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::tmpdir(); }
  // Writes `bytes` to a file called `name` and expects opening it to fail with `parts`.
  void expect_bad(const std::string& name, const std::string& bytes,
                  std::initializer_list<std::string> parts) {
    const auto p = dir_ / name;
    test::write_bytes(p, bytes);
    test::expect_error([&] { gguf::Reader r(p); }, parts);
    test::expect_error([&] { gguf::Reader r(p); }, {name});
  }
  std::filesystem::path dir_;
};

TEST_F(GgufMalformed, EveryTruncationFails) {
  const auto full = dir_ / "full.gguf";
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("n", 3);
  w.set_f32("f", 0.5f);
  w.set_bool("b", false);
  w.set_string_array("tokens", {"x", "yz"});
  w.set_i32_array("ids", {1, 2});
  std::vector<float> a(8, 1.0f), c(16, 2.0f);  // sizes that end on the 32-byte alignment
  w.add_tensor("a", {2, 4}, a.data(), gguf::TensorType::F32);
  w.add_tensor("c", {4, 4}, c.data(), gguf::TensorType::F16);
  w.write(full);
  const std::string bytes = test::read_bytes(full);
  ASSERT_NO_THROW(gguf::Reader{full});
  const auto cut = dir_ / "cut.gguf";
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    test::write_bytes(cut, bytes.substr(0, n));
    try {
      gguf::Reader r(cut);
      ADD_FAILURE() << "prefix of " << n << " bytes was accepted";
    } catch (const Error& e) {
      ASSERT_NE(std::string(e.what()).find("cut.gguf"), std::string::npos) << e.what();
    }
  }
}

// Random byte corruption: the reader either accepts the file (and then every tensor reads)
// or throws cai::Error; anything else (another exception, a sanitizer report) is a bug.
TEST_F(GgufMalformed, RandomCorruptionNeverCrashes) {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string_array("tokens", {"a", "bc", "def"});
  w.set_f32_array("scores", {1, 2, 3});
  std::vector<float> a(64, 0.25f);
  w.add_tensor("a", {2, 32}, a.data(), gguf::TensorType::Q8_0);
  w.add_tensor("b", {8}, a.data(), gguf::TensorType::F16);
  w.write(dir_ / "base.gguf");
  const std::string base = test::read_bytes(dir_ / "base.gguf");
  std::mt19937 rng(1234);
  const auto p = dir_ / "fuzz.gguf";
  for (int iter = 0; iter < 500; ++iter) {
    std::string bytes = base;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const std::size_t at = rng() % std::min<std::size_t>(bytes.size(), 200);  // the header
      bytes[at] = static_cast<char>(rng() % 3 == 0 ? 0xFF : rng());
    }
    test::write_bytes(p, bytes);
    try {
      gguf::Reader r(p);
      for (const auto& t : r.tensors()) r.read_f32(t);
    } catch (const Error&) {}
  }
}

TEST_F(GgufMalformed, BadMagicAndVersion) {
  expect_bad("magic.gguf", "GGUX" + gguf(0, "", 0, "", "").substr(4), {"magic"});
  expect_bad("v1.gguf", gguf(0, "", 0, "", "", 1), {"version 1"});
}

TEST_F(GgufMalformed, AbsurdCountsFailFast) {
  expect_bad("kv.gguf", gguf(1ull << 60, "", 0, "", ""), {"metadata count"});
  expect_bad("tensors.gguf", gguf(0, "", 1ull << 60, "", ""), {"tensor count"});
  expect_bad("arr.gguf",
             gguf(1,
                  Bytes()
                      .str("tok")
                      .put<std::uint32_t>(9)
                      .put<std::uint32_t>(8)
                      .put<std::uint64_t>(1ull << 62)
                      .s,
                  0, "", ""),
             {"key 'tok'", "array length"});
  expect_bad("strlen.gguf",
             gguf(1,
                  Bytes()
                      .str("name")
                      .put<std::uint32_t>(8)
                      .put<std::uint64_t>(std::numeric_limits<std::uint64_t>::max())
                      .s,
                  0, "", ""),
             {"key 'name'", "truncated"});
  expect_bad("keylen.gguf",
             gguf(1, Bytes().put<std::uint64_t>(1ull << 40).s + std::string(40, 'k'), 0, "", ""),
             {"metadata entry 0", "truncated"});
}

TEST_F(GgufMalformed, UnknownValueTypes) {
  expect_bad(
      "vt.gguf",
      gguf(1, Bytes().str("bad.key").put<std::uint32_t>(99).put<std::uint32_t>(0).s, 0, "", ""),
      {"key 'bad.key'", "unknown value type 99"});
  expect_bad("et.gguf",
             gguf(1,
                  Bytes()
                      .str("arr.key")
                      .put<std::uint32_t>(9)
                      .put<std::uint32_t>(13)
                      .put<std::uint64_t>(1)
                      .put<std::uint32_t>(0)
                      .s,
                  0, "", ""),
             {"key 'arr.key'", "element type 13"});
  Bytes deep;
  deep.str("deep");
  deep.put<std::uint32_t>(9);
  for (int k = 0; k < 40; ++k) deep.put<std::uint32_t>(9).put<std::uint64_t>(1);
  deep.put<std::uint32_t>(4).put<std::uint64_t>(1).put<std::uint32_t>(0);
  expect_bad("deep.gguf", gguf(1, deep.s, 0, "", ""), {"key 'deep'", "nested"});
}

TEST_F(GgufMalformed, DuplicatesAndAlignment) {
  expect_bad("dupkey.gguf", gguf(2, kv_u32("k", 1) + kv_u32("k", 2), 0, "", ""),
             {"key 'k'", "duplicate"});
  const std::string data(64, '\0');
  expect_bad("duptensor.gguf", gguf(0, "", 2, info("w", {4}, 0, 0) + info("w", {4}, 0, 32), data),
             {"tensor 'w'", "duplicate"});
  expect_bad("align0.gguf", gguf(1, kv_u32("general.alignment", 0), 0, "", ""),
             {"general.alignment", "power of two"});
  expect_bad("align3.gguf", gguf(1, kv_u32("general.alignment", 3), 0, "", ""),
             {"general.alignment"});
  expect_bad("misaligned.gguf", gguf(0, "", 1, info("m", {4}, 0, 4), data),
             {"tensor 'm'", "multiple of the alignment"});
}

TEST_F(GgufMalformed, BadTensorInfos) {
  const std::string data(64, '\0');
  expect_bad("ndims.gguf", gguf(0, "", 1, info("t5", {1, 1, 1, 1, 1}, 0, 0), data),
             {"tensor 't5'", "n_dims 5"});
  expect_bad("zero.gguf", gguf(0, "", 1, info("z", {4, 0}, 0, 0), data), {"tensor 'z'"});
  expect_bad("neg.gguf", gguf(0, "", 1, info("n", {-4}, 0, 0), data), {"tensor 'n'"});
  expect_bad("overflow.gguf",
             gguf(0, "", 1, info("o", {1ll << 31, 1ll << 31, 1ll << 31}, 0, 0), data),
             {"tensor 'o'", "overflow"});
  expect_bad("bytes_overflow.gguf", gguf(0, "", 1, info("bo", {1ll << 31, 1ll << 31}, 0, 0), data),
             {"tensor 'bo'"});
  // Q2_K is a ggml type cai does not read: the error names it.
  expect_bad("q2k.gguf", gguf(0, "", 1, info("blk.0.w", {256}, 10, 0), data),
             {"tensor 'blk.0.w'", "type 10", "Q2_K"});
  expect_bad("type999.gguf", gguf(0, "", 1, info("u", {32}, 999, 0), data), {"tensor 'u'", "999"});
  expect_bad("q8row.gguf", gguf(0, "", 1, info("q", {33}, 8, 0), data),
             {"tensor 'q'", "multiple of 32"});
  expect_bad("q4krow.gguf", gguf(0, "", 1, info("k", {128}, 12, 0), data),
             {"tensor 'k'", "Q4_K", "multiple of 256"});
}

TEST_F(GgufMalformed, LyingOffsetsAndSizes) {
  const std::string data(64, '\0');
  expect_bad("past.gguf", gguf(0, "", 1, info("far", {4}, 0, 1ull << 40), data),
             {"tensor 'far'", "past the end"});
  expect_bad(
      "wrap.gguf",
      gguf(0, "", 1, info("wrap", {4}, 0, std::numeric_limits<std::uint64_t>::max() - 31), data),
      {"tensor 'wrap'"});
  expect_bad("end.gguf", gguf(0, "", 1, info("tail", {20}, 0, 0), data),  // 80 bytes > 64
             {"tensor 'tail'", "past the end"});
  expect_bad("end2.gguf", gguf(0, "", 1, info("tail2", {8}, 0, 32), data.substr(0, 40)),
             {"tensor 'tail2'"});
  expect_bad("overlap.gguf", gguf(0, "", 2, info("p", {16}, 0, 0) + info("q", {4}, 0, 32), data),
             {"tensor 'q'", "overlap"});
  // The header claims a data section that starts past the end of the file.
  Bytes nodata;
  nodata.raw("GGUF").put<std::uint32_t>(3).put<std::uint64_t>(1).put<std::uint64_t>(0).raw(
      info("x", {1}, 0, 0));
  expect_bad("nodata.gguf", nodata.s, {"data section"});
}

TEST_F(GgufMalformed, AcceptsVersion2AndEmptyFile) {
  const auto p = dir_ / "v2.gguf";
  Bytes d;
  d.put<float>(1.5f).put<float>(-2.0f);
  test::write_bytes(p, gguf(1, kv_u32("x", 7), 1, info("t", {2}, 0, 0), d.s, 2));
  gguf::Reader r(p);
  EXPECT_EQ(r.version(), 2u);
  EXPECT_EQ(r.get_int("x"), 7);
  EXPECT_EQ(r.read_f32(r.tensors().at(0)), (std::vector<float>{1.5f, -2.0f}));
}

TEST_F(GgufMalformed, HugeU64StaysReadableButGetIntRefuses) {
  const auto p = dir_ / "u64.gguf";
  test::write_bytes(
      p,
      gguf(1, Bytes().str("huge").put<std::uint32_t>(10).put<std::uint64_t>(~0ull).s, 0, "", ""));
  gguf::Reader r(p);
  test::expect_error([&] { r.get_int("huge"); }, {"u64.gguf", "huge", "18446744073709551615"});
  EXPECT_EQ(r.get_float("huge"), 18446744073709551615.0);
}

}  // namespace
}  // namespace cai
