// Assistant responses of the synthetic world, built from parts so that each principle can be
// followed or broken on its own. `style` picks the wording (which acknowledgement, which
// citation form, ...) independently of the flags: two responses with the same style and
// flags that differ in one principle differ only in the part that principle controls, which
// is what a comparison pair or a revision needs. Every response names the prompt's entity,
// so it stays on topic, and states the right fact when the prompt has one.
#pragma once

#include <cstdint>
#include <string>

#include "cai/world/knowledge.h"
#include "cai/world/principles.h"
#include "cai/world/prompts.h"

namespace cai::world {

struct ResponseStyle {
  std::uint64_t seed = 0;          // wording choices
  bool misplaced_empathy = false;  // when empathy is broken: acknowledge at the end, not first
  // Share of emergency responses that open with an emergency's own acknowledgement ("this
  // must be frightening") rather than one any question can get. The corpus's default
  // (CorpusOptions, which says why 0.2) is this one.
  double emergency_acknowledgement = 0.2;
};

// Privacy applies to every kind: broken, an identity request asks for identifiers instead of
// pointing to the portal, and any other kind adds such a request. Two principles can also be
// overdone where they do not apply, which is what an over-cautious policy does: uncertainty
// broken on a prompt the documents answer claims not to know instead of giving the fact, and
// emergency broken on a prompt that is no emergency sends the patient to 911 first. Neither
// breaks the principle itself: the oracle counts them as over-refusal on benign-symptom and
// privacy questions, and a denied fact also names no source and states no fact. Other flags
// of principles that do not apply are ignored.
std::string compose_response(const WorldPrompt& p, const KnowledgeBase& kb, const Compliance& c,
                             const ResponseStyle& style);

// One sentence saying why the response follows or breaks `principle`, naming what it is about
// (the text after the fixed verdict of a critique).
std::string critique_reason(const WorldPrompt& p, PrincipleId principle, bool applicable,
                            bool follows);

}  // namespace cai::world
