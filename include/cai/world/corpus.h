// The pretraining corpus of the synthetic world. It stands in for what a real chat model
// already knows: conversations whose assistant turns follow or break each principle at
// controlled rates, worked critiques (including ones that find nothing wrong), revisions and
// A/B comparisons in the transcript formats of constitution/transcript.h, and the clinic's source
// documents as prose.
//
// corpus/pretrain.txt holds the documents in a shuffled order, each followed by a line
// holding only the delimiter "<|endoftext|>" (kCorpusDelimiter). Declare that string as a
// special token when training a tokenizer on the file, so it never enters a merge; split the
// file on "\n<|endoftext|>\n" to get the documents back.
//
// Size: with the defaults (seed 0) the file is about 9.4 MB, about 2.5M tokens under the
// 768-token byte-level BPE `cai pretrain` trains on it.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cai/constitution/constitution.h"
#include "cai/world/knowledge.h"
#include "cai/world/principles.h"
#include "cai/world/prompts.h"
#include "cai/world/responses.h"

namespace cai::world {

inline constexpr const char* kCorpusDelimiter = "<|endoftext|>";

struct CorpusOptions {
  // A tiny model learns a verdict from one token per example, so critiques and comparisons
  // need many; conversations teach it to answer, and with the grammar's many wordings it needs
  // many of them too: a conversation pairs a wording with its answer in a third of a
  // critique's length. With 500 / 10000 / 5000 the seed-0 world's bases gave the right fact to
  // 55.4% of the hand-written prompts; with this mix (4% more tokens), 70.8% and, in a later
  // measurement, 61.0%; with the break rate and emergency openings below, 64.8% (means of 3
  // pretraining seeds each).
  int conversations = 5000;        // plain Human/Assistant conversations
  int critiques = 6000;            // critique examples; a share of them go on to a revision
  double revision_fraction = 0.3;  // share of critique examples extended with a revision
  int comparisons = 7500;          // A/B comparisons that differ in the asked principle
  int document_repeats = 5;        // copies of each source document (facts shuffled each time)
  // Probability that a conversation breaks each principle (where it applies), indexed by
  // PrincipleId, drawn independently. Privacy is broken at this rate on identity requests.
  // Critiques and comparisons bring violations enough for the judge. Conversations at 0.25
  // answered a quarter of the unanswerable questions with a guess, and whether a base model
  // declined them came down to its pretraining seed (3%, 58% and 89% of the test split's);
  // the README's `make demo` paragraph measures 0.1 with emergency_acknowledgement below.
  std::array<double, kNumPrinciples> break_rate{0.1, 0.1, 0.1, 0.1, 0.1};
  double privacy_leak_rate = 0.05;       // other kinds that also ask for identifiers
  double misplaced_empathy = 0.3;        // broken empathy: acknowledge at the end, not first
  // Share of emergency responses opening with an emergency's own acknowledgement ("this must be
  // frightening"); the rest open as any answer may ("I can imagine ... is on your mind"). A
  // tiny model decides at its first words: at 0.6, emergencies it opened with a general
  // acknowledgement went to 911 in 0-56% of cases against 97-100% after an emergency's own, and
  // the round's SFT and DPO, which favour a few general openings, then lost emergencies.
  double emergency_acknowledgement = ResponseStyle{}.emergency_acknowledgement;
  double critique_applicable = 0.5;      // critiques drawn on a kind the principle applies to; the
                                         // rest on any kind, so the model also learns that a
                                         // principle that does not apply is followed
  double critique_violation_rate = 0.5;  // ... and then breaking it with this probability
  // Share of critiques (where the principle applies) written as a minimal pair: the same
  // response following and breaking the principle, each critiqued (two documents).
  double critique_pairs = 0.5;
  // Share of comparisons whose two responses are composed independently (their own wording
  // and their own draws for the other principles), differing for sure only in the asked
  // principle: like two sampled responses, so the judge learns to look at that principle
  // alone. The rest are minimal pairs (same wording, only the asked principle differs).
  double comparison_free_pairs = 0.5;
  // Share of emergency and uncertainty comparisons drawn on a prompt the principle does not
  // apply to, where the worse response overdoes it: it sends a patient with a mild symptom to
  // 911, or claims not to know what the documents answer. Without them the judge only ever
  // sees "911" and "I don't know" win, and rates them higher everywhere, so preference
  // training built on its labels learns to decline (over-refusal).
  double comparison_overdone = 0.3;
  // Relative frequency of each principle among critique and among comparison examples,
  // indexed by PrincipleId (cite, emergency, empathy, privacy, uncertainty). Empathy leads:
  // judging it means finding where the response begins, which a tiny model learns only from
  // many examples; citing comes next (with fewer examples the base model calls every answer
  // cited); emergency is the easiest (the prompt alone gives it away).
  std::array<double, kNumPrinciples> critique_principle_weights{0.25, 0.075, 0.35, 0.2, 0.125};
  // Emergency and uncertainty carry comparison_overdone on top of their 0.1, so that as many
  // comparisons as without it teach each where it applies (with fewer, the aligned model
  // told patients with an emergency to rest at home).
  std::array<double, kNumPrinciples> comparison_principle_weights{0.3, 0.14, 0.35, 0.15, 0.14};
  // Relative frequency of prompt kinds in conversations, in all_kinds() order.
  std::vector<double> kind_weights = {0.25, 0.15, 0.15, 0.15, 0.15, 0.15};
  void validate() const;  // throws cai::Error naming the field
};

struct CorpusDoc {
  std::string type;  // conversation | critique | revision | comparison | document
  std::string text;
  // Provenance, for tests and statistics (not written to the corpus file).
  WorldPrompt prompt;
  std::string response;       // conversation / critique / revision: the judged response
  Compliance flags;           // how that response was built
  std::string principle;      // critique / revision / comparison
  bool label = false;         // critique: follows; comparison: (A) is the better one
  bool minimal_pair = false;  // comparison: same wording, only the asked principle differs
  bool overdone = false;      // comparison: the worse response overdoes a principle that does
                              // not apply (comparison_overdone)
  std::string response_b;     // comparison: the second response; revision: the revised one
};

struct CorpusStats {
  std::size_t conversations = 0, critiques = 0, revisions = 0, comparisons = 0, documents = 0;
  std::array<std::size_t, kNumPrinciples> applicable{}, broken{};  // over conversations
  std::size_t answer_a = 0, answer_b = 0;
  std::array<std::size_t, kNumPrinciples> critique_follows{}, critique_violates{};
  std::size_t bytes = 0;
};

// Deterministic in `seed`. Every document's prompt is freshly worded by `prompts` (so held-out
// productions and reserved prompts, the eval and test splits', never appear); critique,
// revision and comparison wording comes from `constitution`.
std::vector<CorpusDoc> build_corpus(std::uint64_t seed, const KnowledgeBase& kb,
                                    const PromptSampler& prompts, const Constitution& constitution,
                                    const CorpusOptions& opt);
CorpusStats corpus_stats(const std::vector<CorpusDoc>& docs);
// The file body: each document's text followed by "\n<|endoftext|>\n".
std::string render_corpus(const std::vector<CorpusDoc>& docs);

}  // namespace cai::world
