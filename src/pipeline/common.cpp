#include "cai/pipeline/common.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/io/sha256.h"

namespace cai::pipeline {

std::vector<PromptRecord> read_prompts(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  const auto first = text.find_first_not_of(" \t\r\n");
  std::vector<PromptRecord> out;
  if (first != std::string::npos && text[first] == '{') {
    std::istringstream in(text);
    for_each_jsonl(in, path.string(), [&](const nlohmann::json& j, std::size_t line) {
      const std::string where = fmt::format("{}:{}", path.string(), line);
      CAI_CHECK(j.is_object(), "{}: expected a JSON object", where);
      CAI_CHECK(j.contains("prompt") && j["prompt"].is_string(),
                "{}: field \"prompt\" (a string) is missing", where);
      PromptRecord r;
      r.prompt = j["prompt"].get<std::string>();
      CAI_CHECK(!r.prompt.empty(), "{}: field \"prompt\" is empty", where);
      if (j.contains("id")) {
        const auto& id = j["id"];
        CAI_CHECK(id.is_string() || id.is_number_integer(),
                  "{}: field \"id\" must be a string or an integer", where);
        r.id = id.is_string() ? id.get<std::string>() : id.dump();
      }
      r.where = where;
      out.push_back(std::move(r));
    });
  } else {
    std::istringstream in(text);
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      out.push_back({"", line, fmt::format("{}:{}", path.string(), n)});
    }
  }
  CAI_CHECK(!out.empty(), "{}: no prompts", path.string());
  return out;
}

namespace {
std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

std::uint64_t stream_id(std::uint64_t index, std::uint64_t round, Stage stage) {
  return mix(mix(mix(index) ^ (round + 0x51ed270b27d2e1c5ULL)) ^ static_cast<std::uint64_t>(stage));
}

double uniform_draw(std::uint64_t seed, std::uint64_t stream) {
  return static_cast<double>(mix(mix(seed) ^ stream) >> 11) * 0x1.0p-53;
}

std::size_t pick_weighted(const std::vector<double>& weights, double u) {
  CAI_CHECK(!weights.empty(), "pick_weighted: no weights");
  double total = 0.0;
  for (double w : weights) total += w;
  double x = u * total;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    x -= weights[i];
    if (x < 0.0) return i;
  }
  return weights.size() - 1;
}

std::string json_hash(const nlohmann::json& j) { return sha256_hex(j.dump()).substr(0, 16); }

ResumableOutput::ResumableOutput(const std::filesystem::path& path, const nlohmann::json& settings)
    : path_(path) {
  namespace fs = std::filesystem;
  fs::path side = path;
  side += ".settings.json";
  const std::string hash = json_hash(settings);
  const bool have_out = fs::exists(path) && fs::file_size(path) > 0;
  if (fs::exists(side)) {
    nlohmann::json old;
    try {
      old = nlohmann::json::parse(read_file(side));
    } catch (const nlohmann::json::exception& e) {
      throw_error("{}: {}", side.string(), e.what());
    }
    CAI_CHECK(old.value("settings_hash", "") == hash,
              "{}: was made with different settings (hash {}, now {}); use another output "
              "file or delete it and {} to start over.\n  before: {}\n  now:    {}",
              path.string(), old.value("settings_hash", ""), hash, side.string(),
              old.value("settings", nlohmann::json()).dump(), settings.dump());
  } else {
    CAI_CHECK(!have_out,
              "{}: exists without its settings file {}; refusing to append to it (delete it "
              "or choose another output)",
              path.string(), side.string());
    if (path.has_parent_path()) fs::create_directories(path.parent_path());
    write_json(side, nlohmann::json{{"settings_hash", hash}, {"settings", settings}});
  }
  remove_stale_temporaries(path.has_parent_path() ? path.parent_path() : fs::path("."),
                           /*recursive=*/false);
  done_ = recover_jsonl(path);
  if (done_ > 0) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::int64_t>(in.tellg());
    // The last line: read backwards in growing windows until a newline precedes it.
    std::string tail;
    for (std::int64_t w = 4096;; w *= 4) {
      const auto from = std::max<std::int64_t>(0, size - w);
      in.seekg(from);
      tail.assign(static_cast<std::size_t>(size - from), '\0');
      in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
      const auto nl = tail.find_last_of('\n', tail.size() >= 2 ? tail.size() - 2 : 0);
      if (nl != std::string::npos && !(from == 0 && tail.size() < 2)) {
        tail = tail.substr(nl + 1);
        break;
      }
      if (from == 0) break;
    }
    try {
      last_ = nlohmann::json::parse(tail);
    } catch (const nlohmann::json::exception& e) {
      throw_error("{}:{}: {}", path.string(), done_, e.what());
    }
  }
  writer_ = std::make_unique<JsonlWriter>(path, /*append=*/true);
}

void ResumableOutput::write(const nlohmann::json& record) {
  writer_->write(record);
  last_ = record;
  ++done_;
}

}  // namespace cai::pipeline
