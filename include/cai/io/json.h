// One way to read a JSON document, so every reader reports every failure the same way: a syntax
// error, and also a number too large for a double (nlohmann's out_of_range, which a reader that
// caught only parse_error let escape), become cai::Error naming the source and, for a syntax
// error, the line: "<source>:<line>: invalid JSON: ...".
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace cai {

nlohmann::json parse_json(std::string_view text, const std::string& source);
nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& source);
// read_file(path), then parse_json with the path as the source.
nlohmann::json read_json(const std::filesystem::path& path);

// A file of one of cai's typed formats: T::from_json(read_json(path), path) (errors name the
// file and the key).
template <typename T>
T read_json_as(const std::filesystem::path& path) {
  return T::from_json(read_json(path), path.string());
}

// `j` indented by two, with a final newline, written atomically (io/file.h).
void write_json(const std::filesystem::path& path, const nlohmann::json& j);

// Typed fields of a JSON object, for the readers of cai's own files. Each throws cai::Error
// "<where>: field <key>: ..." when the field is missing or of another type; `where` names the
// file and the object ("run/round-1/eval.json: compliance").
namespace json_field {
const nlohmann::json& any(const nlohmann::json& j, const char* key, const std::string& where);
double number(const nlohmann::json& j, const char* key, const std::string& where);
std::int64_t integer(const nlohmann::json& j, const char* key, const std::string& where);
std::int64_t count(const nlohmann::json& j, const char* key, const std::string& where);   // >= 0
std::uint64_t whole(const nlohmann::json& j, const char* key, const std::string& where);  // seeds
bool flag(const nlohmann::json& j, const char* key, const std::string& where);
std::string text(const nlohmann::json& j, const char* key, const std::string& where);
// The same, or `fallback` when the key is absent (a present field of another type still throws).
std::string text_or(const nlohmann::json& j, const char* key, const std::string& where,
                    const std::string& fallback = "");
// Requires `j` to be an object.
void object(const nlohmann::json& j, const std::string& where);
// Requires `array` (named `where`) to be an array and calls fn(element, "<where>[i]") on each.
void for_each(const nlohmann::json& array, const std::string& where,
              const std::function<void(const nlohmann::json&, const std::string&)>& fn);
}  // namespace json_field

}  // namespace cai
