// The run manifest (runs/NAME/manifest.json): what produced a run, so its results can be
// traced and a rerun can tell it continues the same run.
//
//   {"name", "cai_version", "created": ISO time of the first start, "config": the resolved
//    config, "seed", "inputs": {"<role>": {"path", "sha256"}} for every input file (base
//    model files, constitution, prompt files, corpus, world files), "resumed": [ISO times of
//    later starts]}
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cai/loop/config.h"

namespace cai::loop {

// One input file of the run: its role ("base_model/config.json", "constitution",
// "prompts.train", "world/knowledge.jsonl", ...), absolute path and SHA-256.
struct InputFile {
  std::string role, path, sha256;
};

// manifest.json, written and read only here.
struct ManifestFile {
  std::string name, cai_version, created;
  nlohmann::json config;  // the resolved config (LoopConfig::to_json)
  std::uint64_t seed = 0;
  std::vector<InputFile> inputs;     // by role, sorted
  std::vector<std::string> resumed;  // ISO times of later starts

  nlohmann::json to_json() const;
  static ManifestFile from_json(const nlohmann::json& j, const std::string& where);
};

// Every input file of the run, by role.
std::vector<InputFile> input_files(const LoopConfig& config);

// The current UTC time as "2026-01-31T12:34:56Z".
std::string iso_now();

// Writes out/manifest.json on the first start; on a later start appends the time to
// "resumed". A run directory whose manifest records different inputs or a different config
// (other than rounds, which may be raised to continue) is refused with cai::Error naming what
// changed, so a rerun never mixes two runs' artifacts. Keys the manifest lacks because a later
// cai added them are no change while they hold their defaults. Returns the manifest written.
ManifestFile write_manifest(const LoopConfig& config);

}  // namespace cai::loop
