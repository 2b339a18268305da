// Direct Preference Optimization (Rafailov et al. 2023) and its variants (see losses.h), with
// the reference log-probabilities precomputed (ref_logps.cpp) so no reference model is held.
//
// Each micro-batch runs the chosen and the rejected sequences of its pairs as one batch of
// 2B rows: [chosen_0 .. chosen_{B-1}, rejected_0 .. rejected_{B-1}].
//
// Shape legend: B = pairs, T = longest sequence, C = hidden size, Nc = the chosen responses'
// tokens of a micro-batch.
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

struct Pair {
  detail::Row chosen, rejected;
  double ref_chosen = 0, ref_rejected = 0, p_chosen = 1;
  std::int64_t n_chosen = 0, n_rejected = 0;  // response tokens
  // With the token constraint: the reference's log p and beta_t of each chosen token.
  std::vector<float> ref_tokens, betas;
};

class DpoObjective final : public Objective {
 public:
  DpoObjective(Policy policy, std::vector<PreferenceExample> train, RefLogps train_ref,
               std::vector<PreferenceExample> eval, RefLogps eval_ref, const DpoOptions& opts,
               const DpoConstraint* constraint)
      : policy_(std::move(policy)), opts_(opts) {
    opts_.validate();
    CAI_CHECK(!opts_.token_constraint || constraint,
              "dpo objective: token_constraint needs the reference's chosen-token log-probs");
    detail::prepare_policy(policy_);
    const bool c = opts_.token_constraint;
    train_ = make_pairs(train, train_ref, c ? &constraint->train_chosen : nullptr, "training");
    eval_ = make_pairs(eval, eval_ref, c ? &constraint->eval_chosen : nullptr, "evaluation");
  }

  std::string name() const override { return "dpo"; }
  std::int64_t size(Split s) const override { return static_cast<std::int64_t>(pairs(s).size()); }
  std::int64_t length(Split s, std::int64_t i) const override {
    const Pair& p = pair(s, i);
    return static_cast<std::int64_t>(std::max(p.chosen.tokens.size(), p.rejected.tokens.size()));
  }
  std::int64_t rows_per_example() const override { return 2; }
  double loss_units(Split, std::int64_t) const override { return 1.0; }

  Metrics train_micro(const std::vector<std::int64_t>& examples, double denominator) override {
    CAI_CHECK(denominator > 0, "dpo objective: denominator must be > 0, got {}", denominator);
    auto [loss, metrics] = forward(Split::train, examples);
    (loss / denominator).backward();
    return metrics;
  }

  Metrics evaluate(const std::vector<std::int64_t>& examples) override {
    torch::NoGradGuard no_grad;
    detail::EvalModeGuard eval_mode(*policy_.model->model);
    std::vector<std::int64_t> lengths;
    for (std::int64_t i = 0; i < size(Split::eval); ++i)
      lengths.push_back(2 * length(Split::eval, i));
    return detail::mean_pair_metrics(
        examples, lengths, detail::kEvalTokenBudget,
        [&](const std::vector<std::int64_t>& b) { return forward(Split::eval, b).second; });
  }

  std::vector<TrainableParam> trainable() override { return detail::policy_trainable(policy_); }
  void set_training(bool on) override { detail::set_policy_training(policy_, on); }
  void save(const std::string& dir) override { detail::save_policy(policy_, dir); }

 private:
  // The summed loss of the pairs and their metric sums.
  std::pair<torch::Tensor, Metrics> forward(Split s, const std::vector<std::int64_t>& examples) {
    CAI_CHECK(!examples.empty(), "dpo objective: empty micro-batch");
    const auto B = static_cast<std::int64_t>(examples.size());
    std::vector<const detail::Row*> rows;
    for (auto i : examples) rows.push_back(&pair(s, i).chosen);
    for (auto i : examples) rows.push_back(&pair(s, i).rejected);
    std::vector<double> ref_c, ref_r, p, n_c, n_r;
    for (auto i : examples) {
      const Pair& q = pair(s, i);
      ref_c.push_back(q.ref_chosen);
      ref_r.push_back(q.ref_rejected);
      p.push_back(q.p_chosen);
      n_c.push_back(static_cast<double>(q.n_chosen));
      n_r.push_back(static_cast<double>(q.n_rejected));
    }
    const detail::Batch batch = detail::make_batch(rows);
    LlamaModel& model = *policy_.model->model;
    const auto hidden = model.forward_hidden(batch.tokens);  // [2B,T,C]
    detail::LogprobOptions lo;
    lo.correct = false;  // DPO logs no token accuracy: skip the argmax pass over [2N,V]
    const auto lp = detail::target_logprobs(model, hidden, batch, lo);
    const auto& sums = lp.sums;        // [2B]
    const auto opts = sums.options();  // dtype and device of the log-probabilities
    auto vec = [&](const std::vector<double>& v) {
      return torch::tensor(v, torch::kFloat64).to(opts);
    };
    const auto pi_c = sums.narrow(0, 0, B), pi_r = sums.narrow(0, B, B);
    auto lc = pi_c, lr = pi_r, rc = vec(ref_c), rr = vec(ref_r);
    if (opts_.loss.type == DpoLossType::ipo) {
      // IPO compares mean token log-probabilities (as TRL does), so long and short responses
      // weigh alike.
      const auto len_c = vec(n_c), len_r = vec(n_r);
      lc = lc / len_c;
      lr = lr / len_r;
      rc = rc / len_c;
      rr = rr / len_r;
    }
    const DpoLossTerms terms = dpo_loss(lc, lr, rc, rr, vec(p), opts_.loss);
    auto loss = terms.loss;  // [B]
    Metrics m;
    if (opts_.rpo_alpha > 0) {
      // The chosen response's mean token NLL (Pang et al. 2024), keeping its likelihood up.
      const auto nll = -pi_c / vec(n_c);  // [B]
      auto term = nll;
      if (opts_.token_constraint) {
        term = constrained_term(s, examples, lp.tokens) / vec(n_c);  // [B]
        m["constraint"] = term.sum().item<double>();
      }
      loss = loss + opts_.rpo_alpha * term;
      m["nll"] = nll.sum().item<double>();
    }
    const auto loss_sum = loss.sum();
    m["loss"] = loss_sum.item<double>();
    m["rewards/chosen"] = terms.chosen_rewards.sum().item<double>();
    m["rewards/rejected"] = terms.rejected_rewards.sum().item<double>();
    m["rewards/margins"] = (terms.chosen_rewards - terms.rejected_rewards).sum().item<double>();
    m["rewards/accuracies"] = terms.chosen_rewards.gt(terms.rejected_rewards).sum().item<double>();
    m["logps/chosen"] = pi_c.sum().item<double>();
    m["logps/rejected"] = pi_r.sum().item<double>();
    return {loss_sum, m};
  }

  // Each pair's sum over its chosen tokens of the constrained objective (token_constraint.h).
  // tokens: [2B targets] from target_logprobs; the chosen rows come first, so their targets
  // are its first Nc entries, pair by pair.
  torch::Tensor constrained_term(Split s, const std::vector<std::int64_t>& examples,
                                 const torch::Tensor& tokens) const {
    std::vector<float> ref, beta;
    std::vector<std::int64_t> owner;  // [Nc] the pair of each chosen token
    for (std::size_t k = 0; k < examples.size(); ++k) {
      const Pair& q = pair(s, examples[k]);
      ref.insert(ref.end(), q.ref_tokens.begin(), q.ref_tokens.end());
      beta.insert(beta.end(), q.betas.begin(), q.betas.end());
      owner.insert(owner.end(), q.ref_tokens.size(), static_cast<std::int64_t>(k));
    }
    const auto nc = static_cast<std::int64_t>(ref.size());
    const auto o = tokens.options();
    const auto per_token = token_constrained_loss(tokens.narrow(0, 0, nc), torch::tensor(ref).to(o),
                                                  torch::tensor(beta).to(o));  // [Nc]
    return torch::zeros({static_cast<std::int64_t>(examples.size())}, o)
        .index_add(0, torch::tensor(owner, torch::kInt64).to(o.device()), per_token);  // [B]
  }

  std::vector<Pair> make_pairs(std::vector<PreferenceExample>& examples, const RefLogps& ref,
                               const TokenRefLogps* chosen_ref, const char* what) const {
    CAI_CHECK(ref.chosen.size() == examples.size() && ref.rejected.size() == examples.size(),
              "dpo objective: {} set has {} pairs but {} / {} reference log-probabilities", what,
              examples.size(), ref.chosen.size(), ref.rejected.size());
    CAI_CHECK(!chosen_ref || chosen_ref->tokens.size() == examples.size(),
              "dpo objective: {} set has {} pairs but chosen-token reference log-probabilities "
              "for {}",
              what, examples.size(), chosen_ref ? chosen_ref->tokens.size() : 0);
    const auto V = policy_.model->model->config().vocab_size;
    std::vector<Pair> out;
    for (std::size_t i = 0; i < examples.size(); ++i) {
      const auto& ex = examples[i];
      CAI_CHECK(!ex.prompt.empty() && !ex.chosen.empty() && !ex.rejected.empty(),
                "dpo objective: pair at line {} has an empty prompt or response", ex.line);
      for (const auto* v : {&ex.prompt, &ex.chosen, &ex.rejected})
        for (auto id : *v)
          CAI_CHECK(id >= 0 && id < V,
                    "dpo objective: pair at line {}: token id {} outside the "
                    "model's vocabulary of {}",
                    ex.line, id, V);
      Pair q;
      q.chosen = detail::prompt_response_row(ex.prompt, ex.chosen);
      q.rejected = detail::prompt_response_row(ex.prompt, ex.rejected);
      q.ref_chosen = ref.chosen[i];
      q.ref_rejected = ref.rejected[i];
      q.p_chosen = ex.p_chosen;
      q.n_chosen = static_cast<std::int64_t>(ex.chosen.size());
      q.n_rejected = static_cast<std::int64_t>(ex.rejected.size());
      if (chosen_ref) {
        const auto& r = chosen_ref->tokens[i];
        CAI_CHECK(static_cast<std::int64_t>(r.size()) == q.n_chosen,
                  "dpo objective: pair at line {} has {} chosen tokens but {} reference "
                  "log-probabilities",
                  ex.line, q.n_chosen, r.size());
        q.ref_tokens.assign(r.begin(), r.end());
        const auto b = token_betas(q.n_chosen, opts_.constraint, ex.continued);
        q.betas.assign(b.begin(), b.end());
      }
      out.push_back(std::move(q));
    }
    return out;
  }

  const std::vector<Pair>& pairs(Split s) const { return s == Split::train ? train_ : eval_; }
  const Pair& pair(Split s, std::int64_t i) const {
    CAI_CHECK(i >= 0 && i < size(s), "dpo objective: example {} outside 0..{}", i, size(s) - 1);
    return pairs(s)[static_cast<std::size_t>(i)];
  }

  Policy policy_;
  DpoOptions opts_;
  std::vector<Pair> train_, eval_;
};

}  // namespace

std::unique_ptr<Objective> make_dpo_objective(Policy policy, std::vector<PreferenceExample> train,
                                              RefLogps train_ref,
                                              std::vector<PreferenceExample> eval,
                                              RefLogps eval_ref, const DpoOptions& opts,
                                              const DpoConstraint* constraint) {
  return std::make_unique<DpoObjective>(std::move(policy), std::move(train), std::move(train_ref),
                                        std::move(eval), std::move(eval_ref), opts, constraint);
}

}  // namespace cai::train
