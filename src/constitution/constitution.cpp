// Validation, lookup, hashing and format dispatch for constitutions.
#include "cai/constitution/constitution.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "internal.h"
#include "sha256.h"

namespace cai {
namespace detail {

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

std::string default_name(const std::string& source) {
  const std::string stem = std::filesystem::path(source).stem().string();
  return stem.empty() ? std::string("constitution") : stem;
}

namespace {

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
      return false;
  return true;
}

struct Checker {
  const std::string& source;
  const LineOf& line_of;

  [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
    const int line = line_of ? line_of(path) : 0;
    if (line > 0) throw_error("{}:{}: {}: {}", source, line, path, problem);
    throw_error("{}: {}: {}", source, path, problem);
  }

  void text(const std::string& path, const std::string& value) const {
    if (blank(value)) fail(path, "must be a non-empty string");
  }

  // `owner` is the principle an example belongs to ("" for global few-shot transcripts).
  void example(const std::string& path, const FewShotExample& e, const Constitution& c,
               const std::string& owner) const {
    text(path + ".prompt", e.prompt);
    text(path + ".response", e.response);
    text(path + ".critique", e.critique);
    text(path + ".revision", e.revision);
    if (e.principle.empty()) return;
    if (!owner.empty() && e.principle != owner)
      fail(path + ".principle",
           fmt::format("is '{}' but the example belongs to principle '{}'", e.principle, owner));
    bool known = false;
    for (const Principle& p : c.principles) known = known || p.name == e.principle;
    if (!known) fail(path + ".principle", fmt::format("no principle is named '{}'", e.principle));
  }
};

}  // namespace

void validate_constitution(const Constitution& c, const std::string& source,
                           const LineOf& line_of) {
  const Checker check{source, line_of};
  if (c.principles.empty()) check.fail("principles", "must list at least one principle");
  std::map<std::string, std::size_t> first_use;
  for (std::size_t i = 0; i < c.principles.size(); ++i) {
    const Principle& p = c.principles[i];
    const std::string at = fmt::format("principles[{}]", i);
    if (p.name.empty()) check.fail(at + ".name", "must be a non-empty string");
    if (!valid_name(p.name))
      check.fail(at + ".name", fmt::format("'{}' may use only a-z, 0-9, '_' and '-'", p.name));
    if (auto [it, fresh] = first_use.emplace(p.name, i); !fresh)
      check.fail(at + ".name", fmt::format("duplicate name '{}' (first used by principles[{}])",
                                           p.name, it->second));
    check.text(at + ".critique", p.critique_request);
    check.text(at + ".revision", p.revision_request);
    check.text(at + ".comparison", p.comparison_question);
    if (!(std::isfinite(p.weight) && p.weight > 0))
      check.fail(at + ".weight", fmt::format("must be a number > 0, got {}", p.weight));
    for (std::size_t j = 0; j < p.examples.size(); ++j)
      check.example(fmt::format("{}.examples[{}]", at, j), p.examples[j], c, p.name);
  }
  for (std::size_t j = 0; j < c.few_shot.size(); ++j)
    check.example(fmt::format("few_shot[{}]", j), c.few_shot[j], c, "");
}

}  // namespace detail

void Constitution::validate(const std::string& source) const {
  detail::validate_constitution(*this, source, nullptr);
}

const Principle& Constitution::principle(const std::string& wanted) const {
  for (const Principle& p : principles)
    if (p.name == wanted) return p;
  std::string known;
  for (const Principle& p : principles) known += (known.empty() ? "" : ", ") + p.name;
  throw_error("constitution '{}' has no principle named '{}' (it has: {})", name, wanted, known);
}

namespace {

// Canonical serialisation: every field in a fixed order, each as "<tag> <byte length>\n<bytes>\n"
// so no two different constitutions can serialise to the same text (lengths make it
// unambiguous). The version line lets the layout change later without silent collisions.
void put(std::string& out, std::string_view tag, std::string_view value) {
  out += fmt::format("{} {}\n", tag, value.size());
  out += value;
  out += '\n';
}

void put_example(std::string& out, const FewShotExample& e) {
  put(out, "example.prompt", e.prompt);
  put(out, "example.response", e.response);
  put(out, "example.critique", e.critique);
  put(out, "example.revision", e.revision);
  put(out, "example.principle", e.principle);
}

}  // namespace

std::string Constitution::hash() const {
  std::string out = "cai-constitution-canonical-v1\n";
  put(out, "name", name);
  put(out, "description", description);
  put(out, "principles", std::to_string(principles.size()));
  for (const Principle& p : principles) {
    put(out, "principle.name", p.name);
    put(out, "principle.critique", p.critique_request);
    put(out, "principle.revision", p.revision_request);
    put(out, "principle.comparison", p.comparison_question);
    put(out, "principle.weight", fmt::format("{}", p.weight));  // shortest round-trip form
    put(out, "principle.examples", std::to_string(p.examples.size()));
    for (const FewShotExample& e : p.examples) put_example(out, e);
  }
  put(out, "few_shot", std::to_string(few_shot.size()));
  for (const FewShotExample& e : few_shot) put_example(out, e);
  put(out, "system_chat", std::to_string(system_chat.size()));
  for (const std::string& s : system_chat) put(out, "transcript", s);
  return detail::sha256_hex(out);
}

std::string comparison_from_critique(const std::string& critique_request) {
  std::string critic = critique_request;
  const auto first = critic.find_first_not_of(" \t\r\n");
  const auto last = critic.find_last_not_of(" \t\r\n");
  critic = first == std::string::npos ? "" : critic.substr(first, last - first + 1);
  return fmt::format("Which response gives less reason for this critique: \"{}\"?", critic);
}

Constitution parse_constitution(const std::string& text, const std::string& source) {
  // The HF recipe's files are JSON objects with a "constitutions" key; everything else is
  // YAML (a JSON file in the native layout is valid YAML and goes that way too).
  const auto start = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  if (start != std::string::npos && text[start] == '{' &&
      text.find("\"constitutions\"") != std::string::npos)
    return detail::parse_hf_constitution(text, source);
  return detail::parse_yaml_constitution(text, source);
}

Constitution load_constitution(const std::filesystem::path& path) {
  return parse_constitution(read_file(path), path.string());
}

}  // namespace cai
