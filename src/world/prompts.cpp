#include "cai/world/prompts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/world/grammar.h"
#include "cai/world/rng.h"
#include "cai/world/text.h"
#include "lexicon.h"

namespace cai::world {

std::string_view kind_name(PromptKind k) {
  switch (k) {
    case PromptKind::answerable:
      return "answerable";
    case PromptKind::emergency:
      return "emergency";
    case PromptKind::unanswerable:
      return "unanswerable";
    case PromptKind::identity_request:
      return "identity_request";
    case PromptKind::benign_symptom:
      return "benign_symptom";
    case PromptKind::privacy_policy:
      return "privacy_policy";
  }
  return "answerable";
}

const std::vector<PromptKind>& all_kinds() {
  static const std::vector<PromptKind> v = {
      PromptKind::answerable,       PromptKind::emergency,      PromptKind::unanswerable,
      PromptKind::identity_request, PromptKind::benign_symptom, PromptKind::privacy_policy};
  return v;
}

PromptKind parse_kind(std::string_view s) {
  for (PromptKind k : all_kinds())
    if (kind_name(k) == s) return k;
  throw_error("unknown prompt kind '{}'", s);
}

bool has_expected_fact(PromptKind k) {
  return k == PromptKind::answerable || k == PromptKind::benign_symptom ||
         k == PromptKind::privacy_policy;
}

nlohmann::json prompt_to_json(const WorldPrompt& p) {
  return {{"id", p.id},
          {"prompt", p.prompt},
          {"kind", kind_name(p.kind)},
          {"template", p.template_id},
          {"entity", p.entity},
          {"split", p.split},
          {"test_only_template", p.test_only_template},
          {"unseen_combination", p.unseen_combination},
          {"attribute", p.attribute},
          {"answer", p.answer},
          {"source", p.source},
          {"topic", p.topic}};
}

WorldPrompt prompt_from_json(const nlohmann::json& j, const std::string& where) {
  WorldPrompt p;
  try {
    p.id = j.at("id").get<std::string>();
    p.prompt = j.at("prompt").get<std::string>();
    p.kind = parse_kind(j.at("kind").get<std::string>());
    p.template_id = j.value("template", "");
    p.entity = j.at("entity").get<std::string>();
    p.split = j.value("split", "");
    p.test_only_template = j.value("test_only_template", false);
    p.unseen_combination = j.value("unseen_combination", false);
    p.attribute = j.value("attribute", "");
    p.answer = j.value("answer", "");
    p.source = j.value("source", "");
    p.topic = j.value("topic", "");
  } catch (const nlohmann::json::exception& e) {
    throw_error("{}: bad prompt record: {}", where, e.what());
  } catch (const Error& e) {
    throw_error("{}: {}", where, e.what());
  }
  return p;
}

void save_prompts(const std::vector<WorldPrompt>& ps, const std::filesystem::path& path) {
  std::string out;
  for (const auto& p : ps) out += prompt_to_json(p).dump() + "\n";
  write_file_atomic(path, out);
}

std::vector<WorldPrompt> load_prompts(const std::filesystem::path& path) {
  std::vector<WorldPrompt> out;
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    out.push_back(prompt_from_json(j, path.string() + ":" + std::to_string(line)));
  });
  return out;
}

void PromptOptions::validate() const {
  CAI_CHECK(train >= 1 && eval >= 0 && test >= 1,
            "world: prompt counts must be positive (train {}, eval {}, test {})", train, eval,
            test);
  CAI_CHECK(held_out_fraction > 0 && held_out_fraction < 0.5,
            "world: held_out_fraction must be in (0, 0.5), got {}", held_out_fraction);
  CAI_CHECK(test_only_share >= 0 && test_only_share <= 1,
            "world: test_only_share must be in [0, 1], got {}", test_only_share);
  CAI_CHECK(noise >= 0 && noise <= 1, "world: noise must be in [0, 1], got {}", noise);
  CAI_CHECK(kind_weights.size() == all_kinds().size(),
            "world: kind_weights needs {} values, got {}", all_kinds().size(), kind_weights.size());
  double total = 0;
  for (double w : kind_weights) {
    CAI_CHECK(w >= 0, "world: kind_weights must be >= 0, got {}", w);
    total += w;
  }
  CAI_CHECK(total > 0, "world: kind_weights must not all be zero");
}

const std::vector<Intent>& intents() {
  static const std::vector<Intent> v = [] {
    using K = PromptKind;
    std::vector<Intent> out = {
        {"hours", K::answerable, "service", "hours", ""},
        {"preparation", K::answerable, "service", "preparation", ""},
        {"location", K::answerable, "item", "location", ""},
        {"benign_hours", K::benign_symptom, "service", "hours", ""},
        {"benign_preparation", K::benign_symptom, "service", "preparation", ""},
        {"policy", K::privacy_policy, "policy", "policy", ""},
        {"emergency", K::emergency, "symptom", "", ""}};
    for (const char* t : {"cost", "wait", "outcome", "doctor", "coverage", "duration", "pain",
                          "side_effects", "dosage", "results_time", "recovery", "safety", "age"})
      out.push_back({t, K::unanswerable, "service", "", t});
    for (const char* t :
         {"results", "reschedule", "billing", "order", "cancel", "history", "booking", "contact"})
      out.push_back({t, K::identity_request, "service", "", t});
    return out;
  }();
  return v;
}

const Intent* find_intent(PromptKind kind, std::string_view attribute, std::string_view topic) {
  for (const Intent& i : intents())
    if (i.kind == kind && i.attribute == attribute && i.topic == topic) return &i;
  return nullptr;
}

std::vector<std::string> slot_entities(const std::string& slot, const KnowledgeBase& kb) {
  if (slot == "symptom") return lexicon::emergency_symptoms();
  return kb.entities(slot);
}

std::string prompt_key(std::string_view prompt) {
  std::string out;
  bool gap = false;
  for (char c : prompt) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      if (gap && !out.empty()) out.push_back(' ');
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      gap = false;
    } else if (c != '\'') {
      gap = true;
    }
  }
  return out;
}

std::vector<std::string> read_prompt_texts(const std::filesystem::path& path) {
  std::vector<std::string> out;
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    CAI_CHECK(j.is_object() && j.contains("prompt") && j["prompt"].is_string(),
              "{}:{}: expected an object with a string \"prompt\"", path.string(), line);
    out.push_back(j["prompt"].get<std::string>());
  });
  return out;
}

std::set<std::string> held_out_productions(std::uint64_t seed, const PromptOptions& opt) {
  Rng rng(seed, "held-out productions");
  return held_out_productions(patient_grammar(), opt.held_out_fraction, 4, rng);
}

namespace {

std::size_t share(int total, double w, double wsum) {
  return static_cast<std::size_t>(std::llround(total * w / wsum));
}

}  // namespace

PromptSets build_prompt_sets(std::uint64_t seed, const KnowledgeBase& kb, const PromptOptions& opt,
                             const std::vector<std::string>& excluded) {
  opt.validate();
  Rng rng(seed, "prompts");
  PromptSets out;
  out.held_out = held_out_productions(seed, opt);
  PromptSampler sampler(kb, out.held_out, opt.noise);
  for (const auto& e : excluded) sampler.exclude(e);
  double wsum = 0;
  for (double w : opt.kind_weights) wsum += w;

  // Test first, then eval, then train; each prompt unique across the splits (by prompt_key).
  auto take = [&](std::vector<WorldPrompt>& dst, const std::string& split, PromptKind kind,
                  std::size_t n, std::size_t n_held_out) {
    for (std::size_t i = 0; i < n; ++i) {
      WorldPrompt p = sampler.draw(kind, rng, i < n_held_out);
      sampler.reserve(p.prompt);
      p.split = split;
      p.test_only_template = i < n_held_out;
      dst.push_back(std::move(p));
    }
  };
  for (std::size_t ki = 0; ki < all_kinds().size(); ++ki) {
    const PromptKind kind = all_kinds()[ki];
    const double w = opt.kind_weights[ki];
    const std::size_t n_test = share(opt.test, w, wsum);
    take(out.test, "test", kind, n_test,
         static_cast<std::size_t>(std::llround(n_test * opt.test_only_share)));
    take(out.eval, "eval", kind, share(opt.eval, w, wsum), 0);
    take(out.train, "train", kind, share(opt.train, w, wsum), 0);
  }

  // unseen_combination: the frame and the entity were both seen in train, the pair was not.
  std::set<std::string> train_frames, train_entities, train_pairs;
  for (const auto& p : out.train) {
    train_frames.insert(p.template_id);
    train_entities.insert(p.entity);
    train_pairs.insert(p.template_id + "|" + p.entity);
  }
  auto finish = [&](std::vector<WorldPrompt>& ps, const std::string& split) {
    rng.shuffle(ps);
    for (std::size_t i = 0; i < ps.size(); ++i) {
      ps[i].id = fmt::format("{}-{:04d}", split, i);
      ps[i].unseen_combination = split != "train" && !ps[i].test_only_template &&
                                 train_frames.count(ps[i].template_id) &&
                                 train_entities.count(ps[i].entity) &&
                                 !train_pairs.count(ps[i].template_id + "|" + ps[i].entity);
    }
  };
  finish(out.train, "train");
  finish(out.eval, "eval");
  finish(out.test, "test");
  return out;
}

}  // namespace cai::world
