#include "cai/io/json.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/file.h"

namespace cai {
namespace {

template <class Json>
Json parse(std::string_view text, const std::string& source) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based: the offending character is text[e.byte - 1].
    const std::size_t upto = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(upto), '\n');
    throw_error("{}:{}: invalid JSON: {}", source, line, e.what());
  } catch (const nlohmann::json::exception& e) {
    throw_error("{}: invalid JSON: {}", source, e.what());
  }
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& source) {
  return parse<nlohmann::json>(text, source);
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& source) {
  return parse<nlohmann::ordered_json>(text, source);
}

nlohmann::json read_json(const std::filesystem::path& path) {
  return parse_json(read_file(path), path.string());
}

void write_json(const std::filesystem::path& path, const nlohmann::json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

namespace json_field {

void object(const nlohmann::json& j, const std::string& where) {
  CAI_CHECK(j.is_object(), "{}: an object is required", where);
}

void for_each(const nlohmann::json& array, const std::string& where,
              const std::function<void(const nlohmann::json&, const std::string&)>& fn) {
  CAI_CHECK(array.is_array(), "{}: an array is required", where);
  for (std::size_t i = 0; i < array.size(); ++i)
    fn(array[i], where + "[" + std::to_string(i) + "]");
}

const nlohmann::json& any(const nlohmann::json& j, const char* key, const std::string& where) {
  object(j, where);
  auto it = j.find(key);
  CAI_CHECK(it != j.end(), "{}: field {}: missing", where, key);
  return *it;
}

double number(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = any(j, key, where);
  CAI_CHECK(v.is_number(), "{}: field {}: a number is required", where, key);
  return v.get<double>();
}

std::int64_t integer(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = any(j, key, where);
  CAI_CHECK(v.is_number_integer(), "{}: field {}: a whole number is required", where, key);
  return v.get<std::int64_t>();
}

std::int64_t count(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = any(j, key, where);
  CAI_CHECK(v.is_number_integer() && v.get<std::int64_t>() >= 0,
            "{}: field {}: a count (a whole number >= 0) is required", where, key);
  return v.get<std::int64_t>();
}

std::uint64_t whole(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = any(j, key, where);
  CAI_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0),
            "{}: field {}: a whole number >= 0 is required", where, key);
  return v.get<std::uint64_t>();
}

bool flag(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = any(j, key, where);
  CAI_CHECK(v.is_boolean(), "{}: field {}: true or false is required", where, key);
  return v.get<bool>();
}

std::string text(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = any(j, key, where);
  CAI_CHECK(v.is_string(), "{}: field {}: a string is required", where, key);
  return v.get<std::string>();
}

std::string text_or(const nlohmann::json& j, const char* key, const std::string& where,
                    const std::string& fallback) {
  object(j, where);
  return j.contains(key) ? text(j, key, where) : fallback;
}

}  // namespace json_field

}  // namespace cai
