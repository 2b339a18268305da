// A reward model: the decoder plus a scalar head on the last token, stored as Hugging Face's
// LlamaForSequenceClassification (see include/cai/train/reward_model.h).
//
// Shape legend: B = sequences, T = longest sequence, C = hidden size.
#include "cai/train/reward_model.h"
#include "cai/io/json.h"

#include <torch/torch.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cai/formats/safetensors.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/model/llama.h"

namespace cai::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kCausal = "ForCausalLM";
constexpr const char* kSeqCls = "ForSequenceClassification";

std::string replace_suffix(const std::string& s, const std::string& from, const std::string& to) {
  return s.substr(0, s.size() - from.size()) + to;
}

// The decoder's tensors: everything but the LM head, which a reward model does not have.
bool is_decoder_tensor(const std::string& name) { return name != "lm_head.weight"; }

}  // namespace

RewardModel::RewardModel(LoadedModel base) : base_(std::move(base)) {
  CAI_CHECK(base_.model, "RewardModel: no base model");
  base_.model->unpack_weights();  // every decoder weight trains (packed ones are frozen)
  // The LM head plays no part in rewards; freezing it keeps it out of the optimiser.
  for (const auto& item : base_.model->named_parameters())
    item.value().set_requires_grad(item.key() != "lm_head");
  head_ = torch::zeros({1, base_.config.hidden_size},
                       torch::TensorOptions().dtype(torch::kFloat32).device(base_.model->device()))
              .set_requires_grad(true);
}

RewardModel RewardModel::load(const fs::path& dir) {
  const fs::path cfg_path = dir / "config.json";
  CAI_CHECK(fs::is_directory(dir) && fs::exists(cfg_path),
            "{}: not a reward model directory (no config.json)", dir.string());
  nlohmann::json j = read_json(cfg_path);
  const std::string src = cfg_path.string();
  CAI_CHECK(j.is_object() && j.contains("architectures") && j["architectures"].is_array() &&
                !j["architectures"].empty() && j["architectures"][0].is_string(),
            "{}: field architectures: expected a list of names", src);
  const auto arch = j["architectures"][0].get<std::string>();
  CAI_CHECK(arch.ends_with(kSeqCls),
            "{}: field architectures: {} is not a sequence-classification (reward) model", src,
            arch);
  if (j.contains("num_labels") && !j["num_labels"].is_null())
    CAI_CHECK(j["num_labels"] == 1, "{}: field num_labels: a reward model has 1 label, got {}", src,
              j["num_labels"].dump());
  if (j.contains("id2label") && j["id2label"].is_object())
    CAI_CHECK(j["id2label"].size() == 1, "{}: field id2label: a reward model has 1 label, got {}",
              src, j["id2label"].size());
  // The decoder is the causal model's without its head.
  j["architectures"] = {replace_suffix(arch, kSeqCls, kCausal)};
  LoadedModel lm;
  lm.config = ModelConfig::from_hf_json(j, src);
  lm.source = dir;
  lm.format = "safetensors";
  lm.model = std::make_shared<LlamaModel>(lm.config);

  safetensors::Checkpoint ck(dir);
  for (auto& [name, t] : lm.model->hf_parameters()) {
    if (!is_decoder_tensor(name)) continue;
    CAI_CHECK(ck.has(name), "{}: tensor {}: missing", dir.string(), name);
    const auto& info = ck.info(name);
    lm.model->load_hf_parameter(name, info.shape, ck.read_f32(name), ck.file_of(name).string());
    ++lm.stored_dtypes[std::string(dtype_name(info.dtype))];
  }
  CAI_CHECK(ck.has("score.weight"), "{}: tensor score.weight: missing", dir.string());
  const auto& si = ck.info("score.weight");
  const std::int64_t C = lm.config.hidden_size;
  CAI_CHECK(si.shape == std::vector<std::int64_t>({1, C}),
            "{}: tensor score.weight: shape [{}], expected [1, {}]",
            ck.file_of("score.weight").string(), fmt::join(si.shape, ", "), C);
  for (const auto& name : ck.names()) {
    if (name == "score.weight" || name == "lm_head.weight" ||
        name.ends_with(".rotary_emb.inv_freq"))
      continue;
    bool known = false;
    for (auto& [n, t] : lm.model->hf_parameters()) known = known || n == name;
    CAI_CHECK(known, "{}: tensor {}: unexpected for this model", ck.file_of(name).string(), name);
  }
  if (fs::exists(dir / "tokenizer.json")) lm.tokenizer = Tokenizer::load(dir);

  RewardModel rm(std::move(lm));
  auto w = ck.read_f32("score.weight");
  torch::NoGradGuard no_grad;
  rm.head_.copy_(torch::from_blob(w.data(), {1, C}, torch::kFloat32));
  return rm;
}

torch::Tensor RewardModel::rewards(const torch::Tensor& tokens,
                                   const std::vector<std::int64_t>& lengths) {
  CAI_CHECK(tokens.dim() == 2, "RewardModel::rewards: tokens must be [B,T], got {} dims",
            tokens.dim());
  const std::int64_t B = tokens.size(0), T = tokens.size(1);
  CAI_CHECK(static_cast<std::int64_t>(lengths.size()) == B,
            "RewardModel::rewards: {} lengths for {} rows", lengths.size(), B);
  for (auto n : lengths)
    CAI_CHECK(n >= 1 && n <= T, "RewardModel::rewards: length {} outside 1..{}", n, T);
  const auto hidden = base_.model->forward_hidden(tokens);  // [B,T,C]
  std::vector<std::int64_t> last(lengths.begin(), lengths.end());
  for (auto& n : last) n -= 1;
  const auto rows = torch::arange(B, torch::kInt64).to(hidden.device());
  const auto idx = torch::tensor(last, torch::kInt64).to(hidden.device());
  const auto h = hidden.index({rows, idx});                                       // [B,C]
  return torch::matmul(h, head_.to(h.device(), h.scalar_type()).t()).squeeze(1);  // [B]
}

std::vector<double> RewardModel::score(const std::vector<std::vector<std::int32_t>>& sequences,
                                       std::int64_t token_budget) {
  CAI_CHECK(token_budget >= 1, "RewardModel::score: token_budget must be >= 1, got {}",
            token_budget);
  const auto V = base_.config.vocab_size;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    CAI_CHECK(!sequences[i].empty(), "RewardModel::score: sequence {} is empty", i);
    for (auto id : sequences[i])
      CAI_CHECK(id >= 0 && id < V,
                "RewardModel::score: sequence {}: token id {} outside the "
                "vocabulary of {}",
                i, id, V);
  }
  torch::NoGradGuard no_grad;
  const bool was_training = base_.model->is_training();
  base_.model->eval();
  std::vector<std::size_t> order(sequences.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](auto a, auto b) { return sequences[a].size() > sequences[b].size(); });
  std::vector<double> out(sequences.size());
  std::size_t i = 0;
  while (i < order.size()) {
    // Longest first: the first row fixes the padded width T.
    const auto T = static_cast<std::int64_t>(sequences[order[i]].size());
    std::size_t j = i + 1;
    while (j < order.size() && static_cast<std::int64_t>(j - i + 1) * T <= token_budget) ++j;
    const auto B = static_cast<std::int64_t>(j - i);
    auto tokens = torch::zeros({B, T}, torch::kInt64);
    auto* p = tokens.data_ptr<std::int64_t>();
    std::vector<std::int64_t> lengths;
    for (std::int64_t r = 0; r < B; ++r) {
      const auto& s = sequences[order[i + static_cast<std::size_t>(r)]];
      std::copy(s.begin(), s.end(), p + r * T);
      lengths.push_back(static_cast<std::int64_t>(s.size()));
    }
    const auto r = rewards(tokens, lengths).to(torch::kCPU, torch::kFloat64).contiguous();
    for (std::int64_t k = 0; k < B; ++k)
      out[order[i + static_cast<std::size_t>(k)]] = r[k].item<double>();
    i = j;
  }
  base_.model->train(was_training);
  return out;
}

void RewardModel::save(const fs::path& dir) const {
  fs::create_directories(dir);
  const ModelConfig& cfg = base_.model->config();
  nlohmann::json cj = cfg.to_hf_json();
  std::string arch = cfg.architecture;
  if (arch.ends_with(kCausal)) arch = replace_suffix(arch, kCausal, kSeqCls);
  cj["architectures"] = {arch};
  cj["num_labels"] = 1;
  cj["id2label"] = {{"0", "LABEL_0"}};
  cj["label2id"] = {{"LABEL_0", 0}};
  // transformers finds each row's last token through pad_token_id when batching.
  if (!cfg.eos_token_ids.empty())
    cj["pad_token_id"] = cfg.eos_token_ids[0];
  else if (base_.tokenizer && base_.tokenizer->eos_id())
    cj["pad_token_id"] = *base_.tokenizer->eos_id();
  write_json(dir / "config.json", cj);

  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> keep;  // owns the contiguous copies until written
  std::vector<safetensors::TensorToWrite> tensors;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    keep.push_back(t.detach().to(torch::kFloat32).contiguous());
    tensors.push_back({name, keep.back().sizes().vec(), keep.back().data_ptr<float>(), DType::F32});
  };
  for (auto& [name, t] : base_.model->hf_parameters())
    if (is_decoder_tensor(name)) add(name, t);
  add("score.weight", head_);
  fs::remove(dir / "model.safetensors.index.json");  // a stale index would shadow the file
  safetensors::write(dir / "model.safetensors", tensors);

  if (base_.tokenizer) {
    // As save_model_dir: a tokenizer that tokenizer.json cannot express (a SentencePiece
    // vocabulary read from GGUF) leaves the weights still worth having.
    try {
      base_.tokenizer->save(dir / "tokenizer.json");
    } catch (const Error& e) {
      fmt::print(stderr, "cai: warning: {}: tokenizer not written: {}\n", dir.string(), e.what());
      return;
    }
    const fs::path src_cfg = base_.source / "tokenizer_config.json";
    if (fs::is_directory(base_.source) && fs::exists(src_cfg) &&
        fs::weakly_canonical(base_.source) != fs::weakly_canonical(dir))
      write_file_atomic(dir / "tokenizer_config.json", read_file(src_cfg));
  }
}

}  // namespace cai::train
