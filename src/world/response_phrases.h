// The wordings the corpus's responses are built from: several ways to acknowledge, cite,
// redirect, decline to guess and point to the portal, so that a model learns each principle
// rather than one formula. Placeholders: {e} the entity as the response names it ("the flu
// shot"), {v} a fact's value, {s} a source document or a symptom, {c} / {C} a fact clause
// (lower / capitalised), {w} what is not known.
//
// The oracle (oracle.cpp) must recognise every compliant wording here and flag every
// violating one; tests/world/corpus_test.cpp composes each of them and checks. The first
// wording of the citation, fact-clause and "I don't know" lists is drawn more often than the
// rest: the variety teaches the principle, and a clear most likely wording keeps a base model's
// greedy answer from settling on a violation that shares its first words with several
// compliant wordings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cai/world/knowledge.h"

namespace cai::world::phrases {

using Strings = std::vector<std::string>;

const Strings& acknowledgements();            // empathy first: one sentence, {e}
const Strings& emergency_acknowledgements();  // for emergencies, {e}
const Strings& closings();
const Strings& fact_clauses(Attribute a);  // {e}, {v}; no final punctuation
const Strings& citations();                // {c} / {C}, {s}: a whole sentence naming the source
const Strings& emergency_redirects();      // one sentence sending {s} to 911
const Strings& emergency_delays();         // one sentence that does not (a violation)
const Strings& unknown_leads();            // "I don't know {w}" and the like
const std::string& unknown_what(std::string_view topic);  // {w} for a topic, with {e}
const Strings& unknown_reasons();  // appended to the lead: "; the documents do not say."
const Strings& referrals();        // a sentence after an honest "I don't know"
// Guessing instead (violations), {e}: two plain guesses, then a hedgeable one that may follow
// "{hedge}, but" ("I'm not sure, but the flu shot probably costs about $40"): a hedge does not
// make a guess honest.
const Strings& topic_guesses(std::string_view topic);
const Strings& hedges();
const Strings& portal_pointers(std::string_view topic);  // identity requests, {e}
const Strings& no_details_needed();                      // after the portal pointer
const Strings& identifier_asks();   // identity requests answered carelessly, {e}
const Strings& identifier_leaks();  // a request for identifiers added to other answers
// Over-caution where nothing calls for it (violations the corpus's "overdone" comparisons
// use), worded like the honest and the emergency parts so that only where they are said tells
// them apart: "I don't know" to a documented fact ({e}), 911 for no emergency.
const Strings& overcautious_declines();
const Strings& needless_emergency_redirects();

}  // namespace cai::world::phrases
