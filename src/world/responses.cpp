#include "cai/world/responses.h"

#include <vector>

#include "cai/world/rng.h"
#include "cai/world/text.h"
#include "response_phrases.h"

namespace cai::world {
namespace {

using namespace phrases;

// How the prompt's entity reads inside a response ("the flu shot", "crutches").
std::string ref(const WorldPrompt& p, const KnowledgeBase& kb) {
  if (!p.attribute.empty())
    if (const Fact* f = kb.find(p.entity, parse_attribute(p.attribute))) return entity_phrase(*f);
  if (p.kind == PromptKind::unanswerable || p.kind == PromptKind::identity_request)
    return "the " + p.entity;
  return p.entity;
}

// Index 0 with probability `first`, else one of the others, uniformly (two draws either way).
std::size_t skewed(Rng& r, std::size_t n, double first) {
  const bool head = r.chance(first);
  const std::size_t rest = r.below(n > 1 ? n - 1 : 1);
  return head || n == 1 ? 0 : 1 + rest;
}

// Every choice of a response, drawn up front in a fixed order, so that two responses with the
// same style differ only in the parts their flags control.
struct Choices {
  std::size_t ack, emergency_ack, closing, ask, leak, cite, redirect, no_redirect;
  std::size_t unknown_lead, unknown_reason, referral, guess, hedge, portal, no_details;
  bool emergency_style_ack, has_closing, clause_first, hedged;
  std::uint64_t clause;
  Choices(std::uint64_t seed, double emergency_acknowledgement) {
    Rng r(seed, "response");
    ack = r.below(acknowledgements().size());
    emergency_style_ack = r.chance(emergency_acknowledgement);
    emergency_ack = r.below(emergency_acknowledgements().size());
    has_closing = r.chance(0.25);
    closing = r.below(closings().size());
    ask = r.below(identifier_asks().size());
    leak = r.below(identifier_leaks().size());
    clause_first = r.chance(0.4);
    clause = r.next();
    cite = skewed(r, citations().size(), 0.6);
    redirect = r.below(emergency_redirects().size());
    no_redirect = r.below(emergency_delays().size());
    unknown_lead = skewed(r, unknown_leads().size(), 0.5);
    unknown_reason = r.below(unknown_reasons().size());
    referral = r.below(referrals().size());
    guess = r.below(2);
    hedged = r.chance(0.25);
    hedge = r.below(hedges().size());
    portal = r.next();
    no_details = r.below(no_details_needed().size());
  }
};

std::string fact_part(const WorldPrompt& p, const KnowledgeBase& kb, bool cite, const Choices& ch) {
  const Fact* f = kb.find(p.entity, parse_attribute(p.attribute));
  const auto& forms = fact_clauses(f->attribute);
  const std::size_t form = ch.clause_first ? 0 : 1 + ch.clause % (forms.size() - 1);
  const std::string clause = fill(fill(forms[form], "e", entity_phrase(*f)), "v", f->value);
  if (!cite) return capitalize(clause) + ".";
  const std::string& c = citations()[ch.cite];
  return capitalize(fill(fill(fill(c, "C", capitalize(clause)), "c", clause), "s", f->source));
}

std::string emergency_part(const WorldPrompt& p, bool redirect, const Choices& ch) {
  const std::string& t =
      redirect ? emergency_redirects()[ch.redirect] : emergency_delays()[ch.no_redirect];
  return capitalize(fill(t, "s", p.entity));
}

std::string unknown_part(const WorldPrompt& p, const std::string& e, bool honest,
                         const Choices& ch) {
  if (honest) {
    const std::string what = fill(unknown_what(p.topic), "e", e);
    return fill(unknown_leads()[ch.unknown_lead], "w", what) +
           unknown_reasons()[ch.unknown_reason] + " " + referrals()[ch.referral];
  }
  const auto& guesses = topic_guesses(p.topic);
  if (ch.hedged) return hedges()[ch.hedge] + ", but " + fill(guesses[2], "e", e);
  return capitalize(fill(guesses[ch.guess], "e", e));
}

std::string portal_part(const WorldPrompt& p, const std::string& e, const Choices& ch) {
  const auto& forms = portal_pointers(p.topic);
  return fill(forms[ch.portal % forms.size()], "e", e) + " " + no_details_needed()[ch.no_details];
}

}  // namespace

std::string compose_response(const WorldPrompt& p, const KnowledgeBase& kb, const Compliance& c,
                             const ResponseStyle& style) {
  const Choices ch(style.seed, style.emergency_acknowledgement);
  const std::string e = ref(p, kb);
  const bool emergency = p.kind == PromptKind::emergency;
  const std::string ack =
      fill(emergency && ch.emergency_style_ack ? emergency_acknowledgements()[ch.emergency_ack]
                                               : acknowledgements()[ch.ack],
           "e", e);

  // The over-cautious parts draw from their own stream, so the responses of every other flag
  // setting read as they did before these parts existed.
  Rng overdone(style.seed, "overdone");
  const std::string denied =
      fill(overcautious_declines()[overdone.below(overcautious_declines().size())], "e", e);
  const std::string needless_911 =
      needless_emergency_redirects()[overdone.below(needless_emergency_redirects().size())];
  const bool denies_fact = has_expected_fact(p.kind) && !c[PrincipleId::uncertainty];

  std::vector<std::string> parts;
  const bool empathic = c[PrincipleId::empathy];
  if (empathic) parts.push_back(ack);
  if (!emergency && !c[PrincipleId::emergency]) parts.push_back(needless_911);
  switch (p.kind) {
    case PromptKind::answerable:
    case PromptKind::benign_symptom:
    case PromptKind::privacy_policy:
      parts.push_back(denies_fact ? denied : fact_part(p, kb, c[PrincipleId::cite], ch));
      break;
    case PromptKind::emergency:
      parts.push_back(emergency_part(p, c[PrincipleId::emergency], ch));
      break;
    case PromptKind::unanswerable:
      parts.push_back(unknown_part(p, e, c[PrincipleId::uncertainty], ch));
      break;
    case PromptKind::identity_request:
      parts.push_back(c[PrincipleId::privacy] ? portal_part(p, e, ch)
                                              : fill(identifier_asks()[ch.ask], "e", e));
      break;
  }
  if (!c[PrincipleId::privacy] && p.kind != PromptKind::identity_request)
    parts.push_back(identifier_leaks()[ch.leak]);
  if (ch.has_closing) parts.push_back(closings()[ch.closing]);
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
