// The run manifest (see include/cai/loop/manifest.h).
#include "cai/loop/manifest.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/sha256.h"

namespace cai::loop {
namespace {

namespace fs = std::filesystem;

// The project version (CMakeLists.txt's project() and `cai --version`).
constexpr const char* kCaiVersion = CAI_VERSION;

void add_file(nlohmann::json& inputs, const std::string& role, const fs::path& p) {
  if (p.empty() || !fs::is_regular_file(p)) return;
  inputs[role] = {{"path", fs::absolute(p).lexically_normal().string()},
                  {"sha256", sha256_file(p)}};
}

// Every regular file under `dir` (sorted, so the manifest is stable), by role prefix/relative.
void add_tree(nlohmann::json& inputs, const std::string& prefix, const fs::path& dir) {
  if (dir.empty()) return;
  if (fs::is_regular_file(dir)) return add_file(inputs, prefix, dir);
  if (!fs::is_directory(dir)) return;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    add_file(inputs, prefix + "/" + fs::relative(f, dir).generic_string(), f);
}

}  // namespace

nlohmann::json input_files(const LoopConfig& c) {
  nlohmann::json in = nlohmann::json::object();
  add_tree(in, "base_model", c.base_model);
  add_file(in, "constitution", c.constitution);
  add_file(in, "prompts.train", c.prompts.train);
  add_file(in, "prompts.eval", c.prompts.eval);
  if (c.sft.enabled && c.sft.corpus_mix > 0) add_file(in, "sft.corpus", c.sft.corpus);
  if (!c.world.empty()) add_tree(in, "world", c.world);
  for (std::size_t i = 0; i < c.eval.tasks_files.size(); ++i)
    add_file(in, fmt::format("eval.tasks_files[{}]", i), c.eval.tasks_files[i]);
  return in;
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json write_manifest(const LoopConfig& c) {
  const fs::path path = fs::path(c.out) / "manifest.json";
  fs::create_directories(c.out);
  nlohmann::json config = c.to_json();
  const nlohmann::json inputs = input_files(c);
  nlohmann::json m;
  if (fs::exists(path)) {
    try {
      m = nlohmann::json::parse(read_file(path));
    } catch (const nlohmann::json::exception& e) {
      throw_error("{}: not valid JSON ({}); remove the run directory to start over", path.string(),
                  e.what());
    }
    // Rounds may be raised to continue a finished run; anything else means another run.
    nlohmann::json old_config = m.value("config", nlohmann::json::object());
    old_config["rounds"] = config["rounds"];
    if (old_config != config) {
      const auto diff = nlohmann::json::diff(old_config, config);
      throw_error(
          "{}: this run was made with another configuration (changed: {}); use another `out` "
          "or remove the run directory",
          path.string(), diff.empty() ? "?" : diff[0].value("path", "?"));
    }
    const nlohmann::json old_inputs = m.value("inputs", nlohmann::json::object());
    for (auto it = inputs.begin(); it != inputs.end(); ++it) {
      const auto o = old_inputs.find(it.key());
      CAI_CHECK(o != old_inputs.end() && (*o)["sha256"] == it.value()["sha256"],
                "{}: input {} ({}) changed since the run started; use another `out` or remove the "
                "run directory",
                path.string(), it.key(), it.value()["path"].get<std::string>());
    }
    m["config"] = config;
    m["resumed"].push_back(iso_now());
  } else {
    m = {{"name", c.name},
         {"cai_version", kCaiVersion},
         {"created", iso_now()},
         {"config", config},
         {"seed", c.seed},
         {"inputs", inputs},
         {"resumed", nlohmann::json::array()}};
  }
  write_file_atomic(path, m.dump(2) + "\n");
  return m;
}

}  // namespace cai::loop
