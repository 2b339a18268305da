// Batched generation with a KV cache and continuous batching: requests of any prompt length
// are queued; live sequences occupy cache slots 0..n-1; each step admits waiting requests into
// free slots (their prompts prefilled together, right padded, in chunks), then decodes one
// token for every live sequence; a sequence that finishes frees its slot at once (the last
// live slot is moved into the hole so attention always reads a plain prefix of the cache).
// With a prefix cache, finished sequences' keys and values are kept in extra slots past the
// live ones, and a new prompt starting with the same tokens copies those positions (few-shot
// preambles and a conversation continued by the next request are computed once).
//
// Token-id based: a Tokenizer is needed only for text (stop strings, streamed text deltas).
// For a server: submit() and cancel() may be called from any thread; one thread drives step()
// and receives the per-token and per-request callbacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cai/generate/sampling.h"
#include "cai/generate/step_model.h"

namespace cai {

class Tokenizer;

struct EngineOptions {
  std::int64_t max_batch = 32;       // sequences decoded together (cache slots)
  std::int64_t max_seq_len = 0;      // prompt + generated tokens per sequence; 0 = the model's
                                     // max_position_embeddings
  std::int64_t prefill_chunk = 512;  // prompt tokens per row per prefill forward pass
  std::int64_t max_prefill_tokens = 8192;  // padded prompt tokens admitted in one step (rows * T);
                                           // bounds the latency a prefill adds to decoding
  std::int64_t prefix_cache_slots = 0;     // extra cache slots that keep finished sequences' keys
                                           // and values; a new prompt sharing a prefix with one
                                           // copies those positions instead of recomputing them
                                           // (0 = off). Results are unchanged by it.
  void validate() const;
};

using RequestId = std::uint64_t;
// The bytes one token adds in the middle of a text (Tokenizer::token_bytes).
using TokenBytesFn = std::function<std::string(std::int32_t)>;

enum class FinishReason { stop, length, cancelled };  // stop: EOS, stop id or stop string
const char* to_string(FinishReason r);

struct TokenEvent {
  RequestId id = 0;
  std::int32_t token = 0;
  float logprob = 0.0f;                             // when SamplingOptions::logprobs, else 0
  std::vector<std::pair<std::int32_t, float>> top;  // SamplingOptions::top_logprobs most likely
                                                    // (id, log-prob), most likely first
  std::string text;  // newly safe-to-show text (may be empty while a stop string is
                     // possible or a UTF-8 character is incomplete); needs a tokenizer
};

struct GenerationResult {
  RequestId id = 0;
  std::vector<std::int32_t> tokens;  // generated ids (EOS / stop id included when hit)
  std::vector<float> logprobs;       // per token, when SamplingOptions::logprobs
  std::vector<std::vector<std::pair<std::int32_t, float>>> top_logprobs;  // per token, when
                                                                          // top_logprobs > 0
  std::string text;  // completion text, cut before a stop string
  FinishReason finish = FinishReason::length;
  std::string stop_matched;  // the stop string found, if any
  std::int64_t prompt_tokens = 0;
};

struct GenerationRequest {
  std::vector<std::int32_t> prompt;  // token ids, at least one
  SamplingOptions sampling;
  std::optional<std::uint64_t> stream;              // random stream id; default: the request id
  std::function<void(const TokenEvent&)> on_token;  // optional, per generated token
  std::function<void(const GenerationResult&)> on_finish;  // optional, once
};

struct EngineStats {
  std::int64_t prefill_tokens = 0;  // prompt tokens computed (not copied from the prefix cache)
  double prefill_seconds = 0.0;     // forward passes + sampling of first tokens
  std::int64_t decode_tokens = 0;   // tokens produced by decode steps
  double decode_seconds = 0.0;
  std::int64_t decode_steps = 0;
  std::int64_t prefix_reused_tokens = 0;  // prompt positions copied from the prefix cache
};

class Engine {
 public:
  // `tokenizer` may be null (no text); EOS ids come from the tokenizer's stop_ids() and the
  // model config's eos_token_ids. The model (and tokenizer) must outlive the engine.
  Engine(LlamaModel& model, EngineOptions opts, const Tokenizer* tokenizer = nullptr);
  // The general form: any StepModel; `token_bytes` gives a token's text bytes (empty function:
  // no text, no stop strings); `eos_ids` end generation unless ignore_eos.
  Engine(std::unique_ptr<StepModel> model, EngineOptions opts, TokenBytesFn token_bytes,
         std::vector<std::int32_t> eos_ids);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request (validated here; throws cai::Error). Thread-safe.
  RequestId submit(GenerationRequest request);
  // Finishes the request with FinishReason::cancelled at the next step. Thread-safe.
  void cancel(RequestId id);
  // One scheduling iteration: admit + prefill waiting requests, then one decode step.
  // Returns false when there was nothing to do.
  bool step();
  bool idle() const;
  // Submits all, runs to completion, returns results in request order.
  std::vector<GenerationResult> generate(std::vector<GenerationRequest> requests);

  const EngineStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }
  const EngineOptions& options() const { return opts_; }

 private:
  struct Seq;
  void admit();
  void decode();
  void sample_rows(const torch::Tensor& logits, const std::vector<Seq*>& seqs);
  void on_sampled(Seq& s, std::int32_t token, float logprob,
                  std::vector<std::pair<std::int32_t, float>> top);
  void retire_finished();
  void finish(Seq& s);
  // Prefix cache: keeps the cached positions of a sequence leaving `slot`, and finds how many
  // leading prompt positions a new sequence can copy from a kept one instead of computing.
  struct Retained {
    std::vector<std::int32_t> tokens;  // the token at each position held in `slot`
    std::int64_t slot = 0;
    std::uint64_t last_use = 0;  // for least-recently-used eviction
  };
  void retain(const Seq& s, std::int64_t slot);
  const Retained* longest_prefix(const std::vector<std::int32_t>& prompt, std::int64_t& len);

  std::unique_ptr<StepModel> model_;
  EngineOptions opts_;
  TokenBytesFn token_bytes_;
  std::unordered_set<std::int32_t> eos_;
  std::vector<std::unique_ptr<Seq>> live_;  // live_[i] occupies cache slot i
  std::deque<std::unique_ptr<Seq>> waiting_;
  mutable std::mutex mu_;  // guards submitted_, cancelled_, next_id_
  std::deque<std::unique_ptr<Seq>> submitted_;
  std::unordered_set<RequestId> cancelled_;
  RequestId next_id_ = 0;
  std::atomic<std::int64_t> pending_ = 0;  // submitted and not yet finished
  EngineStats stats_;
  std::vector<Retained> retained_;  // slots max_batch .. max_batch + cache slots - 1
  std::int64_t cache_slots_ = 0;
  std::uint64_t use_clock_ = 0;
};

}  // namespace cai
