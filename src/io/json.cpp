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

}  // namespace cai
