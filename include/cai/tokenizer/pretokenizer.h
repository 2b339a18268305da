// Regex pre-tokenizers (internal): the text is cut into pieces before BPE runs on each.
//
// A pre-tokenizer is a list of PCRE2 patterns applied in turn, each to every piece the
// previous one produced. Within a piece, every match becomes a piece and so does every
// stretch between matches, so no byte is ever dropped. This is what llama.cpp's
// unicode_regex_split and Hugging Face's Split(behavior = "Isolated") both do.
//
// Invalid UTF-8: patterns are compiled with PCRE2_MATCH_INVALID_UTF, so matching never
// fails on bad input; an invalid byte simply cannot be part of a match and ends up in a
// piece of its own (or with its unmatched neighbours), which byte-level BPE then encodes
// byte by byte. No sanitising copy of the text is made.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cai::tok {

class Regex {
 public:
  // Compiles with UTF + UCP (Unicode properties for \s, \p{L}, ...) and JIT; throws
  // cai::Error with the PCRE2 message and offset for a bad pattern.
  explicit Regex(const std::string& pattern);
  const std::string& pattern() const { return pattern_; }
  // Appends the pieces of `text` (matches and the gaps between them) to `out`.
  void split(std::string_view text, std::vector<std::string_view>& out) const;
  // True when the pattern matches at the very start of `text` (anchored there).
  bool matches_at_start(std::string_view text) const;

 private:
  struct Code;
  std::string pattern_;
  std::shared_ptr<const Code> code_;
};

class PreTokenizer {
 public:
  PreTokenizer() = default;  // no splitting: the whole text is one piece
  explicit PreTokenizer(const std::vector<std::string>& patterns);
  // The pattern list llama.cpp uses for a `tokenizer.ggml.pre` value ("gpt-2", "llama3"
  // or "llama-bpe", "qwen2", "starcoder", "falcon", "default", ...); nullopt when unknown.
  static std::optional<PreTokenizer> for_style(const std::string& style);
  // Style names accepted by for_style().
  static std::vector<std::string> styles();

  void split(std::string_view text, std::vector<std::string_view>& out) const;
  std::vector<std::string> patterns() const;
  bool empty() const { return regexes_.empty(); }
  // The llama.cpp style whose patterns these are ("" when none matches).
  std::string style() const;

 private:
  std::vector<Regex> regexes_;
};

}  // namespace cai::tok
