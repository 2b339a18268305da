// Choosing the next token from a row of logits: greedy, temperature, top-k, top-p, with a
// random stream per request so that a request's draws never depend on its batch neighbours.
// Works on plain float arrays (one row of V logits); free of libtorch headers.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace cai {

struct SamplingOptions {
  double temperature = 1.0;           // 0 = greedy (argmax); otherwise logits / temperature
  std::int64_t top_k = 0;             // keep the k most likely tokens; 0 = all
  double top_p = 1.0;                 // keep the smallest set whose mass reaches p; 1 = all
  std::uint64_t seed = 0;             // with the request's stream id, seeds its random stream
  std::int64_t max_new_tokens = 256;  // generated tokens at most (EOS included)
  std::vector<std::string> stop;      // text that ends generation (excluded from the text)
  std::vector<std::int32_t> stop_token_ids;  // extra ids that end generation, besides EOS
  bool ignore_eos = false;                   // keep going past EOS / stop ids (benchmarks)
  bool logprobs = false;                     // record each sampled token's log-probability (T = 1)
  std::int64_t top_logprobs = 0;             // also record the n most likely tokens and their
                                             // log-probabilities (T = 1) at each step; 0..20

  bool greedy() const { return temperature == 0.0; }
  // Throws cai::Error naming the field for out-of-range values.
  void validate() const;
};

// The splitmix64 finaliser: spreads a seed or stream id over all 64 bits (also used to fold a
// request's stream into the seed sent to a server).
std::uint64_t splitmix64(std::uint64_t x);

// One request's random stream: mt19937_64 seeded from (seed, stream) through splitmix64, so
// request i of a run gets the same draws whatever else is in the batch.
class SamplerRng {
 public:
  SamplerRng(std::uint64_t seed, std::uint64_t stream);
  double uniform();  // [0, 1), 53 random bits
 private:
  std::mt19937_64 gen_;
};

// Picks a token id from `logits` (one row of V values) under `opts`. `rng` is only drawn from
// when sampling (not greedy), exactly once per call.
std::int32_t sample_token(std::span<const float> logits, const SamplingOptions& opts,
                          SamplerRng& rng);

// log softmax(logits)[id] at temperature 1.
float token_logprob(std::span<const float> logits, std::int32_t id);

// The n most likely ids with their log softmax values at temperature 1, most likely first
// (ties: lower id first); n is capped by the vocabulary.
std::vector<std::pair<std::int32_t, float>> top_logprobs(std::span<const float> logits,
                                                         std::int64_t n);

}  // namespace cai
