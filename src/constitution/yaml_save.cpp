// The YAML writer. Long or multi-line text goes out as literal block scalars so a saved file
// stays pleasant to read and edit; everything else is left to yaml-cpp's quoting rules.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <sstream>

#include "cai/constitution/constitution.h"
#include "cai/io/file.h"

namespace cai {
namespace {

// A literal block reproduces a string exactly only when it has no trailing newline (written
// with the strip indicator "|-", see below), does not start with whitespace (that would need
// an indentation indicator) and holds only printable text, tabs and CR excluded.
bool literal_ok(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.front() == '\n' || s.back() == '\n') return false;
  for (unsigned char ch : s)
    if ((ch < 0x20 && ch != '\n') || ch == 0x7F) return false;
  return true;
}

void emit_text(YAML::Emitter& out, const std::string& key, const std::string& s) {
  out << YAML::Key << key << YAML::Value;
  if ((s.find('\n') != std::string::npos || s.size() > 72) && literal_ok(s))
    out << YAML::Literal << s;
  else
    out << s;
}

void emit_example(YAML::Emitter& out, const FewShotExample& e, const std::string& owner) {
  out << YAML::BeginMap;
  emit_text(out, "prompt", e.prompt);
  emit_text(out, "response", e.response);
  emit_text(out, "critique", e.critique);
  emit_text(out, "revision", e.revision);
  // Under a principle the owner is implied (the reader fills it in).
  if (!e.principle.empty() && e.principle != owner) emit_text(out, "principle", e.principle);
  out << YAML::EndMap;
}

}  // namespace

std::string to_yaml(const Constitution& c) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  emit_text(out, "name", c.name);
  if (!c.description.empty()) emit_text(out, "description", c.description);
  out << YAML::Key << "principles" << YAML::Value << YAML::BeginSeq;
  for (const Principle& p : c.principles) {
    out << YAML::BeginMap;
    emit_text(out, "name", p.name);
    emit_text(out, "critique", p.critique_request);
    emit_text(out, "revision", p.revision_request);
    emit_text(out, "comparison", p.comparison_question);
    // Shortest text that reads back as the same double; the default 1 is left implicit.
    if (p.weight != 1.0) out << YAML::Key << "weight" << YAML::Value << fmt::format("{}", p.weight);
    if (!p.examples.empty()) {
      out << YAML::Key << "examples" << YAML::Value << YAML::BeginSeq;
      for (const FewShotExample& e : p.examples) emit_example(out, e, p.name);
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (!c.few_shot.empty()) {
    out << YAML::Key << "few_shot" << YAML::Value << YAML::BeginSeq;
    for (const FewShotExample& e : c.few_shot) emit_example(out, e, "");
    out << YAML::EndSeq;
  }
  if (!c.system_chat.empty()) {
    out << YAML::Key << "system_chat" << YAML::Value << YAML::BeginSeq;
    for (const std::string& s : c.system_chat) out << s;
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  if (!out.good()) throw std::runtime_error("YAML emitter: " + out.GetLastError());

  // yaml-cpp writes literal blocks with the default "clip" chomping, which would add a
  // trailing newline on reading back; every literal here has none, so mark each "|-". A
  // lone "|" after a key can only be a literal header (a plain "|" value gets quoted); lines
  // inside a block (indented deeper than its key, or blank) are content and left alone.
  static const std::regex header(R"(^( *(?:- )?[a-z_]+): \|$)");
  std::istringstream lines(out.c_str());
  std::string line, text = "# A cai constitution (see include/cai/constitution/constitution.h).\n";
  std::size_t block_indent = std::string::npos;  // npos: not inside a literal block
  while (std::getline(lines, line)) {
    const std::size_t indent = line.find_first_not_of(' ');
    const bool content =
        block_indent != std::string::npos && (indent == std::string::npos || indent > block_indent);
    if (!content) {
      block_indent = std::string::npos;
      if (std::regex_match(line, header)) {
        // Content sits deeper than the key itself, which follows "- " on a list item line.
        block_indent = line.find_first_not_of(" -");
        line += '-';
      }
    }
    text += line;
    text += '\n';
  }
  return text;
}

void save_constitution(const Constitution& c, const std::filesystem::path& path) {
  write_file_atomic(path, to_yaml(c));
}

}  // namespace cai
