// SentencePiece-style BPE as llama.cpp's llm_tokenizer_spm does it: start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the highest-scoring
// vocabulary entry (leftmost on ties), then emit each symbol, falling back to <0xXX> byte
// tokens for characters the vocabulary lacks.
#include <algorithm>

#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/unicode.h"

namespace cai {

namespace {

struct Symbol {
  std::int32_t prev, next;
  std::uint32_t start, len;  // len 0: merged into its left neighbour
};

struct Bigram {
  std::int32_t left, right;
  float score;
  std::uint32_t size;
  // Max-heap on score; among equal scores the leftmost pair comes first.
  bool operator<(const Bigram& o) const {
    return score < o.score || (score == o.score && left > o.left);
  }
};

}  // namespace

void Tokenizer::Impl::spm_text(std::string_view text, std::vector<std::int32_t>& out) const {
  if (text.empty()) return;
  thread_local std::vector<Symbol> syms;
  syms.clear();
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n =
        std::min(tok::utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
    const auto k = static_cast<std::int32_t>(syms.size());
    syms.push_back({k - 1, -1, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(n)});
    i += n;
  }
  for (std::size_t k = 0; k + 1 < syms.size(); ++k) syms[k].next = static_cast<std::int32_t>(k + 1);

  thread_local std::vector<Bigram> heap;
  heap.clear();
  auto consider = [&](std::int32_t left, std::int32_t right) {
    if (left < 0 || right < 0) return;
    const std::uint32_t size = syms[left].len + syms[right].len;
    const auto id = find(text.substr(syms[left].start, size));
    if (!id) return;
    heap.push_back({left, right, scores[*id], size});
    std::push_heap(heap.begin(), heap.end());
  };
  for (std::size_t k = 1; k < syms.size(); ++k)
    consider(static_cast<std::int32_t>(k - 1), static_cast<std::int32_t>(k));

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& left = syms[b.left];
    Symbol& right = syms[b.right];
    // Stale: one side was merged away or grew since this pair was queued.
    if (left.len == 0 || right.len == 0 || left.len + right.len != b.size) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = b.left;
    consider(left.prev, b.left);
    consider(b.left, left.next);
  }

  for (std::int32_t k = 0; k >= 0; k = syms[k].next) {
    const Symbol& s = syms[k];
    const std::string_view piece = text.substr(s.start, s.len);
    if (const auto id = find(piece)) {
      out.push_back(*id);
      continue;
    }
    for (unsigned char c : piece) {
      if (byte_ids[c] >= 0)
        out.push_back(byte_ids[c]);
      else if (unk_id)
        out.push_back(*unk_id);
    }
  }
}

}  // namespace cai
