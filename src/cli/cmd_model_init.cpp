// `cai model init`: a randomly initialised Llama-shaped model, saved as a Hugging Face
// directory (or GGUF). It is the starting point for training a small model from scratch.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "command.h"

namespace cai::cli {
namespace cmd_model_init {

struct InitFlags {
  std::string config_path;
  std::string tokenizer_path;
  std::string out;
  std::string dtype = "f32";
  ModelConfig cfg;
  std::uint64_t seed = 0;
};

void run(const InitFlags& f) {
  ModelConfig cfg = f.cfg;
  if (!f.config_path.empty())
    cfg = ModelConfig::from_hf_json(read_json(f.config_path), f.config_path);
  LoadedModel m;
  if (!f.tokenizer_path.empty()) {
    m.tokenizer = Tokenizer::load(f.tokenizer_path);
    cfg.vocab_size = m.tokenizer->vocab_size();
    if (auto b = m.tokenizer->bos_id()) cfg.bos_token_id = *b;
    cfg.eos_token_ids.clear();
    for (auto id : m.tokenizer->stop_ids()) cfg.eos_token_ids.push_back(id);
  }
  if (f.config_path.empty())
    cfg.head_dim = cfg.hidden_size / std::max<std::int64_t>(1, cfg.num_heads);
  cfg.validate();
  torch::manual_seed(f.seed);
  m.config = cfg;
  m.model = std::make_shared<LlamaModel>(cfg);
  DType dt = f.dtype == "f16" ? DType::F16 : f.dtype == "bf16" ? DType::BF16 : DType::F32;
  const std::string& out = f.out;
  if (out.size() > 5 && out.substr(out.size() - 5) == ".gguf")
    save_model_gguf(m, out, dt);
  else
    save_model_dir(m, out, dt);
  std::fprintf(stderr, "cai: wrote a random %lld-parameter model to %s\n",
               static_cast<long long>(cfg.num_parameters()), out.c_str());
}

const Registrar reg(31, [](CLI::App& root) {
  CLI::App* model = group(root, "model", "Inspect, create and convert models");
  auto f = std::make_shared<InitFlags>();
  CLI::App* cmd = model->add_subcommand("init", "Create a randomly initialised model");
  cmd->add_option("--out", f->out, "Output directory (or .gguf file)")->required();
  cmd->add_option("--config", f->config_path, "A Hugging Face config.json to take the shape from");
  cmd->add_option("--tokenizer", f->tokenizer_path,
                  "tokenizer.json (or model dir / .gguf) whose vocabulary the model uses");
  cmd->add_option("--hidden", f->cfg.hidden_size, "Hidden size")->capture_default_str();
  cmd->add_option("--layers", f->cfg.num_layers, "Transformer blocks")->capture_default_str();
  cmd->add_option("--heads", f->cfg.num_heads, "Query heads")->capture_default_str();
  cmd->add_option("--kv-heads", f->cfg.num_kv_heads, "Key/value heads")->capture_default_str();
  cmd->add_option("--ffn", f->cfg.intermediate_size, "Feed-forward size")->capture_default_str();
  cmd->add_option("--vocab", f->cfg.vocab_size, "Vocabulary size (when no tokenizer)")
      ->capture_default_str();
  cmd->add_option("--context", f->cfg.max_position_embeddings, "Context length")
      ->capture_default_str();
  cmd->add_option("--rope-theta", f->cfg.rope_theta, "RoPE base")->capture_default_str();
  cmd->add_flag("--tie-embeddings", f->cfg.tie_word_embeddings, "Share embedding and LM head");
  cmd->add_option("--seed", f->seed, "Random seed")->capture_default_str();
  cmd->add_option("--dtype", f->dtype, "Stored dtype")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}))
      ->capture_default_str();
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_model_init
}  // namespace cai::cli
