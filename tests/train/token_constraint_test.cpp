// Token-wise constrained fine-tuning (token_constraint.h, Qi et al. 2024 eq. 3): its betas, its
// per-token loss and gradient by hand and by finite differences, the SFT objective and DPO's
// constrained RPO term against direct computations from the model's logits, the reference
// cache, and the commands.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../cli/run_cai.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/model/loader.h"
#include "cai/train/objectives.h"
#include "cai/train/token_constraint.h"
#include "tiny_data.h"

namespace cai::train {
namespace {

namespace fs = std::filesystem;
using train_test::temp_dir;
using train_test::tiny_loaded;
using train_test::write_text;

double softplus(double x) { return std::log1p(std::exp(x)); }

TEST(TokenConstraint, BetasOfThePaper) {
  TokenConstraintOptions o;  // beta 0.1, first-token bias 5, bias 20 over the first 5 tokens
  const auto b = token_betas(7, o);
  const std::vector<double> want = {0.5, 2, 2, 2, 2, 0.1, 0.1};
  ASSERT_EQ(b.size(), want.size());
  for (std::size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(b[i], want[i], 1e-12) << i;
  EXPECT_EQ(token_betas(2, o), (std::vector<double>{0.5, 2.0}));
  // Targets restart the count at each run (each assistant turn); position 0 is never one.
  const auto t = target_betas({1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1}, o);
  const std::vector<double> tw = {0.5, 2, 0.5, 2, 2, 2, 2, 0.1, 0.1};
  ASSERT_EQ(t.size(), tw.size());
  for (std::size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], tw[i], 1e-12) << i;
  // A start given in the prompt (a recovery row's violating start) holds the first positions:
  // after three given tokens the return starts at beta_4; a later turn counts from 1 again.
  EXPECT_EQ(token_betas(3, o, 3), (std::vector<double>{2, 2, 0.1}));
  const auto c = target_betas({0, 0, 1, 1, 1, 0, 1}, o, 3);
  const std::vector<double> cw = {2, 2, 0.1, 0.5};
  ASSERT_EQ(c.size(), cw.size());
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(c[i], cw[i], 1e-12) << i;
  o.bias_length = 0;
  EXPECT_EQ(token_betas(3, o), (std::vector<double>{0.1, 0.1, 0.1}));
  o.beta = 0;
  EXPECT_THROW(o.validate(), Error);
}

// -(2/beta) log sigmoid(beta d) = (2/beta) log(1 + e^(-beta d)), d = logp - ref; its
// derivative in logp is -2 sigmoid(-beta d) = -2 / (1 + e^(beta d)).
TEST(TokenConstraint, LossAndGradientByHandAndFiniteDifferences) {
  const std::vector<double> lp = {-1.0, -2.5, -0.3, -4.0}, ref = {-2.0, -2.0, -0.3, -1.0},
                            beta = {0.5, 2.0, 2.0, 0.1};
  auto t = [](const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); };
  auto logp = t(lp).set_requires_grad(true);
  const auto loss = token_constrained_loss(logp, t(ref), t(beta));
  loss.sum().backward();
  for (std::size_t i = 0; i < lp.size(); ++i) {
    const double d = lp[i] - ref[i], b = beta[i];
    EXPECT_NEAR(loss[static_cast<std::int64_t>(i)].item<double>(), 2.0 / b * softplus(-b * d),
                1e-12)
        << i;
    const double grad = logp.grad()[static_cast<std::int64_t>(i)].item<double>();
    EXPECT_NEAR(grad, -2.0 / (1.0 + std::exp(b * d)), 1e-12) << i;
    const double h = 1e-6;
    auto at = [&](double x) { return 2.0 / b * softplus(-b * (x - ref[i])); };
    EXPECT_NEAR(grad, (at(lp[i] + h) - at(lp[i] - h)) / (2 * h), 1e-7) << i;
  }
  // d = 0: (2/beta) log 2 whatever the model; as beta -> 0 the gradient is cross-entropy's -1.
  EXPECT_NEAR(loss[2].item<double>(), std::log(2.0), 1e-12);
  auto small = t({-1.0}).set_requires_grad(true);
  token_constrained_loss(small, t({-3.0}), t({1e-6})).sum().backward();
  EXPECT_NEAR(small.grad()[0].item<double>(), -1.0, 1e-5);
  EXPECT_THROW(token_constrained_loss(logp, t({1.0}), t(beta)), Error);
}

// One example, two assistant turns: targets at 2-3 (a run of two) and 5-11 (a run of seven).
SftExample two_turn_example() {
  SftExample ex;
  ex.seq.tokens = {1, 50, 61, 72, 83, 94, 105, 116, 127, 138, 149, 160};
  ex.seq.target = {0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1};
  ex.line = 1;
  return ex;
}

// The objective straight from the model's logits: log_softmax at t - 1, the target's entry,
// the paper's loss with the betas written out by hand.
const std::vector<double> kTwoTurnBetas = {0.5, 2, 0.5, 2, 2, 2, 2, 0.1, 0.1};

torch::Tensor direct_loss(LlamaModel& model, const SftExample& ex, const std::vector<double>& ref,
                          torch::Tensor* nll = nullptr,
                          const std::vector<double>& beta = kTwoTurnBetas) {
  std::vector<std::int64_t> ids(ex.seq.tokens.begin(), ex.seq.tokens.end());
  const auto tokens = torch::tensor(ids, torch::kInt64).unsqueeze(0);
  const auto logp = torch::log_softmax(model.forward(tokens)[0].to(torch::kFloat64), -1);
  torch::Tensor total = torch::zeros({}, torch::kFloat64), ce = torch::zeros({}, torch::kFloat64);
  std::size_t k = 0;
  for (std::size_t t = 1; t < ids.size(); ++t) {
    if (!ex.seq.target[t]) continue;
    const auto lp = logp[static_cast<std::int64_t>(t - 1)][ids[t]];
    total = total + 2.0 / beta[k] * torch::softplus(-beta[k] * (lp - ref[k]));
    ce = ce - lp;
    ++k;
  }
  EXPECT_EQ(k, beta.size());
  if (nll) *nll = ce;
  return total;
}

// The objective's gradients (after its train_micro) equal the twin model's (after a direct
// loss's backward()) within 1e-4 of the largest.
void expect_same_gradients(Objective& obj, LlamaModel& twin) {
  const auto want = twin.named_parameters(true);
  double worst = 0, scale = 0;
  for (const auto& p : obj.trainable()) {
    const auto& w = want[p.name];
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
    worst = std::max(worst, (p.tensor.grad() - w.grad()).abs().max().item<double>());
    scale = std::max(scale, w.grad().abs().max().item<double>());
  }
  EXPECT_LT(worst, 1e-4 * scale) << "objective and direct gradients differ";
}

TEST(TokenConstraint, SftObjectiveEqualsADirectComputationAndItsGradient) {
  const SftExample ex = two_turn_example();
  std::vector<double> ref;
  for (int k = 0; k < 9; ++k) ref.push_back(-5.5 + 0.2 * k);  // about the tiny model's level
  SftConstraint c;
  c.train_ref.tokens = {ref};
  auto lm = tiny_loaded(3);
  auto obj = make_sft_objective(Policy{&lm, nullptr, "tiny"}, {ex}, {}, &c);
  const Metrics m = obj->train_micro({0}, 1.0);

  auto twin = tiny_loaded(3);  // the same weights, through another code path
  torch::Tensor nll;
  const auto want = direct_loss(*twin.model, ex, ref, &nll);
  EXPECT_NEAR(m.at("loss"), want.item<double>(), 1e-4 * std::abs(want.item<double>()));
  EXPECT_NEAR(m.at("nll"), nll.item<double>(), 1e-4 * nll.item<double>());
  want.backward();
  expect_same_gradients(*obj, *twin.model);
  const auto got_grads = obj->trainable();
  const auto want_params = twin.model->named_parameters(true);

  // A finite difference along one weight of the first layer matches the gradient.
  torch::NoGradGuard no_grad;
  auto& w = want_params[got_grads.front().name];
  const double g = w.grad().flatten()[7].item<double>();
  const float orig = w.flatten()[7].item<float>();
  const float h = 1e-2f;
  w.flatten()[7] = orig + h;
  const double up = direct_loss(*twin.model, ex, ref).item<double>();
  w.flatten()[7] = orig - h;
  const double down = direct_loss(*twin.model, ex, ref).item<double>();
  w.flatten()[7] = orig;
  EXPECT_NEAR((up - down) / (2 * h), g, 2e-2 * std::max(1.0, std::abs(g)));
}

// A turn whose start the prompt gave (a recovery row): its targets are the turn's later
// tokens. Two given tokens make the first run's betas 2, 2, then the second turn counts from 1.
TEST(TokenConstraint, SftObjectiveCountsAGivenStartInTheTurnsPositions) {
  SftExample ex = two_turn_example();
  ex.seq.continued = 2;
  std::vector<double> ref(9, -5.5);
  SftConstraint c;
  c.train_ref.tokens = {ref};
  auto lm = tiny_loaded(3);
  auto obj = make_sft_objective(Policy{&lm, nullptr, "tiny"}, {ex}, {}, &c);
  const Metrics m = obj->train_micro({0}, 1.0);
  auto twin = tiny_loaded(3);
  const std::vector<double> beta = {2, 2, 0.5, 2, 2, 2, 2, 0.1, 0.1};
  const auto want = direct_loss(*twin.model, ex, ref, nullptr, beta);
  EXPECT_NEAR(m.at("loss"), want.item<double>(), 1e-4 * std::abs(want.item<double>()));
  const auto from_zero = direct_loss(*twin.model, ex, ref).item<double>();
  EXPECT_GT(std::abs(from_zero - want.item<double>()), 1e-3);
}

TEST(TokenConstraint, AtItsReferenceEveryTokenCostsTwoOverBetaLogTwo) {
  // The reference is the model itself: every d_t = 0, so the loss is sum_t (2/beta_t) log 2
  // = 2 log 2 (1/0.5 + 1/2 + 1/0.5 + 4 * 1/2 + 2 * 1/0.1) = 2 log 2 * 26.5.
  auto lm = tiny_loaded(4);
  const std::vector<SftExample> train = {two_turn_example()};
  SftConstraint c;
  c.train_ref = compute_token_ref_logps(train, lm);
  ASSERT_EQ(c.train_ref.tokens.size(), 1u);
  ASSERT_EQ(c.train_ref.tokens[0].size(), 9u);
  auto obj = make_sft_objective(Policy{&lm, nullptr, "tiny"}, train, {}, &c);
  const Metrics m = obj->train_micro({0}, 1.0);
  EXPECT_NEAR(m.at("loss"), 2 * std::log(2.0) * 26.5, 1e-3);
  // Reference values for other examples, or a wrong count, are refused.
  SftConstraint bad = c;
  bad.train_ref.tokens[0].pop_back();
  EXPECT_THROW(make_sft_objective(Policy{&lm, nullptr, "tiny"}, train, {}, &bad), Error);
}

TEST(TokenConstraint, ReferenceCacheIsReadBackAndRecomputedWhenStale) {
  const auto dir = temp_dir("tokref");
  const auto file = token_ref_cache_path(dir / "data.jsonl", std::string(64, 'a'));
  EXPECT_EQ(file.filename().string(), "data.jsonl.tokref-aaaaaaaaaaaaaaaa.json");
  auto lm = tiny_loaded(5);
  std::vector<SftExample> ex = {two_turn_example()};
  int loads = 0;
  auto ref = [&]() -> LoadedModel& {
    ++loads;
    return lm;
  };
  const auto a = load_or_compute_token_ref_logps(file, ex, ref);
  const auto b = load_or_compute_token_ref_logps(file, ex, ref);
  EXPECT_EQ(loads, 1);  // the second call read the file
  ASSERT_EQ(a.tokens.size(), 1u);
  for (std::size_t i = 0; i < a.tokens[0].size(); ++i)
    EXPECT_NEAR(a.tokens[0][i], b.tokens[0][i], 1e-12);
  ex[0].seq.tokens[3] = 99;  // other examples: recomputed
  load_or_compute_token_ref_logps(file, ex, ref);
  EXPECT_EQ(loads, 2);
  write_text(file, "{not json");  // corrupt: recomputed
  load_or_compute_token_ref_logps(file, ex, ref);
  EXPECT_EQ(loads, 3);
}

// A constrained command's first run (`flags` set beta to 0.2) and a resume: `metric` starts at
// the reference, where each target costs (2 / beta_t) log 2, between (2 / (0.2 * 20)) log 2 =
// 0.347 and (2 / 0.2) log 2 = 6.93 (a mean over a response's tokens too); `logged` is in the
// metrics; the reference cache `cache`* sits beside the data; the options are part of the run,
// so a resume with another beta is refused.
void expect_constrained_run(const fs::path& dir, const std::string& base, const std::string& flags,
                            const char* metric, const char* logged, const std::string& cache) {
  const auto r = testing_util::run_cai(base + " --out " + (dir / "run").string() + flags +
                                       " --constraint-beta 0.2");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<nlohmann::json> lines;
  for_each_jsonl(dir / "run" / "metrics.jsonl",
                 [&](const nlohmann::json& j, std::size_t) { lines.push_back(j); });
  ASSERT_FALSE(lines.empty());
  ASSERT_TRUE(lines.front().contains(logged)) << lines.front().dump();
  EXPECT_GT(lines.front()[metric].get<double>(), 0.34);
  EXPECT_LT(lines.front()[metric].get<double>(), 6.94);
  bool cached = false;
  for (const auto& e : fs::directory_iterator(dir))
    cached = cached || e.path().filename().string().find(cache) == 0;
  EXPECT_TRUE(cached);
  const auto again = testing_util::run_cai(base + " --out " + (dir / "run").string() + flags +
                                           " --constraint-beta 0.3 --resume");
  EXPECT_NE(again.code, 0);
}

TEST(TokenConstraint, TrainSftWithTheConstraint) {
  const auto dir = temp_dir("tokref-cli");
  save_model_dir(tiny_loaded(6), dir / "model", DType::F32);
  write_text(dir / "sft.jsonl",
             "{\"messages\": [{\"role\": \"user\", \"content\": \"hello there\"}, {\"role\": "
             "\"assistant\", \"content\": \"good good day\"}]}\n"
             "{\"messages\": [{\"role\": \"user\", \"content\": \"say something\"}, {\"role\": "
             "\"assistant\", \"content\": \"a bad day\"}]}\n");
  const std::string base = "train sft --model " + (dir / "model").string() + " --data " +
                           (dir / "sft.jsonl").string() +
                           " --max-steps 2 --lr 1e-3 --chat-template chatml --quiet --threads 1";
  expect_constrained_run(dir, base, " --token-constraint", "loss", "nll", "sft.jsonl.tokref-");
  const auto no = testing_util::run_cai(base + " --out " + (dir / "run2").string() +
                                        " --ref-model " + (dir / "model").string());
  EXPECT_NE(no.code, 0);
  EXPECT_NE(no.out.find("constrain"), std::string::npos) << no.out;
}

// ---- DPO: the constrained RPO term ----------------------------------------------------------

PreferenceExample one_pair() {
  PreferenceExample ex;
  ex.prompt = {1, 50, 61};
  ex.chosen = {72, 83, 94, 105};
  ex.rejected = {116, 127};
  ex.line = 1;
  return ex;
}

// Sum of log p(response | prompt) from the logits, and each response token's log p.
torch::Tensor response_logps(LlamaModel& model, const std::vector<std::int32_t>& prompt,
                             const std::vector<std::int32_t>& response) {
  std::vector<std::int64_t> ids(prompt.begin(), prompt.end());
  ids.insert(ids.end(), response.begin(), response.end());
  const auto logp = torch::log_softmax(
      model.forward(torch::tensor(ids, torch::kInt64).unsqueeze(0))[0].to(torch::kFloat64), -1);
  std::vector<torch::Tensor> out;
  for (std::size_t t = prompt.size(); t < ids.size(); ++t)
    out.push_back(logp[static_cast<std::int64_t>(t - 1)][ids[t]]);
  return torch::stack(out);  // [response tokens]
}

// DPO's sigmoid loss plus alpha times the chosen tokens' constrained loss over their count,
// written out by hand (betas of the paper for four tokens: 0.5, 2, 2, 2).
torch::Tensor direct_dpo_loss(LlamaModel& model, const PreferenceExample& ex, double ref_c,
                              double ref_r, const std::vector<double>& ref_tokens, double alpha,
                              const std::vector<double>& bt = {0.5, 2, 2, 2}) {
  const auto c = response_logps(model, ex.prompt, ex.chosen);
  const auto r = response_logps(model, ex.prompt, ex.rejected);
  const double beta = 0.1;
  const auto h = (c.sum() - ref_c) - (r.sum() - ref_r);
  auto loss = torch::softplus(-beta * h);  // -log sigmoid(beta h)
  torch::Tensor term = torch::zeros({}, torch::kFloat64);
  for (std::size_t k = 0; k < bt.size(); ++k)
    term = term + 2.0 / bt[k] *
                      torch::softplus(-bt[k] * (c[static_cast<std::int64_t>(k)] - ref_tokens[k]));
  return loss + alpha * term / static_cast<double>(bt.size());
}

TEST(TokenConstraint, DpoObjectiveEqualsADirectComputationAndItsGradient) {
  const PreferenceExample ex = one_pair();
  const std::vector<double> ref_tokens = {-5.0, -5.4, -5.8, -5.2};
  RefLogps ref;
  ref.chosen = {-21.0};
  ref.rejected = {-11.5};
  DpoOptions o;
  o.rpo_alpha = 0.7;
  o.token_constraint = true;
  DpoConstraint c;
  c.train_chosen.tokens = {ref_tokens};
  auto lm = tiny_loaded(7);
  auto obj = make_dpo_objective(Policy{&lm, nullptr, "tiny"}, {ex}, ref, {}, {}, o, &c);
  const Metrics m = obj->train_micro({0}, 1.0);

  auto twin = tiny_loaded(7);
  const auto want = direct_dpo_loss(*twin.model, ex, -21.0, -11.5, ref_tokens, 0.7);
  EXPECT_NEAR(m.at("loss"), want.item<double>(), 1e-4 * std::abs(want.item<double>()));
  EXPECT_TRUE(m.count("constraint") && m.count("nll"));
  want.backward();
  expect_same_gradients(*obj, *twin.model);

  // A pair whose prompt gives the start of the turn (a recovery pair): three given tokens
  // make the chosen tokens the turn's 4th to 7th, with betas 2, 2, 0.1, 0.1.
  PreferenceExample given = ex;
  given.continued = 3;
  auto glm = tiny_loaded(7);
  auto gobj = make_dpo_objective(Policy{&glm, nullptr, "tiny"}, {given}, ref, {}, {}, o, &c);
  auto gtwin = tiny_loaded(7);
  const auto gwant =
      direct_dpo_loss(*gtwin.model, given, -21.0, -11.5, ref_tokens, 0.7, {2, 2, 0.1, 0.1});
  EXPECT_NEAR(gobj->train_micro({0}, 1.0).at("loss"), gwant.item<double>(),
              1e-4 * std::abs(gwant.item<double>()));
  EXPECT_GT(std::abs(gwant.item<double>() - want.item<double>()), 1e-3);

  // Without the constraint the same objective adds the plain mean NLL instead.
  o.token_constraint = false;
  auto plain_lm = tiny_loaded(7);
  auto plain = make_dpo_objective(Policy{&plain_lm, nullptr, "tiny"}, {ex}, ref, {}, {}, o);
  const Metrics pm = plain->train_micro({0}, 1.0);
  EXPECT_FALSE(pm.count("constraint"));
  EXPECT_NEAR(pm.at("loss") - m.at("loss"), 0.7 * (pm.at("nll") - m.at("constraint")), 1e-4);

  // Constrained without reference values, or with a wrong count, is refused.
  o.token_constraint = true;
  EXPECT_THROW(make_dpo_objective(Policy{&lm, nullptr, "tiny"}, {ex}, ref, {}, {}, o), Error);
  DpoConstraint bad = c;
  bad.train_chosen.tokens[0].pop_back();
  EXPECT_THROW(make_dpo_objective(Policy{&lm, nullptr, "tiny"}, {ex}, ref, {}, {}, o, &bad), Error);
  o.rpo_alpha = 0;  // the constraint shapes the RPO term: none, nothing to constrain
  EXPECT_THROW(o.validate(), Error);
}

TEST(TokenConstraint, DpoAtItsReferenceEachChosenTokenCostsTwoOverBetaLogTwo) {
  auto lm = tiny_loaded(8);
  const std::vector<PreferenceExample> pairs = {one_pair()};
  const RefLogps ref = compute_ref_logps(pairs, lm);
  DpoConstraint c;
  c.train_chosen = compute_token_ref_logps(chosen_sequences(pairs), lm);
  ASSERT_EQ(c.train_chosen.tokens.size(), 1u);
  ASSERT_EQ(c.train_chosen.tokens[0].size(), 4u);
  // The two reference paths (the pair scorer's sums, the token cache) agree.
  double sum = 0;
  for (double v : c.train_chosen.tokens[0]) sum += v;
  EXPECT_NEAR(sum, ref.chosen[0], 1e-4 * std::abs(ref.chosen[0]));
  DpoOptions o;
  o.rpo_alpha = 1.0;
  o.token_constraint = true;
  auto obj = make_dpo_objective(Policy{&lm, nullptr, "tiny"}, pairs, ref, {}, {}, o, &c);
  const Metrics m = obj->train_micro({0}, 1.0);
  // (2/0.5 + 3 * 2/2) log 2 / 4 tokens; DPO's own loss at the reference is log 2.
  EXPECT_NEAR(m.at("constraint"), 7.0 * std::log(2.0) / 4.0, 1e-4);
  EXPECT_NEAR(m.at("loss"), std::log(2.0) + 7.0 * std::log(2.0) / 4.0, 1e-4);
}

TEST(TokenConstraint, TrainDpoWithTheConstraint) {
  const auto dir = temp_dir("tokref-dpo-cli");
  save_model_dir(tiny_loaded(9), dir / "model", DType::F32);
  write_text(dir / "dpo.jsonl",
             "{\"prompt\": \"hello there\", \"chosen\": \" good good day\", \"rejected\": "
             "\" a bad day\"}\n"
             "{\"prompt\": \"say something\", \"chosen\": \" kind words\", \"rejected\": \" "
             "nothing\"}\n");
  const std::string base = "train dpo --model " + (dir / "model").string() + " --data " +
                           (dir / "dpo.jsonl").string() +
                           " --max-steps 2 --lr 1e-3 --quiet --threads 1";
  expect_constrained_run(dir, base, " --rpo-alpha 1 --token-constraint", "constraint", "constraint",
                         "dpo.jsonl.tokref-");
  // It shapes the RPO term: without one it is an error naming both.
  const auto no =
      testing_util::run_cai(base + " --out " + (dir / "run2").string() + " --token-constraint");
  EXPECT_NE(no.code, 0);
  EXPECT_NE(no.out.find("rpo_alpha"), std::string::npos) << no.out;
}

}  // namespace
}  // namespace cai::train
