// The flags every generating or judging command shares to choose its backend: a local model
// (--model PATH, with --max-batch, --threads, --chat-template, ...) or OpenAI-compatible servers
// (--api-base URL..., --api-model, --api-key-env, --concurrency, --timeout, --max-retries, ...),
// bound from BackendOptions' declaration; make_backend() validates them and builds the backend.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "cai/backend/factory.h"

namespace cai::cli {

// Adds the flags to `cmd`, writing into `opts` (which must outlive the parse). `prefix`
// names a second backend on the same command: prefix "judge" gives --judge-model,
// --judge-api-base, ...
void add_backend_flags(CLI::App* cmd, BackendOptions& opts, const std::string& prefix = "");

// Whether a backend was named (a local model or a server).
inline bool backend_given(const BackendOptions& b) { return !b.model.empty() || b.http.given(); }

}  // namespace cai::cli
