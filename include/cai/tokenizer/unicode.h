// UTF-8 helpers and the GPT-2 byte <-> unicode mapping used by byte-level BPE (internal).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cai::tok {

// Length of the UTF-8 sequence that starts with `first`, judged from its high nibble only
// (as llama.cpp does): continuation or invalid lead bytes count as 1. Callers clamp to the
// bytes that remain, so invalid UTF-8 is split into single bytes rather than rejected.
inline std::size_t utf8_len(unsigned char first) {
  static constexpr std::uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return lookup[first >> 4];
}

// Appends the UTF-8 encoding of `cp`.
void append_utf8(std::string& out, std::uint32_t cp);

// Decodes the code point at s[i] and advances i; an invalid or truncated sequence yields
// U+FFFD and advances one byte.
std::uint32_t next_codepoint(std::string_view s, std::size_t& i);

// GPT-2's reversible byte -> printable code point table: bytes 0x21-0x7E, 0xA1-0xAC and
// 0xAE-0xFF map to themselves, the other 68 to U+0100 onwards in byte order.
const std::array<std::uint32_t, 256>& byte_to_codepoint();
// The same table as UTF-8 strings ("Ġ" for 0x20).
const std::array<std::string, 256>& byte_to_symbol();
// Inverse of byte_to_codepoint(); -1 for code points that are not byte symbols.
int codepoint_to_byte(std::uint32_t cp);

// Maps raw bytes to the byte-level alphabet ("hello world" -> "helloĠworld").
std::string bytes_to_byte_level(std::string_view bytes);
// Inverse of bytes_to_byte_level; code points outside the alphabet are copied as UTF-8.
std::string byte_level_to_bytes(std::string_view text);

// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.
inline constexpr std::string_view kMetaspace = "\xE2\x96\x81";

// Replaces every occurrence of `from` by `to`.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);

}  // namespace cai::tok
