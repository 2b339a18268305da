// Helpers shared by the constitution tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cai/constitution/constitution.h"
#include "cai/io/error.h"

namespace cai::test {

// The checkout's root, found from this file's own path (tests/constitution/test_util.h), so
// the shipped constitutions/ can be loaded wherever the build directory is.
inline std::filesystem::path repo_root() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

inline std::filesystem::path tmpdir(const std::string& name) {
  const auto d = std::filesystem::path(CAI_TEST_TMPDIR) / "constitution" / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// The message of the cai::Error parsing `text` throws ("" when it does not throw).
inline std::string parse_error(const std::string& text, const std::string& source = "c.yaml") {
  try {
    parse_constitution(text, source);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A small valid YAML constitution that tests edit to break one thing at a time.
inline const char* kValidYaml = R"(name: demo
description: A two-principle test constitution.
principles:
  - name: be-kind
    critique: Say whether the response is kind.
    revision: Make the response kind.
    comparison: Which response is kinder?
    weight: 2.5
    examples:
      - prompt: Hi
        response: Go away.
        critique: The response violates the principle. It is rude.
        revision: Hello! How can I help?
  - name: be_brief
    critique: |
      Say whether the response is brief.
      Two lines here.
    revision: Shorten the response.
    comparison: Which response is briefer?
few_shot:
  - principle: be_brief
    prompt: Tell me the time.
    response: Well, time is a fascinating concept...
    critique: The response violates the principle. It rambles.
    revision: It is noon.
)";

}  // namespace cai::test
