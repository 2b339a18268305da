// Supervised fine-tuning: token cross-entropy on the target (assistant) tokens only.
//
// Shape legend: B = sequences in a micro-batch, T = longest, C = hidden size, N = targets.
#include <torch/torch.h>

#include "batch.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/objectives.h"
#include "policy.h"

namespace cai::train {
namespace {

constexpr std::int64_t kEvalTokenBudget = 8192;  // padded tokens per evaluation forward pass

class SftObjective final : public Objective {
 public:
  SftObjective(Policy policy, std::vector<SftExample> train, std::vector<SftExample> eval)
      : policy_(std::move(policy)) {
    detail::prepare_policy(policy_);
    for (auto* split : {&train, &eval})
      for (auto& ex : *split) {
        CAI_CHECK(ex.seq.tokens.size() == ex.seq.target.size() && !ex.seq.tokens.empty(),
                  "sft objective: example at line {} has {} tokens and {} target flags", ex.line,
                  ex.seq.tokens.size(), ex.seq.target.size());
        check_ids(ex);
      }
    set(Split::train, train);
    set(Split::eval, eval);
  }

  std::string name() const override { return "sft"; }
  std::int64_t size(Split s) const override { return static_cast<std::int64_t>(rows(s).size()); }
  std::int64_t length(Split s, std::int64_t i) const override { return lengths(s)[at(s, i)]; }
  std::int64_t rows_per_example() const override { return 1; }
  double loss_units(Split s, std::int64_t i) const override {
    return static_cast<double>(units(s)[at(s, i)]);
  }

  Metrics train_micro(const std::vector<std::int64_t>& examples, double denominator) override {
    CAI_CHECK(denominator > 0, "sft objective: denominator must be > 0, got {}", denominator);
    auto [nll, correct] = forward(Split::train, examples);
    (nll / denominator).backward();
    return {{"loss", nll.item<double>()}, {"mean_token_accuracy", correct}};
  }

  Metrics evaluate(const std::vector<std::int64_t>& examples) override {
    torch::NoGradGuard no_grad;
    detail::EvalModeGuard eval_mode(*policy_.model->model);
    double nll = 0, correct = 0, targets = 0;
    for (const auto& batch :
         detail::eval_batches(examples, lengths(Split::eval), kEvalTokenBudget)) {
      auto [n, c] = forward(Split::eval, batch);
      nll += n.item<double>();
      correct += c;
      for (auto i : batch) targets += static_cast<double>(units(Split::eval)[at(Split::eval, i)]);
    }
    if (targets == 0) return {};
    return {{"loss", nll / targets}, {"mean_token_accuracy", correct / targets}};
  }

  std::vector<TrainableParam> trainable() override { return detail::policy_trainable(policy_); }
  void set_training(bool on) override { detail::set_policy_training(policy_, on); }
  void save(const std::string& dir) override { detail::save_policy(policy_, dir); }

 private:
  // Summed negative log-likelihood of the examples' targets, and how many were the argmax.
  std::pair<torch::Tensor, double> forward(Split s, const std::vector<std::int64_t>& examples) {
    CAI_CHECK(!examples.empty(), "sft objective: empty micro-batch");
    std::vector<const detail::Row*> batch_rows;
    for (auto i : examples) batch_rows.push_back(&rows(s)[at(s, i)]);
    const detail::Batch batch = detail::make_batch(batch_rows);
    LlamaModel& model = *policy_.model->model;
    const auto hidden = model.forward_hidden(batch.tokens);  // [B,T,C]
    const auto lp = detail::target_logprobs(model, hidden, batch);
    return {-lp.sums.sum(), lp.correct};
  }

  void set(Split s, std::vector<SftExample>& examples) {
    auto& r = s == Split::train ? train_rows_ : eval_rows_;
    auto& l = s == Split::train ? train_len_ : eval_len_;
    auto& u = s == Split::train ? train_units_ : eval_units_;
    for (auto& ex : examples) {
      u.push_back(ex.seq.num_targets());
      l.push_back(static_cast<std::int64_t>(ex.seq.tokens.size()));
      r.push_back({std::move(ex.seq.tokens), std::move(ex.seq.target)});
    }
  }
  void check_ids(const SftExample& ex) const {
    const auto V = policy_.model->model->config().vocab_size;
    for (auto id : ex.seq.tokens)
      CAI_CHECK(id >= 0 && id < V,
                "sft objective: example at line {}: token id {} outside the "
                "model's vocabulary of {}",
                ex.line, id, V);
  }
  const std::vector<detail::Row>& rows(Split s) const {
    return s == Split::train ? train_rows_ : eval_rows_;
  }
  const std::vector<std::int64_t>& lengths(Split s) const {
    return s == Split::train ? train_len_ : eval_len_;
  }
  const std::vector<std::int64_t>& units(Split s) const {
    return s == Split::train ? train_units_ : eval_units_;
  }
  std::size_t at(Split s, std::int64_t i) const {
    CAI_CHECK(i >= 0 && i < size(s), "sft objective: example {} outside 0..{}", i, size(s) - 1);
    return static_cast<std::size_t>(i);
  }

  Policy policy_;
  std::vector<detail::Row> train_rows_, eval_rows_;
  std::vector<std::int64_t> train_len_, eval_len_, train_units_, eval_units_;
};

}  // namespace

std::unique_ptr<Objective> make_sft_objective(Policy policy, std::vector<SftExample> train,
                                              std::vector<SftExample> eval) {
  return std::make_unique<SftObjective>(std::move(policy), std::move(train), std::move(eval));
}

}  // namespace cai::train
