// `cai tax`: the alignment tax between a base model's and an aligned model's benchmark scores.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cai/eval/tax.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "command.h"

namespace cai::cli {
namespace cmd_tax {

struct TaxFlags {
  std::string base, aligned, title, json_out;
};

void run(const TaxFlags& f) {
  auto report = eval::compute_tax(eval::read_scores(f.base), eval::read_scores(f.aligned), f.title);
  std::fputs(report.to_text().c_str(), stdout);
  if (!f.json_out.empty()) write_json(f.json_out, report.to_json());
}

const Registrar reg(75, [](CLI::App& root) {
  auto f = std::make_shared<TaxFlags>();
  CLI::App* cmd = root.add_subcommand("tax", "Alignment tax: benchmark scores of base vs aligned");
  cmd->add_option("--base", f->base, "Base model scores (JSON, or a `cai eval` results file)")
      ->required();
  cmd->add_option("--aligned", f->aligned, "Aligned model scores, same benchmarks")->required();
  cmd->add_option("--title", f->title, "Title of the report");
  cmd->add_option("--json", f->json_out, "Also write the report as JSON here");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_tax
}  // namespace cai::cli
