// `cai pretrain`: a small base model from scratch on a corpus (the demo world's by default).
#include <cstdio>

#include "cai/io/error.h"
#include "cai/train/pretrain.h"
#include "command.h"

namespace cai::cli {
namespace cmd_pretrain {

struct PretrainFlags {
  train::PretrainOptions o;
  std::string world;
  std::vector<std::string> corpus;
  std::string out;
  std::int64_t windows_per_step = 8;  // small steps: more updates for a tiny model
};

void run(PretrainFlags& f) {
  if (!f.world.empty())
    f.o.corpus.push_back(std::filesystem::path(f.world) / "corpus" / "pretrain.txt");
  for (const auto& c : f.corpus) f.o.corpus.push_back(c);
  if (f.o.corpus.empty()) throw_error("cai pretrain: give --world DIR or --corpus FILE");
  f.o.out_dir = f.out;
  CAI_CHECK(f.windows_per_step > 0, "cai pretrain: --batch must be positive");
  f.o.train.token_budget = f.windows_per_step * (f.o.seq_len + 1);
  auto r = train::pretrain(f.o);
  std::printf("model        %s\n", f.out.c_str());
  std::printf("parameters   %lld\n", r["parameters"].get<long long>());
  std::printf("tokens       %lld in the corpus, %lld steps\n", r["corpus_tokens"].get<long long>(),
              r["steps"].get<long long>());
  std::printf("speed        %.0f tokens/s\n", r["tokens_per_s"].get<double>());
  if (r["final_train"].contains("loss"))
    std::printf("train loss   %.4f\n", r["final_train"]["loss"].get<double>());
  if (r["final_eval"].contains("loss"))
    std::printf("eval loss    %.4f\n", r["final_eval"]["loss"].get<double>());
  std::printf("wall time    %.1f s\n", r["wall_seconds"].get<double>());
}

const Registrar reg(59, [](CLI::App& root) {
  auto f = std::make_shared<PretrainFlags>();
  CLI::App* cmd = root.add_subcommand(
      "pretrain", "Train a tokenizer and a small base model from scratch on a corpus");
  cmd->add_option("--world", f->world, "A world directory (uses corpus/pretrain.txt)");
  cmd->add_option("--corpus", f->corpus, "Corpus text file(s), documents ended by separator lines");
  cmd->add_option("--out", f->out, "Output model directory")->required();
  cmd->add_option("--separator", f->o.separator, "Document separator line / special token")
      ->capture_default_str();
  cmd->add_option("--vocab", f->o.vocab_size, "Tokenizer vocabulary size")->capture_default_str();
  cmd->add_option("--hidden", f->o.hidden, "Hidden size")->capture_default_str();
  cmd->add_option("--layers", f->o.layers, "Transformer blocks")->capture_default_str();
  cmd->add_option("--heads", f->o.heads, "Attention heads")->capture_default_str();
  cmd->add_option("--ffn", f->o.ffn, "Feed-forward size")->capture_default_str();
  cmd->add_option("--context", f->o.context, "Context length of the model")->capture_default_str();
  cmd->add_option("--seq-len", f->o.seq_len, "Training window in tokens")->capture_default_str();
  cmd->add_option("--batch", f->windows_per_step, "Windows per optimiser step")
      ->capture_default_str();
  cmd->add_option("--lr", f->o.train.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--epochs", f->o.train.epochs, "Passes over the corpus")->capture_default_str();
  cmd->add_option("--max-steps", f->o.train.max_steps, "Stop after this many steps (-1: epochs)")
      ->capture_default_str();
  cmd->add_option("--save-every", f->o.train.save_every, "Steps between checkpoints")
      ->capture_default_str();
  cmd->add_option("--seed", f->o.seed, "Seed for the tokenizer, weights and data order")
      ->capture_default_str();
  cmd->add_option("--threads", f->o.threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--resume", f->o.train.resume, "Continue from the run's checkpoint");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_pretrain
}  // namespace cai::cli
