// Phase 1 (`cai critique-revise`) and Phase 2 (`cai label`) through the HTTP backend against
// `cai serve` over loopback, compared with the same commands on the in-process model: with
// greedy decoding the revisions are the same text, and the judge's probabilities the same
// numbers (both backends read the first token that tells " (A)" from " (B)"; the server is
// asked for every token's log-prob so neither option falls outside its top list).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serve_process.h"

namespace {

namespace fs = std::filesystem;
using cai::testing_util::read_jsonl;
using cai::testing_util::ServeProcess;
using cai::testing_util::sh;
using cai::testing_util::write_short_constitution;
using nlohmann::json;
const std::string kModel = std::string(CAI_FIXTURES_DIR) + "/hf-model";
// At least the fixture's vocabulary (272 tokens): the whole next-token distribution.
const std::string kTopLogprobs = "300";

fs::path pipeline_tmp(const std::string& name) {
  fs::path d = fs::path(CAI_TEST_TMPDIR) / "serve-pipeline";
  fs::create_directories(d);
  return d / name;
}

void fresh(const fs::path& out) {
  fs::remove(out);
  fs::remove(fs::path(out.string() + ".settings.json"));
}

void expect_near_vectors(const json& a, const json& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t k = 0; k < a.size(); ++k)
    EXPECT_NEAR(a[k].get<double>(), b[k].get<double>(), 1e-4) << what << "[" << k << "]";
}

}  // namespace

TEST(ServePipeline, Phase1AndPhase2OverHttpMatchInProcess) {
  const fs::path prompts = pipeline_tmp("prompts.jsonl");
  {
    std::ofstream f(prompts);
    f << json{{"prompt", "How do I bake bread?"}}.dump() << "\n"
      << json{{"prompt", "Tell me about the moon."}}.dump() << "\n";
  }
  // Short requests: the fixture model's vocabulary is tiny, so long text overflows its context.
  const std::string constitution = pipeline_tmp("short.yaml").string();
  write_short_constitution(constitution);
  const std::string bin = CAI_BINARY;
  const std::string common = " -p " + prompts.string() + " -c " + constitution +
                             " --rounds 1 --max-tokens 8 --temperature 0 --seed 3 --no-few-shot -q";
  const fs::path local = pipeline_tmp("p1-local.jsonl"), remote = pipeline_tmp("p1-http.jsonl");
  fresh(local);
  fresh(remote);
  std::string out;
  ASSERT_EQ(sh(bin + " critique-revise --model " + kModel + common + " -o " + local.string(), &out),
            0)
      << out;
  ServeProcess s({kModel, "--model-name", "m", "--max-top-logprobs", kTopLogprobs});
  ASSERT_GT(s.port, 0);
  const std::string api =
      " --api-base " + s.base_url() + " --api-model m --api-top-logprobs " + kTopLogprobs;
  ASSERT_EQ(sh(bin + " critique-revise" + api + common + " -o " + remote.string(), &out), 0) << out;
  const auto a = read_jsonl(local), b = read_jsonl(remote);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    for (const char* k : {"prompt", "init_response", "rounds", "messages", "chosen", "rejected"})
      EXPECT_EQ(a[i].value(k, json()), b[i].value(k, json())) << i << " " << k;

  // Phase 2 on the Phase 1 output, every principle judged (--ensemble -1), in both orders.
  const fs::path la = pipeline_tmp("p2-local.jsonl"), lb = pipeline_tmp("p2-http.jsonl");
  fresh(la);
  fresh(lb);
  const std::string lcommon =
      " -i " + local.string() + " -c " + constitution + " --ensemble=-1 --seed 3 -q";
  ASSERT_EQ(sh(bin + " label --model " + kModel + lcommon + " -o " + la.string(), &out), 0) << out;
  ASSERT_EQ(sh(bin + " label" + api + lcommon + " -o " + lb.string(), &out), 0) << out;
  const auto x = read_jsonl(la), y = read_jsonl(lb);
  ASSERT_EQ(x.size(), 2u);
  ASSERT_EQ(x.size(), y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i]["prompt_text"], y[i]["prompt_text"]) << i;
    EXPECT_EQ(x[i]["chosen_text"], y[i]["chosen_text"]) << i;
    EXPECT_NEAR(x[i]["p_chosen"].get<double>(), y[i]["p_chosen"].get<double>(), 1e-4) << i;
    EXPECT_NEAR(x[i]["position_disagreement"].get<double>(),
                y[i]["position_disagreement"].get<double>(), 1e-4);
    const json &px = x[i]["principles"], &py = y[i]["principles"];
    ASSERT_EQ(px.size(), 2u);
    ASSERT_EQ(px.size(), py.size());
    for (std::size_t k = 0; k < px.size(); ++k) {
      EXPECT_EQ(px[k]["name"], py[k]["name"]);
      EXPECT_NEAR(px[k]["p_chosen"].get<double>(), py[k]["p_chosen"].get<double>(), 1e-4)
          << i << ":" << k;
      for (const char* order : {"chosen_first", "rejected_first"}) {
        EXPECT_NEAR(px[k][order]["p_first"].get<double>(), py[k][order]["p_first"].get<double>(),
                    1e-4);
        expect_near_vectors(px[k][order]["raw_logprobs"], py[k][order]["raw_logprobs"],
                            std::to_string(i) + ":" + std::to_string(k) + ":" + order);
      }
    }
  }
}
