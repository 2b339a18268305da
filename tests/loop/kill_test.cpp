// Kill anywhere, shortened: scripts/kill-anywhere.sh SIGKILLs `cai loop` at three random moments
// of a one-round run on a tiny world (Phase 1, Phase 2, SFT, DPO, reward model, RLOO; one epoch
// each), resumes it each time and compares every file of the finished run with an uninterrupted
// run's. `make kill-test` is the long version. CTest runs it alone (CAI_SERIAL_SUITES): beside
// another test, libtorch's threads spinning for the same cores made it take minutes, not seconds.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace cai::loop::kill_test {

namespace fs = std::filesystem;

TEST(KillAnywhere, ThreeRandomKillsEndWithTheUninterruptedRunsFiles) {
  const fs::path script =
      fs::path(CAI_TEST_SOURCE_DIR) / ".." / ".." / "scripts" / "kill-anywhere.sh";
  const fs::path dir = fs::path(CAI_TEST_TMPDIR) / ("kill-anywhere-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string cmd = "bash " + script.string() + " --cai " + CAI_BINARY +
                          " --kills 3 --rounds 1 --epochs 1 --seed 11 --dir " + dir.string() +
                          " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("PASS: 3 kills"), std::string::npos) << out;
  if (WEXITSTATUS(status) == 0) fs::remove_all(dir);
}

}  // namespace cai::loop::kill_test
