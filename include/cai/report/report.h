// `cai report RUN_DIR`: one self-contained HTML page about a `cai loop` run directory (layout
// in the loop's header): the run summary and manifest, training curves per round, oracle- and
// judge-rated compliance per principle per round, on-topic / right-fact / over-refusal and
// capability per round, the alignment-tax bars, the label-confidence histogram with the judge's
// position-bias rate, the shallow-alignment probe of probe/probe.json (`cai probe`: KL by
// response position, prefill and fine-tuning attack tables), and before/after examples with
// their critique trail.
//
// The page needs no network and no script to show its plots (inline SVG and CSS). A run killed
// midway still reports: a missing file turns its section into a "not available" note. A file
// that exists but is malformed throws cai::Error naming the file and line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace cai::report {

struct ReportOptions {
  std::filesystem::path run_dir;  // the loop's run directory (required)
  std::filesystem::path out;      // default: run_dir / "report.html"
  std::string title;              // default: "cai run <manifest name>" (or the directory's name)
  std::int64_t examples = 3;      // Phase 1 examples and before/after eval examples shown, each
  void validate() const;          // throws cai::Error naming the field
};

// The whole page as a string (what write_report writes).
std::string render_report(const ReportOptions& opts);

// Renders and writes the page atomically; returns the path written.
std::filesystem::path write_report(const ReportOptions& opts);

}  // namespace cai::report
