// The LoRA adapter behind the opaque handle of include/cai/train/lora.h, shared by its
// construction / merging (lora.cpp) and its PEFT-format files (lora_io.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "cai/model/config.h"
#include "cai/model/llama.h"
#include "cai/train/lora.h"

namespace cai::train {

inline constexpr std::array<Proj, 7> kAllProjs = {Proj::q,    Proj::k,  Proj::v,   Proj::o,
                                                  Proj::gate, Proj::up, Proj::down};

// "q_proj" -> Proj::q, ...; nullopt for anything else.
std::optional<Proj> proj_from_name(const std::string& name);
// (out, in) of projection p: the shape of its weight in the Hugging Face checkpoint.
std::pair<std::int64_t, std::int64_t> proj_shape(const ModelConfig& cfg, Proj p);
// "self_attn" for q/k/v/o, "mlp" for gate/up/down.
const char* proj_group(Proj p);
// PEFT's key, e.g. "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight";
// `which` is 'A' or 'B'.
std::string lora_key(std::int64_t layer, Proj p, char which);
// The base weight's name in LlamaModel::hf_parameters(), e.g. "model.layers.3.mlp.up_proj.weight".
std::string base_weight_name(std::int64_t layer, Proj p);

class LoraAdapter : public LinearAdapter {
 public:
  struct Pair {
    torch::Tensor a;  // [r, in], leaf with requires_grad; undefined when p is not a target
    torch::Tensor b;  // [out, r]
  };

  // Adapters for every layer and every target module of `opts`, in dtype `dtype`. With
  // `init`: A Kaiming-uniform (a = sqrt(5), from torch's global RNG), B zero, as PEFT;
  // without: both zero (to be overwritten by a loader, leaving the global RNG untouched).
  LoraAdapter(const ModelConfig& cfg, const LoraOptions& opts, torch::ScalarType dtype, bool init);

  // x [..., in] -> (alpha / r) B A dropout(x) [..., out]; undefined when p is not adapted.
  torch::Tensor delta(std::int64_t layer, Proj p, const torch::Tensor& x, bool training) override;

  // Moves every A and B to `device` (they are drawn on the CPU, so a seed gives the same
  // adapters on any device); they stay trainable leaves.
  void to(torch::Device device);

  const LoraOptions& options() const { return opts_; }
  double scaling() const { return opts_.alpha / static_cast<double>(opts_.rank); }
  std::int64_t num_layers() const { return static_cast<std::int64_t>(pairs_.size()); }
  Pair& at(std::int64_t layer, Proj p) {
    return pairs_[static_cast<std::size_t>(layer)][static_cast<std::size_t>(p)];
  }

 private:
  LoraOptions opts_;
  std::vector<std::array<Pair, kAllProjs.size()>> pairs_;  // [layer][Proj]
};

// Attaches `adapter` to `model` and freezes the base (requires_grad false on its parameters).
void attach_adapter(LlamaModel& model, const std::shared_ptr<LoraAdapter>& adapter);

}  // namespace cai::train
