// `cai world generate` and `cai world check` end to end, when the cai executable is built
// (the test binary does not depend on it, so it skips rather than fails without it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/world/oracle.h"
#include "cai/world/responses.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace cai::world;

TEST(WorldCli, GenerateThenCheck) {
  if (!fs::exists(CAI_BINARY)) GTEST_SKIP() << "cai executable not built";
  const fs::path dir = testutil::tmpdir("cli");
  const std::string cai = CAI_BINARY;
  const std::string gen = cai + " world generate --seed 9 --out " + (dir / "w").string() +
                          " --conversations 200 --critiques 50 --comparisons 40 2>/dev/null";
  ASSERT_EQ(std::system(gen.c_str()), 0);
  const World w = load_world(dir / "w");

  // Half the test prompts answered well, half with empathy broken.
  std::ofstream in(dir / "responses.jsonl");
  std::size_t n = 0;
  for (const auto& p : w.prompts) {
    if (p.split != "test") continue;
    Compliance c;
    c[PrincipleId::empathy] = n % 2 == 0;
    const nlohmann::json j = {{"id", p.id},
                              {"response", compose_response(p, w.knowledge, c, {n, false})}};
    in << j.dump() << "\n";
    ++n;
  }
  in.close();
  const std::string chk = cai + " world check --json --world " + (dir / "w").string() +
                          " --input " + (dir / "responses.jsonl").string() + " --output " +
                          (dir / "verdicts.jsonl").string() + " > " +
                          (dir / "summary.json").string();
  ASSERT_EQ(std::system(chk.c_str()), 0);
  const auto s = nlohmann::json::parse(cai::read_file(dir / "summary.json"));
  EXPECT_EQ(s["overall"]["total"], n);
  EXPECT_EQ(s["principles"]["empathy"]["pass"], (n + 1) / 2);
  EXPECT_EQ(s["principles"]["cite-source"]["rate"], 1.0);
  std::size_t lines = 0;
  cai::for_each_jsonl(dir / "verdicts.jsonl", [&](const nlohmann::json& j, std::size_t) {
    ++lines;
    EXPECT_TRUE(j.contains("principles"));
  });
  EXPECT_EQ(lines, n);

  // A response naming an unknown id is an error naming the file and line.
  std::ofstream bad(dir / "bad.jsonl");
  bad << "{\"id\": \"nope\", \"response\": \"x\"}\n";
  bad.close();
  const std::string err = cai + " world check --world " + (dir / "w").string() + " --input " +
                          (dir / "bad.jsonl").string() + " 2> " + (dir / "err.txt").string();
  EXPECT_NE(std::system(err.c_str()), 0);
  EXPECT_NE(cai::read_file(dir / "err.txt").find("bad.jsonl:1"), std::string::npos);
}
