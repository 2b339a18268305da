// Pre-tokenizer splits on hand-worked cases (each expected list derived by walking the
// pattern's alternatives by hand).
#include <gtest/gtest.h>

#include "cai/tokenizer/pretokenizer.h"

namespace {

std::vector<std::string> split(const std::string& style, const std::string& text) {
  const auto pre = cai::tok::PreTokenizer::for_style(style);
  EXPECT_TRUE(pre.has_value()) << style;
  std::vector<std::string_view> pieces;
  pre->split(text, pieces);
  return {pieces.begin(), pieces.end()};
}

using V = std::vector<std::string>;

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world 12345 don't"),
            (V{"Hello", " world", " 12345", " don", "'t"}));
  // "\s+(?!\S)" leaves the last space to join the word after it.
  EXPECT_EQ(split("gpt-2", "a   b\n"), (V{"a", "  ", " b", "\n"}));
  EXPECT_EQ(split("gpt-2", "I'LL"), (V{"I", "'", "LL"}));  // contractions are lower case only
}

TEST(PreTokenizer, Llama3) {
  // Digits come in groups of at most three; the space before them stands alone.
  EXPECT_EQ(split("llama-bpe", "Hello world 12345 don't"),
            (V{"Hello", " world", " ", "123", "45", " don", "'t"}));
  EXPECT_EQ(split("llama3", "  Hello\n\nworld"), (V{" ", " Hello", "\n\n", "world"}));
  EXPECT_EQ(split("llama3", "I'LL go!!\n"), (V{"I", "'LL", " go", "!!\n"}));
  EXPECT_EQ(split("llama3", "Привет, мир"), (V{"Привет", ",", " мир"}));
}

TEST(PreTokenizer, Qwen2) {
  // As Llama 3, but every digit is its own piece.
  EXPECT_EQ(split("qwen2", "Hello world 12345 don't"),
            (V{"Hello", " world", " ", "1", "2", "3", "4", "5", " don", "'t"}));
  EXPECT_EQ(split("qwen2", "x=42;"), (V{"x", "=", "4", "2", ";"}));
}

TEST(PreTokenizer, StarcoderAndFalcon) {
  // starcoder: digits split out first, then the GPT-2 pattern within each piece.
  EXPECT_EQ(split("starcoder", "abc 123"), (V{"abc", " ", "1", "2", "3"}));
  // falcon: punctuation runs first, then GPT-2, then digit triples cut out of " 12345".
  EXPECT_EQ(split("falcon", "a, 12345!"), (V{"a", ",", " ", "123", "45", "!"}));
  EXPECT_EQ(split("falcon", "x 1234567"), (V{"x", " ", "123", "456", "7"}));
}

TEST(PreTokenizer, InvalidUtf8KeepsEveryByte) {
  const std::string text =
      "ab\xff"
      "cd \xe2\x82 \x80x";
  std::vector<std::string_view> pieces;
  cai::tok::PreTokenizer::for_style("llama3")->split(text, pieces);
  std::string joined;
  for (auto p : pieces) joined += p;
  EXPECT_EQ(joined, text);
  EXPECT_EQ(pieces[0], "ab");
}

TEST(PreTokenizer, UnknownStyle) {
  EXPECT_FALSE(cai::tok::PreTokenizer::for_style("no-such-style").has_value());
}

}  // namespace
