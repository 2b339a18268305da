// End-to-end checks of the `cai` program: exit codes, error messages that name the file and
// line at fault, and the main commands on the shared fixtures.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include "run_cai.h"

namespace fs = std::filesystem;

namespace {

using cai::testing_util::CmdResult;
cai::testing_util::CmdResult run(const std::string& args) {
  return cai::testing_util::run_cai(args);
}

fs::path tmp(const std::string& name) {
  fs::path d = fs::path(CAI_TEST_TMPDIR) / "cli";
  fs::create_directories(d);
  return d / name;
}

const std::string kFix = CAI_FIXTURES_DIR;
const std::string kHf = kFix + "/hf-model";
const std::string kGguf = kFix + "/model/tiny-llama-gqa-f32.gguf";

}  // namespace

TEST(Cli, HelpForEveryCommand) {
  for (const char* c :
       {"", "generate", "score", "tokenize", "tokenizer train", "model info", "model convert",
        "model init", "bench generate", "bench tokenize", "constitution check"}) {
    CmdResult r = run(std::string(c) + " --help");
    EXPECT_EQ(r.code, 0) << c << ": " << r.out;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << c;
  }
}

TEST(Cli, MissingModelIsAClearError) {
  CmdResult r = run("model info /nonexistent/model-dir");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("/nonexistent/model-dir"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
}

TEST(Cli, BadJsonlLineNamesFileAndLine) {
  fs::path in = tmp("bad-prompts.jsonl");
  std::ofstream(in) << "{\"prompt\": \"hello\"}\n{\"prompt\": \"x\"\n";
  CmdResult r = run("generate " + kHf + " --input " + in.string() + " --output - --max-tokens 2");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find(in.string() + ":2"), std::string::npos) << r.out;
}

TEST(Cli, TokenizeMatchesTheReference) {
  auto ref = nlohmann::json::parse(std::ifstream(kHf + "/reference.json"));
  CmdResult r = run("tokenize " + kHf + " '" + ref["text"].get<std::string>() + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  std::string want;
  for (auto& t : ref["tokens"]) {
    if (!want.empty()) want += ' ';
    want += std::to_string(t.get<int>());
  }
  EXPECT_NE(r.out.find(want), std::string::npos) << r.out;
}

TEST(Cli, ScoreSumMatchesTheReference) {
  auto ref = nlohmann::json::parse(std::ifstream(kHf + "/reference.json"));
  CmdResult r = run("score " + kHf + " --text '" + ref["text"].get<std::string>() + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  ASSERT_TRUE(j.contains("sum")) << r.out;
  EXPECT_NEAR(j["sum"].get<double>(), ref["sum_logprob"].get<double>(), 2e-3);
}

// A message list ending with an assistant message is continued: the prompt is the generation
// prompt and that message's text, and greedy decoding continues it.
TEST(Cli, GenerateContinuesAFinalAssistantMessage) {
  fs::path in = tmp("continued.jsonl");
  std::ofstream(in) << R"({"messages": [{"role": "user", "content": "Hi"}, )"
                    << R"({"role": "assistant", "content": "The clinic"}]})"
                    << "\n";
  CmdResult r = run("generate " + kHf + " --input " + in.string() +
                    " --output - --max-tokens 4 --temperature 0 --chat-template human-assistant");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto at = r.out.find("{\"");
  ASSERT_NE(at, std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(r.out.substr(at, r.out.find('\n', at) - at));
  EXPECT_EQ(j["prompt"], "Human: Hi\n\nAssistant: The clinic");
}

TEST(Cli, GenerateFromGgufAndConvertedDirectoryAgree) {
  fs::path dir = tmp("converted-tiny");
  fs::remove_all(dir);
  CmdResult c = run("model convert " + kGguf + " " + dir.string());
  ASSERT_EQ(c.code, 0) << c.out;
  fs::path in = tmp("prompts.jsonl");
  std::ofstream(in) << "{\"prompt\": \"Hello! How can I help\"}\n{\"prompt\": \"The clinic\"}\n";
  CmdResult a = run("generate " + kGguf + " --input " + in.string() +
                    " --output - --max-tokens 8 --temperature 0");
  CmdResult b = run("generate " + dir.string() + " --input " + in.string() +
                    " --output - --max-tokens 8 --temperature 0");
  ASSERT_EQ(a.code, 0) << a.out;
  ASSERT_EQ(b.code, 0) << b.out;
  auto completions = [](const std::string& out) {
    std::vector<std::string> v;
    std::size_t pos = 0;
    while ((pos = out.find("{\"", pos)) != std::string::npos) {
      std::size_t end = out.find('\n', pos);
      auto j = nlohmann::json::parse(out.substr(pos, end - pos), nullptr, false);
      if (!j.is_discarded() && j.contains("completion")) v.push_back(j["completion"]);
      pos = end == std::string::npos ? out.size() : end;
    }
    return v;
  };
  auto ca = completions(a.out), cb = completions(b.out);
  EXPECT_EQ(ca.size(), 2u) << a.out;
  EXPECT_EQ(ca, cb);
}
