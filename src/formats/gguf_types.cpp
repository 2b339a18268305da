// GGML tensor types: byte sizes and the Q8_0 block codec (ggml's block_q8_0: an f16 scale d
// followed by 32 int8 q, value = d * q).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "cai/formats/dtype.h"
#include "gguf_internal.h"

namespace cai::gguf {

namespace {

// Names of ggml types cai does not read, so the error says what the file holds.
std::string_view ggml_type_name(std::uint32_t t) {
  static constexpr std::string_view names[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2",   "Q4_3",  "Q5_0",  "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
      "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16"};
  return t < std::size(names) ? names[t] : "unknown";
}

}  // namespace

std::uint64_t tensor_nbytes(std::uint32_t type, const std::vector<std::int64_t>& ne,
                            std::string* error) {
  std::uint64_t numel = 1;
  for (auto d : ne) numel *= static_cast<std::uint64_t>(d);
  std::uint64_t bytes = 0;
  switch (type) {
    case 0:
      if (__builtin_mul_overflow(numel, 4u, &bytes)) bytes = 0;
      break;
    case 1:
    case 30:
      if (__builtin_mul_overflow(numel, 2u, &bytes)) bytes = 0;
      break;
    case 8: {
      const std::int64_t row = ne.empty() ? 1 : ne[0];
      if (row % kQ8Block != 0) {
        *error = fmt::format("Q8_0 row length {} is not a multiple of {}", row, kQ8Block);
        return 0;
      }
      if (__builtin_mul_overflow(numel / kQ8Block, kQ8BlockBytes, &bytes)) bytes = 0;
      break;
    }
    default:
      *error = fmt::format("unsupported ggml tensor type {} ({})", type, ggml_type_name(type));
      return 0;
  }
  if (bytes == 0) *error = "tensor byte size overflows";
  return bytes;
}

void dequantize_q8_0(const std::uint8_t* src, std::size_t n, float* dst) {
  for (std::size_t b = 0; b < n / kQ8Block; ++b, src += kQ8BlockBytes) {
    std::uint16_t dh;
    std::memcpy(&dh, src, 2);
    const float d = f16_to_f32(dh);
    for (std::int64_t k = 0; k < kQ8Block; ++k)
      *dst++ = d * static_cast<float>(static_cast<std::int8_t>(src[2 + k]));
  }
}

void quantize_q8_0(const float* src, std::size_t n, std::uint8_t* dst) {
  // Same rounding as ggml's quantize_row_q8_0_ref so files match llama.cpp's output.
  for (std::size_t b = 0; b < n / kQ8Block; ++b, src += kQ8Block, dst += kQ8BlockBytes) {
    float amax = 0.0f;
    for (std::int64_t k = 0; k < kQ8Block; ++k) amax = std::max(amax, std::fabs(src[k]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const std::uint16_t dh = f32_to_f16(d);
    std::memcpy(dst, &dh, 2);
    for (std::int64_t k = 0; k < kQ8Block; ++k)
      dst[2 + k] = static_cast<std::uint8_t>(static_cast<std::int8_t>(std::lround(src[k] * id)));
  }
}

}  // namespace cai::gguf
