// Iterative self-improvement (Bai et al. 2022, "Constitutional AI", run for several rounds):
// round 0 evaluates the base model; each round K >= 1 then runs, with the current model,
//   1. Phase 1: critique -> revision on the train prompts (pipeline::run_critique_revise),
//   2. Phase 2: AI-feedback labels of (initial, revised) pairs, or of k responses sampled from
//      the current model (label.samples: on-policy), judged by the current model or by a
//      fixed judge (label.judge),
//   3. SFT from the current model on Phase 1's revisions (+ a share of corpus documents so
//      the model keeps its ability to critique and compare),
//   4. DPO from the SFT model on the labels (reference: the SFT model, or a fixed one with
//      dpo.reference),
//   5. evaluation (eval.json) and the quality score (quality.json).
// The quality of a round is judged by a FIXED judge (the base model, or quality.judge) so rounds
// are comparable, or by the world's oracle; the oracle only ever scores, never makes training
// data or labels. With quality.metric winrate (the default) a round's quality is its win rate
// against the previous round's responses, and the stop and best-round rules are those of
// cai/loop/winrate.h. With judge or oracle the loop stops after round K when
// quality_K < factor * quality_{K-1}, and the best round is the one with the highest quality
// (round 0 included).
//
// Every stage writes its output atomically (or durably appends, resumably) under
// runs/NAME/round-K/ (layout in the run-layout contract: eval.json, quality.json,
// quality_responses.jsonl, critique_revise.jsonl, labels.jsonl, sft_data.jsonl, sft/, dpo/,
// round.json) and is skipped when its output is complete, so a killed loop rerun with the same
// config continues where it stopped and ends with the same files as an uninterrupted run.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cai/loop/config.h"

namespace cai::loop {

// A round's training stage, as the ranks of a data-parallel job run it.
struct TrainingStage {
  std::string stage;         // "sft", "dpo", "rm", "rl" or "deepen"
  std::int64_t round = 0;    // K of round-K/
  std::string model;         // the weights it starts from
  std::string reward_model;  // rl: the round's reward model
};

struct LoopOptions {
  LoopConfig config;       // resolved and validated by run_loop
  std::string stop_after;  // "round-K/STAGE": return right after that stage completes (tests
                           // simulate a kill with it); stages: phase1, phase2, sft_data,
                           // dpo_data, sft, dpo, rm_labels, rm_data, rm, rl_prompts, rl,
                           // deepen_data, deepen, eval, quality_responses (winrate), quality
  bool progress = true;    // stage lines and progress bars on stderr
  int threads = 0;         // intra-op threads of the local models and the trainers (0: all cores)
  // When set, each training stage's trainer runs through it instead of in this process: it
  // starts data-parallel ranks that each call run_training_stage() with this config, and
  // returns once they all succeeded (throwing cai::Error otherwise). The loop then merges
  // LoRA adapters and goes on as after an in-process stage.
  std::function<void(const TrainingStage&)> launch_training;
};

struct RoundSummary {
  std::int64_t round = 0;
  double quality = 0.0;
  std::string model;  // the model evaluated in this round
};

struct LoopResult {
  std::vector<RoundSummary> rounds;
  std::int64_t best_round = 0;
  std::string stopped;  // "rounds", "early-stop", or "stop_after" (interrupted)
  std::string reason;
  std::vector<std::string> ran;      // "round-K/STAGE" of the stages run now (not skipped)
  std::vector<std::string> skipped;  // stages found complete
  nlohmann::json summary;            // summary.json (empty when interrupted)
  std::string table;                 // the printed summary table
};

// The early-stop rule on a sequence of round qualities (round 0 first): the index of the
// round after which the loop stops because quality_K < factor * quality_{K-1}, or nullopt.
std::optional<std::size_t> early_stop_round(const std::vector<double>& quality, double factor);
// The index of the highest quality (the first one on ties).
std::size_t best_round(const std::vector<double>& quality);

LoopResult run_loop(const LoopOptions& opts);

// One rank's part of a training stage launched by LoopOptions::launch_training: the stage's
// trainer with exactly the options the loop gives it (resuming its checkpoint when one is
// there). `config` is the loop's, as given to run_loop.
// `threads`: the intra-op threads of a judge the stage loads (rl.reward judge; 0: all cores).
void run_training_stage(const LoopConfig& config, const TrainingStage& stage, bool progress,
                        int threads = 0);

}  // namespace cai::loop
