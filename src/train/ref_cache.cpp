// Reading and writing the reference caches (see ref_cache.h).
#include "ref_cache.h"

#include "cai/io/error.h"
#include "cai/io/file.h"

namespace cai::train::detail {

bool read_ref_cache(const std::filesystem::path& file, const CacheTag& tag,
                    const std::string& examples_sha256,
                    const std::function<bool(const nlohmann::json&)>& parse) {
  if (!std::filesystem::exists(file)) return false;
  try {
    const auto j = nlohmann::json::parse(read_file(file));
    if (j.value("format", "") != tag.format || j.value("version", 0) != tag.version) return false;
    if (j.value("examples_sha256", "") != examples_sha256) return false;
    return parse(j);
  } catch (const nlohmann::json::exception&) {
    return false;  // corrupt: recomputed, never trusted
  } catch (const Error&) {
    return false;
  }
}

void write_ref_cache(const std::filesystem::path& file, const CacheTag& tag,
                     const std::string& examples_sha256, std::size_t count,
                     const nlohmann::json& values) {
  nlohmann::json j = values;
  j["format"] = tag.format;
  j["version"] = tag.version;
  j["examples_sha256"] = examples_sha256;
  j["count"] = count;
  write_file_atomic(file, j.dump() + "\n");
}

}  // namespace cai::train::detail
