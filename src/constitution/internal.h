// Shared between the constitution module's readers, writer and validator.
#pragma once

#include <functional>
#include <string>

#include "cai/constitution/constitution.h"

namespace cai::detail {

// Line (1-based) of a field path such as "principles[2].critique" in the source file, or 0
// when unknown (a constitution built in code, or an HF import that reports JSON pointers).
using LineOf = std::function<int(const std::string& path)>;

// The semantic checks behind Constitution::validate. Errors read
// "<source>:<line>: <path>: <problem>" (or "<source>: <path>: <problem>" without a line).
void validate_constitution(const Constitution& c, const std::string& source, const LineOf& line_of);

// The two readers parse_constitution chooses between.
Constitution parse_yaml_constitution(const std::string& text, const std::string& source);
Constitution parse_hf_constitution(const std::string& text, const std::string& source);

// True when `s` is empty or only whitespace: such a request is as good as missing.
bool blank(const std::string& s);

// The name a constitution gets when its file does not give one: the file's stem.
std::string default_name(const std::string& source);

}  // namespace cai::detail
