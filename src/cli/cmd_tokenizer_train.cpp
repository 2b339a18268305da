// `cai tokenizer train`: a byte-level BPE tokenizer trained on text files, written as a
// Hugging Face tokenizer.json (+ tokenizer_config.json).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cai/io/error.h"
#include "cai/tokenizer/trainer.h"
#include "command.h"

namespace cai::cli {
namespace cmd_tokenizer_train {

struct TrainFlags {
  std::vector<std::string> inputs;
  std::string out;
  std::string bos, eos;
  BpeTrainerOptions opts;
};

void run(TrainFlags f) {
  if (!f.bos.empty()) f.opts.bos_token = f.bos;
  if (!f.eos.empty()) f.opts.eos_token = f.eos;
  f.opts.show_progress = true;
  std::vector<std::filesystem::path> files(f.inputs.begin(), f.inputs.end());
  const auto start = std::chrono::steady_clock::now();
  const Tokenizer tok = train_bpe_files(files, f.opts);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::filesystem::path out(f.out);
  if (out.extension() != ".json") {
    std::filesystem::create_directories(out);
    out /= "tokenizer.json";
  } else if (out.has_parent_path()) {
    std::filesystem::create_directories(out.parent_path());
  }
  tok.save(out);
  std::fprintf(stderr,
               "cai: trained a %d-token byte-level BPE (%s pre-tokenizer) in %.1f s -> %s\n",
               tok.vocab_size(), f.opts.pre_tokenizer.c_str(), secs, out.string().c_str());
}

const Registrar reg(21, [](CLI::App& root) {
  CLI::App* group_app = group(root, "tokenizer", "Train tokenizers");
  auto f = std::make_shared<TrainFlags>();
  CLI::App* cmd = group_app->add_subcommand("train", "Train a byte-level BPE tokenizer");
  cmd->add_option("--input", f->inputs, "Text files to train on")->required()->expected(1, -1);
  cmd->add_option("--out", f->out, "Output directory or tokenizer.json path")->required();
  cmd->add_option("--vocab-size", f->opts.vocab_size,
                  "Vocabulary size including special tokens and the 256 byte symbols")
      ->capture_default_str();
  cmd->add_option("--min-frequency", f->opts.min_frequency, "Never merge rarer pairs")
      ->capture_default_str();
  cmd->add_option("--special", f->opts.special_tokens, "Special tokens (ids 0, 1, ...)")
      ->expected(0, -1);
  cmd->add_option("--pre", f->opts.pre_tokenizer,
                  "Pre-tokenizer style: gpt-2, llama-bpe, qwen2, starcoder, falcon, default")
      ->capture_default_str();
  cmd->add_option("--bos", f->bos, "BOS token (one of --special)");
  cmd->add_option("--eos", f->eos, "EOS token (one of --special)");
  cmd->add_flag("--add-bos", f->opts.add_bos, "Put BOS first when encoding with special tokens");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_tokenizer_train
}  // namespace cai::cli
