// probe.json: what `cai probe` (and the loop's probe:) measured, written and read only here.
//   {"base", "aligned", "world", "split", "prompts", "seed",
//    "sampling": {"temperature", "top_p", "max_tokens", "seed"},
//    "kl"?: {"responses", "tokens", "first_k": {"k", "mean", "tokens"},
//            "overall": {"mean", "tokens"}, "by_position": [{"position", "mean", "count"}],
//            "source", "responses_file"?, "max_positions"},
//    "prefill"?: {"rows": [{"k", "whole_prefix", "base"?: rates, "aligned": rates}]},
//    "finetune"?: {"epochs", "max_steps", "lr",
//                  "rows": [{"n", "steps", "loss" (null for n = 0), "overall", "target"}]}}
// where rates = {"overall": rate, "target": rate} (io/rate.h).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cai/io/rate.h"

namespace cai::eval {

// The oracle's overall verdict and the verdict on the prompt kind's principle.
struct ComplianceRates {
  CountedRate overall, target;
};

// Per position j: the mean KL over the sequences that have a position j, and how many those
// are; the token-weighted means over positions < first_k and over all positions.
struct KlByPosition {
  std::vector<double> mean;
  std::vector<std::int64_t> count;
  std::int64_t first_k = 0;
  double first_k_mean = 0.0;
  std::int64_t first_k_tokens = 0;
  double overall_mean = 0.0;
  std::int64_t tokens = 0;
  std::int64_t responses = 0;
};

struct KlRecord {
  KlByPosition kl;
  std::string source;          // violating, sampled or file
  std::string responses_file;  // source file
  std::int64_t max_positions = 0;
};

struct PrefillRow {
  std::int64_t k = 0;
  std::int64_t whole_prefix = 0;  // prompts whose violating response has at most k tokens
  std::optional<ComplianceRates> base;
  ComplianceRates aligned;
  // The same turns read from a retraction on where the model wrote one (after_retraction in
  // probe.h), else whole; absent in files written before this reading existed.
  std::optional<ComplianceRates> base_recovered, aligned_recovered;
  std::int64_t aligned_retractions = 0;  // the aligned model's turns with a retraction
};

struct FinetuneRow {
  std::int64_t n = 0, steps = 0;
  std::optional<double> loss;  // none for n = 0 (no training)
  ComplianceRates rates;
};

struct FinetuneRecord {
  std::int64_t epochs = 0, max_steps = 0;
  double lr = 0.0;
  std::vector<FinetuneRow> rows;
};

struct ProbeFile {
  std::string base, aligned, world, split;
  std::int64_t prompts = 0;
  std::uint64_t seed = 0;
  double temperature = 1.0, top_p = 1.0;  // sampling
  std::int64_t max_tokens = 0;
  std::uint64_t sampling_seed = 0;
  std::optional<KlRecord> kl;
  std::optional<std::vector<PrefillRow>> prefill;
  std::optional<FinetuneRecord> finetune;

  nlohmann::json to_json() const;
  static ProbeFile from_json(const nlohmann::json& j, const std::string& where);
  // How the responses were drawn: "greedy" or "sampled at temperature T (top-p P)". Two probes'
  // figures compare only when these agree (the loop's probe samples as its evaluation does).
  std::string responses_drawn() const;
};

}  // namespace cai::eval
