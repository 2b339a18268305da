// Recovery rows from Phase 1's pairs (see include/cai/pipeline/recovery.h).
#include "cai/pipeline/recovery.h"

#include <algorithm>

#include "cai/io/error.h"
#include "cai/io/file.h"

namespace cai::pipeline {
namespace {

// The end of each space-separated word of s.
std::vector<std::size_t> word_ends(const std::string& s) {
  std::vector<std::size_t> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t b = s.find_first_not_of(' ', i);
    if (b == std::string::npos) break;
    i = std::min(s.find(' ', b), s.size());
    out.push_back(i);
  }
  return out;
}

// A uniform index below n from the draw of (seed, index, round).
std::size_t draw_below(std::uint64_t seed, std::uint64_t index, std::uint64_t round,
                       std::size_t n) {
  const double u = uniform_draw(seed, stream_id(index, round, Stage::recovery));
  return std::min(n - 1, static_cast<std::size_t>(u * static_cast<double>(n)));
}

}  // namespace

nlohmann::json Phase1RecoveryRow::to_json() const {
  return recovery_row(prompt, violating_start, assistant);
}

nlohmann::json Phase1RecoveryRow::to_pair_json() const {
  return recovery_pair(prompt, violating_start, assistant, initial);
}

namespace {
nlohmann::json turn(const char* role, const std::string& text) {
  return {{"role", role}, {"content", text}};
}

// What follows `start` in a whole turn that begins with it.
std::string after_start(const std::string& start, const std::string& whole) {
  CAI_CHECK(whole.size() > start.size() && whole.compare(0, start.size(), start) == 0,
            "recovery row: the turn '{}' does not continue its start '{}'", whole, start);
  return whole.substr(start.size());
}

nlohmann::json continued_prompt(const std::string& prompt, const std::string& start) {
  return nlohmann::json::array({turn("user", prompt), turn("assistant", start)});
}
}  // namespace

nlohmann::json recovery_row(const std::string& prompt, const std::string& start,
                            const std::string& turn_text) {
  return {
      {"prompt", continued_prompt(prompt, start)},
      {"completion", nlohmann::json::array({turn("assistant", after_start(start, turn_text))})}};
}

nlohmann::json recovery_pair(const std::string& prompt, const std::string& start,
                             const std::string& chosen, const std::string& rejected) {
  return {{"prompt", continued_prompt(prompt, start)},
          {"chosen", nlohmann::json::array({turn("assistant", after_start(start, chosen))})},
          {"rejected", nlohmann::json::array({turn("assistant", after_start(start, rejected))})}};
}

std::string leading_words(const std::string& text, std::size_t n) {
  if (n == 0) return "";
  const auto ends = word_ends(text);
  if (ends.empty()) return "";
  return text.substr(0, ends[std::min(n, ends.size()) - 1]);
}

std::size_t count_words(const std::string& text) { return word_ends(text).size(); }

std::vector<std::size_t> revised_records(const std::vector<PairInput>& pairs) {
  std::vector<std::size_t> usable;
  for (std::size_t i = 0; i < pairs.size(); ++i)
    if (pairs[i].a != pairs[i].b && count_words(pairs[i].a) >= 2 && !pairs[i].b.empty())
      usable.push_back(i);
  return usable;
}

std::vector<Phase1RecoveryRow> phase1_recovery_rows(const std::vector<PairInput>& pairs,
                                                    const Phase1RecoveryOptions& opts) {
  opts.validate();
  const std::vector<std::size_t> usable = revised_records(pairs);
  CAI_CHECK(!usable.empty(),
            "recovery rows: no Phase 1 record was revised (every final response equals its "
            "initial one)");
  std::vector<Phase1RecoveryRow> rows;
  std::vector<std::size_t> order;
  std::uint64_t pass = 0;
  for (std::int64_t r = 0; r < opts.count; ++r) {
    if (order.empty()) {
      // A seeded shuffle (Fisher-Yates) of the usable records for each pass over them.
      order = usable;
      for (std::size_t i = order.size() - 1; i > 0; --i)
        std::swap(order[i], order[draw_below(opts.seed, i, 2 * pass, i + 1)]);
      std::reverse(order.begin(), order.end());
      ++pass;
    }
    const PairInput& p = pairs[order.back()];
    order.pop_back();
    // A usable record has two words or more: the start always leaves one out.
    const auto most =
        std::min(static_cast<std::size_t>(opts.max_prefix_words), count_words(p.a) - 1);
    const std::size_t keep = 1 + draw_below(opts.seed, static_cast<std::uint64_t>(r), 1, most);
    Phase1RecoveryRow row;
    row.id = p.id;
    row.prompt = p.prompt;
    row.violating_start = leading_words(p.a, keep);
    row.revision = p.b;
    row.initial = p.a;
    row.assistant = row.violating_start + opts.connector + row.revision;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string phase1_recovery_jsonl(const std::vector<PairInput>& pairs,
                                  const Phase1RecoveryOptions& opts) {
  std::string text;
  for (const auto& r : phase1_recovery_rows(pairs, opts))
    text += (opts.pairs ? r.to_pair_json() : r.to_json()).dump() + "\n";
  return text;
}

std::size_t write_phase1_recovery_rows(const std::filesystem::path& phase1,
                                       const std::filesystem::path& out,
                                       const Phase1RecoveryOptions& opts) {
  const std::string text = phase1_recovery_jsonl(read_phase1_pairs(phase1), opts);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  write_file_atomic(out, text);
  return static_cast<std::size_t>(opts.count);
}

}  // namespace cai::pipeline
