// Hugging Face directory <-> LlamaModel weights: config.json and safetensors (single file or
// sharded with model.safetensors.index.json).
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <set>

#include "cai/formats/safetensors.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/model/llama.h"
#include "model_io.h"

namespace cai {
namespace fs = std::filesystem;

namespace detail {

LoadedModel load_hf_weights(const fs::path& dir) {
  const fs::path cfg_path = dir / "config.json";
  const nlohmann::json j = read_json(cfg_path);
  LoadedModel out;
  out.config = ModelConfig::from_hf_json(j, cfg_path.string());
  out.source = dir;
  out.format = "safetensors";
  // F16 and BF16 matrices stay as stored (see LlamaModel); other dtypes are widened to F32.
  out.model = std::make_shared<LlamaModel>(out.config, LlamaModel::Init::empty);

  const bool sharded = fs::exists(dir / "model.safetensors.index.json");
  const std::string where =
      (dir / (sharded ? "model.safetensors.index.json" : "model.safetensors")).string();
  safetensors::Checkpoint ck(dir);
  std::set<std::string> expected;
  for (auto& [name, want] : out.model->hf_shapes()) {
    expected.insert(name);
    if (!ck.has(name)) throw_error("{}: tensor {}: missing", where, name);
    const auto& info = ck.info(name);
    const std::string file = ck.file_of(name).string();
    if (info.shape != want)
      throw_error("{}: tensor {}: shape [{}], expected [{}]", file, name,
                  fmt::join(info.shape, ", "), fmt::join(want, ", "));
    const std::uint8_t* p = ck.data(name);
    if (info.dtype == DType::F16 || info.dtype == DType::BF16 || info.dtype == DType::F32) {
      const ggml::Type t = info.dtype == DType::F16    ? ggml::Type::F16
                           : info.dtype == DType::BF16 ? ggml::Type::BF16
                                                       : ggml::Type::F32;
      out.model->set_hf_tensor(name, want, t, {p, p + info.end - info.begin}, file);
    } else {
      const auto v = ck.read_f32(name);
      const auto* b = reinterpret_cast<const std::uint8_t*>(v.data());
      out.model->set_hf_tensor(name, want, ggml::Type::F32, {b, b + 4 * v.size()}, file);
    }
    ++out.stored_dtypes[std::string(dtype_name(info.dtype))];
  }
  out.model->finish_loading(where);
  for (const auto& name : ck.names()) {
    if (expected.count(name)) continue;
    // Tolerated extras: a copy of the tied head, and rotary buffers older exports include.
    if (name == "lm_head.weight" && out.config.tie_word_embeddings) continue;
    if (name.ends_with(".rotary_emb.inv_freq")) continue;
    throw_error("{}: tensor {}: unexpected for this model", ck.file_of(name).string(), name);
  }
  return out;
}

}  // namespace detail

void save_model_dir(const LoadedModel& m, const fs::path& dir, DType store_as) {
  CAI_CHECK(m.model, "save_model_dir: no model to save to {}", dir.string());
  CAI_CHECK(store_as == DType::F32 || store_as == DType::F16 || store_as == DType::BF16,
            "{}: safetensors export stores f32, f16 or bf16, not {}", dir.string(),
            dtype_name(store_as));
  fs::create_directories(dir);
  const ModelConfig& cfg = m.model->config();
  nlohmann::json cj = cfg.to_hf_json();
  if (store_as != DType::F32) cj["torch_dtype"] = store_as == DType::F16 ? "float16" : "bfloat16";
  write_json(dir / "config.json", cj);

  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> keep;  // owns the contiguous copies until written
  std::vector<safetensors::TensorToWrite> tensors;
  for (auto& [name, t] : m.model->hf_parameters()) {
    keep.push_back(t.detach().to(torch::kFloat32).contiguous());
    tensors.push_back({name, keep.back().sizes().vec(), keep.back().data_ptr<float>(), store_as});
  }
  // A stale shard index would shadow the new single file.
  fs::remove(dir / "model.safetensors.index.json");
  safetensors::write(dir / "model.safetensors", tensors);

  if (m.tokenizer) {
    // Some tokenizers cannot be expressed as tokenizer.json (e.g. a SentencePiece vocabulary
    // read from GGUF, which has scores but no merges): the weights are still worth having.
    try {
      m.tokenizer->save(dir / "tokenizer.json");
    } catch (const Error& e) {
      fmt::print(stderr, "cai: warning: {}: tokenizer not written: {}\n", dir.string(), e.what());
      return;
    }
    const fs::path src_cfg = m.source / "tokenizer_config.json";
    nlohmann::json tc;
    if (fs::is_directory(m.source) && fs::exists(src_cfg) &&
        fs::canonical(m.source) != fs::weakly_canonical(dir)) {
      tc = read_json(src_cfg);
    } else if (!fs::exists(dir / "tokenizer_config.json")) {
      const Tokenizer& tok = *m.tokenizer;
      tc["tokenizer_class"] = "PreTrainedTokenizerFast";
      tc["bos_token"] =
          tok.bos_id() ? nlohmann::json(tok.id_to_piece(*tok.bos_id())) : nlohmann::json(nullptr);
      tc["eos_token"] =
          tok.eos_id() ? nlohmann::json(tok.id_to_piece(*tok.eos_id())) : nlohmann::json(nullptr);
      tc["model_max_length"] = cfg.max_position_embeddings;
      if (tok.chat_template_source()) tc["chat_template"] = *tok.chat_template_source();
    }
    if (!tc.is_null()) write_json(dir / "tokenizer_config.json", tc);
  }
}

}  // namespace cai
