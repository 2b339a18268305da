// Element types of weight files and the exact conversions between the 16-bit float formats
// and F32 (F16 and BF16 widen exactly; narrowing rounds to nearest even).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cai {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, Q8_0 };

std::string_view dtype_name(DType t);  // "F32", "F16", "BF16", ...
// Parses a safetensors dtype name; throws cai::Error naming `where` for an unknown one.
DType parse_dtype(std::string_view name, const std::string& where);
std::size_t dtype_size(DType t);  // bytes per element (Q8_0: not per element, 0)

float f16_to_f32(std::uint16_t h);
std::uint16_t f32_to_f16(float f);
float bf16_to_f32(std::uint16_t b);
std::uint16_t f32_to_bf16(float f);

// Widens `n` elements of type `t` at `src` (little-endian, possibly unaligned) into `dst`.
// Supports F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL. Q8_0 is handled by the GGUF reader.
void convert_to_f32(DType t, const void* src, std::size_t n, float* dst);

}  // namespace cai
