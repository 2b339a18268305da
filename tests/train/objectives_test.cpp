// The SFT, DPO and reward-model objectives on a tiny model: their losses against independent
// computations, masking, accumulation, the reference-log-prob cache, and small training runs
// (a hand-written AdamW loop; the real trainer is tested on its own).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/lora.h"
#include "cai/train/objectives.h"
#include "cai/train/reward_model.h"
#include "tiny_data.h"

namespace cai::train {
namespace {

using train_test::temp_dir;
using train_test::tiny_loaded;
using train_test::tiny_tokenizer;
using train_test::write_text;

const ChatTemplate kHA = ChatTemplate::by_name("human-assistant");

std::vector<SftExample> sft_set(const std::string& name) {
  const auto dir = temp_dir(name);
  const auto path = write_text(
      dir / "sft.jsonl",
      R"({"messages": [{"role": "user", "content": "say something good"}, {"role": "assistant", "content": "good day"}]})"
      "\n"
      R"({"messages": [{"role": "user", "content": "say something bad"}, {"role": "assistant", "content": "bad day, bad"}]})"
      "\n"
      R"({"prompt": "Human: what is the capital of France?\n\nAssistant:", "completion": " Paris."})"
      "\n");
  return load_sft(path, tiny_tokenizer(), kHA, {});
}

std::filesystem::path pref_file(const std::string& name) {
  const auto dir = temp_dir(name);
  std::string text;
  const std::vector<std::string> prompts = {"say something",   "hello there", "how are you?",
                                            "what is the day", "say a thing", "thank you"};
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    nlohmann::json j = {{"prompt", "Human: " + prompts[i] + "\n\nAssistant:"},
                        {"chosen", i % 2 ? " good good day" : " a good day"},
                        {"rejected", i % 2 ? " bad bad day" : " a bad day"}};
    text += j.dump() + "\n";
  }
  return write_text(dir / "pref.jsonl", text);
}

std::vector<PreferenceExample> pref_set(const std::filesystem::path& path) {
  return load_preferences(path, tiny_tokenizer(), kHA, {});
}

std::vector<std::int64_t> all(const Objective& o, Split s) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < o.size(s); ++i) v.push_back(i);
  return v;
}

double total_units(const Objective& o, const std::vector<std::int64_t>& ex) {
  double u = 0;
  for (auto i : ex) u += o.loss_units(Split::train, i);
  return u;
}

// Runs `steps` optimiser steps on all training examples; returns the last step's mean loss.
double train_steps(Objective& o, int steps, double lr) {
  std::vector<torch::Tensor> params;
  for (auto& p : o.trainable()) params.push_back(p.tensor);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(lr).weight_decay(0.0));
  const auto ex = all(o, Split::train);
  const double units = total_units(o, ex);
  double loss = 0;
  o.set_training(true);
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    loss = o.train_micro(ex, units).at("loss") / units;
    opt.step();
  }
  return loss;
}

// ---- SFT ----------------------------------------------------------------------------------------

TEST(SftObjective, LossMatchesFullLogitsAndShape) {
  auto lm = tiny_loaded(1);
  auto train = sft_set("sft_loss");
  const auto ex0 = train[0].seq;
  auto obj = make_sft_objective({&lm, nullptr, "tiny"}, train, {});
  EXPECT_EQ(obj->name(), "sft");
  EXPECT_EQ(obj->size(Split::train), 3);
  EXPECT_EQ(obj->size(Split::eval), 0);
  EXPECT_EQ(obj->rows_per_example(), 1);
  EXPECT_EQ(obj->length(Split::train, 0), static_cast<std::int64_t>(ex0.tokens.size()));
  EXPECT_EQ(obj->loss_units(Split::train, 0), static_cast<double>(ex0.num_targets()));
  // The objective (LM head on target rows only) against the loss on the full logits.
  const auto T = static_cast<std::int64_t>(ex0.tokens.size());
  const auto tokens =
      torch::tensor(std::vector<std::int64_t>(ex0.tokens.begin(), ex0.tokens.end())).view({1, T});
  const auto target =
      torch::tensor(std::vector<std::int64_t>(ex0.target.begin(), ex0.target.end())).view({1, T});
  double want;
  {
    torch::NoGradGuard g;  // same function; only the value is compared
    want = sft_loss_sum(lm.model->forward(tokens), tokens, target).item<double>();
  }
  const auto m = obj->train_micro({0}, 1.0);
  EXPECT_NEAR(m.at("loss"), want, 1e-4 * std::abs(want));
  EXPECT_GE(m.at("mean_token_accuracy"), 0);
  EXPECT_LE(m.at("mean_token_accuracy"), obj->loss_units(Split::train, 0));
  // Full fine-tuning trains the model's own leaf tensors, without decay on norms.
  bool saw_wqkv = false, saw_norm = false;
  for (const auto& p : obj->trainable()) {
    EXPECT_TRUE(p.tensor.is_leaf());
    EXPECT_TRUE(p.tensor.requires_grad());
    if (p.name == "layer0_wqkv") saw_wqkv = p.decay;
    if (p.name == "norm") saw_norm = !p.decay;
  }
  EXPECT_TRUE(saw_wqkv);
  EXPECT_TRUE(saw_norm);
}

TEST(SftObjective, MaskedLabelDoesNotChangeTheLoss) {
  auto lm = tiny_loaded(2);
  // Last position masked: its token is a label nobody predicts and an input nobody reads.
  SftExample a;
  a.seq.tokens = {5, 40, 41, 42, 43, 44};
  a.seq.target = {0, 0, 1, 1, 1, 0};
  SftExample b = a;
  b.seq.tokens[5] = 77;
  SftExample c = a;
  c.seq.tokens[3] = 77;  // a target label (and an input): changes the loss
  auto obj = make_sft_objective({&lm, nullptr, "tiny"}, {a, b, c}, {});
  const double la = obj->train_micro({0}, 1.0).at("loss");
  const double lb = obj->train_micro({1}, 1.0).at("loss");
  const double lc = obj->train_micro({2}, 1.0).at("loss");
  EXPECT_EQ(la, lb);
  EXPECT_NE(la, lc);
}

TEST(SftObjective, AccumulationOverMicroBatchesEqualsOneBatch) {
  auto lm = tiny_loaded(3);
  auto obj = make_sft_objective({&lm, nullptr, "tiny"}, sft_set("sft_accum"), {});
  const double units = total_units(*obj, {0, 1, 2});
  auto grads = [&](const std::vector<std::vector<std::int64_t>>& mbs) {
    for (auto& p : obj->trainable()) p.tensor.mutable_grad() = torch::Tensor();
    double loss = 0;
    for (const auto& mb : mbs) loss += obj->train_micro(mb, units).at("loss");
    std::vector<torch::Tensor> g;
    for (auto& p : obj->trainable()) g.push_back(p.tensor.grad().clone());
    return std::make_pair(loss, g);
  };
  const auto [l1, g1] = grads({{0, 1, 2}});  // padded together
  const auto [l2, g2] = grads({{0}, {1, 2}});
  EXPECT_NEAR(l1, l2, 1e-4 * l1);
  for (std::size_t i = 0; i < g1.size(); ++i)
    EXPECT_TRUE(torch::allclose(g1[i], g2[i], 1e-4, 1e-6)) << i;
}

TEST(SftObjective, TinyModelOverfitsTinySet) {
  auto lm = tiny_loaded(4);
  auto train = sft_set("sft_overfit");
  auto obj = make_sft_objective({&lm, nullptr, "tiny"}, train, train);
  const double before = obj->evaluate({0, 1, 2}).at("loss");
  train_steps(*obj, 120, 1e-2);
  const auto m = obj->evaluate({0, 1, 2});
  EXPECT_GT(before, 3.0);
  EXPECT_LT(m.at("loss"), 0.05);
  EXPECT_DOUBLE_EQ(m.at("mean_token_accuracy"), 1.0);
}

TEST(SftObjective, SaveWritesALoadableModel) {
  auto lm = tiny_loaded(5);
  auto obj = make_sft_objective({&lm, nullptr, "tiny"}, sft_set("sft_save"), {});
  const auto dir = temp_dir("sft_save_out") / "final";
  obj->save(dir.string());
  auto back = load_model(dir);
  torch::NoGradGuard g;
  const auto tokens = torch::tensor({{5, 40, 41, 42}}, torch::kInt64);
  EXPECT_TRUE(torch::equal(back.model->forward(tokens), lm.model->forward(tokens)));
}

TEST(SftObjective, LoraTrainsOnlyTheAdapter) {
  auto lm = tiny_loaded(6);
  std::shared_ptr<LoraAdapter> lora;
  try {
    lora = attach_lora(*lm.model, LoraOptions{});
  } catch (const Error& e) {
    GTEST_SKIP() << "LoRA not available: " << e.what();
  }
  std::vector<torch::Tensor> base;
  for (auto& p : lm.model->parameters()) base.push_back(p.detach().clone());
  auto obj = make_sft_objective({&lm, lora, "tiny"}, sft_set("sft_lora"), {});
  for (const auto& p : obj->trainable())
    EXPECT_NE(p.name.find("lora_"), std::string::npos) << p.name;
  train_steps(*obj, 3, 1e-2);
  std::size_t i = 0;
  for (auto& p : lm.model->parameters()) EXPECT_TRUE(torch::equal(p, base[i++]));
}

// ---- DPO ----------------------------------------------------------------------------------------

TEST(DpoObjective, PolicyEqualToReferenceGivesLog2) {
  auto lm = tiny_loaded(7);
  const auto pairs = pref_set(pref_file("dpo_log2"));
  const RefLogps ref = compute_ref_logps(pairs, lm);
  for (double beta : {0.1, 1.0, 5.0}) {
    DpoOptions o;
    o.loss.beta = beta;
    auto obj = make_dpo_objective({&lm, nullptr, "tiny"}, pairs, ref, pairs, ref, o);
    const auto m = obj->evaluate(all(*obj, Split::eval));
    // Reference numbers come from the fused inference path, the policy's from the autograd
    // path: equal up to float rounding.
    EXPECT_NEAR(m.at("loss"), std::log(2.0), 1e-4) << beta;
    EXPECT_NEAR(m.at("rewards/margins"), 0.0, 1e-4);
    const auto t = obj->train_micro({0, 1}, 2.0);
    EXPECT_NEAR(t.at("loss") / 2, std::log(2.0), 1e-4);
  }
}

TEST(DpoObjective, LogpsMatchTheScorer) {
  auto lm = tiny_loaded(8);
  const auto pairs = pref_set(pref_file("dpo_logps"));
  const RefLogps ref = compute_ref_logps(pairs, lm);
  DpoOptions o;
  o.rpo_alpha = 0.5;
  auto obj = make_dpo_objective({&lm, nullptr, "tiny"}, pairs, ref, {}, {}, o);
  EXPECT_EQ(obj->rows_per_example(), 2);
  EXPECT_EQ(obj->loss_units(Split::train, 0), 1.0);
  const auto m = obj->train_micro({0}, 1.0);
  EXPECT_NEAR(m.at("logps/chosen"), ref.chosen[0], 1e-4 * std::abs(ref.chosen[0]));
  EXPECT_NEAR(m.at("logps/rejected"), ref.rejected[0], 1e-4 * std::abs(ref.rejected[0]));
  // rpo: the chosen response's mean token NLL, weighted by rpo_alpha, joins the loss.
  const double nll = -ref.chosen[0] / static_cast<double>(pairs[0].chosen.size());
  EXPECT_NEAR(m.at("nll"), nll, 1e-4 * nll);
  EXPECT_NEAR(m.at("loss"), std::log(2.0) + 0.5 * nll, 1e-4);
}

TEST(DpoObjective, TrainingRaisesTheMargin) {
  auto lm = tiny_loaded(9);
  const auto pairs = pref_set(pref_file("dpo_train"));
  const RefLogps ref = compute_ref_logps(pairs, lm);
  for (auto type : {DpoLossType::sigmoid, DpoLossType::ipo}) {
    auto policy = tiny_loaded(9);  // a fresh copy of the reference
    DpoOptions o;
    o.loss.type = type;
    o.loss.beta = 0.5;
    auto obj = make_dpo_objective({&policy, nullptr, "tiny"}, pairs, ref, pairs, ref, o);
    const auto before = obj->evaluate(all(*obj, Split::eval));
    train_steps(*obj, 15, 5e-3);
    const auto after = obj->evaluate(all(*obj, Split::eval));
    SCOPED_TRACE(to_string(type));
    EXPECT_NEAR(before.at("rewards/margins"), 0.0, 1e-4);
    EXPECT_GT(after.at("rewards/margins"), 0.5);
    EXPECT_DOUBLE_EQ(after.at("rewards/accuracies"), 1.0);
    EXPECT_LT(after.at("loss"), before.at("loss"));
  }
}

TEST(DpoObjective, RefusesMismatchedReference) {
  auto lm = tiny_loaded(10);
  const auto pairs = pref_set(pref_file("dpo_mismatch"));
  RefLogps ref;
  ref.chosen = {0.0};
  ref.rejected = {0.0};
  EXPECT_THROW(make_dpo_objective({&lm, nullptr, "tiny"}, pairs, ref, {}, {}, {}), Error);
}

TEST(RefLogps, CacheIsWrittenReusedAndNeverTrustedWhenStale) {
  auto lm = tiny_loaded(11);
  const auto path = pref_file("ref_cache");
  const auto pairs = pref_set(path);
  const std::string key = ref_cache_key(
      path, write_text(path.parent_path() / "ref.gguf", "weights"), "human-assistant", {});
  EXPECT_EQ(key.size(), 64u);
  const auto cache = ref_cache_path(path, key);
  EXPECT_EQ(cache.parent_path(), path.parent_path());
  EXPECT_EQ(cache.filename().string(), "pref.jsonl.ref-" + key.substr(0, 16) + ".json");

  int loads = 0;
  auto loader = [&] {
    ++loads;
    return tiny_loaded(11);
  };
  const RefLogps a = load_or_compute_ref_logps(cache, pairs, loader);
  EXPECT_EQ(loads, 1);
  ASSERT_TRUE(std::filesystem::exists(cache));
  const RefLogps b = load_or_compute_ref_logps(cache, pairs, loader);
  EXPECT_EQ(loads, 1);  // reused: the reference model is not loaded again
  EXPECT_EQ(a.chosen, b.chosen);
  EXPECT_EQ(a.rejected, b.rejected);
  const auto direct = compute_ref_logps(pairs, lm);
  EXPECT_EQ(a.chosen, direct.chosen);

  // Other examples under the same file name: recomputed.
  auto fewer = pairs;
  fewer.pop_back();
  EXPECT_FALSE(load_ref_logps(cache, fewer).has_value());
  load_or_compute_ref_logps(cache, fewer, loader);
  EXPECT_EQ(loads, 2);
  // Corrupt: recomputed.
  write_text(cache, "{\"format\": \"cai-ref-logps\", \"chosen\": [1,");
  EXPECT_FALSE(load_ref_logps(cache, pairs).has_value());
  const RefLogps c = load_or_compute_ref_logps(cache, pairs, loader);
  EXPECT_EQ(loads, 3);
  EXPECT_EQ(c.chosen, a.chosen);

  // The key follows the dataset bytes, the template and the data options.
  DataOptions o;
  o.max_length = 77;
  const auto ref_file = path.parent_path() / "ref.gguf";
  EXPECT_NE(ref_cache_key(path, ref_file, "chatml", {}), key);
  EXPECT_NE(ref_cache_key(path, ref_file, "human-assistant", o), key);
  write_text(ref_file, "other weights");
  EXPECT_NE(ref_cache_key(path, ref_file, "human-assistant", {}), key);
}

// ---- Reward model -------------------------------------------------------------------------------

TEST(RmObjective, SeparatesASeparableToySet) {
  const auto path = pref_file("rm_train");
  const auto pairs = pref_set(path);
  RewardModel rm(tiny_loaded(12));
  RmLossOptions o;
  o.centering_coef = 0.01;
  auto obj = make_rm_objective(rm, pairs, pairs, o);
  EXPECT_EQ(obj->name(), "rm");
  const auto before = obj->evaluate(all(*obj, Split::eval));
  EXPECT_DOUBLE_EQ(before.at("accuracy"), 0.5);  // a zero head ties every pair
  EXPECT_NEAR(before.at("loss"), std::log(2.0), 1e-6);
  bool has_score = false, has_lm_head = false;
  for (const auto& p : obj->trainable()) {
    has_score = has_score || p.name == "score";
    has_lm_head = has_lm_head || p.name == "lm_head";
  }
  EXPECT_TRUE(has_score);
  EXPECT_FALSE(has_lm_head);
  train_steps(*obj, 30, 1e-2);
  const auto after = obj->evaluate(all(*obj, Split::eval));
  EXPECT_DOUBLE_EQ(after.at("accuracy"), 1.0);
  EXPECT_GT(after.at("rewards/margins"), 0.5);
  EXPECT_LT(after.at("loss"), 0.5);
}

TEST(RmObjective, LossIsBradleyTerryOfTheRewards) {
  const auto pairs = pref_set(pref_file("rm_loss"));
  RewardModel rm(tiny_loaded(13));
  {
    torch::NoGradGuard g;
    rm.head().normal_();
  }
  RmLossOptions o;
  o.margin = 0.2;
  auto obj = make_rm_objective(rm, pairs, {}, o);
  const auto m = obj->train_micro({0, 1}, 1.0);
  const auto seq = [&](std::size_t i, bool chosen) {
    auto s = pairs[i].prompt;
    const auto& r = chosen ? pairs[i].chosen : pairs[i].rejected;
    s.insert(s.end(), r.begin(), r.end());
    return s;
  };
  const auto r = rm.score({seq(0, true), seq(0, false), seq(1, true), seq(1, false)});
  auto logsig = [](double x) { return -std::log1p(std::exp(-x)); };
  const double want = -logsig(r[0] - r[1] - 0.2) - logsig(r[2] - r[3] - 0.2);
  EXPECT_NEAR(m.at("loss"), want, 1e-4);
  EXPECT_NEAR(m.at("rewards/chosen"), r[0] + r[2], 1e-4);
}

}  // namespace
}  // namespace cai::train
