// The loop's dataset stages on hand-written Phase 1 and Phase 2 files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../../src/loop/internal.h"

namespace cai::loop::detail {
namespace stages_test {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRun = fs::path(CAI_TEST_TMPDIR) / "loop-stages";

json phase1_row(const std::string& prompt, const std::string& init, const std::string& final_text) {
  return {{"prompt", prompt},
          {"init_response", init},
          {"messages", json::array({{{"role", "user"}, {"content", prompt}},
                                    {{"role", "assistant"}, {"content", final_text}}})}};
}

json label_row(const std::string& prompt, const std::string& chosen, const std::string& rejected,
               double p) {
  return {{"prompt_text", prompt},
          {"chosen_text", chosen},
          {"rejected_text", rejected},
          {"p_chosen", p}};
}

void write_lines(const fs::path& p, const std::vector<json>& rows) {
  std::ofstream f(p);
  for (const auto& r : rows) f << r.dump() << "\n";
}

std::vector<std::string> sft_finals(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream f(p);
  for (std::string l; std::getline(f, l);)
    if (!l.empty()) out.push_back(json::parse(l)["messages"].back()["content"].get<std::string>());
  return out;
}

// Phase 1: a revision the judge prefers, one it rates below the initial response, one prompt
// left unrevised (its pair is chosen == rejected) and one revision the judge never labelled.
TEST(LoopStages, OnlyPreferredRevisionsLeavesOutThoseTheJudgeRejects) {
  fs::remove_all(kRun);
  const RoundDir rd(kRun, 1);
  write_lines(
      rd / "critique_revise.jsonl",
      {phase1_row("p1", "init one", "better one"), phase1_row("p2", "init two", "worse two"),
       phase1_row("p3", "same three", "same three"), phase1_row("p4", "init four", "new four")});
  write_lines(rd / "labels.jsonl", {label_row("p1", "better one", "init one", 0.8),
                                    label_row("p2", "init two", "worse two", 0.7),
                                    label_row("p3", "same three", "same three", 0.5)});
  LoopConfig c;
  EXPECT_EQ(write_sft_data(c, rd), 4u);  // off: every non-empty final response
  EXPECT_EQ(sft_finals(rd / "sft_data.jsonl"),
            (std::vector<std::string>{"better one", "worse two", "same three", "new four"}));
  c.sft.only_preferred_revisions = true;
  EXPECT_EQ(write_sft_data(c, rd), 3u);
  EXPECT_EQ(sft_finals(rd / "sft_data.jsonl"),
            (std::vector<std::string>{"better one", "same three", "new four"}));
}

}  // namespace stages_test
}  // namespace cai::loop::detail
