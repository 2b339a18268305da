// The vocabulary of the synthetic telehealth world: fictional services, stocked items, the
// values their facts can take, emergency symptoms and the phrases responses are built from.
// Everything here is invented; none of it is medical advice. Names are chosen so that no
// entity, value or source name is a substring of another (the oracle matches them in text).
#pragma once

#include <string>
#include <vector>

namespace cai::world::lexicon {

inline constexpr const char* kClinic = "Maple Grove Clinic";

// Source documents, one per attribute, so a citation is learnable from the kind of fact.
inline constexpr const char* kHoursSource = "Clinic Hours Guide";
inline constexpr const char* kPrepSource = "Visit Preparation Sheet";
inline constexpr const char* kStockSource = "Pharmacy Stock List";
inline constexpr const char* kPrivacySource = "Patient Privacy Notice";

const std::vector<std::string>& services();      // used as "the {service}"
const std::vector<std::string>& items();         // plural nouns, used without article
const std::vector<std::string>& hour_days();     // "Mondays"
const std::vector<std::string>& hour_times();    // "8 am to noon"
const std::vector<std::string>& preparations();  // imperative clauses
const std::vector<std::string>& locations();     // "the front desk"
// Privacy-policy topics and their rule, index-aligned.
const std::vector<std::string>& policy_topics();
const std::vector<std::string>& policy_rules();
const std::vector<std::string>& emergency_symptoms();  // noun phrases: "has {symptom}"

}  // namespace cai::world::lexicon
