// `cai lora merge --base MODEL --adapter DIR --out DIR [--dtype f32|f16|bf16]`: folds a PEFT
// LoRA adapter into its base model's weights and saves a plain model directory, which the fast
// inference path (generate, score, serve) and other tools can then use.
#include <torch/torch.h>

#include <cstdio>

#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/lora.h"
#include "command.h"

namespace cai::cli {
namespace cmd_lora {

struct MergeFlags {
  std::string base, adapter, out;
  std::string dtype = "f32";
};

void run_merge(const MergeFlags& f) {
  const DType dt = parse_store_dtype(f.dtype);
  LoadedModel m = load_model(f.base);
  auto lora = train::load_lora(*m.model, f.adapter);
  train::merge_lora(*m.model, *lora);
  save_model_dir(m, f.out, dt);
  std::fprintf(stderr, "cai: merged %s into %s, wrote %s (%s)\n", f.adapter.c_str(), f.base.c_str(),
               f.out.c_str(), f.dtype.c_str());
}

const Registrar reg(62, [](CLI::App& root) {
  CLI::App* lora = group(root, "lora", "LoRA adapters (PEFT format)");
  auto f = std::make_shared<MergeFlags>();
  CLI::App* cmd =
      lora->add_subcommand("merge", "Merge an adapter into its base model and save the result");
  cmd->add_option("--base", f->base, "Base model directory or .gguf file")->required();
  cmd->add_option("--adapter", f->adapter,
                  "Adapter directory (adapter_config.json, adapter_model.safetensors)")
      ->required();
  cmd->add_option("--out", f->out, "Output model directory")->required();
  cmd->add_option("--dtype", f->dtype, "Stored dtype: f32, f16 or bf16")->capture_default_str();
  cmd->callback([f] { run_merge(*f); });
});

}  // namespace cmd_lora
}  // namespace cai::cli
