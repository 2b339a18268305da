// parse_json: every nlohmann failure is cai::Error naming the source (and the line of a syntax
// error); a valid document parses.
#include "cai/io/json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cai/io/error.h"

namespace {

std::string error_of(const std::string& text) {
  try {
    cai::parse_json(text, "x.json");
  } catch (const cai::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ParseJson, ValidDocumentsParse) {
  EXPECT_EQ(cai::parse_json(R"({"a": [1, 2.5, "b"]})", "x.json")["a"][1].get<double>(), 2.5);
  const auto o = cai::parse_ordered_json(R"({"z": 1, "a": 2})", "x.json");
  EXPECT_EQ(o.begin().key(), "z");  // insertion order kept
}

TEST(ParseJson, ASyntaxErrorNamesSourceAndLine) {
  const std::string e = error_of("{\n  \"a\": 1,\n  \"b\": ]\n}");
  EXPECT_EQ(e.rfind("x.json:3: invalid JSON", 0), 0u) << e;
  EXPECT_EQ(error_of("").rfind("x.json:1: invalid JSON", 0), 0u);
}

TEST(ParseJson, ANumberTooLargeForADoubleIsAnErrorNotACrash) {
  // nlohmann throws out_of_range (406) here, not parse_error.
  const std::string e = error_of(R"({"a": 66E662666})");
  EXPECT_EQ(e.rfind("x.json: invalid JSON", 0), 0u) << e;
  EXPECT_THROW(cai::parse_ordered_json("[1e999]", "y"), cai::Error);
}

}  // namespace
