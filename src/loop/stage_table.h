// A round's stages as a table: what each one reads and writes and how it runs. The table is the
// one place that decides whether a stage is complete and whether it runs:
//  - complete: the round's stage log (stages.json) lists it and every output it names exists,
//    or the log says it was skipped for want of data (it leaves no outputs then);
//  - runs: it is incomplete and its outputs are the round's results or feed a stage that runs,
//    or it reads an output of a stage that runs (what was made from old data is made again).
// A stage that runs because what it reads is remade starts afresh: its outputs and its working
// files (a trainer's folder) are removed first. Any other stage that runs continues what a
// killed run left (Phase 1's and Phase 2's lines, a trainer's checkpoint). So a round whose
// training finished does not redo Phase 1 for a deleted critique file, a stage killed midway
// continues, and nothing is continued from data that has changed.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace cai::loop::detail {

class RoundDir;

struct Stage {
  std::string name;
  std::vector<std::filesystem::path> inputs;   // files it reads
  std::vector<std::filesystem::path> outputs;  // files or directories it leaves
  std::function<nlohmann::json()> run;         // writes the outputs; returns its log note
  // Called in order for every stage, run or not (threads the round's model through).
  std::function<void()> then = {};
  bool result = false;  // one of the round's results: runs whenever incomplete
  // Files or folders the stage continues from after a kill (a trainer's run folder), removed
  // with its outputs when it starts afresh.
  std::vector<std::filesystem::path> work = {};
};

// How a stage went: about to run, ran, complete (not run) or not needed (incomplete, not run).
enum class StageEvent { start, ran, complete, not_needed };

class StageTable {
 public:
  void add(Stage s) { stages_.push_back(std::move(s)); }

  // `report` hears of every stage (it may throw, to stop the round right after one).
  using Report = std::function<void(const Stage&, StageEvent, double seconds)>;

  // Runs the stages that must run, in order, marking each in `rd`'s log.
  void run(RoundDir& rd, const Report& report) const;

  // Per stage, in order: complete before the run, runs, starts afresh.
  struct Plan {
    std::vector<bool> done, runs, fresh;
  };
  Plan plan(const RoundDir& rd) const;

  static bool complete(const RoundDir& rd, const Stage& s);

 private:
  std::vector<Stage> stages_;
};

}  // namespace cai::loop::detail
