// The loop's training stages (see internal.h): each stage's options from the config and the
// round, run in this process or launched as data-parallel ranks, and LoRA adapters merged for
// the next stage.
#include <filesystem>

#include "cai/io/error.h"
#include "cai/model/loader.h"
#include "cai/train/lora.h"
#include "cai/train/rl.h"
#include "cai/train/run.h"
#include "internal.h"

namespace cai::loop::detail {

namespace {

// The template the SFT / DPO data is rendered with: the transcript format's Human/Assistant
// turns unless the config names one, so training sees what generation sees.
std::string data_template(const LoopConfig& c) {
  if (!c.sft.chat_template.empty()) return c.sft.chat_template;
  return c.critique_revise.format == "transcript" ? "human-assistant" : "";
}

void fill(train::RunOptions& o, const LoopConfig& c, const std::string& model, const fs::path& data,
          const fs::path& out, const LoraConfig& lora, double lr, std::int64_t epochs,
          std::int64_t token_budget, std::int64_t max_length, std::uint64_t seed, bool progress) {
  o.model = model;
  o.data = data.string();
  o.chat_template = data_template(c);
  o.data_opts.max_length = max_length;
  o.lora = lora.rank > 0;
  o.lora_opts.rank = std::max<std::int64_t>(lora.rank, 1);
  o.lora_opts.alpha = lora.alpha;
  o.lora_opts.dropout = lora.dropout;
  o.lora_opts.target_modules = lora.targets;
  o.train.out_dir = out.string();
  o.train.lr = lr;
  o.train.epochs = epochs;
  o.train.token_budget = token_budget;
  o.train.seed = seed;
  o.train.save_every = 25;  // a killed stage loses at most 25 steps
  o.train.progress = progress;
  // A checkpoint without final/ is a killed run: continue it exactly.
  o.train.resume = fs::exists(out / "checkpoint") && !fs::exists(out / "final");
}

// With LoRA, final/ holds the adapter: the next stage needs a whole model, merged once.
std::string finish(const std::string& base, const fs::path& out, const LoraConfig& lora) {
  if (lora.rank == 0) return (out / "final").string();
  const fs::path merged = out / "merged";
  if (!fs::exists(merged / "config.json")) {
    LoadedModel lm = load_model(base);
    auto adapter = train::load_lora(*lm.model, out / "final");
    train::merge_lora(*lm.model, *adapter);
    const fs::path tmp = out / "merged.tmp";
    fs::remove_all(tmp);
    try {
      save_model_dir(lm, tmp, DType::F32);
    } catch (...) {
      std::error_code ec;
      fs::remove_all(tmp, ec);  // a full disk leaves no half directory behind
      throw;
    }
    fs::remove_all(merged);
    fs::rename(tmp, merged);
  }
  return merged.string();
}

}  // namespace

std::string stage_reference(const std::string& choice, const LoopConfig& c) {
  if (choice == "policy") return "";
  if (choice == "base") return c.base_model;
  return choice;
}

std::string stage_model(const RoundDir& rd, const std::string& stage, const LoraConfig& lora) {
  const fs::path out = rd / stage;
  if (!fs::exists(out / "final")) return "";
  return lora.rank == 0 ? (out / "final").string() : (out / "merged").string();
}

// Each training stage's options, from the config and the round (one place for the loop's own
// runs and the ranks of a launched stage).
train::SftRunOptions sft_options(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                                 bool progress) {
  train::SftRunOptions o;
  fill(o, c, model, rd / "sft_data.jsonl", rd / "sft", c.sft.lora, c.sft.lr, c.sft.epochs,
       c.sft.token_budget, c.sft.max_length, round_seed(c, rd.round()), progress);
  const auto& tc = c.sft.token_constraint;
  if (tc.enabled) {
    o.constrain = true;
    o.ref_model = stage_reference(c.sft.ref_model, c);
    o.constraint = tc;
  }
  return o;
}

train::DpoRunOptions dpo_options(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                                 bool progress) {
  train::DpoRunOptions o;
  fill(o, c, model, rd / "dpo_data.jsonl", rd / "dpo", c.dpo.lora, c.dpo.lr, c.dpo.epochs,
       c.dpo.token_budget, c.dpo.max_length, round_seed(c, rd.round()), progress);
  o.dpo.loss.type = train::parse_dpo_loss(c.dpo.loss);
  o.dpo.loss.beta = c.dpo.beta;
  o.dpo.loss.label_smoothing = c.dpo.label_smoothing;
  o.dpo.rpo_alpha = c.dpo.rpo_alpha;
  o.ref_model = stage_reference(c.dpo.reference, c);
  return o;
}

namespace {

train::RmRunOptions rm_options(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                               bool progress) {
  train::RmRunOptions o;
  fill(o, c, model, rm_data(c, rd), rd / "rm", LoraConfig{}, c.rl.rm.lr, c.rl.rm.epochs,
       c.rl.rm.token_budget, c.rl.rm.max_length, round_seed(c, rd.round()), progress);
  return o;
}

train::RlRunOptions rl_options(const LoopConfig& c, const std::string& model,
                               const std::string& reward_model, const RoundDir& rd, bool progress) {
  const fs::path out = rd / "rl";
  train::RlRunOptions o;
  o.model = model;
  o.reward_model = reward_model;
  o.prompts = (rd / "rl_prompts.jsonl").string();
  o.chat_template = data_template(c);
  auto& r = o.rl;
  r.out_dir = out.string();
  r.algorithm = train::parse_rl_algorithm(c.rl.algorithm);
  r.steps = c.rl.steps;
  r.prompts_per_rollout = c.rl.prompts_per_rollout;
  r.samples_per_prompt = c.rl.samples_per_prompt;
  r.max_new_tokens = c.rl.max_new_tokens;
  r.temperature = c.rl.temperature;
  r.kl_coef = c.rl.kl_coef;
  r.kl_target = c.rl.kl_target;
  r.reward_norm = train::parse_reward_norm(c.rl.reward_norm);
  r.lr = c.rl.lr;
  r.epochs = c.rl.epochs;
  r.seed = round_seed(c, rd.round());
  r.save_every = 5;  // a killed stage loses at most 5 rollouts
  r.progress = progress;
  r.resume = fs::exists(out / "checkpoint") && !fs::exists(out / "final");
  return o;
}

// The stage's trainer, here or through `launch`, unless its final/ is already there.
void run_trainer(const LoopConfig& c, const TrainingStage& st, const RoundDir& rd, bool progress,
                 const Launch& launch) {
  if (fs::exists(rd / st.stage / "final")) return;
  if (launch)
    launch(st);
  else
    run_stage_trainer(c, st, rd, progress);
}

}  // namespace

void run_stage_trainer(const LoopConfig& c, const TrainingStage& st, const RoundDir& rd,
                       bool progress) {
  if (st.stage == "sft")
    train::run_sft(sft_options(c, st.model, rd, progress));
  else if (st.stage == "dpo")
    train::run_dpo(dpo_options(c, st.model, rd, progress));
  else if (st.stage == "rm")
    train::run_rm(rm_options(c, st.model, rd, progress));
  else if (st.stage == "rl")
    train::run_rl(rl_options(c, st.model, st.reward_model, rd, progress));
  else
    throw_error("loop: no training stage '{}' (sft, dpo, rm, rl)", st.stage);
}

std::string train_sft(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                      bool progress, const Launch& launch) {
  run_trainer(c, {"sft", rd.round(), model, ""}, rd, progress, launch);
  return finish(model, rd / "sft", c.sft.lora);
}

std::string train_dpo(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                      bool progress, const Launch& launch) {
  run_trainer(c, {"dpo", rd.round(), model, ""}, rd, progress, launch);
  return finish(model, rd / "dpo", c.dpo.lora);
}

std::string train_rm(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                     bool progress, const Launch& launch) {
  run_trainer(c, {"rm", rd.round(), model, ""}, rd, progress, launch);
  return (rd / "rm" / "final").string();
}

std::string train_rl(const LoopConfig& c, const std::string& model, const std::string& reward_model,
                     const RoundDir& rd, bool progress, const Launch& launch) {
  run_trainer(c, {"rl", rd.round(), model, reward_model}, rd, progress, launch);
  return (rd / "rl" / "final").string();
}

}  // namespace cai::loop::detail
