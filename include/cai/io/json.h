// One way to read a JSON document, so every reader reports every failure the same way: a syntax
// error, and also a number too large for a double (nlohmann's out_of_range, which a reader that
// caught only parse_error let escape), become cai::Error naming the source and, for a syntax
// error, the line: "<source>:<line>: invalid JSON: ...".
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace cai {

nlohmann::json parse_json(std::string_view text, const std::string& source);
nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& source);
// read_file(path), then parse_json with the path as the source.
nlohmann::json read_json(const std::filesystem::path& path);

}  // namespace cai
