// `cai label --report FILE --injections NOTES`: how far notes aimed at the judge move its
// labels. Each pair of the label file whose two responses differ is judged again (the
// principles its line names, all weighted as in the file, both orders), then once per note
// appended to the chosen response and once appended to the rejected one. The tally
// (eval/injection.h) gives the flip rate with its 95% Wilson interval and the shift of
// p_chosen, overall, per side and per note.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "cai/eval/injection.h"
#include "cai/pipeline/label.h"

namespace cai::eval {

// {"pairs", "identical_skipped", "baseline": {"mean_p_chosen", "agrees_with_file"},
//  "tally": InjectionTally::to_json()}. opts gives the prompt format and the seed; every
// principle a line names judges it (its ensemble is ignored). Errors name file:line.
nlohmann::json injection_report(Backend& judge, const Constitution& c,
                                const std::filesystem::path& labels,
                                const std::vector<Injection>& notes,
                                const pipeline::LabelOptions& opts);
std::string injection_report_text(const nlohmann::json& report);

}  // namespace cai::eval
