// Task files (see include/cai/eval/task.h).
#include "cai/eval/task.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <set>

#include "cai/io/error.h"
#include "cai/io/file.h"

namespace cai::eval {
namespace {

const std::set<std::string> kKeys = {"task",
                                     "dataset",
                                     "output_type",
                                     "doc_to_text",
                                     "doc_to_choice",
                                     "doc_to_target",
                                     "target_delimiter",
                                     "fewshot",
                                     "fewshot_delimiter",
                                     "limit",
                                     "chat",
                                     "generation",
                                     "metrics",
                                     "regex"};

struct Ctx {
  std::string src;
  [[noreturn]] void fail(const YAML::Node& n, const std::string& field,
                         const std::string& msg) const {
    const auto m = n.Mark();
    throw_error("{}:{}: {}: {}", src, m.is_null() ? 0 : m.line + 1, field, msg);
  }
  std::string str(const YAML::Node& n, const std::string& field) const {
    if (!n.IsScalar()) fail(n, field, "must be a string");
    return n.Scalar();
  }
  std::int64_t integer(const YAML::Node& n, const std::string& field) const {
    try {
      return n.as<std::int64_t>();
    } catch (const YAML::Exception&) {
      fail(n, field, "must be an integer");
    }
  }
  bool boolean(const YAML::Node& n, const std::string& field) const {
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      fail(n, field, "must be true or false");
    }
  }
  std::vector<std::string> strings(const YAML::Node& n, const std::string& field) const {
    if (n.IsScalar()) return {n.Scalar()};
    if (!n.IsSequence()) fail(n, field, "must be a list of strings");
    std::vector<std::string> out;
    for (const auto& e : n) out.push_back(str(e, field));
    return out;
  }
};

}  // namespace

void TaskSpec::validate() const {
  const std::string where = source.string();
  CAI_CHECK(!name.empty(), "{}: task: a name is required", where);
  CAI_CHECK(!dataset.empty(), "{}: dataset: required", where);
  CAI_CHECK(!doc_to_text.empty(), "{}: doc_to_text: required", where);
  CAI_CHECK(!doc_to_target.empty(), "{}: doc_to_target: required", where);
  CAI_CHECK(fewshot >= 0 && limit >= 0 && max_tokens > 0,
            "{}: fewshot and limit must be >= 0, generation.max_tokens > 0", where);
  CAI_CHECK(!metrics.empty(), "{}: metrics: at least one", where);
  const std::set<std::string> mc = {"acc", "acc_norm"}, gen = {"exact_match", "contains", "regex"};
  const auto& allowed = output_type == OutputType::multiple_choice ? mc : gen;
  for (const auto& m : metrics)
    if (!allowed.count(m))
      throw_error("{}: metrics: '{}' does not apply to this output_type (allowed: {})", where, m,
                  fmt::join(allowed, ", "));
  if (output_type == OutputType::multiple_choice)
    CAI_CHECK(!doc_to_choice.empty(), "{}: doc_to_choice: required for multiple_choice", where);
  bool wants_regex = false;
  for (const auto& m : metrics) wants_regex = wants_regex || m == "regex";
  if (wants_regex) {
    CAI_CHECK(!regex.empty(), "{}: regex: required by the regex metric", where);
    try {
      std::regex r(regex);
    } catch (const std::regex_error& e) {
      throw_error("{}: regex: invalid pattern: {}", where, e.what());
    }
  }
}

TaskSpec load_task(const std::filesystem::path& path, const std::filesystem::path& data_dir) {
  Ctx c{path.string()};
  YAML::Node root;
  try {
    root = YAML::Load(read_file(path));
  } catch (const YAML::Exception& e) {
    throw_error("{}:{}: YAML syntax: {}", c.src, e.mark.line + 1, e.msg);
  }
  if (!root.IsMap()) throw_error("{}: a task file is a mapping of keys", c.src);
  TaskSpec t;
  t.source = path;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string k = it->first.Scalar();
    const YAML::Node v = it->second;  // a copy: the iterator's pair is a temporary
    if (!kKeys.count(k))
      c.fail(it->first, k, fmt::format("unknown key (allowed: {})", fmt::join(kKeys, ", ")));
    if (k == "task")
      t.name = c.str(v, k);
    else if (k == "dataset")
      t.dataset = c.str(v, k);
    else if (k == "output_type") {
      const std::string s = c.str(v, k);
      if (s == "multiple_choice")
        t.output_type = OutputType::multiple_choice;
      else if (s == "generate_until")
        t.output_type = OutputType::generate_until;
      else
        c.fail(v, k, "must be multiple_choice or generate_until");
    } else if (k == "doc_to_text")
      t.doc_to_text = c.str(v, k);
    else if (k == "doc_to_choice")
      t.doc_to_choice = c.str(v, k);
    else if (k == "doc_to_target")
      t.doc_to_target = c.str(v, k);
    else if (k == "target_delimiter")
      t.target_delimiter = c.str(v, k);
    else if (k == "fewshot")
      t.fewshot = c.integer(v, k);
    else if (k == "fewshot_delimiter")
      t.fewshot_delimiter = c.str(v, k);
    else if (k == "limit")
      t.limit = c.integer(v, k);
    else if (k == "chat")
      t.chat = c.boolean(v, k);
    else if (k == "metrics")
      t.metrics = c.strings(v, k);
    else if (k == "regex")
      t.regex = c.str(v, k);
    else if (k == "generation") {
      if (!v.IsMap()) c.fail(v, k, "must be a mapping (until, max_tokens)");
      for (auto g = v.begin(); g != v.end(); ++g) {
        const std::string gk = g->first.Scalar();
        if (gk == "until")
          t.until = c.strings(g->second, "generation.until");
        else if (gk == "max_tokens")
          t.max_tokens = c.integer(g->second, "generation.max_tokens");
        else
          c.fail(g->first, "generation." + gk, "unknown key (allowed: until, max_tokens)");
      }
    }
  }
  if (!t.dataset.empty() && t.dataset.is_relative())
    t.dataset = (data_dir.empty() ? path.parent_path() : data_dir) / t.dataset;
  t.validate();
  return t;
}

std::string render_template(const std::string& tmpl, const nlohmann::json& doc,
                            const std::string& where) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t open = tmpl.find("{{", pos);
    if (open == std::string::npos) break;
    const std::size_t close = tmpl.find("}}", open + 2);
    if (close == std::string::npos) throw_error("{}: unclosed '{{{{' in template", where);
    out.append(tmpl, pos, open - pos);
    std::string field = tmpl.substr(open + 2, close - open - 2);
    while (!field.empty() && field.front() == ' ') field.erase(0, 1);
    while (!field.empty() && field.back() == ' ') field.pop_back();
    if (!doc.is_object() || !doc.contains(field))
      throw_error("{}: the record has no field '{}' used by the template", where, field);
    const auto& v = doc[field];
    out += v.is_string() ? v.get<std::string>() : v.dump();
    pos = close + 2;
  }
  out.append(tmpl, pos, std::string::npos);
  return out;
}

}  // namespace cai::eval
