// Capability benchmarks of the synthetic world, for measuring the alignment tax.
//
// tasks/quiz.jsonl, multiple choice scored by log-likelihood:
//   {"id": "quiz-0000", "question": "Human: When is the flu shot offered?\n\nAssistant: The
//    flu shot is offered on", "choices": ["Mondays from 8 am to noon", ...4], "answer": 2,
//    "entity": "flu shot", "attribute": "hours"}
// Score log p(" " + choice | question) for each choice (the choice follows one space). The
// four options are values of the same attribute, so the wording never gives the answer away:
// only knowing the clinic's facts does. Reverse questions ("direction": "reverse") give the
// value and ask for the entity; their options are entities of the same type whose value for
// that attribute differs.
//
// tasks/facts.jsonl, free generation:
//   {"id": "fact-0000", "prompt": "Human: When is the flu shot offered?\n\nAssistant:",
//    "answer": "Mondays from 8 am to noon", "aliases": [...], "entity": ..., "attribute": ...}
// A generation (cut at the first blank line) is right when it contains the answer or an alias,
// ignoring case, and no other value of the same attribute (the oracle's states_right_fact).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "cai/world/knowledge.h"

namespace cai::world {

struct TaskOptions {
  int phrasings = 2;  // questions per fact (each task)
  int choices = 4;    // options per quiz question
  // Quiz questions per fact asked the other way round ("Which service is offered on Mondays
  // from 8 am to noon?"; the options are entities whose value differs). Knowledge learnt in
  // one direction is recalled poorly in the other, so these keep the quiz from saturating
  // while it still measures only what the corpus taught.
  int reverse_phrasings = 1;
  void validate() const;
};

std::vector<nlohmann::json> build_quiz(std::uint64_t seed, const KnowledgeBase& kb,
                                       const TaskOptions& opt);
std::vector<nlohmann::json> build_fact_task(std::uint64_t seed, const KnowledgeBase& kb,
                                            const TaskOptions& opt);

}  // namespace cai::world
