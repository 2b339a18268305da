// The native YAML reader. Structural problems (syntax, unknown or duplicate keys, wrong
// types, missing fields) are reported here with the line of the offending key; semantic
// rules (empty text, names, weights) are checked once, in validate_constitution, which gets
// the recorded lines so its errors carry them too.
#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "internal.h"

namespace cai::detail {
namespace {

int line_of(const YAML::Node& n, int fallback) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? fallback : m.line + 1;
}

const char* kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "a scalar";
  }
}

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(int line, const std::string& path, const std::string& problem) const {
    throw_error("{}:{}: {}: {}", source_, line, path, problem);
  }

  // The fields of a mapping node by key, after rejecting keys outside `allowed` (a typo must
  // never be silently ignored) and keys given twice. Records each key's line under
  // "<path>.<key>".
  std::map<std::string, YAML::Node> fields(const YAML::Node& node, const std::string& path,
                                           int line, const std::vector<std::string>& allowed) {
    if (!node.IsMap())
      fail(line_of(node, line), path, fmt::format("must be a mapping, not {}", kind(node)));
    std::map<std::string, YAML::Node> out;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // A copy: yaml-cpp's iterator hands out a temporary pair, so a reference to its
      // member would dangle at the end of this statement.
      const YAML::Node key = it->first;
      const int at = line_of(key, line);
      if (!key.IsScalar()) fail(at, path, "keys must be plain names");
      const std::string k = key.Scalar();
      bool ok = false;
      for (const auto& a : allowed) ok = ok || a == k;
      const std::string field = path.empty() ? k : path + "." + k;
      if (!ok)
        fail(at, field, fmt::format("unknown key '{}' (allowed: {})", k, fmt::join(allowed, ", ")));
      if (out.count(k)) fail(at, field, "key given twice");
      out.emplace(k, it->second);
      lines_[field] = at;
    }
    return out;
  }

  // A text field: missing -> error at the mapping's line; null -> "" (validate reports it
  // as empty with the key's line); a list or mapping -> error.
  std::string text(const std::map<std::string, YAML::Node>& f, const std::string& key,
                   const std::string& path, int map_line, bool required) {
    const std::string field = path.empty() ? key : path + "." + key;
    auto it = f.find(key);
    if (it == f.end()) {
      if (required) fail(map_line, field, "missing required field");
      return "";
    }
    const YAML::Node& v = it->second;
    if (v.IsNull()) return "";
    if (!v.IsScalar()) fail(lines_[field], field, fmt::format("must be a string, not {}", kind(v)));
    return v.Scalar();
  }

  std::vector<FewShotExample> examples(const YAML::Node& node, const std::string& path, int line,
                                       const std::string& owner) {
    if (node.IsNull()) return {};
    if (!node.IsSequence()) fail(line, path, fmt::format("must be a list, not {}", kind(node)));
    std::vector<FewShotExample> out;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string at = fmt::format("{}[{}]", path, i);
      const int l = line_of(node[i], line);
      lines_[at] = l;
      auto f = fields(node[i], at, l, {"prompt", "response", "critique", "revision", "principle"});
      FewShotExample e;
      e.prompt = text(f, "prompt", at, l, true);
      e.response = text(f, "response", at, l, true);
      e.critique = text(f, "critique", at, l, true);
      e.revision = text(f, "revision", at, l, true);
      e.principle = text(f, "principle", at, l, false);
      // An example listed under a principle applies that principle; saying so is optional.
      if (e.principle.empty()) e.principle = owner;
      out.push_back(std::move(e));
    }
    return out;
  }

  Principle principle(const YAML::Node& node, const std::string& at, int line) {
    auto f = fields(node, at, line,
                    {"name", "critique", "revision", "comparison", "weight", "examples"});
    Principle p;
    p.name = text(f, "name", at, line, true);
    p.critique_request = text(f, "critique", at, line, true);
    p.revision_request = text(f, "revision", at, line, true);
    p.comparison_question = text(f, "comparison", at, line, true);
    if (auto it = f.find("weight"); it != f.end()) {
      const std::string field = at + ".weight";
      if (!it->second.IsScalar()) fail(lines_[field], field, "must be a number > 0");
      try {
        p.weight = it->second.as<double>();
      } catch (const YAML::Exception&) {
        fail(lines_[field], field,
             fmt::format("must be a number > 0, got '{}'", it->second.Scalar()));
      }
    }
    if (auto it = f.find("examples"); it != f.end())
      p.examples = examples(it->second, at + ".examples", lines_[at + ".examples"], p.name);
    return p;
  }

  Constitution constitution(const YAML::Node& root) {
    if (root.IsNull())
      fail(1, "principles", "the file is empty; expected a mapping with 'principles'");
    auto f = fields(root, "", 1, {"name", "description", "principles", "few_shot", "system_chat"});
    Constitution c;
    c.name = text(f, "name", "", 1, false);
    if (c.name.empty()) c.name = default_name(source_);
    c.description = text(f, "description", "", 1, false);
    auto it = f.find("principles");
    if (it == f.end()) fail(1, "principles", "missing required field");
    const YAML::Node& list = it->second;
    const int list_line = lines_["principles"];
    if (!list.IsSequence() && !list.IsNull())
      fail(list_line, "principles", fmt::format("must be a list, not {}", kind(list)));
    for (std::size_t i = 0; list.IsSequence() && i < list.size(); ++i) {
      const std::string at = fmt::format("principles[{}]", i);
      const int l = line_of(list[i], list_line);
      lines_[at] = l;
      c.principles.push_back(principle(list[i], at, l));
    }
    if (auto fs = f.find("few_shot"); fs != f.end())
      c.few_shot = examples(fs->second, "few_shot", lines_["few_shot"], "");
    if (auto sc = f.find("system_chat"); sc != f.end() && !sc->second.IsNull()) {
      const int l = lines_["system_chat"];
      if (!sc->second.IsSequence()) fail(l, "system_chat", "must be a list of strings");
      for (std::size_t i = 0; i < sc->second.size(); ++i) {
        if (!sc->second[i].IsScalar())
          fail(line_of(sc->second[i], l), fmt::format("system_chat[{}]", i), "must be a string");
        c.system_chat.push_back(sc->second[i].Scalar());
      }
    }
    return c;
  }

  // The line recorded for a field path, or for its nearest recorded parent: an error about
  // "principles[1].examples[0].prompt" falls back to the example's line.
  int line(std::string path) const {
    while (!path.empty()) {
      if (auto it = lines_.find(path); it != lines_.end()) return it->second;
      const auto cut = path.find_last_of(".[");
      if (cut == std::string::npos) break;
      path.resize(cut);
    }
    return 0;
  }

 private:
  std::string source_;
  std::map<std::string, int> lines_;
};

// The documents of a YAML stream. yaml-cpp 0.7 (Debian 12) cannot place a stray ',' outside
// a flow collection: its parser then reports an empty document at the same place for ever, and
// YAML::LoadAll never returns (yaml-cpp issue 1040). A document that starts where the previous
// one did is that stall, reported as a syntax error at its line.
std::size_t count_documents(const std::string& text, const std::string& source) {
  struct Starts : YAML::EventHandler {
    YAML::Mark start;
    void OnDocumentStart(const YAML::Mark& m) override { start = m; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } h;
  std::istringstream in(text);
  YAML::Parser parser(in);
  std::size_t docs = 0;
  int previous = -1;
  while (parser.HandleNextDocument(h)) {
    if (h.start.pos == previous)
      throw_error("{}:{}: YAML syntax error: unexpected token at column {} (a stray ','?)", source,
                  h.start.line + 1, h.start.column + 1);
    previous = h.start.pos;
    ++docs;
  }
  return docs;
}

}  // namespace

Constitution parse_yaml_constitution(const std::string& text, const std::string& source) {
  // YAML is UTF-8 and yaml-cpp passes invalid bytes through; they would reach the prompts and
  // not survive writing the constitution back, so they are refused with their line.
  const std::string valid = json_safe_utf8(text);
  if (valid != text) {
    std::size_t at = 0;
    while (at < text.size() && at < valid.size() && text[at] == valid[at]) ++at;
    throw_error("{}:{}: invalid UTF-8 (byte {} of the file); a constitution is UTF-8 text", source,
                1 + std::count(text.begin(), text.begin() + at, '\n'), at + 1);
  }
  YAML::Node root;
  try {
    const std::size_t docs = count_documents(text, source);
    if (docs > 1)
      throw_error("{}: holds {} YAML documents; a constitution is exactly one", source, docs);
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_error("{}:{}: YAML syntax error: {}", source, e.mark.is_null() ? 1 : e.mark.line + 1,
                e.msg);
  }
  Reader reader(source);
  Constitution c = reader.constitution(root);
  validate_constitution(c, source, [&](const std::string& path) { return reader.line(path); });
  return c;
}

}  // namespace cai::detail
