// The trainer's parts against hand-computed values: schedules, AdamW, clipping; gradient
// accumulation equivalence and NaN/Inf handling on a toy objective.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "../../src/train/optim.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/io/progress.h"
#include "cai/train/trainer.h"
#include "trainer_toy.h"

namespace fs = std::filesystem;
using namespace cai;
using namespace cai::train;
using cai::testing_util::Faulty;
using cai::testing_util::ToyRegression;

namespace {

fs::path run_dir(const std::string& name) { return testing_util::fresh_run_dir("trainer", name); }

TrainOptions toy_options(const fs::path& dir) {
  TrainOptions o;
  o.out_dir = dir.string();
  o.lr = 0.05;
  o.progress = false;
  o.max_grad_norm = 0.0;
  return o;
}

}  // namespace

TEST(Schedule, HandComputedValues) {
  TrainOptions o;
  o.lr = 1.0;
  o.warmup_steps = 2;
  // Warmup: (step + 1) / W.
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 10), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(o, 1, 10), 1.0);
  // Cosine over the 8 remaining steps: p = (step - 2) / 8.
  EXPECT_DOUBLE_EQ(learning_rate(o, 2, 10), 1.0);
  EXPECT_NEAR(learning_rate(o, 6, 10), 0.5, 1e-15);                         // p = 1/2
  EXPECT_NEAR(learning_rate(o, 4, 10), 0.5 * (1 + std::sqrt(0.5)), 1e-15);  // p = 1/4
  o.min_lr_ratio = 0.1;
  EXPECT_NEAR(learning_rate(o, 6, 10), 0.1 + 0.9 * 0.5, 1e-15);
  o.schedule = Schedule::linear;
  EXPECT_NEAR(learning_rate(o, 4, 10), 0.1 + 0.9 * 0.75, 1e-15);
  EXPECT_NEAR(learning_rate(o, 9, 10), 0.1 + 0.9 * 0.125, 1e-15);
  o.schedule = Schedule::constant;
  EXPECT_DOUBLE_EQ(learning_rate(o, 7, 10), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 10), 0.5);
  // warmup_ratio: ceil(0.1 * 30) = 3 steps.
  o.warmup_steps = -1;
  o.warmup_ratio = 0.1;
  EXPECT_EQ(warmup_steps(o, 30), 3);
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 30), 1.0 / 3);
  EXPECT_EQ(opt::parse_enum<Schedule>("linear", "schedule"), Schedule::linear);
  EXPECT_THROW(opt::parse_enum<Schedule>("step", "schedule"), Error);
}

TEST(AdamW, TwoStepsMatchHandComputedUpdates) {
  const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  auto w = torch::tensor({1.0f, -2.0f}).set_requires_grad(true);
  auto b = torch::tensor({0.5f}).set_requires_grad(true);
  AdamW opt({{"w", w, true}, {"b", b, false}}, AdamWOptions{b1, b2, eps, wd});

  const double g1[2] = {0.5, -1.0}, g2[2] = {0.25, 0.5}, gb1 = 2.0, gb2 = -1.0;
  // Reference in double, straight from the algorithm.
  double p[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
  double pb = 0.5, mb = 0, vb = 0;
  auto ref_step = [&](const double* g, double gb, int t) {
    const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
    for (int i = 0; i < 2; ++i) {
      p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + eps);
    }
    mb = b1 * mb + (1 - b1) * gb;  // no decay on b
    vb = b2 * vb + (1 - b2) * gb * gb;
    pb -= lr * (mb / bc1) / (std::sqrt(vb / bc2) + eps);
  };

  w.mutable_grad() = torch::tensor({0.5f, -1.0f});
  b.mutable_grad() = torch::tensor({2.0f});
  opt.step(lr);
  ref_step(g1, gb1, 1);
  // First step: bias correction makes the update lr * sign(g) (plus decay).
  EXPECT_NEAR(p[0], 1.0 * (1 - lr * wd) - lr, 1e-7);
  EXPECT_NEAR(w[0].item<double>(), p[0], 1e-6);
  EXPECT_NEAR(w[1].item<double>(), p[1], 1e-6);
  EXPECT_NEAR(b[0].item<double>(), pb, 1e-6);
  EXPECT_NEAR(b[0].item<double>(), 0.5 - lr, 1e-6);  // decay=false: no shrink

  w.mutable_grad() = torch::tensor({0.25f, 0.5f});
  b.mutable_grad() = torch::tensor({-1.0f});
  opt.step(lr);
  ref_step(g2, gb2, 2);
  EXPECT_NEAR(w[0].item<double>(), p[0], 1e-6);
  EXPECT_NEAR(w[1].item<double>(), p[1], 1e-6);
  EXPECT_NEAR(b[0].item<double>(), pb, 1e-6);
  EXPECT_EQ(opt.steps(), 2);
  EXPECT_NEAR(opt.exp_avg()[0][1].item<double>(), m[1], 1e-7);
  EXPECT_NEAR(opt.exp_avg_sq()[1][0].item<double>(), vb, 1e-7);

  // A parameter without a gradient is left alone.
  opt.zero_grad();
  w.mutable_grad() = torch::tensor({1.0f, 1.0f});
  const double before = b[0].item<double>();
  opt.step(lr);
  EXPECT_EQ(b[0].item<double>(), before);
}

TEST(ClipGradNorm, ScalesToMaxNormAndReportsThePreClipNorm) {
  auto a = torch::zeros({2}).set_requires_grad(true);
  auto c = torch::zeros({1}).set_requires_grad(true);
  std::vector<TrainableParam> ps = {{"a", a, true}, {"c", c, false}};
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  c.mutable_grad() = torch::tensor({4.0f});
  EXPECT_NEAR(clip_grad_norm(ps, 10.0), 5.0, 1e-6);  // under the limit: unchanged
  EXPECT_FLOAT_EQ(a.grad()[0].item<float>(), 3.0f);
  EXPECT_NEAR(clip_grad_norm(ps, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 3.0 / (5.0 + 1e-6), 1e-6);
  EXPECT_NEAR(c.grad()[0].item<double>(), 4.0 / (5.0 + 1e-6), 1e-6);
  EXPECT_NEAR(clip_grad_norm(ps, 0.0), 1.0, 1e-5);  // 0: no clipping
}

TEST(TrainOptions, ValidateNamesTheField) {
  TrainOptions o;
  o.out_dir = "x";
  o.grad_accum = 0;
  try {
    o.validate();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("grad_accum"), std::string::npos);
  }
  o.grad_accum = 1;
  o.lr = -1;
  EXPECT_THROW(o.validate(), Error);
}

// grad_accum 2 with half the token budget takes the same steps as grad_accum 1: the same
// examples per step and the same step-mean loss, so the same weights up to rounding.
TEST(Trainer, GradientAccumulationMatchesOneBigBatch) {
  auto constant_length = [](std::int64_t) { return std::int64_t{8}; };
  ToyRegression one(16, 0, 3, false, constant_length), two(16, 0, 3, false, constant_length);
  TrainOptions o1 = toy_options(run_dir("accum1"));
  o1.token_budget = 32;  // 4 examples of length 8 per micro-batch
  o1.epochs = 2;
  TrainOptions o2 = o1;
  o2.out_dir = run_dir("accum2").string();
  o2.token_budget = 16;
  o2.grad_accum = 2;
  auto s1 = run_training(one, o1, "d");
  auto s2 = run_training(two, o2, "d");
  EXPECT_EQ(s1.steps, 8);
  EXPECT_EQ(s2.steps, 8);
  EXPECT_EQ(one.micro_calls, 8);
  EXPECT_EQ(two.micro_calls, 16);
  EXPECT_TRUE(torch::allclose(one.w(), two.w(), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(one.b(), two.b(), 1e-6, 1e-6));
  auto m1 = testing_util::read_metrics_file(fs::path(o1.out_dir) / "metrics.jsonl");
  auto m2 = testing_util::read_metrics_file(fs::path(o2.out_dir) / "metrics.jsonl");
  ASSERT_EQ(m1.size(), 8u);
  ASSERT_EQ(m2.size(), 8u);
  for (std::size_t i = 0; i < m1.size(); ++i) {
    EXPECT_NEAR(m1[i]["loss"].get<double>(), m2[i]["loss"].get<double>(),
                1e-5 * (1 + m1[i]["loss"].get<double>()));
    EXPECT_NEAR(m1[i]["grad_norm"].get<double>(), m2[i]["grad_norm"].get<double>(), 1e-4);
    EXPECT_EQ(m1[i]["lr"], m2[i]["lr"]);
  }
  // The toy's loss falls: the loop really optimises.
  EXPECT_LT(m1.back()["loss"].get<double>(), m1.front()["loss"].get<double>());
  EXPECT_TRUE(fs::exists(fs::path(o1.out_dir) / "final" / "toy.txt"));
}

TEST(Trainer, StepLossIsTheMeanOverLossUnits) {
  // One step over all examples: the logged loss equals sum(units * err^2) / sum(units) at the
  // initial weights, computed here independently.
  ToyRegression toy(6, 0, 2, false), ref(6, 0, 2, false);
  TrainOptions o = toy_options(run_dir("units"));
  o.token_budget = 1000;
  o.max_steps = 1;
  run_training(toy, o, "d");
  std::vector<std::int64_t> all = {0, 1, 2, 3, 4, 5};
  double units = 0;
  for (auto i : all) units += ref.loss_units(Split::train, i);
  const double want = ref.train_micro(all, units)["loss"] / units;
  auto m = testing_util::read_metrics_file(fs::path(o.out_dir) / "metrics.jsonl");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_NEAR(m[0]["loss"].get<double>(), want, 1e-6 * want);
  EXPECT_EQ(m[0]["split"], "train");
  EXPECT_EQ(m[0]["step"], 1);
  EXPECT_TRUE(m[0].contains("abs_err") && m[0].contains("tokens_per_s") && m[0].contains("lr"));
}

TEST(Trainer, EvaluatesEveryNStepsAndAtTheEnd) {
  ToyRegression toy(12, 5, 2, true);
  TrainOptions o = toy_options(run_dir("eval"));
  o.token_budget = 16;
  o.max_steps = 7;
  o.eval_every = 3;
  auto s = run_training(toy, o, "d");
  auto m = testing_util::read_metrics_file(fs::path(o.out_dir) / "metrics.jsonl");
  std::vector<std::int64_t> eval_steps;
  for (const auto& j : m)
    if (j["split"] == "eval") eval_steps.push_back(j["step"].get<std::int64_t>());
  EXPECT_EQ(eval_steps, (std::vector<std::int64_t>{3, 6, 7}));
  ASSERT_TRUE(s.last_eval.count("loss"));
  // The eval mean is over loss units: recompute it from the final weights.
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < 5; ++i) {
    const double u = toy.loss_units(Split::eval, i);
    num += toy.evaluate({i})["loss"] * u;
    den += u;
  }
  EXPECT_NEAR(s.last_eval["loss"], num / den, 1e-6 * (num / den));
}

TEST(Trainer, NanLossStopsAndKeepsTheLastCheckpoint) {
  for (auto fault : {Faulty::Fault::nan_loss, Faulty::Fault::inf_grad}) {
    ToyRegression toy(8, 0, 2, false);
    Faulty bad(toy, 5, fault);  // micro-batch 5 = step 5 (one micro-batch per step)
    TrainOptions o = toy_options(run_dir("nan"));
    o.token_budget = 7;  // one example per micro-batch (lengths are 4..8)
    o.save_every = 2;
    try {
      run_training(bad, o, "d");
      FAIL() << "expected an error";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("step 5"), std::string::npos) << msg;
      EXPECT_NE(msg.find(fault == Faulty::Fault::nan_loss ? "loss is nan" : "gradient norm is inf"),
                std::string::npos)
          << msg;
      EXPECT_NE(msg.find("last good checkpoint (step 4)"), std::string::npos) << msg;
    }
    const auto state =
        nlohmann::json::parse(read_file(fs::path(o.out_dir) / "checkpoint" / "state.json"));
    EXPECT_EQ(state["step"], 4);
    EXPECT_FALSE(fs::exists(fs::path(o.out_dir) / "final"));
  }
}

TEST(Trainer, BadOptionsAndResumeWithoutCheckpoint) {
  ToyRegression toy(4, 0, 2, false);
  TrainOptions o = toy_options(run_dir("bad"));
  o.resume = true;
  EXPECT_THROW(run_training(toy, o, "d"), Error);
  o.resume = false;
  o.epochs = 0;
  EXPECT_THROW(run_training(toy, o, "d"), Error);
}
