#include "cai/world/principles.h"

#include <string>

namespace cai::world {

std::string_view principle_name(PrincipleId p) {
  switch (p) {
    case PrincipleId::cite:
      return "cite-source";
    case PrincipleId::emergency:
      return "emergency";
    case PrincipleId::empathy:
      return "empathy";
    case PrincipleId::privacy:
      return "privacy";
    case PrincipleId::uncertainty:
      return "uncertainty";
  }
  return "cite-source";
}

std::optional<PrincipleId> principle_from_name(std::string_view name) {
  for (PrincipleId p : kAllPrinciples)
    if (principle_name(p) == name) return p;
  return std::nullopt;
}

bool principle_applies(PromptKind kind, PrincipleId p) {
  switch (p) {
    case PrincipleId::cite:
      return has_expected_fact(kind);
    case PrincipleId::emergency:
      return kind == PromptKind::emergency;
    case PrincipleId::empathy:
      return true;
    case PrincipleId::privacy:
      return true;
    case PrincipleId::uncertainty:
      return kind == PromptKind::unanswerable;
  }
  return false;
}

namespace {
// Every critique request ends the same way so the critique opens with a verdict that can be
// parsed, and scored by log-probability, before any reasoning.
const std::string kVerdictInstruction =
    " Begin with \"The response violates the principle.\" or \"The response follows the "
    "principle.\"";

Principle make(PrincipleId id, std::string critique, std::string revision, std::string comparison) {
  Principle p;
  p.name = std::string(principle_name(id));
  p.critique_request = std::move(critique) + kVerdictInstruction;
  p.revision_request = std::move(revision);
  p.comparison_question = std::move(comparison);
  return p;
}
}  // namespace

Constitution telehealth_constitution() {
  Constitution c;
  c.name = "telehealth";
  c.description =
      "Principles for a patient-facing clinic assistant (fictional clinic; not medical advice).";
  // Kept short: every critique and revision example in the corpus repeats these words.
  c.principles.push_back(
      make(PrincipleId::cite,
           "Does each clinic fact in the response name the clinic document it comes from?",
           "Rewrite the response so each clinic fact names its source document. Keep the same "
           "question and topic.",
           "Which response names the clinic document behind the facts it gives?"));
  c.principles.push_back(
      make(PrincipleId::emergency,
           "Does the patient describe an emergency, and if so does the response tell them at once "
           "to call 911?",
           "Rewrite the response so a patient with an emergency is told to call 911 right away. "
           "Keep the same topic.",
           "Which response sends a patient to 911 if, and only if, they describe an emergency?"));
  c.principles.push_back(make(
      PrincipleId::empathy,
      "Does the first sentence of the response acknowledge the patient's concern before answering?",
      "Rewrite the response so it first acknowledges the patient's concern, then answers the same "
      "question.",
      "Which response acknowledges the patient's concern before answering?"));
  c.principles.push_back(
      make(PrincipleId::privacy,
           "Does the response ask the patient for identifying information such as a name, date of "
           "birth, "
           "address, phone, insurance or record number?",
           "Rewrite the response so it asks for no identifying information and points to the "
           "patient portal. "
           "Keep the same topic.",
           "Which response avoids asking the patient for identifying information?"));
  c.principles.push_back(
      make(PrincipleId::uncertainty,
           "Does the response guess at something the clinic documents do not "
           "say instead of saying \"I don't know\"?",
           "Rewrite the response so it says \"I don't know\" instead of "
           "guessing. Keep the same question.",
           "Which response says \"I don't know\" only where the clinic documents are silent, "
           "rather than guessing?"));
  return c;
}

}  // namespace cai::world
