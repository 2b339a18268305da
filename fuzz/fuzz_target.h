// One fuzz target per parser, written once and built two ways:
//
// - with CAI_LIBFUZZER (make fuzz: clang, -fsanitize=fuzzer,address,undefined), each target
//   file is its own libFuzzer program: LLVMFuzzerTestOneInput calls the target;
// - otherwise (make test), every target registers itself by name and the replay test runs it
//   on each file of fuzz/corpus/<name>/ and fuzz/crashes/<name>/.
//
// A target feeds the input to the parser and accepts exactly one kind of failure: cai::Error,
// the clear message bad input must get. Any other exception, a crash, a hang or a leak is a
// finding: under libFuzzer the program aborts and keeps the input; in the replay test the
// exception fails the test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "cai/io/error.h"

namespace cai::fuzz {

using Target = void (*)(const std::uint8_t* data, std::size_t size);

// Targets by name (replay builds).
inline std::map<std::string, Target>& registry() {
  static std::map<std::string, Target> r;
  return r;
}

struct Registrar {
  Registrar(const char* name, Target t) { registry()[name] = t; }
};

// Runs `f`; a cai::Error is the clean rejection of bad input, anything else propagates.
template <typename F>
void rejecting_cleanly(F&& f) {
  try {
    f();
  } catch (const cai::Error&) {}
}

// A scratch directory of this process for targets whose parser reads files.
std::filesystem::path scratch_dir();

// Writes `bytes` to `name` in the scratch directory and returns its path.
std::filesystem::path write_scratch(const std::string& name, std::string_view bytes);

// The input as text.
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits the input at its first NUL byte (two files in one input); no NUL: all is `first`.
inline std::pair<std::string_view, std::string_view> split_at_nul(std::string_view s) {
  const std::size_t z = s.find('\0');
  if (z == std::string_view::npos) return {s, {}};
  return {s.substr(0, z), s.substr(z + 1)};
}

}  // namespace cai::fuzz

#define CAI_FUZZ_CAT2(a, b) a##b
#define CAI_FUZZ_CAT(a, b) CAI_FUZZ_CAT2(a, b)

#ifdef CAI_LIBFUZZER
#define CAI_FUZZ_TARGET(name)                                                         \
  static void CAI_FUZZ_CAT(cai_fuzz_, name)(const std::uint8_t*, std::size_t);        \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    try {                                                                             \
      CAI_FUZZ_CAT(cai_fuzz_, name)(data, size);                                      \
    } catch (const std::exception& e) {                                               \
      std::fprintf(stderr, "uncaught exception (not cai::Error): %s\n", e.what());    \
      std::abort();                                                                   \
    }                                                                                 \
    return 0;                                                                         \
  }                                                                                   \
  static void CAI_FUZZ_CAT(cai_fuzz_, name)(const std::uint8_t* data, std::size_t size)
#else
#define CAI_FUZZ_TARGET(name)                                                  \
  static void CAI_FUZZ_CAT(cai_fuzz_, name)(const std::uint8_t*, std::size_t); \
  static const ::cai::fuzz::Registrar CAI_FUZZ_CAT(cai_fuzz_registrar_, name)( \
      #name, CAI_FUZZ_CAT(cai_fuzz_, name));                                   \
  static void CAI_FUZZ_CAT(cai_fuzz_, name)(const std::uint8_t* data, std::size_t size)
#endif
