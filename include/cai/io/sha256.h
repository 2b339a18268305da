// SHA-256 (FIPS 180-4): fingerprints of constitutions, datasets, options and weights, so every
// artifact can record exactly what produced it and caches can tell when they are stale. Small
// enough to carry here rather than pull in a crypto library for one hash.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace cai {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  // Finishes the hash; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> digest();

 private:
  void block(const std::uint8_t* p);  // compresses one 64-byte block into state_

  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buf_{};
  std::size_t buf_len_ = 0;
  std::uint64_t total_bytes_ = 0;
};

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
// Lower-case hex SHA-256 of a file's bytes, read in blocks; throws cai::Error naming the file.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace cai
