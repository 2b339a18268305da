// The stage table on stages that write files: what is complete is skipped; a stage runs only
// when its outputs are the round's results or feed a stage that runs, or when it reads what a
// running stage remakes; a stage skipped for want of data counts as complete; `then` hooks see
// every stage in order.
#include "../../src/loop/stage_table.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../../src/loop/internal.h"

namespace cai::loop::detail {
namespace {

namespace fs = std::filesystem;

const fs::path kRun = fs::path(CAI_TEST_TMPDIR) / "loop-stage-table";

const char* name_of(StageEvent e) {
  switch (e) {
    case StageEvent::start:
      return "start";
    case StageEvent::ran:
      return "ran";
    case StageEvent::complete:
      return "complete";
    case StageEvent::not_needed:
      return "not needed";
  }
  return "?";
}

// a -> b -> result; `ran` collects the stages run, `seen` every `then`, `how` every report.
struct Chain {
  std::vector<std::string> ran, seen, how;
  StageTable table(const RoundDir& rd, bool b_empty) {
    StageTable t;
    auto add = [&](const std::string& name, std::vector<fs::path> in, fs::path out, bool result,
                   bool empty) {
      t.add({name,
             std::move(in),
             {out},
             [this, name, out, empty] {
               ran.push_back(name);
               if (empty) return nlohmann::json{{"skipped", "no examples"}};
               std::ofstream(out) << name;
               return nlohmann::json();
             },
             [this, name] { seen.push_back(name); },
             result});
    };
    add("a", {}, rd / "a.txt", false, false);
    add("b", {rd / "a.txt"}, rd / "b.txt", false, b_empty);
    add("result", {rd / "b.txt"}, rd / "result.txt", true, false);
    return t;
  }
  void run(RoundDir& rd, bool b_empty = false) {
    ran.clear(), seen.clear(), how.clear();
    table(rd, b_empty).run(rd, [this](const Stage& s, StageEvent e, double) {
      if (e != StageEvent::start) how.push_back(s.name + ":" + name_of(e));
    });
  }
};

using Names = std::vector<std::string>;

TEST(StageTable, RunsWhatIsIncompleteAndNeeded) {
  fs::remove_all(kRun);
  RoundDir rd(kRun, 1);
  Chain c;
  c.run(rd);
  EXPECT_EQ(c.ran, (Names{"a", "b", "result"}));
  EXPECT_EQ(c.seen, (Names{"a", "b", "result"}));
  // Everything complete: nothing runs, every hook still sees its stage.
  c.run(rd);
  EXPECT_TRUE(c.ran.empty());
  EXPECT_EQ(c.seen, (Names{"a", "b", "result"}));
  EXPECT_EQ(c.how, (Names{"a:complete", "b:complete", "result:complete"}));
  // A lost intermediate file is not redone while what it fed is complete...
  fs::remove(rd / "a.txt");
  c.run(rd);
  EXPECT_TRUE(c.ran.empty());
  EXPECT_EQ(c.how.front(), "a:not needed");
  // ...but a lost result is, and so is what it needs that is missing.
  fs::remove(rd / "result.txt");
  fs::remove(rd / "b.txt");
  c.run(rd);
  EXPECT_EQ(c.ran, (Names{"a", "b", "result"}));
}

// a feeds two results, b and c. Remaking a (c needs it) remakes b too, though b was complete;
// the stages about to be redone are unlogged first, so a kill midway leaves them to redo.
TEST(StageTable, WhatReadsARemadeFileIsMadeAgain) {
  fs::remove_all(kRun);
  RoundDir rd(kRun, 3);
  Names ran;
  auto table = [&] {
    StageTable t;
    for (const auto& [name, in] : std::vector<std::pair<std::string, std::vector<fs::path>>>{
             {"a", {}}, {"b", {rd / "a.txt"}}, {"c", {rd / "a.txt"}}}) {
      const fs::path out = rd / (name + ".txt");
      t.add({name,
             in,
             {out},
             [&ran, name, out] {
               ran.push_back(name);
               std::ofstream(out) << name;
               return nlohmann::json();
             },
             {},
             name != "a"});
    }
    return t;
  };
  auto quiet = [](const Stage&, StageEvent, double) {};
  table().run(rd, quiet);
  EXPECT_EQ(ran, (Names{"a", "b", "c"}));
  ran.clear();
  fs::remove(rd / "a.txt");
  fs::remove(rd / "c.txt");
  EXPECT_EQ(table().plan(rd).runs, (std::vector<bool>{true, true, true}));
  // Killed as a starts: b, complete before, is no longer logged.
  struct Killed {};
  EXPECT_THROW(table().run(rd,
                           [](const Stage& s, StageEvent e, double) {
                             if (s.name == "a" && e == StageEvent::start) throw Killed{};
                           }),
               Killed);
  EXPECT_FALSE(RoundDir(kRun, 3).done("b"));
  EXPECT_TRUE(ran.empty());
  table().run(rd, quiet);
  EXPECT_EQ(ran, (Names{"a", "b", "c"}));
  ran.clear();
  table().run(rd, quiet);
  EXPECT_TRUE(ran.empty());
}

// A stage that runs because what it reads is remade starts afresh (its outputs and working
// files removed before it runs); one that runs because it is incomplete continues what it left.
TEST(StageTable, RemadeInputsStartAfreshIncompleteStagesContinue) {
  fs::remove_all(kRun);
  RoundDir rd(kRun, 4);
  const fs::path work = rd / "b-work";
  std::vector<std::string> seen;  // what b found when it started
  auto table = [&] {
    StageTable t;
    t.add({"a", {}, {rd / "a.txt"}, [&] {
             std::ofstream(rd / "a.txt") << "a";
             return nlohmann::json();
           }});
    t.add({"b",
           {rd / "a.txt"},
           {rd / "b.txt"},
           [&] {
             seen.push_back(fs::exists(work) ? "continued" : "afresh");
             fs::create_directories(work);
             std::ofstream(rd / "b.txt") << "b";
             return nlohmann::json();
           },
           {},
           true,
           {work}});
    return t;
  };
  auto quiet = [](const Stage&, StageEvent, double) {};
  table().run(rd, quiet);
  // Killed inside b (unlogged, its work left): b continues.
  rd.unmark({"b"});
  fs::remove(rd / "b.txt");
  table().run(rd, quiet);
  // a's file lost and remade (a result needs it): b starts afresh.
  fs::remove(rd / "a.txt");
  fs::remove(rd / "b.txt");
  table().run(rd, quiet);
  EXPECT_EQ(seen, (Names{"afresh", "continued", "afresh"}));
  const auto p = table().plan(rd);
  EXPECT_EQ(p.runs, (std::vector<bool>{false, false}));
}

TEST(StageTable, LoggedWithoutItsOutputsOrSkippedForWantOfData) {
  fs::remove_all(kRun);
  RoundDir rd(kRun, 2);
  Chain c;
  // Logged, but its output is gone: it runs, and what reads it runs after it.
  rd.mark("a", 1.0);
  c.run(rd);
  EXPECT_EQ(c.ran, (Names{"a", "b", "result"}));
  // A stage with nothing to learn from logs "skipped" and is complete without outputs.
  fs::remove_all(kRun);
  RoundDir rd2(kRun, 2);
  c.run(rd2, /*b_empty=*/true);
  EXPECT_EQ(c.ran, (Names{"a", "b", "result"}));
  EXPECT_FALSE(fs::exists(rd2 / "b.txt"));
  EXPECT_TRUE(StageTable::complete(RoundDir(kRun, 2), {"b", {}, {rd2 / "b.txt"}, {}}));
  c.run(rd2, /*b_empty=*/true);
  EXPECT_TRUE(c.ran.empty());
  // Run again with data, the stage's old "skipped" note goes: it is complete by its output.
  fs::remove(rd2 / "result.txt");
  rd2.unmark({"b"});
  c.run(rd2);
  EXPECT_TRUE(fs::exists(rd2 / "b.txt"));
  EXPECT_FALSE(RoundDir(kRun, 2).note("b").contains("skipped"));
}

}  // namespace
}  // namespace cai::loop::detail
