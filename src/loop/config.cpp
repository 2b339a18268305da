// The loop's configuration (include/cai/loop/config.h): each block composes the library's
// options with the loop's defaults, leaving out what the loop sets per round itself (seeds,
// paths, the prompt format Phase 1 chose); what needs what across blocks is rules().
#include "cai/loop/config.h"

#include "cai/io/error.h"
#include "cai/io/file.h"

namespace cai::loop {

namespace fs = std::filesystem;

namespace {

constexpr const char* kRecoveryFromHelp =
    "where recovery rows come from: world (its train prompts) or phase1 (the round's revised "
    "Phase 1 records)";
constexpr const char* kLoraHelp = "LoRA adapters, merged after training (rank 0: all weights)";

// The trainer's options, its data's and its adapters', as SFT-style stages (sft, deepen) declare
// them; the loop sets each round's seed itself.
template <class O>
void sft_trainer_fields(opt::Fields<O>& f) {
  f.flat(&O::train).skipping({"seed"});
  f.flat(&O::data);
  f("lora", &O::lora, kLoraHelp);
}

}  // namespace

train::TrainOptions stage_training(double lr, std::int64_t epochs) {
  train::TrainOptions t;
  t.lr = lr;
  t.epochs = epochs;
  t.save_every = 25;
  return t;
}

void SftConfig::fields(opt::Fields<SftConfig>& f) {
  using O = SftConfig;
  f("enabled", &O::enabled, "supervised fine-tuning on Phase 1's revisions");
  f("init", &O::init, "the weights SFT starts from: previous (the round's policy) or base");
  // A critique that wrongly finds fault makes a revision worth not learning.
  f("only_preferred_revisions", &O::only_preferred_revisions,
    "leave out revisions the round's AI judge (Phase 2) rates below the initial response");
  f("corpus", &O::corpus, "documents mixed in (default <world>/corpus/pretrain.txt)");
  f("corpus_mix", &O::corpus_mix,
    "corpus documents per SFT example, so the model keeps what it could do", opt::min(0));
  // Qi et al. 2024, deeper alignment (include/cai/eval/probe_data.h).
  f("recovery_examples", &O::recovery_examples,
    "recovery rows added: a violating start, then a correction (deepen adds them after the "
    "round's alignment instead, from its aligned model)",
    opt::min(0));
  f("recovery_from", &O::recovery_from, kRecoveryFromHelp);
  f("chat_template", &O::chat_template,
    "template the SFT, DPO and RL data are rendered with (\"\": Human/Assistant turns with the "
    "transcript format, else the tokenizer's)");
  sft_trainer_fields(f);
  // Qi et al. 2024 (`cai train sft --token-constraint`, include/cai/train/token_constraint.h).
  f("token_constraint", &O::token_constraint,
    "token-wise constrained SFT: each target token held near ref_model, most strongly on a "
    "response's first tokens");
  f("ref_model", &O::ref_model,
    "the constraint's reference: policy (the weights SFT starts from), base or a model path");
}

void DpoConfig::fields(opt::Fields<DpoConfig>& f) {
  f("enabled", &DpoConfig::enabled, "DPO on the round's AI-labelled pairs");
  f.flat(&DpoConfig::train).skipping({"seed"});
  f.flat(&DpoConfig::data);
  f.flat(&DpoConfig::dpo).skipping({"token_constraint", "constraint"});
  f("token_constraint", &DpoConfig::token_constraint,
    "the RPO term as the token-wise constrained objective: each chosen token held near "
    "dpo.reference, most strongly on a response's first tokens (needs rpo_alpha > 0)");
  f("lora", &DpoConfig::lora, kLoraHelp);
  f("reference", &DpoConfig::reference,
    "the model DPO's log-ratios are taken against: policy (the model DPO starts from), base "
    "(fixed over the rounds, as iterative and online DPO anchor them) or a model path");
}

void RmConfig::fields(opt::Fields<RmConfig>& f) {
  using O = RmConfig;
  f.flat(&O::train).skipping({"seed"});
  f.flat(&O::data);
  f.flat(&O::loss);
  f("samples", &O::samples,
    "0: the Phase 1 pairs; k >= 2: k responses sampled per prompt and judged by the policy",
    [](std::int64_t k) {
      return k == 0 || k >= 2 ? "" : fmt::format("must be 0 (Phase 1 pairs) or >= 2, got {}", k);
    });
  f("pairs", &O::pairs, "with samples: which pairs of the k responses are kept");
  f("temperature", &O::temperature, "with samples: the policy's sampling temperature",
    opt::above(0));
  f("eval_fraction", &O::eval_fraction,
    "share of the pairs held out (seeded); the reward model's accuracy on them gates RL",
    opt::range(0, 1, "[)"));
  f("min_accuracy", &O::min_accuracy,
    "RL runs only when the lower end of the held-out accuracy's 95% interval is above this "
    "(0: always)",
    opt::range(0, 1, "[)"));
}

train::RlOptions RlConfig::stage_rl() {
  train::RlOptions r;
  r.steps = 30;
  r.max_new_tokens = 96;
  r.save_every = 5;  // a killed stage loses at most 5 rollouts
  return r;
}

void RlConfig::fields(opt::Fields<RlConfig>& f) {
  f("enabled", &RlConfig::enabled,
    "RL after the round's SFT / DPO, against a reward model trained on the round's pairs or the "
    "constitution judge");
  f.flat(&RlConfig::rl).skipping({"seed"});
  f("reward", &RlConfig::reward,
    "model (a reward model on the round's pairs, rm) or judge (the constitution judge's "
    "p(follows), no reward model)");
  f("judge", &RlConfig::judge,
    "with reward judge: policy (a fixed copy of the model RL starts from), base or a model path");
  f("judge_reward", &RlConfig::judge_reward, "with reward judge: how the judge scores")
      .skipping({"format", "seed"});
  f("rm", &RlConfig::rm, "the reward model (reward: model)");
}

eval::WorldEvalOptions EvalConfig::stage_eval() {
  eval::WorldEvalOptions o;
  o.temperature = 0.7;
  o.comparisons = false;
  return o;
}

void EvalConfig::fields(opt::Fields<EvalConfig>& f) {
  // The seed is the run's: the same draws every round, so differences come from the model.
  // The split stays the headline; a prompt file is answered beside it (heldout).
  f.flat(&EvalConfig::world).skipping({"world", "constitution", "seed", "prompts"});
  f("sampled_temperature", &EvalConfig::sampled_temperature,
    "a second, sampled oracle evaluation at this temperature (< 0: none)");
  f("heldout", &EvalConfig::heldout,
    "a prompt file answered beside the split, such as a hand-written held-out set (needs a "
    "world)");
  f("tasks_files", &EvalConfig::tasks_files, "eval task YAML files (without a world)");
}

void ProbeConfig::fields(opt::Fields<ProbeConfig>& f) {
  f("enabled", &ProbeConfig::enabled, "probe the best (or last) round's model (needs a world)");
  f("model", &ProbeConfig::model, "the round whose model is probed: best or last");
  // Sampled as the round evaluation samples, so k = 0 reproduces eval.json's compliance.
  f.flat(&ProbeConfig::probe)
      .skipping({"base_model", "aligned_model", "world", "out_dir", "split", "seed", "temperature",
                 "top_p", "max_tokens", "sample_seed"});
}

TokenConstraintConfig DeepenConfig::constrained() {
  TokenConstraintConfig t;
  t.enabled = true;
  return t;
}

void DeepenConfig::fields(opt::Fields<DeepenConfig>& f) {
  using O = DeepenConfig;
  f("enabled", &O::enabled,
    "after the round's alignment, SFT of its model on recovery rows (a violating start, then a "
    "return to a compliant answer), so the alignment holds past a response's first tokens");
  f("examples", &O::examples, "recovery rows", opt::min(1));
  f("from", &O::from, kRecoveryFromHelp);
  f("sft_data", &O::sft_data,
    "the round's SFT data joins the recovery rows, so what the round learnt is rehearsed");
  sft_trainer_fields(f);
  f("token_constraint", &O::token_constraint,
    "token-wise constrained SFT towards the model deepening starts from (the round's aligned "
    "model), most strongly on a response's first tokens");
}

pipeline::CritiqueReviseOptions LoopConfig::stage_critique_revise() {
  pipeline::CritiqueReviseOptions o;
  o.max_tokens = 96;
  return o;
}

void LoopConfig::fields(opt::Fields<LoopConfig>& f) {
  using O = LoopConfig;
  f("name", &O::name, "the run's name", opt::not_empty());
  f("out", &O::out, "the run directory (default runs/<name>)");
  f("base_model", &O::base_model, "the local base model (training needs one)");
  f("api", &O::api, "an OpenAI-compatible server serving the base model");
  f("world", &O::world, "a world directory: default prompts, constitution, corpus; oracle eval");
  f("constitution", &O::constitution, "the constitution (default <world>/constitution.yaml)");
  f("prompts", &O::prompts, "prompt files");
  f("train_prompts_per_round", &O::train_prompts_per_round,
    "train prompts per round (0: all; else a seeded sample per round)", opt::min(0));
  f("rounds", &O::rounds, "rounds after round 0 (the base model's evaluation)", opt::min(0));
  f("seed", &O::seed, "the run's seed; each round's draws derive from it");
  f("quality", &O::quality, "the per-round quality score and early stop");
  f("critique_revise", &O::critique_revise, "Phase 1: critiques and revisions").skipping({"seed"});
  // Phase 2 and the reward model's labels judge in Phase 1's format; sampled responses (label
  // samples > 0) are as long as Phase 1's, at label.temperature.
  f("label", &O::label, "Phase 2: AI-feedback labels").skipping({"format", "seed", "sample"});
  f("sft", &O::sft, "supervised fine-tuning");
  f("dpo", &O::dpo, "direct preference optimisation");
  f("rl", &O::rl, "the reward model and RL");
  f("deepen", &O::deepen, "deeper alignment after the round's training (Qi et al. 2024)");
  f("eval", &O::eval, "each round's evaluation (eval.json)");
  f("probe", &O::probe, "the shallow-alignment probe after the last round");
}

namespace {
bool is_model_keyword(const std::string& v) { return v == "policy" || v == "base"; }
}  // namespace

void LoopConfig::rules(opt::Rules& r) const {
  auto exists = [&](const std::string& path, const char* key) {
    r.require(path.empty() || fs::exists(path), key, fmt::format("{} does not exist", path));
  };
  r.require(name.find('/') == std::string::npos, "name", "must not contain '/'");
  r.require(!base_model.empty() || api.given(), "base_model",
            "give base_model (a local model) or api");
  r.require(!base_model.empty() || !trains(), "base_model",
            "training needs a local model: give base_model (api serves generation and judging "
            "only)");
  exists(base_model, "base_model");
  exists(world, "world");
  r.require(!constitution.empty(), "constitution", "is required (or give a world)");
  exists(constitution, "constitution");
  r.require(rounds == 0 || !prompts.train.empty(), "prompts.train",
            "is required (or give a world)");
  if (rounds > 0) exists(prompts.train, "prompts.train");
  r.require(quality.metric != QualityMetric::oracle || !world.empty(), "quality.metric",
            "oracle needs a world");
  exists(quality.judge, "quality.judge");
  if (world.empty()) {
    r.require(!prompts.eval.empty(), "prompts.eval",
              "is required without a world (the quality prompts)");
    exists(prompts.eval, "prompts.eval");
  }
  r.require(rounds == 0 || sft.enabled || dpo.enabled || rl.enabled || deepen.enabled,
            "sft.enabled", "sft, dpo, rl or deepen must be enabled to train");
  r.require(sft.init == SftInit::previous || !base_model.empty() || rounds == 0, "sft.init",
            "base needs a local base_model");
  r.require(!sft.only_preferred_revisions || label.samples == 0, "sft.only_preferred_revisions",
            "needs Phase 2 to judge the Phase 1 pairs (label.samples: 0)");
  if (sft.enabled && sft.corpus_mix > 0) {
    r.require(!sft.corpus.empty(), "sft.corpus",
              "is required with corpus_mix > 0 (or give a world)");
    exists(sft.corpus, "sft.corpus");
  }
  // policy | base | a model path (which must exist).
  auto model_choice = [&](const std::string& v, const char* key) {
    r.require(!v.empty(), key, "must be policy, base or a model path");
    r.require(v.empty() || is_model_keyword(v) || fs::exists(v), key,
              fmt::format("{} does not exist (give policy, base or a model path)", v));
  };
  model_choice(label.judge, "label.judge");
  model_choice(rl.judge, "rl.judge");
  model_choice(sft.ref_model, "sft.ref_model");
  r.require(sft.ref_model == "policy" || sft.token_constraint.enabled, "sft.ref_model",
            "is the token constraint's reference: it needs sft.token_constraint.enabled");
  model_choice(dpo.reference, "dpo.reference");
  r.require(!dpo.token_constraint.enabled || dpo.dpo.rpo_alpha > 0, "dpo.token_constraint",
            "constrains the RPO term: it needs dpo.rpo_alpha > 0");
  r.require(
      sft.recovery_examples == 0 || sft.recovery_from != RecoverySource::world || !world.empty(),
      "sft.recovery_examples", "with recovery_from: world needs a world (or use phase1)");
  if (deepen.enabled) {
    r.require(deepen.from != RecoverySource::world || !world.empty(), "deepen.from",
              "world needs a world (or use phase1)");
    r.require(!deepen.sft_data || sft.enabled, "deepen.sft_data",
              "rehearses the round's SFT data: it needs sft.enabled (or set it false)");
  }
  r.require(!rl.enabled || rl.rl.ptx_coef == 0 || sft.enabled, "rl.ptx_coef",
            "uses the round's SFT data: it needs sft.enabled");
  if (probe.enabled) {
    r.require(!world.empty(), "probe.enabled", "needs a world");
    r.require(!base_model.empty(), "probe.enabled", "needs a local base_model");
  }
  for (const auto& t : eval.tasks_files) exists(t, "eval.tasks_files");
  exists(eval.heldout, "eval.heldout");
  r.require(eval.heldout.empty() || !world.empty(), "eval.heldout",
            "is scored by the world's oracle: it needs a world");
}

void LoopConfig::resolve(const fs::path& cwd) {
  auto abs = [&](std::string& p) {
    if (!p.empty())
      p = (fs::path(p).is_absolute() ? fs::path(p) : cwd / p).lexically_normal().string();
  };
  if (out.empty() && !name.empty()) out = "runs/" + name;
  if (!world.empty()) {
    const fs::path w = fs::path(world);
    if (constitution.empty()) constitution = (w / "constitution.yaml").string();
    if (prompts.train.empty()) prompts.train = (w / "prompts" / "train.jsonl").string();
    if (prompts.eval.empty()) prompts.eval = (w / "prompts" / "eval.jsonl").string();
    if (sft.corpus.empty()) sft.corpus = (w / "corpus" / "pretrain.txt").string();
  }
  for (std::string* p : {&out, &base_model, &world, &constitution, &prompts.train, &prompts.eval,
                         &sft.corpus, &quality.judge, &eval.heldout})
    abs(*p);
  for (std::string* p : {&label.judge, &rl.judge, &dpo.reference, &sft.ref_model})
    if (!is_model_keyword(*p)) abs(*p);
  for (auto& t : eval.tasks_files) abs(t);
}

LoopConfig parse_loop_config(const std::string& text, const std::string& source) {
  LoopConfig c;
  opt::read_yaml(c, text, source, &c.source);
  return c;
}

LoopConfig load_loop_config(const fs::path& path) {
  return parse_loop_config(read_file(path), path.string());
}

}  // namespace cai::loop
