// Shared pieces of the pipeline tests: a small constitution with worked examples and temp
// paths under CAI_TEST_TMPDIR.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cai/constitution/constitution.h"

namespace cai::testing_util {

inline const char* kTestConstitution = R"(name: test
description: Two principles for tests.
principles:
  - name: polite
    critique: Is the response polite? Begin with "The response violates the principle." or "The response follows the principle."
    revision: Rewrite the response politely.
    comparison: Which response is more polite?
    weight: 1.0
    examples:
      - prompt: Where is the clinic?
        response: Look it up.
        critique: The response violates the principle. It is curt.
        revision: The clinic is on Main Street; I am happy to help.
  - name: brief
    critique: Is the response brief? Begin with "The response violates the principle." or "The response follows the principle."
    revision: Rewrite the response briefly.
    comparison: Which response is briefer?
    weight: 3.0
few_shot:
  - prompt: What time is it?
    response: I do not know and I will not tell you anything at all about time.
    critique: The response violates the principle. It rambles.
    revision: I do not know the time.
    principle: brief
)";

inline Constitution test_constitution() {
  return parse_constitution(kTestConstitution, "test.yaml");
}

inline std::filesystem::path tmp_path(const std::string& name) {
  auto d = std::filesystem::path(CAI_TEST_TMPDIR) / "pipeline";
  std::filesystem::create_directories(d);
  return d / name;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::filesystem::path write_prompts(const std::string& name, int n) {
  auto p = tmp_path(name);
  std::ofstream out(p);
  for (int i = 0; i < n; ++i)
    out << "{\"id\": \"p" << i << "\", \"prompt\": \"Question number " << i
        << " about the clinic?\"}\n";
  return p;
}

inline void remove_output(const std::filesystem::path& p) {
  std::filesystem::remove(p);
  auto side = p;
  side += ".settings.json";
  std::filesystem::remove(side);
}

}  // namespace cai::testing_util
