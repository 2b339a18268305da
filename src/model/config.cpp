// ModelConfig from Hugging Face config.json and GGUF metadata, and back to config.json.
#include "cai/model/config.h"

#include <nlohmann/json.hpp>

#include "cai/formats/gguf.h"
#include "cai/io/error.h"

namespace cai {
namespace {

bool supported_architecture(const std::string& a) {
  return a == "LlamaForCausalLM" || a == "MistralForCausalLM" || a == "Qwen2ForCausalLM";
}

// Field accessors that name the file and field in every error.
const nlohmann::json& field(const nlohmann::json& j, const char* key, const std::string& src) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) throw_error("{}: field {}: missing", src, key);
  return *it;
}

std::int64_t get_int(const nlohmann::json& j, const char* key, const std::string& src) {
  const auto& v = field(j, key, src);
  if (!v.is_number_integer())
    throw_error("{}: field {}: expected an integer, got {}", src, key, v.dump());
  return v.get<std::int64_t>();
}

double get_num(const nlohmann::json& j, const char* key, const std::string& src) {
  const auto& v = field(j, key, src);
  if (!v.is_number()) throw_error("{}: field {}: expected a number, got {}", src, key, v.dump());
  return v.get<double>();
}

bool has(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && !it->is_null();
}

RopeScaling parse_rope_scaling(const nlohmann::json& r, const std::string& src) {
  RopeScaling rs;
  if (r.is_null()) return rs;
  if (!r.is_object()) throw_error("{}: field rope_scaling: expected an object", src);
  std::string type;
  if (has(r, "rope_type"))
    type = r["rope_type"].get<std::string>();
  else if (has(r, "type"))
    type = r["type"].get<std::string>();
  else
    throw_error("{}: field rope_scaling.rope_type: missing", src);
  if (type == "default") return rs;
  if (type != "llama3")
    throw_error("{}: field rope_scaling.rope_type: unsupported value \"{}\" (only \"llama3\")", src,
                type);
  const std::string sub = src + " rope_scaling";
  rs.type = "llama3";
  rs.factor = get_num(r, "factor", sub);
  rs.low_freq_factor = has(r, "low_freq_factor") ? get_num(r, "low_freq_factor", sub) : 1.0;
  rs.high_freq_factor = has(r, "high_freq_factor") ? get_num(r, "high_freq_factor", sub) : 4.0;
  rs.original_max_position_embeddings = has(r, "original_max_position_embeddings")
                                            ? get_int(r, "original_max_position_embeddings", sub)
                                            : 8192;
  return rs;
}

}  // namespace

void ModelConfig::validate() const {
  auto positive = [](std::int64_t v, const char* name) {
    CAI_CHECK(v > 0, "model config: field {} must be positive, got {}", name, v);
  };
  CAI_CHECK(supported_architecture(architecture),
            "model config: field architectures: unsupported {}", architecture);
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(intermediate_size, "intermediate_size");
  positive(num_layers, "num_hidden_layers");
  positive(num_heads, "num_attention_heads");
  positive(num_kv_heads, "num_key_value_heads");
  positive(head_dim, "head_dim");
  positive(max_position_embeddings, "max_position_embeddings");
  CAI_CHECK(num_heads % num_kv_heads == 0,
            "model config: field num_key_value_heads: {} does not divide num_attention_heads {}",
            num_kv_heads, num_heads);
  CAI_CHECK(head_dim % 2 == 0,
            "model config: field head_dim: {} must be even for rotary embeddings", head_dim);
  CAI_CHECK(rms_norm_eps > 0, "model config: field rms_norm_eps must be positive, got {}",
            rms_norm_eps);
  CAI_CHECK(rope_theta > 0, "model config: field rope_theta must be positive, got {}", rope_theta);
  CAI_CHECK(rope_scaling.type == "none" || rope_scaling.type == "llama3",
            "model config: field rope_scaling.rope_type: unsupported {}", rope_scaling.type);
  if (rope_scaling.type == "llama3") {
    CAI_CHECK(rope_scaling.factor > 0, "model config: field rope_scaling.factor must be positive");
    CAI_CHECK(rope_scaling.high_freq_factor != rope_scaling.low_freq_factor,
              "model config: field rope_scaling.high_freq_factor must differ from low_freq_factor");
    CAI_CHECK(rope_scaling.original_max_position_embeddings > 0,
              "model config: field rope_scaling.original_max_position_embeddings must be positive");
  }
  for (auto id : eos_token_ids)
    CAI_CHECK(id >= 0 && id < vocab_size,
              "model config: field eos_token_id: {} outside vocabulary {}", id, vocab_size);
}

std::int64_t ModelConfig::num_parameters() const {
  const std::int64_t C = hidden_size, q = num_heads * head_dim, kv = num_kv_heads * head_dim;
  std::int64_t layer = 2 * C                         // attention and MLP norms
                       + C * q + 2 * C * kv + q * C  // q, k, v, o
                       + 3 * C * intermediate_size;  // gate, up, down
  if (attention_bias) layer += q + 2 * kv;
  std::int64_t n = vocab_size * C + num_layers * layer + C;
  if (!tie_word_embeddings) n += vocab_size * C;
  return n;
}

ModelConfig ModelConfig::from_hf_json(const nlohmann::json& j, const std::string& source) {
  const std::string& src = source;
  if (!j.is_object()) throw_error("{}: expected a JSON object", src);
  ModelConfig c;
  const auto& archs = field(j, "architectures", src);
  if (!archs.is_array() || archs.empty() || !archs[0].is_string())
    throw_error("{}: field architectures: expected a list of names", src);
  c.architecture = archs[0].get<std::string>();
  if (!supported_architecture(c.architecture))
    throw_error(
        "{}: field architectures: unsupported architecture {} (supported: LlamaForCausalLM, "
        "MistralForCausalLM, Qwen2ForCausalLM)",
        src, c.architecture);
  const bool qwen2 = c.architecture == "Qwen2ForCausalLM";

  c.vocab_size = get_int(j, "vocab_size", src);
  c.hidden_size = get_int(j, "hidden_size", src);
  c.intermediate_size = get_int(j, "intermediate_size", src);
  c.num_layers = get_int(j, "num_hidden_layers", src);
  c.num_heads = get_int(j, "num_attention_heads", src);
  c.num_kv_heads =
      has(j, "num_key_value_heads") ? get_int(j, "num_key_value_heads", src) : c.num_heads;
  if (c.num_heads <= 0) throw_error("{}: field num_attention_heads: must be positive", src);
  c.head_dim = has(j, "head_dim") ? get_int(j, "head_dim", src) : c.hidden_size / c.num_heads;
  c.max_position_embeddings =
      has(j, "max_position_embeddings") ? get_int(j, "max_position_embeddings", src) : 2048;
  c.rms_norm_eps = has(j, "rms_norm_eps") ? get_num(j, "rms_norm_eps", src) : 1e-6;
  c.rope_theta = has(j, "rope_theta") ? get_num(j, "rope_theta", src) : 10000.0;
  if (j.contains("rope_scaling")) c.rope_scaling = parse_rope_scaling(j["rope_scaling"], src);
  c.tie_word_embeddings =
      has(j, "tie_word_embeddings") ? field(j, "tie_word_embeddings", src).get<bool>() : false;
  // Qwen2 has biases on Q/K/V only; Llama's attention_bias would also put one on O.
  c.attention_bias = qwen2;
  if (!qwen2 && has(j, "attention_bias") && j["attention_bias"].get<bool>())
    throw_error("{}: field attention_bias: true is not supported for {}", src, c.architecture);
  if (has(j, "hidden_act") && j["hidden_act"] != "silu")
    throw_error("{}: field hidden_act: unsupported {} (only silu)", src, j["hidden_act"].dump());
  if (has(j, "mlp_bias") && j["mlp_bias"].get<bool>())
    throw_error("{}: field mlp_bias: true is not supported", src);
  if (has(j, "bos_token_id")) c.bos_token_id = get_int(j, "bos_token_id", src);
  if (has(j, "eos_token_id")) {
    const auto& e = j["eos_token_id"];
    if (e.is_array()) {
      for (const auto& x : e) {
        if (!x.is_number_integer()) throw_error("{}: field eos_token_id: expected integers", src);
        c.eos_token_ids.push_back(x.get<std::int64_t>());
      }
    } else {
      c.eos_token_ids.push_back(get_int(j, "eos_token_id", src));
    }
  }
  try {
    c.validate();
  } catch (const Error& e) {
    throw_error("{}: {}", src, e.what());
  }
  return c;
}

ModelConfig ModelConfig::from_gguf(const gguf::Reader& r) {
  const std::string src = r.path().string();
  const std::string arch = r.get_string("general.architecture");
  if (arch != "llama" && arch != "qwen2")
    throw_error(
        "{}: metadata key general.architecture: unsupported architecture {} (supported: llama, "
        "qwen2)",
        src, arch);
  const std::string p = arch + ".";
  ModelConfig c;
  c.architecture = arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
  c.attention_bias = arch == "qwen2";
  c.hidden_size = r.get_int(p + "embedding_length");
  c.num_layers = r.get_int(p + "block_count");
  c.intermediate_size = r.get_int(p + "feed_forward_length");
  c.num_heads = r.get_int(p + "attention.head_count");
  c.num_kv_heads = r.get_int_opt(p + "attention.head_count_kv").value_or(c.num_heads);
  c.rms_norm_eps = r.get_float(p + "attention.layer_norm_rms_epsilon");
  c.rope_theta = r.get_float_opt(p + "rope.freq_base").value_or(10000.0);
  c.max_position_embeddings = r.get_int_opt(p + "context_length").value_or(2048);
  if (c.num_heads <= 0)
    throw_error("{}: metadata key {}attention.head_count: must be positive", src, p);
  c.head_dim = r.get_int_opt(p + "rope.dimension_count").value_or(c.hidden_size / c.num_heads);
  if (auto kl = r.get_int_opt(p + "attention.key_length")) c.head_dim = *kl;
  if (r.has("tokenizer.ggml.tokens"))
    c.vocab_size = static_cast<std::int64_t>(r.get_string_array("tokenizer.ggml.tokens").size());
  else if (auto v = r.get_int_opt(p + "vocab_size"))
    c.vocab_size = *v;
  else if (const auto* t = r.find_tensor("token_embd.weight"))
    c.vocab_size = t->shape().at(0);
  else
    throw_error("{}: metadata key tokenizer.ggml.tokens / {}vocab_size: missing", src, p);
  c.tie_word_embeddings = r.find_tensor("output.weight") == nullptr;
  if (auto b = r.get_int_opt("tokenizer.ggml.bos_token_id")) c.bos_token_id = *b;
  if (auto e = r.get_int_opt("tokenizer.ggml.eos_token_id")) c.eos_token_ids.push_back(*e);
  // cai writes the llama3 rope-scaling parameters under its own keys (llama.cpp itself only
  // stores the resulting per-frequency factors in the rope_freqs.weight tensor).
  if (auto t = r.get_string_opt("cai.rope_scaling.type"); t && *t == "llama3") {
    c.rope_scaling.type = "llama3";
    c.rope_scaling.factor = r.get_float("cai.rope_scaling.factor");
    c.rope_scaling.low_freq_factor = r.get_float("cai.rope_scaling.low_freq_factor");
    c.rope_scaling.high_freq_factor = r.get_float("cai.rope_scaling.high_freq_factor");
    c.rope_scaling.original_max_position_embeddings =
        r.get_int("cai.rope_scaling.original_max_position_embeddings");
  }
  try {
    c.validate();
  } catch (const Error& e) {
    throw_error("{}: {}", src, e.what());
  }
  return c;
}

nlohmann::json ModelConfig::to_hf_json() const {
  nlohmann::json j;
  j["architectures"] = {architecture};
  j["model_type"] = architecture == "Qwen2ForCausalLM"     ? "qwen2"
                    : architecture == "MistralForCausalLM" ? "mistral"
                                                           : "llama";
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_layers;
  j["num_attention_heads"] = num_heads;
  j["num_key_value_heads"] = num_kv_heads;
  j["head_dim"] = head_dim;
  j["vocab_size"] = vocab_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  if (rope_scaling.type == "llama3") {
    j["rope_scaling"] = {
        {"rope_type", "llama3"},
        {"factor", rope_scaling.factor},
        {"low_freq_factor", rope_scaling.low_freq_factor},
        {"high_freq_factor", rope_scaling.high_freq_factor},
        {"original_max_position_embeddings", rope_scaling.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["tie_word_embeddings"] = tie_word_embeddings;
  if (architecture != "Qwen2ForCausalLM") j["attention_bias"] = attention_bias;
  j["mlp_bias"] = false;
  j["hidden_act"] = "silu";
  j["torch_dtype"] = "float32";
  j["bos_token_id"] = bos_token_id ? nlohmann::json(*bos_token_id) : nlohmann::json(nullptr);
  if (eos_token_ids.empty())
    j["eos_token_id"] = nullptr;
  else if (eos_token_ids.size() == 1)
    j["eos_token_id"] = eos_token_ids[0];
  else
    j["eos_token_id"] = eos_token_ids;
  return j;
}

}  // namespace cai
