// The loop config: defaults live in the structs, the file overrides them; unknown keys, wrong
// types and bad values are errors naming the file, the line and the field; the resolved config
// prints as YAML that parses back to the same config. Also the early-stop rule.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/loop/config.h"
#include "cai/loop/loop.h"
#include "cai/loop/manifest.h"
#include "cai/pipeline/label.h"

namespace cai::loop {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(CAI_TEST_TMPDIR) / ("loop-config-" + std::to_string(::getpid()));

fs::path write(const std::string& name, const std::string& text) {
  fs::create_directories((kDir / name).parent_path());
  std::ofstream(kDir / name) << text;
  return kDir / name;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Files the validation looks for.
void make_inputs() {
  fs::create_directories(kDir / "base");
  write("base/config.json", "{}");
  write("constitution.yaml", "name: x\n");
  write("train.jsonl", "{\"prompt\": \"hi\"}\n");
  write("eval.jsonl", "{\"prompt\": \"hi\"}\n");
}

std::string good_config() {
  return "name: demo\n"
         "base_model: " +
         (kDir / "base").string() +
         "\n"
         "constitution: " +
         (kDir / "constitution.yaml").string() +
         "\n"
         "prompts: {train: " +
         (kDir / "train.jsonl").string() + ", eval: " + (kDir / "eval.jsonl").string() +
         "}\n"
         "rounds: 2\n"
         "sft:\n"
         "  lr: 3e-4\n"
         "  corpus_mix: 0.0\n"
         "  lora: {rank: 4, targets: [q_proj, v_proj]}\n"
         "dpo: {enabled: false}\n"
         "quality: {factor: 0.9}\n"
         "critique_revise: {critique_temperature: 0, min_violation_p: 0.7}\n";
}

TEST(LoopManifest, KeysALaterVersionAddedAtTheirDefaultsAreNoChange) {
  make_inputs();
  LoopConfig c = parse_loop_config(good_config(), "loop.yaml");
  c.resolve(kDir);
  c.out = (kDir / "manifest-run").string();
  fs::remove_all(c.out);
  write_manifest(c);
  const fs::path path = fs::path(c.out) / "manifest.json";
  const auto edit = [&](const std::function<void(nlohmann::json&)>& f) {
    nlohmann::json m = nlohmann::json::parse(std::ifstream(path));
    f(m["config"]);
    std::ofstream(path) << m.dump();
  };
  // A manifest written before dpo.token_constraint existed: the run resumes.
  edit([](nlohmann::json& j) { j["dpo"].erase("token_constraint"); });
  EXPECT_NO_THROW(write_manifest(c));
  // The key set otherwise now is a change.
  edit([](nlohmann::json& j) { j["dpo"].erase("token_constraint"); });
  LoopConfig on = c;
  on.dpo.dpo.rpo_alpha = 1.0;
  on.dpo.token_constraint.enabled = true;
  EXPECT_NE(error_of([&] { write_manifest(on); }).find("another configuration"), std::string::npos);
  // So is a key the manifest has with another value.
  LoopConfig beta = c;
  beta.dpo.dpo.loss.beta = 0.2;
  EXPECT_NE(error_of([&] { write_manifest(beta); }).find("/dpo/beta"), std::string::npos);
  fs::remove_all(c.out);
}

// A judge named by path is an input like the base model: replaced between a kill and the resume,
// the run refuses to go on. A manifest written before judges were recorded records them.
TEST(LoopManifest, AJudgeReplacedUnderItsPathRefusesTheResume) {
  make_inputs();
  const fs::path judge = kDir / "judge-model";
  fs::create_directories(judge);
  std::ofstream(judge / "config.json") << "{\"hidden_size\": 8}";
  LoopConfig c = parse_loop_config(good_config(), "loop.yaml");
  c.resolve(kDir);
  c.out = (kDir / "manifest-judge").string();
  c.quality.judge = judge.string();
  fs::remove_all(c.out);
  write_manifest(c);
  const fs::path path = fs::path(c.out) / "manifest.json";
  nlohmann::json m = nlohmann::json::parse(std::ifstream(path));
  ASSERT_TRUE(m["inputs"].contains("quality.judge/config.json")) << m["inputs"].dump();
  m["inputs"].erase("quality.judge/config.json");
  std::ofstream(path) << m.dump();
  EXPECT_NO_THROW(write_manifest(c));
  EXPECT_TRUE(
      nlohmann::json::parse(std::ifstream(path))["inputs"].contains("quality.judge/config.json"));
  std::ofstream(judge / "config.json") << "{\"hidden_size\": 16}";
  EXPECT_NE(error_of([&] { write_manifest(c); })
                .find("input quality.judge/config.json (" + (judge / "config.json").string() +
                      ") changed since the run started"),
            std::string::npos);
  fs::remove_all(c.out);
}

TEST(LoopConfig, DefaultsAndOverrides) {
  make_inputs();
  LoopConfig c = parse_loop_config(good_config(), "loop.yaml");
  EXPECT_EQ(c.name, "demo");
  EXPECT_EQ(c.rounds, 2);
  EXPECT_DOUBLE_EQ(c.sft.train.lr, 3e-4);
  EXPECT_EQ(c.sft.train.epochs, 2);  // default kept
  EXPECT_EQ(c.sft.lora.rank, 4);
  EXPECT_FALSE(c.dpo.enabled);
  EXPECT_DOUBLE_EQ(c.dpo.dpo.loss.beta, 0.1);
  EXPECT_DOUBLE_EQ(c.quality.factor, 0.9);
  EXPECT_EQ(c.quality.metric, QualityMetric::winrate);
  EXPECT_EQ(c.quality.ensemble, -1);
  EXPECT_TRUE(c.quality.judge.empty());  // the base model judges
  EXPECT_EQ(c.critique_revise.rounds, 3);
  EXPECT_DOUBLE_EQ(c.critique_revise.critique_temperature, 0.0);
  EXPECT_DOUBLE_EQ(c.critique_revise.min_violation_p, 0.7);
  EXPECT_LT(c.critique_revise.revision_temperature, 0.0);  // default: the responses' temperature
  EXPECT_EQ(c.eval.world.split, "test");
  EXPECT_EQ(c.sft.init, SftInit::previous);
  EXPECT_LT(c.eval.sampled_temperature, 0.0);  // no second, sampled evaluation
  // Every round's policy labels its own pairs and anchors its own DPO (the keys' defaults).
  EXPECT_EQ(c.label.judge, "policy");
  EXPECT_EQ(c.dpo.reference, "policy");
  EXPECT_FALSE(c.sft.token_constraint.enabled);
  EXPECT_EQ(c.sft.ref_model, "policy");
  EXPECT_EQ(c.source.lines.at("sft.lr"), 7);
  c.resolve(kDir);
  EXPECT_EQ(c.out, (kDir / "runs" / "demo").string());
  EXPECT_NO_THROW(c.validate());
}

TEST(LoopConfig, YamlRoundTrip) {
  make_inputs();
  LoopConfig c = parse_loop_config(good_config(), "loop.yaml");
  c.resolve(kDir);
  LoopConfig back = parse_loop_config(c.to_yaml(), "printed.yaml");
  back.resolve(kDir);
  EXPECT_EQ(back.to_json(), c.to_json());
}

// The keys that name a model keep their keywords and make a path absolute, through YAML and
// back; the constraint's settings come back with them.
TEST(LoopConfig, ModelKeysAndTheTokenConstraintRoundTrip) {
  make_inputs();
  const std::string text =
      "name: demo\n"
      "base_model: " +
      (kDir / "base").string() +
      "\n"
      "constitution: constitution.yaml\n"
      "prompts: {train: train.jsonl, eval: eval.jsonl}\n"
      "label: {samples: 4, judge: base, temperature: 0.8}\n"
      "dpo: {reference: ./base}\n"
      "sft:\n"
      "  token_constraint: {enabled: true, beta: 0.2, first_token_bias: 4, bias: 10,\n"
      "                     bias_length: 3}\n"
      "  ref_model: base\n";
  LoopConfig c = parse_loop_config(text, "loop.yaml");
  c.resolve(kDir);
  EXPECT_NO_THROW(c.validate());
  const auto j = c.to_json();
  EXPECT_EQ(j["label"]["judge"], "base");
  EXPECT_EQ(c.label.temperature, 0.8);  // Phase 2's sampling
  EXPECT_EQ(j["dpo"]["reference"], (kDir / "base").string());
  EXPECT_EQ(j["sft"]["ref_model"], "base");
  EXPECT_EQ(j["sft"]["token_constraint"], (nlohmann::json{{"enabled", true},
                                                          {"beta", 0.2},
                                                          {"first_token_bias", 4.0},
                                                          {"bias", 10.0},
                                                          {"bias_length", 3}}));
  EXPECT_EQ(c.source.lines.at("sft.token_constraint.bias_length"), 9);
  LoopConfig back = parse_loop_config(c.to_yaml(), "printed.yaml");
  back.resolve(kDir);
  EXPECT_EQ(back.to_json(), j);
  EXPECT_EQ(back.dpo.reference, (kDir / "base").string());
  EXPECT_EQ(back.label.judge, "base");
}

// The shipped configs read and validate against a world's layout (runs/base, runs/world);
// three-rounds.yaml is the on-policy loop.
TEST(LoopConfig, ExampleConfigsAreValid) {
  const fs::path examples = fs::path(CAI_TEST_SOURCE_DIR) / ".." / ".." / "examples" / "loop";
  const fs::path cwd = kDir / "examples";
  write("examples/runs/base/config.json", "{}");
  write("examples/runs/world/constitution.yaml", "name: x\n");
  write("examples/runs/world/prompts/train.jsonl", "{\"prompt\": \"hi\"}\n");
  write("examples/runs/world/prompts/eval.jsonl", "{\"prompt\": \"hi\"}\n");
  write("examples/runs/world/corpus/pretrain.txt", "text\n");
  write("examples/examples/world/handwritten.jsonl", "{}\n");  // the repository's, from its root
  for (const char* name : {"demo.yaml", "three-rounds.yaml"}) {
    LoopConfig c = load_loop_config(examples / name);
    c.resolve(cwd);
    EXPECT_NO_THROW(c.validate()) << name;
    EXPECT_EQ(c.eval.heldout, (cwd / "examples/world/handwritten.jsonl").string()) << name;
  }
  LoopConfig c = load_loop_config(examples / "three-rounds.yaml");
  EXPECT_EQ(c.name, "three-rounds");
  EXPECT_EQ(c.out, "runs/three-rounds");
  EXPECT_EQ(c.rounds, 3);
  EXPECT_EQ(c.quality.metric, QualityMetric::winrate);
  EXPECT_GE(c.label.samples, 2);
  EXPECT_EQ(c.label.judge, "base");
  EXPECT_EQ(c.dpo.reference, "base");
  EXPECT_TRUE(c.dpo.enabled);
}

TEST(LoopConfig, WorldGivesDefaults) {
  fs::create_directories(kDir / "w");
  LoopConfig c = parse_loop_config("name: a\nworld: w\nbase_model: b\n", "x.yaml");
  c.resolve(kDir);
  EXPECT_EQ(c.constitution, (kDir / "w" / "constitution.yaml").string());
  EXPECT_EQ(c.prompts.train, (kDir / "w" / "prompts" / "train.jsonl").string());
  EXPECT_EQ(c.prompts.eval, (kDir / "w" / "prompts" / "eval.jsonl").string());
  EXPECT_EQ(c.sft.corpus, (kDir / "w" / "corpus" / "pretrain.txt").string());
}

TEST(LoopConfig, ErrorsNameFileLineAndField) {
  make_inputs();
  struct Case {
    std::string yaml, expect;
  };
  const std::vector<Case> reading = {
      {"name: a\nsft:\n  lr: 1e-4\n  lrr: 2\n", "loop.yaml:4: sft.lrr: unknown key 'lrr'"},
      {"name: a\nrounds: three\n", "loop.yaml:2: rounds: 'three' is not an integer"},
      {"name: a\nsft: {enabled: maybe}\n",
       "loop.yaml:2: sft.enabled: 'maybe' is not true or false"},
      {"name: a\nrounds: 1\nrounds: 2\n", "loop.yaml:3: rounds: key given twice"},
      {"name: a\nquality: 3\n", "quality: must be a mapping"},
      {"name: [a\n", "loop.yaml:"},
      {"name: a\neval: {tasks_files: {a: 1}}\n", "loop.yaml:2: eval.tasks_files: must be a list"},
      {"name: a\nsft:\n  token_constraint:\n    betta: 1\n",
       "loop.yaml:4: sft.token_constraint.betta: unknown key 'betta'"},
      {"name: a\ndpo: {reference: [base]}\n", "loop.yaml:2: dpo.reference: must be a single value"},
  };
  for (const auto& c : reading) {
    const auto msg = error_of([&] { parse_loop_config(c.yaml, "loop.yaml"); });
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.yaml << " -> " << msg;
  }
  // Value rules, checked by validate() with the line the key was read from.
  const std::vector<Case> values = {
      {"sft:\n  lr: -1\n", "loop.yaml:13: sft.lr: must be > 0"},
      {"quality: {metric: oracle}\n", "loop.yaml:12: quality.metric: oracle needs a world"},
      {"quality: {metric: best}\n", "quality.metric: 'best' is not one of winrate, judge, oracle"},
      {"quality: {ensemble: -2}\n", "loop.yaml:12: quality.ensemble: must be >= -1"},
      {"quality: {judge: no-such-judge}\n", "loop.yaml:12: quality.judge: "},
      {"dpo: {loss: squared}\n", "dpo.loss: 'squared' is not one of"},
      {"label: {samples: 1}\n", "loop.yaml:12: label.samples: must be 0"},
      {"label: {temperature: 0}\n", "loop.yaml:12: label.temperature: must be > 0"},
      {"critique_revise: {principles: all}\n", "critique_revise.principles"},
      {"rounds: -1\n", "rounds: must be >= 0"},
      {"rl: {enabled: true, reward_norm: whiten}\n",
       "rl.reward_norm: 'whiten' is not one of none, batch, running"},
      {"rl: {enabled: true, rm: {samples: 1}}\n", "loop.yaml:12: rl.rm.samples: must be 0"},
      {"rl: {enabled: true, rm: {min_accuracy: 1}}\n", "loop.yaml:12: rl.rm.min_accuracy"},
      {"rl: {enabled: true, rm: {eval_fraction: -0.1}}\n", "loop.yaml:12: rl.rm.eval_fraction"},
      {"sft: {init: scratch}\n", "loop.yaml:12: sft.init: 'scratch' is not one of previous, base"},
      {"sft: {only_preferred_revisions: true}\nlabel: {samples: 4}\n",
       "sft.only_preferred_revisions: needs Phase 2"},
      {"label: {judge: no-such-judge}\n",
       "loop.yaml:12: label.judge: " + (kDir / "no-such-judge").string() + " does not exist"},
      {"label: {judge: \"\"}\n", "loop.yaml:12: label.judge: must be policy, base or a model path"},
      {"dpo: {reference: no-such-model}\n",
       "loop.yaml:12: dpo.reference: " + (kDir / "no-such-model").string() + " does not exist"},
      {"sft: {ref_model: base}\n",
       "loop.yaml:12: sft.ref_model: is the token constraint's reference: it needs "
       "sft.token_constraint.enabled"},
      {"sft: {token_constraint: {enabled: true, beta: 0}}\n",
       "loop.yaml:12: sft.token_constraint.beta: must be > 0"},
      {"sft:\n  token_constraint:\n    enabled: true\n    bias_length: -1\n",
       "loop.yaml:15: sft.token_constraint.bias_length: must be >= 0"},
      {"sft: {token_constraint: {enabled: true}, ref_model: nowhere}\n",
       "loop.yaml:12: sft.ref_model: " + (kDir / "nowhere").string() + " does not exist"},
      {"rl: {enabled: true, ptx_coef: 0.5}\nsft: {enabled: false}\n",
       "loop.yaml:12: rl.ptx_coef: uses the round's SFT data: it needs sft.enabled"},
      {"rl: {enabled: true, ptx_coef: -1}\n", "loop.yaml:12: rl.ptx_coef: must be >= 0"},
      {"rl: {enabled: true, reward: critic}\n", "rl.reward: 'critic' is not one of model, judge"},
      {"rl: {enabled: true, reward: judge, judge: no-such-judge}\n",
       "loop.yaml:12: rl.judge: " + (kDir / "no-such-judge").string() + " does not exist"},
      {"rl: {enabled: true, reward: judge, judge_reward: {ensemble: -2}}\n",
       "loop.yaml:12: rl.judge_reward.ensemble: must be >= -1"},
      {"rl: {enabled: true, reward: judge, judge_reward: {min_violation_p: 1}}\n",
       "loop.yaml:12: rl.judge_reward.min_violation_p"},
      {"eval: {heldout: nowhere.jsonl}\n",
       "eval.heldout: " + (kDir / "nowhere.jsonl").string() + " does not exist"},
      {"sft: {recovery_examples: 5}\n",
       "loop.yaml:12: sft.recovery_examples: with recovery_from: world needs a world (or use "
       "phase1)"},
      {"sft: {recovery_examples: 5, recovery_from: corpus}\n",
       "loop.yaml:12: sft.recovery_from: 'corpus' is not one of world, phase1"},
      {"deepen: {enabled: true}\n",
       "loop.yaml:12: deepen.from: world needs a world (or use phase1)"},
      {"deepen: {enabled: true, from: phase1}\nsft: {enabled: false}\n",
       "deepen.sft_data: rehearses the round's SFT data: it needs sft.enabled"},
      {"deepen: {enabled: true, from: phase1, examples: 0}\n",
       "loop.yaml:12: deepen.examples: must be >= 1"},
  };
  // The same four required lines, padding, then each case from line 12.
  auto check_config = [&](const std::string& tail) {
    std::string text =
        "name: demo\n"
        "base_model: " +
        (kDir / "base").string() +
        "\n"
        "constitution: " +
        (kDir / "constitution.yaml").string() +
        "\n"
        "prompts: {train: " +
        (kDir / "train.jsonl").string() + ", eval: " + (kDir / "eval.jsonl").string() + "}\n";
    for (int line = 5; line < 12; ++line) text += "# pad\n";
    LoopConfig cfg = parse_loop_config(text + tail, "loop.yaml");
    cfg.resolve(kDir);
    cfg.validate();
  };
  for (const auto& c : values) {
    const auto msg = error_of([&] { check_config(c.yaml); });
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.yaml << " -> " << msg;
  }
  // Recovery rows from Phase 1 need no world.
  EXPECT_NO_THROW(check_config("sft: {recovery_examples: 5, recovery_from: phase1}\n"));
  // Deepening is enough to train.
  EXPECT_NO_THROW(
      check_config("deepen: {enabled: true, from: phase1, sft_data: false}\nsft: {enabled: false}\n"
                   "dpo: {enabled: false}\n"));
  // Missing files are named with the field.
  const auto msg = error_of([&] {
    LoopConfig cfg =
        parse_loop_config("name: a\nbase_model: nowhere\nconstitution: none.yaml\n", "l.yaml");
    cfg.resolve(kDir);
    cfg.validate();
  });
  EXPECT_NE(msg.find("l.yaml:2: base_model: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(LoopConfig, PrintConfigCommand) {
  make_inputs();
  const auto path = write("print.yaml", good_config());
  const std::string cmd = std::string(CAI_BINARY) + " loop --config " + path.string() +
                          " --print-config --rounds 5 --out " + (kDir / "elsewhere").string() +
                          " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  ASSERT_EQ(pclose(p), 0) << out;
  LoopConfig back = parse_loop_config(out, "printed");
  EXPECT_EQ(back.rounds, 5);
  EXPECT_EQ(back.out, (kDir / "elsewhere").string());
  EXPECT_DOUBLE_EQ(back.sft.train.lr, 3e-4);
  EXPECT_EQ(back.sft.train.epochs, 2);
  // Keys left at their defaults are printed too.
  for (const char* key : {"judge: policy", "reference: policy", "ref_model: policy",
                          "token_constraint:", "first_token_bias:"})
    EXPECT_NE(out.find(key), std::string::npos) << key << "\n" << out;
  // What --print-config prints loads back and prints the same, floats in their shortest form.
  back.resolve(kDir);
  EXPECT_EQ(back.to_yaml(), out);
  EXPECT_NE(out.find("min_violation_p: 0.7\n"), std::string::npos) << out;
}

// Each block is the library's options: a bound means the same in the loop as on its command.
TEST(LoopConfig, SameBoundsAsTheCommands) {
  make_inputs();
  auto msg = [&](const std::string& yaml) {
    return error_of([&] {
      LoopConfig c = parse_loop_config(good_config() + yaml, "loop.yaml");
      c.resolve(kDir);
      c.validate();
    });
  };
  EXPECT_NE(msg("label: {min_confidence: 0.5}\n").find("label.min_confidence: must be in [0, 0.5)"),
            std::string::npos);
  pipeline::LabelOptions label;
  label.min_confidence = 0.5;
  EXPECT_NE(error_of([&] { label.validate(); }).find("label.min_confidence: must be in [0, 0.5)"),
            std::string::npos);
  // One LoRA default everywhere: off (rank 0), alpha 16, dropout 0.05 on q_proj and v_proj.
  const LoopConfig c = parse_loop_config("name: a\n", "x.yaml");
  EXPECT_EQ(opt::to_json(c.sft.lora), opt::to_json(train::LoraOptions{}));
  EXPECT_EQ(opt::to_json(c.dpo.lora), opt::to_json(train::LoraOptions{}));
  // Options the library has and the loop did not spell out are there too.
  EXPECT_TRUE(c.to_json()["sft"].contains("warmup_ratio"));
  EXPECT_TRUE(c.to_json()["rl"].contains("kl_estimator"));
  EXPECT_FALSE(c.to_json()["sft"].contains("seed"));  // the loop seeds each round
}

// An RL-only config trains too: without a local base model it fails before any stage runs.
TEST(LoopConfig, RlOnlyConfigWithAnApiNeedsALocalModel) {
  make_inputs();
  const auto msg = error_of([&] {
    LoopConfig c = parse_loop_config(
        "name: a\n"
        "api: {base_url: http://127.0.0.1:1/v1, model: m}\n"
        "constitution: " +
            (kDir / "constitution.yaml").string() + "\nprompts: {train: " +
            (kDir / "train.jsonl").string() + ", eval: " + (kDir / "eval.jsonl").string() +
            "}\nsft: {enabled: false}\ndpo: {enabled: false}\nrl: {enabled: true}\n",
        "api.yaml");
    c.resolve(kDir);
    c.validate();
  });
  EXPECT_NE(msg.find("base_model: training needs a local model"), std::string::npos) << msg;
}

TEST(LoopEarlyStop, QualitySequences) {
  // 0.50 -> 0.60 -> 0.58 (>= 0.95 x 0.60 = 0.57, continue) -> 0.50 (< 0.551: stop after round 3).
  EXPECT_EQ(early_stop_round({0.5, 0.6, 0.58, 0.5}, 0.95), std::optional<std::size_t>(3));
  EXPECT_EQ(best_round({0.5, 0.6, 0.58, 0.5}), 1u);
  EXPECT_EQ(early_stop_round({0.5, 0.6, 0.7}, 0.95), std::nullopt);
  EXPECT_EQ(best_round({0.5, 0.6, 0.7}), 2u);
  // Exactly at the threshold continues; just under stops.
  EXPECT_EQ(early_stop_round({0.8, 0.4}, 0.5), std::nullopt);
  EXPECT_EQ(early_stop_round({0.8, 0.3999}, 0.5), std::optional<std::size_t>(1));
  // Round 0 can be the best; ties keep the earlier round.
  EXPECT_EQ(best_round({0.9, 0.5}), 0u);
  EXPECT_EQ(best_round({0.7, 0.7, 0.6}), 0u);
  // factor 1: any drop stops.
  EXPECT_EQ(early_stop_round({0.3, 0.4, 0.39}, 1.0), std::optional<std::size_t>(2));
  EXPECT_EQ(early_stop_round({0.4}, 0.95), std::nullopt);
}

}  // namespace
}  // namespace cai::loop
