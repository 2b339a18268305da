// What the in-process backend adds to the Backend interface: its engine's counters (prefill,
// decode and prefix-cache reuse), for benchmarks and tests. make_local_backend is declared in
// factory.h.
#pragma once

#include "cai/backend/backend.h"

namespace cai {

struct EngineStats;

// The engine counters of a backend made by make_local_backend; nullptr for any other backend.
const EngineStats* local_engine_stats(const Backend& backend);

}  // namespace cai
