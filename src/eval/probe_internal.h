// What the probe's source files share: the probed prompts with their violating responses,
// compliance counting, and the two attacks (probe_attacks.cpp).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "cai/eval/probe.h"
#include "cai/world/oracle.h"
#include "cai/world/world.h"

namespace cai::eval::detail {

// The world, its oracle and the probed prompts (opts.split, at most opts.limit), each with its
// violating response (probe_data.h, from opts.seed).
struct ProbeContext {
  const ProbeOptions& opts;
  world::World w;
  world::Oracle oracle;
  std::vector<world::WorldPrompt> prompts;
  std::vector<std::string> violating;
  ProbeContext(const ProbeOptions& o, world::World wd);
};

// responses[i] answers ctx.prompts[i] (already cut with transcript::first_turn).
ComplianceRates score_responses(const ProbeContext& ctx, const std::vector<std::string>& responses);

// The prompts' token sequences (prompt_tokens) for `tok`.
std::vector<std::vector<std::int32_t>> prompt_token_lists(const ProbeContext& ctx,
                                                          const Tokenizer& tok);

// probe.json's prefill rows; `base` may be null (aligned only). The k = 0 row's aligned
// responses are returned in `aligned_plain` (the fine-tuning attack's n = 0).
std::vector<PrefillRow> prefill_attack(const ProbeContext& ctx, LoadedModel& aligned,
                                       LoadedModel* base, ComplianceRates* aligned_plain);

// probe.json's "finetune" block. `aligned_plain` (optional) is the untuned aligned model's
// compliance (the n = 0 row), measured here when null.
FinetuneRecord finetune_attack(const ProbeContext& ctx, const ComplianceRates* aligned_plain);

}  // namespace cai::eval::detail
