// `cai train sft|dpo|rm` and `cai rm score` end to end on a tiny model with a tokenizer trained
// here, including a real SIGKILL of a training process and its exact resumption.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include "cli_train_fixture.h"

namespace fs = std::filesystem;

namespace {

using namespace cai::testing_util::train;
using cai::testing_util::CmdResult;
class CliTrain : public CliTrainFixture {};

}  // namespace

TEST_F(CliTrain, SftFullFineTuningLearnsAndWritesAModel) {
  const std::string run = out("sft");
  const CmdResult r =
      run_cmd("train sft --model " + model() + " --data " + data("sft.jsonl") + " --out " + run +
              " --max-steps 30 --lr 3e-3 --token-budget 128 --eval-fraction 0.2 --eval-every 10"
              " --warmup-steps 2 --threads 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("30 steps"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(fs::path(run) / "final" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(fs::path(run) / "final" / "config.json"));
  EXPECT_TRUE(fs::exists(fs::path(run) / "checkpoint" / "state.json"));
  const auto lines = train_lines(run);
  ASSERT_EQ(lines.size(), 30u);
  EXPECT_LT(lines.back()["loss"].get<double>(), 0.7 * lines.front()["loss"].get<double>());
  int evals = 0;
  for (auto& j : jsonl(fs::path(run) / "metrics.jsonl")) evals += j["split"] == "eval";
  EXPECT_EQ(evals, 3);  // steps 10, 20 and the end
  // The trained model loads and scores.
  EXPECT_EQ(run_cmd("model info " + run + "/final").code, 0);
}

TEST_F(CliTrain, SftWithLoraWritesAPeftAdapter) {
  const std::string run = out("sft_lora");
  const CmdResult r =
      run_cmd("train sft --model " + model() + " --data " + data("sft.jsonl") + " --out " + run +
              " --lora --lora-r 4 --lora-alpha 8 --lora-targets q_proj,v_proj,down_proj"
              " --max-steps 4 --lr 1e-3 --threads 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  const fs::path final = fs::path(run) / "final";
  ASSERT_TRUE(fs::exists(final / "adapter_config.json")) << r.out;
  EXPECT_TRUE(fs::exists(final / "adapter_model.safetensors"));
  const auto cfg = nlohmann::json::parse(slurp(final / "adapter_config.json"));
  EXPECT_EQ(cfg["r"], 4);
  EXPECT_EQ(train_lines(run).size(), 4u);
}

TEST_F(CliTrain, SftWithLoraOnAQuantizedFile) {
  // A model whose rows split into 256-value blocks, converted to llama.cpp's Q4_K_M mix: the
  // adapter trains on top of the base kept quantized in memory (QLoRA).
  const fs::path dir = out("qlora");
  fs::create_directories(dir);
  const std::string f32 = (dir / "base.gguf").string(), q4 = (dir / "base-q4_k.gguf").string();
  ASSERT_EQ(run_cmd("model init --out " + f32 + " --tokenizer " +
                    (kDir / "tok" / "tokenizer.json").string() +
                    " --hidden 256 --layers 1 --heads 4 --kv-heads 2 --ffn 512 --context 128")
                .code,
            0);
  const CmdResult conv = run_cmd("model convert " + f32 + " " + q4 + " --dtype q4_k");
  ASSERT_EQ(conv.code, 0) << conv.out;
  const CmdResult info = run_cmd("model info --json " + q4);
  ASSERT_EQ(info.code, 0) << info.out;
  const auto j = nlohmann::json::parse(info.out.substr(info.out.find('{')));
  EXPECT_GT(j["weight_bytes"].value("Q4_K", 0), 0) << info.out;
  EXPECT_GT(j["weight_bytes"].value("Q6_K", 0), 0) << info.out;
  const std::string run = (dir / "run").string();
  const CmdResult r =
      run_cmd("train sft --model " + q4 + " --data " + data("sft.jsonl") + " --out " + run +
              " --lora --lora-r 4 --max-steps 3 --lr 1e-3" + " --threads 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(fs::path(run) / "final" / "adapter_model.safetensors"));
  EXPECT_EQ(train_lines(run).size(), 3u);
  // Quantized output needs GGUF.
  const CmdResult bad =
      run_cmd("model convert " + f32 + " " + (dir / "d").string() + " --dtype q4_k");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("GGUF"), std::string::npos) << bad.out;
}

TEST_F(CliTrain, DpoCreatesAndReusesTheReferenceCache) {
  for (const auto& f : fs::directory_iterator(kDir))
    if (f.path().filename().string().rfind("prefs.jsonl.ref-", 0) == 0) fs::remove(f.path());
  const std::string base =
      "train dpo --model " + model() + " --data " + data("prefs.jsonl") +
      " --max-steps 3 --lr 1e-3 --beta 0.2 --rpo-alpha 0.5 --threads 1 --quiet --out ";
  const CmdResult a = run_cmd(base + out("dpo1"));
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_NE(a.out.find("computing into"), std::string::npos) << a.out;
  fs::path cache;
  for (const auto& f : fs::directory_iterator(kDir))
    if (f.path().filename().string().rfind("prefs.jsonl.ref-", 0) == 0) cache = f.path();
  ASSERT_FALSE(cache.empty()) << "no reference cache beside the dataset";
  const auto stamp = fs::last_write_time(cache);
  const CmdResult b = run_cmd(base + out("dpo2"));
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_NE(b.out.find("reading"), std::string::npos) << b.out;
  EXPECT_EQ(fs::last_write_time(cache), stamp);
  const auto lines = train_lines(kDir / "dpo1");
  ASSERT_EQ(lines.size(), 3u);
  for (const char* k :
       {"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "nll"})
    EXPECT_TRUE(lines[0].contains(k)) << k;
  // Same cache, same data, same options: the same first-step loss.
  EXPECT_EQ(train_lines(kDir / "dpo2")[0]["loss"], lines[0]["loss"]);
}

TEST_F(CliTrain, RewardModelTrainsAndScores) {
  const std::string run = out("rm");
  const CmdResult r = run_cmd(
      "train rm --model " + model() + " --data " + data("prefs.jsonl") + " --out " + run +
      " --max-steps 15 --lr 3e-3 --eval-fraction 0.2 --center-rewards 0.01 --threads 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  bool eval_acc = false;
  for (auto& j : jsonl(fs::path(run) / "metrics.jsonl"))
    if (j["split"] == "eval") eval_acc = j.contains("accuracy");
  EXPECT_TRUE(eval_acc);
  {
    std::ofstream s(kDir / "score.jsonl");
    s << R"({"prompt": "the clinic?", "response": " yes please call ahead."})"
      << "\n\n"
      << R"({"prompt": [{"role": "user", "content": "visit today?"}], "response": [{"role": "assistant", "content": "no."}]})"
      << "\n";
  }
  const CmdResult s = run_cmd("rm score --model " + run + "/final --input " + data("score.jsonl") +
                              " --output " + data("scored.jsonl") + " --threads 1");
  ASSERT_EQ(s.code, 0) << s.out;
  const auto scored = jsonl(kDir / "scored.jsonl");
  ASSERT_EQ(scored.size(), 2u);
  for (const auto& j : scored) EXPECT_TRUE(j["reward"].is_number());
  EXPECT_EQ(scored[0]["prompt"], "the clinic?");
  // The pairs it was trained on: chosen scores above rejected for most of them.
  {
    std::ofstream s2(kDir / "pairs_score.jsonl");
    for (auto& p : jsonl(kDir / "prefs.jsonl")) {
      s2 << nlohmann::json{{"prompt", p["prompt"]}, {"response", p["chosen"]}}.dump() << "\n";
      s2 << nlohmann::json{{"prompt", p["prompt"]}, {"response", p["rejected"]}}.dump() << "\n";
    }
  }
  const CmdResult s2 =
      run_cmd("rm score --model " + run + "/final --input " + data("pairs_score.jsonl") +
              " --output " + data("pairs_scored.jsonl") + " --threads 1");
  ASSERT_EQ(s2.code, 0) << s2.out;
  const auto ps = jsonl(kDir / "pairs_scored.jsonl");
  int wins = 0;
  for (std::size_t i = 0; i + 1 < ps.size(); i += 2)
    wins += ps[i]["reward"].get<double>() > ps[i + 1]["reward"].get<double>();
  EXPECT_GE(wins, 8) << "of 10";
}

TEST_F(CliTrain, BadFlagsAndBadDataAreClearErrors) {
  const std::string base =
      "train sft --model " + model() + " --out " + out("bad") + " --threads 1 --quiet";
  struct Case {
    std::string args, needle;
  };
  {
    std::ofstream b(kDir / "bad.jsonl");
    b << R"({"prompt": "a", "completion": "b"})"
      << "\n"
      << R"({"prompt": "a", "completion": 3})"
      << "\n";
  }
  const Case cases[] = {
      {" --data " + data("sft.jsonl") + " --schedule wobble", "schedule"},
      {" --data " + data("sft.jsonl") + " --grad-accum 0", "--grad-accum: must be >= 1"},
      {" --data " + data("sft.jsonl") + " --eval-fraction 1.5", "eval-fraction"},
      {" --data " + data("sft.jsonl") + " --lora --lora-targets q_proj,nonsense", "nonsense"},
      {" --data " + data("bad.jsonl"), "bad.jsonl:2"},
      {" --data " + data("sft.jsonl") + " --resume", "checkpoint"},
      {" --data /nonexistent.jsonl", "nonexistent"},
  };
  for (const auto& c : cases) {
    const CmdResult r = run_cmd(base + c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << "\n" << r.out;
    EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
  }
  const CmdResult d = run_cmd("train dpo --model " + model() + " --data " + data("prefs.jsonl") +
                              " --out " + out("bad_dpo") + " --loss squared --quiet");
  EXPECT_NE(d.code, 0);
  EXPECT_NE(d.out.find("squared"), std::string::npos) << d.out;
  const CmdResult s =
      run_cmd("rm score --model " + model() + "_missing --input " + data("prefs.jsonl"));
  EXPECT_NE(s.code, 0);
}

// A training process killed with SIGKILL and resumed ends with the same weights, byte for
// byte, as one never interrupted, and logs each step once.
TEST_F(CliTrain, SigkilledRunResumesToTheSameWeights) {
  const std::string flags = " --data " + data("sft.jsonl") +
                            " --max-steps 120 --lr 1e-3 --token-budget 64"
                            " --grad-accum 2 --save-every 3 --weight-decay 0.1 --threads 1 --quiet";
  const std::string full = out("kill_full"), cut = out("kill_cut");
  ASSERT_EQ(run_cmd("train sft --model " + model() + flags + " --out " + full).code, 0);

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = std::string("exec ") + CAI_BINARY + " train sft --model " + model() +
                            flags + " --out " + cut + " >/dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Kill it once a checkpoint past the first exists (the test does not depend on timing: if it
  // finished first, resuming a finished run must still give the same end).
  const fs::path state = fs::path(cut) / "checkpoint" / "state.json";
  for (int i = 0; i < 20000; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    try {
      if (fs::exists(state) && nlohmann::json::parse(slurp(state))["step"].get<int>() >= 6) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFSIGNALED(status));
        break;
      }
    } catch (const std::exception&) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const CmdResult r =
      run_cmd("train sft --model " + model() + flags + " --out " + cut + " --resume");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(slurp(fs::path(cut) / "final" / "model.safetensors"),
            slurp(fs::path(full) / "final" / "model.safetensors"));
  const auto a = train_lines(full), b = train_lines(cut);
  ASSERT_EQ(b.size(), 120u);
  for (std::size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(b[i]["step"], static_cast<int>(i) + 1);
    EXPECT_EQ(b[i]["loss"], a[i]["loss"]);
  }
}
