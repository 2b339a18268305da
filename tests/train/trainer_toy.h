// A deterministic toy Objective for the trainer's tests: weighted linear regression
// y = w . x + b on fixed examples, optionally with input noise drawn from torch's global
// generator (standing in for dropout, so resuming must restore the generator exactly).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cai/io/jsonl.h"
#include "cai/train/objective.h"

namespace cai::testing_util {

// An empty directory for one test's run, under the test tree's temp dir.
inline std::filesystem::path fresh_run_dir(const std::string& group, const std::string& name) {
  std::filesystem::path d = std::filesystem::path(CAI_TEST_TMPDIR) / group / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Every line of a metrics.jsonl file.
inline std::vector<nlohmann::json> read_metrics_file(const std::filesystem::path& p) {
  std::vector<nlohmann::json> out;
  for_each_jsonl(p, [&](const nlohmann::json& j, std::size_t) { out.push_back(j); });
  return out;
}

class ToyRegression : public train::Objective {
 public:
  // n_train + n_eval examples of dimension `dim`; example i has length length_of(i) and
  // weight (loss units) 1 + i % 3.
  ToyRegression(
      std::int64_t n_train, std::int64_t n_eval, std::int64_t dim, bool noise,
      std::function<std::int64_t(std::int64_t)> length_of =
          [](std::int64_t i) { return 4 + i % 5; })
      : n_train_(n_train), n_eval_(n_eval), noise_(noise), length_of_(std::move(length_of)) {
    // Fixed data from a private generator (not the global one the trainer checkpoints).
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
    x_ = at::normal(0.0, 1.0, {n_train + n_eval, dim}, gen);
    auto w_true = torch::linspace(-1.0, 1.0, dim);
    y_ = torch::mv(x_, w_true) + 0.5;
    w_ = torch::full({dim}, 0.1).set_requires_grad(true);
    b_ = torch::zeros({1}).set_requires_grad(true);
  }

  std::string name() const override { return "toy"; }
  std::int64_t size(train::Split s) const override {
    return s == train::Split::train ? n_train_ : n_eval_;
  }
  std::int64_t length(train::Split s, std::int64_t i) const override {
    return length_of_(index(s, i));
  }
  std::int64_t rows_per_example() const override { return 1; }
  double loss_units(train::Split s, std::int64_t i) const override { return 1.0 + index(s, i) % 3; }

  train::Metrics train_micro(const std::vector<std::int64_t>& ex, double denominator) override {
    ++micro_calls;
    auto [loss_sum, abs_sum] = batch_loss(train::Split::train, ex, noise_ && training_);
    (loss_sum / denominator).backward();
    return {{"loss", loss_sum.item<double>()}, {"abs_err", abs_sum.item<double>()}};
  }

  train::Metrics evaluate(const std::vector<std::int64_t>& ex) override {
    torch::NoGradGuard g;
    auto [loss_sum, abs_sum] = batch_loss(train::Split::eval, ex, false);
    double units = 0;
    for (auto i : ex) units += loss_units(train::Split::eval, i);
    return {{"loss", loss_sum.item<double>() / units}, {"abs_err", abs_sum.item<double>() / units}};
  }

  std::vector<train::TrainableParam> trainable() override {
    return {{"w", w_, true}, {"b", b_, false}};
  }
  void set_training(bool on) override { training_ = on; }
  void save(const std::string& dir) override {
    std::filesystem::create_directories(dir);
    std::ofstream(std::filesystem::path(dir) / "toy.txt") << b_.item<float>() << "\n";
  }

  torch::Tensor& w() { return w_; }
  torch::Tensor& b() { return b_; }
  std::int64_t micro_calls = 0;

 private:
  std::int64_t index(train::Split s, std::int64_t i) const {
    return s == train::Split::train ? i : n_train_ + i;
  }
  // Sums over the examples of units_i * err_i^2 and units_i * |err_i|.
  std::pair<torch::Tensor, torch::Tensor> batch_loss(train::Split s,
                                                     const std::vector<std::int64_t>& ex,
                                                     bool noisy) {
    std::vector<std::int64_t> idx;
    std::vector<float> units;
    for (auto i : ex) {
      idx.push_back(index(s, i));
      units.push_back(static_cast<float>(loss_units(s, i)));
    }
    auto ii = torch::tensor(idx, torch::kInt64);
    auto x = x_.index_select(0, ii);
    if (noisy) x = x * (1.0 + 0.1 * torch::rand(x.sizes()));
    auto err = torch::mv(x, w_) + b_ - y_.index_select(0, ii);
    auto u = torch::tensor(units);
    return {(u * err * err).sum(), (u * err.abs()).sum().detach()};
  }

  std::int64_t n_train_, n_eval_;
  bool noise_, training_ = true;
  std::function<std::int64_t(std::int64_t)> length_of_;
  torch::Tensor x_, y_, w_, b_;
};

// Wraps an objective and misbehaves at the k-th train_micro call (1-based): throws (an
// interruption), or reports a NaN loss, or leaves an infinite gradient.
class Faulty : public train::Objective {
 public:
  enum class Fault { none, throw_, nan_loss, inf_grad };
  Faulty(train::Objective& inner, std::int64_t at_call, Fault f)
      : in_(inner), at_(at_call), fault_(f) {}

  std::string name() const override { return in_.name(); }
  std::int64_t size(train::Split s) const override { return in_.size(s); }
  std::int64_t length(train::Split s, std::int64_t i) const override { return in_.length(s, i); }
  std::int64_t rows_per_example() const override { return in_.rows_per_example(); }
  double loss_units(train::Split s, std::int64_t i) const override { return in_.loss_units(s, i); }
  train::Metrics train_micro(const std::vector<std::int64_t>& ex, double d) override {
    ++calls_;
    if (calls_ == at_ && fault_ == Fault::throw_) throw std::runtime_error("interrupted");
    auto m = in_.train_micro(ex, d);
    if (calls_ >= at_ && fault_ == Fault::nan_loss)
      m["loss"] = std::numeric_limits<double>::quiet_NaN();
    if (calls_ >= at_ && fault_ == Fault::inf_grad)
      for (auto& p : in_.trainable())
        p.tensor.mutable_grad().fill_(std::numeric_limits<float>::infinity());
    return m;
  }
  train::Metrics evaluate(const std::vector<std::int64_t>& ex) override { return in_.evaluate(ex); }
  std::vector<train::TrainableParam> trainable() override { return in_.trainable(); }
  void set_training(bool on) override { in_.set_training(on); }
  void save(const std::string& dir) override { in_.save(dir); }

 private:
  train::Objective& in_;
  std::int64_t at_, calls_ = 0;
  Fault fault_;
};

}  // namespace cai::testing_util
