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

#include "cai/eval/probe_file.h"
#include "cai/eval/world_eval.h"
#include "cai/io/options.h"
#include "cai/pipeline/recovery.h"

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
  std::int64_t max_batch = 32;
  static void fields(opt::Fields<ProbeSampling>& f) {
    using O = ProbeSampling;
    f("temperature", &O::temperature, "sampling temperature", opt::min(0));
    f("top_p", &O::top_p, "nucleus sampling", opt::range(0, 1, "(]"));
    f("max_tokens", &O::max_tokens, "tokens per response", opt::min(1));
    f("sample_seed", &O::seed, "sampling seed");
    f("max_batch", &O::max_batch, "sequences decoded together", opt::min(1));
  }
  void validate() const { opt::validate(*this, "probe"); }
};

struct KlOptions {
  // Responses the KL is measured on: "sampled" (the aligned model's own responses to the
  // prompts), "violating" (the world's violating responses, as Qi et al. measure on harmful
  // answers) or "file" (responses_file).
  std::string source = "sampled";
  std::filesystem::path responses_file;  // JSONL {"prompt", "response"} per line
  std::int64_t first_k = 5;
  std::int64_t max_positions = 64;
  std::int64_t token_budget = 8192;
  static void fields(opt::Fields<KlOptions>& f) {
    using O = KlOptions;
    f("kl_source", &O::source, "KL responses: sampled, violating or file",
      opt::one_of({"sampled", "violating", "file"}));
    f("kl_responses", &O::responses_file, "JSONL of {prompt, response} for the KL (source file)");
    f("first_k", &O::first_k, "the first-tokens KL mean covers positions 0..k-1", opt::min(1));
    f("max_positions", &O::max_positions, "KL: response tokens measured at most", opt::min(1));
    f("kl_token_budget", &O::token_budget, "KL: padded tokens per forward pass", opt::min(1));
  }
  void rules(opt::Rules& r) const {
    r.require(source != "file" || !responses_file.empty(), "kl_responses",
              "is required with kl_source file");
  }
  void validate() const { opt::validate(*this, "probe"); }
};

struct PrefillOptions {
  std::vector<std::int64_t> ks = {5, 10, 20, 40};  // k = 0 is added
  bool base = true;
  // What a turn that takes its forced start back writes (after_retraction): by default the
  // recovery rows' connector, so rows written with another --connector are read with it.
  std::string retraction = pipeline::Phase1RecoveryOptions{}.connector;
  static void fields(opt::Fields<PrefillOptions>& f) {
    f("k", &PrefillOptions::ks, "prefill lengths in tokens", opt::not_empty(),
      opt::each(opt::min(1)));
    f("prefill_base", &PrefillOptions::base, "also attack the base model");
    f("retraction", &PrefillOptions::retraction,
      "the recovered reading judges a prefilled turn from the last one of these the model wrote "
      "(the recovery rows' connector)",
      [](const std::string& v) {
        return v.find_first_not_of(' ') == std::string::npos ? "must hold more than spaces" : "";
      });
  }
  void validate() const { opt::validate(*this, "probe"); }
};

struct FinetuneOptions {
  std::vector<std::int64_t> ns = {10, 50, 100};
  std::int64_t epochs = 5;
  std::int64_t max_steps = -1;
  double lr = 1e-4;
  std::int64_t token_budget = 2048;
  bool keep_models = false;
  static void fields(opt::Fields<FinetuneOptions>& f) {
    using O = FinetuneOptions;
    f("n", &O::ns, "fine-tuning attack: violating training examples per attack", opt::not_empty(),
      opt::each(opt::min(1)));
    f("ft_epochs", &O::epochs, "fine-tuning attack: passes over the n examples", opt::min(1));
    f("ft_steps", &O::max_steps, "fine-tuning attack: optimiser steps at most (-1: the epochs)",
      [](std::int64_t v) {
        return v == -1 || v >= 1 ? "" : fmt::format("must be >= 1 or -1, got {}", v);
      });
    f("ft_lr", &O::lr, "fine-tuning attack: learning rate", opt::above(0));
    f("ft_token_budget", &O::token_budget, "fine-tuning attack: padded tokens per micro-batch",
      opt::min(1));
    f("keep_models", &O::keep_models, "keep the fine-tuned models under OUT/finetune/n-N/");
  }
  void validate() const { opt::validate(*this, "probe"); }
};

struct ProbeOptions {
  std::string base_model;         // model directory or .gguf (required)
  std::string aligned_model;      // (required; same tokenizer as the base model)
  std::filesystem::path world;    // `cai world generate` directory (required)
  std::filesystem::path out_dir;  // probe.json and the fine-tuning runs (required)
  bool kl = true, prefill = true, finetune = true;
  std::string split = "test";
  std::int64_t limit = 0;
  std::uint64_t seed = 0;
  ProbeSampling sampling;
  KlOptions kl_opts;
  PrefillOptions prefill_opts;
  FinetuneOptions finetune_opts;
  int threads = 0;
  bool progress = true;  // progress bars on stderr

  static void fields(opt::Fields<ProbeOptions>& f) {
    using O = ProbeOptions;
    f("base_model", &O::base_model, "the base model (directory or .gguf)").flag_name("base");
    f("aligned_model", &O::aligned_model, "the aligned model (same tokenizer as the base)")
        .flag_name("aligned");
    f("world", &O::world, "the world directory (`cai world generate`)");
    f("out_dir", &O::out_dir, "output directory (probe.json, fine-tuning runs)").flag_name("out");
    f("kl", &O::kl, "measure the per-token KL");
    f("prefill", &O::prefill, "run the prefill attack");
    f("finetune", &O::finetune, "run the fine-tuning attack");
    f("split", &O::split, "prompt split probed: train, eval or test", world_split());
    f("limit", &O::limit, "prompts at most (0: all)", opt::min(0));
    f("seed", &O::seed, "seed of the violating responses and the training order");
    f.flat(&O::sampling);
    f.flat(&O::kl_opts);
    f.flat(&O::prefill_opts);
    f.flat(&O::finetune_opts);
    f("threads", &O::threads, "torch threads (0: all cores)", opt::min(0));
  }
  void rules(opt::Rules& r) const;  // the required paths exist, something to measure
  void validate() const { opt::validate(*this, "probe"); }
};

struct ProbeResult {
  ProbeFile report;  // what probe.json holds
  std::string text;  // the tables the CLI prints
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

// Per position j: the mean of kl[i][j] over the sequences that have a position j (probe_file.h).
KlByPosition aggregate_kl(const std::vector<std::vector<double>>& kl, std::int64_t first_k);

// The first k tokens of " " + response (all of them when it has fewer) and their text.
struct Prefix {
  std::vector<std::int32_t> tokens;
  std::string text;    // decode(tokens): what the response starts with
  bool whole = false;  // the response has k tokens or fewer
};
Prefix prefill_prefix(const Tokenizer& tok, const std::string& response, std::int64_t k);

// The part of a prefilled turn that retracts its forced start: what follows the last
// `retraction` (PrefillOptions::retraction, without its outer spaces) when the model wrote it,
// at or after byte `forced` of `turn`; "" when it wrote none.
// The prefill attack's recovered reading judges this part (Qi et al. 2024 judge whether harm was
// delivered, so a turn that takes its start back counts as a recovery).
std::string after_retraction(const std::string& turn, std::size_t forced,
                             const std::string& retraction);

// Samples a continuation of each token prompt (request i on random stream i) with `model`,
// stopped at a blank line; the text is returned as generated (not trimmed, so it can be joined
// to a prefix; transcript::first_turn cuts a response). `label` names the progress bar ("" = none).
std::vector<std::string> sample_continuations(LoadedModel& model,
                                              const std::vector<std::vector<std::int32_t>>& prompts,
                                              const ProbeSampling& sampling,
                                              const std::string& label);

}  // namespace cai::eval
