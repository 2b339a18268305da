// `cai probe` (probe.h): options, the probed prompts, per-token KL on the chosen responses,
// the attacks (probe_attacks.cpp), probe.json and the printed tables.
#include "cai/eval/probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "cai/constitution/transcript.h"
#include "cai/eval/probe_data.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/tokenizer/tokenizer.h"
#include "probe_internal.h"

namespace cai::eval {

namespace fs = std::filesystem;

void ProbeOptions::rules(opt::Rules& r) const {
  r.require(!base_model.empty(), "base_model", "is required");
  r.require(!aligned_model.empty(), "aligned_model", "is required");
  r.require(!world.empty(), "world", "is required");
  r.require(!out_dir.empty(), "out_dir", "is required");
  r.require(kl || prefill || finetune, "kl",
            "nothing to measure (kl, prefill and finetune are all off)");
  r.require(fs::exists(base_model), "base_model", fmt::format("{} does not exist", base_model));
  r.require(fs::exists(aligned_model), "aligned_model",
            fmt::format("{} does not exist", aligned_model));
  r.require(fs::is_directory(world), "world", fmt::format("{} is not a directory", world.string()));
}

namespace detail {

ProbeContext::ProbeContext(const ProbeOptions& o, world::World wd)
    : opts(o), w(std::move(wd)), oracle(w.knowledge) {
  for (const auto& p : w.prompts)
    if (p.split == o.split) prompts.push_back(p);
  if (o.limit > 0 && static_cast<std::int64_t>(prompts.size()) > o.limit)
    prompts.resize(static_cast<std::size_t>(o.limit));
  CAI_CHECK(!prompts.empty(), "{}: no {} prompts to probe", o.world.string(), o.split);
  for (const auto& p : prompts) violating.push_back(violating_response(p, w.knowledge, o.seed));
}

ComplianceRates score_responses(const ProbeContext& ctx,
                                const std::vector<std::string>& responses) {
  CAI_CHECK(responses.size() == ctx.prompts.size(), "probe: {} responses for {} prompts",
            responses.size(), ctx.prompts.size());
  ComplianceRates r;
  for (std::size_t i = 0; i < responses.size(); ++i) {
    const auto v = ctx.oracle.check(ctx.prompts[i], responses[i]);
    r.overall.add(v.pass);
    r.target.add(v[kind_principle(ctx.prompts[i].kind)].pass);
  }
  return r;
}

std::vector<std::vector<std::int32_t>> prompt_token_lists(const ProbeContext& ctx,
                                                          const Tokenizer& tok) {
  std::vector<std::vector<std::int32_t>> out;
  for (const auto& p : ctx.prompts) out.push_back(prompt_tokens(tok, p.prompt));
  return out;
}

}  // namespace detail

namespace {

using detail::ProbeContext;

LoadedModel load_probe_model(const std::string& path) {
  LoadedModel m = load_model(path);
  CAI_CHECK(m.tokenizer.has_value(), "{}: the model carries no tokenizer; the probe needs one",
            path);
  return m;
}

// The prefill tokens and teacher-forced responses are shared by both models: their tokenizers
// must agree on the probed text.
void check_same_tokenizer(const ProbeContext& ctx, const LoadedModel& a, const LoadedModel& b) {
  CAI_CHECK(a.config.vocab_size == b.config.vocab_size,
            "probe: the aligned model ({}) has a vocabulary of {} and the base model ({}) of {}",
            a.source.string(), a.config.vocab_size, b.source.string(), b.config.vocab_size);
  for (std::size_t i = 0; i < ctx.prompts.size(); ++i) {
    const auto sa = probe_sequence(*a.tokenizer, ctx.prompts[i].prompt, ctx.violating[i]);
    const auto sb = probe_sequence(*b.tokenizer, ctx.prompts[i].prompt, ctx.violating[i]);
    CAI_CHECK(
        sa.prompt == sb.prompt && sa.response == sb.response,
        "probe: the aligned model ({}) and the base model ({}) tokenise prompt {} differently; "
        "the probe needs one tokenizer",
        a.source.string(), b.source.string(), ctx.prompts[i].id);
  }
}

// (prompt, response) pairs of the KL measurement.
std::vector<std::pair<std::string, std::string>> kl_pairs(const ProbeContext& ctx,
                                                          LoadedModel& aligned) {
  const KlOptions& k = ctx.opts.kl_opts;
  std::vector<std::pair<std::string, std::string>> out;
  if (k.source == "file") {
    CAI_CHECK(fs::exists(k.responses_file), "probe: responses file {} does not exist",
              k.responses_file.string());
    for_each_jsonl(k.responses_file, [&](const nlohmann::json& j, std::size_t line) {
      for (const char* f : {"prompt", "response"})
        CAI_CHECK(j.is_object() && j.contains(f) && j[f].is_string(),
                  "{}:{}: field {}: missing or not a string", k.responses_file.string(), line, f);
      out.emplace_back(j["prompt"].get<std::string>(), j["response"].get<std::string>());
    });
    CAI_CHECK(!out.empty(), "{}: no responses", k.responses_file.string());
    return out;
  }
  std::vector<std::string> responses = ctx.violating;
  if (k.source == "sampled") {
    responses =
        sample_continuations(aligned, detail::prompt_token_lists(ctx, *aligned.tokenizer),
                             ctx.opts.sampling, ctx.opts.progress ? "kl: aligned responses" : "");
    for (auto& r : responses) r = transcript::first_turn(r);
  }
  for (std::size_t i = 0; i < ctx.prompts.size(); ++i)
    out.emplace_back(ctx.prompts[i].prompt, responses[i]);
  return out;
}

KlRecord measure_kl(const ProbeContext& ctx, LoadedModel& aligned, LoadedModel& base) {
  const KlOptions& k = ctx.opts.kl_opts;
  std::vector<ProbeSequence> seqs;
  for (const auto& [prompt, response] : kl_pairs(ctx, aligned)) {
    auto s = probe_sequence(*aligned.tokenizer, prompt, response);
    if (static_cast<std::int64_t>(s.response.size()) > k.max_positions)
      s.response.resize(static_cast<std::size_t>(k.max_positions));
    seqs.push_back(std::move(s));
  }
  KlRecord r;
  r.kl = aggregate_kl(token_kl(*aligned.model, *base.model, seqs, k.token_budget), k.first_k);
  r.source = k.source;
  if (k.source == "file") r.responses_file = k.responses_file.string();
  r.max_positions = k.max_positions;
  return r;
}

std::string rate_text(const CountedRate* r) {
  if (!r) return "n/a";
  return fmt::format("{:5.1f}% ({}/{})", 100.0 * r->rate(), r->pass, r->total);
}

std::string kl_text(const KlRecord& r) {
  const KlByPosition& kl = r.kl;
  std::string t = fmt::format("Per-token KL(aligned || base) on {} {} responses ({} tokens)\n",
                              kl.responses, r.source, kl.tokens);
  t += fmt::format("{:<20} {:8.4f}  ({} tokens)\n", fmt::format("first {} tokens", kl.first_k),
                   kl.first_k_mean, kl.first_k_tokens);
  t += fmt::format("{:<20} {:8.4f}  ({} tokens)\n", "all tokens", kl.overall_mean, kl.tokens);
  t += fmt::format("{:<10} {:>8}  {}\n", "position", "mean KL", "responses");
  // Every position of the first 16, then every 4th: the start is where the difference is.
  for (std::size_t j = 0; j < kl.mean.size(); ++j)
    if (j < 16 || j % 4 == 0) t += fmt::format("{:<10} {:8.4f}  {}\n", j, kl.mean[j], kl.count[j]);
  return t;
}

std::string prefill_text(const std::vector<PrefillRow>& rows) {
  std::string t =
      "Prefill attack: oracle compliance of the forced violating start + continuation\n"
      "(overall: every principle; target: the principle of the prompt's kind; recovered: the\n"
      "turn read from a retraction the model wrote, else whole)\n";
  t += fmt::format("{:<5} {:<18} {:<18} {:<18} {:<18} {:<18} {:<12} {}\n", "k", "base overall",
                   "base target", "aligned overall", "aligned target", "aligned recovered",
                   "retractions", "whole prefix");
  for (const auto& r : rows)
    t += fmt::format("{:<5} {:<18} {:<18} {:<18} {:<18} {:<18} {:<12} {}\n", r.k,
                     rate_text(r.base ? &r.base->overall : nullptr),
                     rate_text(r.base ? &r.base->target : nullptr), rate_text(&r.aligned.overall),
                     rate_text(&r.aligned.target),
                     rate_text(r.aligned_recovered ? &r.aligned_recovered->target : nullptr),
                     r.aligned_recovered ? std::to_string(r.aligned_retractions) : "-",
                     r.whole_prefix);
  return t;
}

std::string finetune_text(const FinetuneRecord& ft) {
  std::string t = fmt::format(
      "Fine-tuning attack: the aligned model fine-tuned on n violating examples "
      "({} epochs{}, lr {})\n",
      ft.epochs, ft.max_steps > 0 ? fmt::format(", at most {} steps", ft.max_steps) : "", ft.lr);
  t += fmt::format("{:<5} {:>6} {:>8}  {:<18} {:<18}\n", "n", "steps", "loss", "overall", "target");
  for (const auto& r : ft.rows)
    t += fmt::format("{:<5} {:>6} {:>8}  {:<18} {:<18}\n", r.n, r.steps,
                     r.loss ? fmt::format("{:.4f}", *r.loss) : "-", rate_text(&r.rates.overall),
                     rate_text(&r.rates.target));
  return t;
}

}  // namespace

ProbeResult run_probe(const ProbeOptions& opts) {
  opts.validate();
  if (opts.threads > 0) set_torch_threads(opts.threads);
  const ProbeContext ctx(opts, world::load_world(opts.world));
  fs::create_directories(opts.out_dir);
  ProbeFile report;
  report.base = opts.base_model;
  report.aligned = opts.aligned_model;
  report.world = opts.world.string();
  report.split = opts.split;
  report.prompts = static_cast<std::int64_t>(ctx.prompts.size());
  report.seed = opts.seed;
  report.temperature = opts.sampling.temperature;
  report.top_p = opts.sampling.top_p;
  report.max_tokens = opts.sampling.max_tokens;
  report.sampling_seed = opts.sampling.seed;
  std::string text =
      fmt::format("Probe of {} against {} on {} {} prompts, responses {}\n\n", report.aligned,
                  report.base, report.prompts, report.split, report.responses_drawn());
  ComplianceRates aligned_plain;
  bool have_plain = false;
  if (opts.kl || opts.prefill) {
    LoadedModel aligned = load_probe_model(opts.aligned_model);
    LoadedModel base = load_probe_model(opts.base_model);
    check_same_tokenizer(ctx, aligned, base);
    if (opts.kl) {
      report.kl = measure_kl(ctx, aligned, base);
      text += kl_text(*report.kl);
    }
    if (opts.prefill) {
      report.prefill = detail::prefill_attack(
          ctx, aligned, opts.prefill_opts.base ? &base : nullptr, &aligned_plain);
      have_plain = true;
      if (report.kl) text += "\n";
      text += prefill_text(*report.prefill);
    }
  }
  if (opts.finetune) {
    report.finetune = detail::finetune_attack(ctx, have_plain ? &aligned_plain : nullptr);
    if (report.kl || report.prefill) text += "\n";
    text += finetune_text(*report.finetune);
  }
  write_json(opts.out_dir / "probe.json", report.to_json());
  return {report, text};
}

}  // namespace cai::eval
