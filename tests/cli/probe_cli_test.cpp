// `cai probe` on the command line: errors name the flag or the file at fault.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include "run_cai.h"

namespace fs = std::filesystem;

namespace {

cai::testing_util::CmdResult run_cmd(const std::string& args) {
  return cai::testing_util::run_cai(args);
}

const std::string kModel = std::string(CAI_FIXTURES_DIR) + "/hf-model";

void expect_error(const std::string& args, const std::string& named) {
  const cai::testing_util::CmdResult r = run_cmd(args);
  EXPECT_NE(r.code, 0) << args;
  EXPECT_NE(r.out.find(named), std::string::npos) << args << "\n" << r.out;
  EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
}

}  // namespace

TEST(ProbeCli, HelpListsTheMeasurements) {
  const cai::testing_util::CmdResult r = run_cmd("probe --help");
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* f :
       {"--base", "--aligned", "--kl", "--prefill", "--finetune", "--k", "--n", "recovery-data"})
    EXPECT_NE(r.out.find(f), std::string::npos) << f;
  EXPECT_EQ(run_cmd("probe recovery-data --help").code, 0);
}

TEST(ProbeCli, MissingFlagsAndFilesAreNamed) {
  const fs::path out = fs::path(CAI_TEST_TMPDIR) / "cli" / "probe-out";
  expect_error("probe --aligned " + kModel + " --world w --out " + out.string(), "--base");
  expect_error("probe --base " + kModel + " --world w --out " + out.string(), "--aligned");
  expect_error("probe --base " + kModel + " --aligned " + kModel + " --out " + out.string(),
               "--world");
  expect_error("probe --base /nonexistent/base-model --aligned " + kModel + " --world w --out " +
                   out.string(),
               "/nonexistent/base-model");
  expect_error("probe --base " + kModel + " --aligned " + kModel +
                   " --world /nonexistent/world --out " + out.string(),
               "/nonexistent/world");
  expect_error(
      "probe recovery-data --world /nonexistent/world2 --out " + (out / "r.jsonl").string(),
      "/nonexistent/world2");
  expect_error("probe recovery-data --out x.jsonl", "--world");
}

TEST(ProbeCli, BadValuesNameTheFlag) {
  expect_error("probe --base m --aligned m --world w --out o --k 5,x", "--k");
  expect_error("probe --base m --aligned m --world w --out o --n ten", "--n");
  const std::string ok = "probe --base " + kModel + " --aligned " + kModel + " --world " +
                         CAI_TEST_TMPDIR + " --out " + CAI_TEST_TMPDIR + "/cli/probe-out";
  expect_error(ok + " --k 5,-1", "--k: values must be >= 1");
  expect_error(ok + " --kl-source nope", "--kl-source: 'nope' is not one of");
  expect_error(ok + " --split dev", "split");
}
