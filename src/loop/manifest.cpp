// The run manifest (see include/cai/loop/manifest.h).
#include "cai/loop/manifest.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/io/sha256.h"

namespace cai::loop {
namespace {

namespace fs = std::filesystem;

// The project version (CMakeLists.txt's project() and `cai --version`).
constexpr const char* kCaiVersion = CAI_VERSION;

void add_file(std::vector<InputFile>& inputs, const std::string& role, const fs::path& p) {
  if (p.empty() || !fs::is_regular_file(p)) return;
  inputs.push_back({role, fs::absolute(p).lexically_normal().string(), sha256_file(p)});
}

// Every regular file under `dir` (sorted, so the manifest is stable), by role prefix/relative.
void add_tree(std::vector<InputFile>& inputs, const std::string& prefix, const fs::path& dir) {
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

// The part of a role before its first '/': the input it belongs to ("base_model").
std::string input_of(const std::string& role) { return role.substr(0, role.find('/')); }

}  // namespace

std::vector<InputFile> input_files(const LoopConfig& c) {
  std::vector<InputFile> in;
  add_tree(in, "base_model", c.base_model);
  // Models named by path that judge or anchor a run: one replaced under the same path between a
  // kill and the resume would mix two runs' labels or losses. (policy and base are keywords.)
  auto model = [&](const char* role, const std::string& v, bool used) {
    if (used && v != "policy" && v != "base") add_tree(in, role, v);
  };
  model("quality.judge", c.quality.judge, true);
  model("label.judge", c.label.judge, true);
  model("rl.judge", c.rl.judge, c.rl.enabled && c.rl.reward == RlReward::judge);
  model("dpo.reference", c.dpo.reference, c.dpo.enabled);
  model("sft.ref_model", c.sft.ref_model, c.sft.enabled && c.sft.token_constraint.enabled);
  add_file(in, "eval.heldout", c.eval.heldout);
  add_file(in, "constitution", c.constitution);
  add_file(in, "prompts.train", c.prompts.train);
  add_file(in, "prompts.eval", c.prompts.eval);
  if (c.sft.enabled && c.sft.corpus_mix > 0) add_file(in, "sft.corpus", c.sft.corpus);
  if (!c.world.empty()) add_tree(in, "world", c.world);
  for (std::size_t i = 0; i < c.eval.tasks_files.size(); ++i)
    add_file(in, fmt::format("eval.tasks_files[{}]", i), c.eval.tasks_files[i]);
  // By role, as the file lists them.
  std::sort(in.begin(), in.end(), [](const auto& a, const auto& b) { return a.role < b.role; });
  return in;
}

nlohmann::json ManifestFile::to_json() const {
  nlohmann::json in = nlohmann::json::object();
  for (const auto& f : inputs) in[f.role] = {{"path", f.path}, {"sha256", f.sha256}};
  return {{"name", name},       {"cai_version", cai_version},
          {"created", created}, {"config", config},
          {"seed", seed},       {"inputs", in},
          {"resumed", resumed}};
}

ManifestFile ManifestFile::from_json(const nlohmann::json& j, const std::string& where) {
  namespace jf = json_field;
  ManifestFile m;
  m.name = jf::text_or(j, "name", where);
  m.cai_version = jf::text_or(j, "cai_version", where);
  m.created = jf::text_or(j, "created", where);
  m.config = j.contains("config") ? j["config"] : nlohmann::json::object();
  if (j.contains("seed")) m.seed = jf::whole(j, "seed", where);
  if (j.contains("inputs")) {
    const auto& in = j["inputs"];
    jf::object(in, where + ": inputs");
    for (const auto& [role, f] : in.items()) {
      const std::string at = where + ": inputs." + role;
      m.inputs.push_back({role, jf::text(f, "path", at), jf::text(f, "sha256", at)});
    }
  }
  if (j.contains("resumed")) {
    CAI_CHECK(j["resumed"].is_array(), "{}: field resumed: an array of times is required", where);
    for (const auto& t : j["resumed"]) {
      CAI_CHECK(t.is_string(), "{}: field resumed: an array of times is required", where);
      m.resumed.push_back(t.get<std::string>());
    }
  }
  return m;
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

// Keys that a later cai added to the configuration, holding their defaults, set what the run
// did before they existed: they are copied into the manifest's configuration, so that a run
// started by an older cai resumes. A new key set to anything else is a change like any other.
void adopt_added_defaults(nlohmann::json& old_config, const nlohmann::json& config) {
  const LoopConfig fresh;
  const nlohmann::json defaults = fresh.to_json();
  for (const auto& op : nlohmann::json::diff(old_config, config)) {
    if (op.value("op", "") != "add") continue;
    const nlohmann::json::json_pointer at(op.value("path", ""));
    if (defaults.contains(at) && defaults[at] == op["value"]) old_config[at] = op["value"];
  }
}

}  // namespace

ManifestFile write_manifest(const LoopConfig& c) {
  const fs::path path = fs::path(c.out) / "manifest.json";
  fs::create_directories(c.out);
  const nlohmann::json config = c.to_json();
  const std::vector<InputFile> inputs = input_files(c);
  ManifestFile m;
  if (fs::exists(path)) {
    try {
      m = read_json_as<ManifestFile>(path);
    } catch (const Error& e) {
      throw_error("{}; remove the run directory to start over", e.what());
    }
    // Rounds may be raised to continue a finished run; anything else means another run.
    nlohmann::json old_config = m.config;
    old_config["rounds"] = config["rounds"];
    adopt_added_defaults(old_config, config);
    if (old_config != config) {
      const auto diff = nlohmann::json::diff(old_config, config);
      throw_error(
          "{}: this run was made with another configuration (changed: {}); use another `out` "
          "or remove the run directory",
          path.string(), diff.empty() ? "?" : diff[0].value("path", "?"));
    }
    // An input a manifest of an earlier version did not record is recorded now.
    std::set<std::string> recorded;
    for (const auto& x : m.inputs) recorded.insert(input_of(x.role));
    const std::size_t old_inputs = m.inputs.size();
    for (const auto& f : inputs) {
      const auto end = m.inputs.begin() + static_cast<std::ptrdiff_t>(old_inputs);
      const auto o =
          std::find_if(m.inputs.begin(), end, [&](const InputFile& x) { return x.role == f.role; });
      if (o == end && !recorded.contains(input_of(f.role))) {
        m.inputs.push_back(f);
        continue;
      }
      CAI_CHECK(o != end && o->sha256 == f.sha256,
                "{}: input {} ({}) changed since the run started; use another `out` or remove the "
                "run directory",
                path.string(), f.role, f.path);
    }
    m.config = config;
    m.resumed.push_back(iso_now());
  } else {
    m.name = c.name;
    m.cai_version = kCaiVersion;
    m.created = iso_now();
    m.config = config;
    m.seed = c.seed;
    m.inputs = inputs;
  }
  write_json(path, m.to_json());
  return m;
}

}  // namespace cai::loop
