// The fuzz targets' kept inputs replayed through the same entry points in the normal build:
// every file of fuzz/corpus/<target>/ (seeds, and inputs fuzzing found that reach new code)
// and fuzz/crashes/<target>/ (inputs that once crashed, kept after their fix). An input
// passes when its parser accepts it or rejects it with cai::Error; any other exception (or a
// crash) fails. Every target has kept inputs and every corpus folder a target.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../../fuzz/fuzz_target.h"

namespace {

namespace fs = std::filesystem;
const fs::path kFuzzDir = CAI_FUZZ_DIR;

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : cai::fuzz::registry()) names.push_back(name);
  return names;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FuzzReplay : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(FuzzReplay, KeptInputsAreAcceptedOrRejectedCleanly) {
  const std::string& name = GetParam();
  const cai::fuzz::Target target = cai::fuzz::registry().at(name);
  std::size_t inputs = 0;
  for (const char* kind : {"corpus", "crashes"}) {
    const fs::path dir = kFuzzDir / kind / name;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().filename().string().rfind('.', 0) == 0) continue;
      const std::string bytes = slurp(e.path());
      EXPECT_NO_THROW(target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()))
          << e.path().string();
      ++inputs;
    }
  }
  EXPECT_GT(inputs, 0u) << "no kept inputs in " << (kFuzzDir / "corpus" / name).string();
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(target_names()),
                         [](const auto& info) { return info.param; });

TEST(FuzzReplay, EveryCorpusFolderHasATarget) {
  for (const char* kind : {"corpus", "crashes"}) {
    if (!fs::is_directory(kFuzzDir / kind)) continue;
    for (const auto& e : fs::directory_iterator(kFuzzDir / kind)) {
      if (!e.is_directory()) continue;
      EXPECT_TRUE(cai::fuzz::registry().count(e.path().filename().string()))
          << e.path().string() << " names no fuzz target";
    }
  }
  EXPECT_GE(cai::fuzz::registry().size(), 10u);
}
