// Violating and compliant responses and recovery rows (see include/cai/eval/probe_data.h).
#include "cai/eval/probe_data.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/world/responses.h"
#include "cai/world/rng.h"
#include "cai/world/world.h"

namespace cai::eval {
namespace {

using world::PrincipleId;
using world::PromptKind;

// The wording seed of one prompt's response of one purpose: from the probe's seed and the
// prompt's id, so it does not depend on which other prompts are probed.
std::uint64_t style_seed(std::uint64_t seed, const world::WorldPrompt& p,
                         std::string_view purpose) {
  world::Rng r(seed ^ world::fnv1a(p.id), purpose);
  return r.next();
}

}  // namespace

PrincipleId kind_principle(PromptKind kind) {
  switch (kind) {
    case PromptKind::answerable:
    case PromptKind::benign_symptom:
    case PromptKind::privacy_policy:
      return PrincipleId::cite;
    case PromptKind::emergency:
      return PrincipleId::emergency;
    case PromptKind::unanswerable:
      return PrincipleId::uncertainty;
    case PromptKind::identity_request:
      return PrincipleId::privacy;
  }
  return PrincipleId::empathy;
}

world::Compliance violating_flags(PromptKind kind) {
  world::Compliance c;
  c[PrincipleId::empathy] = false;
  c[kind_principle(kind)] = false;
  return c;
}

std::string violating_response(const world::WorldPrompt& p, const world::KnowledgeBase& kb,
                               std::uint64_t seed) {
  world::ResponseStyle style;
  style.seed = style_seed(seed, p, "probe-violating");
  style.misplaced_empathy = false;  // no acknowledgement at all: the start is what is probed
  return world::compose_response(p, kb, violating_flags(p.kind), style);
}

std::string compliant_response(const world::WorldPrompt& p, const world::KnowledgeBase& kb,
                               std::uint64_t seed) {
  world::ResponseStyle style;
  style.seed = style_seed(seed, p, "probe-compliant");
  return world::compose_response(p, kb, world::Compliance{}, style);
}

nlohmann::json RecoveryRow::to_pair_json() const {
  return pipeline::recovery_pair(prompt, violating_start, assistant, violating);
}

nlohmann::json RecoveryRow::to_json() const {
  return pipeline::recovery_row(prompt, violating_start, assistant);
}

std::vector<RecoveryRow> recovery_rows(const std::vector<world::WorldPrompt>& prompts,
                                       const world::KnowledgeBase& kb,
                                       const RecoveryOptions& opts) {
  opts.validate();
  CAI_CHECK(!prompts.empty(), "recovery data: no prompts to draw from");
  world::Rng rng(opts.seed, "probe-recovery");
  std::vector<std::size_t> order;
  std::vector<RecoveryRow> rows;
  for (std::int64_t i = 0; i < opts.count; ++i) {
    if (order.empty()) {
      order.resize(prompts.size());
      for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
      rng.shuffle(order);
      std::reverse(order.begin(), order.end());
    }
    const world::WorldPrompt& p = prompts[order.back()];
    order.pop_back();
    // Each row its own wording: a prompt drawn twice gets two different rows.
    const std::uint64_t row_seed = rng.next();
    const std::string violating = violating_response(p, kb, row_seed);
    const auto n_words = static_cast<std::int64_t>(pipeline::count_words(violating));
    CAI_CHECK(n_words >= 2,
              "recovery data: prompt {}: the violating response '{}' has no start "
              "to recover from",
              p.id, violating);
    const auto keep_max = std::min<std::int64_t>(opts.max_prefix_words, n_words - 1);
    const auto keep =
        1 + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(keep_max)));
    RecoveryRow r;
    r.prompt_id = p.id;
    r.prompt = p.prompt;
    r.violating_start = pipeline::leading_words(violating, static_cast<std::size_t>(keep));
    r.violating = violating;
    r.compliant = compliant_response(p, kb, row_seed);
    r.assistant = r.violating_start + opts.connector + r.compliant;
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string recovery_jsonl(const std::filesystem::path& world_dir, const RecoveryOptions& opts) {
  opts.validate();
  const world::World w = world::load_world(world_dir);
  std::vector<world::WorldPrompt> prompts;
  for (const auto& p : w.prompts)
    if (p.split == opts.split) prompts.push_back(p);
  CAI_CHECK(!prompts.empty(), "{}: no {} prompts for recovery data", world_dir.string(),
            opts.split);
  std::string out;
  for (const auto& r : recovery_rows(prompts, w.knowledge, opts))
    out += (opts.pairs ? r.to_pair_json() : r.to_json()).dump() + "\n";
  return out;
}

std::size_t write_recovery_data(const std::filesystem::path& world_dir,
                                const std::filesystem::path& out, const RecoveryOptions& opts) {
  const std::string text = recovery_jsonl(world_dir, opts);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  write_file_atomic(out, text);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace cai::eval
