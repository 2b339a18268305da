// Which ggml type each tensor of a saved GGUF gets: llama.cpp's choices (llama-quant.cpp's
// llama_tensor_get_type for these file types, without an importance matrix), so a file cai
// quantizes is the file llama-quantize would make:
//  - 1-D tensors (norms, biases) stay F32;
//  - the output matrix (or the token embedding when the two are tied) gets Q6_K, or Q8_0 when
//    its rows do not split into 256-value blocks; Q8_0 files keep Q8_0;
//  - Q4_K_M and Q5_K_M give attn_v and ffn_down Q6_K in the first and last eighth of the
//    layers and every third layer between ("use_more_bits");
//  - a row length the chosen type cannot hold falls back: Q4_K -> Q5_0, Q5_K -> Q5_1,
//    Q6_K -> Q8_0, and F16 when even 32-value blocks do not fit.
#include <string>

#include "cai/io/error.h"
#include "model_io.h"

namespace cai {

namespace {

struct FileType {
  GgufType type;
  std::string_view name;
  ggml::Type base;
  std::uint32_t ftype;  // general.file_type (llama_ftype)
};

constexpr FileType kFileTypes[] = {
    {GgufType::f32, "f32", ggml::Type::F32, 0},
    {GgufType::f16, "f16", ggml::Type::F16, 1},
    {GgufType::bf16, "bf16", ggml::Type::BF16, 32},
    {GgufType::q8_0, "q8_0", ggml::Type::Q8_0, 7},
    {GgufType::q4_0, "q4_0", ggml::Type::Q4_0, 2},
    {GgufType::q4_k_m, "q4_k", ggml::Type::Q4_K, 15},
    {GgufType::q5_k_m, "q5_k", ggml::Type::Q5_K, 17},
    {GgufType::q6_k, "q6_k", ggml::Type::Q6_K, 18},
};

const FileType& file_type(GgufType t) {
  for (const auto& f : kFileTypes)
    if (f.type == t) return f;
  throw_error("unknown GGUF file type {}", static_cast<int>(t));
}

bool use_more_bits(std::int64_t layer, std::int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

ggml::Type fallback(ggml::Type t, std::int64_t cols) {
  if (cols % ggml::traits(t).block == 0) return t;
  switch (t) {
    case ggml::Type::Q4_K:
      t = ggml::Type::Q5_0;
      break;
    case ggml::Type::Q5_K:
      t = ggml::Type::Q5_1;
      break;
    case ggml::Type::Q6_K:
      t = ggml::Type::Q8_0;
      break;
    default:
      break;
  }
  return cols % ggml::traits(t).block == 0 ? t : ggml::Type::F16;
}

}  // namespace

std::string_view gguf_type_name(GgufType t) { return file_type(t).name; }

GgufType parse_gguf_type(std::string_view name) {
  for (const auto& f : kFileTypes)
    if (f.name == name) return f.type;
  if (name == "q4_k_m") return GgufType::q4_k_m;
  if (name == "q5_k_m") return GgufType::q5_k_m;
  throw_error("unknown weight type '{}' (f32, f16, bf16, q8_0, q4_0, q4_k, q5_k or q6_k)", name);
}

std::uint32_t gguf_file_type_id(GgufType t) { return file_type(t).ftype; }

ggml::Type gguf_tensor_type(GgufType type, const TensorRole& role) {
  const ggml::Type base = file_type(type).base;
  if (role.cols_only || !ggml::traits(base).quantized)
    return role.cols_only ? ggml::Type::F32 : base;
  const bool km = type == GgufType::q4_k_m || type == GgufType::q5_k_m;
  ggml::Type t = base;
  if (role.kind == TensorRole::output || (role.kind == TensorRole::token_embd && role.tied)) {
    if (role.cols % ggml::traits(base).block != 0)
      t = ggml::Type::Q8_0;
    else if (base != ggml::Type::Q8_0)
      t = ggml::Type::Q6_K;
  } else if (km && (role.kind == TensorRole::attn_v || role.kind == TensorRole::ffn_down) &&
             use_more_bits(role.layer, role.n_layers)) {
    t = ggml::Type::Q6_K;
  }
  return fallback(t, role.cols);
}

}  // namespace cai
