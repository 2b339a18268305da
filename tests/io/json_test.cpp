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

// The typed fields cai's file readers use: each names the object and the key it wanted.
TEST(JsonField, TypedFieldsNameObjectAndKey) {
  namespace jf = cai::json_field;
  const auto j = cai::parse_json(
      R"({"n": 3, "neg": -2, "x": 0.5, "s": "t", "b": true, "big": 18446744073709551615})", "f");
  EXPECT_EQ(jf::count(j, "n", "f: o"), 3);
  EXPECT_EQ(jf::integer(j, "neg", "f: o"), -2);
  EXPECT_DOUBLE_EQ(jf::number(j, "x", "f: o"), 0.5);
  EXPECT_EQ(jf::text(j, "s", "f: o"), "t");
  EXPECT_EQ(jf::text_or(j, "absent", "f: o", "d"), "d");
  EXPECT_TRUE(jf::flag(j, "b", "f: o"));
  EXPECT_EQ(jf::whole(j, "big", "f: o"), 18446744073709551615ull);
  auto error = [&](auto read) -> std::string {
    try {
      read();
    } catch (const cai::Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error([&] { jf::count(j, "neg", "f: o"); }),
            "f: o: field neg: a count (a whole number >= 0) is required");
  EXPECT_EQ(error([&] { jf::number(j, "s", "f: o"); }), "f: o: field s: a number is required");
  EXPECT_EQ(error([&] { jf::text(j, "missing", "f: o"); }), "f: o: field missing: missing");
  EXPECT_EQ(error([&] { jf::text_or(j, "n", "f: o"); }), "f: o: field n: a string is required");
  EXPECT_EQ(error([&] { jf::flag(j, "x", "f: o"); }), "f: o: field x: true or false is required");
  EXPECT_EQ(error([&] { jf::whole(j, "neg", "f: o"); }),
            "f: o: field neg: a whole number >= 0 is required");
  EXPECT_EQ(error([&] { jf::count(cai::parse_json("[1]", "f"), "n", "f: a"); }),
            "f: a: an object is required");
}

}  // namespace
