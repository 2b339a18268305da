// Data-parallel `cai train` over loopback: two ranks at micro-batch B against one process at
// 2B (the same examples per optimiser step), compared step by step (loss, gradient norm,
// held-out metrics), by their final weights and by DPO's reference log-probabilities; resume
// at the same and at a different number of ranks; and a rank killed mid-run. Sums taken in
// another order differ in the last bits, and AdamW's normalised steps carry that into the
// weights, hence 1e-4 there against 1e-5 for the per-step metrics.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <thread>

#include "cai/dist/launch.h"
#include "cai/formats/safetensors.h"
#include "cli_train_fixture.h"

namespace fs = std::filesystem;

namespace {

using namespace cai::testing_util::train;
using cai::testing_util::CmdResult;

class DistTrain : public CliTrainFixture {};

// The largest absolute difference between same-named tensors of two safetensors files.
double max_weight_diff(const fs::path& a, const fs::path& b) {
  const cai::safetensors::File fa(a), fb(b);
  EXPECT_EQ(fa.tensors().size(), fb.tensors().size());
  double worst = 0.0;
  for (const auto& t : fa.tensors()) {
    const auto x = fa.read_f32(t.name), y = fb.read_f32(t.name);
    EXPECT_EQ(x.size(), y.size()) << t.name;
    for (std::size_t i = 0; i < x.size() && i < y.size(); ++i)
      worst = std::max(worst, static_cast<double>(std::fabs(x[i] - y[i])));
  }
  return worst;
}

// Every metrics line of `b` (train and eval) matches `a`'s within `tol` on `keys`.
void expect_same_lines(const fs::path& a, const fs::path& b, std::vector<std::string> keys,
                       double tol) {
  const auto la = jsonl(a / "metrics.jsonl"), lb = jsonl(b / "metrics.jsonl");
  ASSERT_EQ(la.size(), lb.size());
  for (std::size_t i = 0; i < la.size(); ++i) {
    EXPECT_EQ(la[i]["step"], lb[i]["step"]);
    EXPECT_EQ(la[i]["split"], lb[i]["split"]);
    for (const auto& k : keys) {
      if (!la[i].contains(k)) continue;
      EXPECT_NEAR(la[i][k].get<double>(), lb[i][k].get<double>(), tol)
          << k << " at line " << i + 1 << " (step " << la[i]["step"] << ")";
    }
  }
}

fs::path ref_cache(const fs::path& dir) {
  for (const auto& f : fs::directory_iterator(dir))
    if (f.path().filename().string().rfind("prefs.jsonl.ref-", 0) == 0) return f.path();
  return {};
}

}  // namespace

TEST_F(DistTrain, SftTwoRanksEqualOneRankAtTwiceTheBudget) {
  const std::string flags = " --model " + model() + " --data " + data("sft.jsonl") +
                            " --max-steps 8 --lr 3e-3 --grad-accum 2 --eval-fraction 0.25"
                            " --eval-every 4 --weight-decay 0.1 --threads 1 --quiet";
  const std::string one = out("sft_one"), two = out("sft_two");
  const CmdResult a = run_cmd("train sft" + flags + " --token-budget 96 --out " + one);
  ASSERT_EQ(a.code, 0) << a.out;
  const CmdResult b = run_cmd("train sft" + flags + " --token-budget 48 --nproc 2 --out " + two);
  ASSERT_EQ(b.code, 0) << b.out;
  expect_same_lines(one, two, {"loss", "grad_norm", "token_accuracy", "lr"}, 1e-5);
  EXPECT_LT(max_weight_diff(fs::path(one) / "final" / "model.safetensors",
                            fs::path(two) / "final" / "model.safetensors"),
            1e-4);
  // The checkpoint records the ranks that wrote it.
  EXPECT_EQ(nlohmann::json::parse(slurp(fs::path(two) / "checkpoint" / "state.json"))["world_size"],
            2);
}

TEST_F(DistTrain, DpoWithLoraTwoRanksEqualOneRank) {
  const std::string flags = " --model " + model() + " --data " + data("prefs.jsonl") +
                            " --max-steps 4 --lr 2e-3 --beta 0.2 --rpo-alpha 0.5 --lora --lora-r 4"
                            " --lora-dropout 0 --threads 1 --quiet";
  const std::string one = out("dpo_one"), two = out("dpo_two");
  // Each run computes the reference log-probabilities afresh: one process, then two ranks
  // scoring half the pairs each.
  if (auto c = ref_cache(kDir); !c.empty()) fs::remove(c);
  const CmdResult a = run_cmd("train dpo" + flags + " --token-budget 128 --out " + one);
  ASSERT_EQ(a.code, 0) << a.out;
  const fs::path cache = ref_cache(kDir);
  ASSERT_FALSE(cache.empty());
  const auto ref_one = nlohmann::json::parse(slurp(cache));
  fs::remove(cache);
  const CmdResult b = run_cmd("train dpo" + flags + " --token-budget 64 --nproc 2 --out " + two);
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_NE(b.out.find("computing into"), std::string::npos) << b.out;
  const auto ref_two = nlohmann::json::parse(slurp(ref_cache(kDir)));
  ASSERT_EQ(ref_one["chosen"].size(), 10u);
  ASSERT_EQ(ref_two["chosen"].size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_NEAR(ref_one["chosen"][i].get<double>(), ref_two["chosen"][i].get<double>(), 1e-4);
    EXPECT_NEAR(ref_one["rejected"][i].get<double>(), ref_two["rejected"][i].get<double>(), 1e-4);
  }
  expect_same_lines(one, two, {"loss", "grad_norm", "rewards/margins", "rewards/accuracies", "nll"},
                    1e-5);
  EXPECT_LT(max_weight_diff(fs::path(one) / "final" / "adapter_model.safetensors",
                            fs::path(two) / "final" / "adapter_model.safetensors"),
            1e-4);
}

TEST_F(DistTrain, RewardModelTwoRanksEqualOneRank) {
  const std::string flags = " --model " + model() + " --data " + data("prefs.jsonl") +
                            " --max-steps 3 --lr 3e-3 --center-rewards 0.01 --threads 1 --quiet";
  const std::string one = out("rm_one"), two = out("rm_two");
  ASSERT_EQ(run_cmd("train rm" + flags + " --token-budget 128 --out " + one).code, 0);
  const CmdResult b = run_cmd("train rm" + flags + " --token-budget 64 --nproc 2 --out " + two);
  ASSERT_EQ(b.code, 0) << b.out;
  expect_same_lines(one, two, {"loss", "grad_norm", "accuracy"}, 1e-5);
}

// A two-rank job stopped with SIGTERM (the launcher forwards it) resumes with two ranks to the
// weights of an uninterrupted job, byte for byte; one rank is refused with a message saying why.
TEST_F(DistTrain, ResumeNeedsTheSameNumberOfRanks) {
  const std::string base = "train sft --model " + model() + " --data " + data("sft.jsonl") +
                           " --lr 1e-3 --token-budget 48 --max-steps 60 --save-every 3"
                           " --threads 1 --quiet --nproc 2 --out ";
  const std::string run = out("resume"), full = out("resume_full");
  ASSERT_EQ(run_cmd(base + full).code, 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd =
        std::string("exec ") + CAI_BINARY + " " + base + run + " >/dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const fs::path state = fs::path(run) / "checkpoint" / "state.json";
  for (int i = 0; i < 20000; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) break;  // finished first: resume re-saves
    try {
      if (fs::exists(state) && nlohmann::json::parse(slurp(state))["step"].get<int>() >= 6) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        EXPECT_NE(WEXITSTATUS(status), 0);
        break;
      }
    } catch (const std::exception&) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::string one_rank = "train sft --model " + model() + " --data " + data("sft.jsonl") +
                               " --lr 1e-3 --token-budget 48 --max-steps 60 --save-every 3"
                               " --threads 1 --quiet --resume --out " +
                               run;
  const CmdResult one = run_cmd(one_rank);
  EXPECT_NE(one.code, 0);
  EXPECT_NE(one.out.find("written by 2 data-parallel rank(s), this run has 1"), std::string::npos)
      << one.out;
  const CmdResult two = run_cmd(base + run + " --resume");
  ASSERT_EQ(two.code, 0) << two.out;
  EXPECT_EQ(train_lines(run).size(), 60u);
  EXPECT_EQ(slurp(fs::path(run) / "final" / "model.safetensors"),
            slurp(fs::path(full) / "final" / "model.safetensors"));
}

// Two ranks started by hand (as torchrun would); rank 1 is killed mid-run. Rank 0 must stop
// with an error naming the failed all-reduce within its timeout, not hang.
TEST_F(DistTrain, AKilledRankFailsTheOtherWithinTheTimeout) {
  const std::string run = out("killed");
  const int port = cai::dist::free_port();
  auto start = [&](int rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      const std::string cmd =
          "RANK=" + std::to_string(rank) +
          " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " exec " +
          CAI_BINARY + " train sft --model " + model() + " --data " + data("sft.jsonl") +
          " --max-steps 100000 --lr 1e-4 --token-budget 48 --threads 1 --quiet --dist-timeout 5"
          " --out " +
          run + " > " + run + "-rank" + std::to_string(rank) + ".log 2>&1";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  };
  const pid_t r0 = start(0), r1 = start(1);
  // Wait until rank 0 logs steps: both ranks are in the training loop.
  const fs::path metrics = fs::path(run) / "metrics.jsonl";
  for (int i = 0; i < 600 && (!fs::exists(metrics) || fs::file_size(metrics) < 200); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(metrics)) << slurp(run + "-rank0.log");
  kill(r1, SIGKILL);
  int status = 0;
  waitpid(r1, &status, 0);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t done = 0;
  while ((done = waitpid(r0, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (done == 0) {
    kill(r0, SIGKILL);
    waitpid(r0, &status, 0);
    FAIL() << "rank 0 still running 60 s after rank 1 was killed";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  const std::string log = slurp(run + "-rank0.log");
  EXPECT_NE(log.find("distributed: rank 0 of 2"), std::string::npos) << log;
  EXPECT_EQ(log.find("terminate"), std::string::npos) << log;
}
