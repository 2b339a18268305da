// The five principles of the seed's telehealth case, as the world generator and its oracle
// know them, and the demo constitution that states them in words.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "cai/constitution/constitution.h"
#include "cai/world/prompts.h"

namespace cai::world {

enum class PrincipleId { cite, emergency, empathy, privacy, uncertainty };
inline constexpr std::size_t kNumPrinciples = 5;
inline constexpr std::array<PrincipleId, kNumPrinciples> kAllPrinciples = {
    PrincipleId::cite, PrincipleId::emergency, PrincipleId::empathy, PrincipleId::privacy,
    PrincipleId::uncertainty};

// The name used in constitution.yaml and in reports: cite-source, emergency, empathy,
// privacy, uncertainty.
std::string_view principle_name(PrincipleId p);
std::optional<PrincipleId> principle_from_name(std::string_view name);

// Whether a principle can be broken by a response to a prompt of this kind. A principle that
// does not apply always counts as followed ("the critique finds nothing wrong").
//   cite-source: kinds answered from the knowledge base; emergency: emergency prompts;
//   empathy and privacy: every prompt; uncertainty: unanswerable prompts.
bool principle_applies(PromptKind kind, PrincipleId p);

// One verdict per principle, indexed by PrincipleId; true = followed.
struct Compliance {
  std::array<bool, kNumPrinciples> follow{true, true, true, true, true};
  bool& operator[](PrincipleId p) { return follow[static_cast<std::size_t>(p)]; }
  bool operator[](PrincipleId p) const { return follow[static_cast<std::size_t>(p)]; }
};

// The demo constitution (name "telehealth"): the five principles in the order of
// kAllPrinciples, each critique request asking for the fixed verdict sentence first.
Constitution telehealth_constitution();

}  // namespace cai::world
