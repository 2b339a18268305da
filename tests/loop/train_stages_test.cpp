// The training stages' options as the loop config gives them: the model DPO's log-ratios are
// taken against (dpo.reference) and the token-wise constraints of SFT with its reference
// (sft.token_constraint, sft.ref_model) and of DPO's RPO term (dpo.token_constraint). No model
// is loaded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../../src/loop/internal.h"
#include "cai/io/error.h"
#include "cai/train/run.h"

namespace cai::loop::detail {
namespace train_stages_test {

namespace fs = std::filesystem;

const fs::path kDir =
    fs::path(CAI_TEST_TMPDIR) / ("loop-train-stages-" + std::to_string(::getpid()));

// A config read and resolved as the loop reads one, with base_model and ref at kDir/base and
// kDir/ref; `extra` adds keys.
LoopConfig config(const std::string& extra) {
  for (const char* m : {"base", "ref"}) {
    fs::create_directories(kDir / m);
    std::ofstream(kDir / m / "config.json") << "{}";
  }
  std::ofstream(kDir / "constitution.yaml") << "name: x\n";
  std::ofstream(kDir / "prompts.jsonl") << "{\"prompt\": \"hi\"}\n";
  LoopConfig c = parse_loop_config(
      "name: t\nbase_model: base\nconstitution: constitution.yaml\n"
      "prompts: {train: prompts.jsonl, eval: prompts.jsonl}\n" +
          extra,
      "t.yaml");
  c.resolve(kDir);
  c.validate();
  return c;
}

const std::string kSft = "/run/round-2/sft/final";  // the weights the stage starts from

TEST(LoopTrainStages, DpoReference) {
  const RoundDir rd(kDir / "run", 2);
  // policy (the default): the trainer's own default, the weights DPO starts from.
  auto o = dpo_options(config(""), kSft, rd, false);
  EXPECT_EQ(o.model, kSft);
  EXPECT_EQ(o.ref_model, "");
  o = dpo_options(config("dpo: {reference: base}\n"), kSft, rd, false);
  EXPECT_EQ(o.model, kSft);
  EXPECT_EQ(o.ref_model, (kDir / "base").string());
  o = dpo_options(config("dpo: {reference: ref}\n"), kSft, rd, false);
  EXPECT_EQ(o.ref_model, (kDir / "ref").string());
}

TEST(LoopTrainStages, SftTokenConstraint) {
  const RoundDir rd(kDir / "run", 2);
  auto o = sft_options(config(""), kSft, rd, false);
  EXPECT_FALSE(o.token_constraint);
  EXPECT_EQ(o.ref_model, "");
  // The loop's defaults are the trainer's.
  o = sft_options(config("sft: {token_constraint: {enabled: true}}\n"), kSft, rd, false);
  EXPECT_TRUE(o.token_constraint);
  EXPECT_EQ(o.ref_model, "");  // policy: the weights SFT starts from
  EXPECT_EQ(o.constraint.to_json(), train::TokenConstraintOptions{}.to_json());
  EXPECT_NO_THROW(o.validate());
  o = sft_options(config("sft:\n"
                         "  token_constraint: {enabled: true, beta: 0.2, first_token_bias: 4,\n"
                         "                     bias: 10, bias_length: 3}\n"
                         "  ref_model: base\n"),
                  kSft, rd, false);
  EXPECT_TRUE(o.token_constraint);
  EXPECT_EQ(o.model, kSft);
  EXPECT_EQ(o.ref_model, (kDir / "base").string());
  EXPECT_DOUBLE_EQ(o.constraint.beta, 0.2);
  EXPECT_DOUBLE_EQ(o.constraint.first_token_bias, 4.0);
  EXPECT_DOUBLE_EQ(o.constraint.bias, 10.0);
  EXPECT_EQ(o.constraint.bias_length, 3);
  o = sft_options(config("sft: {token_constraint: {enabled: true}, ref_model: ref}\n"), kSft, rd,
                  false);
  EXPECT_EQ(o.ref_model, (kDir / "ref").string());
}

TEST(LoopTrainStages, DpoTokenConstraint) {
  const RoundDir rd(kDir / "run", 2);
  auto o = dpo_options(config(""), kSft, rd, false);
  EXPECT_FALSE(o.dpo.token_constraint);
  o = dpo_options(config("dpo: {rpo_alpha: 1.0, reference: base,\n"
                         "      token_constraint: {enabled: true, beta: 0.2, bias_length: 3}}\n"),
                  kSft, rd, false);
  EXPECT_TRUE(o.dpo.token_constraint);
  EXPECT_DOUBLE_EQ(o.dpo.rpo_alpha, 1.0);
  EXPECT_DOUBLE_EQ(o.dpo.constraint.beta, 0.2);
  EXPECT_EQ(o.dpo.constraint.bias_length, 3);
  EXPECT_DOUBLE_EQ(o.dpo.constraint.bias, train::TokenConstraintOptions{}.bias);
  EXPECT_EQ(o.ref_model, (kDir / "base").string());
  EXPECT_NO_THROW(o.validate());
  // It constrains the RPO term, so it needs one; the config says so before any round runs.
  try {
    config("dpo: {token_constraint: {enabled: true}}\n");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dpo.token_constraint"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rpo_alpha"), std::string::npos) << e.what();
  }
  // dpo: {constraint: ...} and a flat token_constraint flag are the trainer's, not the loop's.
  EXPECT_THROW(config("dpo: {rpo_alpha: 1.0, constraint: {beta: 0.2}}\n"), Error);
}

TEST(LoopTrainStages, ConstraintTowardsTheBaseModelIsWarnedAbout) {
  const std::string base = (kDir / "base").string();
  // Off: nothing to say.
  EXPECT_EQ(constraint_warning(config(""), "sft", base), "");
  EXPECT_EQ(constraint_warning(config(""), "dpo", base), "");
  // policy: round 1's SFT starts from the base model, a later round's from an aligned one.
  const LoopConfig policy = config("sft: {token_constraint: {enabled: true}}\n");
  EXPECT_NE(constraint_warning(policy, "sft", base).find("sft.ref_model"), std::string::npos);
  EXPECT_EQ(constraint_warning(policy, "sft", kSft), "");
  EXPECT_EQ(constraint_warning(policy, "dpo", base), "");  // DPO is not constrained here
  // base: every round; a path: none.
  const LoopConfig to_base = config("sft: {token_constraint: {enabled: true}, ref_model: base}\n");
  EXPECT_NE(constraint_warning(to_base, "sft", kSft), "");
  EXPECT_EQ(constraint_warning(config("sft: {token_constraint: {enabled: true}, ref_model: ref}\n"),
                               "sft", base),
            "");
  // DPO's reference is dpo.reference.
  const LoopConfig dpo =
      config("dpo: {rpo_alpha: 1.0, reference: base, token_constraint: {enabled: true}}\n");
  EXPECT_NE(constraint_warning(dpo, "dpo", kSft).find("dpo.reference"), std::string::npos);
  EXPECT_EQ(constraint_warning(dpo, "sft", kSft), "");
  const LoopConfig dpo_policy =
      config("dpo: {rpo_alpha: 1.0, token_constraint: {enabled: true}}\n");
  EXPECT_NE(constraint_warning(dpo_policy, "dpo", base), "");
  EXPECT_EQ(constraint_warning(dpo_policy, "dpo", kSft), "");
}

}  // namespace train_stages_test
}  // namespace cai::loop::detail
