// `cai train sft|rm|dpo`: flags into the run options of include/cai/train/run.h, which load
// and split the data, build the objective and run the shared trainer. `cai rm score`:
// rewards of {"prompt", "response"} lines under a trained reward model.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cai/dist/dist.h"
#include "cai/generate/chat.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/data.h"
#include "cai/train/lora.h"
#include "cai/train/reward_model.h"
#include "cai/train/run.h"
#include "command.h"
#include "dist_flags.h"
#include "option_flags.h"

namespace cai::cli {
namespace cmd_train {

namespace fs = std::filesystem;
using namespace cai::train;

// Flags every `cai train` command shares, beside the run options they fill.
struct TrainFlags {
  bool lora = false, quiet = false;
  int threads = 0;
  DistFlags dist;
};

// The process settings and --lora; the library validates the rest.
template <class Options>
void prepare(TrainFlags& f, Options& o) {
  start_dist(f.dist, f.threads);
  o.device = f.dist.device;
  check_flags(o);
  if (f.lora && !o.lora.enabled()) o.lora.rank = 8;  // PEFT's usual rank
  o.train.progress = !f.quiet;
  set_torch_threads(f.threads);
}

void print_summary(const TrainSummary& s, const TrainOptions& o) {
  if (!dist::is_main()) return;
  auto fmt_metrics = [](const Metrics& m) {
    std::string out;
    for (const auto& [k, v] : m) {
      if (k == "tokens_per_s" || k == "lr" || k == "grad_norm") continue;
      out += fmt::format("{}{} {:.4g}", out.empty() ? "" : ", ", k, v);
    }
    return out;
  };
  std::fprintf(stderr, "cai: %lld steps in %.1f s (%.0f tok/s); last step: %s\n",
               static_cast<long long>(s.steps), s.seconds, s.tokens_per_s,
               fmt_metrics(s.last_train).c_str());
  if (!s.last_eval.empty())
    std::fprintf(stderr, "cai: held-out: %s\n", fmt_metrics(s.last_eval).c_str());
  std::fprintf(stderr, "cai: wrote %s/final (metrics: %s/metrics.jsonl)\n", o.out_dir.c_str(),
               o.out_dir.c_str());
}

// ---- cai rm score ---------------------------------------------------------------------------

struct ScoreFlags {
  std::string model, input = "-", output = "-", chat_template;
  std::int64_t token_budget = 8192, max_length = 0;
  int threads = 0;
};

// Each line {"prompt", "response"} becomes a preference line with the response on both sides,
// so it is tokenised exactly as the reward model's training data was (load_preferences);
// blank lines are kept so line numbers in errors match the input.
void run_score(const ScoreFlags& f) {
  set_torch_threads(f.threads);
  const std::string source = f.input == "-" ? "<stdin>" : f.input;
  const std::string text = read_input(f.input);
  std::vector<nlohmann::json> lines;
  std::string pairs;
  {
    std::istringstream in(text);
    std::size_t next_line = 1;
    for_each_jsonl(in, source, [&](const nlohmann::json& j, std::size_t line) {
      for (; next_line < line; ++next_line) pairs += "\n";
      CAI_CHECK(j.is_object() && j.contains("prompt") && j.contains("response"),
                "{}:{}: expected an object with \"prompt\" and \"response\"", source, line);
      pairs +=
          nlohmann::json{
              {"prompt", j["prompt"]}, {"chosen", j["response"]}, {"rejected", j["response"]}}
              .dump() +
          "\n";
      ++next_line;
      lines.push_back(j);
    });
  }
  RewardModel rm = RewardModel::load(f.model);
  CAI_CHECK(rm.base().tokenizer.has_value(), "{}: the reward model carries no tokenizer", f.model);
  const ChatTemplate tmpl = pick_chat_template(&*rm.base().tokenizer, f.chat_template);
  DataOptions dopt;
  dopt.max_length = f.max_length > 0 ? f.max_length : rm.base().config.max_position_embeddings;
  dopt.overlong = Overlong::truncate;

  // The pairs go through a private temporary file; errors are reported against the input.
  const fs::path tmp = fs::temp_directory_path() / fmt::format("cai-rm-score-{}.jsonl", ::getpid());
  std::vector<PreferenceExample> ex;
  {
    std::ofstream(tmp) << pairs;
    struct Remove {
      fs::path p;
      ~Remove() {
        std::error_code ec;
        fs::remove(p, ec);
      }
    } remove{tmp};
    try {
      ex = load_preferences(tmp, *rm.base().tokenizer, tmpl, dopt);
    } catch (const Error& e) {
      std::string msg = e.what();
      for (auto at = msg.find(tmp.string()); at != std::string::npos; at = msg.find(tmp.string()))
        msg.replace(at, tmp.string().size(), source);
      throw Error(msg);
    }
  }
  CAI_CHECK(ex.size() == lines.size(), "{}: {} lines but {} scored examples", source, lines.size(),
            ex.size());
  std::vector<std::vector<std::int32_t>> seqs;
  for (const auto& e : ex) {
    seqs.push_back(e.prompt);
    seqs.back().insert(seqs.back().end(), e.chosen.begin(), e.chosen.end());
  }
  const std::vector<double> rewards = rm.score(seqs, f.token_budget);
  std::unique_ptr<JsonlWriter> writer;
  if (f.output != "-")
    writer = std::make_unique<JsonlWriter>(f.output, /*append=*/false, /*durable=*/false);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json j = lines[i];
    j["reward"] = rewards[i];
    if (writer)
      writer->write(j);
    else
      std::fputs((j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n").c_str(),
                 stdout);
  }
  std::fflush(stdout);
}

// ---- flags ----------------------------------------------------------------------------------

template <class Options>
void add_train_flags(CLI::App* cmd, Options& o, TrainFlags& f) {
  add_flags(cmd, o);
  cmd->get_option("--model")->required();
  cmd->get_option("--data")->required()->check(CLI::ExistingFile);
  cmd->get_option("--eval-data")->check(CLI::ExistingFile);
  cmd->add_option("--out", o.train.out_dir, "Run directory (metrics.jsonl, checkpoint/, final/)")
      ->required();
  cmd->add_flag("--lora", f.lora,
                "Train LoRA adapters instead of all weights (rank 8 unless --lora-rank)");
  cmd->add_flag("--resume", o.train.resume, "Continue from --out/checkpoint");
  cmd->add_option("--threads", f.threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  cmd->add_flag("--quiet", f.quiet, "No progress bar");
  add_dist_flags(cmd, f.dist);
}

const Registrar reg(60, [](CLI::App& root) {
  CLI::App* train = group(root, "train", "Train a model: SFT, reward model, DPO, RL");

  auto sft = std::make_shared<SftRunOptions>();
  auto sft_f = std::make_shared<TrainFlags>();
  sft->train.lr = 2e-5;
  CLI::App* c_sft = train->add_subcommand(
      "sft",
      "Supervised fine-tuning on {\"messages\"}, {\"prompt\", \"completion\"} or {\"text\"}");
  add_train_flags(c_sft, *sft, *sft_f);
  c_sft->callback([sft, sft_f] {
    prepare(*sft_f, *sft);
    print_summary(run_sft(*sft), sft->train);
  });

  auto dpo = std::make_shared<DpoRunOptions>();
  auto dpo_f = std::make_shared<TrainFlags>();
  dpo->train.lr = 5e-6;
  CLI::App* c_dpo = train->add_subcommand(
      "dpo", "Direct preference optimisation on {\"prompt\", \"chosen\", \"rejected\"}");
  add_train_flags(c_dpo, *dpo, *dpo_f);
  c_dpo->callback([dpo, dpo_f] {
    prepare(*dpo_f, *dpo);
    print_summary(run_dpo(*dpo), dpo->train);
  });

  auto rm = std::make_shared<RmRunOptions>();
  auto rm_f = std::make_shared<TrainFlags>();
  rm->train.lr = 1e-5;
  CLI::App* c_rm = train->add_subcommand(
      "rm", "Reward model (Bradley-Terry) on {\"prompt\", \"chosen\", \"rejected\"}");
  add_train_flags(c_rm, *rm, *rm_f);
  c_rm->callback([rm, rm_f] {
    prepare(*rm_f, *rm);
    print_summary(run_rm(*rm), rm->train);
  });
  train->require_subcommand(1);

  CLI::App* rm_group = group(root, "rm", "Reward models");
  auto sf = std::make_shared<ScoreFlags>();
  CLI::App* c_score = rm_group->add_subcommand(
      "score", "Score {\"prompt\", \"response\"} lines with a reward model");
  c_score->add_option("--model", sf->model, "Reward model directory (cai train rm's final/)")
      ->required();
  c_score->add_option("--input,-i", sf->input, "JSONL input; - for stdin")->capture_default_str();
  c_score
      ->add_option("--output,-o", sf->output,
                   "JSONL output (input fields + \"reward\"); - for stdout")
      ->capture_default_str();
  c_score->add_option("--chat-template", sf->chat_template,
                      "Template for message lists; default: the tokenizer's");
  c_score
      ->add_option("--max-length", sf->max_length, "Tokens per sequence (0: the model's context)")
      ->capture_default_str();
  c_score->add_option("--token-budget", sf->token_budget, "Padded tokens per batch")
      ->capture_default_str();
  c_score->add_option("--threads", sf->threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  c_score->callback([sf] { run_score(*sf); });
});

}  // namespace cmd_train
}  // namespace cai::cli
