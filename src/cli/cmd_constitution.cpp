// `cai constitution check FILE [--json]`: validate a constitution and summarise it.
// `cai constitution convert IN OUT`: rewrite a constitution (e.g. an HF recipe JSON) as YAML.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cai/constitution/constitution.h"
#include "cai/io/error.h"
#include "command.h"

namespace cai::cli {
namespace cmd_constitution {

struct CheckFlags {
  std::string file;
  bool json = false;
};

struct ConvertFlags {
  std::string in, out;
};

// The first line of a request, cut to a terminal-friendly width (folded YAML text is one
// long line), with "..." when anything was left out.
std::string first_line(const std::string& s) {
  constexpr std::size_t kWidth = 100;
  const auto start = s.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return "";
  const auto end = s.find('\n', start);
  std::string line = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
  bool cut = end != std::string::npos && s.find_first_not_of(" \t\r\n", end) != std::string::npos;
  if (line.size() > kWidth) {
    std::size_t at = line.rfind(' ', kWidth);
    line.resize(at == std::string::npos || at < kWidth / 2 ? kWidth : at);
    cut = true;
  }
  return cut ? line + " ..." : line;
}

void print_json(const Constitution& c) {
  nlohmann::ordered_json j;
  j["name"] = c.name;
  j["description"] = c.description;
  j["hash"] = c.hash();
  j["principles"] = nlohmann::ordered_json::array();
  for (const Principle& p : c.principles)
    j["principles"].push_back({{"name", p.name},
                               {"weight", p.weight},
                               {"examples", p.examples.size()},
                               {"critique", p.critique_request},
                               {"revision", p.revision_request},
                               {"comparison", p.comparison_question}});
  j["few_shot"] = c.few_shot.size();
  j["system_chat"] = c.system_chat.size();
  std::printf("%s\n", j.dump(2).c_str());
}

void print_text(const Constitution& c) {
  std::printf("constitution: %s\n", c.name.c_str());
  if (!c.description.empty()) std::printf("description:  %s\n", first_line(c.description).c_str());
  std::printf("hash:         %s\n", c.hash().c_str());
  std::printf("principles:   %zu\n", c.principles.size());
  std::printf("few-shot:     %zu global transcript(s)", c.few_shot.size());
  if (!c.system_chat.empty()) std::printf(", %zu imported system_chat", c.system_chat.size());
  std::printf("\n");
  for (const Principle& p : c.principles) {
    std::printf("\n  %s  (weight %g, %zu example%s)\n", p.name.c_str(), p.weight, p.examples.size(),
                p.examples.size() == 1 ? "" : "s");
    std::printf("    critique:   %s\n", first_line(p.critique_request).c_str());
    std::printf("    revision:   %s\n", first_line(p.revision_request).c_str());
    std::printf("    comparison: %s\n", first_line(p.comparison_question).c_str());
  }
}

const Registrar reg(30, [](CLI::App& root) {
  CLI::App* g = group(root, "constitution", "Check and convert constitutions (the principles)");

  auto check = std::make_shared<CheckFlags>();
  CLI::App* c = g->add_subcommand("check", "Validate a constitution file and summarise it");
  c->add_option("FILE", check->file, "YAML constitution or HF recipe JSON")->required();
  c->add_flag("--json", check->json, "Print the summary as JSON");
  c->callback([check] {
    // Invalid files throw cai::Error naming file, line and field; main() reports it, exit 1.
    const Constitution con = load_constitution(check->file);
    if (check->json)
      print_json(con);
    else
      print_text(con);
  });

  auto conv = std::make_shared<ConvertFlags>();
  CLI::App* v =
      g->add_subcommand("convert", "Rewrite a constitution (e.g. HF recipe JSON) as YAML");
  v->add_option("IN", conv->in, "Input constitution (YAML or HF recipe JSON)")->required();
  v->add_option("OUT", conv->out, "Output YAML file")->required();
  v->callback([conv] {
    const Constitution con = load_constitution(conv->in);
    const std::filesystem::path out(conv->out);
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
    save_constitution(con, out);
    std::fprintf(stderr, "cai: wrote %s (%zu principles, hash %s)\n", out.string().c_str(),
                 con.principles.size(), con.hash().substr(0, 12).c_str());
  });
});

}  // namespace cmd_constitution
}  // namespace cai::cli
