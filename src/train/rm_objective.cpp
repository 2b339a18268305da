// Reward-model training: Bradley-Terry on soft labels over a scalar head (losses.h: bt_loss).
//
// Each micro-batch runs the chosen and the rejected sequences of its pairs as one batch of
// 2B rows: [chosen_0 .. chosen_{B-1}, rejected_0 .. rejected_{B-1}].
#include <torch/torch.h>

#include "batch.h"
#include "cai/formats/dtype.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/train/objectives.h"
#include "cai/train/reward_model.h"

namespace cai::train {
namespace {

struct Pair {
  std::vector<std::int32_t> chosen, rejected;  // full sequences: prompt + response
  double p_chosen = 1;
};

class RmObjective final : public Objective {
 public:
  RmObjective(RewardModel& rm, std::vector<PreferenceExample> train,
              std::vector<PreferenceExample> eval, const RmLossOptions& opts)
      : rm_(rm), opts_(opts) {
    opts_.validate();
    train_ = make_pairs(train);
    eval_ = make_pairs(eval);
  }

  std::string name() const override { return "rm"; }
  std::int64_t size(Split s) const override { return static_cast<std::int64_t>(pairs(s).size()); }
  std::int64_t length(Split s, std::int64_t i) const override {
    const Pair& p = pair(s, i);
    return static_cast<std::int64_t>(std::max(p.chosen.size(), p.rejected.size()));
  }
  std::int64_t rows_per_example() const override { return 2; }
  double loss_units(Split, std::int64_t) const override { return 1.0; }

  Metrics train_micro(const std::vector<std::int64_t>& examples, double denominator) override {
    CAI_CHECK(denominator > 0, "rm objective: denominator must be > 0, got {}", denominator);
    auto [loss, metrics] = forward(Split::train, examples);
    (loss / denominator).backward();
    return metrics;
  }

  Metrics evaluate(const std::vector<std::int64_t>& examples) override {
    torch::NoGradGuard no_grad;
    detail::EvalModeGuard eval_mode(*rm_.base().model);
    std::vector<std::int64_t> lengths;
    for (std::int64_t i = 0; i < size(Split::eval); ++i)
      lengths.push_back(2 * length(Split::eval, i));
    return detail::mean_pair_metrics(
        examples, lengths, detail::kEvalTokenBudget,
        [&](const std::vector<std::int64_t>& b) { return forward(Split::eval, b).second; });
  }

  std::vector<TrainableParam> trainable() override {
    std::vector<TrainableParam> out;
    for (const auto& item : rm_.base().model->named_parameters())
      if (item.value().requires_grad())  // the unused LM head is frozen
        out.push_back({item.key(), item.value(), item.value().dim() >= 2});
    out.push_back({"score", rm_.head(), true});
    return out;
  }
  void set_training(bool on) override { rm_.base().model->train(on); }
  void save(const std::string& dir) override { rm_.save(dir); }

 private:
  std::pair<torch::Tensor, Metrics> forward(Split s, const std::vector<std::int64_t>& examples) {
    CAI_CHECK(!examples.empty(), "rm objective: empty micro-batch");
    const auto B = static_cast<std::int64_t>(examples.size());
    std::vector<const std::vector<std::int32_t>*> rows;
    for (auto i : examples) rows.push_back(&pair(s, i).chosen);
    for (auto i : examples) rows.push_back(&pair(s, i).rejected);
    std::int64_t T = 0;
    for (const auto* r : rows) T = std::max<std::int64_t>(T, static_cast<std::int64_t>(r->size()));
    auto tokens = torch::zeros({2 * B, T}, torch::kInt64);  // right padded
    auto* p = tokens.data_ptr<std::int64_t>();
    std::vector<std::int64_t> lengths;
    for (std::int64_t r = 0; r < 2 * B; ++r) {
      const auto& seq = *rows[static_cast<std::size_t>(r)];
      std::copy(seq.begin(), seq.end(), p + r * T);
      lengths.push_back(static_cast<std::int64_t>(seq.size()));
    }
    std::vector<double> pc;
    for (auto i : examples) pc.push_back(pair(s, i).p_chosen);

    const auto r = rm_.rewards(tokens, lengths);  // [2B]
    const auto rc = r.narrow(0, 0, B), rr = r.narrow(0, B, B);
    const auto loss = bt_loss(rc, rr, torch::tensor(pc, torch::kFloat64).to(r.options()), opts_);
    const auto loss_sum = loss.sum();
    torch::NoGradGuard no_grad;
    const auto margin = rc - rr;
    // Ties count half, so a model that scores everything alike sits at 0.5.
    const double acc = margin.gt(0).sum().item<double>() + 0.5 * margin.eq(0).sum().item<double>();
    Metrics m{{"loss", loss_sum.item<double>()},
              {"accuracy", acc},
              {"rewards/chosen", rc.sum().item<double>()},
              {"rewards/rejected", rr.sum().item<double>()},
              {"rewards/margins", margin.sum().item<double>()}};
    return {loss_sum, m};
  }

  std::vector<Pair> make_pairs(std::vector<PreferenceExample>& examples) const {
    const auto V = rm_.base().config.vocab_size;
    std::vector<Pair> out;
    for (auto& ex : examples) {
      CAI_CHECK(!ex.chosen.empty() && !ex.rejected.empty(),
                "rm objective: pair at line {} has an empty response", ex.line);
      Pair q;
      q.chosen = ex.prompt;
      q.chosen.insert(q.chosen.end(), ex.chosen.begin(), ex.chosen.end());
      q.rejected = ex.prompt;
      q.rejected.insert(q.rejected.end(), ex.rejected.begin(), ex.rejected.end());
      for (const auto* v : {&q.chosen, &q.rejected})
        for (auto id : *v)
          CAI_CHECK(id >= 0 && id < V,
                    "rm objective: pair at line {}: token id {} outside the "
                    "model's vocabulary of {}",
                    ex.line, id, V);
      q.p_chosen = ex.p_chosen;
      out.push_back(std::move(q));
    }
    return out;
  }

  const std::vector<Pair>& pairs(Split s) const { return s == Split::train ? train_ : eval_; }
  const Pair& pair(Split s, std::int64_t i) const {
    CAI_CHECK(i >= 0 && i < size(s), "rm objective: example {} outside 0..{}", i, size(s) - 1);
    return pairs(s)[static_cast<std::size_t>(i)];
  }

  RewardModel& rm_;
  RmLossOptions opts_;
  std::vector<Pair> train_, eval_;
};

}  // namespace

std::unique_ptr<Objective> make_rm_objective(RewardModel& rm, std::vector<PreferenceExample> train,
                                             std::vector<PreferenceExample> eval,
                                             const RmLossOptions& opts) {
  return std::make_unique<RmObjective>(rm, std::move(train), std::move(eval), opts);
}

}  // namespace cai::train
