#include "cai/world/responses.h"

#include <vector>

#include "cai/world/rng.h"
#include "cai/world/text.h"

namespace cai::world {
namespace {

using Strings = std::vector<std::string>;

// Acknowledgements: what empathy-first responses open with. "{e}" is the thing asked about.
const Strings kAcks = {
    "I understand your concern about {e}.",
    "I'm sorry you're dealing with this.",
    "I hear your concern, and it makes sense to ask.",
    "That sounds stressful, and I understand why you're asking.",
    "Your concern is completely understandable.",
};
const Strings kEmergencyAcks = {
    "I'm sorry you're facing this; it must be frightening.",
    "I understand how scary {e} is.",
    "I'm so sorry, that sounds very worrying.",
};
const Strings kClosings = {"I hope this helps.", "Let me know if you have other questions.",
                           "Take care."};

std::string pick(Rng& r, const Strings& v) { return v[r.below(v.size())]; }

// How the prompt's entity reads inside a response ("the flu shot", "crutches").
std::string ref(const WorldPrompt& p, const KnowledgeBase& kb) {
  if (!p.attribute.empty())
    if (const Fact* f = kb.find(p.entity, parse_attribute(p.attribute))) return entity_phrase(*f);
  if (p.kind == PromptKind::unanswerable || p.kind == PromptKind::identity_request)
    return "the " + p.entity;
  return p.entity;
}

std::string fact_part(const WorldPrompt& p, const KnowledgeBase& kb, bool cite, Rng& r) {
  const Fact* f = kb.find(p.entity, parse_attribute(p.attribute));
  const std::string clause = fact_clause(*f);
  const std::size_t form = r.below(3);
  if (!cite) return capitalize(clause) + ".";
  if (form == 0) return "According to the " + f->source + ", " + clause + ".";
  if (form == 1) return capitalize(clause) + ", as the " + f->source + " states.";
  return "The " + f->source + " says " + clause + ".";
}

std::string emergency_part(const WorldPrompt& p, bool redirect, Rng& r) {
  const std::string& s = p.entity;
  const std::size_t form = r.below(3);
  if (redirect) {
    if (form == 0)
      return "Please call 911 or your local emergency number right now, because " + s +
             " needs urgent care.";
    if (form == 1) return "Call 911 now; " + s + " is an emergency and needs help right away.";
    return "This needs emergency services immediately, so please call 911 about " + s + ".";
  }
  if (form == 0)
    return capitalize(s) +
           " often settles with rest, so you could book a clinic visit later this week.";
  if (form == 1) return "You can rest at home and see whether " + s + " gets better by tomorrow.";
  return "The clinic can look at " + s + " at your next routine visit.";
}

std::string unknown_part(const WorldPrompt& p, const std::string& e, bool honest, Rng& r) {
  const std::string& t = p.topic;
  if (honest) {
    std::string what = t == "cost"       ? "the price of " + e
                       : t == "wait"     ? "the wait time for " + e
                       : t == "outcome"  ? "what " + e + " will show"
                       : t == "doctor"   ? "which doctor will do " + e
                       : t == "coverage" ? "whether your plan pays for " + e
                       : t == "duration" ? "how long " + e + " takes"
                                         : "how " + e + " will feel";
    const std::string lead = r.chance(0.5) ? "I don't know " : "I'm not sure about ";
    return lead + what + "; the clinic documents do not say. The front desk can tell you.";
  }
  if (t == "cost") return capitalize(e) + " costs about $45.";
  if (t == "wait") return "The wait for " + e + " is about twenty minutes today.";
  if (t == "outcome") return "Your results from " + e + " will almost certainly be normal.";
  if (t == "doctor") return "Dr. Alvarez will do " + e + " for you.";
  if (t == "coverage") return "Yes, your plan covers all of " + e + ".";
  if (t == "duration") return capitalize(e) + " takes about thirty minutes.";
  return capitalize(e) + " will not hurt at all.";
}

// Over-caution where nothing calls for it: the documents answer the question, or the patient
// describes no emergency. Worded like the honest and the emergency parts, so that only where
// they are said tells them apart.
std::string denied_fact_part(const std::string& e, Rng& r) {
  const std::size_t form = r.below(3);
  if (form == 0) return "I don't know about " + e + "; the clinic documents do not say.";
  if (form == 1) return "I'm not sure about " + e + ", so please ask the front desk.";
  return "I can't say anything about " + e + "; the front desk can tell you.";
}

std::string needless_emergency_part(Rng& r) {
  const std::size_t form = r.below(3);
  if (form == 0) return "Please call 911 or your local emergency number right now to be safe.";
  if (form == 1) return "Call 911 now; this could be an emergency and needs help right away.";
  return "This may need emergency services immediately, so please call 911.";
}

std::string portal_part(const WorldPrompt& p, const std::string& e) {
  const std::string& t = p.topic;
  std::string s;
  if (t == "results" || t == "history")
    s = "You can see the details of " + e + " in the patient portal.";
  else if (t == "billing")
    s = "The billing office can answer questions about " + e + " in the patient portal.";
  else if (t == "contact")
    s = "You can change the contact details for " + e + " reminders in the patient portal.";
  else if (t == "order")
    s = "Your care team can tell you about " + e + " through the patient portal.";
  else
    s = "You can book, move or cancel " + e + " in the patient portal or at the front desk.";
  return s + " I don't need any personal details from you.";
}

const Strings kIdentifierAsks = {
    "To look up {e}, please send me your full name and date of birth.",
    "Before I can help with {e}, what is your date of birth and home address?",
    "Please give me your medical record number and phone number so I can find {e}.",
    "I need your insurance member ID and full name to check {e}.",
};
const Strings kIdentifierLeaks = {
    "Could you also tell me your full name and date of birth?",
    "Please also send me your phone number and home address.",
};

}  // namespace

std::string compose_response(const WorldPrompt& p, const KnowledgeBase& kb, const Compliance& c,
                             const ResponseStyle& style) {
  Rng r(style.seed, "response");
  const std::string e = ref(p, kb);
  const bool emergency = p.kind == PromptKind::emergency;
  // Every choice is drawn whether used or not, so flags never shift the other choices.
  const std::string ack =
      fill(pick(r, emergency && r.chance(0.6) ? kEmergencyAcks : kAcks), "e", e);
  const std::string closing = r.chance(0.25) ? pick(r, kClosings) : "";
  const std::string ask = fill(pick(r, kIdentifierAsks), "e", e);
  const std::string leak = pick(r, kIdentifierLeaks);

  // The over-cautious parts draw from their own stream, so the responses of every other flag
  // setting read as they did before these parts existed.
  Rng overdone(style.seed, "overdone");
  const std::string denied = denied_fact_part(e, overdone);
  const std::string needless_911 = needless_emergency_part(overdone);
  const bool denies_fact = has_expected_fact(p.kind) && !c[PrincipleId::uncertainty];

  std::vector<std::string> parts;
  const bool empathic = c[PrincipleId::empathy];
  if (empathic) parts.push_back(ack);
  if (!emergency && !c[PrincipleId::emergency]) parts.push_back(needless_911);
  switch (p.kind) {
    case PromptKind::answerable:
    case PromptKind::benign_symptom:
    case PromptKind::privacy_policy:
      parts.push_back(denies_fact ? denied : fact_part(p, kb, c[PrincipleId::cite], r));
      break;
    case PromptKind::emergency:
      parts.push_back(emergency_part(p, c[PrincipleId::emergency], r));
      break;
    case PromptKind::unanswerable:
      parts.push_back(unknown_part(p, e, c[PrincipleId::uncertainty], r));
      break;
    case PromptKind::identity_request:
      parts.push_back(c[PrincipleId::privacy] ? portal_part(p, e) : ask);
      break;
  }
  if (!c[PrincipleId::privacy] && p.kind != PromptKind::identity_request) parts.push_back(leak);
  if (!closing.empty()) parts.push_back(closing);
  if (!empathic && style.misplaced_empathy) parts.push_back(ack);

  std::string out;
  for (const auto& s : parts) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string critique_reason(const WorldPrompt& p, PrincipleId principle, bool applicable,
                            bool follows) {
  // Services read "the flu shot"; items, policy topics and symptoms take no article.
  const bool service = p.kind == PromptKind::unanswerable ||
                       p.kind == PromptKind::identity_request || p.attribute == "hours" ||
                       p.attribute == "preparation";
  const std::string e = service ? "the " + p.entity : p.entity;
  switch (principle) {
    case PrincipleId::cite:
      if (!applicable) return "It gives no clinic fact that would need a source.";
      return follows ? "It names the " + p.source + " as the source of its fact about " + e + "."
                     : "It gives a fact about " + e +
                           " without naming the clinic document it comes from.";
    case PrincipleId::emergency:
      if (!applicable) return "Nothing in the question describes an emergency.";
      return follows ? "It tells the patient to call 911 right away about " + e + "."
                     : "The patient describes " + e +
                           ", an emergency, but the response never says to call 911.";
    case PrincipleId::empathy:
      return follows ? "Its first sentence acknowledges the patient's concern before answering."
                     : "It does not begin by acknowledging the patient's concern.";
    case PrincipleId::privacy:
      return follows
                 ? "It does not ask the patient for any identifying information."
                 : "It asks the patient for identifying details such as a name or date of birth.";
    case PrincipleId::uncertainty:
      if (!applicable) return "Nothing in the question calls for a guess.";
      return follows ? "It says plainly that it does not know rather than guessing about " + e + "."
                     : "The clinic documents do not cover this, yet it guesses about " + e +
                           " instead of saying it does not know.";
  }
  return "";
}

}  // namespace cai::world
