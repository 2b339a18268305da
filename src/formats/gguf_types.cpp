// Byte sizes of GGML tensors, checked before anything is read.
#include <fmt/format.h>

#include "cai/formats/ggml_quant.h"
#include "gguf_internal.h"

namespace cai::gguf {

std::uint64_t tensor_nbytes(std::uint32_t type, const std::vector<std::int64_t>& ne,
                            std::string* error) {
  const ggml::TypeTraits* tr = ggml::traits(type);
  if (!tr) {
    *error = fmt::format("unsupported ggml tensor type {} ({})", type, ggml::type_name(type));
    return 0;
  }
  const std::int64_t row = ne.empty() ? 1 : ne[0];
  if (row % tr->block != 0) {
    *error = fmt::format("{} row length {} is not a multiple of {}", tr->name, row, tr->block);
    return 0;
  }
  std::uint64_t numel = 1;
  for (auto d : ne) numel *= static_cast<std::uint64_t>(d);
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel / static_cast<std::uint64_t>(tr->block),
                             static_cast<std::uint64_t>(tr->block_bytes), &bytes))
    bytes = 0;
  if (bytes == 0) *error = "tensor byte size overflows";
  return bytes;
}

}  // namespace cai::gguf
