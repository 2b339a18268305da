// LlamaModel's weights by Hugging Face name: views and copies, loading as stored, packing
// (see include/cai/model/llama.h).
#include <torch/torch.h>

#include <algorithm>

#include "cai/formats/ggml_quant.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/packed.h"
#include "weight.h"

namespace cai {

// A Hugging Face tensor: rows [row0, row0 + rows) of a fused matrix, or a 1-D parameter.
struct LlamaModel::Slot {
  std::string name;
  std::vector<std::int64_t> shape;
  detail::Weight* w = nullptr;
  std::int64_t row0 = 0;
  torch::Tensor* vec = nullptr;
};

std::vector<LlamaModel::Slot> LlamaModel::slots() const {
  const std::int64_t H = cfg_.num_heads, Hkv = cfg_.num_kv_heads, D = cfg_.head_dim,
                     F = cfg_.intermediate_size;
  auto* self = const_cast<LlamaModel*>(this);  // slots are written through by the setters
  std::vector<Slot> out;
  auto rows = [&](std::string name, detail::Weight& w, std::int64_t row0, std::int64_t n) {
    out.push_back({std::move(name), {n, w.cols}, &w, row0, nullptr});
  };
  auto vec = [&](std::string name, torch::Tensor& t) {
    out.push_back({std::move(name), t.sizes().vec(), nullptr, 0, &t});
  };
  rows("model.embed_tokens.weight", self->emb_->embed, 0, self->emb_->embed.rows);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = self->layers_[l];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    vec(p + "input_layernorm.weight", L.attn_norm);
    rows(p + "self_attn.q_proj.weight", L.wqkv, 0, H * D);
    rows(p + "self_attn.k_proj.weight", L.wqkv, H * D, Hkv * D);
    rows(p + "self_attn.v_proj.weight", L.wqkv, (H + Hkv) * D, Hkv * D);
    if (L.bqkv.defined()) {
      // Views of the fused bias, kept alive by `keep` below.
      out.push_back({p + "self_attn.q_proj.bias", {H * D}, nullptr, 0, &L.bqkv});
      out.push_back({p + "self_attn.k_proj.bias", {Hkv * D}, nullptr, H * D, &L.bqkv});
      out.push_back({p + "self_attn.v_proj.bias", {Hkv * D}, nullptr, (H + Hkv) * D, &L.bqkv});
    }
    rows(p + "self_attn.o_proj.weight", L.wo, 0, L.wo.rows);
    vec(p + "post_attention_layernorm.weight", L.mlp_norm);
    rows(p + "mlp.gate_proj.weight", L.w_gate_up, 0, F);
    rows(p + "mlp.up_proj.weight", L.w_gate_up, F, F);
    rows(p + "mlp.down_proj.weight", L.w_down, 0, L.w_down.rows);
  }
  vec("model.norm.weight", self->norm_);
  if (emb_->lm_head.rows > 0) rows("lm_head.weight", self->emb_->lm_head, 0, emb_->lm_head.rows);
  return out;
}

LlamaModel::Slot LlamaModel::slot(const std::string& name, const std::string& source) const {
  for (Slot& s : slots())
    if (s.name == name) return s;
  throw_error("{}: tensor {}: not a parameter of this model", source, name);
}

namespace {

// The 1-D parameter of a slot, as a view (biases are row ranges of the fused bias).
torch::Tensor vec_view(const torch::Tensor& t, std::int64_t row0, std::int64_t n) {
  return t.size(0) == n ? t : t.narrow(0, row0, n);
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> LlamaModel::hf_parameters() const {
  // Views are made afresh (not cached) so that none outlives an InferenceMode scope.
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const Slot& s : slots()) {
    if (s.vec) {
      out.emplace_back(s.name, vec_view(*s.vec, s.row0, s.shape[0]));
    } else if (!s.w->is_packed()) {
      const bool whole = s.row0 == 0 && s.shape[0] == s.w->rows;
      out.emplace_back(s.name, whole ? s.w->f32 : s.w->f32.narrow(0, s.row0, s.shape[0]));
    } else {
      auto t = torch::empty(s.shape, torch::kFloat32);
      s.w->packed->dequantize_rows(s.row0, s.row0 + s.shape[0], t.data_ptr<float>());
      out.emplace_back(s.name, t.to(norm_.scalar_type()));
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> LlamaModel::hf_shapes() const {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> out;
  for (const Slot& s : slots()) out.emplace_back(s.name, s.shape);
  return out;
}

void LlamaModel::load_hf_parameter(const std::string& name, const std::vector<std::int64_t>& shape,
                                   const std::vector<float>& values, const std::string& source) {
  const Slot s = slot(name, source);
  if (s.shape != shape)
    throw_error("{}: tensor {}: shape [{}], expected [{}]", source, name, fmt::join(shape, ", "),
                fmt::join(s.shape, ", "));
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  CAI_CHECK(static_cast<std::int64_t>(values.size()) == n,
            "{}: tensor {}: {} values for {} elements", source, name, values.size(), n);
  torch::NoGradGuard no_grad;
  auto src = torch::from_blob(const_cast<float*>(values.data()), shape, torch::kFloat32);
  if (s.vec) {
    vec_view(*s.vec, s.row0, shape[0]).copy_(src);
    return;
  }
  if (s.w->is_packed()) unpack(*s.w);
  s.w->f32.narrow(0, s.row0, shape[0]).copy_(src);
}

void LlamaModel::set_hf_tensor(const std::string& name, const std::vector<std::int64_t>& shape,
                               ggml::Type t, std::vector<std::uint8_t> bytes,
                               const std::string& source) {
  const Slot s = slot(name, source);
  if (s.shape != shape)
    throw_error("{}: tensor {}: shape [{}], expected [{}]", source, name, fmt::join(shape, ", "),
                fmt::join(s.shape, ", "));
  const ggml::TypeTraits& tr = ggml::traits(t);
  CAI_CHECK(shape.back() % tr.block == 0,
            "{}: tensor {}: {} rows hold multiples of {} values, not {}", source, name, tr.name,
            tr.block, shape.back());
  if (s.vec) {
    std::vector<float> v(static_cast<std::size_t>(shape[0]));
    CAI_CHECK(bytes.size() == ggml::row_bytes(t, shape[0]), "{}: tensor {}: {} bytes for {} {}",
              source, name, bytes.size(), shape[0], tr.name);
    ggml::dequantize_row(t, bytes.data(), v.data(), shape[0]);
    load_hf_parameter(name, shape, v, source);
    return;
  }
  CAI_CHECK(s.w->is_packed(), "{}: tensor {}: the model was not created empty for loading", source,
            name);
  try {
    s.w->packed->set_rows(s.row0, shape[0], t, std::move(bytes));
  } catch (const Error& e) {
    throw_error("{}: tensor {}: {}", source, name, e.what());
  }
}

void LlamaModel::finish_loading(const std::string& source) {
  for (const Slot& s : slots()) {
    if (!s.w || !s.w->is_packed()) continue;
    CAI_CHECK(s.w->packed->complete(), "{}: tensor {}: missing", source, s.name);
  }
  // Matrices held entirely in F32 become ordinary (trainable) parameters, as before packing
  // existed: an F32 file loads exactly as it always has.
  for (const Slot& s : slots())
    if (s.w && s.w->is_packed() && s.w->packed->all_of(ggml::Type::F32)) unpack(*s.w);
}

std::vector<std::uint8_t> LlamaModel::hf_tensor_bytes(const std::string& name,
                                                      ggml::Type* type) const {
  const Slot s = slot(name, "hf_tensor_bytes");
  if (!s.w || !s.w->is_packed()) return {};
  return s.w->packed->encoded_rows(s.row0, s.row0 + s.shape[0], type);
}

void LlamaModel::unpack(detail::Weight& w) {
  if (!w.is_packed()) return;
  torch::NoGradGuard no_grad;
  auto t = detail::dequantized(*w.packed).to(norm_.scalar_type());
  // Trainable like the model's other parameters (frozen when an adapter froze them).
  t.set_requires_grad(norm_.requires_grad());
  parameters_[w.param] = t;
  w.f32 = t;
  w.packed.reset();
}

bool LlamaModel::packed() const {
  for (const Slot& s : slots())
    if (s.w && s.w->is_packed()) return true;
  return false;
}

torch::ScalarType LlamaModel::cache_dtype() const {
  if (!fused()) return torch::kFloat32;
  for (const Slot& s : slots())
    if (s.w && s.w->is_packed())
      for (const auto& part : s.w->packed->parts())
        if (ggml::traits(part.type).quantized) return torch::kHalf;
  return torch::kFloat32;
}

void LlamaModel::unpack_weights() {
  for (const Slot& s : slots())
    if (s.w) unpack(*s.w);
}

std::map<std::string, std::uint64_t> LlamaModel::weight_bytes() const {
  std::map<std::string, std::uint64_t> out;
  auto add = [&](const torch::Tensor& t) {
    if (t.defined())
      out[t.scalar_type() == torch::kFloat32 ? "F32" : c10::toString(t.scalar_type())] +=
          static_cast<std::uint64_t>(t.numel() * t.element_size());
  };
  std::vector<const detail::Weight*> seen;
  for (const Slot& s : slots()) {
    if (s.vec) {
      if (s.row0 == 0) add(*s.vec);
      continue;
    }
    if (std::find(seen.begin(), seen.end(), s.w) != seen.end()) continue;
    seen.push_back(s.w);
    if (s.w->is_packed())
      s.w->packed->add_bytes_by_type(out);
    else
      add(s.w->f32);
  }
  return out;
}

std::uint64_t LlamaModel::streamed_weight_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [type, bytes] : weight_bytes()) total += bytes;
  if (emb_->lm_head.rows > 0) {
    const detail::Weight& e = emb_->embed;
    total -= e.is_packed() ? e.packed->bytes()
                           : static_cast<std::uint64_t>(e.f32.numel() * e.f32.element_size());
  }
  return total;
}

}  // namespace cai
