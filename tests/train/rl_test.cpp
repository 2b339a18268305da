// `cai train rl`: the estimators and losses against hand-computed values; a toy reward that
// pays for a set of tokens rises under RLOO and PPO while the KL stays bounded; a large KL
// coefficient holds the policy at the reference; exact resumption; bad options and inputs;
// the command end to end with a (zero-headed) reward model.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "../cli/run_cai.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/tokenizer/chat_template.h"
#include "cai/train/reward_model.h"
#include "cai/train/rl.h"
#include "cai/train/rl_losses.h"
#include "tiny_data.h"

namespace cai::train {
namespace {

namespace fs = std::filesystem;
using train_test::temp_dir;
using train_test::tiny_loaded;
using train_test::tiny_tokenizer;
using train_test::write_text;

std::vector<double> vec(const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// ---- estimators and losses, by hand ------------------------------------------------------------

TEST(RlLosses, RlooAdvantageIsRewardMinusMeanOfTheOthers) {
  const auto a = rloo_advantages({1, 2, 3, 4, 0, 0, 0, 6}, 4);
  const std::vector<double> want = {1 - 3.0, 2 - 8.0 / 3, 3 - 7.0 / 3, 4 - 2.0, -2, -2, -2, 6};
  ASSERT_EQ(a.size(), want.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], want[i], 1e-12) << i;
  EXPECT_THROW(rloo_advantages({1, 2}, 1), Error);
  EXPECT_THROW(rloo_advantages({1, 2, 3}, 2), Error);
}

TEST(RlLosses, GrpoAdvantageIsRewardMinusGroupMeanOverGroupStd) {
  // Group 1: mean 3, deviations -2, -1, 0, 3; sample variance (4 + 1 + 0 + 9) / 3 = 14 / 3.
  // Group 2: all equal, so every advantage is 0.
  const auto a = grpo_advantages({1, 2, 3, 6, 5, 5, 5, 5}, 4, true);
  const double sd = std::sqrt(14.0 / 3.0);
  const std::vector<double> want = {
      -2 / (sd + 1e-4), -1 / (sd + 1e-4), 0, 3 / (sd + 1e-4), 0, 0, 0, 0};
  ASSERT_EQ(a.size(), want.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], want[i], 1e-12) << i;
  // Without scaling (Dr. GRPO): the deviations themselves. Groups of two: +-half the gap.
  const auto b = grpo_advantages({1, 2, 3, 6, 0.5, -0.5}, 2, false);
  const std::vector<double> bw = {-0.5, 0.5, -1.5, 1.5, 0.5, -0.5};
  for (std::size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(b[i], bw[i], 1e-12) << i;
  const auto c = grpo_advantages({0, 1}, 2, true);  // sd = sqrt(0.5)
  EXPECT_NEAR(c[1], 0.5 / (std::sqrt(0.5) + 1e-4), 1e-12);
  EXPECT_THROW(grpo_advantages({1, 2}, 1, true), Error);
  EXPECT_THROW(grpo_advantages({1, 2, 3}, 2, true), Error);
}

TEST(RlLosses, GaeOnATinySequence) {
  // gamma 0.9, lambda 0.8: delta_2 = 1 - 0.4 = 0.6; delta_1 = 0.9 * 0.4 - 0.2 = 0.16;
  // delta_0 = 0.9 * 0.2 - 0.5 = -0.32; A_1 = 0.16 + 0.72 * 0.6 = 0.592;
  // A_0 = -0.32 + 0.72 * 0.592 = 0.10624; returns = A + V.
  const Gae g = gae({0, 0, 1}, {0.5, 0.2, 0.4}, 0.9, 0.8);
  const std::vector<double> adv = {0.10624, 0.592, 0.6}, ret = {0.60624, 0.792, 1.0};
  for (int t = 0; t < 3; ++t) {
    EXPECT_NEAR(g.advantages[t], adv[t], 1e-12) << t;
    EXPECT_NEAR(g.returns[t], ret[t], 1e-12) << t;
  }
  // gamma = lambda = 1 and zero values: every advantage is the reward still to come.
  const Gae m = gae({0.5, -1, 2}, {0, 0, 0}, 1.0, 1.0);
  EXPECT_NEAR(m.advantages[0], 1.5, 1e-12);
  EXPECT_NEAR(m.advantages[1], 1.0, 1e-12);
  EXPECT_NEAR(m.advantages[2], 2.0, 1e-12);
}

TEST(RlLosses, PpoClippedPolicyLossAndItsGradient) {
  // ratios 1.5, 0.5, 0.5, 1.1 with advantages 1, 1, -2, -1 and eps 0.2:
  //   max(-1.5, -1.2) = -1.2 (clipped); max(-0.5, -0.8) = -0.5; max(1.0, 1.6) = 1.6 (clipped);
  //   max(1.1, 1.1) = 1.1.
  const auto old = torch::tensor({-1.0, -2.0, -0.5, -3.0}, torch::kFloat64);
  const auto ratio = torch::tensor({1.5, 0.5, 0.5, 1.1}, torch::kFloat64);
  auto lp = (old + ratio.log()).detach().set_requires_grad(true);
  const auto adv = torch::tensor({1.0, 1.0, -2.0, -1.0}, torch::kFloat64);
  torch::Tensor clipped;
  const auto loss = ppo_policy_loss(lp, old, adv, 0.2, &clipped);
  const std::vector<double> want = {-1.2, -0.5, 1.6, 1.1}, want_clip = {1, 0, 1, 0};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(vec(loss)[i], want[i], 1e-12) << i;
    EXPECT_EQ(vec(clipped)[i], want_clip[i]) << i;
  }
  // d/dlp of -A ratio is -A ratio where the unclipped term wins, 0 where the clip holds.
  loss.sum().backward();
  const std::vector<double> grad = {0.0, -0.5, 0.0, 1.1};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(vec(lp.grad())[i], grad[i], 1e-12) << i;
}

TEST(RlLosses, PpoClippedValueLoss) {
  // v 1.0 from old 0.5 clipped to 0.7: 0.5 max(1, 1.69) = 0.845; v 0.4 within the clip:
  // 0.5 * 0.05^2 = 0.00125; v 0.0 from 0.5 towards R = -1 clipped to 0.3: 0.5 max(1, 1.69).
  const auto v = torch::tensor({1.0, 0.4, 0.0}, torch::kFloat64);
  const auto old = torch::tensor({0.5, 0.5, 0.5}, torch::kFloat64);
  const auto ret = torch::tensor({2.0, 0.45, -1.0}, torch::kFloat64);
  const auto l = vec(ppo_value_loss(v, old, ret, 0.2));
  EXPECT_NEAR(l[0], 0.845, 1e-12);
  EXPECT_NEAR(l[1], 0.00125, 1e-12);
  EXPECT_NEAR(l[2], 0.845, 1e-12);
}

TEST(RlLosses, PerTokenKlEstimates) {
  const auto lp = torch::tensor({-1.0, -2.0, -0.7}, torch::kFloat64);
  const auto ref = torch::tensor({-2.0, -1.0, -0.7}, torch::kFloat64);
  const auto k1 = vec(kl_estimate(lp, ref, KlEstimator::k1));
  const auto k3 = vec(kl_estimate(lp, ref, KlEstimator::k3));
  EXPECT_NEAR(k1[0], 1.0, 1e-12);
  EXPECT_NEAR(k1[1], -1.0, 1e-12);
  EXPECT_NEAR(k1[2], 0.0, 1e-12);
  // k3 = exp(ref - lp) - 1 - (ref - lp): e^-1 - 1 + 1 and e - 1 - 1.
  EXPECT_NEAR(k3[0], std::exp(-1.0), 1e-12);
  EXPECT_NEAR(k3[1], std::exp(1.0) - 2.0, 1e-12);
  EXPECT_NEAR(k3[2], 0.0, 1e-12);
}

TEST(RlLosses, AdaptiveKlControllerAndRunningMoments) {
  // KL 6 against target 4: error clipped to 0.2, beta * (1 + 0.2 * 10 / 100).
  EXPECT_NEAR(adaptive_kl_update(0.1, 6.0, 4.0, 100.0, 10), 0.102, 1e-12);
  EXPECT_NEAR(adaptive_kl_update(0.1, 3.6, 4.0, 100.0, 10), 0.099, 1e-12);
  RunningMoments m;
  EXPECT_EQ(m.std(), 1.0);
  m.update({1, 2, 3});
  m.update({4, 5});
  EXPECT_NEAR(m.mean, 3.0, 1e-12);
  EXPECT_NEAR(m.std(), std::sqrt(2.0), 1e-12);
  const auto w = whiten({1, 2, 3});
  EXPECT_NEAR(w[0], -std::sqrt(1.5), 1e-6);
  EXPECT_NEAR(w[1], 0.0, 1e-12);
}

// ---- the loop on a tiny model with a toy reward
// --------------------------------------------------

// Pays 1 for every token in [kLo, kHi) (10% of the vocabulary) in the response.
constexpr std::int32_t kLo = 100, kHi = 132;
std::vector<double> toy_reward(const std::vector<RewardQuery>& qs) {
  std::vector<double> out;
  for (const auto& q : qs) {
    double hit = 0;
    for (auto id : q.response) hit += (id >= kLo && id < kHi) ? 1.0 : 0.0;
    out.push_back(hit);
  }
  return out;
}

std::vector<RlPrompt> toy_prompts(const std::string& name) {
  const auto dir = temp_dir("rl-" + name);
  const auto path =
      write_text(dir / "prompts.jsonl",
                 "{\"prompt\": \"Human: say something good\\n\\nAssistant:\"}\n"
                 "{\"prompt\": \"Human: say something bad\\n\\nAssistant:\"}\n"
                 "{\"prompt\": [{\"role\": \"user\", \"content\": \"hello there\"}]}\n"
                 "{\"messages\": [{\"role\": \"user\", \"content\": \"how are you?\"}, "
                 "{\"role\": \"assistant\", \"content\": \"I am fine\"}]}\n");
  return load_rl_prompts(path.string(), tiny_tokenizer(), ChatTemplate::by_name("chatml"), 64);
}

// With reward r (hits) and KL coefficient beta, the KL-regularised optimum tilts the
// reference by exp(r / beta) per token: from a near-uniform tiny model, the share of paid tokens
// goes from 0.1 to p* = 0.1 e^(1/beta) / (0.1 e^(1/beta) + 0.9). For beta = 0.5: p* = 0.451, so
// 8-token responses score 3.6 at a KL of 8 (p* ln(p*/0.1) + (1-p*) ln((1-p*)/0.9)) = 3.3 nats.
RlOptions toy_options(const std::string& name, RlAlgorithm algo) {
  RlOptions o;
  o.out_dir = temp_dir("rl-run-" + name).string();
  o.algorithm = algo;
  o.steps = 60;
  o.prompts_per_rollout = 4;
  o.samples_per_prompt = 4;
  o.max_new_tokens = 8;
  o.lr = 1e-2;
  o.kl_coef = 0.5;
  o.progress = false;
  if (algo == RlAlgorithm::grpo) {
    // k3 in the loss (as DeepSeekMath) is the gradient of KL(reference || policy), which holds
    // the policy differently: 0.4 lands where the others do (0.5: score 1.7, KL 1.3 nats;
    // 0.2: score 5.4, KL 13).
    o.kl_estimator = KlEstimator::k3;
    o.kl_coef = 0.4;
  }
  if (algo == RlAlgorithm::ppo) {
    o.lr = 3e-3;
    o.epochs = 2;
    o.minibatches = 2;
    o.vf_coef = 0.5;
  }
  return o;
}

double mean_of(const std::vector<nlohmann::json>& lines, const char* key, std::size_t from,
               std::size_t to) {
  double s = 0;
  for (std::size_t i = from; i < to; ++i) s += lines[i][key].get<double>();
  return s / static_cast<double>(to - from);
}

std::vector<nlohmann::json> metrics(const std::string& out_dir) {
  std::vector<nlohmann::json> out;
  for_each_jsonl(fs::path(out_dir) / "metrics.jsonl",
                 [&](const nlohmann::json& j, std::size_t) { out.push_back(j); });
  return out;
}

void expect_reward_rises(RlAlgorithm algo, const std::string& name) {
  auto lm = tiny_loaded(11);
  const RlOptions o = toy_options(name, algo);
  const RlSummary s = train_rl(lm, toy_prompts(name), toy_reward, o);
  EXPECT_EQ(s.steps, o.steps);
  const auto m = metrics(o.out_dir);
  ASSERT_EQ(m.size(), 60u);
  const double before = mean_of(m, "score", 0, 3), after = mean_of(m, "score", 55, 60);
  const double kl_after = mean_of(m, "kl", 55, 60);
  std::printf("[%s] score %.3f -> %.3f, kl %.3f -> %.3f, entropy %.3f -> %.3f\n", name.c_str(),
              before, after, mean_of(m, "kl", 0, 3), kl_after, mean_of(m, "entropy", 0, 3),
              mean_of(m, "entropy", 55, 60));
  // From 0.8 (10% of 8 tokens) towards the optimum's 3.6; the KL towards the optimum's 3.3
  // nats and no further (with beta = 0 it passes 17 within 30 steps).
  EXPECT_GT(after, before + 1.2);
  EXPECT_GT(kl_after, 0.5);
  EXPECT_LT(kl_after, 6.0);
  for (const char* k :
       {"score", "reward", "kl", "kl_coef", "entropy", "response_length", "truncated", "loss",
        "loss/policy", "clipfrac", "approx_kl", "grad_norm", "lr", "samples_per_s"})
    EXPECT_TRUE(m.back().contains(k)) << k;
  EXPECT_EQ(m.back().contains("loss/value"), algo == RlAlgorithm::ppo);
  EXPECT_EQ(m.back().contains("loss/kl"), algo == RlAlgorithm::grpo);
  if (algo == RlAlgorithm::grpo) {
    // The KL is a term of the loss, not of the reward; on the first update the policy is the
    // reference and the sampler (ratio 1, KL 0), and the loss is minus the mean advantage,
    // 0 for advantages centred in every group.
    for (const auto& line : m) EXPECT_EQ(line["reward"], line["score"]);
    EXPECT_NEAR(m.front()["loss/policy"].get<double>(), 0.0, 1e-5);
    EXPECT_NEAR(m.front()["loss/kl"].get<double>(), 0.0, 1e-6);
    EXPECT_GT(m.back()["loss/kl"].get<double>(), 0.0);
  }
  if (algo == RlAlgorithm::rloo) {
    // One update per rollout: its forward pass (the autograd path) sees the policy that
    // sampled, as the fused no-grad path scored it: the ratio is 1 up to rounding.
    EXPECT_LT(m.front()["approx_kl"].get<double>(), 1e-8);
    EXPECT_EQ(m.front()["clipfrac"].get<double>(), 0.0);
  }
  // final/ is a model directory every other command loads.
  const LoadedModel back = load_model(fs::path(o.out_dir) / "final");
  EXPECT_TRUE(back.tokenizer.has_value());
}

TEST(RlTrain, RlooRaisesAToyRewardWithBoundedKl) { expect_reward_rises(RlAlgorithm::rloo, "rloo"); }
TEST(RlTrain, PpoRaisesAToyRewardWithBoundedKl) { expect_reward_rises(RlAlgorithm::ppo, "ppo"); }
TEST(RlTrain, GrpoRaisesAToyRewardWithBoundedKl) { expect_reward_rises(RlAlgorithm::grpo, "grpo"); }

TEST(RlTrain, LargeKlCoefficientHoldsThePolicyNearTheReference) {
  auto run = [](double kl_coef, const std::string& name) {
    auto lm = tiny_loaded(11);
    RlOptions o = toy_options(name, RlAlgorithm::rloo);
    o.steps = 30;
    o.kl_coef = kl_coef;
    train_rl(lm, toy_prompts(name), toy_reward, o);
    const auto m = metrics(o.out_dir);
    return std::make_pair(mean_of(m, "score", 25, 30) - mean_of(m, "score", 0, 3),
                          mean_of(m, "kl", 25, 30));
  };
  const auto [rise0, kl0] = run(0.0, "kl0");
  const auto [rise_big, kl_big] = run(5.0, "kl-big");
  std::printf("[kl] beta 0: rise %.3f kl %.3f; beta 5: rise %.3f kl %.3f\n", rise0, kl0, rise_big,
              kl_big);
  // beta 5: the optimum's paid share is 0.12 (KL 0.015 nats per response); beta 0: unbounded.
  EXPECT_GT(kl0, 10.0);
  EXPECT_LT(kl_big, 1.0);
  EXPECT_GT(rise0, 3.0);
  EXPECT_LT(rise_big, 0.5);
}

TEST(RlTrain, AdaptiveKlCoefficientMovesTowardsTheTarget) {
  auto lm = tiny_loaded(11);
  RlOptions o = toy_options("adaptive", RlAlgorithm::rloo);
  o.steps = 10;
  o.kl_coef = 0.05;
  o.kl_target = 1e-3;  // far below what the toy run reaches: beta must grow
  o.kl_horizon = 100;
  train_rl(lm, toy_prompts("adaptive"), toy_reward, o);
  const auto m = metrics(o.out_dir);
  EXPECT_GT(m.back()["kl_coef"].get<double>(), 0.05);
}

// A run straight through from the starting model of `seed`, then the same run killed during
// step 3 (its checkpoint at step 2 stays) and resumed from the starting model: the metrics of
// both and the models they end with.
struct StraightAndResumed {
  std::vector<nlohmann::json> want, got;
  LoadedModel straight, resumed;
};
StraightAndResumed straight_and_resumed(RlOptions o, const std::vector<RlPrompt>& prompts,
                                        std::uint64_t seed,
                                        const std::vector<TokenizedSequence>& ptx = {}) {
  StraightAndResumed r{{}, {}, tiny_loaded(seed), tiny_loaded(seed)};
  train_rl(r.straight, prompts, toy_reward, o, ptx);
  r.want = metrics(o.out_dir);
  auto first = tiny_loaded(seed);
  int calls = 0;
  RewardFn failing = [&](const std::vector<RewardQuery>& q) {
    if (++calls == 3) throw std::runtime_error("killed");
    return toy_reward(q);
  };
  EXPECT_THROW(train_rl(first, prompts, failing, o, ptx), std::runtime_error);
  o.resume = true;
  train_rl(r.resumed, prompts, toy_reward, o, ptx);
  r.got = metrics(o.out_dir);
  return r;
}

TEST(RlTrain, ResumeRepeatsTheRunExactly) {
  RlOptions o = toy_options("resume", RlAlgorithm::ppo);
  o.steps = 4;
  o.save_every = 2;
  o.reward_norm = RewardNorm::running;
  o.kl_target = 0.5;
  o.kl_horizon = 50;
  const auto r = straight_and_resumed(o, toy_prompts("resume"), 12);
  ASSERT_EQ(r.got.size(), r.want.size());
  for (std::size_t i = 0; i < r.got.size(); ++i)
    for (const char* k : {"score", "kl", "kl_coef", "loss"})
      EXPECT_NEAR(r.got[i][k].get<double>(), r.want[i][k].get<double>(), 1e-6) << i << " " << k;
  torch::NoGradGuard g;
  const auto a = r.straight.model->named_parameters(), b = r.resumed.model->named_parameters();
  for (const auto& item : a)
    EXPECT_TRUE(torch::allclose(item.value(), b[item.key()], 0, 1e-6)) << item.key();
}

// PPO-ptx: the SFT rows' loss joins each update. With a zero reward and no KL the policy loss
// has no gradient, so the rows' loss is all that trains: "loss/ptx" of the first update is their
// mean token negative log-likelihood under the starting model (computed here from the full
// logits), and it falls as the run goes on; a resumed run reads the same rows.
std::vector<TokenizedSequence> ptx_rows(const std::string& name) {
  const auto path =
      write_text(temp_dir("ptx-" + name) / "sft.jsonl",
                 R"({"text": "the flu shot is on mondays"})"
                 "\n"
                 R"({"prompt": "Human: when?\n\nAssistant:", "completion": " mondays."})"
                 "\n"
                 R"({"text": "crutches are at the front desk"})"
                 "\n");
  std::vector<TokenizedSequence> out;
  for (auto& e : load_sft(path, tiny_tokenizer(), ChatTemplate::by_name("chatml"), {}))
    out.push_back(e.seq);
  return out;
}

TEST(RlTrain, PtxLossIsTheSftRowsNllAndTrainsThem) {
  const auto rows = ptx_rows("nll");
  RlOptions o = toy_options("ptx", RlAlgorithm::rloo);
  o.steps = 12;
  o.kl_coef = 0.0;
  o.ptx_coef = 1.0;
  o.ptx_rows = 3;  // every row, every update
  o.lr = 3e-3;
  RewardFn zero = [](const std::vector<RewardQuery>& q) {
    return std::vector<double>(q.size(), 0.0);
  };
  auto lm = tiny_loaded(13);
  double want = 0, targets = 0;
  {
    torch::NoGradGuard g;
    for (const auto& r : rows) {
      const auto T = static_cast<std::int64_t>(r.tokens.size());
      const auto tokens =
          torch::tensor(std::vector<std::int64_t>(r.tokens.begin(), r.tokens.end())).view({1, T});
      const auto logp = torch::log_softmax(lm.model->forward(tokens)[0], -1);  // [T,V]
      for (std::int64_t t = 1; t < T; ++t)
        if (r.target[static_cast<std::size_t>(t)]) {
          want -= logp[t - 1][r.tokens[static_cast<std::size_t>(t)]].item<double>();
          targets += 1;
        }
    }
  }
  train_rl(lm, toy_prompts("ptx"), zero, o, rows);
  const auto m = metrics(o.out_dir);
  ASSERT_EQ(m.size(), 12u);
  EXPECT_NEAR(m.front()["loss/ptx"].get<double>(), want / targets, 1e-4 * want / targets);
  EXPECT_NEAR(m.front()["loss/policy"].get<double>(), 0.0, 1e-9);
  EXPECT_LT(m.back()["loss/ptx"].get<double>(), 0.8 * m.front()["loss/ptx"].get<double>());
  // Without rows the option is refused rather than ignored.
  auto other = tiny_loaded(13);
  EXPECT_THROW(train_rl(other, toy_prompts("ptx"), zero, o), Error);
}

TEST(RlTrain, PtxRunResumesExactly) {
  RlOptions o = toy_options("ptx-resume", RlAlgorithm::grpo);
  o.steps = 4;
  o.save_every = 2;
  o.ptx_coef = 0.5;
  o.ptx_rows = 2;  // a different pair of rows each update
  const auto prompts = toy_prompts("ptx-resume");
  const auto rows = ptx_rows("resume");
  const auto r = straight_and_resumed(o, prompts, 14, rows);
  ASSERT_EQ(r.got.size(), r.want.size());
  for (std::size_t i = 0; i < r.got.size(); ++i)
    for (const char* k : {"score", "loss", "loss/ptx"})
      EXPECT_NEAR(r.got[i][k].get<double>(), r.want[i][k].get<double>(), 1e-6) << i << " " << k;
  // Other rows are another run: its checkpoint refuses them.
  auto wrong = rows;
  wrong.pop_back();
  auto third = tiny_loaded(14);
  o.resume = true;
  EXPECT_THROW(train_rl(third, prompts, toy_reward, o, wrong), Error);
}

// ---- errors ------------------------------------------------------------------------------------

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RlErrors, BadOptionsNameTheField) {
  RlOptions o;
  o.out_dir = "x";
  o.samples_per_prompt = 1;
  EXPECT_NE(error_of([&] { o.validate(); }).find("samples_per_prompt"), std::string::npos);
  o.algorithm = RlAlgorithm::ppo;
  EXPECT_NO_THROW(o.validate());
  o.temperature = 0;
  EXPECT_NE(error_of([&] { o.validate(); }).find("temperature"), std::string::npos);
  o = RlOptions{};
  EXPECT_NE(error_of([&] { o.validate(); }).find("out_dir"), std::string::npos);
  o.out_dir = "x";
  o.kl_coef = -1;
  EXPECT_NE(error_of([&] { o.validate(); }).find("kl_coef"), std::string::npos);
  o.kl_coef = 0;
  o.kl_target = 1;
  EXPECT_NE(error_of([&] { o.validate(); }).find("kl_target"), std::string::npos);
  o = RlOptions{};
  o.out_dir = "x";
  o.ptx_rows = 0;
  EXPECT_NE(error_of([&] { o.validate(); }).find("ptx_rows"), std::string::npos);
  // The SFT rows and their coefficient come together.
  RlRunOptions run;
  run.model = "m";
  run.prompts = "p";
  run.rl.out_dir = "x";
  run.rl.ptx_coef = 0.5;
  EXPECT_NE(error_of([&] { run.validate(); }).find("ptx_data: is required with ptx_coef > 0"),
            std::string::npos);
  run.rl.ptx_coef = 0;
  run.ptx_data = "sft.jsonl";
  EXPECT_NE(error_of([&] { run.validate(); }).find("ptx_coef: must be > 0"), std::string::npos);
  o = RlOptions{};
  o.out_dir = "x";
  o.minibatches = 1000;
  EXPECT_NE(error_of([&] { o.validate(); }).find("minibatches"), std::string::npos);
  EXPECT_NE(
      error_of([] { opt::parse_enum<RlAlgorithm>("dpo", "algorithm"); }).find("rloo, grpo or ppo"),
      std::string::npos);
  EXPECT_NE(error_of([] {
              opt::parse_enum<RewardNorm>("z", "reward_norm");
            }).find("none, batch or running"),
            std::string::npos);
  EXPECT_NE(error_of([] { opt::parse_enum<KlEstimator>("k2", "kl_estimator"); }).find("k1 or k3"),
            std::string::npos);
}

TEST(RlErrors, BadPromptsNameFileAndLine) {
  const auto dir = temp_dir("rl-bad-prompts");
  const auto tmpl = ChatTemplate::by_name("chatml");
  auto load = [&](const std::string& text, std::int64_t max_len = 64) {
    const auto p = write_text(dir / "p.jsonl", text);
    return error_of([&] { load_rl_prompts(p.string(), tiny_tokenizer(), tmpl, max_len); });
  };
  EXPECT_NE(load("{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n").find("p.jsonl:2"), std::string::npos);
  EXPECT_NE(load("{\"prompt\": 3}\n").find("field prompt"), std::string::npos);
  EXPECT_NE(
      load("{\"prompt\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", "
           "\"content\": \"b\"}]}\n")
          .find("last message"),
      std::string::npos);
  EXPECT_NE(load("{\"prompt\": \"a long prompt with many tokens in it\"}\n", 3).find("over the 3"),
            std::string::npos);
  EXPECT_NE(load("").find("no prompts"), std::string::npos);
}

TEST(RlErrors, BadRewardsAndModelsStopTheRun) {
  const auto prompts = toy_prompts("bad-rewards");
  RlOptions o = toy_options("bad-rewards", RlAlgorithm::rloo);
  o.steps = 2;
  auto lm = tiny_loaded(3);
  RewardFn short_fn = [](const std::vector<RewardQuery>&) { return std::vector<double>{1.0}; };
  EXPECT_NE(error_of([&] { train_rl(lm, prompts, short_fn, o); }).find("returned 1 scores for 16"),
            std::string::npos);
  RewardFn nan_fn = [](const std::vector<RewardQuery>& q) {
    return std::vector<double>(q.size(), std::nan(""));
  };
  EXPECT_NE(error_of([&] { train_rl(lm, prompts, nan_fn, o); }).find("reward"), std::string::npos);
  o.max_new_tokens = 1000;  // beyond the tiny model's context
  EXPECT_NE(error_of([&] { train_rl(lm, prompts, toy_reward, o); }).find("context"),
            std::string::npos);
  o.max_new_tokens = 8;
  o.resume = true;
  EXPECT_NE(error_of([&] { train_rl(lm, prompts, toy_reward, o); }).find("no checkpoint"),
            std::string::npos);
}

TEST(RlRewardModel, ScoresPromptAndResponseAsRmScoreWouldAndSurvivesEmptyReplies) {
  RewardModel rm(tiny_loaded(23));
  {
    torch::NoGradGuard g;
    rm.head().normal_();
  }
  const auto tmpl = ChatTemplate::by_name("chatml");
  const auto prompts = toy_prompts("rm-fn");  // two raw-text prompts, then two conversations
  const RewardFn fn = reward_model_fn(rm, tmpl);
  std::vector<RewardQuery> qs;
  for (const auto* p : {&prompts[0], &prompts[2]})
    for (const char* text : {"good good day", ""}) qs.push_back({p, {1}, text, false});
  const auto got = fn(qs);
  ASSERT_EQ(got.size(), 4u);
  // The reference: the same pairs tokenised by the preference loader, scored directly.
  const Tokenizer& tok = *rm.base().tokenizer;
  DataOptions dopt;
  const auto raw = tokenize_prompt_response(
      "Human: say something good\n\nAssistant:", "good good day", tok, tmpl, dopt, "test");
  const nlohmann::json conv =
      nlohmann::json::array({{{"role", "user"}, {"content", "hello there"}}});
  const auto chat = tokenize_prompt_response(
      conv, nlohmann::json::array({{{"role", "assistant"}, {"content", "good good day"}}}), tok,
      tmpl, dopt, "test");
  auto joined = [](const PromptResponse& pr) {
    auto s = pr.prompt;
    s.insert(s.end(), pr.response.begin(), pr.response.end());
    return s;
  };
  const auto want = rm.score({joined(raw), joined(chat)});
  EXPECT_NEAR(got[0], want[0], 1e-5);
  EXPECT_NEAR(got[2], want[1], 1e-5);
  for (double v : got) EXPECT_TRUE(std::isfinite(v));
}

// ---- the command
// ---------------------------------------------------------------------------------

using testing_util::CmdResult;
testing_util::CmdResult cai(const std::string& args) { return testing_util::run_cai(args); }

TEST(RlCli, TrainsAgainstARewardModelDirectory) {
  const auto dir = temp_dir("rl-cli");
  save_model_dir(tiny_loaded(21), dir / "policy", DType::F32);
  // A reward model whose head pays for the direction of one hidden unit: any model loads.
  RewardModel rm(tiny_loaded(22));
  {
    torch::NoGradGuard g;
    rm.head()[0][0] = 1.0;
  }
  rm.save(dir / "rm");
  write_text(dir / "prompts.jsonl",
             "{\"prompt\": \"Human: say something good\\n\\nAssistant:\"}\n"
             "{\"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}\n");
  const std::string base = "train rl --model " + (dir / "policy").string() + " --reward-model " +
                           (dir / "rm").string() + " --prompts " +
                           (dir / "prompts.jsonl").string() + " --out " + (dir / "run").string() +
                           " --steps 2 --prompts-per-step 2 --max-new-tokens 6 --lr 1e-3 --quiet"
                           " --chat-template chatml --threads 1";
  const auto r = cai(base + " -k 2");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 steps"), std::string::npos) << r.out;
  EXPECT_EQ(metrics((dir / "run").string()).size(), 2u);
  EXPECT_TRUE(load_model(dir / "run" / "final").tokenizer.has_value());
  // PPO from the same flags, and flag errors naming the flag.
  EXPECT_EQ(cai(base + " -k 2 --algorithm ppo").code, 0);
  const auto bad = cai(base + " --algorithm a2c");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("--algorithm"), std::string::npos) << bad.out;
  // GRPO, and a judge reward without its constitution.
  EXPECT_EQ(cai(base + " -k 2 --algorithm grpo").code, 0);
  const auto no_c = cai(base + " -k 2 --reward judge");
  EXPECT_NE(no_c.code, 0);
  EXPECT_NE(no_c.out.find("--constitution"), std::string::npos) << no_c.out;
  // The constitution judge as the reward (the starting policy judges, on a backend of its own).
  write_text(dir / "c.yaml",
             "name: t\nprinciples:\n  - name: kind\n    critique: Is it kind?\n"
             "    revision: Be kind.\n    comparison: Which is kinder?\n");
  const auto judged =
      cai("train rl --model " + (dir / "policy").string() + " --prompts " +
          (dir / "prompts.jsonl").string() + " --out " + (dir / "run-judge").string() +
          " --steps 2 --prompts-per-step 2 --max-new-tokens 6 --lr 1e-3 --quiet"
          " --chat-template chatml --threads 1 -k 2 --algorithm grpo"
          " --reward judge -c " +
          (dir / "c.yaml").string());
  ASSERT_EQ(judged.code, 0) << judged.out;
  for (const auto& line : metrics((dir / "run-judge").string())) {
    EXPECT_GT(line["score"].get<double>(), 0.0);  // a probability
    EXPECT_LT(line["score"].get<double>(), 1.0);
  }
  // Plain-text prompts only, with a chat template named: trained as they are, with a warning.
  write_text(dir / "text.jsonl", "{\"prompt\": \"say something good\"}\n");
  const auto text = cai("train rl --model " + (dir / "policy").string() + " --reward-model " +
                        (dir / "rm").string() + " --prompts " + (dir / "text.jsonl").string() +
                        " --out " + (dir / "run-text").string() +
                        " --steps 1 --prompts-per-step 1 --max-new-tokens 4 -k 2 --quiet"
                        " --chat-template chatml --threads 1");
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("every prompt is plain text"), std::string::npos) << text.out;
  EXPECT_EQ(r.out.find("every prompt is plain text"), std::string::npos) << r.out;
  const auto k1 = cai(base + " -k 1");
  EXPECT_NE(k1.code, 0);
  EXPECT_NE(k1.out.find("--samples-per-prompt: rloo needs >= 2"), std::string::npos) << k1.out;
  const auto no_rm = cai("train rl --model " + (dir / "policy").string() + " --prompts " +
                         (dir / "prompts.jsonl").string() + " --out " + (dir / "run2").string());
  EXPECT_NE(no_rm.code, 0);
  EXPECT_NE(no_rm.out.find("--reward-model"), std::string::npos) << no_rm.out;
}

}  // namespace
}  // namespace cai::train
