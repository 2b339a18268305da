// The run manifest (runs/NAME/manifest.json): what produced a run, so its results can be
// traced and a rerun can tell it continues the same run.
//
//   {"name", "cai_version", "created": ISO time of the first start, "config": the resolved
//    config, "seed", "inputs": {"<role>": {"path", "sha256"}} for every input file (base
//    model files, constitution, prompt files, corpus, world files), "resumed": [ISO times of
//    later starts]}
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "cai/loop/config.h"

namespace cai::loop {

// Every input file of the run by role ("base_model/config.json", "constitution",
// "prompts.train", "world/knowledge.jsonl", ...) with its path and SHA-256.
nlohmann::json input_files(const LoopConfig& config);

// The current UTC time as "2026-01-31T12:34:56Z".
std::string iso_now();

// Writes out/manifest.json on the first start; on a later start appends the time to
// "resumed". A run directory whose manifest records different inputs or a different config
// (other than rounds, which may be raised to continue) is refused with cai::Error naming what
// changed, so a rerun never mixes two runs' artifacts. Returns the manifest written.
nlohmann::json write_manifest(const LoopConfig& config);

}  // namespace cai::loop
