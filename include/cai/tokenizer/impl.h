// The state behind cai::Tokenizer (internal to the tokenizer module). Loaders fill an Impl
// and call finalize(); after that it is immutable and shared between Tokenizer copies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cai/tokenizer/pretokenizer.h"
#include "cai/tokenizer/tokenizer.h"

namespace cai::tok {

// llama.cpp's token types (tokenizer.ggml.token_type values).
enum class TokenType : std::int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

// String-keyed map that can be probed with a string_view without building a std::string.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceMap = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

// How a symbol sequence is merged.
enum class MergeAlgo {
  ranks,   // BPE: lowest merge rank first (GPT-2, Hugging Face BPE)
  scores,  // SentencePiece BPE: highest scoring vocabulary entry first (llama.cpp "llama")
};

// A token split out of the text before pre-tokenization (Hugging Face added tokens, GGUF
// control, user-defined and unknown tokens), with Hugging Face's flags (AddedToken in
// tokenizers' added_vocabulary.rs).
struct AddedToken {
  std::string content;
  std::int32_t id = 0;
  bool special = true;       // only recognised with parse_special; non-special ones always are
  bool lstrip = false;       // swallows whitespace before it
  bool rstrip = false;       // swallows whitespace after it
  bool normalized = false;   // matched, as normalize(content), in the normalised text
  bool single_word = false;  // not matched next to a word character (\w)
  std::string pattern;       // what is matched: content, or normalize(content) (finalize)

  static AddedToken special_token(std::string content, std::int32_t id) {
    AddedToken t;
    t.content = std::move(content);
    t.id = id;
    return t;
  }
};

// A stretch of text between added tokens, or one added token (id >= 0).
struct AddedSplit {
  std::string_view text;
  std::int32_t id = -1;
};

struct MergeResult {
  std::int32_t rank;
  std::int32_t merged;
};

inline std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
         static_cast<std::uint32_t>(b);
}

}  // namespace cai::tok

namespace cai {

struct Tokenizer::Impl {
  // --- vocabulary -------------------------------------------------------------------------
  std::vector<std::string> pieces;    // id -> piece as stored ("Ġthe", "▁the", "<0x0A>")
  std::vector<float> scores;          // id -> score (SentencePiece; 0 otherwise)
  std::vector<tok::TokenType> types;  // id -> type
  tok::PieceMap piece_to_id;          // built by finalize()

  // --- model ------------------------------------------------------------------------------
  tok::MergeAlgo algo = tok::MergeAlgo::ranks;
  bool byte_level = true;      // bytes are mapped to the GPT-2 alphabet before merging
  bool byte_fallback = false;  // unknown characters become <0xXX> tokens
  bool ignore_merges = false;  // a pre-token that is itself in the vocabulary is kept whole
  std::optional<std::int32_t> unk_id;
  std::vector<std::pair<std::int32_t, std::int32_t>> merges;        // rank order
  std::unordered_map<std::uint64_t, tok::MergeResult> merge_table;  // built by finalize()
  std::array<std::int32_t, 256> byte_ids{};  // byte -> its token (byte symbol or <0xXX>), -1
  // SentencePiece only: true when no piece has U+2581 right after another character, so no
  // merge can cross the start of a "▁word" and the text may be cut there (set by finalize).
  bool spm_split_words = false;

  // --- normalisation and pre-tokenisation -------------------------------------------------
  // Normaliser steps in order: Prepend puts `to` before a non-empty segment, Replace swaps
  // every `from` for `to`. SentencePiece is [Prepend " ", Replace " " -> "▁"].
  struct NormStep {
    bool prepend = false;
    std::string from, to;
  };
  std::vector<NormStep> normalizer;
  // Prepend applies to every text segment between added tokens (Hugging Face) or only to
  // the first fragment of the input (llama.cpp's add_space_prefix).
  bool prepend_every_segment = false;
  bool pre_metaspace = false;          // Metaspace pre-tokenizer: ' ' -> U+2581
  std::string pre_prefix;              // ByteLevel add_prefix_space " ", Metaspace "▁"...
  bool pre_prefix_first_only = false;  // ...(Metaspace prepend_scheme "first")
  tok::PreTokenizer pre;
  std::string pre_name = "default";  // tokenizer.ggml.pre written to GGUF

  // --- decoding ---------------------------------------------------------------------------
  bool decode_metaspace = false;     // U+2581 -> ' '
  bool strip_leading_space = false;  // drop the space the encoder put first

  // --- special tokens ---------------------------------------------------------------------
  std::vector<tok::AddedToken> added;
  std::optional<std::int32_t> bos, eos, eot, pad;
  bool add_bos = false, add_eos = false;
  std::vector<std::int32_t> stops;  // built by finalize()
  std::optional<std::string> chat_template;
  // Index into `added` by the first byte of its pattern, longest first; [0] for tokens matched
  // in the raw text, [1] for normalised ones (built by finalize).
  std::array<std::vector<std::vector<std::size_t>>, 2> added_by_first_byte;
  bool any_normalized_added = false;
  // How overlapping added tokens are resolved: Hugging Face takes the leftmost match (the
  // longest there), llama.cpp (GGUF) the longest token anywhere first.
  bool added_longest_first = false;

  // Unique per finalized Impl: keys the per-thread word cache of bpe_word (an address could
  // be reused by a later tokenizer, a serial cannot).
  std::uint64_t serial = 0;

  // Checks consistency, builds the lookup tables. `where` prefixes error messages (file).
  void finalize(const std::string& where);

  std::optional<std::int32_t> find(std::string_view piece) const {
    auto it = piece_to_id.find(piece);
    if (it == piece_to_id.end()) return std::nullopt;
    return it->second;
  }
  std::int32_t size() const { return static_cast<std::int32_t>(pieces.size()); }

  // The normaliser's steps over one stretch of raw text (Prepend only where prefix_ok).
  std::string normalize(std::string_view text, bool prefix_ok) const;
  // Cuts `text` at the added tokens matched in it: raw ones (normalized = false) in raw text,
  // normalised ones in normalised text. Hugging Face's leftmost-longest matching with its
  // lstrip / rstrip / single_word rules (added_tokens.cpp); special tokens only with
  // parse_special. Appends to `out`; the views point into `text`.
  void split_added(std::string_view text, bool normalized, bool parse_special,
                   std::vector<tok::AddedSplit>& out) const;
  // Encodes one stretch of text that holds no added tokens: normalised (unless `normalized`
  // says it already is), pre-tokenized and merged.
  void encode_text(std::string_view text, bool first_segment, std::vector<std::int32_t>& out,
                   bool normalized = false) const;
  // BPE over one pre-token (ranks) and SentencePiece over a whole normalised text (scores).
  void bpe_word(std::string_view word, std::vector<std::int32_t>& out) const;  // cached
  void bpe_merge(std::string_view word, std::vector<std::int32_t>& out) const;
  void spm_text(std::string_view text, std::vector<std::int32_t>& out) const;
  // Runs `model` on `word` through a per-thread cache of recent short words.
  using Model = void (Impl::*)(std::string_view, std::vector<std::int32_t>&) const;
  void cached(std::string_view word, std::vector<std::int32_t>& out, Model model) const;
};

}  // namespace cai

namespace cai::tok {

// The BPE merges Hugging Face derives from a score-merged SentencePiece vocabulary
// (transformers' SentencePieceExtractor): for every piece of two or more UTF-8 characters,
// every cut into a left and a right part that are both pieces gives the merge (left, right);
// merges are ordered by the score of the merged piece, highest first, then by its id, then
// by the left part's id. Tokenizer::save writes these for a GGUF "llama" vocabulary.
std::vector<std::pair<std::int32_t, std::int32_t>> spm_merges_from_scores(const Tokenizer::Impl& m);

}  // namespace cai::tok
