// The report's sections, each built from the run's files (run_data.h). A section whose files
// are missing says which ones instead of failing, so a run killed midway still reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run_data.h"

namespace cai::report {

struct Section {
  std::string id;     // HTML anchor
  std::string title;  // heading and table-of-contents entry
  std::string html;   // body (already escaped)
};

// sections.cpp: the run, and its training curves.
Section summary_section(const RunData& run);
Section training_section(const RunData& run);

// eval_sections.cpp: what the evaluations say per round.
Section oracle_section(const RunData& run);     // oracle compliance per principle
Section judge_section(const RunData& run);      // judge-rated compliance and agreement
Section behaviour_section(const RunData& run);  // on topic, right fact, over-refusal, capability
Section tax_section(const RunData& run);        // the alignment tax of summary.json

// labels_section.cpp: Phase 2 label confidence and the judge's position bias.
Section labels_section(const RunData& run);

// probe_section.cpp: the shallow-alignment probe (probe/probe.json): KL by position, the
// prefill and fine-tuning attack tables.
Section probe_section(const RunData& run);

// examples.cpp: the critique trail and before/after responses.
Section examples_section(const RunData& run, std::int64_t count);

// Shared bits of section HTML.
std::string note(const std::string& text);  // a "not available" style paragraph (escapes)
std::string missing(const std::vector<std::string>& files);  // "Not available: a, b." or ""
std::string plots_row(const std::string& plots);             // plots side by side, wrapping

}  // namespace cai::report
