// The loop's configuration: one YAML file naming the base model, the constitution, the prompt
// sets, the number of rounds and every stage's settings. Defaults live in these structs (the
// parser only overrides what the file gives); unknown keys are errors, and every error names
// the file, the line and the field ("loop.yaml:12: sft.lr: must be > 0").
//
//   name: demo
//   out: runs/demo                 # default runs/<name>
//   base_model: runs/base          # a local model; or api: {base_url, model, api_key_env,
//                                  # concurrency, top_logprobs, timeout_s, max_retries}
//                                  # (training still needs base_model)
//   world: runs/world              # optional: default prompts / constitution / corpus, oracle eval
//   constitution: FILE             # default world/constitution.yaml
//   prompts: {train: FILE, eval: FILE}   # default world/prompts/{train,eval}.jsonl
//   train_prompts_per_round: 0     # 0 = all; else a seeded sample per round
//   rounds: 3
//   seed: 0
//   quality: {metric: winrate, split: eval, factor: 0.95, ensemble: -1, judge: ""}
//   critique_revise: {rounds: 3, principles: random, few_shot: true, temperature: 0.7,
//                     critique_temperature: -1, revision_temperature: -1,   # -1: temperature
//                     max_tokens: 96, skip_when_ok: true, min_violation_p: 0}
//   label: {ensemble: 0, samples: 0, min_confidence: 0.0, chain_of_thought: false,
//           judge: policy}       # policy | base | a model path
//   sft: {enabled: true, lr: 1e-4, epochs: 2, token_budget: 4096, corpus_mix: 0.0,
//         only_preferred_revisions: false, init: previous,
//         corpus: FILE, lora: {rank: 0},
//         token_constraint: {enabled: false, beta: 0.1, first_token_bias: 5, bias: 20,
//                            bias_length: 5},
//         ref_model: policy}   # the constraint's reference: policy | base | a model path
//   dpo: {enabled: true, beta: 0.1, lr: 5e-5, epochs: 1, loss: sigmoid, rpo_alpha: 0.0,
//         reference: policy}   # policy | base | a model path
//   rl: {enabled: false, algorithm: rloo, steps: 30, prompts_per_rollout: 8,
//        samples_per_prompt: 4, max_new_tokens: 96, temperature: 1.0, kl_coef: 0.05,
//        kl_target: 0, reward_norm: none, lr: 1e-5, epochs: 1,
//        rm: {lr: 2e-5, epochs: 2, samples: 0, pairs: best-worst, temperature: 0.7}}
//   probe: {enabled: false, model: best, kl: true, prefill: true, finetune: true, k: [5, 10, 20,
//   40],
//           n: [10, 50, 100]}
//   eval: {split: test, temperature: 0.7, sampled_temperature: -1, tasks: true, critiques: true,
//   comparisons: false,
//          tasks_files: [...]}
//
// Relative paths are relative to the directory the loop runs in (like the CLI's flags);
// resolve() makes them absolute and fills the world's defaults.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cai/train/token_constraint_options.h"

namespace cai::loop {

// An OpenAI-compatible server serving the base model (backend/factory.h HttpBackendOptions).
struct ApiConfig {
  std::vector<std::string> base_urls;  // "http://host:port/v1"; empty = no api
  std::string model;                   // the server's model name
  std::string api_key_env = "OPENAI_API_KEY";
  std::int64_t concurrency = 8;    // requests in flight
  std::int64_t top_logprobs = 20;  // asked for when judging; the answer tokens must be
                                   // among them (servers often cap this at 20)
  double timeout_s = 120.0;        // per request
  std::int64_t max_retries = 5;    // on 429, 5xx, timeouts and connection errors
  bool given() const { return !base_urls.empty(); }
};

struct PromptsConfig {
  std::string train;  // default <world>/prompts/train.jsonl
  std::string eval;   // default <world>/prompts/eval.jsonl (the quality split without a world)
};

struct QualityConfig {
  // winrate: round K's responses against round K-1's, compared by a fixed judge (quality.judge,
  // default the base model) with Phase 2's A/B prompt in both orders; round 0's quality is 0.5.
  // judge: the base model's critiques rate responses against each applicable principle.
  // oracle: the world's oracle.
  std::string metric = "winrate";
  std::string split = "eval";  // world prompt split scored (without a world: prompts.eval)
  double factor = 0.95;        // judge / oracle: stop when quality_K < factor * quality_{K-1};
                               // winrate: stop when win_rate_K < factor * 0.5 (0: never)
  std::int64_t limit = 0;      // prompts scored at most (0: all)
  double temperature = 0.7;    // responses are sampled (seeded) as the model behaves
  std::int64_t max_tokens = 96;
  std::int64_t ensemble = -1;  // winrate: principles per comparison (label.ensemble's meaning;
                               // -1: all, weighted)
  std::string judge;           // winrate: a local model judging; "" = the base model (or api)
};

struct CritiqueReviseConfig {
  std::int64_t rounds = 3;            // critique -> revision rounds per prompt
  std::string principles = "random";  // random | in-order
  bool few_shot = true;
  double temperature = 0.7;          // the initial responses (and the rest unless overridden)
  double critique_temperature = -1;  // < 0: temperature. A sampled "violates" where the model
                                     // itself rates the response fine becomes a needless
                                     // revision; 0 takes the model's most likely verdict.
  double revision_temperature = -1;  // < 0: temperature
  std::int64_t max_tokens = 96;      // per response, critique and revision
  bool skip_when_ok = true;
  double min_violation_p = 0.0;       // revise only on "violates" verdicts at least this likely
  std::string format = "transcript";  // transcript | chat
};

struct LabelConfig {
  std::int64_t ensemble = 0;    // principles per pair (0: one sampled, -1: all)
  std::int64_t samples = 0;     // 0: pairs from Phase 1; k >= 2: k responses per prompt sampled
                                // from the round's policy (on-policy; pairs of equal texts are
                                // skipped unjudged)
  double min_confidence = 0.0;  // drop pairs with |p_chosen - 0.5| below this
  bool chain_of_thought = false;
  // Who labels Phase 2's pairs and rl.rm.samples' pairs. policy: the round's policy judges
  // itself (self-improvement). base: the base model, fixed over the rounds, so a policy's
  // drift cannot reach its own labels; with an api, the api's model, as for quality.judge's
  // default. A path: that local model, fixed likewise.
  std::string judge = "policy";
};

struct LoraConfig {
  std::int64_t rank = 0;  // 0 = full fine-tuning; > 0 = LoRA, merged after training
  double alpha = 16.0;
  double dropout = 0.05;
  std::vector<std::string> targets = {"q_proj", "v_proj"};
};

// Token-wise constrained SFT (Qi et al. 2024; `cai train sft --token-constraint`, see
// include/cai/train/token_constraint.h): each target token is held near sft.ref_model, most
// strongly on a response's first tokens, where a shallow alignment lives. The settings and
// their defaults are the train library's.
struct TokenConstraintConfig : train::TokenConstraintOptions {
  bool enabled = false;
};

struct SftConfig {
  bool enabled = true;
  double lr = 1e-4;
  std::int64_t epochs = 2;
  std::int64_t token_budget = 4096;       // padded tokens per micro-batch
  std::int64_t max_length = 1024;         // tokens per sequence (capped at the model's context)
  double corpus_mix = 0.0;                // corpus documents per SFT example (e.g. 0.5)
  std::int64_t recovery_examples = 0;     // recovery rows added (a violating start, then a
                                          // correction; needs a world): deeper alignment,
                                          // Qi et al. 2024 (see include/cai/eval/probe_data.h)
  std::string init = "previous";          // previous: SFT continues the round's policy; base:
                                          // every round's SFT starts again from the base model
                                          // (expert iteration: later rounds' better data
                                          // without the drift of the earlier fine-tunes)
  bool only_preferred_revisions = false;  // leave out revisions the round's AI judge (Phase 2)
                                          // rates below the initial response: a critique that
                                          // wrongly finds fault makes a revision worth not learning
  std::string corpus;                     // default <world>/corpus/pretrain.txt
  std::string chat_template;              // "" = the tokenizer's
  LoraConfig lora;
  TokenConstraintConfig token_constraint;
  // The constraint's reference. policy: the weights SFT starts from (the round's policy; the
  // base model with init: base). base: the base model. A path: that model (same tokenizer).
  std::string ref_model = "policy";
};

struct DpoConfig {
  bool enabled = true;
  double beta = 0.1;
  double lr = 5e-5;
  std::int64_t epochs = 1;
  std::int64_t token_budget = 4096;
  std::int64_t max_length = 1024;
  std::string loss = "sigmoid";  // sigmoid | robust | ipo | hinge
  double label_smoothing = 0.0;
  double rpo_alpha = 0.0;
  // The model DPO's log-ratios are taken against. policy: the model DPO starts from (each
  // round's DPO is anchored anew). base: the base model, fixed over the rounds, as iterative
  // and online DPO anchor every round to one reference (OpenRLHF's iterative DPO, TRL's
  // OnlineDPOTrainer), so the policy's distance from it cannot grow unpenalised round after
  // round. A path: that model (same tokenizer).
  std::string reference = "policy";
  LoraConfig lora;
};

// A reward model on the round's AI-labelled pairs (Bradley-Terry, `cai train rm`), initialised
// from the policy the RL stage starts from.
struct RmConfig {
  double lr = 2e-5;
  std::int64_t epochs = 2;
  std::int64_t token_budget = 4096;
  std::int64_t max_length = 1024;
  // The reward model's pairs. 0: the round's Phase 1 pairs as Phase 2 labelled them (a
  // revision against the response it replaced). k >= 2: k responses per train prompt sampled
  // from the model RL starts from and judged by it (Phase 2's ensemble), so the reward model
  // learns to rank what the policy actually writes (on-policy AI feedback, as in RLAIF).
  std::int64_t samples = 0;
  std::string pairs = "best-worst";  // with samples: best-worst | all
  double temperature = 0.7;          // with samples: the policy's sampling temperature
};

// RL against that reward model with a per-token KL penalty to the policy it starts from
// (`cai train rl`, include/cai/train/rl.h): after DPO, or instead of it with dpo.enabled false.
struct RlConfig {
  bool enabled = false;
  std::string algorithm = "rloo";  // rloo | ppo
  std::int64_t steps = 30;         // rollouts
  std::int64_t prompts_per_rollout = 8;
  std::int64_t samples_per_prompt = 4;
  std::int64_t max_new_tokens = 96;
  double temperature = 1.0;
  double kl_coef = 0.05;
  double kl_target = 0.0;            // > 0: adaptive KL coefficient
  std::string reward_norm = "none";  // none | batch | running: the reward model's scores
  double lr = 1e-5;
  std::int64_t epochs = 1;  // passes over each rollout (ppo usually 4)
  RmConfig rm;
};

// How deep the best round's alignment goes (`cai probe`, include/cai/eval/probe.h), written to
// <out>/probe/probe.json after the last round for the report. Needs a world.
struct ProbeConfig {
  bool enabled = false;
  std::string model = "best";  // best | last: the round whose model is probed
  bool kl = true, prefill = true, finetune = true;
  std::vector<std::int64_t> k = {5, 10, 20, 40};  // prefill tokens
  std::vector<std::int64_t> n = {10, 50, 100};    // fine-tuning attack examples
};

struct EvalConfig {
  std::string split = "test";  // world prompt split of eval.json
  double temperature = 0.7;
  double sampled_temperature = -1;  // >= 0: the oracle also scores responses sampled at this
                                    // temperature (compliance_sampled); a greedy headline
                                    // then comes with the sampled policy's figures
  std::int64_t max_tokens = 96;
  std::int64_t limit = 0;                // prompts at most (0: all)
  std::int64_t task_limit = 0;           // records per capability task (0: all)
  bool tasks = true;                     // the world's quiz and fact task
  bool critiques = true;                 // the model's critiques vs the oracle
  bool comparisons = false;              // the model's A/B answers vs the oracle
  std::vector<std::string> tasks_files;  // eval task YAML files (without a world)
};

struct LoopConfig {
  std::string source;      // the config file (for messages)
  std::string name;        // required
  std::string out;         // default runs/<name>
  std::string base_model;  // local model (required for training)
  ApiConfig api;
  std::string world;
  std::string constitution;  // default <world>/constitution.yaml
  PromptsConfig prompts;
  std::int64_t train_prompts_per_round = 0;
  std::int64_t rounds = 3;
  std::uint64_t seed = 0;
  QualityConfig quality;
  CritiqueReviseConfig critique_revise;
  LabelConfig label;
  SftConfig sft;
  DpoConfig dpo;
  RlConfig rl;
  EvalConfig eval;
  ProbeConfig probe;

  // Fills defaults that depend on other fields (out, the world's files) and makes paths
  // absolute against `cwd`.
  void resolve(const std::filesystem::path& cwd = std::filesystem::current_path());
  // Throws cai::Error naming the field (and its line when read from a file).
  void validate() const;
  nlohmann::json to_json() const;  // the resolved config (manifest, --print-config)
  std::string to_yaml() const;     // the same as YAML

  // Lines of the keys read from the file ("sft.lr" -> 14), for validate()'s messages.
  std::map<std::string, int> lines;
};

// Parses the YAML text (`source` names it in errors). Unknown keys, wrong types and keys given
// twice are errors naming the line and the dotted field.
LoopConfig parse_loop_config(const std::string& text, const std::string& source);
LoopConfig load_loop_config(const std::filesystem::path& path);

}  // namespace cai::loop
