// Options that describe themselves once. An options struct keeps its defaults in its member
// initialisers and lists its fields, each once, in a static member `fields`:
//
//   struct LoraOptions {
//     std::int64_t rank = 0;
//     double alpha = 16.0;
//     static void fields(opt::Fields<LoraOptions>& f) {
//       f("rank", &LoraOptions::rank, "adapter rank (0: full fine-tuning)", opt::min(0));
//       f("alpha", &LoraOptions::alpha, "the update is scaled by alpha / rank", opt::above(0));
//     }
//     void validate() const { opt::validate(*this, "lora"); }
//   };
//
// Everything else is derived from that list: reading YAML or JSON with errors that name the
// file, line and key (read_yaml), validate() (per-field checks, then the struct's own
// cross-field `rules`), to_json() and the resume identity (identity_json: the fields that
// change a result), the CLI flags (src/cli/option_flags.h: --name, the doc and the default in
// --help) and --print-config (to_yaml, floats in their shortest round-trip form).
//
// A field whose type is itself an options struct nests (`lora: {rank: 8}`, --lora-rank); with
// f.flat(&S::member), or f.base<Base>() for a base class, its fields sit at the enclosing level
// (a trainer's lr, epochs, ...); .skipping({...}) leaves out fields the enclosing code sets
// itself (a per-round seed). Enums read and print by name:
// an enum E is an option when `enum_names(E{})` (found by argument-dependent lookup) returns
// its {value, name} pairs.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "cai/io/error.h"

namespace cai::opt {

// ---- enums by name -------------------------------------------------------------------------

template <class E>
using EnumName = std::pair<E, std::string_view>;

template <class E>
concept NamedEnum = std::is_enum_v<E> && requires(E e) {
  {enum_names(e)};
};

// The name of an enum value (its first listed name).
template <NamedEnum E>
std::string_view name_of(E e) {
  for (const auto& [v, n] : enum_names(E{}))
    if (v == e) return n;
  throw_error("enum value {} has no name", static_cast<long long>(e));
}

// Names joined for messages: "sigmoid, robust, ipo or hinge".
std::string join_names(const std::vector<std::string>& names, std::string_view last = " or ");

// The value named `name`; throws cai::Error "<what>: unknown '<name>' (expected a, b or c)".
template <NamedEnum E>
E parse_enum(std::string_view name, std::string_view what) {
  std::vector<std::string> all;
  for (const auto& [v, n] : enum_names(E{})) {
    if (n == name) return v;
    all.emplace_back(n);
  }
  throw_error("{}: unknown '{}' (expected {})", what, name, join_names(all));
}

// ---- checks --------------------------------------------------------------------------------

// A check returns "" when the value is fine, else what is wrong ("must be > 0, got -1").
template <class T>
using Check = std::function<std::string(const T&)>;

std::string format_number(double v);  // shortest round-trip text ("0.7", "1e-05")

namespace detail {
template <class T>
std::string shown(const T& v) {
  if constexpr (std::is_floating_point_v<T>)
    return format_number(static_cast<double>(v));
  else
    return fmt::format("{}", v);
}
}  // namespace detail

// Number checks; a NaN or an infinity passes none of them.
// v >= lo
inline auto min(double lo) {
  return [lo](const auto& v) -> std::string {
    const auto x = static_cast<double>(v);
    return std::isfinite(x) && x >= lo
               ? ""
               : fmt::format("must be >= {}, got {}", format_number(lo), detail::shown(v));
  };
}
// v > lo
inline auto above(double lo) {
  return [lo](const auto& v) -> std::string {
    const auto x = static_cast<double>(v);
    return std::isfinite(x) && x > lo
               ? ""
               : fmt::format("must be > {}, got {}", format_number(lo), detail::shown(v));
  };
}
// v in [lo, hi]; `ends` "[)", "(]" or "()" opens an end.
inline auto range(double lo, double hi, std::string_view ends = "[]") {
  return [=](const auto& v) -> std::string {
    const auto x = static_cast<double>(v);
    const bool ok = std::isfinite(x) && (ends[0] == '(' ? x > lo : x >= lo) &&
                    (ends[1] == ')' ? x < hi : x <= hi);
    return ok ? ""
              : fmt::format("must be in {}{}, {}{}, got {}", ends[0], format_number(lo),
                            format_number(hi), ends[1], detail::shown(v));
  };
}
// One of the given words (string options whose names another module owns, e.g. prompt splits).
inline auto one_of(std::vector<std::string> names) {
  return [names](const std::string& v) -> std::string {
    for (const auto& n : names)
      if (v == n) return "";
    return fmt::format("'{}' is not one of {}", v, join_names(names, ", "));
  };
}
// Not empty (strings, lists).
inline auto not_empty() {
  return [](const auto& v) -> std::string { return v.empty() ? "must not be empty" : ""; };
}
// Every element of a list passes `check`.
template <class C>
auto each(C check) {
  return [check](const auto& list) -> std::string {
    for (const auto& x : list)
      if (auto p = check(x); !p.empty()) return "values " + p;
    return "";
  };
}

// ---- the schema ----------------------------------------------------------------------------

enum class Kind {
  boolean,
  int32,
  int64,
  uint64,
  number,
  string,
  path,
  strings,
  int64s,
  choice,
  group
};

struct Schema;

// One declared field, type-erased over the object that holds it (`void*` is that object).
struct Field {
  std::string name;  // the key in YAML / JSON; the CLI flag is --name with '_' -> '-'
  std::string doc;   // one line: --help and the docs
  Kind kind = Kind::string;
  std::function<void*(void*)> at;                 // the member inside the object
  std::function<std::string(const void*)> check;  // on the member: "" or the problem
  // Kind::choice: the names, and reading / writing the member by name.
  std::vector<std::string> choices;
  std::function<std::string(const void*)> get_name;
  std::function<void(void*, std::string_view)> set_name;
  // Kind::group: the nested struct's fields, nested under `name` or flat at this level.
  const Schema* group = nullptr;
  bool flat = false;
  std::vector<std::string> skip;  // fields of the group left out here
  // Flags and keys.
  std::vector<std::string> aliases;    // other CLI flag names ("r": --lora-r; "-k")
  std::vector<std::string> old_names;  // keys still read, with a deprecation warning
  std::string flag;                    // the CLI name when it is not the key's ("api-base")
  bool runtime = false;  // how a run proceeds, not what it computes (log / save cadence,
                         // chunk sizes): left out of identity_json and the resume hashes

  // Chained from a declaration: f("rank", ...).alias("r").
  Field& alias(std::string a) { return aliases.push_back(std::move(a)), *this; }
  Field& was(std::string old) { return old_names.push_back(std::move(old)), *this; }
  Field& flag_name(std::string f) { return flag = std::move(f), *this; }
  Field& run_only() { return runtime = true, *this; }
  Field& skipping(std::initializer_list<const char*> names) {
    for (const char* n : names) skip.emplace_back(n);
    return *this;
  }
  bool skips(std::string_view n) const;
};

struct Schema {
  std::vector<Field> fields;
  // Cross-field rules of the struct (its `rules` member), given the object.
  std::function<void(const void*, class Rules&)> rules;
};

template <class S>
const Schema& schema_of();

// What fields() is handed: call it once per field.
template <class S>
class Fields {
 public:
  explicit Fields(Schema& s) : s_(s) {}

  template <class T, class... Checks>
  Field& operator()(const char* name, T S::*member, const char* doc, Checks... checks) {
    Field f;
    f.name = name;
    f.doc = doc;
    f.at = [member](void* o) -> void* { return &(static_cast<S*>(o)->*member); };
    if constexpr (sizeof...(Checks) > 0) {
      std::vector<Check<T>> cs = {Check<T>(checks)...};
      f.check = [cs](const void* v) {
        for (const auto& c : cs)
          if (auto p = c(*static_cast<const T*>(v)); !p.empty()) return p;
        return std::string();
      };
    }
    describe<T>(f);
    s_.fields.push_back(std::move(f));
    return s_.fields.back();
  }

  // A nested options struct whose fields sit at this level (no key of its own).
  template <class T>
  Field& flat(T S::*member) {
    Field& f = (*this)("", member, "");
    f.flat = true;
    return f;
  }

  // The fields of a base class, at this level: struct TrainOptions : OptimOptions { ... }.
  template <class B>
  Field& base() {
    static_assert(std::is_base_of_v<B, S>);
    Field f;
    f.kind = Kind::group;
    f.group = &schema_of<B>();
    f.flat = true;
    f.at = [](void* o) -> void* { return static_cast<B*>(static_cast<S*>(o)); };
    s_.fields.push_back(std::move(f));
    return s_.fields.back();
  }

 private:
  template <class T>
  static void describe(Field& f) {
    if constexpr (std::is_same_v<T, bool>) {
      f.kind = Kind::boolean;
    } else if constexpr (std::is_same_v<T, int>) {
      f.kind = Kind::int32;
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      f.kind = Kind::int64;
    } else if constexpr (std::is_same_v<T, std::uint64_t>) {
      f.kind = Kind::uint64;
    } else if constexpr (std::is_same_v<T, double>) {
      f.kind = Kind::number;
    } else if constexpr (std::is_same_v<T, std::string>) {
      f.kind = Kind::string;
    } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
      f.kind = Kind::path;
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      f.kind = Kind::strings;
    } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
      f.kind = Kind::int64s;
    } else if constexpr (NamedEnum<T>) {
      f.kind = Kind::choice;
      for (const auto& [v, n] : enum_names(T{})) f.choices.emplace_back(n);
      f.get_name = [](const void* m) { return std::string(name_of(*static_cast<const T*>(m))); };
      f.set_name = [name = f.name](void* m, std::string_view s) {
        *static_cast<T*>(m) = parse_enum<T>(s, name);
      };
    } else {
      static_assert(
          requires(Fields<T> & g) { T::fields(g); },
          "an option must be a bool, number, string, path, list, named enum or a "
          "struct with static fields(opt::Fields<T>&)");
      f.kind = Kind::group;
      f.group = &schema_of<T>();
    }
  }

  Schema& s_;
};

// Cross-field rules: a struct may declare `void rules(opt::Rules& r) const` and call
// r.require(ok, "field", "problem"); the message names the field as a per-field check would.
// A rule about a field that the enclosing options skip (.skipping: they set it themselves) is
// theirs to keep, so it is not checked there.
class Rules {
 public:
  using Fail = std::function<void(std::string_view field, const std::string& problem)>;
  using Skipped = std::function<bool(std::string_view field)>;
  Rules(Fail fail, Skipped skipped) : fail_(std::move(fail)), skipped_(std::move(skipped)) {}
  void require(bool ok, std::string_view field, const std::string& problem) const {
    if (!ok && !skipped_(field)) fail_(field, problem);
  }

 private:
  Fail fail_;
  Skipped skipped_;
};

template <class S>
const Schema& schema_of() {
  static const Schema schema = [] {
    Schema s;
    Fields<S> f(s);
    S::fields(f);
    // Only S's own rules: a base class's run with its fields (Fields::base).
    if constexpr (requires { &S::rules; }) {
      if constexpr (std::is_same_v<decltype(&S::rules), void (S::*)(Rules&) const>)
        s.rules = [](const void* o, Rules& r) { static_cast<const S*>(o)->rules(r); };
    }
    return s;
  }();
  return schema;
}

// ---- reading, checking, writing ----------------------------------------------------------

// Where values came from, for messages: the file and the line of each dotted key read.
struct Source {
  std::string file;                  // "" when not read from a file
  std::map<std::string, int> lines;  // "sft.lr" -> 14
  // How a key is named in messages when not by itself (the CLI: "--lora-rank").
  std::function<std::string(const std::string& key)> name;
  // "loop.yaml:14: sft.lr", "loop.yaml: sft.lr" or "sft.lr". A key not given is placed at
  // the line of the nearest block given around it ("sft:" for an omitted sft.lr).
  std::string at(const std::string& key) const;
};

// A single (not group) field's value as JSON: enums by name, paths as strings.
nlohmann::json value_json(const Field& f, const void* member);

// Type-erased forms of the templates below.
nlohmann::json to_json(const Schema& s, const void* o, bool identity_only);
void validate(const Schema& s, const void* o, const std::string& prefix, const Source* src);
void read_yaml(const Schema& s, void* o, std::string_view text, const std::string& file,
               Source* src, const std::string& prefix);

// Every field by name (groups nested, flat groups merged), defaults included.
template <class S>
nlohmann::json to_json(const S& o) {
  return to_json(schema_of<S>(), &o, false);
}
// The fields that change a result (not the .run_only() ones): what resume hashes cover.
template <class S>
nlohmann::json identity_json(const S& o) {
  return to_json(schema_of<S>(), &o, true);
}

// Runs every field's check, then the rules; throws cai::Error naming the field:
// "<file>:<line>: <prefix>.<key>: <problem>" when `src` knows its line, else "<prefix>.<key>: ..."
template <class S>
void validate(const S& o, const std::string& prefix = "", const Source* src = nullptr) {
  validate(schema_of<S>(), &o, prefix, src);
}

// Overrides the fields `text` gives (YAML; JSON is YAML too); unknown keys, keys given twice, wrong
// types and unknown enum names are errors naming `file`, the line and the dotted key. The lines of
// the keys read are recorded in `src` (for validate's messages) when given.
template <class S>
void read_yaml(S& o, std::string_view text, const std::string& file, Source* src = nullptr,
               const std::string& prefix = "") {
  read_yaml(schema_of<S>(), &o, text, file, src, prefix);
}

// Block YAML of a JSON value (keys sorted, floats shortest round-trip): what --print-config
// prints and read_yaml reads back to the same value.
std::string to_yaml(const nlohmann::json& j);

// "lora_targets" -> "lora-targets".
std::string flag_case(std::string_view key);

}  // namespace cai::opt
