// LoRA adapters on disk in PEFT's layout (adapter_config.json + adapter_model.safetensors),
// so `PeftModel.from_pretrained(base, dir)` loads what cai saves and the reverse.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <set>

#include "cai/formats/safetensors.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/model/llama.h"
#include "lora_adapter.h"

namespace cai::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";

// The fields PEFT (0.1x) writes for a plain LoRA, so its loader finds every key it expects.
nlohmann::json config_json(const LoraOptions& o, const std::string& base_model_name) {
  nlohmann::json j;
  j["alpha_pattern"] = nlohmann::json::object();
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = base_model_name;
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = nullptr;
  j["loftq_config"] = nlohmann::json::object();
  // An integer when it is one, as PEFT's configs usually carry it.
  if (o.alpha == std::floor(o.alpha) && o.alpha < 1e15)
    j["lora_alpha"] = static_cast<std::int64_t>(o.alpha);
  else
    j["lora_alpha"] = o.alpha;
  j["lora_dropout"] = o.dropout;
  j["megatron_config"] = nullptr;
  j["megatron_core"] = "megatron.core";
  j["modules_to_save"] = nullptr;
  j["peft_type"] = "LORA";
  j["r"] = o.rank;
  j["rank_pattern"] = nlohmann::json::object();
  j["revision"] = nullptr;
  j["target_modules"] = o.target_modules;
  j["task_type"] = "CAUSAL_LM";
  j["use_dora"] = false;
  j["use_rslora"] = false;
  return j;
}

// Settings that change what the tensors mean; any of them set otherwise than plain LoRA is
// refused rather than silently loaded wrong.
void check_supported(const nlohmann::json& j, const std::string& file) {
  auto is_unset = [&](const char* k) {
    if (!j.contains(k) || j[k].is_null()) return true;
    return (j[k].is_object() || j[k].is_array()) && j[k].empty();
  };
  auto str_is = [&](const char* k, const char* want, bool required) {
    if (!j.contains(k) || j[k].is_null()) {
      CAI_CHECK(!required, "{}: field {}: missing", file, k);
      return;
    }
    CAI_CHECK(j[k].is_string() && j[k].get<std::string>() == want,
              "{}: field {}: {} is not supported (only \"{}\")", file, k, j[k].dump(), want);
  };
  auto flag_off = [&](const char* k) {
    if (!j.contains(k) || j[k].is_null()) return;
    CAI_CHECK(j[k].is_boolean() && !j[k].get<bool>(), "{}: field {}: {} is not supported", file, k,
              j[k].dump());
  };
  str_is("peft_type", "LORA", /*required=*/true);
  str_is("task_type", "CAUSAL_LM", false);
  str_is("bias", "none", false);
  flag_off("fan_in_fan_out");
  flag_off("use_dora");
  flag_off("use_rslora");
  flag_off("lora_bias");
  for (const char* k : {"rank_pattern", "alpha_pattern", "modules_to_save", "layers_to_transform",
                        "layer_replication"})
    CAI_CHECK(is_unset(k), "{}: field {}: {} is not supported", file, k, j[k].dump());
}

LoraOptions parse_options(const nlohmann::json& j, const std::string& file) {
  LoraOptions o;
  auto number = [&](const char* k) {
    CAI_CHECK(j.contains(k) && j[k].is_number(), "{}: field {}: missing or not a number", file, k);
    return j[k].get<double>();
  };
  CAI_CHECK(j.contains("r") && j["r"].is_number_integer(), "{}: field r: missing or not an integer",
            file);
  o.rank = j["r"].get<std::int64_t>();
  o.alpha = number("lora_alpha");
  o.dropout =
      j.contains("lora_dropout") && !j["lora_dropout"].is_null() ? number("lora_dropout") : 0.0;
  CAI_CHECK(j.contains("target_modules"), "{}: field target_modules: missing", file);
  const auto& tm = j["target_modules"];
  o.target_modules.clear();
  if (tm.is_string() && tm.get<std::string>() == "all-linear") {
    for (Proj p : kAllProjs) o.target_modules.emplace_back(proj_name(p));
  } else {
    CAI_CHECK(
        tm.is_array(),
        "{}: field target_modules: {} is not supported (a list of module names or \"all-linear\")",
        file, tm.dump());
    for (const auto& m : tm) {
      CAI_CHECK(m.is_string(), "{}: field target_modules: {} is not a module name", file, m.dump());
      o.target_modules.push_back(m.get<std::string>());
    }
  }
  try {
    o.validate();
  } catch (const Error& e) {
    throw_error("{}: {}", file, e.what());
  }
  return o;
}

// Key -> (layer, projection, 'A' or 'B'); nullopt when it is not a LoRA key of a Llama layer.
struct KeyParts {
  std::int64_t layer;
  Proj proj;
  char which;
};
std::optional<KeyParts> parse_key(const std::string& key) {
  const std::string prefix = "base_model.model.model.layers.";
  if (!key.starts_with(prefix)) return std::nullopt;
  std::size_t pos = prefix.size(), end = key.find('.', pos);
  if (end == std::string::npos || end == pos) return std::nullopt;
  const std::string num = key.substr(pos, end - pos);
  if (num.find_first_not_of("0123456789") != std::string::npos || num.size() > 9)
    return std::nullopt;
  const std::int64_t layer = std::stoll(num);
  for (Proj p : kAllProjs)
    for (char which : {'A', 'B'})
      if (key == lora_key(layer, p, which)) return KeyParts{layer, p, which};
  return std::nullopt;
}

}  // namespace

void save_lora(LoraAdapter& adapter, const fs::path& dir, const std::string& base_model_name) {
  fs::create_directories(dir);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> keep;  // owns the F32 copies until written
  std::vector<safetensors::TensorToWrite> tensors;
  for (auto& [name, t] : lora_parameters(adapter)) {
    keep.push_back(t.detach().to(torch::kFloat32).contiguous());
    tensors.push_back({name, keep.back().sizes().vec(), keep.back().data_ptr<float>(), DType::F32});
  }
  // Weights first: a directory with a config is then never paired with missing weights.
  safetensors::write(dir / kWeightsFile, tensors);
  write_json(dir / kConfigFile, config_json(adapter.options(), base_model_name));
}

std::shared_ptr<LoraAdapter> load_lora(LlamaModel& model, const fs::path& dir) {
  const fs::path cfg_path = dir / kConfigFile, w_path = dir / kWeightsFile;
  const std::string cfg_file = cfg_path.string(), w_file = w_path.string();
  CAI_CHECK(fs::is_directory(dir), "{}: not an adapter directory", dir.string());
  const nlohmann::json j = read_json(cfg_path);
  CAI_CHECK(j.is_object(), "{}: not a JSON object", cfg_file);
  check_supported(j, cfg_file);
  const LoraOptions opts = parse_options(j, cfg_file);
  CAI_CHECK(fs::exists(w_path), "{}: missing (only safetensors adapters are supported{})", w_file,
            fs::exists(dir / "adapter_model.bin") ? "; adapter_model.bin found" : "");

  auto params = model.parameters();
  CAI_CHECK(!params.empty(), "load_lora: the model has no parameters");
  auto adapter = std::make_shared<LoraAdapter>(model.config(), opts, params.front().scalar_type(),
                                               /*init=*/false);
  safetensors::File file(w_path);
  std::set<std::string> loaded;
  {
    torch::NoGradGuard no_grad;
    for (const auto& info : file.tensors()) {
      const auto parts = parse_key(info.name);
      CAI_CHECK(parts.has_value(), "{}: tensor {}: not a LoRA weight of a Llama layer", w_file,
                info.name);
      CAI_CHECK(parts->layer < adapter->num_layers(),
                "{}: tensor {}: layer {} but the model has {} layers", w_file, info.name,
                parts->layer, adapter->num_layers());
      auto& pr = adapter->at(parts->layer, parts->proj);
      CAI_CHECK(pr.a.defined(), "{}: tensor {}: {} is not in target_modules of {}", w_file,
                info.name, proj_name(parts->proj), cfg_file);
      torch::Tensor& dst = parts->which == 'A' ? pr.a : pr.b;
      const auto want = dst.sizes().vec();
      CAI_CHECK(info.shape == want, "{}: tensor {}: shape [{}], expected [{}]", w_file, info.name,
                fmt::join(info.shape, ", "), fmt::join(want, ", "));
      auto values = file.read_f32(info.name);
      dst.copy_(torch::from_blob(values.data(), want, torch::kFloat32));
      loaded.insert(info.name);
    }
  }
  for (auto& [name, t] : lora_parameters(*adapter))
    CAI_CHECK(loaded.count(name), "{}: tensor {}: missing", w_file, name);
  attach_adapter(model, adapter);
  return adapter;
}

}  // namespace cai::train
