// The shape of a Llama-family model (Llama 2/3, Mistral, Qwen2, SmolLM), read from a
// Hugging Face config.json or from GGUF metadata. Free of libtorch headers.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cai::gguf {
class Reader;
}

namespace cai {

struct RopeScaling {
  std::string type = "none";  // "none" or "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  std::int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture = "LlamaForCausalLM";  // or MistralForCausalLM, Qwen2ForCausalLM
  std::int64_t vocab_size = 32000;
  std::int64_t hidden_size = 288;
  std::int64_t intermediate_size = 768;
  std::int64_t num_layers = 6;
  std::int64_t num_heads = 6;
  std::int64_t num_kv_heads = 6;
  std::int64_t head_dim = 48;  // hidden_size / num_heads unless the config says otherwise
  std::int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // bias on Q/K/V (Qwen2)
  std::optional<std::int64_t> bos_token_id;
  std::vector<std::int64_t> eos_token_ids;

  // Throws cai::Error naming the field for inconsistent shapes.
  void validate() const;
  std::int64_t num_parameters() const;

  // `source` names the file in errors ("<dir>/config.json: field hidden_size: missing").
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& source);
  static ModelConfig from_gguf(const gguf::Reader& reader);
  nlohmann::json to_hf_json() const;
};

}  // namespace cai
