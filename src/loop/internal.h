// What the loop's source files share: the backends of a run, a round's directory and stage
// log, and the stages themselves (each skipped by the caller when its output is complete).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cai/backend/backend.h"
#include "cai/backend/factory.h"
#include "cai/constitution/constitution.h"
#include "cai/io/rate.h"
#include "cai/loop/config.h"
#include "cai/loop/loop.h"
#include "cai/loop/run_files.h"
#include "cai/pipeline/common.h"
#include "cai/pipeline/label.h"

namespace cai::train {
struct SftRunOptions;
struct DpoRunOptions;
}  // namespace cai::train

namespace cai::loop::detail {

namespace fs = std::filesystem;

// The models a run talks to: the base model (also the FIXED quality judge, so every round is
// judged alike), served by the api when one is given, the current round's model, and fixed
// judges given by path (quality.judge, label.judge). At most one round's model is loaded at a
// time; the base and the fixed judges stay loaded for the whole run.
class Backends {
 public:
  // How a backend is made from its options; tests give a fake.
  using Factory = std::function<std::unique_ptr<Backend>(const BackendOptions&)>;
  // `threads`: every local model's intra-op threads (0: all cores).
  explicit Backends(const LoopConfig& c, Factory make = make_backend, int threads = 0)
      : c_(c), make_(std::move(make)), threads_(threads) {}
  Backend& base();
  // The fixed judge of quality.metric winrate: quality.judge when given, else base().
  Backend& judge();
  // Phase 2's judge (and rl.rm.samples'), label.judge: policy(model) itself, base(), or the
  // local model at that path.
  Backend& label_judge(const std::string& model);
  // `model` is a local model path; "" or the base model's path gives base().
  Backend& policy(const std::string& model);
  // Frees the current (non-base) model before training loads its own copy.
  void release_current();
  // The RL stage's judge (rl.reward judge): the base model when `o` names it, else a model
  // loaded for the stage alone and freed by release_rl_judge().
  Backend& rl_judge(const BackendOptions& o);
  void release_rl_judge();

 private:
  // The local model at `path`, loaded once for every key that names it.
  Backend& fixed(const std::string& path);

  const LoopConfig& c_;
  Factory make_;
  int threads_ = 0;
  std::unique_ptr<Backend> base_, current_, rl_judge_;
  std::string current_path_;
  std::map<std::string, std::unique_ptr<Backend>> fixed_;
};

// One round's directory and its stage log (stages.json: {"done": {stage: seconds}, "notes":
// {stage: note}}), rewritten atomically on each change; stage_table.h decides from it.
class RoundDir {
 public:
  RoundDir(const fs::path& run, std::int64_t round);
  const fs::path& dir() const { return dir_; }
  fs::path operator/(const std::string& name) const { return dir_ / name; }
  std::int64_t round() const { return round_; }
  bool done(const std::string& stage) const;
  nlohmann::json note(const std::string& stage) const;  // {} when none
  void unmark(const std::vector<std::string>& stages);
  void mark(const std::string& stage, double seconds, const nlohmann::json& note = nullptr);
  // The stages logged with their seconds, and their notes ({stage: note}; null when none).
  std::vector<std::pair<std::string, double>> seconds() const;
  nlohmann::json notes() const;

 private:
  fs::path dir_;
  std::int64_t round_;
  nlohmann::json log_;
};

// The seed of round K's draws (prompt sample, Phase 1 / 2 sampling, training order).
std::uint64_t round_seed(const LoopConfig& c, std::int64_t round);

// The train prompts of a round: all, or a seeded sample of train_prompts_per_round (kept in
// file order).
std::vector<pipeline::PromptRecord> round_prompts(const std::vector<pipeline::PromptRecord>& all,
                                                  const LoopConfig& c, std::int64_t round);

// Stages (stages.cpp). Each writes its output in the round directory.
void run_phase1(const LoopConfig& c, Backend& policy, const Constitution& constitution,
                const std::vector<pipeline::PromptRecord>& prompts, const RoundDir& rd,
                bool progress);
// labels.jsonl. Returns the pairs written and, with label.samples, the pairs of equal texts
// left unjudged.
// `policy` samples (label.samples), `judge` labels (Backends::label_judge).
pipeline::LabelRunCounts run_phase2(const LoopConfig& c, Backend& policy, Backend& judge,
                                    const Constitution& constitution,
                                    const std::vector<pipeline::PromptRecord>& prompts,
                                    const RoundDir& rd, bool progress);
// sft_data.jsonl: Phase 1's {"messages"} (empty revisions left out; with
// sft.only_preferred_revisions also those Phase 2 rated below the initial response) + corpus
// {"text"} rows.
// Returns the number of lines.
std::size_t write_sft_data(const LoopConfig& c, const RoundDir& rd);
// deepen_data.jsonl: deepen.examples recovery rows and, with deepen.sft_data, the round's
// sft_data.jsonl. Returns the number of lines.
std::size_t write_deepen_data(const LoopConfig& c, const RoundDir& rd);
// dpo_data.jsonl: the label lines DPO can learn from (both responses non-empty and
// different). Returns the number of lines.
std::size_t write_dpo_data(const RoundDir& rd);
// Labelled pairs (a label file) as preference data {prompt, chosen, rejected, p_chosen}.
std::size_t write_pair_data(const fs::path& labels, const fs::path& out);
// The reward model's pairs when rl.rm.samples > 0: responses sampled by `policy` (the model RL
// starts from) and labelled by `judge`.
pipeline::LabelRunCounts run_rm_labels(const LoopConfig& c, Backend& policy, Backend& judge,
                                       const Constitution& constitution,
                                       const std::vector<pipeline::PromptRecord>& prompts,
                                       const RoundDir& rd, bool progress);
// The reward model's data: rm_data.jsonl (rl.rm.samples > 0) or the DPO pairs.
fs::path rm_data(const LoopConfig& c, const RoundDir& rd);
// How a stage's trainer runs when not in this process (LoopOptions::launch_training); empty:
// here.
using Launch = std::function<void(const TrainingStage&)>;
// Trains from `model` into rd/<stage> (resuming a checkpoint), merging LoRA adapters into
// rd/<stage>/merged; returns the trained model's path.
std::string train_sft(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                      bool progress, const Launch& launch = {});
std::string train_dpo(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                      bool progress, const Launch& launch = {});
// Deepening (deepen.*) of `model`, the round's aligned model, on deepen_data.jsonl into
// rd/deepen, constrained towards `model`.
std::string train_deepen(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                         bool progress, const Launch& launch = {});
// `cai probe` of the base model against `aligned`: `dir`/probe.json.
void run_probe(const LoopConfig& c, const std::string& aligned, const fs::path& dir,
               bool progress);
// The reward model of the round's labelled pairs (dpo_data.jsonl), from `model`: rm/final.
std::string train_rm(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                     bool progress, const Launch& launch = {});
// The reward model's pairwise accuracy on its held-out pairs (the last "eval" line of
// rd/rm/metrics.jsonl), and whether RL may run on it (rl.rm.min_accuracy).
struct RmGate {
  bool measured = false;  // false: no held-out pairs (rl.rm.eval_fraction 0)
  double accuracy = 0.0;
  std::int64_t pairs = 0;
  Interval ci95;
  bool pass = true;
  std::string describe() const;  // "accuracy 0.48 [0.39, 0.57] on 120 held-out pairs"
};
RmGate rm_gate(const LoopConfig& c, const RoundDir& rd);
// rl_prompts.jsonl: the round's train prompts as {"prompt"} lines. Returns their number.
std::size_t write_rl_prompts(const std::vector<pipeline::PromptRecord>& prompts,
                             const RoundDir& rd);
// The judge of an RL stage with rl.reward judge, when the loop already holds it loaded; empty:
// the stage loads rl_judge_backend's (as each rank of a launched stage does).
struct RlJudge {
  Backend* backend = nullptr;
  const Constitution* constitution = nullptr;
};
// RL of `model` on rl_prompts.jsonl (resumes a killed run): rl/final. The reward is
// `reward_model` (rl.reward model), or with rl.reward judge the constitution judge.
std::string train_rl(const LoopConfig& c, const std::string& model, const std::string& reward_model,
                     const RoundDir& rd, bool progress, const Launch& launch = {},
                     const RlJudge& judge = {});
// rl.judge's backend for RL that starts from `model`: that model (policy), the base model (or
// the api serving it), or the path.
BackendOptions rl_judge_backend(const LoopConfig& c, const std::string& model);
// The trainer's reference model for a key of policy | base | a path (dpo.reference,
// sft.ref_model): "" (the weights the stage starts from), the base model, or the path.
std::string stage_reference(const std::string& choice, const LoopConfig& c);
// The options the SFT, deepening and DPO stages of round rd train `model` with.
train::SftRunOptions sft_options(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                                 bool progress);
train::SftRunOptions deepen_options(const LoopConfig& c, const std::string& model,
                                    const RoundDir& rd, bool progress);
train::DpoRunOptions dpo_options(const LoopConfig& c, const std::string& model, const RoundDir& rd,
                                 bool progress);
// A warning when the training stage `stage` (sft, dpo, deepen) of `model` has its token constraint
// hold the responses' first tokens at the base model (its reference resolves to the base
// model), else "".
std::string constraint_warning(const LoopConfig& c, const std::string& stage,
                               const std::string& model);
// A training stage's trainer in this process, with the options the train_* functions above
// give it (no LoRA merge): what each rank of a launched stage runs.
// `threads`: the intra-op threads of a judge it loads (rl.reward judge without `judge`).
void run_stage_trainer(const LoopConfig& c, const TrainingStage& st, const RoundDir& rd,
                       bool progress, int threads = 0, const RlJudge& judge = {});
// Where a training stage leaves the model the next stage starts from: final/, or merged/ with
// LoRA.
fs::path stage_model(const RoundDir& rd, const std::string& stage, const train::LoraOptions& lora);

// Evaluation (evaluate.cpp): eval.json's report and quality.json's record.
eval::EvalFile evaluate_round(const LoopConfig& c, Backend& policy, bool progress);
// quality.metric judge or oracle.
QualityFile measure_quality(const LoopConfig& c, Backend& policy, Backend& judge,
                            std::int64_t round);
// The quality prompts: the world's quality.split (without a world prompts.eval), at most
// quality.limit, in file order.
std::vector<pipeline::PromptRecord> quality_prompts(const LoopConfig& c);
// The policy's responses to them (seeded per prompt, quality.temperature), first turn only.
std::vector<std::string> sample_quality_responses(const LoopConfig& c, Backend& policy,
                                                  const std::vector<pipeline::PromptRecord>& ps);
// A round's responses (quality_responses.jsonl, written atomically: one {"id", "prompt",
// "response", "model"} line per quality prompt), kept so the next round's comparison and a
// resumed loop reuse them. Reading checks they answer the configuration's quality prompts.
void write_quality_responses(const fs::path& path, const std::string& model,
                             const std::vector<pipeline::PromptRecord>& prompts,
                             const std::vector<std::string>& responses);
std::vector<std::string> read_quality_responses(const fs::path& path,
                                                const std::vector<pipeline::PromptRecord>& ps);
// quality.metric winrate: round K's responses (file `responses`) against round K-1's (file
// `previous`), judged by `judge`; round 0's record (quality 0.5) judges nothing.
QualityFile measure_win_rate(const LoopConfig& c, Backend& judge, std::int64_t round,
                             const fs::path& responses, const fs::path& previous);

// The summary (summary.cpp): summary.json's parts and the printed table.
// The alignment tax of `after`'s task results against `before`'s.
TaxSummary tax_summary(const eval::EvalFile& before, const eval::EvalFile& after);
std::string summary_table(const SummaryFile& summary, const fs::path& run);
// The rounds ranked best first by the quality signal's scores (the win-rate chain's strengths,
// or the qualities) and, when given (one per round), by the oracle's compliance; ties keep the
// earlier round first. Without an oracle, the quality ranking alone. The quality ranking lists
// the candidates only, rounds first_candidate.. (1 when round 0 is the win-rate chain's
// reference, winrate.h); the oracle's lists every round.
Ranking rank_rounds(const std::vector<double>& score, const std::vector<double>& oracle,
                    std::size_t best, std::size_t first_candidate = 0);

}  // namespace cai::loop::detail
