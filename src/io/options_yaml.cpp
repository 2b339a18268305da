// Reading declared options from YAML (include/cai/io/options.h). Structural problems (syntax,
// unknown or repeated keys, wrong types, unknown enum names) are reported here with the line of
// the offending key; value rules are validate()'s, which finds the lines recorded here.
#include <yaml-cpp/yaml.h>

#include <set>

#include "cai/io/log.h"
#include "cai/io/options.h"

namespace cai::opt {
namespace {

using Skip = std::set<std::string, std::less<>>;

int line_of(const YAML::Node& n, int fallback) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? fallback : m.line + 1;
}

std::string join_key(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// A field found by key, possibly inside flat groups, with its member.
struct Found {
  const Field* field = nullptr;
  void* member = nullptr;
  bool old_name = false;
};

Found find(const Schema& s, void* o, std::string_view key, const Skip& skip) {
  for (const Field& f : s.fields) {
    if (skip.count(f.name)) continue;
    void* m = f.at(o);
    if (f.flat) {
      Skip inner(f.skip.begin(), f.skip.end());
      inner.insert(skip.begin(), skip.end());
      if (Found r = find(*f.group, m, key, inner); r.field) return r;
      continue;
    }
    if (f.name == key) return {&f, m, false};
    for (const auto& old : f.old_names)
      if (old == key) return {&f, m, true};
  }
  return {};
}

void names(const Schema& s, const Skip& skip, std::vector<std::string>& out) {
  for (const Field& f : s.fields) {
    if (skip.count(f.name)) continue;
    if (f.flat) {
      Skip inner(f.skip.begin(), f.skip.end());
      inner.insert(skip.begin(), skip.end());
      names(*f.group, inner, out);
    } else {
      out.push_back(f.name);
    }
  }
}

class Reader {
 public:
  Reader(std::string file, Source* src) : file_(std::move(file)), src_(src) {}

  [[noreturn]] void fail(int line, const std::string& key, const std::string& problem) const {
    throw_error("{}:{}: {}: {}", file_, line, key, problem);
  }

  void map(const Schema& s, void* o, const YAML::Node& node, const std::string& prefix, int line,
           const Skip& skip) {
    if (!node.IsMap())
      fail(line_of(node, line), prefix.empty() ? "config" : prefix, "must be a mapping");
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const int at = line_of(it->first, line);
      if (!it->first.IsScalar())
        fail(at, prefix.empty() ? "config" : prefix, "keys must be plain names");
      const std::string k = it->first.Scalar();
      const Found found = find(s, o, k, skip);
      if (!found.field) {
        std::vector<std::string> allowed;
        names(s, skip, allowed);
        fail(at, join_key(prefix, k),
             fmt::format("unknown key '{}' (allowed: {})", k, join_names(allowed, ", ")));
      }
      const Field& f = *found.field;
      const std::string key = join_key(prefix, f.name);
      if (found.old_name)
        log_warning("{}:{}: {}: '{}' is the old name of '{}'; it still works, but use '{}'", file_,
                    at, join_key(prefix, k), k, f.name, f.name);
      if (!seen.insert(f.name).second) fail(at, key, "key given twice");
      if (src_) src_->lines[key] = at;
      value(f, found.member, it->second, key, at);
    }
  }

 private:
  template <typename T>
  T scalar(const YAML::Node& n, const std::string& key, int line, const char* what) const {
    if (!n.IsScalar()) fail(line, key, "must be a single value");
    try {
      return n.as<T>();
    } catch (const YAML::Exception&) {
      fail(line, key, fmt::format("'{}' is not {}", n.Scalar(), what));
    }
  }

  void value(const Field& f, void* m, const YAML::Node& n, const std::string& key, int line) {
    switch (f.kind) {
      case Kind::boolean:
        *static_cast<bool*>(m) = scalar<bool>(n, key, line, "true or false");
        return;
      case Kind::int32:
        *static_cast<int*>(m) = scalar<int>(n, key, line, "an integer");
        return;
      case Kind::int64:
        *static_cast<std::int64_t*>(m) = scalar<std::int64_t>(n, key, line, "an integer");
        return;
      case Kind::uint64:
        if (n.IsScalar() && !n.Scalar().empty() && n.Scalar()[0] == '-')
          fail(line, key, fmt::format("'{}' is not an integer >= 0", n.Scalar()));
        *static_cast<std::uint64_t*>(m) = scalar<std::uint64_t>(n, key, line, "an integer >= 0");
        return;
      case Kind::number:
        *static_cast<double*>(m) = scalar<double>(n, key, line, "a number");
        return;
      case Kind::string:
        *static_cast<std::string*>(m) = scalar<std::string>(n, key, line, "a string");
        return;
      case Kind::path:
        *static_cast<std::filesystem::path*>(m) = scalar<std::string>(n, key, line, "a path");
        return;
      case Kind::strings:
        *static_cast<std::vector<std::string>*>(m) = strings(n, key, line);
        return;
      case Kind::int64s:
        *static_cast<std::vector<std::int64_t>*>(m) = ints(n, key, line);
        return;
      case Kind::choice: {
        const auto s = scalar<std::string>(n, key, line, "a name");
        try {
          f.set_name(m, s);
        } catch (const Error&) {
          fail(line, key, fmt::format("'{}' is not one of {}", s, join_names(f.choices, ", ")));
        }
        return;
      }
      case Kind::group:
        map(*f.group, m, n, key, line, Skip(f.skip.begin(), f.skip.end()));
        return;
    }
  }

  // A list, or one scalar holding a comma-separated list ("q_proj,v_proj").
  std::vector<std::string> strings(const YAML::Node& n, const std::string& key, int line) const {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      const std::string s = n.Scalar();
      for (std::size_t at = 0; at <= s.size();) {
        const auto comma = std::min(s.find(',', at), s.size());
        if (comma > at) out.push_back(s.substr(at, comma - at));
        at = comma + 1;
      }
      return out;
    }
    if (!n.IsSequence()) fail(line, key, "must be a list of strings");
    for (std::size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar())
        fail(line_of(n[i], line), fmt::format("{}[{}]", key, i), "must be a string");
      out.push_back(n[i].Scalar());
    }
    return out;
  }

  std::vector<std::int64_t> ints(const YAML::Node& n, const std::string& key, int line) const {
    std::vector<std::int64_t> out;
    if (!n.IsSequence()) fail(line, key, "must be a list of integers");
    for (std::size_t i = 0; i < n.size(); ++i)
      out.push_back(scalar<std::int64_t>(n[i], fmt::format("{}[{}]", key, i), line_of(n[i], line),
                                         "an integer"));
    return out;
  }

  std::string file_;
  Source* src_;
};

}  // namespace

void read_yaml(const Schema& s, void* o, std::string_view text, const std::string& file,
               Source* src, const std::string& prefix) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw_error("{}:{}: invalid YAML: {}", file, e.mark.line + 1, e.msg);
  }
  if (src && src->file.empty()) src->file = file;
  if (root.IsNull()) return;  // an empty file: every default
  Reader(file, src).map(s, o, root, prefix, 1, {});
}

}  // namespace cai::opt
