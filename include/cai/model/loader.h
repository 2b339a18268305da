// Loading and saving whole models: a Hugging Face directory (config.json, *.safetensors,
// tokenizer.json) or a GGUF file is accepted wherever a model is asked for.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cai/formats/dtype.h"
#include "cai/model/config.h"
#include "cai/tokenizer/tokenizer.h"

namespace cai {

class LlamaModel;

struct LoadedModel {
  ModelConfig config;
  std::shared_ptr<LlamaModel> model;
  std::optional<Tokenizer> tokenizer;  // absent when the source carries none
  std::filesystem::path source;
  std::string format;                                 // "safetensors" or "gguf"
  std::map<std::string, std::int64_t> stored_dtypes;  // dtype name -> tensor count
};

// Throws cai::Error naming the file and tensor/key for anything missing or malformed.
LoadedModel load_model(const std::filesystem::path& path);

// A Hugging Face directory: config.json, model.safetensors, tokenizer.json (when given).
void save_model_dir(const LoadedModel& m, const std::filesystem::path& dir, DType store_as);
// What the weight matrices of a saved GGUF are stored as: one type, or llama.cpp's mixes.
// q4_k and q5_k are llama-quantize's Q4_K_M and Q5_K_M (some tensors get more bits, rows that
// do not split into 256-value blocks fall back to 32-value types); q6_k and q8_0 also keep the
// output matrix in higher precision as llama.cpp does.
enum class GgufType { f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k };
// "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k" (or "q4_k_m"), "q5_k" ("q5_k_m"), "q6_k";
// throws cai::Error listing them for anything else.
GgufType parse_gguf_type(std::string_view name);
std::string_view gguf_type_name(GgufType type);

// A GGUF file llama.cpp can load (Q/K rows permuted to llama.cpp's rotary layout). Weights
// already stored in the chosen type are copied as they are, others (re)quantized with ggml's
// reference quantizers.
void save_model_gguf(const LoadedModel& m, const std::filesystem::path& path, GgufType type);
// store_as F32, F16 or BF16.
void save_model_gguf(const LoadedModel& m, const std::filesystem::path& path, DType store_as);

// llama.cpp's row order for Llama Q/K weights [rows = n_head * D, cols] (row-major):
// HF -> GGUF is w.reshape(n_head, 2, D/2, cols).swapaxes(1, 2).reshape(rows, cols);
// permute_qk_from_gguf is its inverse.
std::vector<float> permute_qk_to_gguf(const std::vector<float>& w, std::int64_t n_head,
                                      std::int64_t rows, std::int64_t cols);
std::vector<float> permute_qk_from_gguf(const std::vector<float>& w, std::int64_t n_head,
                                        std::int64_t rows, std::int64_t cols);

}  // namespace cai
