// Where tensors live: the `--device` flag's values.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace cai {

class LlamaModel;

// "cpu" or "cuda" / "cuda:N" -> the device. Throws cai::Error naming the value when it is
// neither, or when it names a GPU this libtorch cannot use (a CPU-only build, no such GPU).
c10::Device parse_device(const std::string& name);

// Moves the model's weights to `d`. The packed kernels read CPU memory, so off the CPU packed
// (quantized, F16, BF16) matrices are widened to F32 parameters first.
void place_model(LlamaModel& m, c10::Device d);

}  // namespace cai
