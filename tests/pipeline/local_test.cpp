// Phase 1 on a real (tiny, random) Llama through the local backend: few-shot prefixes are
// reused from the engine's prefix cache, results do not depend on the batch size or on the
// cache, and `cai critique-revise` killed three times mid-run and rerun writes the same file
// as an uninterrupted run, byte for byte.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "cai/backend/factory.h"
#include "cai/backend/local_backend.h"
#include "cai/generate/engine.h"
#include "cai/io/progress.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/pipeline/critique_revise.h"
#include "cai/pipeline/label.h"
#include "test_util.h"

namespace cai::pipeline {
namespace {

std::shared_ptr<LoadedModel> tiny_loaded() {
  auto lm = std::make_shared<LoadedModel>();
  lm->tokenizer = Tokenizer::load(std::string(CAI_FIXTURES_DIR) + "/hf-model/tokenizer.json");
  ModelConfig cfg;
  cfg.vocab_size = lm->tokenizer->vocab_size();
  cfg.hidden_size = 64;
  cfg.intermediate_size = 128;
  cfg.num_layers = 2;
  cfg.num_heads = 4;
  cfg.num_kv_heads = 2;
  cfg.head_dim = 16;
  cfg.max_position_embeddings = 1024;
  for (auto id : lm->tokenizer->stop_ids()) cfg.eos_token_ids.push_back(id);
  torch::manual_seed(3);
  lm->config = cfg;
  lm->model = std::make_shared<LlamaModel>(cfg);
  lm->source = "tiny-random";
  lm->format = "safetensors";
  return lm;
}

CritiqueReviseOptions small_options() {
  CritiqueReviseOptions o;
  o.rounds = 2;
  o.seed = 11;
  o.skip_when_ok = false;
  o.max_tokens = 8;
  o.temperature = 0.8;
  return o;
}

std::vector<PromptRecord> some_prompts(int n) {
  std::vector<PromptRecord> ps;
  for (int i = 0; i < n; ++i)
    ps.push_back({"", "Is the clinic open on day " + std::to_string(i) + "?", ""});
  return ps;
}

TEST(PipelineLocal, PrefixReuseAndBatchSizeDoNotChangeResults) {
  Progress::set_enabled(false);
  const auto lm = tiny_loaded();
  const auto c = testing_util::test_constitution();
  const auto ps = some_prompts(5);
  std::vector<std::vector<CritiqueReviseRecord>> runs;
  std::int64_t reused = -1;
  for (auto [batch, cache] : {std::pair<std::int64_t, bool>{4, true}, {1, false}, {3, true}}) {
    LocalBackendOptions lo;
    lo.max_batch = batch;
    lo.prefix_cache = cache;
    lo.max_seq_len = 1024;
    auto b = make_local_backend(lm, lo);
    runs.push_back(critique_revise(*b, c, ps, 0, small_options()));
    const auto* st = local_engine_stats(*b);
    ASSERT_NE(st, nullptr);
    if (cache)
      EXPECT_GT(st->prefix_reused_tokens, 0) << "batch " << batch;
    else
      EXPECT_EQ(st->prefix_reused_tokens, 0);
    if (batch == 4) reused = st->prefix_reused_tokens;
  }
  // The few-shot preamble alone is over a hundred tokens per critique / revision request.
  EXPECT_GT(reused, 100 * 5);
  for (std::size_t r = 1; r < runs.size(); ++r)
    for (std::size_t i = 0; i < ps.size(); ++i) {
      EXPECT_EQ(runs[r][i].init_response, runs[0][i].init_response) << r << ":" << i;
      ASSERT_EQ(runs[r][i].rounds.size(), 2u);
      for (std::size_t k = 0; k < 2; ++k) {
        EXPECT_EQ(runs[r][i].rounds[k].critique, runs[0][i].rounds[k].critique) << r << ":" << i;
        EXPECT_EQ(runs[r][i].rounds[k].revision, runs[0][i].rounds[k].revision) << r << ":" << i;
      }
    }
}

TEST(PipelineLocal, OptionScoresAreNormalisedContinuations) {
  const auto lm = tiny_loaded();
  auto b = make_local_backend(lm, {});
  TextRequest r;
  r.prompt = "Human: hi\n\nQuestion: which?\n\nThe answer is:";
  const auto s = b->score_options({r}, {" (A)", " (B)"});
  ASSERT_EQ(s.size(), 1u);
  ASSERT_EQ(s[0].raw.size(), 2u);
  EXPECT_NEAR(std::exp(s[0].normalised[0]) + std::exp(s[0].normalised[1]), 1.0, 1e-9);
  EXPECT_NEAR(s[0].normalised[0] - s[0].normalised[1], s[0].raw[0] - s[0].raw[1], 1e-9);
  EXPECT_LT(s[0].raw[0], 0.0);
}

// Runs the cai binary; returns its pid.
pid_t spawn(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string bin = CAI_BINARY;
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

std::size_t lines_in(const std::filesystem::path& p) {
  const auto t = testing_util::slurp(p);
  return static_cast<std::size_t>(std::count(t.begin(), t.end(), '\n'));
}

TEST(PipelineLocal, KilledThreeTimesThenRerunEqualsUninterrupted) {
  const auto lm = tiny_loaded();
  const auto dir = testing_util::tmp_path("kill-model");
  save_model_dir(*lm, dir, DType::F32);
  const auto cons = testing_util::tmp_path("kill-constitution.yaml");
  std::ofstream(cons) << testing_util::kTestConstitution;
  const auto prompts = testing_util::write_prompts("kill-prompts.jsonl", 12);
  auto args = [&](const std::filesystem::path& out) {
    return std::vector<std::string>{"critique-revise",
                                    "--model",
                                    dir.string(),
                                    "--prompts",
                                    prompts.string(),
                                    "--constitution",
                                    cons.string(),
                                    "--output",
                                    out.string(),
                                    "--rounds",
                                    "3",
                                    "--max-tokens",
                                    "12",
                                    "--seed",
                                    "5",
                                    "--chunk",
                                    "1",
                                    "--max-batch",
                                    "4",
                                    "--quiet"};
  };
  const auto ref = testing_util::tmp_path("kill-ref.jsonl");
  const auto out = testing_util::tmp_path("kill-out.jsonl");
  testing_util::remove_output(ref);
  testing_util::remove_output(out);
  int status = 0;
  waitpid(spawn(args(ref)), &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(lines_in(ref), 12u);

  auto side = out;
  side += ".settings.json";
  int killed = 0;
  // Kill once the run has started its file, then after 3 and after 7 finished prompts.
  for (std::size_t at : {0u, 3u, 7u}) {
    const pid_t pid = spawn(args(out));
    for (;;) {
      if (waitpid(pid, &status, WNOHANG) == pid) break;  // finished before the kill
      if (std::filesystem::exists(side) && lines_in(out) >= at) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        killed += WIFSIGNALED(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  EXPECT_GE(killed, 1);
  std::printf("killed %d of 3 runs; %zu lines before the final run\n", killed, lines_in(out));
  waitpid(spawn(args(out)), &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(testing_util::slurp(out), testing_util::slurp(ref));
}

}  // namespace
}  // namespace cai::pipeline
