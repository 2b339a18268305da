// The internal-error tier (include/cai/io/assert.h).
#include "cai/io/assert.h"

namespace cai {

void assert_failed(const char* file, int line, const char* cond, const std::string& message) {
  throw InternalError(fmt::format("internal error (a bug in cai, please report it): {}:{}: {}: {}",
                                  file, line, cond, message));
}

}  // namespace cai
