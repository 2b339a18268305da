// Tokenizer loaders and writers (internal to the tokenizer module).
#pragma once

#include <filesystem>
#include <memory>

#include "cai/tokenizer/tokenizer.h"

namespace cai::tok {

// Reads a Hugging Face tokenizer.json and, when `config` exists, its tokenizer_config.json
// (BOS/EOS, add_bos_token/add_eos_token, chat_template). Errors name the file and the JSON key.
Tokenizer load_hf_json(const std::filesystem::path& json, const std::filesystem::path& config);
// Parses tokenizer.json (and tokenizer_config.json, when not empty) text already in memory;
// `where` and `config_where` name them in errors.
Tokenizer parse_hf_json(const std::string& json_text, const std::string& config_text,
                        const std::string& where, const std::string& config_where = "");

// GGUF key (cai's own) holding the exact pre-tokenizer patterns, so tokenizers whose
// patterns match no llama.cpp style still round-trip through GGUF.
inline constexpr const char* kPrePatternsKey = "tokenizer.cai.pre_patterns";

// Reads the tokenizer.ggml.* metadata keys; errors name the file and the key.
Tokenizer load_gguf(const gguf::Reader& reader);
// The same, before wrapping (tests adjust the state directly).
std::shared_ptr<Tokenizer::Impl> load_gguf_impl(const gguf::Reader& reader);

}  // namespace cai::tok
