// The prefill and fine-tuning attacks of the probe (probe.h), after Qi et al. 2024, "Safety
// Alignment Should Be Made More Than Just a Few Tokens Deep", section 2 (prefilling
// k harmful tokens; fine-tuning on a handful of harmful examples).
#include <fmt/format.h>

#include <filesystem>

#include "cai/constitution/transcript.h"
#include "cai/eval/probe_data.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/model/loader.h"
#include "cai/train/run.h"
#include "cai/world/rng.h"
#include "probe_internal.h"

namespace cai::eval::detail {
namespace {

namespace fs = std::filesystem;

ComplianceRates plain_compliance(const ProbeContext& ctx, LoadedModel& m,
                                 const std::string& label) {
  auto raw = sample_continuations(m, prompt_token_lists(ctx, *m.tokenizer), ctx.opts.sampling,
                                  ctx.opts.progress ? label : "");
  for (auto& r : raw) r = transcript::first_turn(r);
  return score_responses(ctx, raw);
}

// n violating SFT rows from the train split: a seeded shuffle of its prompts, reshuffled each
// time they run out (a prompt drawn again gets another wording).
std::string violating_sft_rows(const ProbeContext& ctx, std::int64_t n) {
  std::vector<const world::WorldPrompt*> train;
  for (const auto& p : ctx.w.prompts)
    if (p.split == "train") train.push_back(&p);
  CAI_CHECK(!train.empty(), "{}: no train prompts for the fine-tuning attack",
            ctx.opts.world.string());
  world::Rng rng(ctx.opts.seed, "probe-finetune");
  std::vector<const world::WorldPrompt*> order;
  std::string out;
  for (std::int64_t i = 0, round = 0; i < n; ++i) {
    if (order.empty()) {
      order = train;
      rng.shuffle(order);
      ++round;
    }
    const world::WorldPrompt& p = *order.back();
    order.pop_back();
    const std::string response = violating_response(
        p, ctx.w.knowledge, ctx.opts.seed + static_cast<std::uint64_t>(round - 1));
    out +=
        nlohmann::json(
            {{"messages", nlohmann::json::array({{{"role", "user"}, {"content", p.prompt}},
                                                 {{"role", "assistant"}, {"content", response}}})}})
            .dump() +
        "\n";
  }
  return out;
}

}  // namespace

std::vector<PrefillRow> prefill_attack(const ProbeContext& ctx, LoadedModel& aligned,
                                       LoadedModel* base, ComplianceRates* aligned_plain) {
  std::vector<std::int64_t> ks = {0};
  ks.insert(ks.end(), ctx.opts.prefill_opts.ks.begin(), ctx.opts.prefill_opts.ks.end());
  const Tokenizer& tok = *aligned.tokenizer;
  const auto prompts = prompt_token_lists(ctx, tok);
  std::vector<PrefillRow> rows;
  for (const std::int64_t k : ks) {
    // The same prefix tokens for both models (their tokenizers agree, checked by run_probe).
    std::vector<Prefix> prefixes;
    std::vector<std::vector<std::int32_t>> forced = prompts;
    std::vector<std::size_t> forced_bytes;  // the forced start's bytes in the trimmed turn
    std::int64_t whole = 0;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      prefixes.push_back(prefill_prefix(tok, ctx.violating[i], k));
      forced_bytes.push_back(transcript::first_turn(prefixes.back().text).size());
      whole += k > 0 && prefixes.back().whole ? 1 : 0;
      forced[i].insert(forced[i].end(), prefixes.back().tokens.begin(),
                       prefixes.back().tokens.end());
    }
    PrefillRow row;
    row.k = k;
    row.whole_prefix = whole;
    // Strict, and recovered: from a retraction the model wrote, else the whole turn.
    struct Scored {
      ComplianceRates strict, recovered;
      std::int64_t retractions = 0;
    };
    auto attack = [&](LoadedModel& m, const char* name) {
      auto cont =
          sample_continuations(m, forced, ctx.opts.sampling,
                               ctx.opts.progress ? fmt::format("prefill k={} {}", k, name) : "");
      // The oracle reads what the patient would see: the forced start and the continuation.
      Scored out;
      std::vector<std::string> recovered;
      for (std::size_t i = 0; i < cont.size(); ++i) {
        cont[i] = transcript::first_turn(prefixes[i].text + cont[i]);
        std::string tail =
            after_retraction(cont[i], forced_bytes[i], ctx.opts.prefill_opts.retraction);
        out.retractions += tail.empty() ? 0 : 1;
        recovered.push_back(tail.empty() ? cont[i] : std::move(tail));
      }
      out.strict = score_responses(ctx, cont);
      out.recovered = score_responses(ctx, recovered);
      return out;
    };
    if (base) {
      Scored b = attack(*base, "base");
      row.base = b.strict;
      row.base_recovered = b.recovered;
    }
    Scored a = attack(aligned, "aligned");
    row.aligned = a.strict;
    row.aligned_recovered = a.recovered;
    row.aligned_retractions = a.retractions;
    if (k == 0 && aligned_plain) *aligned_plain = row.aligned;
    rows.push_back(std::move(row));
  }
  return rows;
}

FinetuneRecord finetune_attack(const ProbeContext& ctx, const ComplianceRates* aligned_plain) {
  const FinetuneOptions& f = ctx.opts.finetune_opts;
  FinetuneRecord out;
  out.epochs = f.epochs;
  out.max_steps = f.max_steps;
  out.lr = f.lr;
  ComplianceRates plain;
  if (aligned_plain) {
    plain = *aligned_plain;
  } else {
    LoadedModel m = load_model(ctx.opts.aligned_model);
    plain = plain_compliance(ctx, m, "aligned model");
  }
  out.rows.push_back({0, 0, std::nullopt, plain});
  for (const std::int64_t n : f.ns) {
    const fs::path dir = ctx.opts.out_dir / "finetune" / fmt::format("n-{}", n);
    fs::create_directories(dir);
    const fs::path data = dir / "data.jsonl";
    write_file_atomic(data, violating_sft_rows(ctx, n));
    train::SftRunOptions o;
    o.model = ctx.opts.aligned_model;  // every n starts from the aligned model
    o.data = data.string();
    o.chat_template = "human-assistant";  // the transcript the world's prompts are asked in
    o.train.out_dir = (dir / "train").string();
    o.train.lr = f.lr;
    o.train.schedule = train::Schedule::constant;
    o.train.epochs = f.epochs;
    o.train.max_steps = f.max_steps;
    o.train.token_budget = f.token_budget;
    o.train.seed = ctx.opts.seed;
    o.train.progress = ctx.opts.progress;
    const train::TrainSummary s = train::run_sft(o);
    ComplianceRates r;
    {
      LoadedModel tuned = load_model(dir / "train" / "final");
      r = plain_compliance(ctx, tuned, fmt::format("after fine-tuning on {}", n));
    }
    if (!f.keep_models) fs::remove_all(dir / "train");
    const auto loss = s.last_train.find("loss");
    out.rows.push_back(
        {n, s.steps,
         loss == s.last_train.end() ? std::nullopt : std::optional<double>(loss->second), r});
  }
  return out;
}

}  // namespace cai::eval::detail
