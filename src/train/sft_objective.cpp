// Supervised fine-tuning: token cross-entropy on the target (assistant) tokens only, or the
// token-wise constrained objective of Qi et al. 2024 (token_constraint.h) when given a
// constraint.
//
// Shape legend: B = sequences in a micro-batch, T = longest, C = hidden size, N = targets.
#include <torch/torch.h>

#include "batch.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/objectives.h"
#include "cai/train/token_constraint.h"
#include "policy.h"

namespace cai::train {
namespace {

class SftObjective final : public Objective {
 public:
  SftObjective(Policy policy, std::vector<SftExample> train, std::vector<SftExample> eval,
               const SftConstraint* constraint)
      : policy_(std::move(policy)) {
    detail::prepare_policy(policy_);
    for (auto* split : {&train, &eval})
      for (auto& ex : *split) {
        CAI_CHECK(ex.seq.tokens.size() == ex.seq.target.size() && !ex.seq.tokens.empty(),
                  "sft objective: example at line {} has {} tokens and {} target flags", ex.line,
                  ex.seq.tokens.size(), ex.seq.target.size());
        check_ids(ex);
      }
    if (constraint) {
      constraint->opts.validate();
      constrained_ = true;
      constrain(Split::train, train, constraint->train_ref, constraint->opts);
      constrain(Split::eval, eval, constraint->eval_ref, constraint->opts);
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
    auto [loss, m] = forward(Split::train, examples);
    (loss / denominator).backward();
    return m;
  }

  Metrics evaluate(const std::vector<std::int64_t>& examples) override {
    torch::NoGradGuard no_grad;
    detail::EvalModeGuard eval_mode(*policy_.model->model);
    Metrics sum;
    double targets = 0;
    for (const auto& batch :
         detail::eval_batches(examples, lengths(Split::eval), detail::kEvalTokenBudget)) {
      for (const auto& [k, v] : forward(Split::eval, batch).second) sum[k] += v;
      for (auto i : batch) targets += static_cast<double>(units(Split::eval)[at(Split::eval, i)]);
    }
    if (targets == 0) return {};
    for (auto& [k, v] : sum) v /= targets;
    return sum;
  }

  std::vector<TrainableParam> trainable() override { return detail::policy_trainable(policy_); }
  void set_training(bool on) override { detail::set_policy_training(policy_, on); }
  void save(const std::string& dir) override { detail::save_policy(policy_, dir); }

 private:
  // The loss summed over the examples' targets (the negative log-likelihood, or the
  // constrained objective) and the metric sums: "loss", "mean_token_accuracy" (targets that
  // were the argmax) and, constrained, "nll".
  std::pair<torch::Tensor, Metrics> forward(Split s, const std::vector<std::int64_t>& examples) {
    CAI_CHECK(!examples.empty(), "sft objective: empty micro-batch");
    std::vector<const detail::Row*> batch_rows;
    for (auto i : examples) batch_rows.push_back(&rows(s)[at(s, i)]);
    const detail::Batch batch = detail::make_batch(batch_rows);
    LlamaModel& model = *policy_.model->model;
    const auto hidden = model.forward_hidden(batch.tokens);  // [B,T,C]
    const auto lp = detail::target_logprobs(model, hidden, batch);
    const auto nll = -lp.sums.sum();
    Metrics m = {{"mean_token_accuracy", lp.correct}};
    if (!constrained_) {
      m["loss"] = nll.item<double>();
      return {nll, m};
    }
    std::vector<float> ref, beta;  // [N], in the batch's target order (row by row)
    for (auto i : examples) {
      const auto& r = refs(s)[at(s, i)];
      const auto& b = betas(s)[at(s, i)];
      ref.insert(ref.end(), r.begin(), r.end());
      beta.insert(beta.end(), b.begin(), b.end());
    }
    const auto o = lp.tokens.options();  // the model's device: CUDA when it trains there
    const auto loss =
        token_constrained_loss(lp.tokens, torch::tensor(ref).to(o), torch::tensor(beta).to(o))
            .sum();
    m["loss"] = loss.item<double>();
    m["nll"] = nll.item<double>();
    return {loss, m};
  }

  // Each example's reference log-probabilities and betas, one per target.
  void constrain(Split s, const std::vector<SftExample>& examples, const TokenRefLogps& ref,
                 const TokenConstraintOptions& opts) {
    CAI_CHECK(ref.tokens.size() == examples.size(),
              "sft objective: {} {} examples but reference log-probabilities for {}",
              examples.size(), s == Split::train ? "training" : "held-out", ref.tokens.size());
    auto& r = s == Split::train ? train_ref_ : eval_ref_;
    auto& b = s == Split::train ? train_beta_ : eval_beta_;
    for (std::size_t i = 0; i < examples.size(); ++i) {
      const auto& ex = examples[i];
      CAI_CHECK(static_cast<std::int64_t>(ref.tokens[i].size()) == ex.seq.num_targets(),
                "sft objective: example at line {} has {} targets but {} reference "
                "log-probabilities",
                ex.line, ex.seq.num_targets(), ref.tokens[i].size());
      r.emplace_back(ref.tokens[i].begin(), ref.tokens[i].end());
      const auto bt = target_betas(ex.seq.target, opts, ex.seq.continued);
      b.emplace_back(bt.begin(), bt.end());
    }
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
  const std::vector<std::vector<float>>& refs(Split s) const {
    return s == Split::train ? train_ref_ : eval_ref_;
  }
  const std::vector<std::vector<float>>& betas(Split s) const {
    return s == Split::train ? train_beta_ : eval_beta_;
  }
  std::size_t at(Split s, std::int64_t i) const {
    CAI_CHECK(i >= 0 && i < size(s), "sft objective: example {} outside 0..{}", i, size(s) - 1);
    return static_cast<std::size_t>(i);
  }

  Policy policy_;
  std::vector<detail::Row> train_rows_, eval_rows_;
  std::vector<std::int64_t> train_len_, eval_len_, train_units_, eval_units_;
  bool constrained_ = false;
  std::vector<std::vector<float>> train_ref_, eval_ref_, train_beta_, eval_beta_;  // per target
};

}  // namespace

std::unique_ptr<Objective> make_sft_objective(Policy policy, std::vector<SftExample> train,
                                              std::vector<SftExample> eval,
                                              const SftConstraint* constraint) {
  return std::make_unique<SftObjective>(std::move(policy), std::move(train), std::move(eval),
                                        constraint);
}

}  // namespace cai::train
