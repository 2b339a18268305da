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

namespace cai::cli {
namespace cmd_train {

namespace fs = std::filesystem;
using namespace cai::train;

// The CLI's LoRA defaults: PEFT's usual r 8, alpha 16, dropout 0.05 on q_proj and v_proj.
LoraOptions cli_lora_defaults() {
  LoraOptions o;
  o.rank = 8;
  o.alpha = 16.0;
  o.dropout = 0.05;
  o.target_modules = {"q_proj", "v_proj"};
  return o;
}

// Flags every `cai train` command shares, beside the run options they fill.
struct TrainFlags {
  std::string schedule = "cosine", overlong = "truncate";
  int threads = 0;
  bool quiet = false;
  DistFlags dist;
};

// Strings into enums and the process settings; the library validates the rest.
void prepare(TrainFlags& f, RunOptions& o) {
  start_dist(f.dist, f.threads);
  o.device = f.dist.device;
  o.train.schedule = parse_schedule(f.schedule);
  o.train.progress = !f.quiet;
  o.data_opts.overlong = parse_overlong(f.overlong);
  // The library checks these too; here the error names the flag.
  CAI_CHECK(o.eval_fraction >= 0 && o.eval_fraction < 1,
            "--eval-fraction must be in [0, 1), got {}", o.eval_fraction);
  CAI_CHECK(o.eval_data.empty() || o.eval_fraction == 0,
            "--eval-data and --eval-fraction exclude each other");
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

void add_train_flags(CLI::App* cmd, RunOptions& o, TrainFlags& f) {
  TrainOptions& t = o.train;
  o.lora_opts = cli_lora_defaults();
  cmd->add_option("--model", o.model, "Model to train (Hugging Face directory or .gguf)")
      ->required();
  cmd->add_option("--data", o.data, "Training data (JSONL)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", t.out_dir, "Run directory (metrics.jsonl, checkpoint/, final/)")
      ->required();
  cmd->add_option("--eval-data", o.eval_data, "Held-out data (JSONL)")->check(CLI::ExistingFile);
  cmd->add_option("--eval-fraction", o.eval_fraction, "Share of --data held out (seeded)")
      ->capture_default_str();
  cmd->add_flag("--lora", o.lora, "Train LoRA adapters instead of all weights");
  cmd->add_option("--lora-r", o.lora_opts.rank, "LoRA rank")->capture_default_str();
  cmd->add_option("--lora-alpha", o.lora_opts.alpha, "LoRA alpha (scaling alpha / r)")
      ->capture_default_str();
  cmd->add_option("--lora-dropout", o.lora_opts.dropout, "Dropout on the adapters' input")
      ->capture_default_str();
  cmd->add_option("--lora-targets", o.lora_opts.target_modules,
                  "Adapted projections (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--lr", t.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--epochs", t.epochs, "Passes over the data")->capture_default_str();
  cmd->add_option("--max-steps", t.max_steps, "Optimiser steps (overrides --epochs; -1: off)")
      ->capture_default_str();
  cmd->add_option("--schedule", f.schedule, "cosine, linear or constant")->capture_default_str();
  cmd->add_option("--warmup-ratio", t.warmup_ratio, "Share of steps warming up")
      ->capture_default_str();
  cmd->add_option("--warmup-steps", t.warmup_steps, "Warmup steps (overrides --warmup-ratio)");
  cmd->add_option("--min-lr-ratio", t.min_lr_ratio, "Final learning rate / peak")
      ->capture_default_str();
  cmd->add_option("--weight-decay", t.weight_decay, "Decoupled weight decay (not on norms, biases)")
      ->capture_default_str();
  cmd->add_option("--max-grad-norm", t.max_grad_norm, "Gradient clipping (0: off)")
      ->capture_default_str();
  cmd->add_option("--grad-accum", t.grad_accum, "Micro-batches per optimiser step")
      ->capture_default_str();
  cmd->add_option("--token-budget", t.token_budget, "Padded tokens per micro-batch")
      ->capture_default_str();
  cmd->add_option("--max-length", o.data_opts.max_length,
                  "Tokens per sequence (at most the model's context)")
      ->capture_default_str();
  cmd->add_option("--overlong", f.overlong, "Longer sequences: truncate, drop or error")
      ->capture_default_str();
  cmd->add_option("--seed", t.seed, "Data order, held-out split, initialisation")
      ->capture_default_str();
  cmd->add_option("--eval-every", t.eval_every,
                  "Steps between held-out evaluations (0: at the end)")
      ->capture_default_str();
  cmd->add_option("--save-every", t.save_every, "Steps between checkpoints (0: at the end)")
      ->capture_default_str();
  cmd->add_option("--log-every", t.log_every, "Steps between metrics lines")->capture_default_str();
  cmd->add_flag("--resume", t.resume, "Continue from --out/checkpoint");
  cmd->add_option("--threads", f.threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  cmd->add_option("--chat-template", o.chat_template,
                  "Template for message lists (chatml, llama3, llama2, human-assistant); default: "
                  "the tokenizer's");
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
  c_sft->add_flag("--token-constraint", sft->constrain,
                  "Token-wise constrained fine-tuning towards --ref-model (Qi et al. 2024): each "
                  "target token's loss -(2/beta_t) log sigmoid(beta_t log(p/p_ref)), beta_t "
                  "largest on a response's first tokens");
  c_sft->add_option("--ref-model", sft->ref_model,
                    "With --token-constraint: the reference (default: --model)");
  TokenConstraintOptions& tc = sft->constraint;
  c_sft->add_option("--constraint-beta", tc.beta, "beta_t after the first tokens")
      ->capture_default_str();
  c_sft->add_option("--constraint-first-token-bias", tc.first_token_bias, "beta_1 = beta * this")
      ->capture_default_str();
  c_sft
      ->add_option("--constraint-bias", tc.bias,
                   "beta_t = beta * this for 2 <= t <= --constraint-bias-length")
      ->capture_default_str();
  c_sft->add_option("--constraint-bias-length", tc.bias_length, "First tokens with a biased beta")
      ->capture_default_str();
  c_sft->callback([sft, sft_f] {
    prepare(*sft_f, *sft);
    print_summary(run_sft(*sft), sft->train);
  });

  auto dpo = std::make_shared<DpoRunOptions>();
  auto dpo_f = std::make_shared<TrainFlags>();
  auto dpo_loss = std::make_shared<std::string>("sigmoid");
  dpo->train.lr = 5e-6;
  CLI::App* c_dpo = train->add_subcommand(
      "dpo", "Direct preference optimisation on {\"prompt\", \"chosen\", \"rejected\"}");
  add_train_flags(c_dpo, *dpo, *dpo_f);
  c_dpo->add_option("--ref-model", dpo->ref_model, "Reference model (default: --model)");
  c_dpo->add_option("--beta", dpo->dpo.loss.beta, "DPO beta")->capture_default_str();
  c_dpo->add_option("--loss", *dpo_loss, "sigmoid, robust, ipo or hinge")->capture_default_str();
  c_dpo
      ->add_option("--label-smoothing", dpo->dpo.loss.label_smoothing,
                   "Label noise eps in [0, 0.5)")
      ->capture_default_str();
  c_dpo->add_option("--rpo-alpha", dpo->dpo.rpo_alpha, "Weight of the chosen response's NLL")
      ->capture_default_str();
  c_dpo->callback([dpo, dpo_f, dpo_loss] {
    dpo->dpo.loss.type = parse_dpo_loss(*dpo_loss);
    prepare(*dpo_f, *dpo);
    print_summary(run_dpo(*dpo), dpo->train);
  });

  auto rm = std::make_shared<RmRunOptions>();
  auto rm_f = std::make_shared<TrainFlags>();
  rm->train.lr = 1e-5;
  CLI::App* c_rm = train->add_subcommand(
      "rm", "Reward model (Bradley-Terry) on {\"prompt\", \"chosen\", \"rejected\"}");
  add_train_flags(c_rm, *rm, *rm_f);
  c_rm->add_option("--margin", rm->rm.margin, "Margin subtracted from the reward difference")
      ->capture_default_str();
  c_rm->add_option("--center-rewards", rm->rm.centering_coef,
                   "Reward-centering coefficient (e.g. 0.01)")
      ->capture_default_str();
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
