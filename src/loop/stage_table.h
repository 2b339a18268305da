// A round's stages as a table: what each one reads and writes and how it runs. The table is the
// one place that decides whether a stage is complete and whether it runs:
//  - complete: the round's stage log (stages.json) lists it and every output it names exists,
//    or the log says it was skipped for want of data (it leaves no outputs then);
//  - runs: it is incomplete and its outputs are the round's results or feed a stage that runs,
//    or it reads an output of a stage that runs (what was made from old data is made again).
// So a round whose training finished does not redo Phase 1 for a deleted critique file, and a
// stage killed midway runs again (a trainer continues its own checkpoint).
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

  // Which stages run: one flag per stage, in order.
  std::vector<bool> plan(const RoundDir& rd) const;

  static bool complete(const RoundDir& rd, const Stage& s);

 private:
  std::vector<Stage> stages_;
};

}  // namespace cai::loop::detail
