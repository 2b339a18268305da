// `cai train sft|rm|dpo`: flags into the training options, datasets loaded and split, the
// objective built, then the shared trainer (include/cai/train/trainer.h). `cai rm score`:
// rewards of {"prompt", "response"} lines under a trained reward model.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cai/generate/chat.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/io/sha256.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/data.h"
#include "cai/train/lora.h"
#include "cai/train/objectives.h"
#include "cai/train/reward_model.h"
#include "cai/train/trainer.h"
#include "command.h"

namespace cai::cli {
namespace {

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

// Flags every `cai train` command shares.
struct TrainFlags {
  std::string model, data, eval_data, chat_template, schedule = "cosine", overlong = "truncate";
  double eval_fraction = 0.0;
  bool lora = false;
  LoraOptions lora_opts = cli_lora_defaults();
  TrainOptions train;
  DataOptions data_opts;
  int threads = 0;
  bool quiet = false;
};

struct DpoFlags {
  std::string ref_model, loss = "sigmoid";
  DpoOptions dpo;
};

Overlong parse_overlong(const std::string& s) {
  if (s == "truncate") return Overlong::truncate;
  if (s == "drop") return Overlong::drop;
  if (s == "error") return Overlong::error;
  throw_error("--overlong: '{}' is not one of truncate, drop, error", s);
}

// Checks everything that needs no file, so a bad flag fails before a model is loaded.
void prepare(TrainFlags& f) {
  f.train.schedule = parse_schedule(f.schedule);
  f.train.progress = !f.quiet;
  f.train.validate();
  f.data_opts.overlong = parse_overlong(f.overlong);
  f.data_opts.validate();
  CAI_CHECK(f.eval_fraction >= 0 && f.eval_fraction < 1, "--eval-fraction must be in [0, 1), got {}",
            f.eval_fraction);
  CAI_CHECK(f.eval_data.empty() || f.eval_fraction == 0,
            "--eval-data and --eval-fraction exclude each other");
  if (f.lora) f.lora_opts.validate();
  set_torch_threads(f.threads);
}

LoadedModel load_with_tokenizer(const std::string& path) {
  LoadedModel lm = load_model(path);
  CAI_CHECK(lm.tokenizer.has_value(), "{}: the model carries no tokenizer; training needs one", path);
  return lm;
}

// The dataset's identity for the checkpoint: its bytes and where the held-out split comes from.
std::string data_hash(const TrainFlags& f) {
  std::string s = sha256_file(f.data);
  if (!f.eval_data.empty()) s += "|eval:" + sha256_file(f.eval_data);
  s += fmt::format("|fraction:{}", f.eval_fraction);
  return sha256_hex(s);
}

// The settings outside TrainOptions that change the trained weights.
nlohmann::json objective_config(const TrainFlags& f, const std::string& template_name) {
  nlohmann::json j = {{"model", fs::absolute(f.model).lexically_normal().string()},
                      {"template", template_name},
                      {"max_length", f.data_opts.max_length},
                      {"overlong", f.overlong},
                      {"add_bos", f.data_opts.add_bos}};
  if (f.lora)
    j["lora"] = {{"r", f.lora_opts.rank},
                 {"alpha", f.lora_opts.alpha},
                 {"dropout", f.lora_opts.dropout},
                 {"targets", f.lora_opts.target_modules}};
  return j;
}

template <typename T>
std::vector<T> pick(const std::vector<T>& all, const std::vector<std::int64_t>& idx) {
  std::vector<T> out;
  out.reserve(idx.size());
  for (auto i : idx) out.push_back(all[static_cast<std::size_t>(i)]);
  return out;
}

// Train and held-out examples: --eval-data, or a seeded --eval-fraction of the data, or none.
template <typename T, typename Loader>
std::pair<std::vector<T>, std::vector<T>> load_split(const TrainFlags& f, Loader load,
                                                     std::vector<std::int64_t>* train_idx = nullptr,
                                                     std::vector<std::int64_t>* eval_idx = nullptr) {
  std::int64_t dropped = 0;
  std::vector<T> all = load(f.data, &dropped);
  if (dropped > 0)
    std::fprintf(stderr, "cai: %s: dropped %lld examples over --max-length\n", f.data.c_str(),
                 static_cast<long long>(dropped));
  CAI_CHECK(!all.empty(), "{}: no training examples", f.data);
  std::vector<T> eval;
  if (!f.eval_data.empty()) eval = load(f.eval_data, nullptr);
  std::vector<std::int64_t> tr, ev;
  if (f.eval_fraction > 0) {
    std::tie(tr, ev) = split_held_out(static_cast<std::int64_t>(all.size()), f.eval_fraction, f.train.seed);
  } else {
    for (std::size_t i = 0; i < all.size(); ++i) tr.push_back(static_cast<std::int64_t>(i));
  }
  if (f.eval_fraction > 0) eval = pick(all, ev);
  std::vector<T> train = f.eval_fraction > 0 ? pick(all, tr) : std::move(all);
  if (train_idx) *train_idx = tr;
  if (eval_idx) *eval_idx = ev;
  return {std::move(train), std::move(eval)};
}

void print_summary(const TrainSummary& s, const TrainOptions& o) {
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
  if (!s.last_eval.empty()) std::fprintf(stderr, "cai: held-out: %s\n", fmt_metrics(s.last_eval).c_str());
  std::fprintf(stderr, "cai: wrote %s/final (metrics: %s/metrics.jsonl)\n", o.out_dir.c_str(),
               o.out_dir.c_str());
}

void run_sft(TrainFlags f) {
  prepare(f);
  LoadedModel lm = load_with_tokenizer(f.model);
  const ChatTemplate tmpl = pick_chat_template(&*lm.tokenizer, f.chat_template);
  f.data_opts.max_length = std::min(f.data_opts.max_length, lm.config.max_position_embeddings);
  auto [train, eval] = load_split<SftExample>(f, [&](const std::string& p, std::int64_t* d) {
    return load_sft(p, *lm.tokenizer, tmpl, f.data_opts, d);
  });
  torch::manual_seed(f.train.seed);  // LoRA initialisation
  Policy policy{&lm, f.lora ? attach_lora(*lm.model, f.lora_opts) : nullptr, f.model};
  auto obj = make_sft_objective(policy, std::move(train), std::move(eval));
  f.train.objective_config = objective_config(f, tmpl.name()).dump();
  print_summary(run_training(*obj, f.train, data_hash(f)), f.train);
}

void run_dpo(TrainFlags f, DpoFlags d) {
  d.dpo.loss.type = parse_dpo_loss(d.loss);
  d.dpo.validate();
  prepare(f);
  const std::string ref_path = d.ref_model.empty() ? f.model : d.ref_model;
  LoadedModel lm = load_with_tokenizer(f.model);
  const ChatTemplate tmpl = pick_chat_template(&*lm.tokenizer, f.chat_template);
  f.data_opts.max_length = std::min(f.data_opts.max_length, lm.config.max_position_embeddings);
  auto loader = [&](const std::string& p, std::int64_t* dr) {
    return load_preferences(p, *lm.tokenizer, tmpl, f.data_opts, dr);
  };
  std::vector<std::int64_t> tr_idx, ev_idx;
  auto [train, eval] = load_split<PreferenceExample>(f, loader, &tr_idx, &ev_idx);

  // Reference log-probabilities, cached beside each dataset file. When the reference is the
  // policy's own starting point, the already-loaded (still untrained) model serves.
  CAI_CHECK(fs::exists(ref_path), "--ref-model: {} does not exist", ref_path);
  const bool same = fs::equivalent(fs::path(ref_path), fs::path(f.model));
  auto ref_for = [&](const std::string& dataset, const std::vector<PreferenceExample>& ex) {
    const fs::path cache = ref_cache_path(dataset, ref_cache_key(dataset, ref_path, tmpl.name(), f.data_opts));
    const bool cached = fs::exists(cache);
    std::fprintf(stderr, "cai: reference log-probs: %s %s\n", cached ? "reading" : "computing into",
                 cache.string().c_str());
    if (same) return load_or_compute_ref_logps(cache, ex, lm);
    return load_or_compute_ref_logps(cache, ex, std::function<LoadedModel()>([&] { return load_model(ref_path); }));
  };
  RefLogps train_ref, eval_ref;
  if (f.eval_data.empty()) {
    // One cache for the whole file, split like the examples.
    std::vector<PreferenceExample> all(train.size() + eval.size());
    for (std::size_t k = 0; k < tr_idx.size(); ++k) all[static_cast<std::size_t>(tr_idx[k])] = train[k];
    for (std::size_t k = 0; k < ev_idx.size(); ++k) all[static_cast<std::size_t>(ev_idx[k])] = eval[k];
    const RefLogps r = ref_for(f.data, all);
    for (auto i : tr_idx) {
      train_ref.chosen.push_back(r.chosen[static_cast<std::size_t>(i)]);
      train_ref.rejected.push_back(r.rejected[static_cast<std::size_t>(i)]);
    }
    for (auto i : ev_idx) {
      eval_ref.chosen.push_back(r.chosen[static_cast<std::size_t>(i)]);
      eval_ref.rejected.push_back(r.rejected[static_cast<std::size_t>(i)]);
    }
  } else {
    train_ref = ref_for(f.data, train);
    eval_ref = ref_for(f.eval_data, eval);
  }

  torch::manual_seed(f.train.seed);  // LoRA initialisation
  Policy policy{&lm, f.lora ? attach_lora(*lm.model, f.lora_opts) : nullptr, f.model};
  auto obj = make_dpo_objective(policy, std::move(train), std::move(train_ref), std::move(eval),
                                std::move(eval_ref), d.dpo);
  nlohmann::json cfg = objective_config(f, tmpl.name());
  cfg["ref_model"] = fs::absolute(ref_path).lexically_normal().string();
  cfg["dpo"] = {{"loss", d.loss}, {"beta", d.dpo.loss.beta},
                {"label_smoothing", d.dpo.loss.label_smoothing}, {"rpo_alpha", d.dpo.rpo_alpha}};
  f.train.objective_config = cfg.dump();
  print_summary(run_training(*obj, f.train, data_hash(f)), f.train);
}

void run_rm(TrainFlags f, RmLossOptions rm_opts) {
  rm_opts.validate();
  CAI_CHECK(!f.lora, "cai train rm: --lora is not supported for reward models (full fine-tuning only)");
  prepare(f);
  LoadedModel lm = load_with_tokenizer(f.model);
  const ChatTemplate tmpl = pick_chat_template(&*lm.tokenizer, f.chat_template);
  f.data_opts.max_length = std::min(f.data_opts.max_length, lm.config.max_position_embeddings);
  auto [train, eval] = load_split<PreferenceExample>(f, [&](const std::string& p, std::int64_t* d) {
    return load_preferences(p, *lm.tokenizer, tmpl, f.data_opts, d);
  });
  torch::manual_seed(f.train.seed);  // head initialisation
  RewardModel rm(std::move(lm));
  auto obj = make_rm_objective(rm, std::move(train), std::move(eval), rm_opts);
  nlohmann::json cfg = objective_config(f, tmpl.name());
  cfg["rm"] = {{"margin", rm_opts.margin}, {"center_rewards", rm_opts.centering_coef}};
  f.train.objective_config = cfg.dump();
  print_summary(run_training(*obj, f.train, data_hash(f)), f.train);
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
      pairs += nlohmann::json{{"prompt", j["prompt"]}, {"chosen", j["response"]}, {"rejected", j["response"]}}.dump() + "\n";
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
      ~Remove() { std::error_code ec; fs::remove(p, ec); }
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
  CAI_CHECK(ex.size() == lines.size(), "{}: {} lines but {} scored examples", source, lines.size(), ex.size());
  std::vector<std::vector<std::int32_t>> seqs;
  for (const auto& e : ex) {
    seqs.push_back(e.prompt);
    seqs.back().insert(seqs.back().end(), e.chosen.begin(), e.chosen.end());
  }
  const std::vector<double> rewards = rm.score(seqs, f.token_budget);
  std::unique_ptr<JsonlWriter> writer;
  if (f.output != "-") writer = std::make_unique<JsonlWriter>(f.output, /*append=*/false, /*durable=*/false);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json j = lines[i];
    j["reward"] = rewards[i];
    if (writer)
      writer->write(j);
    else
      std::fputs((j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n").c_str(), stdout);
  }
  std::fflush(stdout);
}

// ---- flags ----------------------------------------------------------------------------------

void add_train_flags(CLI::App* cmd, TrainFlags& f) {
  TrainOptions& t = f.train;
  cmd->add_option("--model", f.model, "Model to train (Hugging Face directory or .gguf)")->required();
  cmd->add_option("--data", f.data, "Training data (JSONL)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", t.out_dir, "Run directory (metrics.jsonl, checkpoint/, final/)")->required();
  cmd->add_option("--eval-data", f.eval_data, "Held-out data (JSONL)")->check(CLI::ExistingFile);
  cmd->add_option("--eval-fraction", f.eval_fraction, "Share of --data held out (seeded)")->capture_default_str();
  cmd->add_flag("--lora", f.lora, "Train LoRA adapters instead of all weights");
  cmd->add_option("--lora-r", f.lora_opts.rank, "LoRA rank")->capture_default_str();
  cmd->add_option("--lora-alpha", f.lora_opts.alpha, "LoRA alpha (scaling alpha / r)")->capture_default_str();
  cmd->add_option("--lora-dropout", f.lora_opts.dropout, "Dropout on the adapters' input")->capture_default_str();
  cmd->add_option("--lora-targets", f.lora_opts.target_modules,
                  "Adapted projections (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)")
      ->delimiter(',')->capture_default_str();
  cmd->add_option("--lr", t.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--epochs", t.epochs, "Passes over the data")->capture_default_str();
  cmd->add_option("--max-steps", t.max_steps, "Optimiser steps (overrides --epochs; -1: off)")->capture_default_str();
  cmd->add_option("--schedule", f.schedule, "cosine, linear or constant")->capture_default_str();
  cmd->add_option("--warmup-ratio", t.warmup_ratio, "Share of steps warming up")->capture_default_str();
  cmd->add_option("--warmup-steps", t.warmup_steps, "Warmup steps (overrides --warmup-ratio)");
  cmd->add_option("--min-lr-ratio", t.min_lr_ratio, "Final learning rate / peak")->capture_default_str();
  cmd->add_option("--weight-decay", t.weight_decay, "Decoupled weight decay (not on norms, biases)")->capture_default_str();
  cmd->add_option("--max-grad-norm", t.max_grad_norm, "Gradient clipping (0: off)")->capture_default_str();
  cmd->add_option("--grad-accum", t.grad_accum, "Micro-batches per optimiser step")->capture_default_str();
  cmd->add_option("--token-budget", t.token_budget, "Padded tokens per micro-batch")->capture_default_str();
  cmd->add_option("--max-length", f.data_opts.max_length, "Tokens per sequence (at most the model's context)")->capture_default_str();
  cmd->add_option("--overlong", f.overlong, "Longer sequences: truncate, drop or error")->capture_default_str();
  cmd->add_option("--seed", t.seed, "Data order, held-out split, initialisation")->capture_default_str();
  cmd->add_option("--eval-every", t.eval_every, "Steps between held-out evaluations (0: at the end)")->capture_default_str();
  cmd->add_option("--save-every", t.save_every, "Steps between checkpoints (0: at the end)")->capture_default_str();
  cmd->add_option("--log-every", t.log_every, "Steps between metrics lines")->capture_default_str();
  cmd->add_flag("--resume", t.resume, "Continue from --out/checkpoint");
  cmd->add_option("--threads", f.threads, "Intra-op threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--chat-template", f.chat_template,
                  "Template for message lists (chatml, llama3, llama2, human-assistant); default: the tokenizer's");
  cmd->add_flag("--quiet", f.quiet, "No progress bar");
}

const Registrar reg(60, [](CLI::App& root) {
  CLI::App* train = group(root, "train", "Train a model: SFT, reward model, DPO");

  auto sft = std::make_shared<TrainFlags>();
  sft->train.lr = 2e-5;
  CLI::App* c_sft = train->add_subcommand("sft", "Supervised fine-tuning on {\"messages\"} or {\"prompt\", \"completion\"}");
  add_train_flags(c_sft, *sft);
  c_sft->callback([sft] { run_sft(*sft); });

  auto dpo = std::make_shared<TrainFlags>();
  auto dpo_f = std::make_shared<DpoFlags>();
  dpo->train.lr = 5e-6;
  CLI::App* c_dpo = train->add_subcommand("dpo", "Direct preference optimisation on {\"prompt\", \"chosen\", \"rejected\"}");
  add_train_flags(c_dpo, *dpo);
  c_dpo->add_option("--ref-model", dpo_f->ref_model, "Reference model (default: --model)");
  c_dpo->add_option("--beta", dpo_f->dpo.loss.beta, "DPO beta")->capture_default_str();
  c_dpo->add_option("--loss", dpo_f->loss, "sigmoid, robust, ipo or hinge")->capture_default_str();
  c_dpo->add_option("--label-smoothing", dpo_f->dpo.loss.label_smoothing, "Label noise eps in [0, 0.5)")->capture_default_str();
  c_dpo->add_option("--rpo-alpha", dpo_f->dpo.rpo_alpha, "Weight of the chosen response's NLL")->capture_default_str();
  c_dpo->callback([dpo, dpo_f] { run_dpo(*dpo, *dpo_f); });

  auto rm = std::make_shared<TrainFlags>();
  auto rm_f = std::make_shared<RmLossOptions>();
  rm->train.lr = 1e-5;
  CLI::App* c_rm = train->add_subcommand("rm", "Reward model (Bradley-Terry) on {\"prompt\", \"chosen\", \"rejected\"}");
  add_train_flags(c_rm, *rm);
  c_rm->add_option("--margin", rm_f->margin, "Margin subtracted from the reward difference")->capture_default_str();
  c_rm->add_option("--center-rewards", rm_f->centering_coef, "Reward-centering coefficient (e.g. 0.01)")->capture_default_str();
  c_rm->callback([rm, rm_f] { run_rm(*rm, *rm_f); });
  train->require_subcommand(1);

  CLI::App* rm_group = group(root, "rm", "Reward models");
  auto sf = std::make_shared<ScoreFlags>();
  CLI::App* c_score = rm_group->add_subcommand("score", "Score {\"prompt\", \"response\"} lines with a reward model");
  c_score->add_option("--model", sf->model, "Reward model directory (cai train rm's final/)")->required();
  c_score->add_option("--input,-i", sf->input, "JSONL input; - for stdin")->capture_default_str();
  c_score->add_option("--output,-o", sf->output, "JSONL output (input fields + \"reward\"); - for stdout")->capture_default_str();
  c_score->add_option("--chat-template", sf->chat_template, "Template for message lists; default: the tokenizer's");
  c_score->add_option("--max-length", sf->max_length, "Tokens per sequence (0: the model's context)")->capture_default_str();
  c_score->add_option("--token-budget", sf->token_budget, "Padded tokens per batch")->capture_default_str();
  c_score->add_option("--threads", sf->threads, "Intra-op threads (0 = all cores)")->capture_default_str();
  c_score->callback([sf] { run_score(*sf); });
});

}  // namespace
}  // namespace cai::cli
