// ggml's tensor element types: block layouts, byte sizes, and the codecs between them and F32.
//
// A quantized row of n values is n / block_size blocks laid end to end, each block a scale (and
// for some types a minimum) followed by packed integers, exactly as ggml stores them (see
// ggml-common.h in llama.cpp), so cai reads llama.cpp's files and llama.cpp reads cai's:
//   Q4_0  32 values: f16 d, 16 bytes of nibbles;             x = d * (q - 8)
//   Q4_1  32 values: f16 d, f16 m, 16 bytes of nibbles;      x = d * q + m
//   Q5_0  32 values: f16 d, 32 high bits, 16 bytes nibbles;  x = d * (q - 16)
//   Q5_1  32 values: f16 d, f16 m, 32 high bits, nibbles;    x = d * q + m
//   Q8_0  32 values: f16 d, 32 int8;                          x = d * q
//   Q4_K 256 values: f16 d, f16 dmin, 12 bytes of 6-bit scale/min pairs for eight sub-blocks of
//        32, 128 bytes of nibbles;                            x = d * sc_j * q - dmin * m_j
//   Q5_K like Q4_K plus 32 bytes holding each value's fifth bit
//   Q6_K 256 values: 128 bytes low nibbles, 64 bytes of 2-bit highs, 16 int8 scales (one per
//        16 values), f16 d;                                   x = d * sc_g * (q - 32)
// The quantizers reproduce ggml's reference ones (quantize_row_*_ref: what llama-quantize
// runs without an importance matrix), so cai's files match llama.cpp's byte for byte.
// Free of libtorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cai::ggml {

// Ids as in the GGUF file.
enum class Type : std::uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
};

struct TypeTraits {
  Type type;
  std::string_view name;    // "Q4_K"
  std::int64_t block;       // values per block (1 for F32/F16/BF16)
  std::size_t block_bytes;  // bytes per block
  bool quantized;           // a block type (not F32/F16/BF16)
};

inline constexpr std::int64_t kSuperBlock = 256;  // values per K-quant block (QK_K)

// Traits of a type cai reads and writes, or nullptr for any other id.
const TypeTraits* traits(std::uint32_t id);
const TypeTraits& traits(Type t);
// The name of any ggml type id ("IQ2_XXS", "unknown" past the known ones), for messages.
std::string_view type_name(std::uint32_t id);
// Parses a name ("q4_k", "Q4_K", "bf16", case-insensitive) into a supported type; false if none.
bool parse_type(std::string_view name, Type* out);

// Bytes of `n` values of type `t`; n must be a multiple of the block size.
std::size_t row_bytes(Type t, std::int64_t n);

// `n` values (a multiple of the block size) of type `t` at `src` -> F32 at `dst`.
void dequantize_row(Type t, const void* src, float* dst, std::int64_t n);
// F32 -> `n` values of type `t` (a multiple of the block size), writing row_bytes(t, n) bytes.
void quantize_row(Type t, const float* src, void* dst, std::int64_t n);

// The sixth-bit scale and minimum of sub-block j (0..7) of a Q4_K/Q5_K block's 12 scale bytes.
inline void k_scale_min(int j, const std::uint8_t* s, std::uint8_t* sc, std::uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = static_cast<std::uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    *m = static_cast<std::uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

}  // namespace cai::ggml
