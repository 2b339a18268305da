// Whole training runs (see include/cai/train/run.h): model, data, objective, trainer.
#include "cai/train/run.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <tuple>

#include "cai/dist/dist.h"
#include "cai/generate/chat.h"
#include "cai/io/error.h"
#include "cai/io/log.h"
#include "cai/io/sha256.h"
#include "cai/model/device.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/reward_model.h"

namespace cai::train {
namespace {

namespace fs = std::filesystem;

LoadedModel load_with_tokenizer(const std::string& path) {
  LoadedModel lm = load_model(path);
  CAI_CHECK(lm.tokenizer.has_value(), "{}: the model carries no tokenizer; training needs one",
            path);
  return lm;
}

// The dataset's identity for the checkpoint: its bytes and where the held-out split comes from.
std::string data_hash(const RunOptions& o) {
  std::string s = sha256_file(o.data);
  if (!o.eval_data.empty()) s += "|eval:" + sha256_file(o.eval_data);
  s += fmt::format("|fraction:{}", o.eval_fraction);
  return sha256_hex(s);
}

// The settings outside TrainOptions that change the trained weights.
nlohmann::json objective_config(const RunOptions& o, const DataOptions& data_opts,
                                const std::string& template_name) {
  nlohmann::json j = opt::identity_json(data_opts);
  j["model"] = fs::absolute(o.model).lexically_normal().string();
  j["template"] = template_name;
  if (o.lora.enabled()) j["lora"] = opt::identity_json(o.lora);
  return j;
}

template <typename T>
std::vector<T> pick(const std::vector<T>& all, const std::vector<std::int64_t>& idx) {
  std::vector<T> out;
  out.reserve(idx.size());
  for (auto i : idx) out.push_back(all[static_cast<std::size_t>(i)]);
  return out;
}

// Train and held-out examples (see the header); the indices of each in `data` when split.
template <typename T, typename Loader>
std::pair<std::vector<T>, std::vector<T>> load_split(
    const RunOptions& o, Loader load, std::vector<std::int64_t>* train_idx = nullptr,
    std::vector<std::int64_t>* eval_idx = nullptr) {
  std::int64_t dropped = 0;
  std::vector<T> all = load(o.data, &dropped);
  if (dropped > 0) log_warning("{}: dropped {} examples over max_length", o.data, dropped);
  CAI_CHECK(!all.empty(), "{}: no training examples", o.data);
  std::vector<T> eval;
  if (!o.eval_data.empty()) eval = load(o.eval_data, nullptr);
  std::vector<std::int64_t> tr, ev;
  if (o.eval_fraction > 0) {
    std::tie(tr, ev) =
        split_held_out(static_cast<std::int64_t>(all.size()), o.eval_fraction, o.train.seed);
  } else {
    for (std::size_t i = 0; i < all.size(); ++i) tr.push_back(static_cast<std::int64_t>(i));
  }
  if (o.eval_fraction > 0) eval = pick(all, ev);
  std::vector<T> train = o.eval_fraction > 0 ? pick(all, tr) : std::move(all);
  if (train_idx) *train_idx = tr;
  if (eval_idx) *eval_idx = ev;
  return {std::move(train), std::move(eval)};
}

// What every run does first: the model, its template and the data options it allows.
struct Prepared {
  LoadedModel lm;
  ChatTemplate tmpl;
  DataOptions data_opts;
};

Prepared prepare(const RunOptions& o) {
  LoadedModel lm = load_with_tokenizer(o.model);
  place_model(*lm.model, parse_device(o.device));
  ChatTemplate tmpl = pick_chat_template(&*lm.tokenizer, o.chat_template);
  DataOptions d = o.data_opts;
  d.max_length = std::min(d.max_length, lm.config.max_position_embeddings);
  return {std::move(lm), std::move(tmpl), d};
}

}  // namespace

void RunOptions::rules(opt::Rules& r) const {
  r.require(!model.empty(), "model", "is required");
  r.require(!data.empty(), "data", "is required");
  r.require(eval_data.empty() || eval_fraction == 0, "eval_data", "excludes eval_fraction");
}

void SftRunOptions::rules(opt::Rules& r) const {
  r.require(token_constraint || ref_model.empty(), "ref_model",
            "is the constraint's reference; it needs token_constraint");
}

TrainSummary run_sft(const SftRunOptions& o) {
  o.validate();
  Prepared p = prepare(o);
  std::vector<std::int64_t> tr_idx, ev_idx;
  auto [train, eval] = load_split<SftExample>(
      o,
      [&](const std::string& path, std::int64_t* d) {
        return load_sft(path, *p.lm.tokenizer, p.tmpl, p.data_opts, d);
      },
      &tr_idx, &ev_idx);
  nlohmann::json cfg = objective_config(o, p.data_opts, p.tmpl.name());
  std::optional<SftConstraint> constraint;
  if (o.token_constraint) {
    // The reference's token log-probabilities, cached beside each dataset file (the whole
    // file, split like the examples); the untrained model serves when it is the reference.
    const std::string ref_path = o.ref_model.empty() ? o.model : o.ref_model;
    CAI_CHECK(fs::exists(ref_path), "ref_model: {} does not exist", ref_path);
    std::optional<LoadedModel> other;
    auto reference = [&]() -> LoadedModel& {
      if (fs::equivalent(fs::path(ref_path), fs::path(o.model))) return p.lm;
      if (!other) other = load_model(ref_path);
      return *other;
    };
    auto ref_for = [&](const std::string& dataset, const std::vector<SftExample>& ex) {
      const fs::path cache = token_ref_cache_path(
          dataset, ref_cache_key(dataset, ref_path, p.tmpl.name(), p.data_opts));
      log_info("", "reference token log-probs: {} {}",
               fs::exists(cache) ? "reading" : "computing into", cache.string());
      return load_or_compute_token_ref_logps(cache, ex, reference);
    };
    constraint.emplace();
    constraint->opts = o.constraint;
    std::vector<SftExample> all(tr_idx.size() + ev_idx.size());  // `data` in file order
    for (std::size_t k = 0; k < tr_idx.size(); ++k)
      all[static_cast<std::size_t>(tr_idx[k])] = train[k];
    for (std::size_t k = 0; k < ev_idx.size(); ++k)
      all[static_cast<std::size_t>(ev_idx[k])] = eval[k];
    const TokenRefLogps r = ref_for(o.data, all);
    for (auto i : tr_idx)
      constraint->train_ref.tokens.push_back(r.tokens[static_cast<std::size_t>(i)]);
    for (auto i : ev_idx)
      constraint->eval_ref.tokens.push_back(r.tokens[static_cast<std::size_t>(i)]);
    if (!o.eval_data.empty()) constraint->eval_ref = ref_for(o.eval_data, eval);
    other.reset();
    cfg["constraint"] = o.constraint.to_json();
    cfg["constraint"]["ref_model"] = fs::absolute(ref_path).lexically_normal().string();
  }
  torch::manual_seed(o.train.seed);  // LoRA initialisation
  Policy policy{&p.lm, o.lora.enabled() ? attach_lora(*p.lm.model, o.lora) : nullptr, o.model};
  auto obj = make_sft_objective(policy, std::move(train), std::move(eval),
                                constraint ? &*constraint : nullptr);
  TrainOptions t = o.train;
  t.objective_config = cfg.dump();
  return run_training(*obj, t, data_hash(o));
}

TrainSummary run_dpo(const DpoRunOptions& o) {
  o.validate();
  Prepared p = prepare(o);
  const std::string ref_path = o.ref_model.empty() ? o.model : o.ref_model;
  auto loader = [&](const std::string& path, std::int64_t* dr) {
    return load_preferences(path, *p.lm.tokenizer, p.tmpl, p.data_opts, dr);
  };
  std::vector<std::int64_t> tr_idx, ev_idx;
  auto [train, eval] = load_split<PreferenceExample>(o, loader, &tr_idx, &ev_idx);
  // Without eval_data the reference caches cover the whole file, split like the examples.
  std::vector<PreferenceExample> all;
  if (o.eval_data.empty()) {
    all.resize(train.size() + eval.size());
    for (std::size_t k = 0; k < tr_idx.size(); ++k)
      all[static_cast<std::size_t>(tr_idx[k])] = train[k];
    for (std::size_t k = 0; k < ev_idx.size(); ++k)
      all[static_cast<std::size_t>(ev_idx[k])] = eval[k];
  }

  // Reference log-probabilities, cached beside each dataset file. When the reference is the
  // policy's own starting point, the already-loaded (still untrained) model serves.
  CAI_CHECK(fs::exists(ref_path), "ref_model: {} does not exist", ref_path);
  const bool same = fs::equivalent(fs::path(ref_path), fs::path(o.model));
  std::map<std::string, std::string> keys;  // dataset -> cache key (hashes the model's files)
  auto key_for = [&](const std::string& dataset) -> const std::string& {
    auto it = keys.find(dataset);
    if (it == keys.end())
      it =
          keys.emplace(dataset, ref_cache_key(dataset, ref_path, p.tmpl.name(), p.data_opts)).first;
    return it->second;
  };
  auto note = [](const char* what, const fs::path& cache) {
    if (dist::is_main())
      log_info("", "{}: {} {}", what, fs::exists(cache) ? "reading" : "computing into",
               cache.string());
  };
  auto ref_for = [&](const std::string& dataset, const std::vector<PreferenceExample>& ex) {
    const fs::path cache = ref_cache_path(dataset, key_for(dataset));
    note("reference log-probs", cache);
    if (same) return load_or_compute_ref_logps(cache, ex, p.lm);
    return load_or_compute_ref_logps(
        cache, ex, std::function<LoadedModel()>([&] { return load_model(ref_path); }));
  };
  RefLogps train_ref, eval_ref;
  if (o.eval_data.empty()) {
    const RefLogps r = ref_for(o.data, all);
    train_ref = {pick(r.chosen, tr_idx), pick(r.rejected, tr_idx)};
    eval_ref = {pick(r.chosen, ev_idx), pick(r.rejected, ev_idx)};
  } else {
    train_ref = ref_for(o.data, train);
    eval_ref = ref_for(o.eval_data, eval);
  }

  // The constrained RPO term's per-token values of the chosen responses, cached the same way.
  std::optional<DpoConstraint> constraint;
  if (o.dpo.token_constraint) {
    std::optional<LoadedModel> other;
    auto reference = [&]() -> LoadedModel& {
      if (same) return p.lm;
      if (!other) other = load_model(ref_path);
      return *other;
    };
    auto tokens_for = [&](const std::string& dataset, const std::vector<PreferenceExample>& ex) {
      const fs::path cache = token_ref_cache_path(dataset, key_for(dataset));
      note("reference chosen-token log-probs", cache);
      return load_or_compute_token_ref_logps(cache, chosen_sequences(ex), reference);
    };
    constraint.emplace();
    if (o.eval_data.empty()) {
      const TokenRefLogps r = tokens_for(o.data, all);
      constraint->train_chosen.tokens = pick(r.tokens, tr_idx);
      constraint->eval_chosen.tokens = pick(r.tokens, ev_idx);
    } else {
      constraint->train_chosen = tokens_for(o.data, train);
      constraint->eval_chosen = tokens_for(o.eval_data, eval);
    }
  }

  torch::manual_seed(o.train.seed);  // LoRA initialisation
  Policy policy{&p.lm, o.lora.enabled() ? attach_lora(*p.lm.model, o.lora) : nullptr, o.model};
  auto obj = make_dpo_objective(policy, std::move(train), std::move(train_ref), std::move(eval),
                                std::move(eval_ref), o.dpo, constraint ? &*constraint : nullptr);
  nlohmann::json cfg = objective_config(o, p.data_opts, p.tmpl.name());
  cfg["ref_model"] = fs::absolute(ref_path).lexically_normal().string();
  cfg["dpo"] = opt::identity_json(o.dpo);
  TrainOptions t = o.train;
  t.objective_config = cfg.dump();
  return run_training(*obj, t, data_hash(o));
}

TrainSummary run_rm(const RmRunOptions& o) {
  o.validate();
  Prepared p = prepare(o);
  auto [train, eval] =
      load_split<PreferenceExample>(o, [&](const std::string& path, std::int64_t* d) {
        return load_preferences(path, *p.lm.tokenizer, p.tmpl, p.data_opts, d);
      });
  torch::manual_seed(o.train.seed);  // head initialisation
  RewardModel rm(std::move(p.lm));
  auto obj = make_rm_objective(rm, std::move(train), std::move(eval), o.rm);
  nlohmann::json cfg = objective_config(o, p.data_opts, p.tmpl.name());
  cfg["rm"] = opt::identity_json(o.rm);
  TrainOptions t = o.train;
  t.objective_config = cfg.dump();
  return run_training(*obj, t, data_hash(o));
}

}  // namespace cai::train
