// The training stages' options as the loop config gives them: the model DPO's log-ratios are
// taken against (dpo.reference) and the token-wise constraint of SFT with its reference
// (sft.token_constraint, sft.ref_model). No model is loaded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../../src/loop/internal.h"
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
  EXPECT_FALSE(o.constrain);
  EXPECT_EQ(o.ref_model, "");
  // The loop's defaults are the trainer's.
  o = sft_options(config("sft: {token_constraint: {enabled: true}}\n"), kSft, rd, false);
  EXPECT_TRUE(o.constrain);
  EXPECT_EQ(o.ref_model, "");  // policy: the weights SFT starts from
  EXPECT_EQ(o.constraint.to_json(), train::TokenConstraintOptions{}.to_json());
  EXPECT_NO_THROW(o.validate());
  o = sft_options(config("sft:\n"
                         "  token_constraint: {enabled: true, beta: 0.2, first_token_bias: 4,\n"
                         "                     bias: 10, bias_length: 3}\n"
                         "  ref_model: base\n"),
                  kSft, rd, false);
  EXPECT_TRUE(o.constrain);
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

TEST(LoopTrainStages, SftConstraintTowardsTheBaseModelIsWarnedAbout) {
  const std::string base = (kDir / "base").string();
  // Off: nothing to say.
  EXPECT_EQ(sft_constraint_warning(config(""), base), "");
  // policy: round 1's SFT starts from the base model, a later round's from an aligned one.
  const LoopConfig policy = config("sft: {token_constraint: {enabled: true}}\n");
  EXPECT_NE(sft_constraint_warning(policy, base).find("sft.ref_model"), std::string::npos);
  EXPECT_EQ(sft_constraint_warning(policy, kSft), "");
  // base: every round; a path: none.
  const LoopConfig to_base = config("sft: {token_constraint: {enabled: true}, ref_model: base}\n");
  EXPECT_NE(sft_constraint_warning(to_base, kSft), "");
  EXPECT_EQ(sft_constraint_warning(
                config("sft: {token_constraint: {enabled: true}, ref_model: ref}\n"), base),
            "");
}

}  // namespace train_stages_test
}  // namespace cai::loop::detail
