// Exact resumption: a run interrupted mid-step and resumed from its last checkpoint ends with
// the same weights, bit for bit, as a run that was never interrupted, and logs every step once.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/file.h"
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

namespace {

// Flips one byte of `p` at `offset` from its end.
void flip_byte(const fs::path& p, std::size_t offset) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-static_cast<std::streamoff>(offset), std::ios::end);
  char c = 0;
  f.read(&c, 1);
  f.seekp(-static_cast<std::streamoff>(offset), std::ios::end);
  c = static_cast<char>(c ^ 0x5a);
  f.write(&c, 1);
}

// The error of resuming the run of `o`, "" when it resumed.
std::string resume_error(TrainOptions o) {
  ToyRegression again = make_toy();
  o.resume = true;
  try {
    run_training(again, o, "data-1");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// A damaged checkpoint is refused with the damaged file named, never trained on: a flipped
// byte in the weights or moments (caught by the checksums state.json records), a truncated
// tensor file and a state.json that is not JSON.
TEST(Resume, DamagedCheckpointIsRefusedNamingTheFile) {
  const fs::path dir = fresh_dir("damaged");
  torch::manual_seed(7);
  ToyRegression toy = make_toy();
  TrainOptions o = options(dir);
  o.max_steps = 4;
  run_training(toy, o, "data-1");
  const fs::path ckpt = dir / "checkpoint";
  const fs::path saved = dir / "saved";
  fs::copy(ckpt, saved);
  auto restore = [&] {
    fs::remove_all(ckpt);
    fs::copy(saved, ckpt);
  };
  ASSERT_EQ(resume_error(o), "");

  for (const char* f : {"trainable.safetensors", "optimizer.safetensors"}) {
    SCOPED_TRACE(f);
    restore();
    flip_byte(ckpt / f, 3);  // inside the last tensor's data: the header still parses
    const std::string e = resume_error(o);
    EXPECT_NE(e.find((ckpt / f).string()), std::string::npos) << e;
    EXPECT_NE(e.find("checksum"), std::string::npos) << e;

    restore();
    fs::resize_file(ckpt / f, fs::file_size(ckpt / f) / 2);
    const std::string t = resume_error(o);
    EXPECT_NE(t.find((ckpt / f).string()), std::string::npos) << t;
  }
  restore();
  std::ofstream(ckpt / "state.json", std::ios::trunc) << "{\"format\": \"cai-train-ch";
  const std::string s = resume_error(o);
  EXPECT_NE(s.find((ckpt / "state.json").string()), std::string::npos) << s;
  restore();
  EXPECT_EQ(resume_error(o), "");
}

// A disk that fills up at any point of a run: the error names the file that could not be
// written (ENOSPC), no temporary or half directory stays behind, a checkpoint present is
// whole, and once there is room the run continues to the uninterrupted run's exact weights.
TEST(Resume, FullDiskAnywhereLeavesNoHalfFileAndTheRunContinuesExactly) {
  torch::manual_seed(7);
  ToyRegression full = make_toy();
  const fs::path full_dir = fresh_dir("roomy");
  run_training(full, options(full_dir), "data-1");

  int failures = 0;
  for (std::int64_t budget = 0; budget < 40000; budget = budget * 2 + 700) {
    SCOPED_TRACE(budget);
    const fs::path dir = fresh_dir("full-disk-" + std::to_string(budget));
    torch::manual_seed(7);
    ToyRegression toy = make_toy();
    set_write_fault({budget, 0});
    bool failed = false;
    try {
      run_training(toy, options(dir), "data-1");
    } catch (const Error& e) {
      failed = true;
      ++failures;
      const std::string msg = e.what();
      EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
      EXPECT_NE(msg.find(dir.string()), std::string::npos) << msg;
    }
    set_write_fault({});
    for (const auto& f : fs::recursive_directory_iterator(dir))
      EXPECT_FALSE(f.path().string().ends_with(".tmp")) << f.path();
    if (!failed) continue;
    const bool resumable = fs::exists(dir / "checkpoint");
    torch::manual_seed(resumable ? 12345 : 7);  // a fresh start draws the same weights
    ToyRegression again = make_toy();
    TrainOptions o = options(dir);
    o.resume = resumable;
    run_training(again, o, "data-1");
    EXPECT_TRUE(torch::equal(again.w(), full.w()));
    EXPECT_TRUE(torch::equal(again.b(), full.b()));
  }
  EXPECT_GE(failures, 3);
}

// An output folder that cannot be written to: the error names the file, nothing is trained.
TEST(Resume, UnwritableOutputFolderIsAClearError) {
  const fs::path dir = fresh_dir("denied");
  ToyRegression toy = make_toy();
  set_write_fault({-1, EACCES});
  try {
    run_training(toy, options(dir), "data-1");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Permission denied"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.string()), std::string::npos) << e.what();
  }
  set_write_fault({});
  EXPECT_FALSE(fs::exists(dir / "final"));
}
