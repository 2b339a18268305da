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
}

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

  // Writes a Hugging Face tokenizer.json that Tokenizer::load reads back identically.
  void save(const std::filesystem::path& tokenizer_json) const;
  // Writes the tokenizer.ggml.* keys llama.cpp reads (model, pre, tokens, scores, token_type,
  // merges, special ids, chat template) so a GGUF export carries its tokenizer.
  void write_gguf_metadata(gguf::Writer& writer) const;

  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl);

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace cai
