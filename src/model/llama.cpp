// The Llama-family decoder (see include/cai/model/llama.h).
//
// Weights are stored fused for speed: per layer one [ (H+2Hkv)*D, C ] matrix for q|k|v and one
// [2F, C] matrix for gate|up. hf_parameters() exposes the Hugging Face tensors as row ranges
// (views) of that storage, so loading, saving and optimising see the usual names while the
// forward pass runs one matmul where Hugging Face runs three (or two).
//
// Two code paths compute the same function:
//  - with autograd enabled, plain differentiable libtorch ops (training); they are also the
//    only path that applies an attached LinearAdapter (LoRA) and that runs in other dtypes
//    than F32 (F64 for gradient checks), so forward_hidden takes it for those even without
//    autograd;
//  - otherwise (NoGradGuard / InferenceMode) and always for the cached forward, fused F32
//    kernels (kernels.h) that cut the number of ops per layer; with weights off the CPU (or
//    set_kernels(Kernels::generic)) the same functions in plain libtorch ops instead.
#include "cai/model/llama.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "cai/io/error.h"
#include "cai/model/rope.h"
#include "kernels.h"
#include "weight.h"

namespace cai {

using torch::indexing::Slice;

// ---------------------------------------------------------------------------------------------
// KVCache

KVCache::KVCache(const ModelConfig& cfg, std::int64_t max_batch, std::int64_t max_len,
                 torch::Device device, torch::ScalarType dtype)
    : max_batch_(max_batch), max_len_(max_len) {
  CAI_CHECK(max_batch > 0 && max_len > 0, "KVCache: max_batch {} and max_len {} must be positive",
            max_batch, max_len);
  CAI_CHECK(dtype == torch::kFloat32 || dtype == torch::kHalf, "KVCache: dtype {} (F32 or F16)",
            c10::toString(dtype));
  // Uninitialised: attention reads only positions that were written (0..own position), and
  // untouched pages of a large cache then cost no memory.
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  for (std::int64_t l = 0; l < cfg.num_layers; ++l) {
    k_.push_back(torch::empty({max_batch, cfg.num_kv_heads, max_len, cfg.head_dim}, opts));
    v_.push_back(torch::empty({max_batch, cfg.num_kv_heads, max_len, cfg.head_dim}, opts));
  }
}

void KVCache::move_slot(std::int64_t from, std::int64_t to, std::int64_t len) {
  CAI_CHECK(from >= 0 && from < max_batch_ && to >= 0 && to < max_batch_,
            "KVCache::move_slot: slots {} -> {} outside 0..{}", from, to, max_batch_ - 1);
  CAI_CHECK(len >= 0 && len <= max_len_, "KVCache::move_slot: length {} outside 0..{}", len,
            max_len_);
  if (from == to || len == 0) return;
  torch::NoGradGuard no_grad;
  for (std::size_t l = 0; l < k_.size(); ++l) {
    k_[l][to].narrow(1, 0, len).copy_(k_[l][from].narrow(1, 0, len));
    v_[l][to].narrow(1, 0, len).copy_(v_[l][from].narrow(1, 0, len));
  }
}

// ---------------------------------------------------------------------------------------------
// Construction and parameters

LlamaModel::LlamaModel(const ModelConfig& cfg, Init init)
    : cfg_(cfg), emb_(std::make_unique<Embeddings>()) {
  cfg_.validate();
  const std::int64_t C = cfg.hidden_size, H = cfg.num_heads, Hkv = cfg.num_kv_heads,
                     D = cfg.head_dim, F = cfg.intermediate_size, V = cfg.vocab_size;
  // Registered in the same order either way, so parameter names and order never depend on
  // how the weights are stored; a packed matrix's slot holds an undefined tensor.
  auto matrix = [&](const std::string& name, std::int64_t rows, std::int64_t cols) {
    detail::Weight w;
    w.param = name;
    w.rows = rows;
    w.cols = cols;
    if (init == Init::random) {
      w.f32 = register_parameter(name, torch::randn({rows, cols}) * 0.02);
    } else {
      register_parameter(name, torch::Tensor(), /*requires_grad=*/false);
      w.packed = std::make_shared<PackedMatrix>(rows, cols);
    }
    return w;
  };
  emb_->embed = matrix("embed_tokens", V, C);
  for (std::int64_t l = 0; l < cfg.num_layers; ++l) {
    const std::string p = "layer" + std::to_string(l) + "_";  // torch forbids dots here
    Layer L;
    L.attn_norm = register_parameter(p + "attn_norm", torch::ones({C}));
    L.wqkv = matrix(p + "wqkv", (H + 2 * Hkv) * D, C);
    if (cfg.attention_bias)
      L.bqkv = register_parameter(p + "bqkv", torch::zeros({(H + 2 * Hkv) * D}));
    L.wo = matrix(p + "wo", C, H * D);
    L.mlp_norm = register_parameter(p + "mlp_norm", torch::ones({C}));
    L.w_gate_up = matrix(p + "w_gate_up", 2 * F, C);
    L.w_down = matrix(p + "w_down", C, F);
    layers_.push_back(std::move(L));
  }
  norm_ = register_parameter("norm", torch::ones({C}));
  if (!cfg.tie_word_embeddings) emb_->lm_head = matrix("lm_head", V, C);
  inv_freq_ = rope_inv_freq(cfg_);
  ensure_rope(std::min<std::int64_t>(cfg_.max_position_embeddings, 4096));
}

LlamaModel::~LlamaModel() = default;

// ---------------------------------------------------------------------------------------------
// Rotary tables

void LlamaModel::ensure_rope(std::int64_t n_pos) {
  if (n_pos <= rope_len_) return;
  const std::int64_t len = std::max(n_pos, 2 * rope_len_);
  std::vector<float> c, s;
  rope_tables(inv_freq_, len, c, s);
  cos_ = torch::from_blob(c.data(), {len, cfg_.head_dim}, torch::kFloat32).clone();
  sin_ = torch::from_blob(s.data(), {len, cfg_.head_dim}, torch::kFloat32).clone();
  rope_len_ = len;
}

// ---------------------------------------------------------------------------------------------
// Differentiable path (plain libtorch ops, Hugging Face's order of operations)

namespace {

torch::Tensor rms_norm_ref(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  auto var = x.pow(2).mean(-1, /*keepdim=*/true);
  return w * (x * torch::rsqrt(var + eps));
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  const std::int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// x + delta for each adapted part of a fused projection output y [..., sum(widths)], parts in
// row order (q|k|v or gate|up); y itself when no part is adapted.
torch::Tensor add_deltas(const torch::Tensor& y, LinearAdapter& a, std::int64_t layer,
                         std::initializer_list<std::pair<Proj, std::int64_t>> parts,
                         const torch::Tensor& x, bool training) {
  std::vector<torch::Tensor> d;
  bool any = false;
  for (auto [p, width] : parts) {
    d.push_back(a.delta(layer, p, x, training));
    any = any || d.back().defined();
  }
  if (!any) return y;
  std::size_t i = 0;
  for (auto [p, width] : parts) {
    if (!d[i].defined()) {
      auto shape = y.sizes().vec();
      shape.back() = width;
      d[i] = torch::zeros(shape, y.options());
    }
    ++i;
  }
  return y + torch::cat(d, -1);
}

}  // namespace

const char* proj_name(Proj p) {
  switch (p) {
    case Proj::q:
      return "q_proj";
    case Proj::k:
      return "k_proj";
    case Proj::v:
      return "v_proj";
    case Proj::o:
      return "o_proj";
    case Proj::gate:
      return "gate_proj";
    case Proj::up:
      return "up_proj";
    case Proj::down:
      return "down_proj";
  }
  return "?";
}

torch::Tensor LlamaModel::forward_hidden_autograd(const torch::Tensor& tokens) {
  const std::int64_t B = tokens.size(0), T = tokens.size(1), H = cfg_.num_heads,
                     Hkv = cfg_.num_kv_heads, D = cfg_.head_dim, G = H / Hkv,
                     F = cfg_.intermediate_size;
  // Everything runs in the weights' dtype (F32 normally, F64 for gradient checks); the
  // tables are kept in F32 and .to() is a no-op there.
  const auto dt = norm_.scalar_type();
  const auto dev = norm_.device();
  ensure_rope(T);
  auto cos = cos_.narrow(0, 0, T).to(dev, dt).view({1, T, 1, D});
  auto sin = sin_.narrow(0, 0, T).to(dev, dt).view({1, T, 1, D});
  // Causal mask over [T, T], additive.
  auto mask = torch::full({T, T}, -std::numeric_limits<double>::infinity(),
                          torch::TensorOptions().dtype(dt).device(dev))
                  .triu(1)
                  .view({1, 1, 1, T, T});
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  LinearAdapter* ad = adapter_.get();
  const bool training = is_training() && torch::GradMode::is_enabled();

  auto x = detail::rows(emb_->embed, tokens.to(dev), dt);  // [B,T,C]
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    const auto li = static_cast<std::int64_t>(l);
    auto h = rms_norm_ref(x, L.attn_norm, cfg_.rms_norm_eps);
    auto qkv = detail::linear(h, L.wqkv, L.bqkv);  // [B,T,(H+2Hkv)*D]
    if (ad)
      qkv = add_deltas(qkv, *ad, li, {{Proj::q, H * D}, {Proj::k, Hkv * D}, {Proj::v, Hkv * D}}, h,
                       training);
    qkv = qkv.view({B, T, H + 2 * Hkv, D});
    auto q = qkv.narrow(2, 0, H), k = qkv.narrow(2, H, Hkv), v = qkv.narrow(2, H + Hkv, Hkv);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    // q [B,T,H,D] -> [B,Hkv,G*T,D]: query heads h*G..h*G+G-1 share key/value head h.
    auto qg = q.transpose(1, 2).reshape({B, Hkv, G * T, D});
    auto kt = k.permute({0, 2, 3, 1});  // [B,Hkv,D,T]
    auto vt = v.transpose(1, 2);        // [B,Hkv,T,D]
    auto scores = (torch::matmul(qg, kt) * scale).view({B, Hkv, G, T, T}) + mask;
    auto p = torch::softmax(scores, -1).view({B, Hkv, G * T, T});
    auto o = torch::matmul(p, vt).view({B, H, T, D}).transpose(1, 2).reshape({B, T, H * D});
    auto attn = detail::linear(o, L.wo);  // [B,T,C]
    if (ad) attn = add_deltas(attn, *ad, li, {{Proj::o, cfg_.hidden_size}}, o, training);
    x = x + attn;
    h = rms_norm_ref(x, L.mlp_norm, cfg_.rms_norm_eps);
    auto gu = detail::linear(h, L.w_gate_up);  // [B,T,2F]
    if (ad) gu = add_deltas(gu, *ad, li, {{Proj::gate, F}, {Proj::up, F}}, h, training);
    auto act = torch::silu(gu.narrow(-1, 0, F)) * gu.narrow(-1, F, F);  // [B,T,F]
    auto down = detail::linear(act, L.w_down);
    if (ad) down = add_deltas(down, *ad, li, {{Proj::down, cfg_.hidden_size}}, act, training);
    x = x + down;
  }
  return rms_norm_ref(x, norm_, cfg_.rms_norm_eps);
}

// ---------------------------------------------------------------------------------------------
// Generic cached path: forward_hidden_cached in plain libtorch ops, for weights on any device
// (the fused kernels read CPU memory directly). Same function; tested equal on the CPU.

torch::Tensor LlamaModel::forward_hidden_cached_generic(const torch::Tensor& tokens, KVCache& cache,
                                                        std::int64_t slot_begin,
                                                        const torch::Tensor& start_pos) {
  const std::int64_t B = tokens.size(0), T = tokens.size(1), H = cfg_.num_heads,
                     Hkv = cfg_.num_kv_heads, D = cfg_.head_dim, G = H / Hkv,
                     F = cfg_.intermediate_size;
  const auto dev = norm_.device();
  // Positions [B,T] = start_pos[b] + t; the attended length L = the longest row's end.
  const auto sp = start_pos.to(torch::kCPU, torch::kInt64).contiguous();
  const auto pos_cpu = sp.view({B, 1}) + torch::arange(T, torch::kInt64).view({1, T});  // [B,T]
  const std::int64_t L = pos_cpu.max().item<std::int64_t>() + 1;
  ensure_rope(L);
  const auto flat = pos_cpu.reshape({B * T});
  const auto cos = cos_.index_select(0, flat).to(dev).view({B, T, 1, D});
  const auto sin = sin_.index_select(0, flat).to(dev).view({B, T, 1, D});
  const auto pos = pos_cpu.to(dev);
  const auto keys = torch::arange(L, torch::TensorOptions().dtype(torch::kInt64).device(dev));
  // Query (b,t) sees key positions <= its own; positions no row has written stay masked
  // (and their values zeroed: the cache is uninitialised memory).
  const auto hidden = keys.view({1, 1, L}).gt(pos.view({B, T, 1})).view({B, 1, 1, T, L});
  const auto unwritten =
      keys.view({1, L}).gt(pos.select(1, T - 1).view({B, 1})).view({B, 1, L, 1});  // [B,1,L,1]
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));

  auto x = detail::rows(emb_->embed, tokens.to(dev), norm_.scalar_type());  // [B,T,C]
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& Ly = layers_[l];
    auto h = rms_norm_ref(x, Ly.attn_norm, cfg_.rms_norm_eps);
    auto qkv = detail::linear(h, Ly.wqkv, Ly.bqkv).view({B, T, H + 2 * Hkv, D});
    auto q = qkv.narrow(2, 0, H), k = qkv.narrow(2, H, Hkv), v = qkv.narrow(2, H + Hkv, Hkv);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    // Row b's keys and values into its slot at its positions.
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t s0 = sp[b].item<std::int64_t>();
      cache.k(l)[slot_begin + b].narrow(1, s0, T).copy_(k[b].transpose(0, 1));
      cache.v(l)[slot_begin + b].narrow(1, s0, T).copy_(v[b].transpose(0, 1));
    }
    // (An F16 cache, made for the fused path, is widened: the products below are in x's type.)
    auto kc = cache.k(l)
                  .narrow(0, slot_begin, B)
                  .narrow(2, 0, L)
                  .masked_fill(unwritten, 0.0)
                  .to(q.scalar_type());
    auto vc = cache.v(l)
                  .narrow(0, slot_begin, B)
                  .narrow(2, 0, L)
                  .masked_fill(unwritten, 0.0)
                  .to(q.scalar_type());
    // q [B,T,H,D] -> [B,Hkv,G*T,D]: query heads h*G..h*G+G-1 share key/value head h.
    auto qg = q.transpose(1, 2).reshape({B, Hkv, G * T, D});
    auto scores = (torch::matmul(qg, kc.transpose(2, 3)) * scale).view({B, Hkv, G, T, L});
    scores = scores.masked_fill(hidden, -std::numeric_limits<double>::infinity());
    auto p = torch::softmax(scores, -1).view({B, Hkv, G * T, L});
    auto o = torch::matmul(p, vc).view({B, H, T, D}).transpose(1, 2).reshape({B, T, H * D});
    x = x + detail::linear(o, Ly.wo);
    h = rms_norm_ref(x, Ly.mlp_norm, cfg_.rms_norm_eps);
    auto gu = detail::linear(h, Ly.w_gate_up);  // [B,T,2F]
    x = x + detail::linear(torch::silu(gu.narrow(-1, 0, F)) * gu.narrow(-1, F, F), Ly.w_down);
  }
  return rms_norm_ref(x, norm_, cfg_.rms_norm_eps);
}

// ---------------------------------------------------------------------------------------------
// Fused inference path

torch::Tensor LlamaModel::forward_hidden(const torch::Tensor& tokens) {
  CAI_CHECK(tokens.dim() == 2, "LlamaModel::forward_hidden: tokens must be [B,T], got {} dims",
            tokens.dim());
  // The fused kernels take F32 activations, run on the CPU and know nothing of adapters.
  if (torch::GradMode::is_enabled() || adapter_ || norm_.scalar_type() != torch::kFloat32 ||
      !fused())
    return forward_hidden_autograd(tokens);
  const std::int64_t B = tokens.size(0), T = tokens.size(1);
  KVCache scratch(cfg_, B, T, torch::kCPU, cache_dtype());
  return forward_hidden_cached(tokens, scratch, 0, torch::zeros({B}, torch::kInt64));
}

torch::Tensor LlamaModel::forward_hidden_cached(const torch::Tensor& tokens, KVCache& cache,
                                                std::int64_t slot_begin,
                                                const torch::Tensor& start_pos) {
  CAI_CHECK(tokens.dim() == 2, "forward_hidden_cached: tokens must be [B,T], got {} dims",
            tokens.dim());
  const std::int64_t B = tokens.size(0), T = tokens.size(1), C = cfg_.hidden_size,
                     H = cfg_.num_heads, Hkv = cfg_.num_kv_heads, D = cfg_.head_dim;
  CAI_CHECK(start_pos.numel() == B, "forward_hidden_cached: start_pos has {} entries for {} rows",
            start_pos.numel(), B);
  CAI_CHECK(slot_begin >= 0 && slot_begin + B <= cache.max_batch(),
            "forward_hidden_cached: slots {}..{} outside the cache's {}", slot_begin,
            slot_begin + B - 1, cache.max_batch());
  CAI_CHECK(
      !adapter_,
      "forward_hidden_cached: an adapter (LoRA) is attached and the fused cached path does not "
      "apply it; merge it into the weights first (cai lora merge / merge_lora)");
  CAI_CHECK(norm_.scalar_type() == torch::kFloat32,
            "forward_hidden_cached: the fused path needs F32 (or packed) weights, the model "
            "holds {}",
            c10::toString(norm_.scalar_type()));
  torch::NoGradGuard no_grad;
  if (!fused()) return forward_hidden_cached_generic(tokens, cache, slot_begin, start_pos);

  // Positions (CPU) and the attended length L = max over rows of start + T.
  auto sp = start_pos.to(torch::kInt64).contiguous();
  const std::int64_t* s = sp.data_ptr<std::int64_t>();
  std::int64_t L = 0;
  for (std::int64_t b = 0; b < B; ++b) {
    CAI_CHECK(s[b] >= 0 && s[b] + T <= cache.max_len(),
              "forward_hidden_cached: row {} positions {}..{} exceed the cache length {}", b, s[b],
              s[b] + T - 1, cache.max_len());
    L = std::max(L, s[b] + T);
  }
  ensure_rope(L);
  std::vector<std::int64_t> pos(static_cast<std::size_t>(B * T));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < T; ++t) pos[static_cast<std::size_t>(b * T + t)] = s[b] + t;

  kernels::RopeArgs ra;
  ra.B = B;
  ra.T = T;
  ra.H = H;
  ra.Hkv = Hkv;
  ra.D = D;
  ra.pos = pos.data();
  ra.slot_begin = slot_begin;
  ra.cos = cos_.data_ptr<float>();
  ra.sin = sin_.data_ptr<float>();
  ra.q_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));

  auto x = detail::rows(emb_->embed, tokens.reshape({B * T}), torch::kFloat32);  // [N,C], N = B*T
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& Ly = layers_[l];
    // Attention: norm, fused q|k|v, rotary + cache write, causal softmax(q k^T) v over the
    // cache, output projection added to the residual in place.
    auto qkv = detail::fused_linear(kernels::rms_norm(x, Ly.attn_norm, cfg_.rms_norm_eps), Ly.wqkv,
                                    Ly.bqkv);
    kernels::rope_qkv_to_cache(qkv, ra, cache.k(l), cache.v(l));
    detail::fused_linear_add_(x, kernels::attend_cached(qkv, ra, cache.k(l), cache.v(l)), Ly.wo);
    // MLP: norm, fused gate|up, SwiGLU, down projection added to the residual.
    auto gu =
        detail::fused_linear(kernels::rms_norm(x, Ly.mlp_norm, cfg_.rms_norm_eps), Ly.w_gate_up);
    detail::fused_linear_add_(x, kernels::swiglu(gu), Ly.w_down);
  }
  return kernels::rms_norm(x, norm_, cfg_.rms_norm_eps).view({B, T, C});
}

torch::Tensor LlamaModel::logits(const torch::Tensor& hidden) {
  const detail::Weight& w = emb_->head();
  if (torch::GradMode::is_enabled() || norm_.scalar_type() != torch::kFloat32 || !fused())
    return detail::linear(hidden.to(norm_.device()), w);
  return detail::fused_linear(hidden.to(torch::kFloat32), w);
}

void set_torch_threads(int n) {
  static std::once_flag interop;
  std::call_once(interop, [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // Already fixed once inter-op work has started; nothing to do.
    }
  });
  at::set_num_threads(n > 0 ? n
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace cai
