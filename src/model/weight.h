// The decoder's weight matrices and the products every code path takes with them (internal to
// the model module). A matrix is an F32 parameter (trainable) or packed as its file stores it
// (frozen; see cai/model/packed.h); the helpers below pick the kernel for either.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "cai/model/llama.h"
#include "cai/model/packed.h"

namespace cai::detail {

struct Weight {
  std::string param;  // its parameter name ("layer0_wqkv")
  std::int64_t rows = 0, cols = 0;
  torch::Tensor f32;                     // [rows, cols], or undefined while packed
  std::shared_ptr<PackedMatrix> packed;  // set while packed
  bool is_packed() const { return packed != nullptr; }
};

// W as F32 [rows, cols] (a fresh tensor for packed W).
torch::Tensor dequantized(const PackedMatrix& w);

// Differentiable x [..., K] -> x W^T (+ b) [..., M]: torch::linear for F32 W; for packed W a
// custom autograd function that dequantizes W on the fly in the forward and again in the
// backward (which returns the gradient of x only: a packed W is frozen), so no F32 copy of W
// outlives the call.
torch::Tensor linear(const torch::Tensor& x, const Weight& w, const torch::Tensor& b = {});
// The fused inference kernels (F32 activations, no autograd).
torch::Tensor fused_linear(const torch::Tensor& x, const Weight& w, const torch::Tensor& b = {});
void fused_linear_add_(torch::Tensor& y, const torch::Tensor& x, const Weight& w);
// Rows `ids` of W (an embedding lookup) in `dtype`.
torch::Tensor rows(const Weight& w, const torch::Tensor& ids, torch::ScalarType dtype);

}  // namespace cai::detail

namespace cai {

struct LlamaModel::Embeddings {
  detail::Weight embed;    // [V,C]
  detail::Weight lm_head;  // [V,C]; rows == 0 when tied to embed
  const detail::Weight& head() const { return lm_head.rows > 0 ? lm_head : embed; }
};

struct LlamaModel::Layer {
  torch::Tensor attn_norm;   // [C]
  detail::Weight wqkv;       // [(H+2Hkv)*D, C]: q rows, then k rows, then v rows
  torch::Tensor bqkv;        // [(H+2Hkv)*D] when cfg.attention_bias, else undefined
  detail::Weight wo;         // [C, H*D]
  torch::Tensor mlp_norm;    // [C]
  detail::Weight w_gate_up;  // [2F, C]: gate rows, then up rows
  detail::Weight w_down;     // [C, F]
};

}  // namespace cai
