// Reading llama.cpp's golden tokenizer vectors, shared by the tokenizer tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cai/io/file.h"

namespace cai_test {

inline const std::filesystem::path kTokenizerFixtures =
    std::filesystem::path(CAI_FIXTURES_DIR) / "tokenizer";

struct Case {
  std::string input;
  std::vector<std::int32_t> expected;
};

// .inp: inputs separated by "\n__ggml_vocab_test__\n" (the file ends with one);
// .out: one line of space-separated ids per input.
inline std::vector<Case> read_cases(const std::string& name) {
  const std::string inp = cai::read_file(kTokenizerFixtures / (name + ".inp"));
  const std::string out = cai::read_file(kTokenizerFixtures / (name + ".out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  std::istringstream lines(out);
  std::string line;
  for (std::size_t pos = 0, hit; (hit = inp.find(sep, pos)) != std::string::npos;
       pos = hit + sep.size()) {
    std::getline(lines, line);
    Case c{inp.substr(pos, hit - pos), {}};
    std::istringstream ids(line);
    for (std::int32_t id; ids >> id;) c.expected.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

// " 1 2 3", the .out files' own spelling, for failure messages.
inline std::string show(const std::vector<std::int32_t>& ids) {
  std::string s;
  for (auto id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

}  // namespace cai_test
