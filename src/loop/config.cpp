// Reading the loop's YAML configuration (see include/cai/loop/config.h). Structural problems
// (syntax, unknown or duplicate keys, wrong types) are reported while reading, with the line
// of the offending key; value rules are checked once, in validate(), which finds the lines
// the reader recorded.
#include "cai/loop/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <set>
#include <type_traits>

#include "cai/io/error.h"
#include "cai/io/file.h"

namespace cai::loop {
namespace {

namespace fs = std::filesystem;

int line_of(const YAML::Node& n, int fallback) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? fallback : m.line + 1;
}

class Reader {
 public:
  Reader(std::string source, std::map<std::string, int>& lines)
      : source_(std::move(source)), lines_(lines) {}

  [[noreturn]] void fail(int line, const std::string& field, const std::string& problem) const {
    throw_error("{}:{}: {}: {}", source_, line, field, problem);
  }

  using Handler = std::function<void(const YAML::Node&, const std::string& field, int line)>;

  // Calls the handler of each key of a mapping; a key without a handler (a typo) or given
  // twice is an error. Records each key's line under its dotted field name.
  void map(const YAML::Node& node, const std::string& path, int line,
           const std::vector<std::pair<std::string, Handler>>& handlers) {
    if (!node.IsMap())
      fail(line_of(node, line), path.empty() ? "config" : path, "must be a mapping");
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const int at = line_of(it->first, line);
      if (!it->first.IsScalar()) fail(at, path, "keys must be plain names");
      const std::string k = it->first.Scalar();
      const std::string field = path.empty() ? k : path + "." + k;
      const Handler* h = nullptr;
      std::vector<std::string> names;
      for (const auto& [name, fn] : handlers) {
        names.push_back(name);
        if (name == k) h = &fn;
      }
      if (!h)
        fail(at, field, fmt::format("unknown key '{}' (allowed: {})", k, fmt::join(names, ", ")));
      if (!seen.insert(k).second) fail(at, field, "key given twice");
      lines_[field] = at;
      (*h)(it->second, field, at);
    }
  }

  template <typename T>
  Handler scalar(T& out) {
    return [this, &out](const YAML::Node& n, const std::string& field, int line) {
      if (!n.IsScalar()) fail(line, field, "must be a single value");
      try {
        out = n.as<T>();
      } catch (const YAML::Exception&) {
        fail(line, field, fmt::format("'{}' is not {}", n.Scalar(), type_name<T>()));
      }
    };
  }

  Handler strings(std::vector<std::string>& out) {
    return [this, &out](const YAML::Node& n, const std::string& field, int line) {
      out.clear();
      if (n.IsScalar()) {
        // "a,b" as a scalar: comma separated.
        std::string s = n.Scalar();
        for (std::size_t at = 0; at <= s.size();) {
          const auto comma = std::min(s.find(',', at), s.size());
          if (comma > at) out.push_back(s.substr(at, comma - at));
          at = comma + 1;
        }
        return;
      }
      if (!n.IsSequence()) fail(line, field, "must be a list of strings");
      for (std::size_t i = 0; i < n.size(); ++i) {
        if (!n[i].IsScalar())
          fail(line_of(n[i], line), fmt::format("{}[{}]", field, i), "must be a string");
        out.push_back(n[i].Scalar());
      }
    };
  }

  Handler ints(std::vector<std::int64_t>& out) {
    return [this, &out](const YAML::Node& n, const std::string& field, int line) {
      out.clear();
      if (!n.IsSequence()) fail(line, field, "must be a list of integers");
      for (std::size_t i = 0; i < n.size(); ++i) {
        const std::string f = fmt::format("{}[{}]", field, i);
        if (!n[i].IsScalar()) fail(line_of(n[i], line), f, "must be an integer");
        try {
          out.push_back(n[i].as<std::int64_t>());
        } catch (const YAML::Exception&) {
          fail(line_of(n[i], line), f, fmt::format("'{}' is not an integer", n[i].Scalar()));
        }
      }
    };
  }

 private:
  template <typename T>
  static const char* type_name() {
    if constexpr (std::is_same_v<T, bool>)
      return "true or false";
    else if constexpr (std::is_integral_v<T>)
      return "an integer";
    else if constexpr (std::is_floating_point_v<T>)
      return "a number";
    else
      return "a string";
  }
  std::string source_;
  std::map<std::string, int>& lines_;
};

Reader::Handler lora_handler(Reader& r, LoraConfig& l) {
  return [&r, &l](const YAML::Node& n, const std::string& f, int line) {
    r.map(n, f, line,
          {{"rank", r.scalar(l.rank)},
           {"alpha", r.scalar(l.alpha)},
           {"dropout", r.scalar(l.dropout)},
           {"targets", r.strings(l.targets)}});
  };
}

void read(Reader& r, const YAML::Node& root, LoopConfig& c) {
  auto sub = [&r](auto fill) {
    return [&r, fill](const YAML::Node& n, const std::string& f, int line) { fill(n, f, line); };
  };
  r.map(root, "", 1,
        {
            {"name", r.scalar(c.name)},
            {"out", r.scalar(c.out)},
            {"base_model", r.scalar(c.base_model)},
            {"api", sub([&](const YAML::Node& n, const std::string& f, int line) {
               r.map(n, f, line,
                     {{"base_url", r.strings(c.api.base_urls)},
                      {"model", r.scalar(c.api.model)},
                      {"api_key_env", r.scalar(c.api.api_key_env)},
                      {"concurrency", r.scalar(c.api.concurrency)},
                      {"top_logprobs", r.scalar(c.api.top_logprobs)},
                      {"timeout_s", r.scalar(c.api.timeout_s)},
                      {"max_retries", r.scalar(c.api.max_retries)}});
             })},
            {"world", r.scalar(c.world)},
            {"constitution", r.scalar(c.constitution)},
            {"prompts", sub([&](const YAML::Node& n, const std::string& f, int line) {
               r.map(n, f, line,
                     {{"train", r.scalar(c.prompts.train)}, {"eval", r.scalar(c.prompts.eval)}});
             })},
            {"train_prompts_per_round", r.scalar(c.train_prompts_per_round)},
            {"rounds", r.scalar(c.rounds)},
            {"seed", r.scalar(c.seed)},
            {"quality", sub([&](const YAML::Node& n, const std::string& f, int line) {
               auto& q = c.quality;
               r.map(n, f, line,
                     {{"metric", r.scalar(q.metric)},
                      {"split", r.scalar(q.split)},
                      {"factor", r.scalar(q.factor)},
                      {"limit", r.scalar(q.limit)},
                      {"temperature", r.scalar(q.temperature)},
                      {"max_tokens", r.scalar(q.max_tokens)},
                      {"ensemble", r.scalar(q.ensemble)},
                      {"judge", r.scalar(q.judge)}});
             })},
            {"critique_revise", sub([&](const YAML::Node& n, const std::string& f, int line) {
               auto& o = c.critique_revise;
               r.map(n, f, line,
                     {{"rounds", r.scalar(o.rounds)},
                      {"principles", r.scalar(o.principles)},
                      {"few_shot", r.scalar(o.few_shot)},
                      {"temperature", r.scalar(o.temperature)},
                      {"critique_temperature", r.scalar(o.critique_temperature)},
                      {"revision_temperature", r.scalar(o.revision_temperature)},
                      {"max_tokens", r.scalar(o.max_tokens)},
                      {"skip_when_ok", r.scalar(o.skip_when_ok)},
                      {"min_violation_p", r.scalar(o.min_violation_p)},
                      {"format", r.scalar(o.format)}});
             })},
            {"label", sub([&](const YAML::Node& n, const std::string& f, int line) {
               auto& o = c.label;
               r.map(n, f, line,
                     {{"ensemble", r.scalar(o.ensemble)},
                      {"samples", r.scalar(o.samples)},
                      {"min_confidence", r.scalar(o.min_confidence)},
                      {"chain_of_thought", r.scalar(o.chain_of_thought)},
                      {"judge", r.scalar(o.judge)}});
             })},
            {"sft", sub([&](const YAML::Node& n, const std::string& f, int line) {
               auto& o = c.sft;
               r.map(n, f, line,
                     {{"enabled", r.scalar(o.enabled)},
                      {"lr", r.scalar(o.lr)},
                      {"epochs", r.scalar(o.epochs)},
                      {"token_budget", r.scalar(o.token_budget)},
                      {"max_length", r.scalar(o.max_length)},
                      {"corpus_mix", r.scalar(o.corpus_mix)},
                      {"only_preferred_revisions", r.scalar(o.only_preferred_revisions)},
                      {"init", r.scalar(o.init)},
                      {"recovery_examples", r.scalar(o.recovery_examples)},
                      {"corpus", r.scalar(o.corpus)},
                      {"chat_template", r.scalar(o.chat_template)},
                      {"lora", lora_handler(r, o.lora)},
                      {"token_constraint",
                       [&r, &o](const YAML::Node& m, const std::string& g, int l) {
                         auto& t = o.token_constraint;
                         r.map(m, g, l,
                               {{"enabled", r.scalar(t.enabled)},
                                {"beta", r.scalar(t.beta)},
                                {"first_token_bias", r.scalar(t.first_token_bias)},
                                {"bias", r.scalar(t.bias)},
                                {"bias_length", r.scalar(t.bias_length)}});
                       }},
                      {"ref_model", r.scalar(o.ref_model)}});
             })},
            {"dpo", sub([&](const YAML::Node& n, const std::string& f, int line) {
               auto& o = c.dpo;
               r.map(n, f, line,
                     {{"enabled", r.scalar(o.enabled)},
                      {"beta", r.scalar(o.beta)},
                      {"lr", r.scalar(o.lr)},
                      {"epochs", r.scalar(o.epochs)},
                      {"token_budget", r.scalar(o.token_budget)},
                      {"max_length", r.scalar(o.max_length)},
                      {"loss", r.scalar(o.loss)},
                      {"label_smoothing", r.scalar(o.label_smoothing)},
                      {"rpo_alpha", r.scalar(o.rpo_alpha)},
                      {"reference", r.scalar(o.reference)},
                      {"lora", lora_handler(r, o.lora)}});
             })},
            {"probe", sub([&](const YAML::Node& n, const std::string& f, int line) {
               auto& o = c.probe;
               r.map(n, f, line,
                     {{"enabled", r.scalar(o.enabled)},
                      {"model", r.scalar(o.model)},
                      {"kl", r.scalar(o.kl)},
                      {"prefill", r.scalar(o.prefill)},
                      {"finetune", r.scalar(o.finetune)},
                      {"k", r.ints(o.k)},
                      {"n", r.ints(o.n)}});
             })},
            {"rl", sub([&](const YAML::Node& n, const std::string& f, int line) {
               auto& o = c.rl;
               r.map(n, f, line,
                     {{"enabled", r.scalar(o.enabled)},
                      {"algorithm", r.scalar(o.algorithm)},
                      {"steps", r.scalar(o.steps)},
                      {"prompts_per_rollout", r.scalar(o.prompts_per_rollout)},
                      {"samples_per_prompt", r.scalar(o.samples_per_prompt)},
                      {"max_new_tokens", r.scalar(o.max_new_tokens)},
                      {"temperature", r.scalar(o.temperature)},
                      {"kl_coef", r.scalar(o.kl_coef)},
                      {"kl_target", r.scalar(o.kl_target)},
                      {"reward_norm", r.scalar(o.reward_norm)},
                      {"lr", r.scalar(o.lr)},
                      {"epochs", r.scalar(o.epochs)},
                      {"rm", [&r, &o](const YAML::Node& m, const std::string& g, int l) {
                         r.map(m, g, l,
                               {{"lr", r.scalar(o.rm.lr)},
                                {"epochs", r.scalar(o.rm.epochs)},
                                {"token_budget", r.scalar(o.rm.token_budget)},
                                {"max_length", r.scalar(o.rm.max_length)},
                                {"samples", r.scalar(o.rm.samples)},
                                {"pairs", r.scalar(o.rm.pairs)},
                                {"temperature", r.scalar(o.rm.temperature)}});
                       }}});
             })},
            {"eval", sub([&](const YAML::Node& n, const std::string& f, int line) {
               auto& o = c.eval;
               r.map(n, f, line,
                     {{"split", r.scalar(o.split)},
                      {"temperature", r.scalar(o.temperature)},
                      {"sampled_temperature", r.scalar(o.sampled_temperature)},
                      {"max_tokens", r.scalar(o.max_tokens)},
                      {"limit", r.scalar(o.limit)},
                      {"task_limit", r.scalar(o.task_limit)},
                      {"tasks", r.scalar(o.tasks)},
                      {"critiques", r.scalar(o.critiques)},
                      {"comparisons", r.scalar(o.comparisons)},
                      {"tasks_files", r.strings(o.tasks_files)}});
             })},
        });
}

// JSON -> YAML node, for to_yaml().
YAML::Node to_node(const nlohmann::json& j) {
  YAML::Node n;
  if (j.is_object()) {
    n = YAML::Node(YAML::NodeType::Map);
    for (auto it = j.begin(); it != j.end(); ++it) n[it.key()] = to_node(it.value());
  } else if (j.is_array()) {
    n = YAML::Node(YAML::NodeType::Sequence);
    for (const auto& v : j) n.push_back(to_node(v));
  } else if (j.is_string()) {
    n = j.get<std::string>();
  } else if (j.is_boolean()) {
    n = j.get<bool>();
  } else if (j.is_number_integer()) {
    n = j.get<std::int64_t>();
  } else if (j.is_number()) {
    n = j.get<double>();
  }
  return n;
}

// The keywords of the keys that name a model (label.judge, dpo.reference, sft.ref_model); any
// other value is a path. A model directory called "base" is given as ./base.
bool is_model_keyword(const std::string& v) { return v == "policy" || v == "base"; }

nlohmann::json lora_json(const LoraConfig& l) {
  return {{"rank", l.rank}, {"alpha", l.alpha}, {"dropout", l.dropout}, {"targets", l.targets}};
}

}  // namespace

LoopConfig parse_loop_config(const std::string& text, const std::string& source) {
  LoopConfig c;
  c.source = source;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_error("{}:{}: invalid YAML: {}", source, e.mark.line + 1, e.msg);
  }
  CAI_CHECK(root.IsMap(), "{}: expected a mapping of settings (name, base_model, rounds, ...)",
            source);
  Reader r(source, c.lines);
  read(r, root, c);
  return c;
}

LoopConfig load_loop_config(const std::filesystem::path& path) {
  return parse_loop_config(read_file(path), path.string());
}

void LoopConfig::resolve(const std::filesystem::path& cwd) {
  auto abs = [&](std::string& p) {
    if (!p.empty())
      p = (fs::path(p).is_absolute() ? fs::path(p) : cwd / p).lexically_normal().string();
  };
  if (out.empty() && !name.empty()) out = "runs/" + name;
  if (!world.empty()) {
    const fs::path w = fs::path(world);
    if (constitution.empty()) constitution = (w / "constitution.yaml").string();
    if (prompts.train.empty()) prompts.train = (w / "prompts" / "train.jsonl").string();
    if (prompts.eval.empty()) prompts.eval = (w / "prompts" / "eval.jsonl").string();
    if (sft.corpus.empty()) sft.corpus = (w / "corpus" / "pretrain.txt").string();
  }
  for (std::string* p : {&out, &base_model, &world, &constitution, &prompts.train, &prompts.eval,
                         &sft.corpus, &quality.judge})
    abs(*p);
  for (std::string* p : {&label.judge, &dpo.reference, &sft.ref_model})
    if (!is_model_keyword(*p)) abs(*p);
  for (auto& t : eval.tasks_files) abs(t);
}

void LoopConfig::validate() const {
  // "file:line: field" when the field came from the file, else "file: field".
  auto at = [&](const std::string& field) {
    auto it = lines.find(field);
    return it == lines.end() ? fmt::format("{}: {}", source.empty() ? "loop config" : source, field)
                             : fmt::format("{}:{}: {}", source, it->second, field);
  };
  auto check = [&](bool ok, const std::string& field, const std::string& problem) {
    if (!ok) throw_error("{}: {}", at(field), problem);
  };
  auto exists = [&](const std::string& path, const std::string& field) {
    check(fs::exists(path), field, fmt::format("{} does not exist", path));
  };
  auto one_of = [&](const std::string& v, std::initializer_list<const char*> names,
                    const std::string& field) {
    bool ok = false;
    for (const char* n : names) ok = ok || v == n;
    check(ok, field, fmt::format("'{}' is not one of {}", v, fmt::join(names, ", ")));
  };
  // policy | base | a model path (which must exist).
  auto model_choice = [&](const std::string& v, const std::string& field) {
    check(!v.empty(), field, "must be policy, base or a model path");
    if (!is_model_keyword(v))
      check(fs::exists(v), field,
            fmt::format("{} does not exist (give policy, base or a model path)", v));
  };
  auto lora_ok = [&](const LoraConfig& l, const std::string& f) {
    check(l.rank >= 0, f + ".lora.rank", "must be >= 0 (0 = full fine-tuning)");
    check(l.alpha > 0, f + ".lora.alpha", "must be > 0");
    check(l.dropout >= 0 && l.dropout < 1, f + ".lora.dropout", "must be in [0, 1)");
    check(l.rank == 0 || !l.targets.empty(), f + ".lora.targets", "must not be empty");
  };

  check(!name.empty(), "name", "is required");
  check(name.find('/') == std::string::npos, "name", "must not contain '/'");
  check(!base_model.empty() || api.given(), "base_model", "give base_model (a local model) or api");
  const bool trains = rounds > 0 && (sft.enabled || dpo.enabled);
  check(base_model.empty() == false || !trains, "base_model",
        "training needs a local model: give base_model (api serves generation and judging only)");
  if (!base_model.empty()) exists(base_model, "base_model");
  if (api.given()) {
    check(!api.model.empty(), "api.model", "is required with api.base_url");
    check(api.concurrency > 0, "api.concurrency", "must be > 0");
    check(api.top_logprobs > 0, "api.top_logprobs", "must be > 0");
    check(api.timeout_s > 0, "api.timeout_s", "must be > 0");
    check(api.max_retries >= 0, "api.max_retries", "must be >= 0");
  }
  if (!world.empty()) exists(world, "world");
  check(!constitution.empty(), "constitution", "is required (or give a world)");
  exists(constitution, "constitution");
  check(rounds >= 0, "rounds", "must be >= 0");
  check(rounds == 0 || !prompts.train.empty(), "prompts.train", "is required (or give a world)");
  if (rounds > 0) exists(prompts.train, "prompts.train");
  check(train_prompts_per_round >= 0, "train_prompts_per_round", "must be >= 0 (0 = all)");

  one_of(quality.metric, {"winrate", "judge", "oracle"}, "quality.metric");
  check(quality.metric != "oracle" || !world.empty(), "quality.metric", "oracle needs a world");
  one_of(quality.split, {"train", "eval", "test"}, "quality.split");
  check(quality.factor >= 0 && quality.factor <= 1, "quality.factor",
        "must be in [0, 1] (0: never stop early)");
  check(quality.limit >= 0, "quality.limit", "must be >= 0");
  check(quality.temperature >= 0, "quality.temperature", "must be >= 0");
  check(quality.max_tokens > 0, "quality.max_tokens", "must be > 0");
  check(quality.ensemble >= -1, "quality.ensemble", "must be -1 (all), 0 (one sampled) or n > 0");
  if (!quality.judge.empty()) exists(quality.judge, "quality.judge");
  if (world.empty()) {
    check(!prompts.eval.empty(), "prompts.eval",
          "is required without a world (the quality prompts)");
    exists(prompts.eval, "prompts.eval");
  }

  const auto& cr = critique_revise;
  check(cr.rounds >= 1, "critique_revise.rounds", "must be >= 1");
  one_of(cr.principles, {"random", "in-order"}, "critique_revise.principles");
  one_of(cr.format, {"transcript", "chat"}, "critique_revise.format");
  check(cr.temperature >= 0, "critique_revise.temperature", "must be >= 0");
  check(cr.max_tokens > 0, "critique_revise.max_tokens", "must be > 0");
  check(cr.min_violation_p >= 0 && cr.min_violation_p < 1, "critique_revise.min_violation_p",
        "must be in [0, 1)");

  check(label.ensemble >= -1, "label.ensemble", "must be -1 (all), 0 (one sampled) or a count");
  check(label.samples == 0 || label.samples >= 2, "label.samples",
        "must be 0 (Phase 1 pairs) or >= 2");
  check(label.min_confidence >= 0 && label.min_confidence < 0.5, "label.min_confidence",
        "must be in [0, 0.5)");
  model_choice(label.judge, "label.judge");

  check(rounds == 0 || sft.enabled || dpo.enabled || rl.enabled, "sft.enabled",
        "sft, dpo or rl must be enabled to train");
  check(sft.lr > 0, "sft.lr", "must be > 0");
  check(sft.epochs >= 1, "sft.epochs", "must be >= 1");
  check(sft.token_budget > 0, "sft.token_budget", "must be > 0");
  check(sft.max_length >= 2, "sft.max_length", "must be >= 2");
  check(sft.corpus_mix >= 0, "sft.corpus_mix", "must be >= 0");
  one_of(sft.init, {"previous", "base"}, "sft.init");
  check(sft.init == "previous" || !base_model.empty() || rounds == 0, "sft.init",
        "base needs a local base_model");
  check(!sft.only_preferred_revisions || label.samples == 0, "sft.only_preferred_revisions",
        "needs Phase 2 to judge the Phase 1 pairs (label.samples: 0)");
  if (sft.enabled && sft.corpus_mix > 0) {
    check(!sft.corpus.empty(), "sft.corpus", "is required with corpus_mix > 0 (or give a world)");
    exists(sft.corpus, "sft.corpus");
  }
  lora_ok(sft.lora, "sft");
  const auto& tc = sft.token_constraint;
  if (tc.enabled) {
    check(tc.beta > 0, "sft.token_constraint.beta", "must be > 0");
    check(tc.first_token_bias > 0, "sft.token_constraint.first_token_bias", "must be > 0");
    check(tc.bias > 0, "sft.token_constraint.bias", "must be > 0");
    check(tc.bias_length >= 0, "sft.token_constraint.bias_length",
          "must be >= 0 (0: beta on every token)");
  }
  model_choice(sft.ref_model, "sft.ref_model");
  check(sft.ref_model == "policy" || tc.enabled, "sft.ref_model",
        "is the token constraint's reference: it needs sft.token_constraint.enabled");

  check(dpo.beta > 0, "dpo.beta", "must be > 0");
  check(dpo.lr > 0, "dpo.lr", "must be > 0");
  check(dpo.epochs >= 1, "dpo.epochs", "must be >= 1");
  check(dpo.token_budget > 0, "dpo.token_budget", "must be > 0");
  check(dpo.max_length >= 2, "dpo.max_length", "must be >= 2");
  one_of(dpo.loss, {"sigmoid", "robust", "ipo", "hinge"}, "dpo.loss");
  check(dpo.label_smoothing >= 0 && dpo.label_smoothing < 0.5, "dpo.label_smoothing",
        "must be in [0, 0.5)");
  check(dpo.rpo_alpha >= 0, "dpo.rpo_alpha", "must be >= 0");
  model_choice(dpo.reference, "dpo.reference");
  lora_ok(dpo.lora, "dpo");

  check(sft.recovery_examples >= 0, "sft.recovery_examples", "must be >= 0");
  check(sft.recovery_examples == 0 || !world.empty(), "sft.recovery_examples", "needs a world");
  if (probe.enabled) {
    check(!world.empty(), "probe.enabled", "needs a world");
    one_of(probe.model, {"best", "last"}, "probe.model");
    check(!base_model.empty(), "probe.enabled", "needs a local base_model");
    check(!probe.k.empty() || !probe.prefill, "probe.k", "must not be empty");
    for (auto k : probe.k) check(k >= 1, "probe.k", "values must be >= 1");
    check(!probe.n.empty() || !probe.finetune, "probe.n", "must not be empty");
    for (auto n : probe.n) check(n >= 1, "probe.n", "values must be >= 1");
  }
  if (rl.enabled) {
    one_of(rl.algorithm, {"rloo", "ppo"}, "rl.algorithm");
    check(rl.steps >= 1, "rl.steps", "must be >= 1");
    check(rl.prompts_per_rollout >= 1, "rl.prompts_per_rollout", "must be >= 1");
    check(rl.samples_per_prompt >= (rl.algorithm == "rloo" ? 2 : 1), "rl.samples_per_prompt",
          "must be >= 2 for rloo (the leave-one-out baseline), >= 1 for ppo");
    check(rl.max_new_tokens > 0, "rl.max_new_tokens", "must be > 0");
    check(rl.temperature > 0, "rl.temperature", "must be > 0");
    check(rl.kl_coef >= 0, "rl.kl_coef", "must be >= 0");
    check(rl.kl_target >= 0, "rl.kl_target", "must be >= 0");
    check(rl.lr > 0, "rl.lr", "must be > 0");
    check(rl.epochs >= 1, "rl.epochs", "must be >= 1");
    check(rl.rm.lr > 0, "rl.rm.lr", "must be > 0");
    check(rl.rm.epochs >= 1, "rl.rm.epochs", "must be >= 1");
    check(rl.rm.token_budget > 0, "rl.rm.token_budget", "must be > 0");
    check(rl.rm.max_length >= 2, "rl.rm.max_length", "must be >= 2");
    one_of(rl.reward_norm, {"none", "batch", "running"}, "rl.reward_norm");
    check(rl.rm.samples == 0 || rl.rm.samples >= 2, "rl.rm.samples",
          "must be 0 (Phase 1 pairs) or >= 2");
    one_of(rl.rm.pairs, {"best-worst", "all"}, "rl.rm.pairs");
    check(rl.rm.temperature > 0, "rl.rm.temperature", "must be > 0");
  }

  one_of(eval.split, {"train", "eval", "test"}, "eval.split");
  check(eval.temperature >= 0, "eval.temperature", "must be >= 0");
  check(eval.max_tokens > 0, "eval.max_tokens", "must be > 0");
  check(eval.limit >= 0, "eval.limit", "must be >= 0");
  check(eval.task_limit >= 0, "eval.task_limit", "must be >= 0");
  for (const auto& t : eval.tasks_files) exists(t, "eval.tasks_files");
}

nlohmann::json LoopConfig::to_json() const {
  nlohmann::json j = {
      {"name", name},
      {"out", out},
      {"base_model", base_model},
      {"world", world},
      {"constitution", constitution},
      {"prompts", {{"train", prompts.train}, {"eval", prompts.eval}}},
      {"train_prompts_per_round", train_prompts_per_round},
      {"rounds", rounds},
      {"seed", seed},
      {"quality",
       {{"metric", quality.metric},
        {"split", quality.split},
        {"factor", quality.factor},
        {"limit", quality.limit},
        {"temperature", quality.temperature},
        {"max_tokens", quality.max_tokens},
        {"ensemble", quality.ensemble},
        {"judge", quality.judge}}},
      {"critique_revise",
       {{"rounds", critique_revise.rounds},
        {"principles", critique_revise.principles},
        {"few_shot", critique_revise.few_shot},
        {"temperature", critique_revise.temperature},
        {"critique_temperature", critique_revise.critique_temperature},
        {"revision_temperature", critique_revise.revision_temperature},
        {"max_tokens", critique_revise.max_tokens},
        {"skip_when_ok", critique_revise.skip_when_ok},
        {"format", critique_revise.format},
        {"min_violation_p", critique_revise.min_violation_p}}},
      {"label",
       {{"ensemble", label.ensemble},
        {"samples", label.samples},
        {"min_confidence", label.min_confidence},
        {"chain_of_thought", label.chain_of_thought},
        {"judge", label.judge}}},
      {"sft",
       {{"enabled", sft.enabled},
        {"lr", sft.lr},
        {"epochs", sft.epochs},
        {"token_budget", sft.token_budget},
        {"max_length", sft.max_length},
        {"corpus_mix", sft.corpus_mix},
        {"corpus", sft.corpus},
        {"only_preferred_revisions", sft.only_preferred_revisions},
        {"init", sft.init},
        {"recovery_examples", sft.recovery_examples},
        {"chat_template", sft.chat_template},
        {"lora", lora_json(sft.lora)},
        {"token_constraint", [&] {
           auto t = sft.token_constraint.to_json();
           t["enabled"] = sft.token_constraint.enabled;
           return t;
         }()},
        {"ref_model", sft.ref_model}}},
      {"dpo",
       {{"enabled", dpo.enabled},
        {"beta", dpo.beta},
        {"lr", dpo.lr},
        {"epochs", dpo.epochs},
        {"token_budget", dpo.token_budget},
        {"max_length", dpo.max_length},
        {"loss", dpo.loss},
        {"label_smoothing", dpo.label_smoothing},
        {"rpo_alpha", dpo.rpo_alpha},
        {"reference", dpo.reference},
        {"lora", lora_json(dpo.lora)}}},
      {"rl",
       {{"enabled", rl.enabled},
        {"algorithm", rl.algorithm},
        {"steps", rl.steps},
        {"prompts_per_rollout", rl.prompts_per_rollout},
        {"samples_per_prompt", rl.samples_per_prompt},
        {"max_new_tokens", rl.max_new_tokens},
        {"temperature", rl.temperature},
        {"kl_coef", rl.kl_coef},
        {"kl_target", rl.kl_target},
        {"reward_norm", rl.reward_norm},
        {"lr", rl.lr},
        {"epochs", rl.epochs},
        {"rm",
         {{"lr", rl.rm.lr},
          {"epochs", rl.rm.epochs},
          {"token_budget", rl.rm.token_budget},
          {"max_length", rl.rm.max_length},
          {"samples", rl.rm.samples},
          {"pairs", rl.rm.pairs},
          {"temperature", rl.rm.temperature}}}}},
      {"probe",
       {{"enabled", probe.enabled},
        {"model", probe.model},
        {"kl", probe.kl},
        {"prefill", probe.prefill},
        {"finetune", probe.finetune},
        {"k", probe.k},
        {"n", probe.n}}},
      {"eval",
       {{"split", eval.split},
        {"temperature", eval.temperature},
        {"sampled_temperature", eval.sampled_temperature},
        {"max_tokens", eval.max_tokens},
        {"limit", eval.limit},
        {"task_limit", eval.task_limit},
        {"tasks", eval.tasks},
        {"critiques", eval.critiques},
        {"comparisons", eval.comparisons},
        {"tasks_files", eval.tasks_files}}},
  };
  if (api.given())
    j["api"] = {{"base_url", api.base_urls},        {"model", api.model},
                {"api_key_env", api.api_key_env},   {"concurrency", api.concurrency},
                {"top_logprobs", api.top_logprobs}, {"timeout_s", api.timeout_s},
                {"max_retries", api.max_retries}};
  return j;
}

std::string LoopConfig::to_yaml() const {
  YAML::Emitter out;
  out << to_node(to_json());
  return std::string(out.c_str()) + "\n";
}

}  // namespace cai::loop
