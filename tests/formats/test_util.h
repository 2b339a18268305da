// Helpers shared by the formats tests: a scratch directory and a little-endian byte builder
// for hand-made (and deliberately broken) files.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "cai/io/error.h"

namespace cai::test {

inline std::filesystem::path fixtures() { return CAI_FIXTURES_DIR; }

// A fresh directory per test under CAI_TEST_TMPDIR.
inline std::filesystem::path tmpdir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::path(CAI_TEST_TMPDIR) / "formats" /
             (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

struct Bytes {
  std::string s;
  template <typename T>
  Bytes& put(T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Bytes& str(const std::string& x) {
    put<std::uint64_t>(x.size());
    s += x;
    return *this;
  }
  Bytes& raw(const std::string& x) {
    s += x;
    return *this;
  }
  Bytes& pad(std::size_t align) {
    s.resize((s.size() + align - 1) / align * align, '\0');
    return *this;
  }
};

// Runs `f`, expecting a cai::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected cai::Error";
  } catch (const cai::Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << msg << "\n  lacks: " << p;
  }
}

}  // namespace cai::test
