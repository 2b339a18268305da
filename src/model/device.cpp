// parse_device, place_model (see include/cai/model/device.h).
#include "cai/model/device.h"

#include <torch/cuda.h>

#include "cai/io/error.h"
#include "cai/model/llama.h"

namespace cai {

c10::Device parse_device(const std::string& name) {
  CAI_CHECK(name == "cpu" || name == "cuda" || name.starts_with("cuda:"),
            "device: expected cpu, cuda or cuda:N, got '{}'", name);
  if (name == "cpu") return c10::Device(c10::kCPU);
  CAI_CHECK(torch::cuda::is_available(),
            "device {}: this libtorch has no usable CUDA (a CPU-only build, or no GPU); build "
            "against a CUDA libtorch (see the README) or use --device cpu",
            name);
  const c10::Device d(name);
  const auto count = static_cast<int>(torch::cuda::device_count());
  CAI_CHECK(!d.has_index() || d.index() < count, "device {}: this machine has {} GPU(s)", name,
            count);
  return d;
}

void place_model(LlamaModel& m, c10::Device d) {
  if (!d.is_cpu() && m.packed()) m.unpack_weights();
  m.to(d);
}

}  // namespace cai
