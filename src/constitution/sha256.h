// The constitution module's name for the shared SHA-256 (include/cai/io/sha256.h).
#pragma once

#include "cai/io/sha256.h"

namespace cai::detail {
using cai::Sha256;
using cai::sha256_hex;
}  // namespace cai::detail
