// Recovery rows from Phase 1's own pairs (Qi et al. 2024, "Safety Alignment Should Be Made
// More Than Just a Few Tokens Deep", section 3, data augmentation with safety recovery
// examples), so the augmentation needs no world: the assistant turn starts with the first
// words of the model's own initial response, which a critique found violating and a revision
// replaced, then turns back to that revision. As in the paper's objective, -log pi(r | x, h_<=k),
// the violating start is context and only the return is a target: the start is the prompt's
// final assistant message, which the completion continues (train/data.h):
//   {"prompt": [{"role": "user", "content": PROMPT},
//               {"role": "assistant", "content": "<first words of init_response>"}],
//    "completion": [{"role": "assistant", "content": " - actually, let me correct that:
//                                                    <final revision>"}]}
// (TRL's conversational prompt-completion format). With `pairs` each row is a preference pair
// for DPO instead, the return preferred to the rest of the violating response after the same
// start: {"prompt": [user, assistant: start], "chosen": [assistant: connector + revision],
// "rejected": [assistant: the rest of the initial response]}. A Phase 1 record is used when
// its final revision differs from its initial response, which has at least two words.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cai/io/options.h"
#include "cai/pipeline/label.h"

namespace cai::pipeline {

struct Phase1RecoveryOptions {
  std::int64_t count = 100;  // rows written (records are drawn again, each time with a fresh
                             // start length, when there are fewer)
  std::uint64_t seed = 0;
  std::int64_t max_prefix_words = 10;
  // No sentence end, so an acknowledgement right after it is still in the first sentence.
  std::string connector = " - actually, let me correct that: ";
  bool pairs = false;  // DPO preference rows instead of SFT rows
  static void fields(opt::Fields<Phase1RecoveryOptions>& f) {
    using O = Phase1RecoveryOptions;
    f("count", &O::count, "rows written", opt::min(1));
    f("seed", &O::seed, "record order, prefix lengths and wording");
    f("max_prefix_words", &O::max_prefix_words,
      "the violating start keeps 1 .. this many words (drawn uniformly), always leaving one out",
      opt::min(1))
        .alias("max_words");
    f("connector", &O::connector, "between the violating start and the compliant response",
      [](const std::string& c) {
        return c.find("\n\n") == std::string::npos
                   ? ""
                   : "must not hold a blank line (it would end the response)";
      });
    f("pairs", &O::pairs,
      "write DPO preference pairs: after the start, the return chosen over the rest of the "
      "violating response");
  }
  void validate() const { opt::validate(*this, "recovery rows"); }
};

struct Phase1RecoveryRow {
  std::string id;               // the record's id, when it has one
  std::string prompt;           // the user's request
  std::string violating_start;  // the first words of the initial response (its bytes)
  std::string revision;         // the final revision the turn returns to
  std::string assistant;        // the whole turn: violating_start + connector + revision
  std::string initial;          // the whole initial response
  // recovery_row(prompt, violating_start, assistant) and recovery_pair(prompt,
  // violating_start, assistant, initial).
  nlohmann::json to_json() const;
  nlohmann::json to_pair_json() const;
};

// The SFT row and the preference row of a recovery (world or Phase 1 alike), in the formats
// above: `start` is the prompt's assistant message; `turn`, `chosen` and `rejected` are whole
// assistant turns that begin with it, of which the rows keep what follows it.
nlohmann::json recovery_row(const std::string& prompt, const std::string& start,
                            const std::string& turn);
nlohmann::json recovery_pair(const std::string& prompt, const std::string& start,
                             const std::string& chosen, const std::string& rejected);

// The text's first n space-separated words: its bytes up to the end of the n-th word.
std::string leading_words(const std::string& text, std::size_t n);
std::size_t count_words(const std::string& text);

// The indices of the pairs a recovery row can come from: revised (b differs from a), with an
// initial response of at least two words (a start and a rest) and a non-empty revision.
std::vector<std::size_t> revised_records(const std::vector<PairInput>& pairs);

// `opts.count` rows from the pairs of read_phase1_pairs (a = initial response, b = final
// revision), drawn in a seeded order among those whose b differs from a. Throws cai::Error
// when no pair qualifies.
std::vector<Phase1RecoveryRow> phase1_recovery_rows(const std::vector<PairInput>& pairs,
                                                    const Phase1RecoveryOptions& opts);

// Those rows as JSONL text, SFT rows or (opts.pairs) preference rows.
std::string phase1_recovery_jsonl(const std::vector<PairInput>& pairs,
                                  const Phase1RecoveryOptions& opts);

// The rows of a Phase 1 output file written as JSONL (atomically) to `out`; returns the count.
std::size_t write_phase1_recovery_rows(const std::filesystem::path& phase1,
                                       const std::filesystem::path& out,
                                       const Phase1RecoveryOptions& opts);

}  // namespace cai::pipeline
