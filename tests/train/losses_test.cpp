// Losses against values worked out by hand (plain std::log / std::exp arithmetic on a few
// numbers) and their gradients against central finite differences in double precision.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "cai/io/error.h"
#include "cai/train/losses.h"

namespace cai::train {
namespace {

double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double logsig(double x) { return std::log(sig(x)); }

torch::Tensor d(std::vector<double> v) { return torch::tensor(v, torch::kFloat64); }

// log softmax(row)[k] by hand.
double log_softmax_at(const std::vector<double>& row, int k) {
  double z = 0;
  for (double x : row) z += std::exp(x);
  return row[static_cast<std::size_t>(k)] - std::log(z);
}

TEST(Losses, SequenceLogprobsByHand) {
  // B = 2, T = 3, V = 4.
  const std::vector<std::vector<double>> l = {{0.1, -0.2, 0.3, 0.0}, {1.0, 0.5, -1.0, 2.0},
                                              {0.0, 0.0, 0.0, 0.0},  {-0.5, 0.2, 0.7, 0.1},
                                              {0.3, 0.3, -0.3, 0.9}, {2.0, -2.0, 1.0, 0.0}};
  std::vector<double> flat;
  for (const auto& r : l) flat.insert(flat.end(), r.begin(), r.end());
  const auto logits = d(flat).view({2, 3, 4});
  const auto tokens = torch::tensor({2, 0, 3, 1, 2, 1}, torch::kInt64).view({2, 3});
  const auto target = torch::tensor({0, 1, 1, 0, 0, 1}, torch::kUInt8).view({2, 3});
  torch::Tensor counts;
  const auto lp = sequence_logprobs(logits, tokens, target, &counts);
  // Row 0: position 0 predicts token 0, position 1 predicts token 3.
  const double row0 = log_softmax_at(l[0], 0) + log_softmax_at(l[1], 3);
  // Row 1: only position 2 (predicted at position 1) counts: token 1.
  const double row1 = log_softmax_at(l[4], 1);
  EXPECT_NEAR(lp[0].item<double>(), row0, 1e-12);
  EXPECT_NEAR(lp[1].item<double>(), row1, 1e-12);
  EXPECT_EQ(counts[0].item<double>(), 2);
  EXPECT_EQ(counts[1].item<double>(), 1);
  EXPECT_NEAR(sft_loss_sum(logits, tokens, target).item<double>(), -(row0 + row1), 1e-12);
}

TEST(Losses, MaskedLabelsChangeNothing) {
  torch::manual_seed(1);
  const auto logits = torch::randn({2, 5, 7}, torch::kFloat64);
  auto tokens = torch::randint(0, 7, {2, 5}, torch::kInt64);
  const auto target = torch::tensor({0, 0, 1, 1, 0, 0, 1, 0, 1, 1}, torch::kUInt8).view({2, 5});
  const double base = sft_loss_sum(logits, tokens, target).item<double>();
  // A masked label (row 0, position 1; row 1, position 2) set to every other id: no change.
  for (int v = 0; v < 7; ++v) {
    auto t = tokens.clone();
    t[0][1] = v;
    t[1][2] = v;
    EXPECT_EQ(sft_loss_sum(logits, t, target).item<double>(), base);
  }
  // A target label does change it.
  auto t = tokens.clone();
  t[0][2] = (tokens[0][2].item<std::int64_t>() + 1) % 7;
  EXPECT_NE(sft_loss_sum(logits, t, target).item<double>(), base);
}

TEST(Losses, BradleyTerryByHand) {
  const auto rc = d({1.0, -0.5, 0.2}), rr = d({0.0, 0.5, 0.2});
  // Hard labels, no margin: -log sigmoid(rc - rr).
  RmLossOptions o;
  auto l = bt_loss(rc, rr, d({1, 1, 1}), o);
  EXPECT_NEAR(l[0].item<double>(), -logsig(1.0), 1e-12);
  EXPECT_NEAR(l[1].item<double>(), -logsig(-1.0), 1e-12);
  EXPECT_NEAR(l[2].item<double>(), std::log(2.0), 1e-12);
  // Soft labels: -[p log sigmoid(d) + (1 - p) log sigmoid(-d)].
  l = bt_loss(rc, rr, d({0.7, 0.0, 0.5}), o);
  EXPECT_NEAR(l[0].item<double>(), -(0.7 * logsig(1.0) + 0.3 * logsig(-1.0)), 1e-12);
  EXPECT_NEAR(l[1].item<double>(), -logsig(1.0), 1e-12);
  EXPECT_NEAR(l[2].item<double>(), std::log(2.0), 1e-12);
  // Margin 0.5 and centering 0.01.
  o.margin = 0.5;
  o.centering_coef = 0.01;
  l = bt_loss(rc, rr, d({1.0, 0.7, 0.0}), o);
  EXPECT_NEAR(l[0].item<double>(), -logsig(1.0 - 0.5) + 0.01 * 1.0 * 1.0, 1e-12);
  EXPECT_NEAR(l[1].item<double>(),
              -(0.7 * logsig(-1.0 - 0.5) + 0.3 * logsig(1.0 - 0.5)) + 0.01 * 0.0, 1e-12);
  EXPECT_NEAR(l[2].item<double>(), -logsig(-0.0 - 0.5) + 0.01 * 0.4 * 0.4, 1e-12);
  o.margin = -1;
  EXPECT_THROW(o.validate(), Error);
}

struct DpoCase {
  double pc, pr, rc, rr, p;
};

TEST(Losses, DpoVariantsByHand) {
  const std::vector<DpoCase> cs = {
      {-10, -12, -11, -11.5, 1.0}, {-3, -2, -3.5, -2.2, 0.8}, {-5, -5, -5, -5, 0.3}};
  std::vector<double> pc, pr, rc, rr, p;
  for (const auto& c : cs) {
    pc.push_back(c.pc);
    pr.push_back(c.pr);
    rc.push_back(c.rc);
    rr.push_back(c.rr);
    p.push_back(c.p);
  }
  auto run = [&](DpoLossType t, double beta, double eps) {
    DpoLossOptions o;
    o.type = t;
    o.beta = beta;
    o.label_smoothing = eps;
    return dpo_loss(d(pc), d(pr), d(rc), d(rr), d(p), o);
  };
  for (double beta : {0.1, 0.5}) {
    for (std::size_t i = 0; i < cs.size(); ++i) {
      const auto& c = cs[i];
      const double h = (c.pc - c.rc) - (c.pr - c.rr), bh = beta * h;
      auto soft = [&](double q) { return -(q * logsig(bh) + (1 - q) * logsig(-bh)); };
      // sigmoid (DPO eq. 7) with soft labels; with label smoothing (cDPO).
      EXPECT_NEAR(run(DpoLossType::sigmoid, beta, 0).loss[i].item<double>(), soft(c.p), 1e-12);
      const double eps = 0.1, ps = c.p * (1 - eps) + (1 - c.p) * eps;
      EXPECT_NEAR(run(DpoLossType::sigmoid, beta, eps).loss[i].item<double>(), soft(ps), 1e-12);
      // robust (rDPO eq. 8).
      EXPECT_NEAR(run(DpoLossType::robust, beta, eps).loss[i].item<double>(),
                  ((1 - eps) * soft(c.p) - eps * soft(1 - c.p)) / (1 - 2 * eps), 1e-12);
      // IPO: (h - (p - 1/2) / beta)^2.
      const double ipo = h - (c.p - 0.5) / beta;
      EXPECT_NEAR(run(DpoLossType::ipo, beta, 0).loss[i].item<double>(), ipo * ipo, 1e-12);
      // hinge (SLiC).
      EXPECT_NEAR(run(DpoLossType::hinge, beta, 0).loss[i].item<double>(),
                  c.p * std::max(0.0, 1 - bh) + (1 - c.p) * std::max(0.0, 1 + bh), 1e-12);
      // Rewards: beta (pi - ref).
      const auto terms = run(DpoLossType::sigmoid, beta, 0);
      EXPECT_NEAR(terms.chosen_rewards[i].item<double>(), beta * (c.pc - c.rc), 1e-12);
      EXPECT_NEAR(terms.rejected_rewards[i].item<double>(), beta * (c.pr - c.rr), 1e-12);
      EXPECT_FALSE(terms.chosen_rewards.requires_grad());
    }
  }
  // The IPO target for a hard label is 1 / (2 beta).
  DpoLossOptions o;
  o.type = DpoLossType::ipo;
  o.beta = 0.25;
  const auto l = dpo_loss(d({2.0}), d({0.0}), d({0.0}), d({0.0}), d({1.0}), o).loss;
  EXPECT_NEAR(l[0].item<double>(), 0.0, 1e-12);
}

TEST(Losses, DpoOptionsAndNames) {
  EXPECT_EQ(opt::parse_enum<DpoLossType>("ipo", "loss"), DpoLossType::ipo);
  EXPECT_STREQ(to_string(DpoLossType::robust), "robust");
  EXPECT_THROW(opt::parse_enum<DpoLossType>("kto", "loss"), Error);
  DpoLossOptions o;
  o.beta = 0;
  EXPECT_THROW(o.validate(), Error);
  o.beta = 0.1;
  o.label_smoothing = 0.5;
  EXPECT_THROW(o.validate(), Error);
  o.label_smoothing = 0.1;
  o.type = DpoLossType::hinge;
  EXPECT_THROW(o.validate(), Error);
}

// Central differences of the scalar f at x (double), against autograd.
void check_grad(const std::function<torch::Tensor(const torch::Tensor&)>& f, torch::Tensor x) {
  x = x.detach().clone().set_requires_grad(true);
  f(x).sum().backward();
  const auto g = x.grad().clone();
  const double h = 1e-6;
  auto flat = x.detach().view({-1});
  for (std::int64_t i = 0; i < flat.numel(); ++i) {
    auto xp = flat.clone(), xm = flat.clone();
    xp[i] += h;
    xm[i] -= h;
    const double fd =
        (f(xp.view(x.sizes())).sum().item<double>() - f(xm.view(x.sizes())).sum().item<double>()) /
        (2 * h);
    const double an = g.view({-1})[i].item<double>();
    EXPECT_NEAR(an, fd, 1e-7 + 1e-6 * std::abs(fd)) << "element " << i;
  }
}

TEST(Losses, GradientsMatchFiniteDifferences) {
  torch::manual_seed(3);
  const auto tokens = torch::randint(0, 5, {2, 4}, torch::kInt64);
  const auto target = torch::tensor({0, 1, 0, 1, 0, 1, 1, 1}, torch::kUInt8).view({2, 4});
  check_grad([&](const torch::Tensor& x) { return sequence_logprobs(x, tokens, target); },
             torch::randn({2, 4, 5}, torch::kFloat64));
  check_grad([&](const torch::Tensor& x) { return sft_loss_sum(x, tokens, target); },
             torch::randn({2, 4, 5}, torch::kFloat64));

  const auto other = d({0.3, -0.4, 1.2}), p = d({1.0, 0.6, 0.2});
  RmLossOptions ro;
  ro.margin = 0.3;
  ro.centering_coef = 0.05;
  check_grad([&](const torch::Tensor& x) { return bt_loss(x, other, p, ro); }, d({0.5, 0.1, -1.0}));
  check_grad([&](const torch::Tensor& x) { return bt_loss(other, x, p, ro); }, d({0.5, 0.1, -1.0}));

  const auto pr = d({-4.0, -6.5, -3.0}), rc = d({-5.0, -6.0, -2.5}), rr = d({-4.5, -6.2, -3.3});
  for (auto type :
       {DpoLossType::sigmoid, DpoLossType::robust, DpoLossType::ipo, DpoLossType::hinge}) {
    DpoLossOptions o;
    o.type = type;
    o.beta = 0.3;
    if (type == DpoLossType::sigmoid || type == DpoLossType::robust) o.label_smoothing = 0.15;
    SCOPED_TRACE(to_string(type));
    // Away from the hinge's kink (beta h = +-1) so the difference quotient is smooth.
    check_grad([&](const torch::Tensor& x) { return dpo_loss(x, pr, rc, rr, p, o).loss; },
               d({-4.2, -6.0, -2.0}));
    check_grad(
        [&](const torch::Tensor& x) {
          return dpo_loss(d({-4.2, -6.0, -2.0}), x, rc, rr, p, o).loss;
        },
        pr);
  }
}

}  // namespace
}  // namespace cai::train
