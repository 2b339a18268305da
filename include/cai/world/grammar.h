// A small generative grammar: the engine behind the world's patient language (prompts.h).
//
// A grammar is a set of named symbols; each symbol is a list of weighted alternatives
// (productions). An alternative is text that may reference:
//   {name}    another symbol, expanded in place;
//   {=name}   the same, and the frame of the whole expansion is taken from this child;
//   {name@}   the symbol "name@KEY", where KEY is the expansion's key (an entity): wording
//             that only fits one entity ("how long do you keep my records" for record
//             retention);
//   {$var}    a variable of the expansion (the entity as written, its plural, ...).
// A name without a dot is looked up in the current scope first ("hours.iq" for "{iq}" while
// expanding a symbol of "hours."), then globally; expanding "x.y" makes "x" the scope of its
// subtree, so shared symbols ("ind": an indirect question) can call intent-specific ones.
//
// Every alternative has an id, "symbol#index". The frame of an expansion is the id of the
// alternative chosen at its root, or, when that alternative marks a child with "=", the
// child's frame: the sentence pattern of a prompt, as opposed to its lexical choices.
//
// Held-out productions. A production is holdable when it carries words of its own (text
// outside the braces) and is not marked core; held_out_productions() picks a share of the
// holdable alternatives of every symbol that has enough of them. Expansions that exclude that
// set give the train split and the corpus; the test split also draws prompts that use at
// least one held-out production, so it measures wording no training data contains.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cai::world {

class Rng;

struct Alt {
  std::string text;
  int weight = 1;     // relative frequency among the symbol's alternatives (> 0)
  bool core = false;  // never held out: the plainest wording, which every split should know
};

// Variable values are wrapped in these bytes in the raw expansion, so later passes (casing,
// typos) can leave the entity as written; strip_marks() removes them.
inline constexpr char kMarkOpen = '\x01';
inline constexpr char kMarkClose = '\x02';
std::string strip_marks(std::string_view s);

class Grammar {
 public:
  // Throws cai::Error when the name is taken, the list is empty or a weight is not positive.
  void add(const std::string& name, std::vector<Alt> alts);
  bool has(std::string_view name) const;
  const std::vector<Alt>& alternatives(std::string_view name) const;  // throws when absent
  const std::map<std::string, std::vector<Alt>, std::less<>>& symbols() const { return symbols_; }

  static std::string production_id(std::string_view symbol, std::size_t index);
  static bool holdable(const Alt& a);

 private:
  std::map<std::string, std::vector<Alt>, std::less<>> symbols_;
};

struct Expansion {
  std::string text;                      // raw: variables still wrapped in kMark* bytes
  std::string frame;                     // production id of the frame
  std::vector<std::string> productions;  // ids of every alternative chosen, in order
};

struct ExpandContext {
  std::string scope;  // scope of the root symbol when its name has none ("hours")
  std::string key;    // KEY of "{name@}" references
  std::map<std::string, std::string, std::less<>> vars;  // values of "{$var}"
  const std::set<std::string>* excluded = nullptr;       // production ids never chosen
};

// Expands `symbol`. Throws cai::Error naming the symbol for an unresolvable reference, a
// missing variable, or a symbol whose alternatives are all excluded.
Expansion expand(const Grammar& g, std::string_view symbol, const ExpandContext& ctx, Rng& rng);

// A share `fraction` of the holdable alternatives of every symbol with at least `min_holdable`
// of them (at least one each), drawn from `rng`, as production ids. Symbols are visited in
// name order, so the set depends only on the grammar and the stream.
std::set<std::string> held_out_productions(const Grammar& g, double fraction,
                                           std::size_t min_holdable, Rng& rng);

}  // namespace cai::world
