// A loop interrupted inside a stage resumes to the bytes of an uninterrupted run: Phase 1 and
// Phase 2 cut after some of their lines (as a SIGKILL leaves them, a torn last line
// included), a full disk while writing, then the run continued. An unwritable run folder is a
// clear error naming it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../cli/run_cai.h"
#include "../train/tiny_base.h"
#include "../world/tiny_world.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/progress.h"
#include "cai/loop/loop.h"

namespace cai::loop {
namespace resume_test {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(CAI_TEST_TMPDIR) / ("loop-resume-" + std::to_string(::getpid()));

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Files that record model paths name their run directory: compare them as if made in `to`.
std::string renamed(std::string s, const fs::path& from, const fs::path& to) {
  for (auto at = s.find(from.string()); at != std::string::npos;
       at = s.find(from.string(), at + to.string().size()))
    s.replace(at, from.string().size(), to.string());
  return s;
}

// Keeps the first `n` lines of `p` and appends half of the next (a write cut by a kill).
void cut_after(const fs::path& p, std::size_t n) {
  std::istringstream in(slurp(p));
  std::string kept, line;
  for (std::size_t i = 0; i < n && std::getline(in, line); ++i) kept += line + "\n";
  ASSERT_TRUE(std::getline(in, line)) << p << " has no line after " << n;
  kept += line.substr(0, line.size() / 2);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << kept;
}

// Forgets that `stage` of round 1 finished, as when the kill fell inside it.
void unmark(const fs::path& run, const std::string& stage) {
  const fs::path p = run / "round-1" / "stages.json";
  auto j = nlohmann::json::parse(slurp(p));
  j["done"].erase(stage);
  std::ofstream(p, std::ios::trunc) << j.dump(2) << "\n";
}

class LoopResume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Progress::set_enabled(false);
    fs::remove_all(kDir);
    testing_util::make_tiny_world(kDir / "world", 5, 12, 4, 4);
    testing_util::pretrain_tiny(kDir / "world", kDir / "base", 1024);
  }
  static void TearDownTestSuite() { fs::remove_all(kDir); }

  // One round of Phase 1, Phase 2, SFT and DPO, sampled (temperature 1) throughout.
  static LoopOptions options(const std::string& name, const std::string& stop_after) {
    LoopOptions o;
    o.config = parse_loop_config("name: " + name + "\nout: " + (kDir / name).string() +
                                     "\nbase_model: " + (kDir / "base").string() +
                                     "\nworld: " + (kDir / "world").string() +
                                     "\n"
                                     "rounds: 1\n"
                                     "seed: 4\n"
                                     "quality: {metric: oracle, split: eval, max_tokens: 8}\n"
                                     "critique_revise: {rounds: 1, few_shot: false, max_tokens: "
                                     "8, skip_when_ok: false, temperature: 1.0}\n"
                                     "label: {min_confidence: 0.0}\n"
                                     "sft: {epochs: 1, token_budget: 2048, max_length: 256}\n"
                                     "dpo: {epochs: 1, token_budget: 1024, max_length: 256}\n"
                                     "eval: {max_tokens: 8, task_limit: 2, critiques: false}\n",
                                 name + ".yaml");
    o.progress = false;
    o.stop_after = stop_after;
    return o;
  }
};

// The judge's and the generator's numbers depend in their last bits on which requests share
// a batch; a resumed stage that batched only the remaining items wrote other p_chosen values
// (and so trained other DPO weights) than the uninterrupted run. Resumption redoes the whole
// chunk the interruption fell in and appends only the missing lines.
TEST_F(LoopResume, KilledInsidePhase1AndPhase2EndsWithTheSameBytes) {
  run_loop(options("full", "round-1/dpo"));
  const fs::path full = kDir / "full", cut = kDir / "cut";

  run_loop(options("cut", "round-1/phase1"));
  cut_after(cut / "round-1/critique_revise.jsonl", 5);
  unmark(cut, "phase1");
  run_loop(options("cut", "round-1/phase2"));
  EXPECT_EQ(renamed(slurp(cut / "round-1/critique_revise.jsonl"), cut, full),
            slurp(full / "round-1/critique_revise.jsonl"));

  cut_after(cut / "round-1/labels.jsonl", 3);
  unmark(cut, "phase2");
  const LoopResult r = run_loop(options("cut", "round-1/dpo"));
  EXPECT_EQ(r.stopped, "stop_after");
  for (const char* f :
       {"round-1/labels.jsonl", "round-1/dpo_data.jsonl", "round-1/sft_data.jsonl",
        "round-1/sft/final/model.safetensors", "round-1/dpo/final/model.safetensors"})
    EXPECT_EQ(renamed(slurp(cut / f), cut, full), slurp(full / f)) << f;
}

// A disk that fills up at any point of the round: the run stops with an error naming the file
// it could not write, leaves no temporary or half file and no stage marked done without its
// output; once there is room again, the continued run ends with the uninterrupted run's bytes.
TEST_F(LoopResume, FullDiskStopsWithTheFileNamedAndTheRunContinuesExactly) {
  run_loop(options("room", "round-1/dpo"));
  const fs::path room = kDir / "room";
  int failures = 0;
  for (const std::int64_t budget : {3000, 60000, 400000, 2000000}) {
    SCOPED_TRACE(budget);
    const std::string name = "full-disk-" + std::to_string(budget);
    const fs::path run = kDir / name;
    set_write_fault({budget, 0});
    try {
      run_loop(options(name, "round-1/dpo"));
    } catch (const Error& e) {
      ++failures;
      const std::string msg = e.what();
      EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
      EXPECT_NE(msg.find(run.string()), std::string::npos) << msg;
    }
    set_write_fault({});
    for (const auto& f : fs::recursive_directory_iterator(run)) {
      const std::string p = f.path().string();
      EXPECT_FALSE(p.ends_with(".tmp")) << p;
    }
    if (fs::exists(run / "round-1/stages.json")) {
      const auto done = nlohmann::json::parse(slurp(run / "round-1/stages.json"))["done"];
      if (done.contains("phase1")) {
        EXPECT_TRUE(fs::exists(run / "round-1/critique_revise.jsonl"));
      }
      if (done.contains("sft")) {
        EXPECT_TRUE(fs::exists(run / "round-1/sft/final"));
      }
    }
    run_loop(options(name, "round-1/dpo"));
    for (const char* f :
         {"round-1/critique_revise.jsonl", "round-1/labels.jsonl",
          "round-1/sft/final/model.safetensors", "round-1/dpo/final/model.safetensors"})
      EXPECT_EQ(renamed(slurp(run / f), run, room), slurp(room / f)) << f;
  }
  EXPECT_GE(failures, 3);  // the budgets fall inside the round, not after it
}

// A run folder that cannot be written: a clear error naming it and a non-zero exit.
TEST_F(LoopResume, UnwritableRunFolderIsAClearError) {
  const fs::path blocker = kDir / "not-a-folder";
  std::ofstream(blocker) << "a file where the run folder's parent should be\n";
  const fs::path yaml = kDir / "unwritable.yaml";
  LoopOptions o = options("unwritable", "");
  o.config.out = (blocker / "run").string();
  std::ofstream(yaml) << o.config.to_yaml();
  const auto r = testing_util::run_cai("loop -q --config " + yaml.string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find((blocker / "run").string()), std::string::npos) << r.out;

  // Permission denied (injected: the tests may run as root, whom file modes do not stop).
  set_write_fault({-1, EACCES});
  try {
    run_loop(options("denied", ""));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Permission denied"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find((kDir / "denied").string()), std::string::npos)
        << e.what();
  }
  set_write_fault({});
}

// The stage table on a finished round: a deleted model is trained again and what reads it
// (later training, the evaluation) is made again; a deleted file nothing still needs is left
// alone. Training is deterministic here, so the remade model has the same bytes.
TEST_F(LoopResume, ADeletedModelIsRemadeWithWhatReadsIt) {
  const LoopOptions o = options("deleted", "");
  run_loop(o);
  const fs::path run = kDir / "deleted", round = run / "round-1";
  const std::string dpo_bytes = slurp(round / "dpo/final/model.safetensors");
  const auto ran = [&](const LoopResult& r, const std::string& stage) {
    return std::find(r.ran.begin(), r.ran.end(), "round-1/" + stage) != r.ran.end();
  };

  fs::remove_all(round / "dpo" / "final");
  LoopResult r = run_loop(o);
  for (const char* s : {"dpo", "eval", "quality"}) EXPECT_TRUE(ran(r, s)) << s;
  for (const char* s : {"phase1", "phase2", "sft_data", "sft", "dpo_data"})
    EXPECT_FALSE(ran(r, s)) << s;
  EXPECT_EQ(slurp(round / "dpo/final/model.safetensors"), dpo_bytes);

  // Phase 1's file: the training made from it is complete, so nothing runs.
  fs::remove(round / "critique_revise.jsonl");
  EXPECT_TRUE(run_loop(o).ran.empty());
  EXPECT_FALSE(fs::exists(round / "critique_revise.jsonl"));

  // SFT's model: SFT again, then DPO (it starts from SFT's model) and the evaluation.
  fs::remove_all(round / "sft" / "final");
  r = run_loop(o);
  for (const char* s : {"sft", "dpo", "eval", "quality"}) EXPECT_TRUE(ran(r, s)) << s;
  EXPECT_FALSE(ran(r, "phase1"));
  EXPECT_EQ(slurp(round / "dpo/final/model.safetensors"), dpo_bytes);
}

}  // namespace resume_test
}  // namespace cai::loop
