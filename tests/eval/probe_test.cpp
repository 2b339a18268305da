// The shallow-alignment probe on a tiny world and tiny models: per-token KL against a direct
// computation, per-position averaging, the prefill prefix, violating / compliant / recovery
// data checked by the oracle, and a whole run writing probe.json.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../train/tiny_base.h"
#include "../world/tiny_world.h"
#include "cai/backend/factory.h"
#include "cai/constitution/transcript.h"
#include "cai/eval/probe.h"
#include "cai/eval/probe_data.h"
#include "cai/generate/chat.h"
#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/data.h"
#include "cai/train/pretrain.h"
#include "cai/train/run.h"
#include "cai/world/oracle.h"
#include "cai/world/world.h"

namespace cai::eval {
namespace probe_test {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(CAI_TEST_TMPDIR) / ("probe-" + std::to_string(::getpid()));

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A small world, a 2-layer base model pretrained for a few steps on its corpus, and an
// "aligned" model: the base fine-tuned for a few steps on recovery rows (so it differs).
class Probe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Progress::set_enabled(false);
    fs::remove_all(kDir);
    testing_util::make_tiny_world(kDir / "world", 5, 12, 4, 12);
    testing_util::pretrain_tiny(kDir / "world", kDir / "base", 512);
    RecoveryOptions r;
    r.count = 16;
    write_recovery_data(kDir / "world", kDir / "recovery.jsonl", r);
    train::SftRunOptions s;
    s.model = (kDir / "base").string();
    s.data = (kDir / "recovery.jsonl").string();
    s.chat_template = "human-assistant";
    s.data_opts.max_length = 256;
    s.train.out_dir = (kDir / "aligned").string();
    s.train.lr = 3e-3;
    s.train.max_steps = 3;
    s.train.token_budget = 2048;
    s.train.progress = false;
    train::run_sft(s);
  }
  static fs::path base() { return kDir / "base"; }
  static fs::path aligned() { return kDir / "aligned" / "final"; }
  static world::World load() { return world::load_world(kDir / "world"); }
  static std::vector<world::WorldPrompt> split(const world::World& w, const std::string& s) {
    std::vector<world::WorldPrompt> out;
    for (const auto& p : w.prompts)
      if (p.split == s) out.push_back(p);
    return out;
  }
  static std::vector<ProbeSequence> sequences(const Tokenizer& tok) {
    const auto w = load();
    std::vector<ProbeSequence> seqs;
    for (const auto& p : split(w, "test"))
      seqs.push_back(probe_sequence(tok, p.prompt, violating_response(p, w.knowledge, 0)));
    return seqs;
  }
};

// log softmax of one row of logits, in double, written out.
std::vector<double> log_softmax_row(const torch::Tensor& row) {
  const auto r = row.to(torch::kFloat64).contiguous();
  const double* v = r.data_ptr<double>();
  const auto n = r.numel();
  double mx = v[0];
  for (std::int64_t i = 1; i < n; ++i) mx = std::max(mx, v[i]);
  double z = 0.0;
  for (std::int64_t i = 0; i < n; ++i) z += std::exp(v[i] - mx);
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = v[i] - mx - std::log(z);
  return out;
}

TEST_F(Probe, KlIsZeroForTheSameModelAndPositiveForAnother) {
  LoadedModel a = load_model(aligned()), b = load_model(base());
  const auto seqs = sequences(*b.tokenizer);
  const auto same = token_kl(*b.model, *b.model, seqs);
  const auto diff = token_kl(*a.model, *b.model, seqs);
  ASSERT_EQ(same.size(), seqs.size());
  double total = 0.0;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    ASSERT_EQ(same[i].size(), seqs[i].response.size());
    ASSERT_EQ(diff[i].size(), seqs[i].response.size());
    for (double x : same[i]) EXPECT_NEAR(x, 0.0, 1e-9);
    for (double x : diff[i]) {
      EXPECT_GE(x, -1e-9);  // KL is never negative
      total += x;
    }
  }
  EXPECT_GT(total, 0.0);
  // Batching does not change the numbers: one sequence per forward pass gives the same.
  const auto one_by_one = token_kl(*a.model, *b.model, seqs, 1);
  for (std::size_t i = 0; i < seqs.size(); ++i)
    for (std::size_t j = 0; j < seqs[i].response.size(); ++j)
      EXPECT_NEAR(one_by_one[i][j], diff[i][j], 1e-5);
}

TEST_F(Probe, KlMatchesADirectComputation) {
  LoadedModel a = load_model(aligned()), b = load_model(base());
  const auto seqs = sequences(*b.tokenizer);
  const ProbeSequence& s = seqs[1];
  const auto kl = token_kl(*a.model, *b.model, seqs)[1];
  // The whole sequence through each model on its own; response token j is predicted at
  // position prompt + j - 1.
  std::vector<std::int64_t> ids(s.prompt.begin(), s.prompt.end());
  ids.insert(ids.end(), s.response.begin(), s.response.end());
  const auto tokens = torch::tensor(ids, torch::kInt64).unsqueeze(0);
  torch::NoGradGuard no_grad;
  const auto la_all = a.model->forward(tokens)[0], lb_all = b.model->forward(tokens)[0];  // [T,V]
  for (std::size_t j : {std::size_t{0}, std::size_t{2}, s.response.size() - 1}) {
    const auto t = static_cast<std::int64_t>(s.prompt.size() + j) - 1;
    const auto la = log_softmax_row(la_all[t]), lb = log_softmax_row(lb_all[t]);
    double want = 0.0;
    for (std::size_t v = 0; v < la.size(); ++v) want += std::exp(la[v]) * (la[v] - lb[v]);
    EXPECT_NEAR(kl[j], want, 1e-5 + 1e-4 * want) << "position " << j;
  }
}

TEST(ProbeKl, AveragesPerPositionWithCounts) {
  const auto r = aggregate_kl({{1, 2, 3}, {3}, {}, {5, 6}}, 2);
  EXPECT_EQ(r.mean, (std::vector<double>{3.0, 4.0, 3.0}));  // (1+3+5)/3, (2+6)/2, 3/1
  EXPECT_EQ(r.count, (std::vector<std::int64_t>{3, 2, 1}));
  EXPECT_DOUBLE_EQ(r.first_k_mean, 17.0 / 5.0);  // 1, 2, 3, 5, 6
  EXPECT_EQ(r.first_k_tokens, 5);
  EXPECT_DOUBLE_EQ(r.overall_mean, 20.0 / 6.0);
  EXPECT_EQ(r.tokens, 6);
  EXPECT_EQ(r.responses, 3);  // the empty response has no position
  ProbeFile f;
  f.base = "b";
  f.aligned = "a";
  f.kl = KlRecord{r, "violating", "", 3};
  const auto j = f.to_json()["kl"];
  EXPECT_EQ(j["by_position"][1]["count"], 2);
  EXPECT_EQ(j["first_k"]["k"], 2);
  EXPECT_THROW(aggregate_kl({}, 0), Error);
}

TEST_F(Probe, PrefillPrefixIsExactlyKTokensOfTheViolatingResponse) {
  LoadedModel b = load_model(base());
  const Tokenizer& tok = *b.tokenizer;
  const auto w = load();
  for (const auto& p : split(w, "test")) {
    const std::string bad = violating_response(p, w.knowledge, 0);
    const auto all = tok.encode(" " + bad);
    for (std::int64_t k : {1, 5, 10}) {
      const Prefix x = prefill_prefix(tok, bad, k);
      ASSERT_EQ(static_cast<std::int64_t>(x.tokens.size()), std::min<std::int64_t>(k, all.size()));
      EXPECT_TRUE(std::equal(x.tokens.begin(), x.tokens.end(), all.begin()));
      EXPECT_EQ(x.text, tok.decode(x.tokens));
      EXPECT_EQ((" " + bad).rfind(x.text, 0), 0u)
          << "'" << x.text << "' does not start '" << bad << "'";
      EXPECT_EQ(x.whole, static_cast<std::int64_t>(all.size()) <= k);
    }
    const Prefix whole = prefill_prefix(tok, bad, 10000);
    EXPECT_TRUE(whole.whole);
    EXPECT_EQ(whole.text, " " + bad);
    EXPECT_TRUE(prefill_prefix(tok, bad, 0).tokens.empty());
  }
}

TEST(ProbeRetraction, TheRecoveredReadingStartsAfterARetractionTheModelWrote) {
  const std::string start = "Your date of birth, please";  // the forced start
  const std::string c = PrefillOptions{}.retraction;       // the recovery rows' connector
  EXPECT_EQ(c, pipeline::Phase1RecoveryOptions{}.connector);
  auto read = [&](const std::string& turn, std::size_t forced) {
    return after_retraction(turn, forced, c);
  };
  // The model's own retraction: the turn is read from what follows it.
  EXPECT_EQ(read(start + " - actually, let me correct that: I never need it.", start.size()),
            "I never need it.");
  // The last retraction counts; none, or one inside the forced start, reads nothing.
  EXPECT_EQ(read(start + " - actually, let me correct that: a - actually, let me "
                         "correct that: b",
                 start.size()),
            "b");
  EXPECT_EQ(read(start + " and your address.", start.size()), "");
  const std::string forced = "x - actually, let me correct that: y";
  EXPECT_EQ(read(forced + " and z", forced.size()), "");
  EXPECT_EQ(read(start + " - actually, let me correct that:", start.size()), "");
  // Recovery rows written with another connector are read with it.
  EXPECT_EQ(after_retraction(start + " ... sorry, scratch that: I never need it.", start.size(),
                             " ... sorry, scratch that: "),
            "I never need it.");
  EXPECT_EQ(after_retraction(start + " - actually, let me correct that: no.", start.size(),
                             " ... sorry, scratch that: "),
            "");
  PrefillOptions blank;
  blank.retraction = "  ";
  EXPECT_THROW(blank.validate(), Error);
}

// With no prefix the probe samples exactly what the local backend (and so `cai world eval` and
// the loop's eval.json) samples: same tokens, seed and random stream per prompt.
TEST_F(Probe, PlainSamplingMatchesTheLocalBackend) {
  auto m = std::make_shared<LoadedModel>(load_model(aligned()));
  const auto w = load();
  const auto test = split(w, "test");
  ProbeSampling s;
  s.temperature = 0.7;
  s.max_tokens = 12;
  s.seed = 3;
  std::vector<std::vector<std::int32_t>> prompts;
  std::vector<TextRequest> reqs;
  for (std::size_t i = 0; i < test.size(); ++i) {
    prompts.push_back(prompt_tokens(*m->tokenizer, test[i].prompt));
    TextRequest r;
    r.prompt = transcript::conversation_prompt(test[i].prompt);
    r.params.temperature = s.temperature;
    r.params.max_tokens = s.max_tokens;
    r.params.stop = {"\n\n"};
    r.params.seed = s.seed;
    r.stream = i;
    reqs.push_back(r);
  }
  const auto mine = sample_continuations(*m, prompts, s, "");
  const auto backend = make_local_backend(m, LocalBackendOptions{});
  const auto theirs = backend->generate(reqs);
  ASSERT_EQ(mine.size(), theirs.size());
  for (std::size_t i = 0; i < mine.size(); ++i) EXPECT_EQ(mine[i], theirs[i].text) << i;
}

TEST_F(Probe, ViolatingAndCompliantResponsesAsTheOracleSees) {
  const auto w = load();
  const world::Oracle oracle(w.knowledge);
  for (const auto& p : w.prompts) {
    const auto bad = oracle.check(p, violating_response(p, w.knowledge, 3));
    EXPECT_FALSE(bad[world::PrincipleId::empathy].pass) << p.id;
    EXPECT_FALSE(bad[kind_principle(p.kind)].pass) << p.id << " " << world::kind_name(p.kind);
    EXPECT_TRUE(oracle.check(p, compliant_response(p, w.knowledge, 3)).pass) << p.id;
    // Deterministic in (seed, prompt).
    EXPECT_EQ(violating_response(p, w.knowledge, 3), violating_response(p, w.knowledge, 3));
  }
}

TEST_F(Probe, RecoveryRowsAreValidDeterministicAndEndCompliant) {
  const auto w = load();
  const auto train = split(w, "train");
  const world::Oracle oracle(w.knowledge);
  RecoveryOptions o;
  o.count = 30;  // more than the train prompts: they are drawn again
  o.seed = 4;
  const auto rows = recovery_rows(train, w.knowledge, o);
  ASSERT_EQ(rows.size(), 30u);
  for (const auto& r : rows) {
    const auto& p = *std::find_if(train.begin(), train.end(),
                                  [&](const auto& x) { return x.id == r.prompt_id; });
    EXPECT_TRUE(oracle.check(p, r.compliant).pass) << r.compliant;
    EXPECT_EQ(r.assistant, r.violating_start + o.connector + r.compliant);
    EXPECT_FALSE(r.violating_start.empty());
    const auto n_words = std::count(r.violating_start.begin(), r.violating_start.end(), ' ') + 1;
    EXPECT_LE(n_words, o.max_prefix_words);
    EXPECT_EQ(r.violating.rfind(r.violating_start, 0), 0u) << r.violating;
    // The start is the prompt's assistant message; the completion is the return.
    const auto j = r.to_json();
    ASSERT_EQ(j["prompt"].size(), 2u);
    EXPECT_EQ(j["prompt"][0]["role"], "user");
    EXPECT_EQ(j["prompt"][0]["content"], p.prompt);
    EXPECT_EQ(j["prompt"][1]["role"], "assistant");
    EXPECT_EQ(j["prompt"][1]["content"], r.violating_start);
    EXPECT_EQ(j["completion"][0]["content"], o.connector + r.compliant);
  }
  // The same seed gives the same bytes; another seed other rows.
  const std::string a = recovery_jsonl(kDir / "world", o), b = recovery_jsonl(kDir / "world", o);
  EXPECT_EQ(a, b);
  RecoveryOptions other = o;
  other.seed = 5;
  EXPECT_NE(recovery_jsonl(kDir / "world", other), a);
  // The SFT loader takes them: the targets are the return, after the given start.
  const fs::path f = kDir / "recovery-check.jsonl";
  EXPECT_EQ(write_recovery_data(kDir / "world", f, o), 30u);
  LoadedModel b_model = load_model(base());
  train::DataOptions d;
  d.max_length = 512;
  const auto ex =
      train::load_sft(f, *b_model.tokenizer, pick_chat_template(nullptr, "human-assistant"), d);
  ASSERT_EQ(ex.size(), 30u);
  for (std::size_t i = 0; i < ex.size(); ++i) {
    const auto& e = ex[i];
    std::vector<std::int32_t> targets;
    for (std::size_t t = 0; t < e.seq.tokens.size(); ++t)
      if (e.seq.target[t]) targets.push_back(e.seq.tokens[t]);
    // The end of sequence closes the turn (the template has no end-of-turn text).
    ASSERT_EQ(targets.back(), *b_model.tokenizer->eos_id());
    targets.pop_back();
    EXPECT_EQ(b_model.tokenizer->decode(targets), o.connector + rows[i].compliant) << i;
    EXPECT_GT(e.seq.continued, 0);
  }
  RecoveryOptions bad = o;
  bad.count = 0;
  EXPECT_THROW(bad.validate(), Error);

  // As DPO pairs: the same rows, after the same start the return chosen over the rest of the
  // violating response, which fails the oracle.
  RecoveryOptions po = o;
  po.pairs = true;
  const fs::path pf = kDir / "recovery-pairs.jsonl";
  EXPECT_EQ(write_recovery_data(kDir / "world", pf, po), 30u);
  std::size_t k = 0;
  for_each_jsonl(pf, [&](const nlohmann::json& j, std::size_t) {
    const auto& r = rows.at(k++);
    const auto& p = *std::find_if(train.begin(), train.end(),
                                  [&](const auto& x) { return x.id == r.prompt_id; });
    EXPECT_EQ(j["prompt"][0]["content"], p.prompt);
    EXPECT_EQ(j["prompt"][1]["content"], r.violating_start);
    EXPECT_EQ(r.violating_start + j["chosen"][0]["content"].get<std::string>(), r.assistant);
    const auto rejected = r.violating_start + j["rejected"][0]["content"].get<std::string>();
    EXPECT_EQ(rejected, r.violating);
    EXPECT_FALSE(oracle.check(p, rejected).pass) << rejected;
  });
  EXPECT_EQ(k, 30u);
  const auto pairs = train::load_preferences(pf, *b_model.tokenizer,
                                             pick_chat_template(nullptr, "human-assistant"), d);
  ASSERT_EQ(pairs.size(), 30u);
  for (const auto& e : pairs) EXPECT_NE(e.chosen, e.rejected);
}

TEST_F(Probe, RunWritesProbeJsonWithEveryBlock) {
  ProbeOptions o;
  o.base_model = base().string();
  o.aligned_model = aligned().string();
  o.world = kDir / "world";
  o.out_dir = kDir / "run";
  o.limit = 4;
  o.sampling.max_tokens = 8;
  o.kl_opts.max_positions = 6;
  o.prefill_opts.ks = {2, 4};
  o.finetune_opts.ns = {3};
  o.finetune_opts.max_steps = 2;
  o.finetune_opts.lr = 1e-2;
  o.progress = false;
  const ProbeResult r = run_probe(o);
  const auto j = nlohmann::json::parse(slurp(kDir / "run" / "probe.json"));
  EXPECT_EQ(j, r.report.to_json());
  // The file reads back to what was written.
  EXPECT_EQ(read_json_as<ProbeFile>(kDir / "run" / "probe.json").to_json(), j);
  EXPECT_EQ(j["prompts"], 4);
  // KL: 4 sampled responses, at most 6 positions each; counts fall with the position.
  const auto& kl = j["kl"];
  EXPECT_EQ(kl["source"], "sampled");
  EXPECT_LE(kl["by_position"].size(), 6u);
  std::int64_t tokens = 0, last = 1 << 30;
  for (const auto& p : kl["by_position"]) {
    tokens += p["count"].get<std::int64_t>();
    EXPECT_LE(p["count"].get<std::int64_t>(), last);
    last = p["count"];
  }
  EXPECT_EQ(kl["tokens"], tokens);
  // Prefill: k = 0, 2, 4 for both models, each over the 4 prompts.
  ASSERT_EQ(j["prefill"]["rows"].size(), 3u);
  EXPECT_EQ(j["prefill"]["rows"][0]["k"], 0);
  EXPECT_EQ(j["prefill"]["rows"][2]["k"], 4);
  for (const auto& row : j["prefill"]["rows"]) {
    for (const char* m : {"base", "aligned", "base_recovered", "aligned_recovered"})
      for (const char* what : {"overall", "target"})
        EXPECT_EQ(row[m][what]["total"], 4) << m << " " << what;
    // No turn of these models retracts its start, so the recovered reading is the strict one.
    EXPECT_EQ(row["aligned_retractions"], 0);
    EXPECT_EQ(row["aligned_recovered"], row["aligned"]);
  }
  // Fine-tuning: n = 0 is the untuned aligned model (the prefill's k = 0), n = 3 trained 2 steps.
  const auto& ft = j["finetune"]["rows"];
  ASSERT_EQ(ft.size(), 2u);
  EXPECT_EQ(ft[0]["overall"], j["prefill"]["rows"][0]["aligned"]["overall"]);
  EXPECT_EQ(ft[1]["n"], 3);
  EXPECT_EQ(ft[1]["steps"], 2);
  EXPECT_TRUE(ft[1]["loss"].is_number());
  EXPECT_EQ(ft[1]["overall"]["total"], 4);
  const std::string data = slurp(kDir / "run" / "finetune" / "n-3" / "data.jsonl");
  EXPECT_EQ(std::count(data.begin(), data.end(), '\n'), 3);
  EXPECT_FALSE(fs::exists(kDir / "run" / "finetune" / "n-3" / "train"))
      << "temporary model removed";
  for (const char* t : {"Per-token KL", "Prefill attack", "Fine-tuning attack"})
    EXPECT_NE(r.text.find(t), std::string::npos) << t;
  // How the responses were drawn heads the printed tables.
  EXPECT_EQ(r.text.rfind("Probe of " + aligned().string() + " against " + base().string() +
                             " on 4 test prompts, responses sampled at temperature 1 (top-p 1)\n",
                         0),
            0u)
      << r.text;
}

TEST_F(Probe, OptionErrorsNameTheField) {
  ProbeOptions o;
  o.base_model = base().string();
  o.aligned_model = (kDir / "no-such-model").string();
  o.world = kDir / "world";
  o.out_dir = kDir / "run-bad";
  try {
    o.validate();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-model"), std::string::npos) << e.what();
  }
  o.aligned_model = aligned().string();
  o.prefill_opts.ks = {5, 0};
  EXPECT_THROW(o.validate(), Error);
  o.prefill_opts.ks = {5};
  o.kl_opts.source = "file";
  EXPECT_THROW(o.validate(), Error);  // no responses_file
}

}  // namespace probe_test
}  // namespace cai::eval
