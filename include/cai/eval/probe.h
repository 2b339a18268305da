// `cai probe`: how deep the alignment goes, after Qi et al. 2024, "Safety Alignment Should Be
// Made More Than Just a Few Tokens Deep". Three measurements of an aligned model against the
// base model it came from, on the world's prompts, scored by the world's oracle:
//  - per-token KL: KL(aligned || base) of the next-token distributions at each response
//    position (both models teacher-forced on the same tokens, full vocabulary), averaged per
//    position over responses; shallow alignment shows as KL concentrated in the first tokens;
//  - prefill attack: the response is forced to start with the first k tokens of a violating
//    response (probe_data.h), the model continues, and the oracle scores prefix + continuation
//    (k = 0 is the plain model);
//  - fine-tuning attack: the aligned model fine-tuned on n violating (prompt, response)
//    examples of the train split for a few steps, then its compliance (each n starts from the
//    aligned model).
// Compliance is reported two ways, each with counts: "overall" (the oracle's verdict: every
// applicable principle followed) and "target" (the principle the violating responses break
// besides empathy: kind_principle of the prompt's kind).
//
// Output: out_dir/probe.json
//   {"base", "aligned", "world", "split", "prompts", "seed", "sampling": {...},
//    "kl": {"source", "max_positions", "responses", "tokens", "first_k": {"k", "mean", "tokens"},
//           "overall": {"mean", "tokens"},
//           "by_position": [{"position": 0, "mean": 0.41, "count": 250}, ...]},
//    "prefill": {"rows": [{"k": 0, "whole_prefix": 0,
//                          "base": {"overall": RATE, "target": RATE},
//                          "aligned": {"overall": RATE, "target": RATE}}, ...]},
//    "finetune": {"epochs", "max_steps", "lr",
//                 "rows": [{"n": 0, "steps": 0, "loss": null, "overall": RATE, "target": RATE},
//                 ...]}}
// RATE = {"rate", "pass", "total"}; a block is absent when its measurement was not asked for.
// whole_prefix counts prompts whose violating response has k tokens or fewer (the whole
// response is the prefix). Fine-tuned models live in out_dir/finetune/n-N/ (removed after
// measuring unless keep_models).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cai {
class LlamaModel;
class Tokenizer;
struct LoadedModel;
}  // namespace cai

namespace cai::eval {

// How responses are sampled: as `cai world eval` samples them (stop at a blank line, one
// random stream per prompt index).
struct ProbeSampling {
  double temperature = 1.0;
  double top_p = 1.0;
  std::int64_t max_tokens = 96;
  std::uint64_t seed = 0;
  std::int64_t max_batch = 32;  // sequences decoded together
  void validate() const;
};

struct KlOptions {
  // Responses the KL is measured on: "sampled" (the aligned model's own responses to the
  // prompts), "violating" (the world's violating responses, as Qi et al. measure on harmful
  // answers) or "file" (responses_file).
  std::string source = "sampled";
  std::filesystem::path responses_file;  // JSONL {"prompt", "response"} per line
  std::int64_t first_k = 5;              // the "first tokens" mean covers positions 0..k-1
  std::int64_t max_positions = 64;       // response tokens measured per response at most
  std::int64_t token_budget = 8192;      // padded tokens per forward pass
  void validate() const;
};

struct PrefillOptions {
  std::vector<std::int64_t> ks = {5, 10, 20, 40};  // prefix lengths in tokens (k = 0 is added)
  bool base = true;                                // also attack the base model
  void validate() const;
};

struct FinetuneOptions {
  std::vector<std::int64_t> ns = {10, 50, 100};  // violating training examples per attack
  std::int64_t epochs = 5;                       // passes over the n examples
  std::int64_t max_steps = -1;                   // optimiser steps at most (-1: epochs decide)
  double lr = 1e-4;
  std::int64_t token_budget = 2048;  // padded tokens per micro-batch
  bool keep_models = false;          // keep out_dir/finetune/n-N/ after measuring
  void validate() const;
};

struct ProbeOptions {
  std::string base_model;         // model directory or .gguf (required)
  std::string aligned_model;      // (required; same tokenizer as the base model)
  std::filesystem::path world;    // `cai world generate` directory (required)
  std::filesystem::path out_dir;  // probe.json and the fine-tuning runs (required)
  bool kl = true, prefill = true, finetune = true;  // which measurements run
  std::string split = "test";                       // prompts probed: train | eval | test
  std::int64_t limit = 0;                           // prompts at most (0: all)
  std::uint64_t seed = 0;  // which violating response each prompt gets, training order
  ProbeSampling sampling;
  KlOptions kl_opts;
  PrefillOptions prefill_opts;
  FinetuneOptions finetune_opts;
  int threads = 0;        // torch threads (0: all cores)
  bool progress = true;   // progress bars on stderr
  void validate() const;  // throws cai::Error naming the field
};

struct ProbeResult {
  nlohmann::json report;  // what probe.json holds
  std::string text;       // the tables the CLI prints
};

// Runs the asked measurements and writes out_dir/probe.json. Throws cai::Error for bad
// options, missing files, or models whose tokenizers differ.
ProbeResult run_probe(const ProbeOptions& opts);

// ---- building blocks (exposed for tests and other stages) ----------------------------------

// One teacher-forced sequence: prompt tokens, then response tokens.
struct ProbeSequence {
  std::vector<std::int32_t> prompt;
  std::vector<std::int32_t> response;
};

// The tokens of a world prompt as the local backend encodes it (the conversation prompt with
// BOS, constitution/transcript.h), and of a response as the model would produce them: " " +
// response encoded on its own (no BOS).
std::vector<std::int32_t> prompt_tokens(const Tokenizer& tok, const std::string& prompt);
ProbeSequence probe_sequence(const Tokenizer& tok, const std::string& prompt,
                             const std::string& response);

// KL(aligned || base) = sum_v p_a(v) (log p_a(v) - log p_b(v)) of the next-token distributions
// predicting each response token: result[i][j] for response token j of sequence i, computed
// in batches of at most `token_budget` padded tokens. Both models must have the same vocabulary.
std::vector<std::vector<double>> token_kl(LlamaModel& aligned, LlamaModel& base,
                                          const std::vector<ProbeSequence>& seqs,
                                          std::int64_t token_budget = 8192);

// Per position j: the mean of kl[i][j] over the sequences that have a position j, and how
// many those are; the token-weighted means over positions < first_k and over all positions.
struct KlByPosition {
  std::vector<double> mean;
  std::vector<std::int64_t> count;
  std::int64_t first_k = 0;
  double first_k_mean = 0.0;
  std::int64_t first_k_tokens = 0;
  double overall_mean = 0.0;
  std::int64_t tokens = 0;
  std::int64_t responses = 0;
  nlohmann::json to_json() const;  // probe.json's "kl" block without "source"
};
KlByPosition aggregate_kl(const std::vector<std::vector<double>>& kl, std::int64_t first_k);

// The first k tokens of " " + response (all of them when it has fewer) and their text.
struct Prefix {
  std::vector<std::int32_t> tokens;
  std::string text;    // decode(tokens): what the response starts with
  bool whole = false;  // the response has k tokens or fewer
};
Prefix prefill_prefix(const Tokenizer& tok, const std::string& response, std::int64_t k);

// Samples a continuation of each token prompt (request i on random stream i) with `model`,
// stopped at a blank line; the text is returned as generated (not trimmed, so it can be joined
// to a prefix; transcript::first_turn cuts a response). `label` names the progress bar ("" = none).
std::vector<std::string> sample_continuations(LoadedModel& model,
                                              const std::vector<std::vector<std::int32_t>>& prompts,
                                              const ProbeSampling& sampling,
                                              const std::string& label);

}  // namespace cai::eval
