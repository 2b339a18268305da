// `cai world generate` writes the synthetic telehealth world (knowledge base, prompt splits,
// pretraining corpus, capability tasks, demo constitution) from a seed; `cai world check`
// scores responses with the world's rule-based oracle (evaluation only, never training).
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/world/oracle.h"
#include "cai/world/world.h"
#include "command.h"

namespace cai::cli {
namespace cmd_world {

namespace fs = std::filesystem;

struct GenerateFlags {
  world::WorldOptions opt;
  std::vector<std::string> exclude;
  std::string out;
  double break_rate = -1;  // < 0: keep the per-principle defaults
};

void run_generate(GenerateFlags f) {
  if (f.break_rate >= 0) f.opt.corpus.break_rate.fill(f.break_rate);
  for (const auto& e : f.exclude) f.opt.exclude_prompts.push_back(e);
  const nlohmann::json m = world::generate_world(f.opt, f.out);
  std::fprintf(stderr,
               "cai: wrote world seed %llu to %s: %zu facts, prompts %d/%d/%d (train/eval/test), "
               "corpus %zu documents (%zu bytes), quiz %zu, facts %zu\n",
               static_cast<unsigned long long>(f.opt.seed), f.out.c_str(),
               m["knowledge"]["facts"].get<std::size_t>(),
               m["prompts"]["train"]["total"].get<int>(), m["prompts"]["eval"]["total"].get<int>(),
               m["prompts"]["test"]["total"].get<int>(),
               m["corpus"]["conversations"].get<std::size_t>() +
                   m["corpus"]["critiques"].get<std::size_t>() +
                   m["corpus"]["revisions"].get<std::size_t>() +
                   m["corpus"]["comparisons"].get<std::size_t>() +
                   m["corpus"]["documents"].get<std::size_t>(),
               m["corpus"]["bytes"].get<std::size_t>(), m["tasks"]["quiz"].get<std::size_t>(),
               m["tasks"]["facts"].get<std::size_t>());
}

struct CheckFlags {
  std::string world_dir;
  std::string input = "-";
  std::string output;
  bool json = false;
};

void run_check(const CheckFlags& f) {
  world::World w = world::load_world(f.world_dir);
  std::map<std::string, const world::WorldPrompt*> by_id, by_text;
  for (const auto& p : w.prompts) {
    by_id[p.id] = &p;
    by_text[p.prompt] = &p;
  }
  const world::Oracle oracle(w.knowledge);
  world::OracleSummary summary;
  std::unique_ptr<JsonlWriter> out;
  if (!f.output.empty()) out = std::make_unique<JsonlWriter>(f.output, false, false);

  const std::string source = f.input == "-" ? "<stdin>" : f.input;
  std::istringstream in(read_input(f.input));
  for_each_jsonl(in, source, [&](const nlohmann::json& j, std::size_t line) {
    CAI_CHECK(j.is_object() && j.contains("response") && j["response"].is_string(),
              "{}:{}: expected an object with a string \"response\"", source, line);
    const world::WorldPrompt* p = nullptr;
    if (j.contains("id") && j["id"].is_string()) {
      auto it = by_id.find(j["id"].get<std::string>());
      CAI_CHECK(it != by_id.end(), "{}:{}: no prompt with id '{}' in {}", source, line,
                j["id"].get<std::string>(), f.world_dir);
      p = it->second;
    } else if (j.contains("prompt") && j["prompt"].is_string()) {
      auto it = by_text.find(j["prompt"].get<std::string>());
      CAI_CHECK(it != by_text.end(), "{}:{}: prompt not found in {}", source, line, f.world_dir);
      p = it->second;
    } else {
      throw_error("{}:{}: needs \"id\" or \"prompt\"", source, line);
    }
    const std::string response = j["response"].get<std::string>();
    const world::OracleVerdict v = oracle.check(*p, response);
    summary.add(*p, v);
    if (out) {
      nlohmann::json r = v.to_json();
      r["id"] = p->id;
      r["kind"] = world::kind_name(p->kind);
      r["response"] = response;
      out->write(r);
    }
  });
  if (f.json)
    std::printf("%s\n", summary.to_json().dump(2).c_str());
  else
    std::printf("%s", summary.to_text().c_str());
}

constexpr const char* kLayout =
    "\nOutput layout (DIR):\n"
    "  knowledge.jsonl        fictional clinic facts, each with its source document\n"
    "  prompts/train.jsonl    prompt records worded by the patient grammar; no prompt is in\n"
    "  prompts/eval.jsonl     two splits\n"
    "  prompts/test.jsonl     part of it uses grammar productions held out of everything else\n"
    "  corpus/pretrain.txt    documents each ended by a line \"<|endoftext|>\": conversations,\n"
    "                         critiques, revisions, A/B comparisons, source documents\n"
    "  tasks/quiz.jsonl       multiple choice {question, choices, answer}\n"
    "  tasks/facts.jsonl      free generation {prompt, answer, aliases}\n"
    "  constitution.yaml      the five telehealth principles\n"
    "  manifest.json          seed, options, counts, measured corpus rates\n";

const Registrar reg(80, [](CLI::App& root) {
  CLI::App* grp = group(root, "world", "The synthetic telehealth world: generator and oracle");

  auto g = std::make_shared<GenerateFlags>();
  CLI::App* gen = grp->add_subcommand("generate", "Write the synthetic world for a seed");
  gen->footer(kLayout);
  gen->add_option("--seed", g->opt.seed, "Seed; the same seed gives identical files")
      ->capture_default_str();
  gen->add_option("--out", g->out, "Output directory")->required();
  gen->add_option("--services", g->opt.knowledge.services, "Clinic services")
      ->capture_default_str();
  gen->add_option("--items", g->opt.knowledge.items, "Stocked items")->capture_default_str();
  gen->add_option("--train", g->opt.prompts.train, "Train prompts (requested)")
      ->capture_default_str();
  gen->add_option("--eval", g->opt.prompts.eval, "Eval prompts (requested)")->capture_default_str();
  gen->add_option("--test", g->opt.prompts.test, "Test prompts (requested)")->capture_default_str();
  gen->add_option("--conversations", g->opt.corpus.conversations, "Corpus conversations")
      ->capture_default_str();
  gen->add_option("--critiques", g->opt.corpus.critiques,
                  "Corpus critique examples (some with revisions)")
      ->capture_default_str();
  gen->add_option("--revision-fraction", g->opt.corpus.revision_fraction,
                  "Share of critique examples that go on to a revision")
      ->capture_default_str();
  gen->add_option("--comparisons", g->opt.corpus.comparisons, "Corpus A/B comparisons")
      ->capture_default_str();
  gen->add_option("--document-repeats", g->opt.corpus.document_repeats,
                  "Copies of each source document")
      ->capture_default_str();
  gen->add_option(
         "--critique-applicable", g->opt.corpus.critique_applicable,
         "Share of critiques on a prompt kind the principle applies to (the rest: any kind)")
      ->capture_default_str();
  gen->add_option("--critique-pairs", g->opt.corpus.critique_pairs,
                  "Share of critiques written as a minimal pair (following / breaking)")
      ->capture_default_str();
  gen->add_option("--comparison-free-pairs", g->opt.corpus.comparison_free_pairs,
                  "Share of comparisons between independently worded responses")
      ->capture_default_str();
  gen->add_option("--comparison-overdone", g->opt.corpus.comparison_overdone,
                  "Share of emergency and uncertainty comparisons on a prompt they do not apply "
                  "to, against a response that overdoes them (911 for a mild symptom, \"I don't "
                  "know\" to a documented fact)")
      ->capture_default_str();
  gen->add_option("--critique-principle-weights", g->opt.corpus.critique_principle_weights,
                  "Relative frequency of each principle among critiques (cite, emergency, empathy, "
                  "privacy, uncertainty)")
      ->capture_default_str();
  gen->add_option("--comparison-principle-weights", g->opt.corpus.comparison_principle_weights,
                  "Relative frequency of each principle among comparisons (same order)")
      ->capture_default_str();
  gen->add_option(
      "--break-rate", g->break_rate,
      "Probability a corpus conversation breaks each applicable principle (default 0.1 each)");
  gen->add_option("--exclude-prompts", g->exclude,
                  "Prompt files kept for evaluation (JSONL with a \"prompt\" per line): no split "
                  "and no corpus document contains one of their prompts");
  gen->add_option("--noise", g->opt.prompts.noise,
                  "Share of prompts given light noise (casing, punctuation, typos)")
      ->capture_default_str();
  gen->add_option("--emergency-acknowledgement", g->opt.corpus.emergency_acknowledgement,
                  "Share of emergency responses opening with an emergency's own acknowledgement "
                  "(the rest open as any answer may)")
      ->capture_default_str();
  gen->add_option("--privacy-leak-rate", g->opt.corpus.privacy_leak_rate,
                  "Probability a non-identity conversation asks for identifiers")
      ->capture_default_str();
  gen->callback([g] { run_generate(*g); });

  auto c = std::make_shared<CheckFlags>();
  CLI::App* chk =
      grp->add_subcommand("check", "Score responses with the world's rule-based oracle");
  chk->footer(
      "\nInput: JSONL lines {\"id\": ..., \"response\": ...} or {\"prompt\": ..., \"response\": "
      "...}.\n"
      "Prints per-principle and overall rates with counts; --output writes one verdict per line.\n"
      "The oracle is for evaluation only; the pipeline never trains or filters with it.\n");
  chk->add_option("--world", c->world_dir, "World directory written by `cai world generate`")
      ->required();
  chk->add_option("--input", c->input, "Responses JSONL (- for stdin)")->capture_default_str();
  chk->add_option("--output", c->output, "Write per-line verdicts (JSONL) here");
  chk->add_flag("--json", c->json, "Print the summary as JSON");
  chk->callback([c] { run_check(*c); });
});

}  // namespace cmd_world
}  // namespace cai::cli
