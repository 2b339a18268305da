// The patient language of the world, as grammar symbols (see include/cai/world/grammar.h and
// prompts.h). Text is written in lower case except "I" and proper names: sentence starts are
// capitalised after expansion, so a phrase can open a sentence or follow a comma.
//
// Each intent has a scope ("hours", "cost", ...) with at least a "root" symbol (its frames)
// and an "iq" symbol (the same question as an indirect clause, for "could you tell me ...?").
// Shared symbols: "prompt" (opener, context, the intent's root, closer), leads of indirect
// questions, entity forms ("{the}", "{a}", "{my}", "{pl}", "{it}") over the variables $e
// (the entity as this prompt names it: "name@ENTITY" when the grammar has that symbol, else
// as the knowledge base writes it), $a (with its article), $pl (plural) and $one (one item).
#pragma once

#include "cai/world/grammar.h"

namespace cai::world::patient {

void add_shared(Grammar& g);           // prompt shape, openers, closers, context, leads, entities
void add_fact_intents(Grammar& g);     // hours, preparation, location, benign_*, policy
void add_care_intents(Grammar& g);     // emergency
void add_unknown_intents(Grammar& g);  // unanswerable topics
void add_account_intents(Grammar& g);  // identity-request topics
void add_entity_names(Grammar& g);     // "name@ENTITY": what patients call services and items

}  // namespace cai::world::patient
