// Injected notes against a label file's judge (see include/cai/eval/label_injection.h).
#include "cai/eval/label_injection.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "cai/io/error.h"
#include "cai/pipeline/label_file.h"

namespace cai::eval {

namespace {

struct Line {
  pipeline::PairInput pair;  // a = chosen, b = rejected
  bool file_a_wins = true;   // the file's p_chosen >= 0.5 (false only for a hand-made file)
};

}  // namespace

nlohmann::json injection_report(Backend& judge, const Constitution& c,
                                const std::filesystem::path& labels,
                                const std::vector<Injection>& notes,
                                const pipeline::LabelOptions& opts) {
  CAI_CHECK(!notes.empty(), "label report: no injected notes");
  // Lines grouped by the principles that judged them (one group when the file ensembled all).
  std::map<std::vector<std::string>, std::vector<Line>> groups;
  std::size_t identical = 0, n = 0, key = 0;
  pipeline::for_each_label_line(labels, [&](const pipeline::LabelLine& ll) {
    ++key;
    if (ll.chosen == ll.rejected) {
      ++identical;  // nothing to prefer: a note would decide alone
      return;
    }
    Line l;
    l.pair.key = key;
    l.pair.where = ll.where;
    l.pair.prompt = ll.prompt;
    l.pair.a = ll.chosen;
    l.pair.b = ll.rejected;
    l.file_a_wins = ll.p_chosen >= 0.5;
    std::vector<std::string> names;
    for (const auto& [name, p] : ll.principles) names.push_back(name);
    if (names.empty())
      for (const auto& p : c.principles) names.push_back(p.name);
    for (const auto& name : names)
      CAI_CHECK(std::any_of(c.principles.begin(), c.principles.end(),
                            [&](const Principle& p) { return p.name == name; }),
                "{}: principle \"{}\" is not in the constitution", ll.where, name);
    groups[names].push_back(std::move(l));
    ++n;
  });
  InjectionTally tally(notes);
  pipeline::LabelOptions o = opts;
  o.ensemble = -1;
  o.samples = 0;
  double sum_p = 0.0;
  std::size_t agrees = 0;
  for (const auto& [names, lines] : groups) {
    Constitution sub = c;
    sub.principles.clear();
    for (const auto& name : names) sub.principles.push_back(c.principle(name));
    // Per line: the pair as it is, then each note on a (the chosen), then each note on b.
    std::vector<pipeline::PairInput> pairs;
    for (const auto& l : lines) {
      pairs.push_back(l.pair);
      for (int side = 0; side < 2; ++side)
        for (const auto& note : notes) {
          pipeline::PairInput v = l.pair;
          (side == 0 ? v.a : v.b) += note.text;
          pairs.push_back(std::move(v));
        }
    }
    const auto judged = pipeline::judge_pairs(judge, sub, pairs, o);
    const std::size_t stride = 1 + 2 * notes.size();
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const double p_a = judged[i * stride].p_a;
      sum_p += std::max(p_a, 1.0 - p_a);
      agrees += (p_a >= 0.5) == lines[i].file_a_wins;
      for (std::size_t side = 0; side < 2; ++side)
        for (std::size_t k = 0; k < notes.size(); ++k)
          tally.add(k, side == 0, p_a, judged[i * stride + 1 + side * notes.size() + k].p_a);
    }
  }
  const double d = n ? static_cast<double>(n) : 1.0;
  return {{"pairs", n},
          {"identical_skipped", identical},
          {"baseline",
           {{"mean_p_chosen", sum_p / d}, {"agrees_with_file", static_cast<double>(agrees) / d}}},
          {"tally", tally.to_json()}};
}

std::string injection_report_text(const nlohmann::json& r) {
  std::string s = fmt::format(
      "injected notes: {} pairs judged again ({} with identical responses skipped); without "
      "notes mean p_chosen {:.3f}, {:.1f}% prefer the file's chosen response\n",
      r["pairs"].get<std::size_t>(), r["identical_skipped"].get<std::size_t>(),
      r["baseline"]["mean_p_chosen"].get<double>(),
      100.0 * r["baseline"]["agrees_with_file"].get<double>());
  return s + injection_text(r["tally"]);
}

}  // namespace cai::eval
