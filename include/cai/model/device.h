// Where tensors live: the `--device` flag's values.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace cai {

// "cpu" or "cuda" / "cuda:N" -> the device. Throws cai::Error naming the value when it is
// neither, or when it names a GPU this libtorch cannot use (a CPU-only build, no such GPU).
c10::Device parse_device(const std::string& name);

}  // namespace cai
