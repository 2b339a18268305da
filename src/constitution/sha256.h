// SHA-256 (FIPS 180-4), internal to the constitution module: it fingerprints a constitution's
// canonical text so every dataset can record exactly which principles produced it. Small
// enough to carry here rather than pull in a crypto library for one hash.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cai::detail {

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

}  // namespace cai::detail
