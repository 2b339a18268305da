// `cai pretrain` (see include/cai/train/pretrain.h): tokenizer, model and next-token training,
// all from one seed. Pretraining is SFT with every position a target, so it runs through the
// same objective and trainer as fine-tuning.
#include "cai/train/pretrain.h"
#include "cai/io/json.h"
#include "cai/io/log.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/sha256.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/tokenizer/trainer.h"
#include "cai/train/objectives.h"

namespace cai::train {
namespace {

// Documents of a corpus file: the text between separator lines (a final document without a
// separator line counts too). Empty documents are skipped.
std::vector<std::string> read_documents(const std::filesystem::path& path, const std::string& sep) {
  const std::string text = read_file(path);
  std::vector<std::string> docs;
  std::string cur;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    const std::size_t end = nl == std::string::npos ? text.size() : nl;
    const std::string_view line(text.data() + pos, end - pos);
    if (line == sep) {
      if (!cur.empty()) docs.push_back(std::move(cur));
      cur.clear();
    } else {
      if (!cur.empty()) cur += '\n';
      cur += line;
    }
    pos = end + 1;
  }
  if (!cur.empty()) docs.push_back(std::move(cur));
  if (docs.empty()) throw_error("{}: no documents (separator line \"{}\")", path.string(), sep);
  return docs;
}

nlohmann::json options_json(const PretrainOptions& o) {
  const TrainOptions& t = o.train;
  nlohmann::json corpus = nlohmann::json::array();
  for (const auto& c : o.corpus) corpus.push_back(sha256_file(c));
  return {{"corpus_sha256", corpus},
          {"separator", o.separator},
          {"vocab_size", o.vocab_size},
          {"pre_tokenizer", o.pre_tokenizer},
          {"hidden", o.hidden},
          {"layers", o.layers},
          {"heads", o.heads},
          {"ffn", o.ffn},
          {"context", o.context},
          {"tie_embeddings", o.tie_embeddings},
          {"seq_len", o.seq_len},
          {"seed", o.seed},
          {"lr", t.lr},
          {"schedule", static_cast<int>(t.schedule)},
          {"warmup_ratio", t.warmup_ratio},
          {"warmup_steps", t.warmup_steps},
          {"min_lr_ratio", t.min_lr_ratio},
          {"weight_decay", t.weight_decay},
          {"beta1", t.beta1},
          {"beta2", t.beta2},
          {"max_grad_norm", t.max_grad_norm},
          {"grad_accum", t.grad_accum},
          {"token_budget", t.token_budget},
          {"epochs", t.epochs},
          {"max_steps", t.max_steps}};
}

}  // namespace

TrainOptions PretrainOptions::default_train_options() {
  TrainOptions t;
  t.lr = 2e-3;
  t.schedule = Schedule::cosine;
  t.warmup_ratio = 0.03;
  t.min_lr_ratio = 0.1;
  t.weight_decay = 0.1;
  t.beta2 = 0.95;
  t.max_grad_norm = 1.0;
  t.token_budget = 16 * 257;  // 16 windows of seq_len + 1 tokens per step
  t.epochs = 1;
  t.save_every = 50;
  t.log_every = 10;
  return t;
}

void PretrainOptions::validate() const {
  CAI_CHECK(!corpus.empty(), "pretrain: no corpus files given");
  CAI_CHECK(!out_dir.empty(), "pretrain: out_dir is required");
  CAI_CHECK(!separator.empty(), "pretrain: separator must not be empty");
  CAI_CHECK(vocab_size >= 257 + 1,
            "pretrain: vocab_size {} must exceed the 256 byte symbols and "
            "the separator",
            vocab_size);
  CAI_CHECK(hidden > 0 && layers > 0 && heads > 0 && ffn > 0,
            "pretrain: hidden, layers, heads and ffn must be positive");
  CAI_CHECK(hidden % heads == 0, "pretrain: hidden {} is not a multiple of heads {}", hidden,
            heads);
  CAI_CHECK(seq_len >= 8 && seq_len < context, "pretrain: seq_len {} must be in [8, context {})",
            seq_len, context);
  CAI_CHECK(threads >= 0, "pretrain: threads must be >= 0");
  TrainOptions t = train;
  t.out_dir = (out_dir / "training").string();
  t.validate();
  CAI_CHECK(t.token_budget >= seq_len + 1, "pretrain: token_budget {} is below one window ({})",
            t.token_budget, seq_len + 1);
}

std::string pretrain_key(const PretrainOptions& opts) {
  return sha256_hex(options_json(opts).dump());
}

nlohmann::json pretrain(const PretrainOptions& opts) {
  opts.validate();
  const auto t0 = std::chrono::steady_clock::now();
  set_torch_threads(opts.threads);
  const std::string key = pretrain_key(opts);
  const auto manifest_path = opts.out_dir / "pretrain.json";
  if (std::filesystem::exists(manifest_path)) {
    auto done = nlohmann::json::parse(read_file(manifest_path), nullptr, false);
    if (!done.is_discarded() && done.value("key", "") == key) return done;
  }
  std::filesystem::create_directories(opts.out_dir);

  // 1. Documents and the tokenizer (BPE training is deterministic: a resumed run retrains
  //    the same vocabulary rather than trusting a half-written file).
  std::vector<std::string> docs;
  for (const auto& c : opts.corpus) {
    auto d = read_documents(c, opts.separator);
    docs.insert(docs.end(), std::make_move_iterator(d.begin()), std::make_move_iterator(d.end()));
  }
  BpeTrainerOptions bo;
  bo.vocab_size = opts.vocab_size;
  bo.special_tokens = {opts.separator};
  bo.pre_tokenizer = opts.pre_tokenizer;
  bo.bos_token = opts.separator;
  bo.eos_token = opts.separator;
  bo.add_bos = true;
  bo.show_progress = true;
  Tokenizer tok = train_bpe(docs, bo);
  const std::int32_t sep_id = *tok.token_to_id(opts.separator);

  // 2. The token stream: each document preceded by the separator, exactly as a prompt is
  //    encoded at inference (encode with add_special puts it first). Cut into windows of
  //    seq_len + 1 tokens overlapping by one, every position after the first a target.
  std::vector<std::int32_t> stream;
  for (const auto& d : docs) {
    stream.push_back(sep_id);
    auto ids = tok.encode(d);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  const std::int64_t W = opts.seq_len + 1;
  const std::int64_t n_windows = (static_cast<std::int64_t>(stream.size()) - 1) / opts.seq_len;
  CAI_CHECK(n_windows >= 2, "pretrain: the corpus gives {} tokens, too few for two windows of {}",
            stream.size(), W);
  std::vector<SftExample> windows;
  windows.reserve(static_cast<std::size_t>(n_windows));
  for (std::int64_t w = 0; w < n_windows; ++w) {
    SftExample ex;
    ex.seq.tokens.assign(stream.begin() + w * opts.seq_len, stream.begin() + w * opts.seq_len + W);
    ex.seq.target.assign(static_cast<std::size_t>(W), 1);
    ex.seq.target[0] = 0;
    ex.line = w + 1;
    windows.push_back(std::move(ex));
  }
  auto [train_idx, eval_idx] = split_held_out(n_windows, 0.02, opts.seed);
  std::vector<SftExample> train_set, eval_set;
  for (auto i : train_idx) train_set.push_back(windows[static_cast<std::size_t>(i)]);
  for (auto i : eval_idx) eval_set.push_back(windows[static_cast<std::size_t>(i)]);
  windows.clear();

  // 3. The model.
  ModelConfig cfg;
  cfg.vocab_size = tok.vocab_size();
  cfg.hidden_size = opts.hidden;
  cfg.intermediate_size = opts.ffn;
  cfg.num_layers = opts.layers;
  cfg.num_heads = opts.heads;
  cfg.num_kv_heads = opts.heads;
  cfg.head_dim = opts.hidden / opts.heads;
  cfg.max_position_embeddings = opts.context;
  cfg.tie_word_embeddings = opts.tie_embeddings;
  cfg.bos_token_id = sep_id;
  cfg.eos_token_ids = {sep_id};
  cfg.validate();
  torch::manual_seed(opts.seed);
  LoadedModel m;
  m.config = cfg;
  m.model = std::make_shared<LlamaModel>(cfg);
  m.tokenizer = std::move(tok);

  // 4. Training.
  TrainOptions topts = opts.train;
  topts.out_dir = (opts.out_dir / "training").string();
  topts.seed = opts.seed;
  // A checkpoint left by a killed run with the same key continues (the trainer refuses one
  // made with other options or data).
  topts.resume = topts.resume ||
                 std::filesystem::exists(opts.out_dir / "training" / "checkpoint" / "state.json");
  const std::string data_hash = key;
  log_info("pretrain", "{} parameters, {} tokens, {} windows of {} ({} held out)",
           cfg.num_parameters(), stream.size(), n_windows, W, eval_set.size());
  const std::size_t n_tokens = stream.size();
  stream.clear();
  stream.shrink_to_fit();
  auto objective =
      make_sft_objective(Policy{&m, nullptr, ""}, std::move(train_set), std::move(eval_set));
  TrainSummary s = run_training(*objective, topts, data_hash);

  // 5. The model directory, then the manifest that marks it finished.
  save_model_dir(m, opts.out_dir, DType::F32);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json out = {{"key", key},
                        {"options", options_json(opts)},
                        {"parameters", cfg.num_parameters()},
                        {"corpus_tokens", n_tokens},
                        {"documents", docs.size()},
                        {"steps", s.steps},
                        {"train_seconds", s.seconds},
                        {"tokens_per_s", s.tokens_per_s},
                        {"final_train", s.last_train},
                        {"final_eval", s.last_eval},
                        {"wall_seconds", wall}};
  write_json(manifest_path, out);
  return out;
}

}  // namespace cai::train
