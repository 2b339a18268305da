// The flags every generating or judging command shares to choose its backend: a local model
// (--model PATH, with --max-batch, --threads, --chat-template) or OpenAI-compatible servers
// (--api-base URL..., --api-model, --api-key-env, --concurrency, --timeout, --max-retries).
// They fill BackendOptions; make_backend() validates them and builds the backend.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "cai/backend/factory.h"

namespace cai::cli {

// Adds the flags to `cmd`, writing into `opts` (which must outlive the parse). `prefix`
// names a second backend on the same command: prefix "judge" gives --judge-model,
// --judge-api-base, ... When `model_positional` is true the local model may also be given as
// the command's first positional argument MODEL.
void add_backend_flags(CLI::App* cmd, BackendOptions& opts, const std::string& prefix = "",
                       bool model_positional = false);

// Splits comma-separated --api-base values ("http://a/v1,http://b/v1") in place; call in the
// command's callback before make_backend().
void finish_backend_flags(BackendOptions& opts);

}  // namespace cai::cli
