// Exact resumption: a run interrupted mid-step and resumed from its last checkpoint ends with
// the same weights, bit for bit, as a run that was never interrupted, and logs every step once.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/train/trainer.h"
#include "trainer_toy.h"

namespace fs = std::filesystem;
using namespace cai;
using namespace cai::train;
using cai::testing_util::Faulty;
using cai::testing_util::ToyRegression;

namespace {

fs::path fresh_dir(const std::string& name) { return testing_util::fresh_run_dir("resume", name); }

std::vector<nlohmann::json> read_metrics(const fs::path& dir) {
  return testing_util::read_metrics_file(dir / "metrics.jsonl");
}

// Everything the schedule, optimiser and data order touch; noise stands in for dropout.
TrainOptions options(const fs::path& dir) {
  TrainOptions o;
  o.out_dir = dir.string();
  o.lr = 0.05;
  o.warmup_steps = 2;
  o.weight_decay = 0.1;
  o.max_grad_norm = 1.0;
  o.grad_accum = 2;
  o.token_budget = 12;
  o.epochs = 3;
  o.eval_every = 4;
  o.save_every = 3;
  o.seed = 11;
  o.progress = false;
  return o;
}

ToyRegression make_toy() { return ToyRegression(20, 4, 3, /*noise=*/true); }

}  // namespace

TEST(Resume, InterruptedRunEndsBitwiseEqualWithoutDuplicateLogs) {
  torch::manual_seed(7);
  ToyRegression full = make_toy();
  const fs::path full_dir = fresh_dir("full");
  const TrainSummary s_full = run_training(full, options(full_dir), "data-1");
  const auto want = read_metrics(full_dir);
  ASSERT_GT(s_full.steps, 10);

  // Interrupt at several micro-batches: before the first checkpoint would be an error on
  // resume, so start after it; one point falls right after a checkpoint, one mid-epoch.
  for (std::int64_t k : {7, 14, 23}) {
    SCOPED_TRACE(k);
    const fs::path dir = fresh_dir("cut" + std::to_string(k));
    torch::manual_seed(7);
    ToyRegression cut = make_toy();
    Faulty faulty(cut, k, Faulty::Fault::throw_);
    EXPECT_THROW(run_training(faulty, options(dir), "data-1"), std::runtime_error);
    // A killed writer can leave a torn last line; resume must drop it.
    std::ofstream(dir / "metrics.jsonl", std::ios::app) << "{\"step\": 99, \"lo";

    // A new "process": fresh weights and a different global generator state.
    torch::manual_seed(12345);
    ToyRegression again = make_toy();
    TrainOptions o = options(dir);
    o.resume = true;
    const TrainSummary s = run_training(again, o, "data-1");
    EXPECT_EQ(s.steps, s_full.steps);
    EXPECT_TRUE(torch::equal(again.w(), full.w())) << again.w() << full.w();
    EXPECT_TRUE(torch::equal(again.b(), full.b()));

    const auto got = read_metrics(dir);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i]["step"], want[i]["step"]);
      EXPECT_EQ(got[i]["split"], want[i]["split"]);
      EXPECT_EQ(got[i]["loss"], want[i]["loss"]);  // bitwise: same doubles
      if (got[i]["split"] == "train") {
        EXPECT_EQ(got[i]["grad_norm"], want[i]["grad_norm"]);
        EXPECT_EQ(got[i]["lr"], want[i]["lr"]);
        EXPECT_EQ(got[i]["epoch"], want[i]["epoch"]);
      }
    }
  }
}

TEST(Resume, RefusesOtherOptionsOrData) {
  const fs::path dir = fresh_dir("refuse");
  torch::manual_seed(7);
  ToyRegression toy = make_toy();
  TrainOptions o = options(dir);
  o.max_steps = 3;
  run_training(toy, o, "data-1");
  o.resume = true;

  ToyRegression again = make_toy();
  auto expect_error = [&](const TrainOptions& opts, const std::string& data,
                          const std::string& needle) {
    try {
      run_training(again, opts, data);
      ADD_FAILURE() << "expected an error containing " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(o, "data-2", "different dataset");
  TrainOptions lr = o;
  lr.lr = 0.01;
  expect_error(lr, "data-1", "different training options");
  TrainOptions cfg = o;
  cfg.objective_config = "beta=0.2";
  expect_error(cfg, "data-1", "different training options");
  // Options that do not change the weights may differ.
  TrainOptions ok = o;
  ok.eval_every = 1;
  ok.save_every = 1;
  EXPECT_NO_THROW(run_training(again, ok, "data-1"));
}

TEST(Resume, FinishedRunResumesToTheSameEnd) {
  const fs::path dir = fresh_dir("finished");
  torch::manual_seed(7);
  ToyRegression toy = make_toy();
  TrainOptions o = options(dir);
  o.max_steps = 5;
  run_training(toy, o, "data-1");
  const auto before = read_metrics(dir);
  ToyRegression again = make_toy();
  o.resume = true;
  const auto s = run_training(again, o, "data-1");
  EXPECT_EQ(s.steps, 5);
  EXPECT_TRUE(torch::equal(again.w(), toy.w()));
  EXPECT_EQ(read_metrics(dir).size(), before.size());  // nothing logged twice
  EXPECT_TRUE(fs::exists(dir / "final" / "toy.txt"));
}
