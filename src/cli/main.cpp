#include <algorithm>
#include <cstdio>
#include <exception>
#include <vector>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/log.h"
#include "command.h"
#include "dist_flags.h"

#include <iostream>
#include <iterator>

namespace cai::cli {
namespace {
std::vector<std::pair<int, Setup>>& registry() {
  static std::vector<std::pair<int, Setup>> r;
  return r;
}
}  // namespace

Registrar::Registrar(int order, Setup setup) { registry().emplace_back(order, std::move(setup)); }

CLI::App* group(CLI::App& parent, const std::string& name, const std::string& description) {
  for (CLI::App* sub : parent.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == name) return sub;
  CLI::App* g = parent.add_subcommand(name, description);
  g->require_subcommand(1);
  return g;
}

std::string read_input(const std::string& path) {
  if (path != "-") return cai::read_file(path);
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

DType parse_store_dtype(const std::string& s) {
  if (s == "f32") return DType::F32;
  if (s == "f16") return DType::F16;
  if (s == "bf16") return DType::BF16;
  throw_error("--dtype: expected f32, f16 or bf16, got {}", s);
}

}  // namespace cai::cli

int main(int argc, char** argv) {
  // The library's notes and warnings: "cai[ component]: [warning: ]text" on stderr.
  cai::set_log_sink([](const cai::LogRecord& r) {
    std::string line = "cai";
    if (!r.component.empty()) line += " " + std::string(r.component);
    line += r.level == cai::LogLevel::warning ? ": warning: " : ": ";
    line += std::string(r.text) + "\n";
    std::fputs(line.c_str(), stderr);
  });
  CLI::App app{"cai: Constitutional AI in one native tool"};
  app.set_version_flag("--version", "cai " CAI_VERSION);
  app.require_subcommand(1);
  cai::cli::set_program_args(argc, argv);
  auto& reg = cai::cli::registry();
  std::stable_sort(reg.begin(), reg.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [order, setup] : reg) setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cai::Error& e) {
    std::fprintf(stderr, "cai: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cai: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
