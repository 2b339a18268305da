// Two tiers of errors. CAI_CHECK (cai/io/error.h) is for the user's mistakes: a bad file, flag
// or value, named with the file, line, key or tensor at fault. CAI_ASSERT is for cai's own
// invariants (what cannot happen unless cai has a bug, in the spirit of c10's
// TORCH_INTERNAL_ASSERT): its message says so, with the source location and the condition.
#pragma once

#include <fmt/format.h>

#include <string>

#include "cai/io/error.h"

namespace cai {

// Thrown by CAI_ASSERT; a cai::Error, so the CLI reports it and exits non-zero like any other.
class InternalError : public Error {
 public:
  using Error::Error;
};

[[noreturn]] void assert_failed(const char* file, int line, const char* cond,
                                const std::string& message);

}  // namespace cai

#define CAI_ASSERT(cond, ...)                                                               \
  do {                                                                                      \
    if (!(cond)) ::cai::assert_failed(__FILE__, __LINE__, #cond, fmt::format(__VA_ARGS__)); \
  } while (0)
