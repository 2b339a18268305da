// `cai serve` as a program: the ready line, greedy answers equal to `cai generate`'s, 429 when
// the concurrency limit is reached, and SIGTERM finishing the requests in flight before a
// clean exit.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "serve_process.h"

namespace {

namespace fs = std::filesystem;
using cai::testing_util::ServeProcess;
using cai::testing_util::sh;
using nlohmann::json;
const std::string kFixtureModel = std::string(CAI_FIXTURES_DIR) + "/hf-model";

fs::path tmp(const std::string& name) {
  fs::path d = fs::path(CAI_TEST_TMPDIR) / "serve";
  fs::create_directories(d);
  return d / name;
}

}  // namespace

TEST(ServeCli, GreedyAnswersEqualCaiGenerate) {
  const std::vector<std::string> prompts = {"Hello there", "The quick brown", "1 2 3"};
  const fs::path in = tmp("prompts.jsonl");
  {
    std::ofstream f(in);
    for (const auto& p : prompts) f << json{{"prompt", p}}.dump() << "\n";
  }
  std::string out;
  ASSERT_EQ(sh(std::string(CAI_BINARY) + " generate " + kFixtureModel + " -i " + in.string() +
                   " --temperature 0 --max-tokens 20 2>/dev/null",
               &out),
            0)
      << out;
  std::vector<std::string> want;
  std::istringstream lines(out);
  for (std::string l; std::getline(lines, l);)
    if (!l.empty() && l[0] == '{') want.push_back(json::parse(l)["completion"]);
  ASSERT_EQ(want.size(), prompts.size()) << out;

  ServeProcess s({kFixtureModel});
  ASSERT_GT(s.port, 0);
  auto c = s.client();
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    auto res = c.Post("/v1/completions",
                      json{{"prompt", prompts[i]}, {"max_tokens", 20}, {"temperature", 0}}.dump(),
                      "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(json::parse(res->body)["choices"][0]["text"], want[i]) << prompts[i];
  }
  EXPECT_EQ(s.signal_and_wait(SIGINT), 0);
}

TEST(ServeCli, LimitGives429AndSigtermFinishesRequestsInFlight) {
  // A random model big enough that 2 x 700 tokens take a while on any machine.
  const fs::path model = tmp("serve-model");
  std::string out;
  ASSERT_EQ(
      sh(std::string(CAI_BINARY) + " model init --tokenizer " + kFixtureModel +
             " --hidden 256 --layers 6 --heads 4 --kv-heads 2 --ffn 768 --context 1024 --out " +
             model.string(),
         &out),
      0)
      << out;
  ServeProcess s(
      {model.string(), "--max-concurrent", "2", "--max-batch", "2", "--max-tokens", "1000"});
  ASSERT_GT(s.port, 0);
  const int kTokens = 700;
  std::vector<int> status(2, 0), tokens(2, 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < 2; ++i)
    clients.emplace_back([&, i] {
      auto c = s.client();
      auto res = c.Post("/v1/completions",
                        json{{"prompt", "Story " + std::to_string(i)},
                             {"max_tokens", kTokens},
                             {"temperature", 0},
                             {"ignore_eos", true}}
                            .dump(),
                        "application/json");
      if (!res) return;
      status[i] = res->status;
      if (res->status == 200) tokens[i] = json::parse(res->body)["usage"]["completion_tokens"];
    });
  // Wait until both are being served.
  auto c = s.client();
  bool both = false;
  for (int k = 0; k < 20000 && !both; ++k) {
    auto h = c.Get("/health");
    both = h && json::parse(h->body)["in_flight"] == 2;
    if (!both) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(both);
  auto third = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":2})", "application/json");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 429) << third->body;
  EXPECT_EQ(json::parse(third->body)["error"]["code"], "too_many_requests");
  EXPECT_TRUE(third->has_header("Retry-After"));
  // SIGTERM while both are generating: both are still answered in full, then a clean exit.
  EXPECT_EQ(s.signal_and_wait(SIGTERM), 0);
  for (auto& t : clients) t.join();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(status[i], 200) << i;
    EXPECT_EQ(tokens[i], kTokens) << i;
  }
  // And nothing listens any more.
  auto after = s.client().Get("/health");
  EXPECT_FALSE(after);
}
