// Prompt files written outside the generator, such as a hand-written held-out set, read into
// the world's prompt records so the oracle can score the answers to them.
//
// One record per line; the fact fields come from the world's knowledge base, so one file
// serves every world that has its entities:
//   {"id": "hw-001", "prompt": "hey, what day do you guys do flu shots?",
//    "kind": "answerable", "entity": "flu shot", "attribute": "hours"}
//   {"id": "hw-003", "prompt": "My dad just collapsed ...", "kind": "emergency"}
//   {"id": "hw-005", "prompt": "what do you charge for a flu shot", "kind": "unanswerable",
//    "entity": "flu shot", "topic": "cost"}
// - answerable, benign_symptom, privacy_policy: "entity" and "attribute" name a fact of the
//   knowledge base ("attribute" may be left out for privacy_policy: "policy");
// - unanswerable, identity_request: "entity" is a knowledge-base entity, "topic" is optional;
// - emergency: "entity" is optional (the symptom, free text).
// Errors name the file and line: an unknown kind, field or entity, a missing fact, a repeated id.
#pragma once

#include <filesystem>
#include <vector>

#include "cai/world/knowledge.h"
#include "cai/world/prompts.h"

namespace cai::world {

// Records come back with split "heldout" and no template, in file order.
std::vector<WorldPrompt> load_heldout_prompts(const std::filesystem::path& path,
                                              const KnowledgeBase& kb);

}  // namespace cai::world
