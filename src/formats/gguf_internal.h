// Pieces shared by the GGUF reader and writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cai::gguf {

inline constexpr std::uint64_t kDefaultAlignment = 32;

// Bytes of a tensor of ggml type `type` and dims `ne` (all > 0, product fits int64). Returns 0
// and sets `error` for an unsupported type or a row length the type's blocks cannot hold.
std::uint64_t tensor_nbytes(std::uint32_t type, const std::vector<std::int64_t>& ne,
                            std::string* error);

}  // namespace cai::gguf
