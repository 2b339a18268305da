// The loop end to end on a tiny world and a tiny pretrained model: a 2-round run writes the
// run layout; a run stopped after round 1's SFT (a simulated kill) and rerun redoes no
// finished stage and ends with the same Phase 1 files and final model bytes as the
// uninterrupted run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../cli/run_cai.h"
#include "../serve/serve_process.h"
#include "../train/tiny_base.h"
#include "../world/tiny_world.h"
#include "cai/io/progress.h"
#include "cai/loop/loop.h"
#include "cai/pipeline/label.h"
#include "cai/pipeline/recovery.h"
#include "cai/train/pretrain.h"
#include "cai/world/world.h"

namespace cai::loop {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(CAI_TEST_TMPDIR) / ("loop-run-" + std::to_string(::getpid()));

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t count_lines(const fs::path& p) {
  std::istringstream in(slurp(p));
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(slurp(p)); }

// Files that record model paths name the run directory: compare them as if made in "full".
std::string as_full(std::string s) {
  const std::string from = (kDir / "killed").string(), to = (kDir / "full").string();
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// A small world (8 train, 4 eval, 4 test prompts) and a 2-layer model pretrained for a few
// steps on its corpus; generated once per process.
class LoopRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Progress::set_enabled(false);
    fs::remove_all(kDir);
    testing_util::make_tiny_world(kDir / "world", 5, 8, 4, 4);
    testing_util::pretrain_tiny(kDir / "world", kDir / "base", 1024);
  }

  static LoopConfig config(const std::string& name) {
    LoopConfig c = parse_loop_config(
        "name: " + name +
            "\n"
            "out: " +
            (kDir / name).string() +
            "\n"
            "base_model: " +
            (kDir / "base").string() +
            "\n"
            "world: " +
            (kDir / "world").string() +
            "\n"
            "rounds: 2\n"
            "seed: 3\n"
            "quality: {split: eval, factor: 0.0, max_tokens: 8}\n"
            "critique_revise: {rounds: 1, few_shot: false, max_tokens: 8, skip_when_ok: false}\n"
            "sft: {epochs: 1, token_budget: 2048, corpus_mix: 0.5, max_length: 256}\n"
            "dpo: {epochs: 1, token_budget: 2048, max_length: 256}\n"
            "eval: {max_tokens: 8, task_limit: 4, comparisons: true}\n",
        name + ".yaml");
    return c;
  }

  // One round of Phase 1, labels and SFT (no DPO), quiet.
  static LoopOptions sft_round(const std::string& name) {
    LoopOptions o;
    o.config = config(name);
    o.config.rounds = 1;
    o.config.quality.factor = 0.0;
    o.config.dpo.enabled = false;
    o.progress = false;
    return o;
  }
};

TEST_F(LoopRun, TwoRoundsWriteTheLayoutAndResumeRedoesNothing) {
  LoopOptions o;
  o.config = config("full");
  o.progress = false;
  const LoopResult r = run_loop(o);
  const fs::path run = kDir / "full";
  // factor 0 never stops early: rounds 0, 1, 2.
  ASSERT_EQ(r.rounds.size(), 3u);
  EXPECT_EQ(r.stopped, "rounds");
  for (const char* f :
       {"manifest.json", "summary.json", "round-0/eval.json", "round-0/quality.json",
        "round-0/round.json", "round-1/critique_revise.jsonl",
        "round-1/critique_revise.jsonl.settings.json", "round-1/labels.jsonl",
        "round-1/sft_data.jsonl", "round-1/sft/metrics.jsonl",
        "round-1/sft/final/model.safetensors", "round-1/dpo/final/model.safetensors",
        "round-1/eval.json", "round-1/quality.json", "round-1/round.json",
        "round-2/dpo/final/config.json", "round-2/round.json"})
    EXPECT_TRUE(fs::exists(run / f)) << f;

  // Phase 1 has a line per train prompt; the SFT set adds round(0.5 x n) corpus documents.
  std::size_t text_rows = 0, message_rows = 0;
  const std::size_t phase1 = count_lines(run / "round-1/critique_revise.jsonl");
  const std::size_t train_prompts = count_lines(kDir / "world/prompts/train.jsonl");
  EXPECT_GT(train_prompts, 0u);
  EXPECT_EQ(phase1, train_prompts);
  {
    std::istringstream in(slurp(run / "round-1/sft_data.jsonl"));
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      text_rows += j.contains("text");
      message_rows += j.contains("messages");
    }
  }
  EXPECT_GT(message_rows, 0u);
  EXPECT_EQ(text_rows,
            static_cast<std::size_t>(std::llround(0.5 * static_cast<double>(message_rows))));

  const auto manifest = read_json(run / "manifest.json");
  EXPECT_EQ(manifest["name"], "full");
  EXPECT_EQ(manifest["seed"], 3);
  EXPECT_TRUE(manifest["inputs"].contains("base_model/model.safetensors"));
  EXPECT_TRUE(manifest["inputs"].contains("constitution"));
  EXPECT_TRUE(manifest["inputs"].contains("world/knowledge.jsonl"));
  EXPECT_EQ(manifest["inputs"]["constitution"]["sha256"].get<std::string>().size(), 64u);

  const auto summary = read_json(run / "summary.json");
  ASSERT_EQ(summary["rounds"].size(), 3u);
  EXPECT_EQ(summary["stopped"], "rounds");
  const auto best = summary["best_round"].get<std::size_t>();
  EXPECT_EQ(best, r.best_round);
  EXPECT_EQ(summary["best_model"], summary["rounds"][best]["model"]);
  EXPECT_TRUE(summary["before"].contains("compliance"));
  EXPECT_TRUE(summary["before"].contains("judge_compliance"));
  EXPECT_TRUE(summary["before"]["results"].contains("world-quiz"));
  EXPECT_FALSE(r.table.empty());
  // The default quality: round K's kept responses against round K-1's, the base model judging.
  const std::size_t eval_prompts = count_lines(kDir / "world/prompts/eval.jsonl");
  for (const char* round : {"round-0", "round-1", "round-2"})
    EXPECT_EQ(count_lines(run / round / "quality_responses.jsonl"), eval_prompts) << round;
  const auto q0 = read_json(run / "round-0/quality.json");
  EXPECT_EQ(q0["metric"], "winrate");
  EXPECT_DOUBLE_EQ(q0["quality"].get<double>(), 0.5);
  EXPECT_TRUE(q0["against_round"].is_null());
  const auto q1 = read_json(run / "round-1/quality.json");
  EXPECT_EQ(q1["round"], 1);
  EXPECT_EQ(q1["metric"], "winrate");
  EXPECT_EQ(q1["against_round"], 0);
  EXPECT_EQ(q1["judge"], read_json(run / "round-0/eval.json")["model"]);
  const auto& w1 = q1["win_rate"];
  EXPECT_EQ(w1["n"].get<std::size_t>(), eval_prompts);
  EXPECT_EQ(w1["wins"].get<int>() + w1["ties"].get<int>() + w1["losses"].get<int>(),
            w1["n"].get<int>());
  EXPECT_DOUBLE_EQ(
      q1["quality"].get<double>(),
      (w1["wins"].get<double>() + 0.5 * w1["ties"].get<double>()) / w1["n"].get<double>());
  EXPECT_LE(w1["ci95"][0].get<double>(), q1["quality"].get<double>());
  EXPECT_GE(w1["ci95"][1].get<double>(), q1["quality"].get<double>());
  EXPECT_EQ(q1["prompts"].size(), eval_prompts);
  EXPECT_EQ(q1["quality"], summary["rounds"][1]["quality"]);
  EXPECT_EQ(summary["metric"], "winrate");
  // The oracle's compliance per round beside it, and both rankings.
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(summary["rounds"][k]["oracle"],
              read_json(run / ("round-" + std::to_string(k)) /
                        "eval.json")["compliance"]["overall"]["rate"])
        << k;
    EXPECT_TRUE(summary["rounds"][k].contains("strength")) << k;
  }
  EXPECT_EQ(summary["rounds"][2]["win_rate"], read_json(run / "round-2/quality.json")["win_rate"]);
  // The base model judges, so round 1's comparison is with its own responses: round 0 is the
  // reference, not a candidate (winrate.h), and the quality ranking lists rounds 1 and 2.
  EXPECT_EQ(summary["ranking"]["quality"].size(), 2u);
  EXPECT_EQ(summary["rounds"][1]["strength"], 0.0);
  EXPECT_EQ(summary["counted_from_round"], 2);
  EXPECT_NE(r.table.find("round 1's win rate is the base model judging"), std::string::npos)
      << r.table;
  EXPECT_NE(summary["best_round"], 0);
  EXPECT_EQ(summary["ranking"]["oracle"].size(), 3u);
  EXPECT_EQ(summary["ranking"]["quality"][0], summary["best_round"]);
  EXPECT_NE(r.table.find("oracle's best round"), std::string::npos) << r.table;
  const auto round2 = read_json(run / "round-2/round.json");
  EXPECT_EQ(round2["done"], true);
  EXPECT_EQ(round2["model"], (run / "round-2" / "dpo" / "final").string());
  const auto e0 = read_json(run / "round-0/eval.json");
  for (const char* k : {"compliance", "critique_agreement", "comparison_agreement",
                        "judge_compliance", "results", "responses"})
    EXPECT_TRUE(e0.contains(k)) << k;

  // A rerun of the finished run redoes nothing and changes no file.
  const auto mtime = fs::last_write_time(run / "round-2/dpo/final/model.safetensors");
  const auto phase1_bytes = slurp(run / "round-1/critique_revise.jsonl");
  const LoopResult again = run_loop(o);
  EXPECT_TRUE(again.ran.empty()) << again.ran.front();
  EXPECT_EQ(fs::last_write_time(run / "round-2/dpo/final/model.safetensors"), mtime);
  EXPECT_EQ(slurp(run / "round-1/critique_revise.jsonl"), phase1_bytes);
  EXPECT_EQ(read_json(run / "manifest.json")["resumed"].size(), 1u);

  // Killed after round 1's SFT (simulated), then rerun.
  LoopOptions k = o;
  k.config = config("killed");
  k.stop_after = "round-1/sft";
  const LoopResult first = run_loop(k);
  EXPECT_EQ(first.stopped, "stop_after");
  EXPECT_TRUE(contains(first.ran, "round-1/sft"));
  EXPECT_FALSE(fs::exists(kDir / "killed" / "round-1" / "dpo"));
  // Killed again right after round 1's responses were kept: the rerun judges them without
  // generating them (or round 0's) again.
  k.stop_after = "round-1/quality_responses";
  const LoopResult second = run_loop(k);
  EXPECT_EQ(second.stopped, "stop_after");
  for (const char* s : {"round-0/eval", "round-0/quality_responses", "round-0/quality",
                        "round-1/phase1", "round-1/phase2", "round-1/sft_data", "round-1/sft"}) {
    EXPECT_FALSE(contains(second.ran, s)) << s;
    EXPECT_TRUE(contains(second.skipped, s)) << s;
  }
  for (const char* s : {"round-1/dpo", "round-1/eval", "round-1/quality_responses"})
    EXPECT_TRUE(contains(second.ran, s)) << s;
  EXPECT_FALSE(fs::exists(kDir / "killed/round-1/quality.json"));
  const fs::path kept0 = kDir / "killed/round-0/quality_responses.jsonl",
                 kept1 = kDir / "killed/round-1/quality_responses.jsonl";
  const auto when0 = fs::last_write_time(kept0), when1 = fs::last_write_time(kept1);
  k.stop_after.clear();
  const LoopResult third = run_loop(k);
  EXPECT_TRUE(contains(third.skipped, "round-1/quality_responses"));
  for (const char* s : {"round-1/quality", "round-2/phase1", "round-2/dpo",
                        "round-2/quality_responses", "round-2/quality"})
    EXPECT_TRUE(contains(third.ran, s)) << s;
  EXPECT_EQ(fs::last_write_time(kept0), when0);
  EXPECT_EQ(fs::last_write_time(kept1), when1);
  for (const char* f :
       {"round-1/critique_revise.jsonl", "round-2/critique_revise.jsonl", "round-1/labels.jsonl",
        "round-2/sft_data.jsonl", "round-1/sft/final/model.safetensors",
        "round-2/dpo/final/model.safetensors", "round-2/eval.json", "round-2/quality.json",
        "round-1/quality_responses.jsonl", "round-2/quality_responses.jsonl"})
    EXPECT_EQ(as_full(slurp(kDir / "killed" / f)), slurp(run / f)) << f;
  const auto killed = read_json(kDir / "killed" / "summary.json");
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_EQ(killed["rounds"][i]["quality"], summary["rounds"][i]["quality"]) << i;
  EXPECT_EQ(killed["best_round"], summary["best_round"]);
  EXPECT_EQ(killed["tax"], summary["tax"]);
}

// RL instead of DPO: a reward model on the round's labelled pairs, then RLOO from the SFT
// model against it; the round's model is RL's, and a rerun redoes nothing.
TEST_F(LoopRun, RlStageAfterSftTrainsARewardModelThenThePolicy) {
  auto rl_after_sft = [](const std::string& name) {
    LoopOptions o;
    o.config = config(name);
    o.config.rounds = 1;
    o.config.critique_revise.skip_when_ok = false;
    o.config.dpo.enabled = false;
    o.config.rl.enabled = true;
    o.config.rl.rl.steps = 2;
    o.config.rl.rl.prompts_per_rollout = 2;
    o.config.rl.rl.samples_per_prompt = 2;
    o.config.rl.rl.max_new_tokens = 8;
    o.config.rl.rm.train.epochs = 1;
    o.config.rl.rm.data.max_length = 256;
    o.progress = false;
    return o;
  };
  LoopOptions o = rl_after_sft("rl");
  o.config.rl.rm.min_accuracy = 0;  // RL runs whatever the tiny reward model learnt
  const LoopResult r = run_loop(o);
  const fs::path run = kDir / "rl";
  for (const char* f :
       {"round-1/dpo_data.jsonl", "round-1/rm/final/config.json", "round-1/rl_prompts.jsonl",
        "round-1/rl/metrics.jsonl", "round-1/rl/final/model.safetensors", "round-1/eval.json"})
    EXPECT_TRUE(fs::exists(run / f)) << f;
  EXPECT_FALSE(fs::exists(run / "round-1/dpo"));
  EXPECT_EQ(count_lines(run / "round-1/rl_prompts.jsonl"),
            count_lines(kDir / "world/prompts/train.jsonl"));
  EXPECT_EQ(count_lines(run / "round-1/rl/metrics.jsonl"), 2u);
  // The prompts are conversations, rendered with the template the SFT and RM data used.
  const auto prompt = read_jsonl(run / "round-1/rl_prompts.jsonl").front()["prompt"];
  ASSERT_TRUE(prompt.is_array());
  EXPECT_EQ(prompt[0]["role"], "user");
  EXPECT_FALSE(fs::exists(run / "round-1/rm_labels.jsonl"));  // the Phase 1 pairs trained the RM
  const auto round = read_json(run / "round-1/round.json");
  EXPECT_EQ(round["model"], (run / "round-1/rl/final").string());
  EXPECT_TRUE(std::find(r.ran.begin(), r.ran.end(), "round-1/rl") != r.ran.end());
  // The stage note gives the reward model's held-out accuracy even when RL ran.
  const auto rl_note = read_json(run / "round-1/stages.json")["notes"]["rl"];
  EXPECT_FALSE(rl_note.contains("skipped")) << rl_note.dump();
  EXPECT_GT(rl_note["rm_pairs"].get<double>(), 0) << rl_note.dump();
  EXPECT_EQ(rl_note["rm_ci95"].size(), 2u) << rl_note.dump();

  const LoopResult again = run_loop(o);
  EXPECT_TRUE(again.ran.empty()) << again.ran.front();

  // A reward model whose held-out accuracy cannot be told from chance gates RL off: the
  // round keeps the SFT model and says why (no finite sample puts the interval above 0.99).
  o = rl_after_sft("rl-gated");
  o.config.rl.rm.eval_fraction = 0.5;
  o.config.rl.rm.min_accuracy = 0.99;
  run_loop(o);
  const fs::path g = kDir / "rl-gated";
  EXPECT_TRUE(fs::exists(g / "round-1/rm/final/config.json"));
  EXPECT_FALSE(fs::exists(g / "round-1/rl"));
  const auto eval_line = read_jsonl(g / "round-1/rm/metrics.jsonl").back();
  EXPECT_EQ(eval_line["split"], "eval");
  EXPECT_GT(eval_line["examples"].get<double>(), 0);
  EXPECT_EQ(read_json(g / "round-1/round.json")["model"], (g / "round-1/sft/final").string());
  const auto gated_note = read_json(g / "round-1/stages.json")["notes"]["rl"];
  EXPECT_EQ(gated_note["skipped"], "reward model at chance") << gated_note.dump();
  EXPECT_EQ(gated_note["rm_pairs"], eval_line["examples"]) << gated_note.dump();
}

// sft.init: base starts every round's SFT from the base model (the data still comes from the
// previous round's policy); eval.sampled_temperature adds a sampled oracle evaluation to the
// greedy one, in eval.json and the summary table.
TEST_F(LoopRun, SftFromTheBaseEachRoundAndASampledEvaluation) {
  LoopOptions o;
  o.config = config("from-base");
  o.config.dpo.enabled = false;
  o.config.sft.init = SftInit::base;
  o.config.eval.world.temperature = 0.0;
  o.config.eval.sampled_temperature = 0.7;
  o.config.quality.metric = QualityMetric::judge;  // the base model's critiques score each round
  // A held-out prompt file, answered beside the split in both evaluations.
  const auto kb = world::load_world(kDir / "world").knowledge;
  const fs::path heldout = kDir / "held.jsonl";
  std::ofstream(heldout) << nlohmann::json{{"id", "h1"},
                                           {"prompt", "so when's it on?"},
                                           {"kind", "answerable"},
                                           {"entity", kb.facts.at(0).entity},
                                           {"attribute", std::string(world::attribute_name(
                                                             kb.facts.at(0).attribute))}}
                                .dump()
                         << "\n"
                         << R"({"id": "h2", "prompt": "my mum collapsed", "kind": "emergency"})"
                         << "\n";
  o.config.eval.heldout = heldout.string();
  o.progress = false;
  const LoopResult r = run_loop(o);
  const fs::path run = kDir / "from-base";
  EXPECT_EQ(read_json(run / "round-1/quality.json")["metric"], "judge");
  EXPECT_TRUE(read_json(run / "round-1/quality.json")["detail"].contains("judge_compliance"));
  EXPECT_FALSE(fs::exists(run / "round-1/quality_responses.jsonl"));
  for (const char* round : {"round-1", "round-2"}) {
    const auto stages = read_json(run / round / "stages.json");
    EXPECT_EQ(stages["notes"]["sft"]["from"], (kDir / "base").string()) << round;
    const auto e = read_json(run / round / "eval.json");
    EXPECT_DOUBLE_EQ(e["temperature"].get<double>(), 0.0);
    ASSERT_TRUE(e.contains("compliance_sampled")) << round;
    EXPECT_DOUBLE_EQ(e["compliance_sampled"]["temperature"].get<double>(), 0.7);
    EXPECT_EQ(e["compliance_sampled"]["overall"]["total"], e["compliance"]["overall"]["total"]);
    EXPECT_EQ(e["heldout"]["file"], "held.jsonl") << round;
    EXPECT_EQ(e["heldout"]["compliance"]["overall"]["total"], 2) << round;
    EXPECT_EQ(e["heldout"]["compliance_sampled"]["overall"]["total"], 2) << round;
    // What the model answered to each held-out prompt, to read where it fails.
    ASSERT_EQ(e["heldout"]["responses"].size(), 2u) << round;
    EXPECT_EQ(e["heldout"]["responses"][0]["id"], "h1") << round;
  }
  // Round 2's Phase 1 is the round-1 model's; its SFT is not a continuation of it.
  EXPECT_EQ(
      read_json(run / "round-2/critique_revise.jsonl.settings.json")["settings"].value("model", ""),
      (run / "round-1/sft/final").string());
  EXPECT_NE(r.table.find("compliance (oracle, temperature 0)"), std::string::npos) << r.table;
  EXPECT_NE(r.table.find("compliance (oracle, temperature 0.7)"), std::string::npos) << r.table;
  EXPECT_NE(r.table.find("compliance (oracle, temperature 0.7) on held.jsonl"), std::string::npos)
      << r.table;
}

// rl.rm.samples: the reward model learns from responses the model RL starts from samples
// (k per train prompt) and judges, not from the Phase 1 pairs.
TEST_F(LoopRun, RewardModelOnSampledPairsOfThePolicy) {
  LoopOptions o;
  o.config = config("rl-sampled");
  o.config.rounds = 1;
  o.config.dpo.enabled = false;
  o.config.label.ensemble = -1;
  o.config.rl.enabled = true;
  o.config.rl.rl.steps = 1;
  o.config.rl.rl.prompts_per_rollout = 2;
  o.config.rl.rl.samples_per_prompt = 2;
  o.config.rl.rl.max_new_tokens = 8;
  o.config.rl.rl.reward_norm = train::RewardNorm::batch;
  o.config.rl.rm.train.epochs = 1;
  o.config.rl.rm.data.max_length = 256;
  o.config.rl.rm.samples = 2;
  o.config.rl.rm.min_accuracy = 0;  // RL runs whatever the tiny reward model learnt
  o.progress = false;
  run_loop(o);
  const fs::path run = kDir / "rl-sampled";
  const auto labels = read_jsonl(run / "round-1/rm_labels.jsonl");
  EXPECT_EQ(labels.size(),
            count_lines(kDir / "world/prompts/train.jsonl"));  // best-worst of 2: one pair each
  const auto settings = read_json(run / "round-1/rm_labels.jsonl.settings.json")["settings"];
  EXPECT_EQ(settings["samples"], 2);
  EXPECT_EQ(settings.value("policy", ""), (run / "round-1/sft/final").string());
  EXPECT_EQ(settings.value("judge", ""), (run / "round-1/sft/final").string());
  EXPECT_LE(count_lines(run / "round-1/rm_data.jsonl"),
            labels.size());  // ties and equal texts left out
  EXPECT_TRUE(fs::exists(run / "round-1/rm/final/config.json"));
  EXPECT_TRUE(fs::exists(run / "round-1/rl/final/model.safetensors"));
  EXPECT_EQ(read_json(run / "round-1/round.json")["model"], (run / "round-1/rl/final").string());
}

// rl.reward judge: GRPO against the constitution judge's p(follows), the base model judging;
// no reward model is trained, and a rerun redoes nothing.
TEST_F(LoopRun, RlAgainstTheJudgeTrainsNoRewardModel) {
  LoopOptions o;
  o.config = config("rl-judge");
  o.config.rounds = 1;
  o.config.dpo.enabled = false;
  o.config.rl.enabled = true;
  o.config.rl.reward = RlReward::judge;
  o.config.rl.judge = "base";
  o.config.rl.rl.algorithm = train::RlAlgorithm::grpo;
  o.config.rl.rl.steps = 2;
  o.config.rl.rl.prompts_per_rollout = 2;
  o.config.rl.rl.samples_per_prompt = 2;
  o.config.rl.rl.max_new_tokens = 8;
  o.progress = false;
  const LoopResult r = run_loop(o);
  const fs::path run = kDir / "rl-judge";
  EXPECT_TRUE(fs::exists(run / "round-1/rl/final/model.safetensors"));
  for (const char* f : {"round-1/rm", "round-1/rm_labels.jsonl", "round-1/rm_data.jsonl"})
    EXPECT_FALSE(fs::exists(run / f)) << f;
  const auto metrics = read_jsonl(run / "round-1/rl/metrics.jsonl");
  ASSERT_EQ(metrics.size(), 2u);
  // The score is a probability: the judge's p(follows), averaged over the principles.
  for (const auto& m : metrics) {
    EXPECT_GT(m["score"].get<double>(), 0.0) << m.dump();
    EXPECT_LT(m["score"].get<double>(), 1.0) << m.dump();
  }
  const auto note = read_json(run / "round-1/stages.json")["notes"]["rl"];
  EXPECT_EQ(note["reward"], "judge") << note.dump();
  EXPECT_EQ(note["judge"], (kDir / "base").string()) << note.dump();
  EXPECT_EQ(read_json(run / "round-1/round.json")["model"], (run / "round-1/rl/final").string());
  EXPECT_TRUE(std::find(r.ran.begin(), r.ran.end(), "round-1/rl") != r.ran.end());
  const LoopResult again = run_loop(o);
  EXPECT_TRUE(again.ran.empty()) << again.ran.front();

  // Launched as two ranks (`cai loop --nproc 2`), each rank loads the judge itself.
  o.config.out = (kDir / "rl-judge-ranks").string();
  const fs::path yaml = kDir / "rl-judge-ranks.yaml";
  { std::ofstream(yaml) << o.config.to_yaml(); }
  o.launch_training = [&](const TrainingStage& st) {
    const auto res = testing_util::run_cai(
        "loop --config " + yaml.string() + " --nproc 2 -q --run-stage " + st.stage +
        " --stage-round " + std::to_string(st.round) + " --stage-model " + st.model);
    ASSERT_EQ(res.code, 0) << res.out;
  };
  run_loop(o);
  const auto ranks = read_jsonl(kDir / "rl-judge-ranks/round-1/rl/metrics.jsonl");
  ASSERT_EQ(ranks.size(), 2u);
  EXPECT_GT(ranks.front()["score"].get<double>(), 0.0);
  EXPECT_EQ(read_json(kDir / "rl-judge-ranks/round-1/stages.json")["notes"]["rl"]["reward"],
            "judge");
}

// An on-policy round: Phase 2 pairs from two responses per prompt sampled from the round's
// policy and judged by the base model, SFT under the token-wise constraint towards the base
// model, DPO against the base model. At DPO's first step its policy (the SFT model) already
// differs from that reference, so the implicit rewards are far from the ~1e-7 of a DPO whose
// reference is its own starting point.
TEST_F(LoopRun, OnPolicyRoundWithAFixedJudgeAndReference) {
  LoopOptions o;
  o.config = config("onpolicy");
  o.config.rounds = 1;
  o.config.label.samples = 2;
  o.config.label.judge = "base";
  o.config.dpo.reference = "base";
  o.config.sft.token_constraint.enabled = true;
  o.config.sft.ref_model = "base";
  o.stop_after = "round-1/dpo";
  o.progress = false;
  EXPECT_EQ(run_loop(o).stopped, "stop_after");
  const fs::path rd = kDir / "onpolicy" / "round-1";
  const auto settings = read_json(rd / "labels.jsonl.settings.json")["settings"];
  EXPECT_EQ(settings["samples"], 2);
  EXPECT_EQ(settings.value("judge", ""), (kDir / "base").string());
  const auto notes = read_json(rd / "stages.json")["notes"];
  EXPECT_EQ(notes["phase2"]["pairs"].get<std::size_t>(), count_lines(rd / "labels.jsonl"));
  EXPECT_TRUE(notes["phase2"].contains("equal_texts_skipped"));
  // The constrained objective logs the plain cross-entropy beside its loss.
  const auto sft = read_jsonl(rd / "sft" / "metrics.jsonl");
  ASSERT_FALSE(sft.empty());
  EXPECT_TRUE(sft.front().contains("nll"));
  const auto dpo = read_jsonl(rd / "dpo" / "metrics.jsonl");
  ASSERT_FALSE(dpo.empty());
  EXPECT_GT(std::abs(dpo.front()["rewards/chosen"].get<double>()), 1e-4);
}

// Recovery rows join the SFT data; after the last round the probe measures a round's model
// (here the last: the fixture's judge may rate round 0 best) against the base into
// probe/probe.json, once.
TEST_F(LoopRun, RecoveryRowsAndTheProbeOfARound) {
  LoopOptions o = sft_round("probe");
  o.config.sft.recovery_examples = 5;
  o.config.probe.enabled = true;
  o.config.probe.model = ProbeModel::last;
  o.config.probe.probe.prefill_opts.ks = {2};
  o.config.probe.probe.finetune_opts.ns = {2};
  const LoopResult r = run_loop(o);
  const fs::path run = kDir / "probe";
  std::size_t recovery = 0;
  {
    std::istringstream in(slurp(run / "round-1/sft_data.jsonl"));
    for (std::string line; std::getline(in, line);)
      recovery += line.find("actually, let me correct that") != std::string::npos;
  }
  EXPECT_EQ(recovery, 5u);
  const fs::path probe = run / "probe/probe.json";
  ASSERT_TRUE(fs::exists(probe));
  const auto j = read_json(probe);
  EXPECT_EQ(j["aligned"], r.summary["rounds"][1]["model"]);
  for (const char* k : {"kl", "prefill", "finetune"}) EXPECT_TRUE(j.contains(k)) << k;
  const auto when = fs::last_write_time(probe);
  run_loop(o);
  EXPECT_EQ(fs::last_write_time(probe), when);
}

// recovery_from: phase1 takes the violating starts from the round's own Phase 1 records: each
// row opens with the first words of a revised record's initial response and returns to its
// revision.
TEST_F(LoopRun, RecoveryRowsFromPhase1) {
  LoopOptions o = sft_round("recovery-phase1");
  o.config.sft.recovery_examples = 4;
  o.config.sft.recovery_from = RecoverySource::phase1;
  run_loop(o);
  const fs::path rd = kDir / "recovery-phase1" / "round-1";
  const auto pairs = cai::pipeline::read_phase1_pairs(rd / "critique_revise.jsonl");
  const std::string connector = cai::pipeline::Phase1RecoveryOptions{}.connector;
  std::size_t rows = 0;
  for (const auto& j : read_jsonl(rd / "sft_data.jsonl")) {
    if (!j.contains("completion")) continue;
    // The start is given in the prompt; the completion is the connector and the revision.
    const std::string start = j["prompt"][1]["content"];
    const std::string completion = j["completion"][0]["content"];
    ASSERT_EQ(completion.rfind(connector, 0), 0u) << completion;
    ++rows;
    const std::string rest = completion.substr(connector.size());
    const bool from_a_record =
        std::any_of(pairs.begin(), pairs.end(), [&](const cai::pipeline::PairInput& p) {
          return p.a != p.b && p.a.starts_with(start) && p.b == rest &&
                 p.prompt == j["prompt"][0]["content"];
        });
    EXPECT_TRUE(from_a_record) << start << completion;
  }
  EXPECT_EQ(rows, 4u);
}

// Deepening after the round's SFT: its data is the recovery rows, then the round's SFT data;
// its constrained SFT starts from the round's model so far, and its model is the round's (the
// one evaluated). A run stopped right after it evaluates without training again.
TEST_F(LoopRun, DeepeningAfterTheRoundsAlignment) {
  LoopOptions o = sft_round("deepen");
  o.config.deepen.enabled = true;
  o.config.deepen.examples = 3;
  o.config.deepen.train.epochs = 1;
  o.config.deepen.train.token_budget = 2048;
  o.config.deepen.data.max_length = 256;
  o.config.probe.enabled = true;
  o.config.probe.model = ProbeModel::last;
  o.config.probe.probe.prefill_opts.ks = {2};
  o.config.probe.probe.finetune_opts.ns = {2};
  o.stop_after = "round-1/deepen";
  EXPECT_EQ(run_loop(o).stopped, "stop_after");
  const fs::path run = kDir / "deepen", rd = run / "round-1";
  EXPECT_FALSE(fs::exists(rd / "eval.json"));
  const std::string sft_data = slurp(rd / "sft_data.jsonl");
  const std::string data = slurp(rd / "deepen_data.jsonl");
  const auto rows = read_jsonl(rd / "deepen_data.jsonl");
  ASSERT_EQ(rows.size(), 3 + read_jsonl(rd / "sft_data.jsonl").size());
  for (std::size_t i = 0; i < 3; ++i) {
    // The violating start is given in the prompt; the completion is the return.
    ASSERT_TRUE(rows[i].contains("completion")) << rows[i].dump();
    EXPECT_EQ(rows[i]["prompt"].back()["role"], "assistant");
  }
  EXPECT_EQ(data.substr(data.size() - sft_data.size()), sft_data);
  const auto notes = read_json(rd / "stages.json")["notes"];
  EXPECT_EQ(notes["deepen_data"]["examples"].get<std::size_t>(), rows.size());
  EXPECT_EQ(notes["deepen"]["from"], (rd / "sft" / "final").string());
  // The constrained objective logs the plain cross-entropy beside its loss.
  const auto metrics = read_jsonl(rd / "deepen" / "metrics.jsonl");
  ASSERT_FALSE(metrics.empty());
  EXPECT_TRUE(metrics.front().contains("nll"));

  o.stop_after.clear();
  const LoopResult r = run_loop(o);
  EXPECT_EQ(r.summary["rounds"][1]["model"], (rd / "deepen" / "final").string());
  const auto ran = r.ran;
  EXPECT_EQ(std::count(ran.begin(), ran.end(), "round-1/deepen"), 0);
  EXPECT_EQ(std::count(ran.begin(), ran.end(), "round-1/eval"), 1);
  // The probe of the deepened model, and the same probe of the model before deepening.
  EXPECT_EQ(read_json(run / "probe/probe.json")["aligned"], (rd / "deepen" / "final").string());
  EXPECT_EQ(read_json(run / "probe/before-deepen/probe.json")["aligned"],
            (rd / "sft" / "final").string());
}

// The base model's stages through an OpenAI-compatible server (`cai serve` of the same model):
// round 0's evaluation and quality, Phase 1 and Phase 2 of round 1 equal the in-process run,
// greedy throughout (labels and log-likelihoods within float noise). Critique verdicts are left
// out: for an option like " follows ..." the HTTP backend sums every listed token that starts
// its distinguishing text ("f", "fo", "follows"), which under this 300-token vocabulary is a
// different number from the one token the local backend reads; (A) / (B) are one letter.
TEST_F(LoopRun, BaseModelStagesThroughAnApiEqualInProcess) {
  testing_util::ServeProcess server(
      {(kDir / "base").string(), "--model-name", "base", "--max-top-logprobs", "300"});
  ASSERT_GT(server.port, 0);
  auto run = [&](const std::string& name, bool api) {
    LoopConfig c = config(name);
    c.rounds = 1;
    c.quality.metric = QualityMetric::oracle;
    c.quality.temperature = 0;
    c.critique_revise.temperature = 0;
    c.eval.world.temperature = 0;
    c.eval.world.critiques = false;
    // The fixture's vocabulary has 300 tokens: every option token is among the top 300.
    if (api)
      c.api = parse_loop_config("name: x\napi: {base_url: " + server.base_url() +
                                    ", model: base, top_logprobs: 300, concurrency: 4}\n",
                                "api.yaml")
                  .api;
    if (api) {
      EXPECT_EQ(c.api.top_logprobs, 300);
    }
    LoopOptions o;
    o.config = c;
    o.progress = false;
    o.stop_after = "round-1/phase2";
    EXPECT_EQ(run_loop(o).stopped, "stop_after");
    return kDir / name;
  };
  const fs::path local = run("local", false), remote = run("remote", true);

  const auto e_local = read_json(local / "round-0/eval.json"),
             e_remote = read_json(remote / "round-0/eval.json");
  for (const char* k : {"compliance", "comparison_agreement", "responses"})
    EXPECT_EQ(e_remote[k], e_local[k]) << k;
  const auto& quiz_local = e_local["results"]["world-quiz"];
  EXPECT_NEAR(e_remote["results"]["world-quiz"]["acc"].get<double>(),
              quiz_local["acc"].get<double>(), 1e-9);
  EXPECT_NEAR(read_json(remote / "round-0/quality.json")["quality"].get<double>(),
              read_json(local / "round-0/quality.json")["quality"].get<double>(), 1e-4);

  const auto p_local = read_jsonl(local / "round-1/critique_revise.jsonl");
  const auto p_remote = read_jsonl(remote / "round-1/critique_revise.jsonl");
  ASSERT_EQ(p_remote.size(), p_local.size());
  ASSERT_GT(p_local.size(), 0u);
  for (std::size_t i = 0; i < p_local.size(); ++i)
    for (const char* k : {"prompt", "init_response", "rounds", "chosen", "rejected", "messages"})
      EXPECT_EQ(p_remote[i][k], p_local[i][k]) << "row " << i << " " << k;

  const auto l_local = read_jsonl(local / "round-1/labels.jsonl");
  const auto l_remote = read_jsonl(remote / "round-1/labels.jsonl");
  ASSERT_EQ(l_remote.size(), l_local.size());
  for (std::size_t i = 0; i < l_local.size(); ++i) {
    EXPECT_EQ(l_remote[i]["chosen"], l_local[i]["chosen"]) << i;
    EXPECT_NEAR(l_remote[i]["p_chosen"].get<double>(), l_local[i]["p_chosen"].get<double>(), 1e-4)
        << i;
  }
}

// `cai loop --nproc 2`: each training stage runs as two ranks (here launched the way the CLI
// does, through `cai loop --run-stage`), each at half the token budget of a one-process run,
// so SFT and DPO take the same steps: the same losses, and the round completes.
TEST_F(LoopRun, TrainingStagesOnTwoRanksEqualOneProcess) {
  auto make = [](const std::string& name, std::int64_t budget) {
    LoopOptions o;
    o.config = config(name);
    o.config.rounds = 1;
    o.config.sft.train.token_budget = budget;
    o.config.dpo.train.token_budget = budget;
    o.progress = false;
    return o;
  };
  const LoopOptions one = make("one-rank", 512);
  run_loop(one);
  LoopOptions two = make("two-ranks", 256);
  const fs::path yaml = kDir / "two-ranks.yaml";
  { std::ofstream(yaml) << two.config.to_yaml(); }
  std::vector<std::string> launched;
  two.launch_training = [&](const TrainingStage& st) {
    launched.push_back(st.stage);
    const auto r = testing_util::run_cai(
        "loop --config " + yaml.string() + " --nproc 2 -q --run-stage " + st.stage +
        " --stage-round " + std::to_string(st.round) + " --stage-model " + st.model);
    ASSERT_EQ(r.code, 0) << r.out;
  };
  run_loop(two);
  EXPECT_EQ(launched, (std::vector<std::string>{"sft", "dpo"}));
  for (const char* stage : {"sft", "dpo"}) {
    const auto a = read_jsonl(kDir / "one-rank/round-1" / stage / "metrics.jsonl");
    const auto b = read_jsonl(kDir / "two-ranks/round-1" / stage / "metrics.jsonl");
    ASSERT_EQ(a.size(), b.size()) << stage;
    ASSERT_FALSE(a.empty()) << stage;
    for (std::size_t i = 0; i < a.size(); ++i)
      EXPECT_NEAR(a[i]["loss"].get<double>(), b[i]["loss"].get<double>(), 1e-5)
          << stage << " line " << i + 1;
    EXPECT_EQ(read_json(kDir / "two-ranks/round-1" / stage / "checkpoint/state.json")["world_size"],
              2);
  }
  EXPECT_TRUE(fs::exists(kDir / "two-ranks/round-1/eval.json"));
}

}  // namespace
}  // namespace cai::loop
