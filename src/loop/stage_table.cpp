// The stage table (stage_table.h).
#include "stage_table.h"

#include <chrono>
#include <set>

#include "internal.h"

namespace cai::loop::detail {

bool StageTable::complete(const RoundDir& rd, const Stage& s) {
  if (!rd.done(s.name)) return false;
  if (rd.note(s.name).contains("skipped")) return true;  // nothing to learn from: no outputs
  for (const auto& o : s.outputs)
    if (!fs::exists(o)) return false;
  return true;
}

StageTable::Plan StageTable::plan(const RoundDir& rd) const {
  const std::size_t n = stages_.size();
  std::vector<bool> done(n), runs(n, false), fresh(n, false);
  for (std::size_t i = 0; i < n; ++i) done[i] = complete(rd, stages_[i]);
  auto reads_any = [](const std::vector<fs::path>& files, const std::set<fs::path>& of) {
    for (const auto& f : files)
      if (of.count(f)) return true;
    return false;
  };
  // To a fixed point (the table is a handful of stages): backwards, what an incomplete result
  // or a running stage needs; forwards, what reads the output of a running stage.
  for (bool changed = true; changed;) {
    changed = false;
    std::set<fs::path> wanted;
    for (std::size_t i = n; i-- > 0;) {
      const Stage& s = stages_[i];
      if (!runs[i] && !done[i] && (s.result || reads_any(s.outputs, wanted)))
        runs[i] = changed = true;
      if (runs[i]) wanted.insert(s.inputs.begin(), s.inputs.end());
    }
    std::set<fs::path> remade;
    for (std::size_t i = 0; i < n; ++i) {
      const Stage& s = stages_[i];
      if (reads_any(s.inputs, remade)) {
        if (!runs[i]) runs[i] = changed = true;
        fresh[i] = true;
      }
      if (runs[i]) remade.insert(s.outputs.begin(), s.outputs.end());
    }
  }
  return {done, runs, fresh};
}

void StageTable::run(RoundDir& rd, const Report& report) const {
  const auto [done, runs, fresh] = plan(rd);
  // What starts afresh loses what an earlier run of it left, then every stage about to run is
  // unlogged: a kill before it ends must not leave the log vouching for outputs made from data
  // that is being remade, nor a trainer continuing a checkpoint of the old data.
  std::vector<std::string> redo;
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (!runs[i]) continue;
    if (fresh[i]) {
      for (const auto& o : stages_[i].outputs) fs::remove_all(o);
      for (const auto& w : stages_[i].work) fs::remove_all(w);
    }
    if (rd.done(stages_[i].name)) redo.push_back(stages_[i].name);
  }
  rd.unmark(redo);
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    const Stage& s = stages_[i];
    if (!runs[i]) {
      if (s.then) s.then();
      report(s, done[i] ? StageEvent::complete : StageEvent::not_needed, 0.0);
      continue;
    }
    report(s, StageEvent::start, 0.0);
    const auto t0 = std::chrono::steady_clock::now();
    const nlohmann::json note = s.run();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rd.mark(s.name, seconds, note);
    if (s.then) s.then();
    report(s, StageEvent::ran, seconds);
  }
}

}  // namespace cai::loop::detail
