// GGUF <-> LlamaModel weights, in llama.cpp's tensor names and Q/K row order.
//
// llama.cpp's converter permutes the rows of Llama Q and K weights so that its rotary
// embedding can rotate adjacent pairs (2i, 2i+1) where Hugging Face rotates (i, i + D/2):
//   HF -> GGUF: w.reshape(n_head, 2, D/2, C).swapaxes(1, 2).reshape(n_head*D, C)
// Everything inside cai is HF layout, so the permutation is undone on load and applied on save.
// Qwen2 GGUFs use llama.cpp's NEOX rotary (rotate-half) and are not permuted.
#include <torch/torch.h>

#include <map>
#include <set>

#include "cai/formats/gguf.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/rope.h"
#include "model_io.h"

namespace cai {

namespace {

// Row permutation of Q/K between the two layouts, on rows of `row_bytes` bytes (any element
// type: a quantized row moves as a whole). to_gguf: GGUF row (h, i, j) <- HF row (h, j, i),
// i < D/2, j < 2; the inverse otherwise.
template <class T>
std::vector<T> permute_rows(const std::vector<T>& w, std::int64_t n_head, std::int64_t rows,
                            std::size_t row_len, bool to_gguf, const char* what) {
  const std::int64_t D = rows / n_head, half = D / 2;
  CAI_CHECK(n_head > 0 && D * n_head == rows && D % 2 == 0 &&
                w.size() == static_cast<std::size_t>(rows) * row_len,
            "{}: {} rows, {} heads, {} values do not fit", what, rows, n_head, w.size());
  std::vector<T> out(w.size());
  for (std::int64_t h = 0; h < n_head; ++h)
    for (std::int64_t i = 0; i < half; ++i)
      for (std::int64_t j = 0; j < 2; ++j) {
        const std::int64_t g = h * D + i * 2 + j, f = h * D + j * half + i;
        const std::int64_t src = to_gguf ? f : g, dst = to_gguf ? g : f;
        std::copy_n(w.begin() + static_cast<std::ptrdiff_t>(src * row_len), row_len,
                    out.begin() + static_cast<std::ptrdiff_t>(dst * row_len));
      }
  return out;
}

}  // namespace

std::vector<float> permute_qk_to_gguf(const std::vector<float>& w, std::int64_t n_head,
                                      std::int64_t rows, std::int64_t cols) {
  return permute_rows(w, n_head, rows, static_cast<std::size_t>(cols), true, "permute_qk_to_gguf");
}

std::vector<float> permute_qk_from_gguf(const std::vector<float>& w, std::int64_t n_head,
                                        std::int64_t rows, std::int64_t cols) {
  return permute_rows(w, n_head, rows, static_cast<std::size_t>(cols), false,
                      "permute_qk_from_gguf");
}

namespace {

struct Mapping {
  std::string gguf, hf;
  std::int64_t permute_heads = 0;  // > 0: Q/K rows in llama.cpp order with this many heads
};

// Every tensor a model of `cfg` has, under both names.
std::vector<Mapping> tensor_map(const ModelConfig& cfg, bool permute) {
  std::vector<Mapping> m;
  m.push_back({"token_embd.weight", "model.embed_tokens.weight"});
  for (std::int64_t l = 0; l < cfg.num_layers; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".",
                      h = "model.layers." + std::to_string(l) + ".";
    m.push_back({g + "attn_norm.weight", h + "input_layernorm.weight"});
    m.push_back({g + "attn_q.weight", h + "self_attn.q_proj.weight", permute ? cfg.num_heads : 0});
    m.push_back(
        {g + "attn_k.weight", h + "self_attn.k_proj.weight", permute ? cfg.num_kv_heads : 0});
    m.push_back({g + "attn_v.weight", h + "self_attn.v_proj.weight"});
    if (cfg.attention_bias) {
      m.push_back({g + "attn_q.bias", h + "self_attn.q_proj.bias"});
      m.push_back({g + "attn_k.bias", h + "self_attn.k_proj.bias"});
      m.push_back({g + "attn_v.bias", h + "self_attn.v_proj.bias"});
    }
    m.push_back({g + "attn_output.weight", h + "self_attn.o_proj.weight"});
    m.push_back({g + "ffn_norm.weight", h + "post_attention_layernorm.weight"});
    m.push_back({g + "ffn_gate.weight", h + "mlp.gate_proj.weight"});
    m.push_back({g + "ffn_up.weight", h + "mlp.up_proj.weight"});
    m.push_back({g + "ffn_down.weight", h + "mlp.down_proj.weight"});
  }
  m.push_back({"output_norm.weight", "model.norm.weight"});
  if (!cfg.tie_word_embeddings) m.push_back({"output.weight", "lm_head.weight"});
  return m;
}

// What llama.cpp's quantizer makes of tensor `gguf` (see gguf_mix.cpp).
TensorRole tensor_role(const std::string& gguf, const std::vector<std::int64_t>& shape,
                       const ModelConfig& cfg) {
  TensorRole r;
  r.cols_only = shape.size() == 1;
  r.cols = shape.back();
  r.n_layers = cfg.num_layers;
  r.tied = cfg.tie_word_embeddings;
  if (gguf == "token_embd.weight") r.kind = TensorRole::token_embd;
  if (gguf == "output.weight") r.kind = TensorRole::output;
  if (gguf.starts_with("blk.")) {
    r.layer = std::stoll(gguf.substr(4));
    if (gguf.ends_with(".attn_v.weight")) r.kind = TensorRole::attn_v;
    if (gguf.ends_with(".ffn_down.weight")) r.kind = TensorRole::ffn_down;
  }
  return r;
}

// llama.cpp's per-frequency divisors for llama3 scaling (its rope_freqs.weight tensor).
std::vector<float> llama3_rope_factors(const ModelConfig& cfg) {
  ModelConfig plain = cfg;
  plain.rope_scaling = RopeScaling{};
  auto base = rope_inv_freq(plain), scaled = rope_inv_freq(cfg);
  std::vector<float> f(base.size());
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = base[i] / scaled[i];
  return f;
}

}  // namespace

namespace detail {

LoadedModel load_gguf_weights(const gguf::Reader& r) {
  const std::filesystem::path& path = r.path();
  const std::string src = path.string();
  LoadedModel out;
  out.config = ModelConfig::from_gguf(r);
  out.source = path;
  out.format = "gguf";
  const ModelConfig& cfg = out.config;
  // Matrices stay as the file stores them (quantized, F16, BF16); see LlamaModel.
  out.model = std::make_shared<LlamaModel>(cfg, LlamaModel::Init::empty);

  std::set<std::string> allowed;
  std::map<std::string, std::vector<std::int64_t>> hf_shapes;
  for (auto& [name, shape] : out.model->hf_shapes()) hf_shapes[name] = shape;
  const bool permute = r.get_string("general.architecture") == "llama";
  for (const Mapping& m : tensor_map(cfg, permute)) {
    allowed.insert(m.gguf);
    const gguf::TensorInfo* t = r.find_tensor(m.gguf);
    if (!t) throw_error("{}: tensor {}: missing", src, m.gguf);
    const auto& want = hf_shapes.at(m.hf);
    if (t->shape() != want)
      throw_error("{}: tensor {}: shape [{}], expected [{}]", src, m.gguf,
                  fmt::join(t->shape(), ", "), fmt::join(want, ", "));
    const std::uint8_t* p = r.tensor_data(*t);
    std::vector<std::uint8_t> bytes(p, p + t->nbytes);
    if (m.permute_heads > 0)
      bytes =
          permute_rows(bytes, m.permute_heads, want[0], t->nbytes / want[0], false, src.c_str());
    out.model->set_hf_tensor(m.hf, want, static_cast<ggml::Type>(t->type), std::move(bytes), src);
    ++out.stored_dtypes[std::string(ggml::type_name(t->type))];
  }
  out.model->finish_loading(src);
  // llama3 rope scaling: llama.cpp stores only the resulting factors. Check them against the
  // parameters cai recorded; without those the scaling cannot be represented faithfully.
  if (const gguf::TensorInfo* t = r.find_tensor("rope_freqs.weight")) {
    allowed.insert(t->name);
    if (cfg.rope_scaling.type != "llama3")
      throw_error(
          "{}: tensor rope_freqs.weight: per-frequency rope factors without "
          "cai.rope_scaling.* metadata are not supported",
          src);
    auto got = r.read_f32(*t);
    auto want = llama3_rope_factors(cfg);
    CAI_CHECK(got.size() == want.size(), "{}: tensor rope_freqs.weight: {} values, expected {}",
              src, got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      CAI_CHECK(std::abs(got[i] - want[i]) <= 1e-4f * std::abs(want[i]),
                "{}: tensor rope_freqs.weight: factor {} is {}, the rope_scaling metadata gives {}",
                src, i, got[i], want[i]);
  }
  for (const auto& t : r.tensors())
    if (!allowed.count(t.name))
      throw_error("{}: tensor {}: unexpected for this model", src, t.name);
  return out;
}

}  // namespace detail

void save_model_gguf(const LoadedModel& m, const std::filesystem::path& path, DType store_as) {
  switch (store_as) {
    case DType::F32:
      return save_model_gguf(m, path, GgufType::f32);
    case DType::F16:
      return save_model_gguf(m, path, GgufType::f16);
    case DType::BF16:
      return save_model_gguf(m, path, GgufType::bf16);
    default:
      throw_error("{}: GGUF export stores f32, f16 or bf16, not {}", path.string(),
                  dtype_name(store_as));
  }
}

void save_model_gguf(const LoadedModel& m, const std::filesystem::path& path, GgufType type) {
  CAI_CHECK(m.model, "save_model_gguf: no model to save to {}", path.string());
  const ModelConfig& cfg = m.model->config();
  const bool qwen2 = cfg.architecture == "Qwen2ForCausalLM";
  const std::string arch = qwen2 ? "qwen2" : "llama", p = arch + ".";
  gguf::Writer w;
  w.set_string("general.architecture", arch);
  w.set_string("general.name", path.stem().string());
  w.set_u32("general.file_type", gguf_file_type_id(type));
  if (type != GgufType::f32 && type != GgufType::f16 && type != GgufType::bf16)
    w.set_u32("general.quantization_version", 2);
  w.set_u32(p + "context_length", static_cast<std::uint32_t>(cfg.max_position_embeddings));
  w.set_u32(p + "embedding_length", static_cast<std::uint32_t>(cfg.hidden_size));
  w.set_u32(p + "block_count", static_cast<std::uint32_t>(cfg.num_layers));
  w.set_u32(p + "feed_forward_length", static_cast<std::uint32_t>(cfg.intermediate_size));
  w.set_u32(p + "rope.dimension_count", static_cast<std::uint32_t>(cfg.head_dim));
  w.set_u32(p + "attention.head_count", static_cast<std::uint32_t>(cfg.num_heads));
  w.set_u32(p + "attention.head_count_kv", static_cast<std::uint32_t>(cfg.num_kv_heads));
  if (cfg.head_dim * cfg.num_heads != cfg.hidden_size) {
    w.set_u32(p + "attention.key_length", static_cast<std::uint32_t>(cfg.head_dim));
    w.set_u32(p + "attention.value_length", static_cast<std::uint32_t>(cfg.head_dim));
  }
  w.set_f32(p + "attention.layer_norm_rms_epsilon", static_cast<float>(cfg.rms_norm_eps));
  w.set_f32(p + "rope.freq_base", static_cast<float>(cfg.rope_theta));
  w.set_u32(p + "vocab_size", static_cast<std::uint32_t>(cfg.vocab_size));
  if (cfg.rope_scaling.type == "llama3") {
    w.set_string("cai.rope_scaling.type", "llama3");
    w.set_f32("cai.rope_scaling.factor", static_cast<float>(cfg.rope_scaling.factor));
    w.set_f32("cai.rope_scaling.low_freq_factor",
              static_cast<float>(cfg.rope_scaling.low_freq_factor));
    w.set_f32("cai.rope_scaling.high_freq_factor",
              static_cast<float>(cfg.rope_scaling.high_freq_factor));
    w.set_u32("cai.rope_scaling.original_max_position_embeddings",
              static_cast<std::uint32_t>(cfg.rope_scaling.original_max_position_embeddings));
  }
  if (m.tokenizer) {
    m.tokenizer->write_gguf_metadata(w);
  } else {
    if (cfg.bos_token_id)
      w.set_u32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(*cfg.bos_token_id));
    if (!cfg.eos_token_ids.empty())
      w.set_u32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(cfg.eos_token_ids[0]));
  }

  std::map<std::string, torch::Tensor> params;
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (auto& [name, t] : m.model->hf_parameters()) {
    shapes[name] = t.sizes().vec();
    params[name] = t;
  }
  torch::NoGradGuard no_grad;
  if (cfg.rope_scaling.type == "llama3") {
    auto f = llama3_rope_factors(cfg);
    w.add_tensor("rope_freqs.weight", {static_cast<std::int64_t>(f.size())}, f.data(),
                 gguf::TensorType::F32);
  }
  for (const Mapping& mp : tensor_map(cfg, !qwen2)) {
    const auto& shape = shapes.at(mp.hf);
    const ggml::Type tt = gguf_tensor_type(type, tensor_role(mp.gguf, shape, cfg));
    // A matrix held in the target type already is copied, not requantized.
    ggml::Type held;
    auto bytes = m.model->hf_tensor_bytes(mp.hf, &held);
    if (!bytes.empty() && held == tt) {
      if (mp.permute_heads > 0)
        bytes = permute_rows(bytes, mp.permute_heads, shape[0], bytes.size() / shape[0], true,
                             "save_model_gguf");
      w.add_tensor_bytes(mp.gguf, shape, tt, std::move(bytes));
      continue;
    }
    auto t = params.at(mp.hf).detach().to(torch::kFloat32).contiguous();
    if (mp.permute_heads > 0) {
      std::vector<float> v(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
      auto pv = permute_qk_to_gguf(v, mp.permute_heads, shape[0], shape[1]);
      w.add_tensor(mp.gguf, shape, pv.data(), tt);
    } else {
      w.add_tensor(mp.gguf, shape, t.data_ptr<float>(), tt);
    }
  }
  w.write(path);
}

}  // namespace cai
