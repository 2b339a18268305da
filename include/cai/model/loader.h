// Loading and saving whole models: a Hugging Face directory (config.json, *.safetensors,
// tokenizer.json) or a GGUF file is accepted wherever a model is asked for.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
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
// A GGUF file llama.cpp can load (Q/K rows permuted to llama.cpp's rotary layout).
void save_model_gguf(const LoadedModel& m, const std::filesystem::path& path, DType store_as);

// llama.cpp's row order for Llama Q/K weights [rows = n_head * D, cols] (row-major):
// HF -> GGUF is w.reshape(n_head, 2, D/2, cols).swapaxes(1, 2).reshape(rows, cols);
// permute_qk_from_gguf is its inverse.
std::vector<float> permute_qk_to_gguf(const std::vector<float>& w, std::int64_t n_head,
                                      std::int64_t rows, std::int64_t cols);
std::vector<float> permute_qk_from_gguf(const std::vector<float>& w, std::int64_t n_head,
                                        std::int64_t rows, std::int64_t cols);

}  // namespace cai
