// The `cai train` end-to-end tests' shared set-up: a tokenizer trained on a small corpus, a
// tiny random model using it, SFT and preference data, and helpers to run `cai` and read the
// run directories it writes.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../cli/run_cai.h"

namespace cai::testing_util::train {

namespace fs = std::filesystem;

using cai::testing_util::CmdResult;
inline cai::testing_util::CmdResult run_cmd(const std::string& args) {
  return cai::testing_util::run_cai(args);
}

// One directory per process: ctest runs each test of the suite in its own process, in parallel.
inline const fs::path kDir =
    fs::path(CAI_TEST_TMPDIR) / ("cli_train-" + std::to_string(::getpid()));

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<nlohmann::json> jsonl(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

inline std::vector<nlohmann::json> train_lines(const fs::path& run) {
  std::vector<nlohmann::json> out;
  for (auto& j : jsonl(run / "metrics.jsonl"))
    if (j["split"] == "train") out.push_back(j);
  return out;
}

// A tokenizer trained on a small corpus, a tiny random model using it, SFT and preference data.
class CliTrainFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::remove_all(kDir);
    fs::create_directories(kDir);
    const char* words[] = {"the",    "clinic",  "opens", "at",     "nine",
                           "doctor", "patient", "visit", "please", "call",
                           "ahead",  "thanks",  "yes",   "no",     "today"};
    {
      std::ofstream c(kDir / "corpus.txt");
      for (int i = 0; i < 300; ++i)
        c << words[i % 15] << " " << words[(i * 7) % 15] << " " << words[(i * 11) % 15] << ".\n";
    }
    ASSERT_EQ(run_cmd("tokenizer train --input " + (kDir / "corpus.txt").string() +
                      " --vocab-size 300 --special '<s>' "
                      "--special '</s>' --bos '<s>' --eos '</s>' --out " +
                      (kDir / "tok").string())
                  .code,
              0);
    const CmdResult init =
        run_cmd("model init --out " + model() + " --tokenizer " +
                (kDir / "tok" / "tokenizer.json").string() +
                " --hidden 32 --layers 2 --heads 4 --kv-heads 2 --ffn 64 --context 128 --seed 3");
    ASSERT_EQ(init.code, 0) << init.out;
    {
      std::ofstream s(kDir / "sft.jsonl");
      for (int i = 0; i < 12; ++i) {
        const std::string q = std::string(words[i % 15]) + " " + words[(i + 3) % 15] + "?";
        const std::string a = std::string(words[(i * 2) % 15]) + " " + words[(i + 5) % 15] + ".";
        if (i % 2)
          s << nlohmann::json{{"messages",
                               {{{"role", "user"}, {"content", q}},
                                {{"role", "assistant"}, {"content", a}}}}}
                   .dump()
            << "\n";
        else
          s << nlohmann::json{{"prompt", q}, {"completion", " " + a}}.dump() << "\n";
      }
    }
    {
      std::ofstream p(kDir / "prefs.jsonl");
      for (int i = 0; i < 10; ++i)
        p << nlohmann::json{{"prompt",
                             std::string(words[i % 15]) + " " + words[(i + 4) % 15] + "?"},
                            {"chosen", " yes please call ahead."},
                            {"rejected", std::string(" no ") + words[(i + 1) % 15] + "."}}
                 .dump()
          << "\n";
    }
  }
  static void TearDownTestSuite() { fs::remove_all(kDir); }
  static std::string model() { return (kDir / "model").string(); }
  static std::string data(const char* f) { return (kDir / f).string(); }
  static std::string out(const std::string& name) {
    fs::remove_all(kDir / name);
    return (kDir / name).string();
  }
};

}  // namespace cai::testing_util::train
