// `cai world generate`: the whole synthetic telehealth world from one seed. The same seed and
// options give byte-identical files on any machine (the generator draws from its own
// xoshiro256** streams, see rng.h).
//
// Layout of the output directory:
//   knowledge.jsonl          fact records (knowledge.h)
//   prompts/train.jsonl      prompt records (prompts.h); no prompt is in two splits, and part
//   prompts/eval.jsonl         of test uses grammar productions held out of everything else
//   prompts/test.jsonl         (the corpus included)
//   corpus/pretrain.txt      pretraining documents, each ended by a "<|endoftext|>" line
//                            (corpus.h): conversations, critiques, revisions, comparisons and
//                            the clinic's source documents
//   tasks/quiz.jsonl         multiple-choice knowledge quiz (tasks.h)
//   tasks/facts.jsonl        free-generation fact task (tasks.h)
//   constitution.yaml        the demo constitution (principles.h)
//   manifest.json            seed, generator version, options, counts and measured rates
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "cai/world/corpus.h"
#include "cai/world/knowledge.h"
#include "cai/world/prompts.h"
#include "cai/world/tasks.h"

namespace cai::world {

inline constexpr const char* kGeneratorVersion = "cai-world 2";

struct WorldOptions {
  std::uint64_t seed = 0;      // everything below is drawn from streams of this seed
  KnowledgeOptions knowledge;  // how many services and items the clinic has
  PromptOptions prompts;       // split sizes, held-out productions, noise, kind mix
  CorpusOptions corpus;        // document counts and the rates principles are broken at
  TaskOptions tasks;           // questions per fact in the capability tasks
  // Prompt files (JSONL with a "prompt" per record) kept for evaluation: no prompt split and
  // no corpus document contains one of their prompts (compared by prompt_key, whole words).
  std::vector<std::filesystem::path> exclude_prompts;
  void validate() const;  // validates every part; throws cai::Error naming the field
};

// Writes the world into `dir` (created if needed; files in it are replaced atomically) and
// returns the manifest it wrote.
nlohmann::json generate_world(const WorldOptions& opt, const std::filesystem::path& dir);

// What `cai world check` and evaluations read back.
struct World {
  KnowledgeBase knowledge;
  std::vector<WorldPrompt> prompts;  // train, eval and test, in that order
};
World load_world(const std::filesystem::path& dir);  // errors name the missing file

}  // namespace cai::world
