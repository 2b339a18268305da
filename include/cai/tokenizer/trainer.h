// Training a byte-level BPE tokenizer on a text corpus (the GPT-2 recipe as Hugging Face
// tokenizers' BpeTrainer implements it: pre-tokenise, count words, repeatedly merge the most
// frequent adjacent pair).
//
// The result always holds all 256 byte symbols, so ANY byte string encodes, including
// invalid UTF-8: an invalid byte is never part of a regex match, so it becomes a pre-token
// of its own (or part of an unmatched stretch) and is encoded through its byte symbol.
// decode(encode(x)) returns exactly the bytes of x; it never substitutes U+FFFD.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cai/tokenizer/tokenizer.h"

namespace cai {

struct BpeTrainerOptions {
  // Final vocabulary size: special tokens + 256 byte symbols + merges. Training stops early
  // when no pair is frequent enough.
  std::int32_t vocab_size = 8000;
  // Pairs seen fewer times than this in the corpus are never merged.
  std::int64_t min_frequency = 2;
  // Special tokens, given ids 0..k-1 (as Hugging Face does); never split, never merged, and
  // recognised in text with parse_special. Text in the corpus matching one is skipped.
  std::vector<std::string> special_tokens;
  // Pre-tokenizer style, a llama.cpp `tokenizer.ggml.pre` name: "gpt-2" (default),
  // "llama-bpe" (Llama 3), "qwen2", "starcoder", "falcon", "default".
  std::string pre_tokenizer = "gpt-2";
  // BOS / EOS among special_tokens; unset: "<s>" / "<|begin_of_text|>" become BOS and
  // "</s>" / "<|endoftext|>" / "<|end_of_text|>" EOS when present.
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  bool add_bos = false;        // encode(add_special=true) puts BOS first
  bool show_progress = false;  // a progress bar on stderr while merging

  // Throws cai::Error naming the field for values that cannot work.
  void validate() const;
};

// Trains on texts held in memory.
Tokenizer train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options);
// Trains on the contents of files (each read whole).
Tokenizer train_bpe_files(const std::vector<std::filesystem::path>& files,
                          const BpeTrainerOptions& options);

}  // namespace cai
