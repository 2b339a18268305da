#include "backend_flags.h"

#include "option_flags.h"

namespace cai::cli {

void add_backend_flags(CLI::App* cmd, BackendOptions& opts, const std::string& prefix) {
  add_flags(cmd, opts, {}, prefix);
}

}  // namespace cai::cli
