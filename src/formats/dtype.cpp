#include "cai/formats/dtype.h"

#include <bit>
#include <cstring>

#include "cai/io/error.h"

namespace cai {

namespace {

struct DTypeEntry {
  DType type;
  std::string_view name;
  std::size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::F32, "F32", 4},   {DType::F16, "F16", 2},   {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8},   {DType::I64, "I64", 8},   {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},     {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1}, {DType::Q8_0, "Q8_0", 0},
};

const DTypeEntry& entry(DType t) {
  for (const auto& e : kDTypes)
    if (e.type == t) return e;
  throw_error("unknown dtype id {}", static_cast<int>(t));
}

// Little-endian loads that tolerate unaligned source pointers.
template <typename T>
T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

std::string_view dtype_name(DType t) { return entry(t).name; }

DType parse_dtype(std::string_view name, const std::string& where) {
  for (const auto& e : kDTypes)
    if (e.name == name && e.type != DType::Q8_0) return e.type;
  throw_error("{}: unknown dtype '{}'", where, name);
}

std::size_t dtype_size(DType t) { return entry(t).size; }

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1Fu;
  std::uint32_t mant = h & 0x3FFu;
  std::uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / nan keep their payload
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal: shift the mantissa up until its leading one becomes the implicit bit.
    std::uint32_t e = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mant & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

std::uint16_t f32_to_f16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t exp = (x >> 23) & 0xFFu;
  const std::uint32_t mant = x & 0x7FFFFFu;
  if (exp == 0xFF) {
    if (mant == 0) return sign | 0x7C00u;
    return sign | 0x7E00u | static_cast<std::uint16_t>(mant >> 13);  // quiet nan
  }
  const int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 0x1F) return sign | 0x7C00u;  // overflow
  if (e <= 0) {
    // Result is subnormal or zero: shift the full significand (with implicit bit) right,
    // rounding to nearest even on the dropped bits.
    if (e < -10) return sign;
    const std::uint32_t m = mant | 0x800000u;
    const int shift = 14 - e;
    std::uint32_t r = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return sign | static_cast<std::uint16_t>(r);
  }
  std::uint32_t r = (static_cast<std::uint32_t>(e) << 10) | (mant >> 13);
  const std::uint32_t rem = mant & 0x1FFFu;
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return sign | static_cast<std::uint16_t>(r);
}

float bf16_to_f32(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

std::uint16_t f32_to_bf16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u)
    return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // keep nan a (quiet) nan
  const std::uint32_t rounding = 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>((x + rounding) >> 16);
}

void convert_to_f32(DType t, const void* src, std::size_t n, float* dst) {
  if (n == 0) return;  // empty tensors may come with null pointers, which memcpy forbids
  const auto* p = static_cast<const std::uint8_t*>(src);
  switch (t) {
    case DType::F32:
      std::memcpy(dst, p, n * 4);
      return;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load<std::uint16_t>(p + 2 * i));
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load<std::uint16_t>(p + 2 * i));
      return;
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<double>(p + 8 * i));
      return;
    case DType::I64:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(load<std::int64_t>(p + 8 * i));
      return;
    case DType::I32:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(load<std::int32_t>(p + 4 * i));
      return;
    case DType::I16:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(load<std::int16_t>(p + 2 * i));
      return;
    case DType::I8:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(static_cast<std::int8_t>(p[i]));
      return;
    case DType::U8:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(p[i]);
      return;
    case DType::BOOL:
      for (std::size_t i = 0; i < n; ++i) dst[i] = p[i] ? 1.0f : 0.0f;
      return;
    case DType::Q8_0:
      break;
  }
  throw_error("convert_to_f32: unsupported dtype {}", dtype_name(t));
}

}  // namespace cai
