// What Phase 1 (critique -> revision) and Phase 2 (AI feedback) share: reading prompts, the
// prompt format, the per-request random streams, and resumable JSONL output.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cai/backend/backend.h"
#include "cai/io/jsonl.h"
#include "cai/io/options.h"

namespace cai::pipeline {

// "transcript": raw text in the CAI paper's Human:/Assistant: shapes (constitution/transcript.h),
// for base models and the demo world. "chat": message lists the backend renders with a chat
// template (instruction-tuned models, like the Hugging Face recipe).
enum class PromptFormat { transcript, chat };
constexpr std::array<opt::EnumName<PromptFormat>, 2> enum_names(PromptFormat) {
  return {{{PromptFormat::transcript, "transcript"}, {PromptFormat::chat, "chat"}}};
}
inline const char* to_string(PromptFormat f) { return opt::name_of(f).data(); }

struct PromptRecord {
  std::string id;  // the input's "id" when given, else ""
  std::string prompt;
  std::string where;  // "file:line", for errors
};

// Prompts from a JSONL file ({"prompt"} or {"id", "prompt"} per line) or a text file with
// one prompt per line (chosen by the first non-blank character: '{' means JSONL). Errors name
// the file and line.
std::vector<PromptRecord> read_prompts(const std::filesystem::path& path);

// Request stream ids: each (prompt index, round, stage) has its own random stream, so a
// result never depends on batching, chunking or resumption.
enum class Stage : std::uint64_t {
  response = 1,
  principle = 2,
  critique = 3,
  revision = 4,
  judge_principle = 5,
  judge_cot = 6,
  sample = 7,
  recovery = 8
};
std::uint64_t stream_id(std::uint64_t index, std::uint64_t round, Stage stage);
// A uniform draw in [0, 1) fixed by (seed, stream).
double uniform_draw(std::uint64_t seed, std::uint64_t stream);
// Index drawn with probability proportional to weights[i] for a uniform u in [0, 1).
std::size_t pick_weighted(const std::vector<double>& weights, double u);

// GenParams with the given length and temperature (other fields default).
inline GenParams gen_params(std::int64_t max_tokens, double temperature) {
  GenParams p;
  p.max_tokens = max_tokens;
  p.temperature = temperature;
  return p;
}

// An output JSONL file that a rerun of the same command continues: a sidecar
// "<output>.settings.json" holds the settings (and their hash); a rerun recovers a torn last
// line (recover_jsonl), counts the finished records, and refuses different settings.
class ResumableOutput {
 public:
  ResumableOutput(const std::filesystem::path& path, const nlohmann::json& settings);
  std::size_t done() const { return done_; }            // complete records already in the file
  const nlohmann::json& last() const { return last_; }  // the last complete record, or null
  void write(const nlohmann::json& record);             // durable append
 private:
  std::filesystem::path path_;
  std::size_t done_ = 0;
  nlohmann::json last_;
  std::unique_ptr<JsonlWriter> writer_;
};

// Hex hash of a JSON value's compact dump (settings fingerprints).
std::string json_hash(const nlohmann::json& j);

}  // namespace cai::pipeline
