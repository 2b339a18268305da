// Loading the run directory: manifest, summary and each round's files, all optional.
#include "run_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/report/html.h"

namespace cai::report {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// "round-12" -> 12; -1 for anything else.
int round_number(const std::string& name) {
  if (name.rfind("round-", 0) != 0 || name.size() == 6) return -1;
  int k = -1;
  const char* b = name.data() + 6;
  const char* e = name.data() + name.size();
  auto [p, ec] = std::from_chars(b, e, k);
  return ec == std::errc() && p == e && k >= 0 ? k : -1;
}

// Reads the lines of a JSONL file, dropping a torn last line (no newline, not valid JSON: a
// killed writer's), and hands each to `check` with its line number before keeping it.
JsonLines read_lines(const fs::path& path,
                     const std::function<void(const Json&, std::size_t)>& check) {
  std::string text = read_file(path);
  if (!text.empty() && text.back() != '\n') {
    const std::size_t nl = text.rfind('\n');
    const std::size_t start = nl == std::string::npos ? 0 : nl + 1;
    if (!Json::accept(std::string_view(text).substr(start))) text.resize(start);
  }
  JsonLines lines;
  std::istringstream in(text);
  for_each_jsonl(in, path.string(), [&](const Json& j, std::size_t line) {
    check(j, line);
    lines.push_back(j);
  });
  return lines;
}

// A file read by its owner's reader, or nullopt when it does not exist.
template <typename Read>
auto read_optional(const fs::path& path, Read read) -> std::optional<decltype(read(path))> {
  if (!fs::exists(path)) return std::nullopt;
  return read(path);
}

// A JSONL file's lines, each parsed by its owner's `parse(line, "<file>:<n>")`.
template <typename Parse>
auto read_typed_lines(const fs::path& path, Parse parse)
    -> std::optional<std::vector<decltype(parse(Json(), std::string()))>> {
  std::vector<decltype(parse(Json(), std::string()))> out;
  if (!fs::exists(path)) return std::nullopt;
  read_lines(path, [&](const Json& j, std::size_t line) {
    out.push_back(parse(j, fmt::format("{}:{}", path.string(), line)));
  });
  return out;
}

}  // namespace

std::optional<JsonLines> read_metrics_file(const fs::path& path) {
  if (!fs::exists(path)) return std::nullopt;
  return read_lines(path, [&](const Json& j, std::size_t line) {
    CAI_CHECK(j.is_object() && j.contains("step") && j["step"].is_number(),
              "{}:{}: a metrics line needs a numeric \"step\"", path.string(), line);
  });
}

std::string RoundData::label() const {
  return round == 0 ? "round 0 (base)" : fmt::format("round {}", round);
}

int RunData::best_round() const {
  if (summary) return static_cast<int>(summary->best_round);
  int best = -1;
  double q = -std::numeric_limits<double>::infinity();
  for (const auto& r : rounds)
    if (r.round > 0 && r.quality && r.quality->quality >= q) q = r.quality->quality, best = r.round;
  return best;
}

const RoundData* RunData::round(int k) const {
  for (const auto& r : rounds)
    if (r.round == k) return &r;
  return nullptr;
}

RunData load_run(const fs::path& dir) {
  CAI_CHECK(fs::is_directory(dir), "report: run directory {} does not exist", dir.string());
  RunData run;
  run.dir = dir;
  run.manifest = read_optional(dir / "manifest.json", read_json_as<loop::ManifestFile>);
  run.summary = read_optional(dir / "summary.json", read_json_as<loop::SummaryFile>);
  run.probe = read_optional(dir / "probe" / "probe.json", read_json_as<eval::ProbeFile>);
  run.probe_before_deepen =
      read_optional(dir / "probe" / "before-deepen" / "probe.json", read_json_as<eval::ProbeFile>);
  for (const auto& entry : fs::directory_iterator(dir)) {
    const int k = round_number(entry.path().filename().string());
    if (k < 0 || !entry.is_directory()) continue;
    RoundData r;
    r.round = k;
    r.dir = entry.path();
    r.eval = read_optional(r.dir / "eval.json", read_json_as<eval::EvalFile>);
    r.quality = read_optional(r.dir / "quality.json", read_json_as<loop::QualityFile>);
    r.info = read_optional(r.dir / "round.json", read_json_as<loop::RoundFile>);
    r.critique_revise =
        read_typed_lines(r.dir / "critique_revise.jsonl", pipeline::parse_phase1_line);
    r.labels = read_typed_lines(r.dir / "labels.jsonl", pipeline::parse_label_line);
    r.sft_metrics = read_metrics_file(r.dir / "sft" / "metrics.jsonl");
    r.dpo_metrics = read_metrics_file(r.dir / "dpo" / "metrics.jsonl");
    r.rm_metrics = read_metrics_file(r.dir / "rm" / "metrics.jsonl");
    r.rl_metrics = read_metrics_file(r.dir / "rl" / "metrics.jsonl");
    r.deepen_metrics = read_metrics_file(r.dir / "deepen" / "metrics.jsonl");
    run.rounds.push_back(std::move(r));
  }
  std::sort(run.rounds.begin(), run.rounds.end(),
            [](const auto& a, const auto& b) { return a.round < b.round; });
  CAI_CHECK(run.manifest || run.summary || !run.rounds.empty(),
            "report: {} is not a loop run directory (no manifest.json, summary.json or round-K/)",
            dir.string());
  return run;
}

namespace {
// The value at a path of object keys; nullptr when any step is missing or not an object.
const Json* find_path(const Json& j, std::initializer_list<const char*> path) {
  const Json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}
}  // namespace

double num_at(const Json& j, std::initializer_list<const char*> path) {
  const Json* v = find_path(j, path);
  return v && v->is_number() ? v->get<double>() : kNaN;
}

std::string str_at(const Json& j, const char* key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string rate_cell(const CountedRate* rate) {
  if (!rate || !rate->known()) return "n/a";
  return fmt::format("{} ({}/{})", percent_with_ci(*rate), rate->pass, rate->total);
}

double rate_of(const CountedRate* rate) {
  // Rates of nothing (no applicable prompt) are missing, not 0%.
  return rate && rate->known() ? rate->rate() : kNaN;
}

}  // namespace cai::report
