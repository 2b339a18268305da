// LoRA adapters (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"):
// construction as PEFT initialises them, the model hook, and merging into the base weights.
// Saving and loading the PEFT files is in lora_io.cpp.
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>

#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "lora_adapter.h"

namespace cai::train {

std::optional<Proj> proj_from_name(const std::string& name) {
  for (Proj p : kAllProjs)
    if (name == proj_name(p)) return p;
  return std::nullopt;
}

std::pair<std::int64_t, std::int64_t> proj_shape(const ModelConfig& cfg, Proj p) {
  const std::int64_t C = cfg.hidden_size, F = cfg.intermediate_size;
  const std::int64_t q = cfg.num_heads * cfg.head_dim, kv = cfg.num_kv_heads * cfg.head_dim;
  switch (p) {
    case Proj::q:
      return {q, C};
    case Proj::k:
    case Proj::v:
      return {kv, C};
    case Proj::o:
      return {C, q};
    case Proj::gate:
    case Proj::up:
      return {F, C};
    case Proj::down:
      return {C, F};
  }
  return {0, 0};
}

const char* proj_group(Proj p) {
  return p == Proj::gate || p == Proj::up || p == Proj::down ? "mlp" : "self_attn";
}

std::string lora_key(std::int64_t layer, Proj p, char which) {
  return fmt::format("base_model.model.model.layers.{}.{}.{}.lora_{}.weight", layer, proj_group(p),
                     proj_name(p), which);
}

std::string base_weight_name(std::int64_t layer, Proj p) {
  return fmt::format("model.layers.{}.{}.{}.weight", layer, proj_group(p), proj_name(p));
}

void LoraOptions::rules(opt::Rules& r) const {
  if (rank == 0) return;
  r.require(!target_modules.empty(), "targets", "must not be empty");
  std::set<std::string> seen;
  for (const auto& m : target_modules) {
    r.require(proj_from_name(m).has_value(), "targets",
              fmt::format("unknown module '{}' (expected q_proj, k_proj, v_proj, o_proj, "
                          "gate_proj, up_proj or down_proj)",
                          m));
    r.require(seen.insert(m).second, "targets", fmt::format("'{}' listed twice", m));
  }
}

LoraAdapter::LoraAdapter(const ModelConfig& cfg, const LoraOptions& opts, torch::ScalarType dtype,
                         bool init)
    : opts_(opts) {
  opts_.validate();
  CAI_CHECK(opts_.rank > 0, "lora: rank must be > 0 to attach adapters, got {}", opts_.rank);
  std::set<Proj> targets;
  for (const auto& m : opts_.target_modules) targets.insert(*proj_from_name(m));
  const auto to = torch::TensorOptions().dtype(dtype);
  pairs_.resize(static_cast<std::size_t>(cfg.num_layers));
  // PEFT's order (layer by layer, attention then MLP), so the same seed draws the same A.
  for (std::int64_t l = 0; l < cfg.num_layers; ++l) {
    for (Proj p : kAllProjs) {
      if (!targets.count(p)) continue;
      auto [out, in] = proj_shape(cfg, p);
      Pair& pr = at(l, p);
      pr.a = torch::zeros({opts_.rank, in}, to);
      // nn.Linear's default (and PEFT's init_lora_weights=True): U(-1/sqrt(in), 1/sqrt(in)).
      if (init) torch::nn::init::kaiming_uniform_(pr.a, std::sqrt(5.0));
      pr.a.set_requires_grad(true);
      pr.b = torch::zeros({out, opts_.rank}, to).set_requires_grad(true);
    }
  }
}

torch::Tensor LoraAdapter::delta(std::int64_t layer, Proj p, const torch::Tensor& x,
                                 bool training) {
  CAI_CHECK(layer >= 0 && layer < num_layers(), "lora: layer {} outside 0..{}", layer,
            num_layers() - 1);
  const Pair& pr = at(layer, p);
  if (!pr.a.defined()) return {};
  CAI_CHECK(x.scalar_type() == pr.a.scalar_type(),
            "lora: the model runs in {} but the adapter holds {}; attach the adapter after "
            "converting the model",
            c10::toString(x.scalar_type()), c10::toString(pr.a.scalar_type()));
  // x [..., in] -> [..., r] -> [..., out]. Dropout only while training (it regularises A's input).
  const auto xin = training && opts_.dropout > 0 ? torch::dropout(x, opts_.dropout, true) : x;
  return torch::linear(torch::linear(xin, pr.a), pr.b) * scaling();
}

void attach_adapter(LlamaModel& model, const std::shared_ptr<LoraAdapter>& adapter) {
  CAI_CHECK(model.adapter() == nullptr,
            "lora: the model already has an adapter attached; merge it first");
  for (auto& p : model.parameters()) p.set_requires_grad(false);
  model.set_adapter(adapter);
}

namespace {

torch::ScalarType model_dtype(LlamaModel& model) {
  auto params = model.parameters();
  CAI_CHECK(!params.empty(), "lora: the model has no parameters");
  return params.front().scalar_type();
}

}  // namespace

void LoraAdapter::to(torch::Device device) {
  torch::NoGradGuard no_grad;
  for (auto& layer : pairs_)
    for (auto& pr : layer)
      if (pr.a.defined()) {
        pr.a = pr.a.to(device).detach().set_requires_grad(true);
        pr.b = pr.b.to(device).detach().set_requires_grad(true);
      }
}

std::shared_ptr<LoraAdapter> attach_lora(LlamaModel& model, const LoraOptions& opts) {
  auto adapter =
      std::make_shared<LoraAdapter>(model.config(), opts, model_dtype(model), /*init=*/true);
  if (!model.device().is_cpu()) adapter->to(model.device());
  attach_adapter(model, adapter);
  return adapter;
}

std::vector<std::pair<std::string, torch::Tensor>> lora_parameters(LoraAdapter& adapter) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (std::int64_t l = 0; l < adapter.num_layers(); ++l)
    for (Proj p : kAllProjs) {
      const auto& pr = adapter.at(l, p);
      if (!pr.a.defined()) continue;
      out.emplace_back(lora_key(l, p, 'A'), pr.a);
      out.emplace_back(lora_key(l, p, 'B'), pr.b);
    }
  return out;
}

void merge_lora(LlamaModel& model, LoraAdapter& adapter) {
  CAI_CHECK(model.adapter() == &adapter,
            "merge_lora: this adapter is not the one attached to the model (already merged?)");
  torch::NoGradGuard no_grad;
  // The merged weights are F32: a packed base (quantized, F16, BF16) is widened first.
  model.unpack_weights();
  // hf_parameters() are views of the fused storage: adding into them updates it.
  std::map<std::string, torch::Tensor> weights;
  for (auto& [name, t] : model.hf_parameters()) weights.emplace(name, t);
  for (std::int64_t l = 0; l < adapter.num_layers(); ++l)
    for (Proj p : kAllProjs) {
      const auto& pr = adapter.at(l, p);
      if (!pr.a.defined()) continue;
      const std::string name = base_weight_name(l, p);
      auto it = weights.find(name);
      CAI_CHECK(it != weights.end(), "merge_lora: the model has no tensor {}", name);
      // W [out, in] += scaling * B [out, r] @ A [r, in]
      it->second.add_((torch::mm(pr.b, pr.a) * adapter.scaling()).to(it->second.scalar_type()));
    }
  model.set_adapter(nullptr);
}

}  // namespace cai::train
