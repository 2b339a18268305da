// Task runner (see include/cai/eval/runner.h).
#include "cai/eval/runner.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <regex>

#include "cai/backend/backend.h"
#include "cai/io/error.h"
#include "cai/io/json.h"
#include "cai/io/jsonl.h"
#include "cai/io/progress.h"

namespace cai::eval {
namespace {

struct Doc {
  nlohmann::json j;
  std::string where;
  std::string text;
  std::vector<std::string> choices;  // multiple_choice
  std::int64_t answer = -1;          // multiple_choice
  std::vector<std::string> targets;  // generate_until
  std::string target_text;           // what a few-shot example shows after the prompt
};

Doc make_doc(const TaskSpec& t, nlohmann::json j, const std::string& where) {
  Doc d;
  d.where = where;
  d.text = render_template(t.doc_to_text, j, where);
  if (!j.contains(t.doc_to_target)) throw_error("{}: missing field '{}'", where, t.doc_to_target);
  const auto& target = j[t.doc_to_target];
  if (t.output_type == OutputType::multiple_choice) {
    if (!j.contains(t.doc_to_choice) || !j[t.doc_to_choice].is_array() ||
        j[t.doc_to_choice].size() < 2)
      throw_error("{}: field '{}' must be a list of at least two choices", where, t.doc_to_choice);
    for (const auto& c : j[t.doc_to_choice]) {
      if (!c.is_string())
        throw_error("{}: field '{}': choices must be strings", where, t.doc_to_choice);
      d.choices.push_back(c.get<std::string>());
    }
    if (!target.is_number_integer())
      throw_error("{}: field '{}' must be a choice index", where, t.doc_to_target);
    d.answer = target.get<std::int64_t>();
    if (d.answer < 0 || d.answer >= static_cast<std::int64_t>(d.choices.size()))
      throw_error("{}: field '{}': index {} outside the {} choices", where, t.doc_to_target,
                  d.answer, d.choices.size());
    d.target_text = d.choices[static_cast<std::size_t>(d.answer)];
  } else {
    if (target.is_string())
      d.targets.push_back(target.get<std::string>());
    else if (target.is_array())
      for (const auto& s : target) {
        if (!s.is_string())
          throw_error("{}: field '{}': targets must be strings", where, t.doc_to_target);
        d.targets.push_back(s.get<std::string>());
      }
    else
      throw_error("{}: field '{}' must be a string or a list of strings", where, t.doc_to_target);
    if (d.targets.empty()) throw_error("{}: field '{}' is empty", where, t.doc_to_target);
    d.target_text = d.targets.front();
  }
  d.j = std::move(j);
  return d;
}

std::string trim(std::string s) {
  auto sp = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && sp(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && sp(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TextRequest request_for(const TaskSpec& t, const std::string& prompt) {
  TextRequest r;
  r.chat = t.chat;
  if (t.chat)
    r.messages = {{"user", prompt}};
  else
    r.prompt = prompt;
  r.params.temperature = 0.0;
  r.params.max_tokens = t.max_tokens;
  r.params.stop = t.until;
  return r;
}

}  // namespace

std::pair<double, double> mean_stderr(const std::vector<double>& xs) {
  if (xs.empty()) return {0.0, 0.0};
  double m = 0.0;
  for (double x : xs) m += x;
  m /= static_cast<double>(xs.size());
  if (xs.size() < 2) return {m, 0.0};
  double v = 0.0;
  for (double x : xs) v += (x - m) * (x - m);
  v /= static_cast<double>(xs.size() - 1);
  return {m, std::sqrt(v / static_cast<double>(xs.size()))};
}

nlohmann::json TaskResult::to_json() const {
  nlohmann::json j = {{"primary", primary}, {"n", n}};
  for (const auto& [k, v] : metrics) j[k] = v;
  for (const auto& [k, v] : stderrs) j[k + "_stderr"] = v;
  return j;
}

TaskResult TaskResult::from_json(const std::string& name, const nlohmann::json& j,
                                 const std::string& where) {
  TaskResult r;
  r.name = name;
  r.primary = json_field::text(j, "primary", where);
  if (j.contains("n")) r.n = json_field::count(j, "n", where);
  const std::string suffix = "_stderr";
  for (const auto& [k, v] : j.items()) {
    if (k == "primary" || k == "n") continue;
    CAI_CHECK(v.is_number(), "{}: field {}: a number is required", where, k);
    if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0)
      r.stderrs[k.substr(0, k.size() - suffix.size())] = v.get<double>();
    else
      r.metrics[k] = v.get<double>();
  }
  CAI_CHECK(r.metrics.count(r.primary), "{}: field {}: the primary metric is missing", where,
            r.primary);
  return r;
}

double TaskResult::primary_value() const {
  auto it = metrics.find(primary);
  return it == metrics.end() ? std::nan("") : it->second;
}

double TaskResult::primary_stderr() const {
  auto it = stderrs.find(primary);
  return it == stderrs.end() ? std::nan("") : it->second;
}

TaskResult run_task(Backend& backend, const TaskSpec& task, const EvalOptions& opts) {
  task.validate();
  opts.validate();
  std::vector<Doc> docs;
  for_each_jsonl(task.dataset, [&](const nlohmann::json& j, std::size_t line) {
    docs.push_back(make_doc(task, j, task.dataset.string() + ":" + std::to_string(line)));
  });
  CAI_CHECK(!docs.empty(), "{}: no records", task.dataset.string());
  CAI_CHECK(task.fewshot < static_cast<std::int64_t>(docs.size()),
            "{}: fewshot {} needs more records than the {} given", task.source.string(),
            task.fewshot, docs.size());
  std::int64_t limit = opts.limit > 0 ? opts.limit : task.limit;
  const std::size_t n =
      limit > 0 ? std::min<std::size_t>(docs.size(), static_cast<std::size_t>(limit)) : docs.size();

  // Prompts, with few-shot examples drawn from the other records (seeded per record, so a
  // record's prompt does not depend on the limit).
  std::vector<std::string> prompts(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::string p;
    if (task.fewshot > 0) {
      std::mt19937_64 rng(opts.seed * 0x9E3779B97F4A7C15ull + i);
      std::vector<std::size_t> pool;
      for (std::size_t k = 0; k < docs.size(); ++k)
        if (k != i) pool.push_back(k);
      std::shuffle(pool.begin(), pool.end(), rng);
      for (std::int64_t s = 0; s < task.fewshot; ++s) {
        const Doc& e = docs[pool[static_cast<std::size_t>(s)]];
        p += e.text + task.target_delimiter + e.target_text + task.fewshot_delimiter;
      }
    }
    prompts[i] = p + docs[i].text;
  }

  TaskResult r;
  r.name = task.name;
  r.primary = task.metrics.front();
  r.n = static_cast<std::int64_t>(n);
  std::map<std::string, std::vector<double>> scores;
  Progress bar("eval " + task.name, n, "docs");
  if (task.output_type == OutputType::multiple_choice) {
    for (std::size_t i = 0; i < n; ++i) {
      const Doc& d = docs[i];
      std::vector<std::string> options;
      for (const auto& c : d.choices) options.push_back(task.target_delimiter + c);
      // Whole-choice log-likelihoods, as lm-evaluation-harness scores multiple choice: acc
      // takes the largest, acc_norm the largest per byte of the choice.
      const auto ll = backend.loglikelihoods({request_for(task, prompts[i])}, options).at(0);
      std::size_t best = 0, best_norm = 0;
      for (std::size_t c = 1; c < options.size(); ++c) {
        if (ll[c] > ll[best]) best = c;
        const auto norm = [&](std::size_t k) {
          return ll[k] / std::max<double>(1.0, static_cast<double>(d.choices[k].size()));
        };
        if (norm(c) > norm(best_norm)) best_norm = c;
      }
      const double acc = static_cast<std::int64_t>(best) == d.answer ? 1.0 : 0.0;
      const double acc_norm = static_cast<std::int64_t>(best_norm) == d.answer ? 1.0 : 0.0;
      scores["acc"].push_back(acc);
      scores["acc_norm"].push_back(acc_norm);
      r.samples.push_back({{"doc", i},
                           {"where", d.where},
                           {"logprobs", ll},
                           {"pred", best},
                           {"target", d.answer},
                           {"acc", acc},
                           {"acc_norm", acc_norm}});
      bar.add();
    }
  } else {
    std::vector<TextRequest> reqs;
    for (std::size_t i = 0; i < n; ++i) {
      reqs.push_back(request_for(task, prompts[i]));
      reqs.back().stream = i;
    }
    auto outs = backend.generate(reqs, [&](std::size_t) { bar.add(); });
    std::optional<std::regex> re;
    if (!task.regex.empty()) re.emplace(task.regex);
    for (std::size_t i = 0; i < n; ++i) {
      const Doc& d = docs[i];
      const std::string resp = trim(outs[i].text);
      double em = 0, contains = 0, rx = 0;
      std::string extracted;
      if (re) {
        std::smatch m;
        if (std::regex_search(resp, m, *re))
          extracted = trim(m.size() > 1 ? m[1].str() : m[0].str());
      }
      for (const auto& t : d.targets) {
        if (resp == trim(t)) em = 1;
        if (!t.empty() && lower(resp).find(lower(trim(t))) != std::string::npos) contains = 1;
        if (re && !extracted.empty() && extracted == trim(t)) rx = 1;
      }
      scores["exact_match"].push_back(em);
      scores["contains"].push_back(contains);
      scores["regex"].push_back(rx);
      r.samples.push_back({{"doc", i},
                           {"where", d.where},
                           {"response", outs[i].text},
                           {"targets", d.targets},
                           {"exact_match", em},
                           {"contains", contains}});
    }
  }
  bar.finish();
  for (const auto& m : task.metrics) {
    auto [mean, se] = mean_stderr(scores[m]);
    r.metrics[m] = mean;
    r.stderrs[m] = se;
  }
  return r;
}

nlohmann::json results_json(const std::string& model, const std::vector<TaskResult>& results,
                            bool with_samples) {
  nlohmann::json j = {{"model", model}, {"results", nlohmann::json::object()}};
  for (const auto& r : results) j["results"][r.name] = r.to_json();
  if (with_samples) {
    j["samples"] = nlohmann::json::object();
    for (const auto& r : results) j["samples"][r.name] = r.samples;
  }
  return j;
}

}  // namespace cai::eval
