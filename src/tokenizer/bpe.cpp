// Rank-ordered BPE over one pre-token: byte-level (GPT-2 family) or character-level with
// byte fallback (Hugging Face BPE models converted from SentencePiece).
//
// Symbols form a doubly linked list over a vector; candidate merges sit in a min-heap keyed
// by (rank, position), and stale entries are skipped when popped. This is O(n log n) per
// word, so even a megabyte without any pre-tokenizer split stays fast.
#include <algorithm>

#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/unicode.h"

namespace cai {

namespace {

struct Symbol {
  std::int32_t id;  // -1: not in the vocabulary (never merges)
  std::int32_t prev, next;
  std::uint32_t start, len;  // bytes of the word it covers (for byte fallback)
};

struct Candidate {
  std::int32_t rank, pos, left_id, right_id;
  // Lowest rank first; among equal ranks, the leftmost (the reference implementations agree).
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

// Natural text repeats its words, so each thread remembers the tokens of recent short
// pre-tokens. The cache belongs to one tokenizer at a time (by serial) and is dropped when
// it grows past kCacheEntries.
struct WordCache {
  std::uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<std::int32_t>, tok::StringHash, std::equal_to<>> map;
};
constexpr std::size_t kCacheMaxWord = 64;
constexpr std::size_t kCacheEntries = 1 << 16;

}  // namespace

void Tokenizer::Impl::cached(std::string_view word, std::vector<std::int32_t>& out,
                             Model model) const {
  if (word.empty()) return;
  thread_local WordCache cache;
  if (cache.owner != serial) {
    cache.map.clear();
    cache.owner = serial;
  }
  const bool cacheable = word.size() <= kCacheMaxWord;
  if (cacheable) {
    if (auto it = cache.map.find(word); it != cache.map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t first = out.size();
  (this->*model)(word, out);
  if (cacheable) {
    if (cache.map.size() >= kCacheEntries) cache.map.clear();
    cache.map.emplace(std::string(word), std::vector<std::int32_t>(out.begin() + first, out.end()));
  }
}

void Tokenizer::Impl::bpe_word(std::string_view word, std::vector<std::int32_t>& out) const {
  cached(word, out, &Impl::bpe_merge);
}

void Tokenizer::Impl::bpe_merge(std::string_view word, std::vector<std::int32_t>& out) const {
  if (ignore_merges) {
    const auto id = byte_level ? find(tok::bytes_to_byte_level(word)) : find(word);
    if (id) {
      out.push_back(*id);
      return;
    }
  }

  thread_local std::vector<Symbol> syms;
  syms.clear();
  if (byte_level) {
    for (std::size_t i = 0; i < word.size(); ++i)
      syms.push_back(
          {byte_ids[static_cast<unsigned char>(word[i])], 0, 0, static_cast<std::uint32_t>(i), 1});
  } else {
    for (std::size_t i = 0; i < word.size();) {
      const std::size_t n =
          std::min(tok::utf8_len(static_cast<unsigned char>(word[i])), word.size() - i);
      const auto id = find(word.substr(i, n));
      syms.push_back(
          {id ? *id : -1, 0, 0, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(n)});
      i += n;
    }
  }
  const auto n = static_cast<std::int32_t>(syms.size());
  for (std::int32_t i = 0; i < n; ++i) {
    syms[i].prev = i - 1;
    syms[i].next = i + 1 < n ? i + 1 : -1;
  }

  // A heap in a reused vector: no allocation per word once warmed up.
  thread_local std::vector<Candidate> heap;
  heap.clear();
  auto consider = [&](std::int32_t left) {
    if (left < 0) return;
    const std::int32_t right = syms[left].next;
    if (right < 0 || syms[left].id < 0 || syms[right].id < 0) return;
    auto it = merge_table.find(tok::pair_key(syms[left].id, syms[right].id));
    if (it == merge_table.end()) return;
    heap.push_back({it->second.rank, left, syms[left].id, syms[right].id});
    std::push_heap(heap.begin(), heap.end());
  };
  for (std::int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = syms[c.pos];
    if (left.len == 0 || left.id != c.left_id || left.next < 0) continue;
    Symbol& right = syms[left.next];
    if (right.id != c.right_id) continue;
    left.id = merge_table.at(tok::pair_key(c.left_id, c.right_id)).merged;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (left.next >= 0) syms[left.next].prev = c.pos;
    consider(left.prev);
    consider(c.pos);
  }

  for (std::int32_t i = 0; i >= 0 && n > 0; i = syms[i].next) {
    const Symbol& s = syms[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    // A character outside the vocabulary: its bytes, or <unk>, or nothing.
    if (byte_fallback) {
      for (std::uint32_t k = 0; k < s.len; ++k) {
        const std::int32_t b = byte_ids[static_cast<unsigned char>(word[s.start + k])];
        if (b >= 0)
          out.push_back(b);
        else if (unk_id)
          out.push_back(*unk_id);
      }
    } else if (unk_id) {
      out.push_back(*unk_id);
    }
  }
}

}  // namespace cai
