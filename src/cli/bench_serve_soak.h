// The long-running checks of `cai bench serve` against a server running in this process:
//
// - half-open: N connections each send the start of a request's headers and stop; while they
//   hang, fresh clients time GET /health and GET /v1/models (the server must answer at once).
// - soak: C concurrent clients stream greedy completions for a fixed time, a share of them
//   disconnecting mid-stream on purpose. Every completed stream is checked against the
//   in-process answer for its prompt; a failed or wrong one counts as lost or wrong (both must
//   be 0). Resident memory (VmRSS) is sampled every second; tokens/s counts completed streams.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cai {
struct LoadedModel;
}

namespace cai::cli::bench_serve {

struct HalfOpenOptions {
  std::int64_t connections = 300;
  std::int64_t probes = 20;  // requests timed per endpoint
};

// Prints the latency figures; throws cai::Error when a probe fails.
void run_half_open(int port, const HalfOpenOptions& o);

struct SoakOptions {
  double seconds = 60.0;
  std::int64_t clients = 200;
  double drop_share = 0.25;      // share of requests whose client leaves mid-stream
  std::int64_t prompts = 16;     // distinct prompts, each with its in-process answer
  std::int64_t prompt_len = 32;  // random token ids per prompt
  std::int64_t gen = 64;         // tokens per completion (EOS ignored)
  std::int64_t max_batch = 32;   // the in-process reference's batch
  std::uint64_t seed = 0;
};

// Runs the soak against the server on `port` serving `lm` as `model_name`; prints the report
// and throws cai::Error when a response was lost or wrong.
void run_soak(int port, const std::string& model_name, LoadedModel& lm, const SoakOptions& o);

// Resident memory of this process in bytes (VmRSS), 0 when unknown.
std::int64_t resident_bytes();

}  // namespace cai::cli::bench_serve
