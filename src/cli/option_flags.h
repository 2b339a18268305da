// Command-line flags from declared options (include/cai/io/options.h): each field of an options
// struct becomes a flag named after its key (--warmup-ratio for warmup_ratio), with its
// one-line doc and its current value shown as the default in --help; nested structs prefix their
// fields' flags with their key (--lora-rank), flat ones do not. Booleans take --name and
// --no-name; enums take their names; lists take commas.
#pragma once

#include <CLI/CLI.hpp>

#include <initializer_list>
#include <string>

#include "cai/io/options.h"

namespace cai::cli {

// Binds every field of `schema` in `obj` (which must outlive the parse) to flags of `cmd`;
// `prefix` ("judge") goes before every flag's name (--judge-model), and fields named in `skip`
// get no flag (the command sets them, or they make no sense on its command line).
void add_flags(CLI::App* cmd, const opt::Schema& schema, void* obj, const std::string& prefix,
               std::initializer_list<const char*> skip);

template <class S>
void add_flags(CLI::App* cmd, S& obj, std::initializer_list<const char*> skip = {},
               const std::string& prefix = "") {
  add_flags(cmd, opt::schema_of<S>(), &obj, prefix, skip);
}

// The flag a dotted key is given by ("lora.rank" -> "--lora-rank").
std::string flag_for(const opt::Schema& schema, const std::string& key, const std::string& prefix);

// Validates options filled from flags; errors name the flag ("--grad-accum: must be >= 1").
template <class S>
void check_flags(const S& obj, const std::string& prefix = "") {
  opt::Source src;
  src.name = [prefix](const std::string& key) {
    return flag_for(opt::schema_of<S>(), key, prefix);
  };
  opt::validate(obj, "", &src);
}

}  // namespace cai::cli
