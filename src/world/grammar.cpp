#include "cai/world/grammar.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "cai/io/error.h"
#include "cai/world/rng.h"

namespace cai::world {

std::string strip_marks(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != kMarkOpen && c != kMarkClose) out.push_back(c);
  return out;
}

void Grammar::add(const std::string& name, std::vector<Alt> alts) {
  CAI_CHECK(!name.empty(), "grammar: a symbol needs a name");
  CAI_CHECK(!alts.empty(), "grammar: symbol '{}' has no alternatives", name);
  for (const Alt& a : alts)
    CAI_CHECK(a.weight > 0, "grammar: symbol '{}' has a weight {} (must be > 0)", name, a.weight);
  CAI_CHECK(symbols_.emplace(name, std::move(alts)).second, "grammar: symbol '{}' defined twice",
            name);
}

bool Grammar::has(std::string_view name) const { return symbols_.find(name) != symbols_.end(); }

const std::vector<Alt>& Grammar::alternatives(std::string_view name) const {
  auto it = symbols_.find(name);
  CAI_CHECK(it != symbols_.end(), "grammar: no symbol '{}'", name);
  return it->second;
}

std::string Grammar::production_id(std::string_view symbol, std::size_t index) {
  return fmt::format("{}#{}", symbol, index);
}

bool Grammar::holdable(const Alt& a) {
  if (a.core) return false;
  int depth = 0;
  for (char c : a.text) {
    if (c == '{') ++depth;
    if (c == '}') --depth;
    if (depth == 0 && std::isalpha(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

namespace {

std::string_view scope_of(std::string_view symbol) {
  const std::size_t dot = symbol.find('.');
  return dot == std::string_view::npos ? std::string_view{} : symbol.substr(0, dot);
}

class Expander {
 public:
  Expander(const Grammar& g, const ExpandContext& ctx, Rng& rng, Expansion& out)
      : g_(g), ctx_(ctx), rng_(rng), out_(out) {}

  // Appends the expansion of `symbol` to out_.text and returns its frame.
  std::string symbol(std::string_view name, std::string_view scope, int depth) {
    CAI_CHECK(depth < 64, "grammar: expansion of '{}' nests too deep (a cycle?)", name);
    const auto& alts = g_.alternatives(name);
    std::vector<double> w(alts.size());
    double total = 0;
    for (std::size_t i = 0; i < alts.size(); ++i) {
      const bool out = ctx_.excluded && ctx_.excluded->count(Grammar::production_id(name, i));
      w[i] = out ? 0.0 : alts[i].weight;
      total += w[i];
    }
    CAI_CHECK(total > 0, "grammar: every alternative of '{}' is excluded", name);
    const std::size_t pick = rng_.weighted(w);
    std::string id = Grammar::production_id(name, pick);
    out_.productions.push_back(id);
    const std::string_view own = scope_of(name);
    std::string child_frame = text(alts[pick].text, own.empty() ? scope : own, depth);
    return child_frame.empty() ? id : child_frame;
  }

 private:
  // Expands one alternative's text; returns the frame of its "=" child, if it has one.
  std::string text(std::string_view t, std::string_view scope, int depth) {
    std::string frame;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i] != '{') {
        out_.text.push_back(t[i]);
        continue;
      }
      const std::size_t end = t.find('}', i);
      CAI_CHECK(end != std::string_view::npos, "grammar: unclosed '{{' in \"{}\"", t);
      std::string_view ref = t.substr(i + 1, end - i - 1);
      i = end;
      if (!ref.empty() && ref[0] == '$') {
        auto it = ctx_.vars.find(ref.substr(1));
        CAI_CHECK(it != ctx_.vars.end(), "grammar: no variable '{}' for \"{}\"", ref, t);
        out_.text.push_back(kMarkOpen);
        out_.text += it->second;
        out_.text.push_back(kMarkClose);
        continue;
      }
      const bool marks_frame = !ref.empty() && ref[0] == '=';
      if (marks_frame) ref.remove_prefix(1);
      std::string name(ref);
      if (!name.empty() && name.back() == '@') name += ctx_.key;
      const std::string scoped = scope.empty() ? "" : std::string(scope) + "." + name;
      const std::string& resolved = !scoped.empty() && g_.has(scoped) ? scoped : name;
      CAI_CHECK(g_.has(resolved), "grammar: \"{}\" refers to '{}', which is not defined{}", t, name,
                scope.empty() ? "" : fmt::format(" (nor '{}')", scoped));
      std::string f = symbol(resolved, scope, depth + 1);
      if (marks_frame) frame = std::move(f);
    }
    return frame;
  }

  const Grammar& g_;
  const ExpandContext& ctx_;
  Rng& rng_;
  Expansion& out_;
};

}  // namespace

Expansion expand(const Grammar& g, std::string_view symbol, const ExpandContext& ctx, Rng& rng) {
  Expansion out;
  Expander e(g, ctx, rng, out);
  const std::string_view own = scope_of(symbol);
  out.frame = e.symbol(symbol, own.empty() ? std::string_view(ctx.scope) : own, 0);
  return out;
}

std::set<std::string> held_out_productions(const Grammar& g, double fraction,
                                           std::size_t min_holdable, Rng& rng) {
  CAI_CHECK(fraction >= 0 && fraction < 1, "grammar: held-out fraction must be in [0, 1), got {}",
            fraction);
  std::set<std::string> out;
  if (fraction == 0) return out;
  for (const auto& [name, alts] : g.symbols()) {
    std::vector<std::size_t> can;
    for (std::size_t i = 0; i < alts.size(); ++i)
      if (Grammar::holdable(alts[i])) can.push_back(i);
    if (can.size() < std::max<std::size_t>(min_holdable, 2)) continue;
    const std::size_t n = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::llround(fraction * static_cast<double>(can.size()))));
    rng.shuffle(can);
    for (std::size_t k = 0; k < n && k + 1 < can.size(); ++k)
      out.insert(Grammar::production_id(name, can[k]));
  }
  return out;
}

}  // namespace cai::world
