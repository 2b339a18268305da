// Pieces shared by the GGUF reader and writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cai::gguf {

inline constexpr std::uint64_t kDefaultAlignment = 32;
inline constexpr std::int64_t kQ8Block = 32;        // values per Q8_0 block
inline constexpr std::uint64_t kQ8BlockBytes = 34;  // f16 scale + 32 int8

// Bytes of a tensor of ggml type `type` and dims `ne` (all > 0, product fits int64). Returns 0
// and sets `error` for an unsupported type or a row length Q8_0 cannot hold.
std::uint64_t tensor_nbytes(std::uint32_t type, const std::vector<std::int64_t>& ne,
                            std::string* error);

void dequantize_q8_0(const std::uint8_t* src, std::size_t n, float* dst);
// `n` must be a multiple of 32; writes n / 32 * 34 bytes.
void quantize_q8_0(const float* src, std::size_t n, std::uint8_t* dst);

}  // namespace cai::gguf
