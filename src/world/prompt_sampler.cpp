// Worded prompts: an intent and an entity through the patient grammar, tidied, sometimes noised.
#include <algorithm>
#include <cctype>
#include <map>

#include "cai/io/error.h"
#include "cai/world/grammar.h"
#include "cai/world/noise.h"
#include "cai/world/prompts.h"
#include "cai/world/rng.h"
#include "patient_grammar.h"

namespace cai::world {

const Grammar& patient_grammar() {
  static const Grammar g = [] {
    Grammar x;
    patient::add_shared(x);
    patient::add_fact_intents(x);
    patient::add_care_intents(x);
    patient::add_unknown_intents(x);
    patient::add_account_intents(x);
    patient::add_entity_names(x);
    return x;
  }();
  return g;
}

namespace {

std::string with_article(const std::string& noun) {
  const char c =
      noun.empty() ? 'z' : static_cast<char>(std::tolower(static_cast<unsigned char>(noun[0])));
  // "an x-ray": x is said "ex".
  const bool vowel = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'x';
  return (vowel ? "an " : "a ") + noun;
}

std::string plural(const std::string& noun) {
  if (!noun.empty() && noun.back() == 's') return noun + "es";
  return noun + "s";
}

// The variables of a prompt about an entity that the prompt calls `name` ("singular" or
// "singular|plural" for a service, "plural|one of them" for an item).
std::map<std::string, std::string, std::less<>> variables(const Intent& intent,
                                                          const std::string& name) {
  const std::size_t bar = name.find('|');
  const std::string first = name.substr(0, bar);
  const std::string second = bar == std::string::npos ? "" : name.substr(bar + 1);
  std::map<std::string, std::string, std::less<>> v = {{"e", first}};
  if (intent.slot == "service") {
    v["a"] = with_article(first);
    v["pl"] = second.empty() ? plural(first) : second;
  } else if (intent.slot == "item") {
    v["one"] = second.empty() ? first : second;
  }
  return v;
}

bool uses_any(const Expansion& e, const std::set<std::string>& ids) {
  return std::any_of(e.productions.begin(), e.productions.end(),
                     [&](const std::string& p) { return ids.count(p) > 0; });
}

}  // namespace

PromptSampler::PromptSampler(const KnowledgeBase& kb, std::set<std::string> held_out, double noise)
    : kb_(kb), held_out_(std::move(held_out)), noise_(noise) {}

void PromptSampler::exclude(std::string_view prompt) {
  const std::string k = prompt_key(prompt);
  if (!k.empty()) excluded_.push_back(" " + k + " ");
}

bool PromptSampler::is_reserved(std::string_view prompt) const {
  const std::string k = prompt_key(prompt);
  if (reserved_.count(k)) return true;
  const std::string padded = " " + k + " ";
  return std::any_of(excluded_.begin(), excluded_.end(),
                     [&](const std::string& e) { return padded.find(e) != std::string::npos; });
}

WorldPrompt PromptSampler::realise(const Intent& intent, const std::string& entity, Rng& rng,
                                   bool held_out) const {
  const Grammar& g = patient_grammar();
  ExpandContext ctx;
  ctx.scope = intent.name;
  ctx.key = entity;
  ctx.excluded = held_out ? nullptr : &held_out_;
  const std::string names = "name@" + entity;
  // The entity's name for this prompt, then the wording around it.
  auto word = [&] {
    Expansion name;
    if (g.has(names)) name = expand(g, names, ctx, rng);
    ctx.vars = variables(intent, g.has(names) ? name.text : entity);
    Expansion e = expand(g, "prompt", ctx, rng);
    e.productions.insert(e.productions.end(), name.productions.begin(), name.productions.end());
    return e;
  };
  Expansion e = word();
  // At least one held-out production: draw wordings until one uses some (most do, since most
  // symbols hold some out).
  for (int tries = 0; held_out && !uses_any(e, held_out_); ++tries) {
    CAI_CHECK(tries < 1000, "world: intent {} found no wording with a held-out production",
              intent.name);
    e = word();
  }
  std::string text = tidy_sentences(e.text);
  const bool noisy = rng.chance(noise_);
  const std::uint64_t noise_seed = rng.next();  // drawn either way: noise never shifts the rest
  if (noisy) {
    Rng nr(noise_seed);
    text = light_noise(text, nr);
  }

  WorldPrompt p;
  p.prompt = strip_marks(text);
  p.kind = intent.kind;
  p.template_id = e.frame;
  p.entity = entity;
  p.topic = intent.topic;
  p.productions = std::move(e.productions);
  if (has_expected_fact(intent.kind)) {
    const Fact* f = kb_.find(entity, parse_attribute(intent.attribute));
    CAI_CHECK(f != nullptr, "world: no {} fact for '{}'", intent.attribute, entity);
    p.attribute = intent.attribute;
    p.answer = f->value;
    p.source = f->source;
  }
  return p;
}

WorldPrompt PromptSampler::draw(PromptKind kind, Rng& rng, bool held_out) const {
  std::vector<const Intent*> can;
  for (const Intent& i : intents())
    if (i.kind == kind) can.push_back(&i);
  CAI_CHECK(!can.empty(), "world: no intent of kind {}", kind_name(kind));
  for (int tries = 0;; ++tries) {
    const Intent& intent = *can[rng.below(can.size())];
    const auto entities = slot_entities(intent.slot, kb_);
    CAI_CHECK(!entities.empty(), "world: no {} entity for intent {}", intent.slot, intent.name);
    WorldPrompt p = realise(intent, entities[rng.below(entities.size())], rng, held_out);
    if (!is_reserved(p.prompt)) return p;
    CAI_CHECK(tries < 1000,
              "world: no new prompt of kind {} after 1000 draws (too few entities "
              "for the prompts asked?)",
              kind_name(kind));
  }
}

}  // namespace cai::world
