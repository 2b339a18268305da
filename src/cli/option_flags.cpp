#include "option_flags.h"

#include <set>

namespace cai::cli {
namespace {

using Skip = std::set<std::string, std::less<>>;

// "--lr", "--lora-rank", "-k"; "!no-skip" (a negating alias) -> "!--no-skip"
std::string flag_of(const std::string& prefix, const std::string& name) {
  if (!name.empty() && name[0] == '!') return "!" + flag_of(prefix, name.substr(1));
  if (!name.empty() && name[0] == '-') return name;  // given as a flag already ("-k")
  return "--" + (prefix.empty() ? "" : prefix + "-") + opt::flag_case(name);
}

// The names CLI11 is given: the flag, then its aliases.
std::string names_of(const opt::Field& f, const std::string& prefix) {
  std::string names = flag_of(prefix, f.flag.empty() ? f.name : f.flag);
  for (const auto& a : f.aliases) names += "," + flag_of(prefix, a);
  return names;
}

std::string shown(const opt::Field& f, const void* m) {
  const nlohmann::json v = opt::value_json(f, m);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& x : v)
      out += (out.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : x.dump());
    return out;
  }
  if (v.is_number_float()) return opt::format_number(v.get<double>());
  return v.dump();
}

void bind(CLI::App* cmd, const opt::Field& f, void* m, const std::string& prefix) {
  const std::string names = names_of(f, prefix);
  std::string doc = f.doc;
  if (f.kind == opt::Kind::choice) doc += " (" + opt::join_names(f.choices) + ")";
  CLI::Option* o = nullptr;
  switch (f.kind) {
    case opt::Kind::boolean: {
      // --name sets it, --no-name clears it.
      const std::string base = flag_of(prefix, f.flag.empty() ? f.name : f.flag);
      std::string all = names + ",!--no-" + base.substr(2);
      cmd->add_flag(all, *static_cast<bool*>(m), doc);
      return;
    }
    case opt::Kind::int32:
      o = cmd->add_option(names, *static_cast<int*>(m), doc);
      break;
    case opt::Kind::int64:
      o = cmd->add_option(names, *static_cast<std::int64_t*>(m), doc);
      break;
    case opt::Kind::uint64:
      o = cmd->add_option(names, *static_cast<std::uint64_t*>(m), doc);
      break;
    case opt::Kind::number:
      o = cmd->add_option(names, *static_cast<double*>(m), doc);
      break;
    case opt::Kind::string:
      o = cmd->add_option(names, *static_cast<std::string*>(m), doc);
      break;
    case opt::Kind::path:
      o = cmd->add_option(names, *static_cast<std::filesystem::path*>(m), doc);
      break;
    case opt::Kind::strings:
      o = cmd->add_option(names, *static_cast<std::vector<std::string>*>(m), doc)->delimiter(',');
      break;
    case opt::Kind::int64s:
      o = cmd->add_option(names, *static_cast<std::vector<std::int64_t>*>(m), doc)->delimiter(',');
      break;
    case opt::Kind::choice: {
      const opt::Field* fp = &f;
      o = cmd->add_option_function<std::string>(
          names, [fp, m](const std::string& s) { fp->set_name(m, s); }, doc);
      o->check(CLI::IsMember(f.choices));
      break;
    }
    case opt::Kind::group:
      return;
  }
  o->default_str(shown(f, m));
}

void add_into(CLI::App* cmd, const opt::Schema& s, void* obj, const std::string& prefix,
              const Skip& skip) {
  for (const opt::Field& f : s.fields) {
    if (skip.count(f.name)) continue;
    void* m = f.at(obj);
    if (f.kind != opt::Kind::group) {
      bind(cmd, f, m, prefix);
      continue;
    }
    Skip inner(f.skip.begin(), f.skip.end());
    if (f.flat) inner.insert(skip.begin(), skip.end());
    const std::string sub = f.flat ? prefix
                                   : (prefix.empty() ? "" : prefix + "-") +
                                         opt::flag_case(f.flag.empty() ? f.name : f.flag);
    add_into(cmd, *f.group, m, sub, inner);
  }
}

// The field a key names at this level (inside flat groups too), with the prefix of its flag.
const opt::Field* find_key(const opt::Schema& s, const std::string& name, std::string& prefix) {
  for (const opt::Field& f : s.fields) {
    if (f.flat) {
      if (const opt::Field* g = find_key(*f.group, name, prefix)) return g;
    } else if (f.name == name) {
      return &f;
    }
  }
  return nullptr;
}

}  // namespace

std::string flag_for(const opt::Schema& schema, const std::string& key, const std::string& prefix) {
  const opt::Schema* s = &schema;
  std::string flag_prefix = prefix;
  std::size_t at = 0;
  while (true) {
    const auto dot = key.find('.', at);
    const std::string name =
        key.substr(at, dot == std::string::npos ? std::string::npos : dot - at);
    const opt::Field* f = s ? find_key(*s, name, flag_prefix) : nullptr;
    if (!f) return flag_of(flag_prefix, key.substr(at));
    if (dot == std::string::npos || f->kind != opt::Kind::group)
      return flag_of(flag_prefix, f->flag.empty() ? f->name : f->flag);
    flag_prefix = (flag_prefix.empty() ? "" : flag_prefix + "-") +
                  opt::flag_case(f->flag.empty() ? f->name : f->flag);
    s = f->group;
    at = dot + 1;
  }
}

void add_flags(CLI::App* cmd, const opt::Schema& schema, void* obj, const std::string& prefix,
               std::initializer_list<const char*> skip) {
  Skip s;
  for (const char* n : skip) s.insert(n);
  add_into(cmd, schema, obj, prefix, s);
}

}  // namespace cai::cli
