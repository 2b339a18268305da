// Internal pieces of the loader: each format's weight reading/writing, kept apart from the
// tokenizer so the two stay small (see loader.cpp for the public entry points).
#pragma once

#include <cstdint>
#include <filesystem>

#include "cai/formats/ggml_quant.h"
#include "cai/formats/gguf.h"
#include "cai/model/loader.h"

namespace cai::detail {

// Config + weights (no tokenizer) of a GGUF file / a Hugging Face directory.
LoadedModel load_gguf_weights(const gguf::Reader& reader);
LoadedModel load_hf_weights(const std::filesystem::path& dir);

}  // namespace cai::detail

namespace cai {

// What a tensor is to llama.cpp's quantizer (gguf_mix.cpp).
struct TensorRole {
  enum Kind { token_embd, output, attn_v, ffn_down, other } kind = other;
  bool cols_only = false;  // a 1-D tensor
  std::int64_t cols = 0;   // row length
  std::int64_t layer = 0, n_layers = 0;
  bool tied = false;  // the model has no separate output matrix
};
// The type llama-quantize gives such a tensor in a file of `type`.
ggml::Type gguf_tensor_type(GgufType type, const TensorRole& role);
// general.file_type of such a file.
std::uint32_t gguf_file_type_id(GgufType type);

}  // namespace cai
