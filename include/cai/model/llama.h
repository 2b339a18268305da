// The Llama-family decoder on libtorch: token embedding, RMSNorm, rotary embeddings
// (rotate-half, Hugging Face layout), grouped-query causal attention with optional Q/K/V
// bias, SwiGLU MLP, final norm, tied or untied LM head; with a slot-based KV cache.
//
// Shape legend: B = batch (rows / cache slots), T = new tokens per row, L = attended
// positions, C = hidden size, H = query heads, Hkv = key/value heads, D = head_dim,
// V = vocabulary.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cai/formats/ggml_quant.h"
#include "cai/model/config.h"

namespace cai {

namespace detail {
struct Weight;
}

// Keys and values for up to `max_batch` sequences ("slots") of up to `max_len` positions.
// Per layer: k, v [max_batch, Hkv, max_len, D], F32, on `device` (the model's).
class KVCache {
 public:
  // dtype: F32, or F16 (the fused CPU path only; LlamaModel::cache_dtype says which a model
  // uses).
  KVCache(const ModelConfig& cfg, std::int64_t max_batch, std::int64_t max_len,
          torch::Device device = torch::kCPU, torch::ScalarType dtype = torch::kFloat32);
  std::int64_t max_batch() const { return max_batch_; }
  std::int64_t max_len() const { return max_len_; }
  torch::Tensor& k(std::size_t layer) { return k_[layer]; }
  torch::Tensor& v(std::size_t layer) { return v_[layer]; }
  // Copies the first `len` positions of slot `from` into slot `to`, so a scheduler can keep
  // its live sequences in slots 0..n-1 and attention can use a plain view of the cache.
  void move_slot(std::int64_t from, std::int64_t to, std::int64_t len);

 private:
  std::int64_t max_batch_, max_len_;
  std::vector<torch::Tensor> k_, v_;
};

// The linear projections of a decoder layer, by their Hugging Face module names.
enum class Proj { q, k, v, o, gate, up, down };
const char* proj_name(Proj p);  // "q_proj", ..., "down_proj"

// Something that adds a learned term to chosen projections (LoRA): for projection p of layer
// `layer` with input x [..., in] it returns delta [..., out] to add to W x, or an undefined
// tensor when that projection is not adapted. Only the differentiable path applies adapters;
// fold them into the weights (cai::train::merge_lora) before using the fused cached path.
class LinearAdapter {
 public:
  virtual ~LinearAdapter() = default;
  // `training`: the model is in training mode and autograd is on (dropout applies).
  virtual torch::Tensor delta(std::int64_t layer, Proj p, const torch::Tensor& x,
                              bool training) = 0;
};

// Which code computes the no-grad forward passes: the fused CPU kernels (kernels.h), or plain
// libtorch ops that run on any device (CUDA). Both compute the same function; weights off the
// CPU always take the generic path.
enum class Kernels { fused, generic };

// Weight matrices are F32 parameters, or packed: kept as a file stores them (ggml blocks such
// as Q4_K or Q8_0, or F16/BF16; see cai/model/packed.h), multiplied by the inference kernels
// without widening and by the differentiable path through a frozen custom autograd function
// (adapters on a packed base train as QLoRA does). Norms and biases are always F32 parameters.
// A packed matrix is not among parameters(): unpack_weights() widens it to a trainable one.
class LlamaModel : public torch::nn::Module {
 public:
  // random: weights drawn from torch's global RNG (normal, std 0.02; norms 1). empty: matrices
  // left for a loader to fill with set_hf_tensor() and finish_loading() (norms 1, biases 0).
  enum class Init { random, empty };
  explicit LlamaModel(const ModelConfig& cfg, Init init = Init::random);
  const ModelConfig& config() const { return cfg_; }

  // tokens [B,T] int64 -> hidden [B,T,C] after the final norm. Causal, positions 0..T-1; with
  // right padding no mask is needed (a real position never attends to a later pad).
  // Differentiable when autograd is enabled; under NoGradGuard/InferenceMode it takes the
  // fused path of forward_hidden_cached, unless an adapter is attached or the weights are not
  // F32 (model->to(torch::kFloat64) for finite-difference checks): then the differentiable
  // ops run without recording a graph (same function, slower).
  torch::Tensor forward_hidden(const torch::Tensor& tokens);

  // tokens [B,T] for cache slots slot_begin..slot_begin+B-1. Row b's tokens take positions
  // start_pos[b] .. start_pos[b]+T-1 (start_pos [B] int64), are written into the cache there,
  // and attend to the cache positions [0, own position]. Returns hidden [B,T,C]. Rows whose
  // real tokens are fewer than T are right-padded; outputs at pad positions are meaningless.
  // Not differentiable (runs under NoGradGuard). Requires start_pos[b] + T <= max_len, F32
  // weights and no attached adapter (cai::Error otherwise).
  torch::Tensor forward_hidden_cached(const torch::Tensor& tokens, KVCache& cache,
                                      std::int64_t slot_begin, const torch::Tensor& start_pos);

  // hidden [..., C] -> logits [..., V]; apply only at the positions that need it. F32 out
  // without autograd on F32 weights, else the weights' dtype.
  torch::Tensor logits(const torch::Tensor& hidden);
  torch::Tensor forward(const torch::Tensor& tokens) { return logits(forward_hidden(tokens)); }

  // Parameters under their Hugging Face names ("model.embed_tokens.weight",
  // "model.layers.0.self_attn.q_proj.weight", ..., "lm_head.weight" unless tied): views of the
  // parameters, or for a packed matrix an F32 copy of its dequantized values.
  std::vector<std::pair<std::string, torch::Tensor>> hf_parameters() const;
  // The same names with their shapes (nothing dequantized).
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> hf_shapes() const;
  // Copies `values` (row-major F32, shape must match) into the named parameter (widening its
  // matrix first when packed); throws cai::Error naming `source` and the tensor on an unknown
  // name or a shape mismatch.
  void load_hf_parameter(const std::string& name, const std::vector<std::int64_t>& shape,
                         const std::vector<float>& values, const std::string& source);

  // Where the weights live (model->to(device) moves F32 weights; packed ones stay on the CPU
  // and must be widened with unpack_weights() first).
  torch::Device device() const { return norm_.device(); }
  // Chooses the no-grad path (default fused; ignored off the CPU, where it is generic).
  void set_kernels(Kernels k) { kernels_ = k; }
  bool fused() const { return kernels_ == Kernels::fused && norm_.is_cpu(); }

  // Loading as stored (after Init::empty): sets the named tensor from its encoded rows (type
  // `t`, row_bytes(t, shape.back()) bytes per row). Matrices keep the type; 1-D tensors (norms,
  // biases) are widened to F32. Throws cai::Error naming `source` and the tensor.
  void set_hf_tensor(const std::string& name, const std::vector<std::int64_t>& shape, ggml::Type t,
                     std::vector<std::uint8_t> bytes, const std::string& source);
  // Checks that every matrix was set; matrices held entirely in F32 become F32 parameters.
  void finish_loading(const std::string& source);
  // The encoded rows of a packed Hugging Face tensor when it is stored in one type (for saving
  // without requantizing); empty otherwise.
  std::vector<std::uint8_t> hf_tensor_bytes(const std::string& name, ggml::Type* type) const;

  // Whether any weight matrix is packed; widening them all into F32 parameters (for full
  // fine-tuning, or merging an adapter into them).
  bool packed() const;
  // The KV cache's element type for this model: F16 where the fused CPU path runs on
  // block-quantized weights (Q4_0 ... Q6_K), as llama.cpp's default cache for such files, which
  // halves what attention reads per step (at batch 8 and a few hundred positions, about as many
  // bytes as the weights) and moves log-probs by far less than the weights' quantization does;
  // F32 otherwise, so F32, F16 and BF16 models keep matching their references to 1e-4.
  torch::ScalarType cache_dtype() const;
  void unpack_weights();
  // Bytes of the weights in memory by stored type ("Q4_K" -> bytes; norms count as F32).
  std::map<std::string, std::uint64_t> weight_bytes() const;
  // Bytes of weights one decoding step reads: all but the token embedding table of an untied
  // model, of which it reads only the rows it looks up.
  std::uint64_t streamed_weight_bytes() const;

  // Attaches `a` (replacing any previous adapter; null detaches). The model shares ownership.
  void set_adapter(std::shared_ptr<LinearAdapter> a) { adapter_ = std::move(a); }
  LinearAdapter* adapter() const { return adapter_.get(); }

 private:
  struct Layer;
  struct Embeddings;
  ModelConfig cfg_;
  // Fused storage (see llama.cpp): hf_parameters() are views into these.
  std::unique_ptr<Embeddings> emb_;  // token embedding [V,C] and LM head [V,C] (unless tied)
  std::vector<Layer> layers_;
  torch::Tensor norm_;  // [C]
  // Rotary tables [rope_len_, D], grown on demand.
  std::vector<float> inv_freq_;
  torch::Tensor cos_, sin_;
  std::int64_t rope_len_ = 0;
  std::shared_ptr<LinearAdapter> adapter_;
  Kernels kernels_ = Kernels::fused;

  // Where each Hugging Face tensor lives in the fused storage (llama_weights.cpp).
  struct Slot;
  std::vector<Slot> slots() const;
  Slot slot(const std::string& name, const std::string& source) const;
  void unpack(detail::Weight& w);

  void ensure_rope(std::int64_t n_pos);
  torch::Tensor forward_hidden_autograd(const torch::Tensor& tokens);
  torch::Tensor forward_hidden_cached_generic(const torch::Tensor& tokens, KVCache& cache,
                                              std::int64_t slot_begin,
                                              const torch::Tensor& start_pos);

 public:
  ~LlamaModel() override;
};

// Uses `n` intra-op threads (0 = all cores) and one inter-op thread.
void set_torch_threads(int n);

}  // namespace cai
