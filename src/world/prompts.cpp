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
          {"opener", p.opener},
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
    p.opener = j.value("opener", "");
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
  CAI_CHECK(test_only_template_fraction > 0 && test_only_template_fraction < 1,
            "world: test_only_template_fraction must be in (0, 1), got {}",
            test_only_template_fraction);
  CAI_CHECK(test_only_share >= 0 && test_only_share <= 1,
            "world: test_only_share must be in [0, 1], got {}", test_only_share);
  CAI_CHECK(kind_weights.size() == all_kinds().size(),
            "world: kind_weights needs {} values, got {}", all_kinds().size(), kind_weights.size());
  double total = 0;
  for (double w : kind_weights) {
    CAI_CHECK(w >= 0, "world: kind_weights must be >= 0, got {}", w);
    total += w;
  }
  CAI_CHECK(total > 0, "world: kind_weights must not all be zero");
}

std::vector<std::string> slot_entities(const std::string& slot, const KnowledgeBase& kb) {
  if (slot == "symptom") return lexicon::emergency_symptoms();
  return kb.entities(slot);
}

WorldPrompt make_prompt(const PromptTemplate& t, const std::string& entity,
                        const std::string& opener, const KnowledgeBase& kb) {
  WorldPrompt p;
  p.kind = t.kind;
  p.template_id = t.id;
  p.entity = entity;
  p.opener = opener;
  p.topic = t.topic;
  const std::string body = fill(t.text, "e", entity);
  p.prompt = opener.empty() ? body : opener + " " + body;
  if (has_expected_fact(t.kind)) {
    const Fact* f = kb.find(entity, parse_attribute(t.group));
    CAI_CHECK(f != nullptr, "world: no {} fact for '{}' (template {})", t.group, entity, t.id);
    p.attribute = t.group;
    p.answer = f->value;
    p.source = f->source;
  }
  return p;
}

namespace {

struct Combo {
  const PromptTemplate* t;
  std::string entity;
};

std::size_t share(int total, double w, double wsum) {
  return static_cast<std::size_t>(std::llround(total * w / wsum));
}

}  // namespace

PromptSets build_prompt_sets(std::uint64_t seed, const KnowledgeBase& kb,
                             const PromptOptions& opt) {
  opt.validate();
  Rng rng(seed, "prompts");
  PromptSets out;
  double wsum = 0;
  for (double w : opt.kind_weights) wsum += w;

  for (std::size_t ki = 0; ki < all_kinds().size(); ++ki) {
    const PromptKind kind = all_kinds()[ki];
    // Test-only templates: a fixed share of every group, so each attribute keeps some.
    std::map<std::string, std::vector<const PromptTemplate*>> groups;
    for (const auto& t : prompt_templates())
      if (t.kind == kind) groups[t.group].push_back(&t);
    std::vector<Combo> seen, unseen;
    for (auto& [g, ts] : groups) {
      rng.shuffle(ts);
      const std::size_t n_test = std::max<std::size_t>(
          1, static_cast<std::size_t>(std::llround(ts.size() * opt.test_only_template_fraction)));
      for (std::size_t i = 0; i < ts.size(); ++i) {
        const bool test_only = i < n_test;
        if (test_only) out.test_only_templates.push_back(ts[i]->id);
        for (const auto& e : slot_entities(ts[i]->slot, kb))
          (test_only ? unseen : seen).push_back({ts[i], e});
      }
    }
    rng.shuffle(seen);
    rng.shuffle(unseen);

    const double w = opt.kind_weights[ki];
    std::size_t n_train = share(opt.train, w, wsum), n_eval = share(opt.eval, w, wsum);
    const std::size_t n_test_all = share(opt.test, w, wsum);
    std::size_t n_test_only = std::min(
        unseen.size(), static_cast<std::size_t>(std::llround(n_test_all * opt.test_only_share)));
    std::size_t n_test_seen = n_test_all - n_test_only;
    // A kind with fewer pairs than asked for shrinks all three splits alike.
    const std::size_t need = n_train + n_eval + n_test_seen;
    if (need > seen.size()) {
      const double f = static_cast<double>(seen.size()) / static_cast<double>(need);
      n_train = static_cast<std::size_t>(n_train * f);
      n_eval = static_cast<std::size_t>(n_eval * f);
      n_test_seen = static_cast<std::size_t>(n_test_seen * f);
    }

    std::size_t next = 0;
    auto take = [&](std::vector<WorldPrompt>& dst, const std::string& split, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i, ++next) {
        WorldPrompt p =
            make_prompt(*seen[next].t, seen[next].entity, rng.pick(prompt_openers()), kb);
        p.split = split;
        dst.push_back(std::move(p));
      }
    };
    take(out.train, "train", n_train);
    const std::size_t train_end = next;
    take(out.eval, "eval", n_eval);
    take(out.test, "test", n_test_seen);
    for (std::size_t i = 0; i < n_test_only; ++i) {
      WorldPrompt p = make_prompt(*unseen[i].t, unseen[i].entity, rng.pick(prompt_openers()), kb);
      p.split = "test";
      p.test_only_template = true;
      out.test.push_back(std::move(p));
    }
    // The corpus may use the train pairs and the pairs no split drew.
    for (std::size_t i = 0; i < seen.size(); ++i) {
      if (i >= train_end && i < next) continue;
      WorldPrompt p = make_prompt(*seen[i].t, seen[i].entity, "", kb);
      p.split = "pretrain";
      out.pretrain_pool.push_back(std::move(p));
    }
  }

  // unseen_combination: both halves were seen in train, the pair was not.
  std::set<std::string> train_templates, train_entities;
  for (const auto& p : out.train) {
    train_templates.insert(p.template_id);
    train_entities.insert(p.entity);
  }
  auto finish = [&](std::vector<WorldPrompt>& ps, const std::string& split) {
    rng.shuffle(ps);
    for (std::size_t i = 0; i < ps.size(); ++i) {
      ps[i].id = fmt::format("{}-{:04d}", split, i);
      ps[i].unseen_combination = split != "train" && !ps[i].test_only_template &&
                                 train_templates.count(ps[i].template_id) &&
                                 train_entities.count(ps[i].entity);
    }
  };
  finish(out.train, "train");
  finish(out.eval, "eval");
  finish(out.test, "test");
  return out;
}

}  // namespace cai::world
