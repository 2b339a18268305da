// The loop's configuration: one YAML file naming the base model, the constitution, the prompt
// sets, the number of rounds and every stage's settings. Each stage's block is the library's
// own options struct (Phase 1's pipeline::CritiqueReviseOptions, the trainers' TrainOptions,
// the RL options, the world evaluation's ...) with the loop's defaults, so a key means in the
// loop what the same option means on its command, and `cai loop --print-config` lists them all
// with their one-line docs in the code (include/cai/io/options.h). Keys the file leaves out
// keep their defaults; unknown keys are errors, and every error names the file, the line and
// the key ("loop.yaml:12: sft.lr: must be > 0, got -1").
//
//   name: demo
//   out: runs/demo                 # default runs/<name>
//   base_model: runs/base          # a local model; or api: {base_url, model, ...} (training
//                                  # still needs base_model)
//   world: runs/world              # optional: default prompts / constitution / corpus, oracle eval
//   constitution: FILE             # default <world>/constitution.yaml
//   prompts: {train: FILE, eval: FILE}   # default <world>/prompts/{train,eval}.jsonl
//   train_prompts_per_round: 0     # 0 = all; else a seeded sample per round
//   rounds: 3
//   seed: 0                        # every stage's seed derives from it (per round)
//   quality: {metric: winrate, split: eval, factor: 0.95, ensemble: -1, judge: ""}
//   critique_revise: {rounds: 3, principles: random, temperature: 0.7, max_tokens: 96, ...}
//   label: {ensemble: 0, samples: 0, min_confidence: 0.0, chain_of_thought: false,
//           judge: policy, ...}   # policy | base | a model path
//   sft: {enabled: true, lr: 1e-4, epochs: 2, corpus_mix: 0.0, init: previous, lora: {rank: 0},
//         token_constraint: {enabled: false, beta: 0.1, ...}, ref_model: policy}
//   dpo: {enabled: true, beta: 0.1, lr: 5e-5, epochs: 1, loss: sigmoid, rpo_alpha: 0.0,
//         reference: policy,     # policy | base | a model path
//         token_constraint: {enabled: false, beta: 0.1, ...}}
//   rl: {enabled: false, algorithm: rloo, steps: 30, kl_coef: 0.05, lr: 1e-5,
//        rm: {lr: 2e-5, epochs: 2, samples: 0, pairs: best-worst, temperature: 0.7}}
//   eval: {split: test, temperature: 0.7, sampled_temperature: -1, tasks: true, ...}
//   probe: {enabled: false, model: best, k: [5, 10, 20, 40], n: [10, 50, 100], ...}
//
// Relative paths are relative to the directory the loop runs in (like the CLI's flags);
// resolve() makes them absolute and fills the world's defaults.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cai/backend/factory.h"
#include "cai/eval/probe.h"
#include "cai/eval/world_eval.h"
#include "cai/io/options.h"
#include "cai/pipeline/critique_revise.h"
#include "cai/pipeline/judge_reward.h"
#include "cai/pipeline/label.h"
#include "cai/train/data.h"
#include "cai/train/lora_options.h"
#include "cai/train/loss_options.h"
#include "cai/train/rl_options.h"
#include "cai/train/token_constraint_options.h"
#include "cai/train/train_options.h"

namespace cai::loop {

struct PromptsConfig {
  std::string train;
  std::string eval;
  static void fields(opt::Fields<PromptsConfig>& f) {
    f("train", &PromptsConfig::train, "train prompts (default <world>/prompts/train.jsonl)");
    f("eval", &PromptsConfig::eval,
      "quality prompts without a world (default <world>/prompts/eval.jsonl)");
  }
};

// winrate: round K's responses against round K-1's, compared by a fixed judge (quality.judge,
// default the base model) with Phase 2's A/B prompt in both orders; round 0's quality is 0.5.
// judge: the base model's critiques rate responses against each applicable principle.
// oracle: the world's oracle.
enum class QualityMetric { winrate, judge, oracle };
constexpr std::array<opt::EnumName<QualityMetric>, 3> enum_names(QualityMetric) {
  return {{{QualityMetric::winrate, "winrate"},
           {QualityMetric::judge, "judge"},
           {QualityMetric::oracle, "oracle"}}};
}

struct QualityConfig {
  QualityMetric metric = QualityMetric::winrate;
  std::string split = "eval";
  double factor = 0.95;
  std::int64_t limit = 0;
  double temperature = 0.7;
  std::int64_t max_tokens = 96;
  std::int64_t ensemble = -1;
  std::string judge;
  static void fields(opt::Fields<QualityConfig>& f) {
    using O = QualityConfig;
    f("metric", &O::metric,
      "what scores a round: winrate (a fixed judge compares round K with K-1), judge (the base "
      "model's critiques) or oracle (the world's)");
    f("split", &O::split, "world prompt split scored (without a world: prompts.eval)",
      eval::world_split());
    f("factor", &O::factor,
      "stop when quality_K < factor * quality_{K-1}; winrate: when win_rate_K < factor * 0.5 "
      "(0: never)",
      opt::range(0, 1));
    f("limit", &O::limit, "prompts scored at most (0: all)", opt::min(0));
    f("temperature", &O::temperature, "responses are sampled (seeded) as the model behaves",
      opt::min(0));
    f("max_tokens", &O::max_tokens, "tokens per response", opt::min(1));
    f("ensemble", &O::ensemble,
      "winrate: principles per comparison (label.ensemble's meaning; -1: all, weighted)",
      opt::min(-1));
    f("judge", &O::judge, "winrate: a local model judging (\"\": the base model, or the api)");
  }
};

// previous: SFT continues the round's policy; base: every round's SFT starts again from the
// base model (expert iteration: later rounds' better data without the earlier fine-tunes' drift).
enum class SftInit { previous, base };
constexpr std::array<opt::EnumName<SftInit>, 2> enum_names(SftInit) {
  return {{{SftInit::previous, "previous"}, {SftInit::base, "base"}}};
}

// Where the loop's recovery rows come from. world: violating starts the world composes on its
// train prompts. phase1: the round's own Phase 1 records whose revision replaced the initial
// response (its first words, then the revision), so a loop without a world can deepen too.
enum class RecoverySource { world, phase1 };
constexpr std::array<opt::EnumName<RecoverySource>, 2> enum_names(RecoverySource) {
  return {{{RecoverySource::world, "world"}, {RecoverySource::phase1, "phase1"}}};
}

// Phase 2's labelling: the library's options, and who judges.
struct LabelConfig : pipeline::LabelOptions {
  // policy: the round's policy judges itself (self-improvement). base: the base model, fixed
  // over the rounds, so a policy's drift cannot reach its own labels; with an api, the api's
  // model, as for quality.judge's default. A path: that local model, fixed likewise.
  std::string judge = "policy";
  double temperature = 1.0;
  static void fields(opt::Fields<LabelConfig>& f) {
    f.base<pipeline::LabelOptions>();
    f("judge", &LabelConfig::judge,
      "who labels Phase 2's pairs and rl.rm.samples' pairs: policy, base or a model path");
    f("temperature", &LabelConfig::temperature,
      "with samples: the temperature the round's policy samples its k responses at", opt::above(0));
  }
};

// The trainer's options with a stage's own defaults (its learning rate and epochs); a killed
// stage loses at most save_every steps.
train::TrainOptions stage_training(double lr, std::int64_t epochs);

// The token-wise constrained objective (Qi et al. 2024; `cai train sft|dpo --token-constraint`,
// see include/cai/train/token_constraint.h): each target token is held near a reference, most
// strongly on a response's first tokens, where a shallow alignment lives. SFT's targets are
// held near sft.ref_model; DPO's constrained RPO term holds the chosen responses' tokens near
// dpo.reference (it needs dpo.rpo_alpha > 0). The settings and their defaults are the train
// library's.
struct TokenConstraintConfig : train::TokenConstraintOptions {
  bool enabled = false;
  static void fields(opt::Fields<TokenConstraintConfig>& f) {
    f("enabled", &TokenConstraintConfig::enabled,
      "the token-wise constrained objective (SFT: towards sft.ref_model; DPO: its RPO term, "
      "towards dpo.reference)");
    f.base<train::TokenConstraintOptions>();
  }
};

struct SftConfig {
  bool enabled = true;
  SftInit init = SftInit::previous;
  bool only_preferred_revisions = false;
  double corpus_mix = 0.0;
  std::string corpus;
  std::int64_t recovery_examples = 0;
  RecoverySource recovery_from = RecoverySource::world;
  std::string chat_template;
  train::TrainOptions train = stage_training(1e-4, 2);
  train::DataOptions data;
  train::LoraOptions lora;
  TokenConstraintConfig token_constraint;
  // The constraint's reference. policy: the weights SFT starts from (the round's policy; the
  // base model with init: base). base: the base model. A path: that model (same tokenizer).
  std::string ref_model = "policy";
  static void fields(opt::Fields<SftConfig>& f);
};

struct DpoConfig {
  bool enabled = true;
  train::TrainOptions train = stage_training(5e-5, 1);
  train::DataOptions data;
  train::DpoOptions dpo;  // its token_constraint and constraint come from token_constraint
  TokenConstraintConfig token_constraint;
  train::LoraOptions lora;
  // The model DPO's log-ratios are taken against. policy: the model DPO starts from (each
  // round's DPO is anchored anew). base: the base model, fixed over the rounds, as iterative
  // and online DPO anchor every round to one reference (OpenRLHF's iterative DPO, TRL's
  // OnlineDPOTrainer), so the policy's distance from it cannot grow unpenalised round after
  // round. A path: that model (same tokenizer).
  std::string reference = "policy";
  static void fields(opt::Fields<DpoConfig>& f);
};

// Deeper alignment after the round's alignment (Qi et al. 2024, Sections 3-4): SFT of the
// round's aligned model on recovery rows (a violating start given in the prompt, then a return
// to a compliant answer; include/cai/eval/probe_data.h, include/cai/pipeline/recovery.h) and the
// round's own SFT data, with each target token held near that aligned model, most strongly on a
// response's first tokens. Its model becomes the round's. Recovery rows belong here rather than
// in sft.recovery_examples: round 1's SFT starts from the base model, which the rows teach to
// break off answers it has not yet learnt to give.
struct DeepenConfig {
  bool enabled = false;
  std::int64_t examples = 600;
  RecoverySource from = RecoverySource::world;
  bool sft_data = true;
  train::TrainOptions train = stage_training(1e-4, 5);
  train::DataOptions data;
  train::LoraOptions lora;
  // On by default: the constraint is what keeps the deepened model's plain answers its own.
  TokenConstraintConfig token_constraint = constrained();
  static void fields(opt::Fields<DeepenConfig>& f);
  static TokenConstraintConfig constrained();
};

// A reward model on the round's AI-labelled pairs (Bradley-Terry, `cai train rm`), initialised
// from the policy the RL stage starts from.
struct RmConfig {
  train::TrainOptions train = stage_training(2e-5, 2);
  train::DataOptions data;
  train::RmLossOptions loss;
  // 0: the round's Phase 1 pairs as Phase 2 labelled them. k >= 2: k responses per train
  // prompt sampled from the model RL starts from and judged by it (Phase 2's ensemble), so the
  // reward model learns to rank what the policy writes (on-policy AI feedback, as in RLAIF).
  std::int64_t samples = 0;
  pipeline::PairSelection pairs = pipeline::PairSelection::best_worst;
  double temperature = 0.7;
  // A seeded share of the pairs held out of training; the reward model's pairwise accuracy on
  // them decides whether RL runs.
  double eval_fraction = 0.2;
  // RL runs only when the lower end of that accuracy's 95% (Wilson) interval is above this:
  // a reward model at chance scores responses by noise, and RLOO's whitened advantages turn
  // even scores 0.005 apart into full-size updates in whatever direction the noise points.
  // The check cannot see a reward model that learnt its judge's slant. 0: RL always runs.
  double min_accuracy = 0.5;
  static void fields(opt::Fields<RmConfig>& f);
};

enum class RlReward { model, judge };
constexpr std::array<opt::EnumName<RlReward>, 2> enum_names(RlReward) {
  return {{{RlReward::model, "model"}, {RlReward::judge, "judge"}}};
}

// RL with a per-token KL penalty to the policy it starts from (`cai train rl`), against that
// reward model or the constitution judge: after DPO, or instead of it with dpo.enabled false.
struct RlConfig {
  bool enabled = false;
  train::RlOptions rl = stage_rl();
  // model: a reward model trained on the round's pairs (rm below). judge: the constitution
  // judge's p(follows) is the reward itself (d-RLAIF, pipeline/judge_reward.h): no reward model
  // and no rm stages; the judge answers in Phase 1's format.
  RlReward reward = RlReward::model;
  // With reward judge: policy (a fixed copy of the model RL starts from), base, or a model
  // path; with an api, base is the api's model.
  std::string judge = "policy";
  // Its principles per response and scores; the format is Phase 1's, the draws the round's.
  pipeline::JudgeRewardOptions judge_reward;
  RmConfig rm;
  static void fields(opt::Fields<RlConfig>& f);
  static train::RlOptions stage_rl();
};

struct EvalConfig {
  eval::WorldEvalOptions world = stage_eval();
  // >= 0: the oracle also scores responses sampled at this temperature (compliance_sampled);
  // a greedy headline then comes with the sampled policy's figures.
  double sampled_temperature = -1;
  // A prompt file (world/heldout.h) answered beside the split, greedy and sampled as the split
  // is: prompts no template wrote, such as examples/world/handwritten.jsonl.
  std::string heldout;
  std::vector<std::string> tasks_files;  // eval task YAML files (without a world)
  static void fields(opt::Fields<EvalConfig>& f);
  static eval::WorldEvalOptions stage_eval();
};

enum class ProbeModel { best, last };
constexpr std::array<opt::EnumName<ProbeModel>, 2> enum_names(ProbeModel) {
  return {{{ProbeModel::best, "best"}, {ProbeModel::last, "last"}}};
}

// How deep the best round's alignment goes (`cai probe`), written to <out>/probe/probe.json
// after the last round for the report; responses are sampled as the round evaluation samples
// them. When that round deepened its model, the model before deepening is probed alike into
// <out>/probe/before-deepen/probe.json. Needs a world.
struct ProbeConfig {
  bool enabled = false;
  ProbeModel model = ProbeModel::best;
  eval::ProbeOptions probe;
  static void fields(opt::Fields<ProbeConfig>& f);
};

struct LoopConfig {
  std::string name;
  std::string out;
  std::string base_model;
  HttpBackendOptions api;
  std::string world;
  std::string constitution;
  PromptsConfig prompts;
  std::int64_t train_prompts_per_round = 0;
  std::int64_t rounds = 3;
  std::uint64_t seed = 0;
  QualityConfig quality;
  pipeline::CritiqueReviseOptions critique_revise = stage_critique_revise();
  LabelConfig label;
  SftConfig sft;
  DpoConfig dpo;
  RlConfig rl;
  DeepenConfig deepen;
  EvalConfig eval;
  ProbeConfig probe;

  opt::Source source;  // the file and the line of each key read (for messages)

  static void fields(opt::Fields<LoopConfig>& f);
  void rules(opt::Rules& r) const;  // what needs what, and that the input files exist
  static pipeline::CritiqueReviseOptions stage_critique_revise();

  // Fills defaults that depend on other fields (out, the world's files) and makes paths
  // absolute against `cwd`.
  void resolve(const std::filesystem::path& cwd = std::filesystem::current_path());
  // Throws cai::Error naming the key (and its line when read from a file).
  void validate() const { opt::validate(*this, "", &source); }
  nlohmann::json to_json() const { return opt::to_json(*this); }  // manifest, --print-config
  std::string to_yaml() const { return opt::to_yaml(to_json()); }
  bool trains() const {
    return rounds > 0 && (sft.enabled || dpo.enabled || rl.enabled || deepen.enabled);
  }
};

// Parses the YAML text (`source` names it in errors). Unknown keys, wrong types and keys given
// twice are errors naming the line and the dotted key.
LoopConfig parse_loop_config(const std::string& text, const std::string& source);
LoopConfig load_loop_config(const std::filesystem::path& path);

}  // namespace cai::loop
