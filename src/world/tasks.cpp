#include "cai/world/tasks.h"

#include <fmt/format.h>

#include <algorithm>

#include "cai/constitution/transcript.h"
#include "cai/io/error.h"
#include "cai/world/rng.h"
#include "cai/world/text.h"

namespace cai::world {

using namespace cai::transcript;  // questions are written as transcripts

void TaskOptions::validate() const {
  CAI_CHECK(phrasings >= 1 && phrasings <= 3, "world: task phrasings must be in [1, 3], got {}",
            phrasings);
  CAI_CHECK(choices >= 2, "world: quiz choices must be >= 2, got {}", choices);
  CAI_CHECK(reverse_phrasings >= 0 && reverse_phrasings <= 1,
            "world: quiz reverse_phrasings must be 0 or 1, got {}", reverse_phrasings);
}

namespace {

// Plain questions per attribute: the benchmark asks as a patient would, in phrasings of the
// train split's kind, so the tax measures knowledge rather than unfamiliar wording.
std::vector<std::string> questions(const Fact& f) {
  const std::string e = entity_phrase(f);
  switch (f.attribute) {
    case Attribute::hours:
      return {"When is " + e + " offered?", "What days can I come in for " + e + "?",
              "What is the schedule for " + e + "?"};
    case Attribute::preparation:
      return {"How should I prepare for " + e + "?",
              "Is there anything I need to do before " + e + "?",
              "What should I do ahead of " + e + "?"};
    case Attribute::location:
      return {"Where can I pick up " + e + "?", "Where do you keep " + e + " for patients?",
              "I need " + e + ". Where should I go?"};
    case Attribute::policy:
      return {"What is the clinic's policy on " + e + "?",
              "Can you tell me the rules for " + e + "?",
              "Is there a written rule about " + e + "?"};
  }
  return {};
}

// A question giving the value and asking for the entity, and the answer's stem up to the
// entity: {"Which service is offered on Mondays from 8 am to noon?", "It is"}.
std::pair<std::string, std::string> reverse_question(const Fact& f) {
  switch (f.attribute) {
    case Attribute::hours:
      return {"Which service is offered on " + f.value + "?", "The service offered then is"};
    case Attribute::preparation:
      return {"Before which visit should I " + f.value + "?", "You should do that before"};
    case Attribute::location:
      return {"What can I pick up at " + f.value + "?", "At " + f.value + " you can pick up"};
    case Attribute::policy:
      return {"Which clinic policy says that " + f.value + "?", "That is the policy on"};
  }
  return {};
}

// The answer's sentence up to the value: "The flu shot is offered on".
std::string stem(const Fact& f) {
  const std::string clause = capitalize(fact_clause(f));
  return trim(clause.substr(0, clause.size() - f.value.size()));
}

std::vector<std::string> aliases(const Fact& f) {
  std::vector<std::string> out;
  if (f.attribute == Attribute::hours) {
    const std::size_t from = f.value.find(" from ");
    if (from != std::string::npos) {
      const std::string day = f.value.substr(0, from), time = f.value.substr(from + 6);
      out.push_back(day + ", " + time);
      out.push_back(day + " " + time);
      if (day.back() == 's') out.push_back(day.substr(0, day.size() - 1) + " from " + time);
    }
  } else if (f.attribute == Attribute::location && f.value.rfind("the ", 0) == 0) {
    out.push_back(f.value.substr(4));
  }
  return out;
}

}  // namespace

std::vector<nlohmann::json> build_quiz(std::uint64_t seed, const KnowledgeBase& kb,
                                       const TaskOptions& opt) {
  opt.validate();
  Rng rng(seed, "quiz");
  std::vector<nlohmann::json> out;
  for (const Fact& f : kb.facts) {
    std::vector<std::string> others;
    for (const auto& v : kb.values(f.attribute))
      if (v != f.value) others.push_back(v);
    const auto qs = questions(f);
    for (int k = 0; k < opt.phrasings; ++k) {
      rng.shuffle(others);
      std::vector<std::string> choices(
          others.begin(), others.begin() + std::min<std::size_t>(others.size(), opt.choices - 1));
      const std::size_t answer = rng.below(choices.size() + 1);
      choices.insert(choices.begin() + static_cast<std::ptrdiff_t>(answer), f.value);
      out.push_back({{"id", fmt::format("quiz-{:04d}", out.size())},
                     {"question", conversation(qs[k], stem(f))},
                     {"choices", choices},
                     {"answer", answer},
                     {"entity", f.entity},
                     {"attribute", attribute_name(f.attribute)},
                     {"direction", "forward"}});
    }
    if (opt.reverse_phrasings == 0) continue;
    // Distractors: entities of the same type whose value differs (a shared value would make
    // two options right).
    std::vector<std::string> rivals;
    for (const Fact& g : kb.facts)
      if (g.attribute == f.attribute && g.entity_type == f.entity_type && g.value != f.value)
        rivals.push_back(entity_phrase(g));
    if (rivals.empty()) continue;
    rng.shuffle(rivals);
    std::vector<std::string> choices(
        rivals.begin(), rivals.begin() + std::min<std::size_t>(rivals.size(), opt.choices - 1));
    const std::size_t answer = rng.below(choices.size() + 1);
    choices.insert(choices.begin() + static_cast<std::ptrdiff_t>(answer), entity_phrase(f));
    const auto [question, answer_stem] = reverse_question(f);
    out.push_back({{"id", fmt::format("quiz-{:04d}", out.size())},
                   {"question", conversation(question, answer_stem)},
                   {"choices", choices},
                   {"answer", answer},
                   {"entity", f.entity},
                   {"attribute", attribute_name(f.attribute)},
                   {"direction", "reverse"}});
  }
  return out;
}

std::vector<nlohmann::json> build_fact_task(std::uint64_t seed, const KnowledgeBase& kb,
                                            const TaskOptions& opt) {
  opt.validate();
  (void)seed;  // the task is fully determined by the knowledge base; kept for symmetry
  std::vector<nlohmann::json> out;
  for (const Fact& f : kb.facts) {
    const auto qs = questions(f);
    for (int k = 0; k < opt.phrasings; ++k)
      out.push_back({{"id", fmt::format("fact-{:04d}", out.size())},
                     {"prompt", conversation_prompt(qs[k])},
                     {"answer", f.value},
                     {"aliases", aliases(f)},
                     {"entity", f.entity},
                     {"attribute", attribute_name(f.attribute)},
                     {"source", f.source}});
  }
  return out;
}

}  // namespace cai::world
