// Splitting text at added tokens, the way Hugging Face's AddedVocabulary does (tokenizers,
// added_vocabulary.rs: find_matches) and llama.cpp's tokenizer_st_partition agrees with for
// the tokens GGUF files carry:
//  - leftmost-longest matching; a match that fails its single_word test is dropped, and the
//    search goes on after it (a shorter token at the same place is not tried);
//  - lstrip takes the whitespace before a match (back to the previous match), rstrip the
//    whitespace after it; whitespace and word characters are Unicode's (\s and \w);
//  - special tokens only with parse_special (llama.cpp's parse_special; Hugging Face always
//    matches them), non-special ones (GGUF USER_DEFINED) always.
// llama.cpp (and so a tokenizer read from GGUF, added_longest_first) takes its tokens longest
// first over the whole text instead, each left to right where it overlaps none taken before
// (tokenizer_st_partition); the two differ only where two added tokens overlap in the text.
#include <algorithm>

#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/pretokenizer.h"
#include "cai/tokenizer/unicode.h"

namespace cai {
namespace {

// Unicode White_Space (what \s matches in Rust's regex crate, Hugging Face's engine).
bool is_white_space(std::uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

// The code point that ends at byte `end` (exclusive) and where it starts.
std::uint32_t codepoint_before(std::string_view s, std::size_t end, std::size_t& start) {
  start = end - 1;
  while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
    --start;
  std::size_t i = start;
  const std::uint32_t cp = tok::next_codepoint(s, i);
  if (i != end) {  // not one well-formed character: treat the last byte alone
    start = end - 1;
    return 0xFFFD;
  }
  return cp;
}

bool is_word_char(std::string_view s, std::size_t at) {
  static const tok::Regex word("\\w");
  return word.matches_at_start(s.substr(at));
}

bool ends_with_word(std::string_view s, std::size_t end) {
  if (end == 0) return false;
  std::size_t start = 0;
  codepoint_before(s, end, start);
  return is_word_char(s.substr(0, end), start);
}

}  // namespace

namespace {

// Appends the pieces of `text` around the chosen matches (sorted, not overlapping), with each
// token's lstrip / rstrip taking whitespace up to its neighbours.
struct Match {
  std::size_t start, stop;
  const tok::AddedToken* token;
};

void emit(std::string_view text, const std::vector<Match>& matches,
          std::vector<tok::AddedSplit>& out) {
  std::size_t seg = 0;
  for (std::size_t k = 0; k < matches.size(); ++k) {
    std::size_t start = matches[k].start, stop = matches[k].stop;
    const std::size_t limit = k + 1 < matches.size() ? matches[k + 1].start : text.size();
    if (matches[k].token->lstrip)
      while (start > seg) {
        std::size_t cp_start = 0;
        if (!is_white_space(codepoint_before(text, start, cp_start))) break;
        start = cp_start;
      }
    if (matches[k].token->rstrip)
      for (std::size_t j = stop; j < limit;) {
        if (!is_white_space(tok::next_codepoint(text, j)) || j > limit) break;
        stop = j;
      }
    if (start > seg) out.push_back({text.substr(seg, start - seg), -1});
    out.push_back({text.substr(start, stop - start), matches[k].token->id});
    seg = stop;
  }
  if (seg < text.size()) out.push_back({text.substr(seg), -1});
}

}  // namespace

void Tokenizer::Impl::split_added(std::string_view text, bool normalized, bool parse_special,
                                  std::vector<tok::AddedSplit>& out) const {
  const auto& by_byte = added_by_first_byte[normalized ? 1 : 0];
  auto eligible = [&](const tok::AddedToken& t, std::size_t i) {
    return (parse_special || !t.special) && text.compare(i, t.pattern.size(), t.pattern) == 0;
  };
  std::vector<Match> matches;
  if (added_longest_first) {
    // Every place each token occurs, then longest token first (ties by id), left to right.
    std::vector<Match> all;
    for (std::size_t i = 0; i < text.size(); ++i)
      for (std::size_t k : by_byte[static_cast<unsigned char>(text[i])])
        if (eligible(added[k], i)) all.push_back({i, i + added[k].pattern.size(), &added[k]});
    std::sort(all.begin(), all.end(), [](const Match& a, const Match& b) {
      if (a.stop - a.start != b.stop - b.start) return a.stop - a.start > b.stop - b.start;
      if (a.token->id != b.token->id) return a.token->id < b.token->id;
      return a.start < b.start;
    });
    for (const Match& m : all)
      if (std::none_of(matches.begin(), matches.end(),
                       [&](const Match& t) { return m.start < t.stop && t.start < m.stop; }))
        matches.push_back(m);
    std::sort(matches.begin(), matches.end(),
              [](const Match& a, const Match& b) { return a.start < b.start; });
  } else {
    // Leftmost, longest there; a single_word match next to a word character is dropped and
    // the search goes on after it.
    for (std::size_t i = 0; i < text.size();) {
      const tok::AddedToken* hit = nullptr;
      for (std::size_t k : by_byte[static_cast<unsigned char>(text[i])])
        if (eligible(added[k], i)) {
          hit = &added[k];
          break;
        }
      if (!hit) {
        ++i;
        continue;
      }
      const std::size_t stop = i + hit->pattern.size();
      if (!hit->single_word ||
          (!ends_with_word(text, i) && !(stop < text.size() && is_word_char(text, stop))))
        matches.push_back({i, stop, hit});
      i = stop;
    }
  }
  emit(text, matches, out);
}

}  // namespace cai
