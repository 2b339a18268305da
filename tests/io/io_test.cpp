#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"

namespace fs = std::filesystem;

namespace {
fs::path tmpdir(const std::string& name) {
  fs::path d = fs::path(CAI_TEST_TMPDIR) / "io" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(AtomicFile, WritesWholeFileAndLeavesNoTemporary) {
  fs::path d = tmpdir("atomic");
  cai::write_file_atomic(d / "a.txt", "first");
  cai::write_file_atomic(d / "a.txt", "second");
  EXPECT_EQ(cai::read_file(d / "a.txt"), "second");
  int n = 0;
  for (auto& e : fs::directory_iterator(d)) n += e.is_regular_file();
  EXPECT_EQ(n, 1);
}

TEST(AtomicFile, UncommittedWriteLeavesOldContent) {
  fs::path d = tmpdir("uncommitted");
  cai::write_file_atomic(d / "a.txt", "old");
  {
    cai::AtomicFile f(d / "a.txt");
    f.write("new but abandoned");
  }
  EXPECT_EQ(cai::read_file(d / "a.txt"), "old");
  int n = 0;
  for (auto& e : fs::directory_iterator(d)) n += e.is_regular_file();
  EXPECT_EQ(n, 1);
}

TEST(ReadFile, MissingFileNamesThePath) {
  try {
    cai::read_file("/nonexistent/dir/x.json");
    FAIL();
  } catch (const cai::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.json"), std::string::npos);
  }
}

TEST(MappedFile, MapsContent) {
  fs::path d = tmpdir("mmap");
  cai::write_file_atomic(d / "m.bin", std::string("abc\0def", 7));
  cai::MappedFile m(d / "m.bin");
  ASSERT_EQ(m.size(), 7u);
  EXPECT_EQ(m.data()[4], 'd');
}

TEST(Jsonl, ReportsFileAndLineOfBadJson) {
  std::istringstream in("{\"a\": 1}\n\n{\"b\": 2}\n{oops}\n");
  int seen = 0;
  try {
    cai::for_each_jsonl(in, "prompts.jsonl", [&](const nlohmann::json&, std::size_t) { ++seen; });
    FAIL();
  } catch (const cai::Error& e) {
    EXPECT_NE(std::string(e.what()).find("prompts.jsonl:4:"), std::string::npos) << e.what();
  }
  EXPECT_EQ(seen, 2);
}

TEST(Jsonl, LineNumbersCountBlankLines) {
  std::istringstream in("\n{\"x\": 1}\n\n{\"x\": 2}\n");
  std::vector<std::size_t> lines;
  cai::for_each_jsonl(in, "s", [&](const nlohmann::json& j, std::size_t l) { lines.push_back(l); });
  EXPECT_EQ(lines, (std::vector<std::size_t>{2, 4}));
}

TEST(Jsonl, WriterAppendsAndRecoveryDropsTornLine) {
  fs::path d = tmpdir("jsonl");
  fs::path p = d / "out.jsonl";
  {
    cai::JsonlWriter w(p, /*append=*/false);
    w.write({{"i", 0}});
    w.write({{"i", 1}});
  }
  {
    std::ofstream torn(p, std::ios::app);
    torn << "{\"i\": 2, \"tru";  // a run killed mid-line
  }
  EXPECT_EQ(cai::recover_jsonl(p), 2u);
  {
    cai::JsonlWriter w(p, /*append=*/true);
    w.write({{"i", 2}});
  }
  std::vector<int> got;
  cai::for_each_jsonl(p, [&](const nlohmann::json& j, std::size_t) { got.push_back(j["i"]); });
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(cai::recover_jsonl(d / "missing.jsonl"), 0u);
}
