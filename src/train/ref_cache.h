// The file format both reference caches share: DPO's sequence log-probabilities (ref_logps.cpp)
// and the token-wise constraint's token log-probabilities (token_ref_logps.cpp). One JSON object
// {"format", "version", "examples_sha256" (a hash of every token the reference read), "count",
// ...values}, written atomically. A file that is missing, corrupt, of another format or
// version, or made for other examples is never trusted: the values are recomputed.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace cai::train::detail {

struct CacheTag {
  const char* format;
  int version;
};

// True when `file` is a cache of `tag` for the examples of `examples_sha256` and `parse` took
// its values (returning true); a parse that throws or returns false means a corrupt file.
bool read_ref_cache(const std::filesystem::path& file, const CacheTag& tag,
                    const std::string& examples_sha256,
                    const std::function<bool(const nlohmann::json&)>& parse);

// Writes `values` (an object of the value fields) with the header fields.
void write_ref_cache(const std::filesystem::path& file, const CacheTag& tag,
                     const std::string& examples_sha256, std::size_t count,
                     const nlohmann::json& values);

}  // namespace cai::train::detail
