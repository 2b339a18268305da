// The loop's training stages (see internal.h): each stage's options from the config and the
// round, run in this process or launched as data-parallel ranks, and LoRA adapters merged for
// the next stage.
#include <fmt/format.h>

#include <filesystem>
#include <optional>

#include "cai/backend/factory.h"
#include "cai/generate/sampling.h"
#include "cai/io/dir.h"
#include "cai/io/error.h"
#include "cai/io/json.h"
#include "cai/io/jsonl.h"
#include "cai/model/loader.h"
#include "cai/pipeline/judge_reward.h"
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
  return c.critique_revise.format == pipeline::PromptFormat::transcript ? "human-assistant" : "";
}

// A stage's run options: its configured training, data and LoRA options, and what the loop
// decides per round (the model it starts from, the data, the directory, the seed).
void fill(train::RunOptions& o, const LoopConfig& c, const std::string& model, const fs::path& data,
          const fs::path& out, const train::TrainOptions& t, const train::DataOptions& d,
          const train::LoraOptions& lora, std::uint64_t seed, bool progress) {
  o.model = model;
  o.data = data.string();
  o.chat_template = data_template(c);
  o.data_opts = d;
  o.lora = lora;
  o.train = t;
  o.train.out_dir = out.string();
  o.train.seed = seed;
  o.train.progress = progress;
  // A checkpoint without final/ is a killed run: continue it exactly.
  o.train.resume = fs::exists(out / "checkpoint") && !fs::exists(out / "final");
}

// With LoRA, final/ holds the adapter: the next stage needs a whole model, merged once.
std::string finish(const std::string& base, const fs::path& out, const train::LoraOptions& lora) {
  if (lora.rank == 0) return (out / "final").string();
  const fs::path merged = out / "merged";
  if (!fs::exists(merged / "config.json")) {
    LoadedModel lm = load_model(base);
    auto adapter = train::load_lora(*lm.model, out / "final");
    train::merge_lora(*lm.model, *adapter);
    // Whole or not at all: a full disk leaves no half directory behind.
    write_dir_atomic(merged, [&](const fs::path& tmp) { save_model_dir(lm, tmp, DType::F32); });
  }
  return merged.string();
}

}  // namespace

std::string stage_reference(const std::string& choice, const LoopConfig& c) {
  if (choice == "policy") return "";
  if (choice == "base") return c.base_model;
  return choice;
}

fs::path stage_model(const RoundDir& rd, const std::string& stage, const train::LoraOptions& lora) {
  return rd / stage / (lora.rank == 0 ? "final" : "merged");
}

// Each training stage's options, from the config and the round (one place for the loop's own
// runs and the ranks of a launched stage).
train::SftRunOptions sft_options(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                                 bool progress) {
  train::SftRunOptions o;
  fill(o, c, model, rd / "sft_data.jsonl", rd / "sft", c.sft.train, c.sft.data, c.sft.lora,
       round_seed(c, rd.round()), progress);
  const auto& tc = c.sft.token_constraint;
  if (tc.enabled) {
    o.token_constraint = true;
    o.ref_model = stage_reference(c.sft.ref_model, c);
    o.constraint = tc;
  }
  return o;
}

// Deepening holds each target token near the model it starts from: the round's aligned model.
train::SftRunOptions deepen_options(const LoopConfig& c, const std::string& model,
                                    const RoundDir& rd, bool progress) {
  train::SftRunOptions o;
  const auto& d = c.deepen;
  fill(o, c, model, rd / "deepen_data.jsonl", rd / "deepen", d.train, d.data, d.lora,
       round_seed(c, rd.round()), progress);
  if (d.token_constraint.enabled) {
    o.token_constraint = true;
    o.constraint = d.token_constraint;
  }
  return o;
}

// Qi et al. 2024 constrain fine-tuning towards a model that is already aligned: its first
// tokens are where that alignment lives. Towards the base model the constraint holds them where
// the alignment has to move them (round 1's SFT or DPO with a `policy` reference starts from
// the base model), and the stage then barely changes how a response opens.
std::string constraint_warning(const LoopConfig& c, const std::string& stage,
                               const std::string& model) {
  if (stage == "deepen") {
    if (!c.deepen.token_constraint.enabled || model != c.base_model) return "";
    return "deepen.token_constraint holds the first response tokens at the base model's (the "
           "round trained nothing before deepening), where the alignment has to move them; "
           "enable sft, dpo or rl before it";
  }
  const bool sft = stage == "sft";
  if (!(sft ? c.sft.token_constraint.enabled : stage == "dpo" && c.dpo.token_constraint.enabled))
    return "";
  const std::string key = sft ? "sft.ref_model" : "dpo.reference";
  const std::string ref = stage_reference(sft ? c.sft.ref_model : c.dpo.reference, c);
  if ((ref.empty() ? model : ref) != c.base_model) return "";
  return fmt::format(
      "{}.token_constraint holds the first response tokens at the base model's ({} resolves to "
      "the base model), where the alignment has to move them; constrain towards an aligned "
      "model ({}: PATH, or policy in rounds whose {} starts from an aligned model)",
      stage, key, key, sft ? "SFT" : "DPO");
}

train::DpoRunOptions dpo_options(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                                 bool progress) {
  train::DpoRunOptions o;
  fill(o, c, model, rd / "dpo_data.jsonl", rd / "dpo", c.dpo.train, c.dpo.data, c.dpo.lora,
       round_seed(c, rd.round()), progress);
  o.dpo = c.dpo.dpo;
  o.dpo.token_constraint = c.dpo.token_constraint.enabled;
  o.dpo.constraint = c.dpo.token_constraint;
  o.ref_model = stage_reference(c.dpo.reference, c);
  return o;
}

namespace {

train::RmRunOptions rm_options(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                               bool progress) {
  train::RmRunOptions o;
  fill(o, c, model, rm_data(c, rd), rd / "rm", c.rl.rm.train, c.rl.rm.data, {},
       round_seed(c, rd.round()), progress);
  o.rm = c.rl.rm.loss;
  o.eval_fraction = c.rl.rm.eval_fraction;
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
  r = c.rl.rl;
  r.out_dir = out.string();
  r.seed = round_seed(c, rd.round());
  r.progress = progress;
  r.resume = fs::exists(out / "checkpoint") && !fs::exists(out / "final");
  // PPO-ptx keeps the round's SFT data in view: its rows are what the policy should not forget.
  if (r.ptx_coef > 0) o.ptx_data = (rd / "sft_data.jsonl").string();
  return o;
}

// The constitution judge's reward for round rd's RL: Phase 1's format, the round's draws.
train::Reward rl_judge_reward(const LoopConfig& c, Backend& judge, const Constitution& constitution,
                              const RoundDir& rd) {
  pipeline::JudgeRewardOptions o = c.rl.judge_reward;
  o.format = c.critique_revise.format;
  o.seed = splitmix64(round_seed(c, rd.round()) ^ 0x726c);  // "rl"
  o.validate();
  return pipeline::judge_reward(judge, constitution, o);
}

// The stage's trainer, here or through `launch`, unless its final/ is already there.
void run_trainer(const LoopConfig& c, const TrainingStage& st, const RoundDir& rd, bool progress,
                 const Launch& launch, const RlJudge& judge = {}) {
  if (fs::exists(rd / st.stage / "final")) return;
  if (const auto w = constraint_warning(c, st.stage, st.model); !w.empty())
    log_warning("round {}: {}", rd.round(), w);
  if (launch)
    launch(st);
  else
    run_stage_trainer(c, st, rd, progress, 0, judge);
}

}  // namespace

BackendOptions rl_judge_backend(const LoopConfig& c, const std::string& model) {
  BackendOptions o;
  if (c.rl.judge == "policy")
    o.model = model;
  else if (c.rl.judge != "base")
    o.model = c.rl.judge;
  else if (c.api.given())
    o.http = c.api;
  else
    o.model = c.base_model;
  return o;
}

void run_stage_trainer(const LoopConfig& c, const TrainingStage& st, const RoundDir& rd,
                       bool progress, int threads, const RlJudge& judge) {
  if (st.stage == "rl" && c.rl.reward == RlReward::judge) {
    std::unique_ptr<Backend> own;
    std::optional<Constitution> loaded;
    RlJudge j = judge;
    if (!j.backend) {
      BackendOptions b = rl_judge_backend(c, st.model);
      b.local.threads = threads;  // else a local judge sets the process's threads to every core
      own = make_backend(b);
      j.backend = own.get();
    }
    if (!j.constitution) j.constitution = &loaded.emplace(load_constitution(c.constitution));
    const train::Reward reward = rl_judge_reward(c, *j.backend, *j.constitution, rd);
    train::run_rl(rl_options(c, st.model, "", rd, progress), &reward);
    return;
  }
  if (st.stage == "sft")
    train::run_sft(sft_options(c, st.model, rd, progress));
  else if (st.stage == "dpo")
    train::run_dpo(dpo_options(c, st.model, rd, progress));
  else if (st.stage == "deepen")
    train::run_sft(deepen_options(c, st.model, rd, progress));
  else if (st.stage == "rm")
    train::run_rm(rm_options(c, st.model, rd, progress));
  else if (st.stage == "rl")
    train::run_rl(rl_options(c, st.model, st.reward_model, rd, progress));
  else
    throw_error("loop: no training stage '{}' (sft, dpo, rm, rl, deepen)", st.stage);
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

std::string train_deepen(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                         bool progress, const Launch& launch) {
  run_trainer(c, {"deepen", rd.round(), model, ""}, rd, progress, launch);
  return finish(model, rd / "deepen", c.deepen.lora);
}

std::string train_rm(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                     bool progress, const Launch& launch) {
  run_trainer(c, {"rm", rd.round(), model, ""}, rd, progress, launch);
  return (rd / "rm" / "final").string();
}

RmGate rm_gate(const LoopConfig& c, const RoundDir& rd) {
  RmGate g;
  const fs::path metrics = rd / "rm" / "metrics.jsonl";
  if (!fs::exists(metrics)) return g;
  nlohmann::json last;
  for_each_jsonl(metrics, [&](const nlohmann::json& j, std::size_t) {
    if (j.is_object() && j.value("split", std::string()) == "eval") last = j;
  });
  if (last.is_null() || !last.contains("accuracy") || !last.contains("examples")) return g;
  const std::string where = metrics.string() + ": the last eval line";
  g.measured = true;
  g.accuracy = json_field::number(last, "accuracy", where);
  g.pairs = static_cast<std::int64_t>(json_field::number(last, "examples", where));
  g.ci95 = wilson_interval_rate(g.accuracy, g.pairs);
  g.pass = c.rl.rm.min_accuracy <= 0 || g.ci95.lo > c.rl.rm.min_accuracy;
  return g;
}

std::string RmGate::describe() const {
  return fmt::format("accuracy {:.3f} [{:.3f}, {:.3f}] on {} held-out pairs", accuracy, ci95.lo,
                     ci95.hi, pairs);
}

std::string train_rl(const LoopConfig& c, const std::string& model, const std::string& reward_model,
                     const RoundDir& rd, bool progress, const Launch& launch,
                     const RlJudge& judge) {
  run_trainer(c, {"rl", rd.round(), model, reward_model}, rd, progress, launch, judge);
  return (rd / "rl" / "final").string();
}

}  // namespace cai::loop::detail
