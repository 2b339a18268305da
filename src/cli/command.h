// How commands join the `cai` program: each src/cli/cmd_*.cpp defines one static
// `Registrar` whose setup function adds its subcommand(s) to the root app. The command's
// callback parses flags into the library's options structs and calls the library; errors are
// thrown as cai::Error and reported by main().
//
// Each file keeps its helpers in a namespace named after the file (cmd_train, ...), not an
// anonymous one: the CLI is compiled as a unity build, where files share one translation
// unit and every file's `reg` and `Flags` would otherwise collide.
#pragma once

#include <CLI/CLI.hpp>

#include "cai/formats/dtype.h"

#include <functional>
#include <string>

namespace cai::cli {

using Setup = std::function<void(CLI::App& root)>;

struct Registrar {
  // `order` sorts commands in --help (lower first).
  Registrar(int order, Setup setup);
};

// The subcommand `name` of `parent`, created with `description` the first time it is asked
// for, so "model info" and "model convert" can live in different files.
CLI::App* group(CLI::App& parent, const std::string& name, const std::string& description);

// Reads all of stdin, or the named file when `path` is not "-".
std::string read_input(const std::string& path);

// The storage type a `--dtype` flag names when saving weights: f32, f16 or bf16.
DType parse_store_dtype(const std::string& s);

}  // namespace cai::cli
