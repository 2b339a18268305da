// Declared options: a struct's field list gives reading (with file, line and key in errors),
// checks, JSON, the identity used by resume hashes, and YAML that reads back to the same value.
#include <gtest/gtest.h>

#include "cai/io/log.h"
#include "cai/io/options.h"

namespace cai {
namespace {

enum class Color { red, green };
constexpr std::array<opt::EnumName<Color>, 2> enum_names(Color) {
  return {{{Color::red, "red"}, {Color::green, "green"}}};
}

struct Inner {
  std::int64_t rank = 0;
  double alpha = 16.0;
  std::vector<std::string> targets = {"q", "v"};
  static void fields(opt::Fields<Inner>& f) {
    f("rank", &Inner::rank, "rank (0: off)", opt::min(0)).alias("r").was("r_old");
    f("alpha", &Inner::alpha, "scale", opt::above(0));
    f("targets", &Inner::targets, "modules", opt::not_empty());
  }
};

struct Shared {
  double lr = 1e-5;
  std::uint64_t seed = 0;
  std::int64_t log_every = 1;
  static void fields(opt::Fields<Shared>& f) {
    f("lr", &Shared::lr, "learning rate", opt::above(0));
    f("seed", &Shared::seed, "seed");
    f("log_every", &Shared::log_every, "steps between lines", opt::min(1)).run_only();
  }
};

struct Outer {
  std::string name;
  bool enabled = true;
  Color color = Color::green;
  double p = 0.7;
  std::vector<std::int64_t> ks = {5, 10};
  Shared shared;
  Inner inner;
  static void fields(opt::Fields<Outer>& f) {
    f("name", &Outer::name, "name");
    f("enabled", &Outer::enabled, "on");
    f("color", &Outer::color, "a color");
    f("p", &Outer::p, "a probability", opt::range(0, 1, "[)"));
    f("ks", &Outer::ks, "sizes", opt::each(opt::min(1)));
    f.flat(&Outer::shared).skipping({"seed"});
    f("inner", &Outer::inner, "nested");
  }
  void rules(opt::Rules& r) const {
    r.require(!enabled || !name.empty(), "name", "is required when enabled");
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Options, DefaultsReadAndJson) {
  Outer o;
  opt::Source src;
  opt::read_yaml(o,
                 "name: x\n"
                 "color: red\n"
                 "lr: 3e-4\n"
                 "inner:\n"
                 "  rank: 4\n"
                 "  targets: a,b\n",
                 "o.yaml", &src);
  EXPECT_EQ(o.name, "x");
  EXPECT_EQ(o.color, Color::red);
  EXPECT_DOUBLE_EQ(o.shared.lr, 3e-4);
  EXPECT_EQ(o.inner.rank, 4);
  EXPECT_EQ(o.inner.targets, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(o.inner.alpha, 16.0);  // default kept
  EXPECT_EQ(src.lines.at("inner.rank"), 5);
  EXPECT_EQ(src.at("inner.rank"), "o.yaml:5: inner.rank");
  // A key left to its default is placed at its block's line; outside any block, at none.
  EXPECT_EQ(src.at("inner.alpha"), "o.yaml:4: inner.alpha");
  EXPECT_EQ(src.at("seed"), "o.yaml: seed");

  const auto j = opt::to_json(o);
  EXPECT_EQ(j["color"], "red");
  EXPECT_EQ(j["lr"], 3e-4);          // the flat group's fields sit at this level
  EXPECT_FALSE(j.contains("seed"));  // skipped here
  EXPECT_EQ(j["inner"]["rank"], 4);
  EXPECT_TRUE(j.contains("log_every"));
  EXPECT_FALSE(opt::identity_json(o).contains("log_every"));  // run-only
}

TEST(Options, YamlRoundTripWithShortestFloats) {
  Outer o;
  o.name = "needs \"quotes\": yes";
  o.p = 0.7;
  o.shared.lr = 1e-5;
  o.inner.targets = {"true", "a b"};
  const std::string y = opt::to_yaml(opt::to_json(o));
  EXPECT_NE(y.find("p: 0.7\n"), std::string::npos) << y;
  EXPECT_NE(y.find("lr: 1.0e-05\n"), std::string::npos) << y;  // a float to YAML 1.1 too
  Outer back;
  opt::read_yaml(back, y, "printed");
  EXPECT_EQ(opt::to_json(back), opt::to_json(o));
  EXPECT_EQ(opt::to_yaml(opt::to_json(back)), y);
}

TEST(Options, ErrorsNameFileLineAndKey) {
  struct Case {
    std::string yaml, expect;
  };
  const std::vector<Case> cases = {
      {"name: a\ninner:\n  rank: 1\n  rnk: 2\n",
       "o.yaml:4: inner.rnk: unknown key 'rnk' (allowed: rank, alpha, targets)"},
      {"inner: {rank: three}\n", "o.yaml:1: inner.rank: 'three' is not an integer"},
      {"enabled: maybe\n", "o.yaml:1: enabled: 'maybe' is not true or false"},
      {"p: 1\np: 2\n", "o.yaml:2: p: key given twice"},
      {"inner: 3\n", "inner: must be a mapping"},
      {"color: blue\n", "o.yaml:1: color: 'blue' is not one of red, green"},
      {"seed: 3\n", "o.yaml:1: seed: unknown key"},
      {"ks: {a: 1}\n", "o.yaml:1: ks: must be a list"},
      {"name: [a\n", "o.yaml:"},
  };
  for (const auto& c : cases) {
    const auto msg = error_of([&] {
      Outer o;
      opt::read_yaml(o, c.yaml, "o.yaml");
    });
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.yaml << " -> " << msg;
  }
  // Values are checked by validate(), with the line the key was read from.
  const std::vector<Case> values = {
      {"name: a\n\np: 1\n", "o.yaml:3: p: must be in [0, 1), got 1"},
      {"name: a\nlr: -1\n", "o.yaml:2: lr: must be > 0, got -1"},
      {"name: a\nks: [3, 0]\n", "o.yaml:2: ks: values must be >= 1, got 0"},
      {"name: a\ninner: {targets: []}\n", "o.yaml:2: inner.targets: must not be empty"},
      {"enabled: true\n", "o.yaml: name: is required when enabled"},
  };
  for (const auto& c : values) {
    const auto msg = error_of([&] {
      Outer o;
      opt::Source src;
      opt::read_yaml(o, c.yaml, "o.yaml", &src);
      opt::validate(o, "", &src);
    });
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.yaml << " -> " << msg;
  }
  // Without a file, the key carries the struct's prefix.
  Outer o;
  o.name = "a";
  o.inner.alpha = 0;
  EXPECT_EQ(error_of([&] { opt::validate(o, "train"); }), "train.inner.alpha: must be > 0, got 0");
}

TEST(Options, OldNamesStillReadWithAWarning) {
  std::vector<std::string> seen;
  set_log_sink([&](const LogRecord& r) { seen.emplace_back(r.text); });
  Outer o;
  opt::read_yaml(o, "inner: {r_old: 3}\n", "o.yaml");
  set_log_sink(nullptr);
  EXPECT_EQ(o.inner.rank, 3);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_NE(seen[0].find("o.yaml:1: inner.r_old: 'r_old' is the old name of 'rank'"),
            std::string::npos)
      << seen[0];
}

TEST(Options, EnumsByName) {
  EXPECT_EQ(opt::name_of(Color::green), "green");
  EXPECT_EQ(opt::parse_enum<Color>("red", "color"), Color::red);
  EXPECT_EQ(error_of([] { opt::parse_enum<Color>("blue", "color"); }),
            "color: unknown 'blue' (expected red or green)");
  EXPECT_EQ(opt::format_number(0.7), "0.7");
  EXPECT_EQ(opt::format_number(5e-05), "5e-05");
  EXPECT_EQ(opt::format_number(2), "2");
}

}  // namespace
}  // namespace cai
