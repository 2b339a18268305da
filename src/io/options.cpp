// Declared options (include/cai/io/options.h): JSON, validation and YAML printing. Reading
// YAML is options_yaml.cpp.
#include "cai/io/options.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "cai/io/assert.h"

namespace cai::opt {

std::string join_names(const std::vector<std::string>& names, std::string_view last) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? std::string(last) : std::string(", ");
    out += names[i];
  }
  return out;
}

std::string format_number(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string flag_case(std::string_view key) {
  std::string s(key);
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

bool Field::skips(std::string_view n) const {
  return std::find(skip.begin(), skip.end(), n) != skip.end();
}

std::string Source::at(const std::string& key) const {
  if (name) return name(key);
  if (file.empty()) return key;
  // A key left to its default has no line: the nearest block that was given holds it.
  for (std::string k = key;;) {
    if (const auto it = lines.find(k); it != lines.end())
      return fmt::format("{}:{}: {}", file, it->second, key);
    const auto dot = k.rfind('.');
    if (dot == std::string::npos) return fmt::format("{}: {}", file, key);
    k.resize(dot);
  }
}

namespace {

using Skip = std::set<std::string, std::less<>>;

std::string join_key(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : name.empty() ? prefix : prefix + "." + name;
}

// The skip set a group's own fields see: the group field's, plus (for a flat group) the
// enclosing level's, which names the same level.
Skip inner_skip(const Field& f, const Skip& outer) {
  Skip s(f.skip.begin(), f.skip.end());
  if (f.flat) s.insert(outer.begin(), outer.end());
  return s;
}

}  // namespace

nlohmann::json value_json(const Field& f, const void* m) {
  switch (f.kind) {
    case Kind::boolean:
      return *static_cast<const bool*>(m);
    case Kind::int32:
      return *static_cast<const int*>(m);
    case Kind::int64:
      return *static_cast<const std::int64_t*>(m);
    case Kind::uint64:
      return *static_cast<const std::uint64_t*>(m);
    case Kind::number:
      return *static_cast<const double*>(m);
    case Kind::string:
      return *static_cast<const std::string*>(m);
    case Kind::path:
      return static_cast<const std::filesystem::path*>(m)->string();
    case Kind::strings:
      return *static_cast<const std::vector<std::string>*>(m);
    case Kind::int64s:
      return *static_cast<const std::vector<std::int64_t>*>(m);
    case Kind::choice:
      return f.get_name(m);
    case Kind::group:
      break;
  }
  CAI_ASSERT(false, "option {} is a group, not a single value", f.name);
}

namespace {

void to_json_into(nlohmann::json& j, const Schema& s, const void* o, bool identity,
                  const Skip& skip) {
  for (const Field& f : s.fields) {
    if (skip.count(f.name) || (identity && f.runtime)) continue;
    const void* m = f.at(const_cast<void*>(o));
    if (f.kind != Kind::group) {
      j[f.name] = value_json(f, m);
    } else if (f.flat) {
      to_json_into(j, *f.group, m, identity, inner_skip(f, skip));
    } else {
      nlohmann::json sub = nlohmann::json::object();
      to_json_into(sub, *f.group, m, identity, inner_skip(f, {}));
      j[f.name] = std::move(sub);
    }
  }
}

void validate_into(const Schema& s, const void* o, const std::string& prefix, const Source* src,
                   const Skip& skip) {
  auto fail = [&](const std::string& key, const std::string& problem) {
    throw_error("{}: {}", src ? src->at(key) : key, problem);
  };
  for (const Field& f : s.fields) {
    if (skip.count(f.name)) continue;
    const void* m = f.at(const_cast<void*>(o));
    const std::string key = join_key(prefix, f.name);
    if (f.kind == Kind::group)
      validate_into(*f.group, m, key, src, inner_skip(f, f.flat ? skip : Skip{}));
    else if (f.check)
      if (auto p = f.check(m); !p.empty()) fail(key, p);
  }
  if (s.rules) {
    Rules r(
        [&](std::string_view field, const std::string& problem) {
          fail(join_key(prefix, std::string(field)), problem);
        },
        [&](std::string_view field) { return skip.count(field) > 0; });
    s.rules(o, r);
  }
}

// YAML text: keys and plain words bare, anything YAML would read otherwise double-quoted.
bool plain_ok(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  static const std::set<std::string> words = {"true", "false", "yes",   "no",    "on",   "off",
                                              "null", "True",  "False", "Yes",   "No",   "On",
                                              "Off",  "Null",  "TRUE",  "FALSE", "NULL", "~"};
  if (words.count(s)) return false;
  if (std::string("-?:,[]{}#&*!|>'\"%@`0123456789.+").find(s.front()) != std::string::npos)
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string("_-./+ ").find(c) != std::string::npos))
      return false;
  return true;
}

std::string scalar_yaml(const nlohmann::json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return plain_ok(s) ? s : v.dump();  // JSON's escapes are YAML's double-quoted ones
  }
  if (v.is_number_float()) {
    // "1e-04" is a float in YAML 1.2 but a string to YAML 1.1 readers (PyYAML), which want a
    // dot in the mantissa: "1.0e-04" reads back to the same double in both.
    std::string x = format_number(v.get<double>());
    const auto e = x.find('e');
    if (e != std::string::npos && x.find('.') == std::string::npos) x.insert(e, ".0");
    return x;
  }
  return v.dump();
}

void yaml_into(std::string& out, const nlohmann::json& j, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& v = it.value();
    out += pad + it.key() + ":";
    if (v.is_object() && !v.empty()) {
      out += "\n";
      yaml_into(out, v, indent + 2);
      continue;
    }
    if (v.is_object()) {
      out += " {}\n";
    } else if (v.is_array()) {
      // Appended piece by piece: GCC 12 warns (-Wrestrict) on " [" + items + "]".
      out += " [";
      for (std::size_t i = 0; i < v.size(); ++i)
        out.append(i ? ", " : "").append(scalar_yaml(v[i]));
      out += "]\n";
    } else {
      out.append(" ").append(scalar_yaml(v)).append("\n");
    }
  }
}

}  // namespace

nlohmann::json to_json(const Schema& s, const void* o, bool identity_only) {
  nlohmann::json j = nlohmann::json::object();
  to_json_into(j, s, o, identity_only, {});
  return j;
}

void validate(const Schema& s, const void* o, const std::string& prefix, const Source* src) {
  validate_into(s, o, prefix, src, {});
}

std::string to_yaml(const nlohmann::json& j) {
  std::string out;
  yaml_into(out, j, 0);
  return out;
}

}  // namespace cai::opt
