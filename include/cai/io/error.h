// Errors cai reports to its users. Library code throws cai::Error with a message that names
// the file, line, key or tensor at fault; the command line catches it, prints it and exits 1.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace cai {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// throw_error("{}: tensor {} has {} bytes, expected {}", path, name, got, want)
template <typename... Args>
[[noreturn]] void throw_error(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

// Throws `Error` with the formatted message when `cond` is false.
#define CAI_CHECK(cond, ...)                      \
  do {                                            \
    if (!(cond)) ::cai::throw_error(__VA_ARGS__); \
  } while (0)

}  // namespace cai
