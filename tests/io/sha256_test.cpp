// SHA-256 against the FIPS 180-2 / NIST test vectors.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <string>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/sha256.h"

using cai::Sha256;
using cai::sha256_hex;

TEST(Sha256, StandardVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Two blocks once padded (56 bytes: the length no longer fits in the first block).
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalUpdatesMatchOneShot) {
  // Feeding the data in odd-sized pieces must cross block boundaries correctly.
  std::string data;
  for (int i = 0; i < 300; ++i) data += static_cast<char>('a' + i % 26);
  for (std::size_t piece : {1u, 3u, 63u, 64u, 65u, 127u}) {
    Sha256 h;
    for (std::size_t i = 0; i < data.size(); i += piece)
      h.update(std::string_view(data).substr(i, piece));
    std::string hex;
    for (auto b : h.digest()) hex += fmt::format("{:02x}", b);
    EXPECT_EQ(hex, sha256_hex(data)) << "piece " << piece;
  }
}

TEST(Sha256, FileMatchesInMemory) {
  const auto path = std::filesystem::path(CAI_TEST_TMPDIR) / "sha256_file.bin";
  std::filesystem::create_directories(path.parent_path());
  std::string data;
  for (int i = 0; i < 3 * (1 << 20) + 17; ++i) data += static_cast<char>(i * 7 + (i >> 9));
  cai::write_file_atomic(path, data);
  EXPECT_EQ(cai::sha256_file(path), sha256_hex(data));
  EXPECT_THROW(cai::sha256_file(path.string() + ".missing"), cai::Error);
}
