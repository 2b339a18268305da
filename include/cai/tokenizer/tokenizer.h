// Tokenizers that match the reference implementations token for token: byte-level BPE
// (GPT-2, Llama 3, Qwen2, StarCoder, Falcon) and SentencePiece-style BPE (Llama 2, Phi-3),
// loaded from Hugging Face tokenizer.json or from GGUF metadata.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cai::gguf {
class Reader;
class Writer;
}  // namespace cai::gguf

namespace cai {

class Tokenizer {
 public:
  // `path` is a tokenizer.json, a .gguf file, or a directory holding tokenizer.json (and
  // optionally tokenizer_config.json for BOS/EOS/chat template). Errors name file and key.
  static Tokenizer load(const std::filesystem::path& path);
  static Tokenizer from_gguf(const gguf::Reader& reader);

  // add_special: add BOS/EOS as the tokenizer's configuration says.
  // parse_special: recognise special/added tokens written in the text ("<|im_end|>").
  std::vector<std::int32_t> encode(std::string_view text, bool add_special = false,
                                   bool parse_special = false) const;
  // A prompt (often a rendered chat template): special tokens in the text recognised, BOS added
  // as the configuration says unless the text already starts with it. `continued` (a final
  // assistant message the reply continues, ChatTemplate::render_continued) follows, tokenised
  // on its own as training tokenises a given start.
  std::vector<std::int32_t> encode_prompt(std::string_view text,
                                          std::string_view continued = {}) const;
  // Whether encode_prompt adds BOS to `text`.
  bool prompt_wants_bos(std::string_view text) const;
  std::string decode(const std::vector<std::int32_t>& ids, bool skip_special = false) const;
  // Bytes a token contributes in the middle of a decoded text (for streaming and stop strings).
  std::string token_bytes(std::int32_t id) const;

  std::int32_t vocab_size() const;
  std::optional<std::int32_t> token_to_id(std::string_view piece) const;
  const std::string& id_to_piece(std::int32_t id) const;
  bool is_special(std::int32_t id) const;
  std::optional<std::int32_t> bos_id() const;
  std::optional<std::int32_t> eos_id() const;
  // Every id that ends generation (EOS plus e.g. <|eot_id|>, <|im_end|> when present).
  const std::vector<std::int32_t>& stop_ids() const;
  // The chat template source (Jinja) from tokenizer_config.json or GGUF, when given.
  const std::optional<std::string>& chat_template_source() const;
  std::string kind() const;  // "bpe" (byte-level) or "spm"

  // Writes a Hugging Face tokenizer.json (and tokenizer_config.json beside it: BOS/EOS,
  // add_bos/add_eos, chat template) that Tokenizer::load reads back identically.
  //
  // A score-merged SentencePiece vocabulary from GGUF (Llama 2, Phi-3) is written the way
  // transformers converts Llama models: model BPE (byte_fallback, fuse_unk, unk_token) with
  // merges derived from the vocabulary and scores (tok::spm_merges_from_scores), normalizer
  // [Prepend "▁" (when the vocabulary adds a space prefix), Replace " " -> "▁"], no
  // pre-tokenizer, decoder [Replace "▁" -> " ", ByteFallback, Fuse, Strip one leading space],
  // and the control/user-defined tokens and <unk> as special added tokens. Read back, it
  // encodes like the GGUF tokenizer; tests/tokenizer/spm_export_test.cpp checks the llama-spm
  // and phi-3 fixtures, random text, and every piece next to and overlapping itself. Where
  // the two can differ:
  //  - Rank order vs score order. SentencePiece merges the highest-scoring pair, leftmost on
  //    ties; BPE the lowest-ranked merge, leftmost on ties. The ranks follow the scores, so
  //    the two agree except possibly when, at some step,
  //    (a) two different best pieces share a score: SentencePiece takes the leftmost, BPE
  //        the one with the lower id (with pieces "ca", "cac", "caca" in that id order and
  //        all scored 0, "cacac" is "caca" "c" and "ca" "cac"). In Llama 2 and Phi-3 only
  //        the whitespace pieces "▁▁" .. "▁"x16 tie (score -1e9); they merge last and only
  //        inside runs of lone "▁" symbols, which both end as the same left-to-right chunks
  //        of 16 (the test checks runs of 1..200 spaces), so these vocabularies agree;
  //    (b) one best piece can be made at two places by different cuts (BPE takes the cut
  //        with the lower left id first, SentencePiece the leftmost place). No such input
  //        is known: none turned up for these vocabularies (every piece beside and
  //        overlapping itself, 2M random piece fragments) or in exhaustive searches over
  //        small random vocabularies with distinct scores.
  //  - Added tokens that overlap in the text: llama.cpp takes the longest first, Hugging
  //    Face the leftmost (added_tokens.cpp).
  void save(const std::filesystem::path& tokenizer_json) const;
  // Writes the tokenizer.ggml.* keys llama.cpp reads (model, pre, tokens, scores, token_type,
  // merges, special ids) and tokenizer.chat_template (the tokenizer's own, else the Jinja of
  // ChatTemplate::kDefaultName, the template cai uses for it) so a GGUF export carries its
  // tokenizer and chat format.
  void write_gguf_metadata(gguf::Writer& writer) const;

  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl);

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace cai
