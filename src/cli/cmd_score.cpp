// `cai score MODEL`: log-probabilities under teacher forcing. With --text, one JSON object:
// every token of the text with log p(token | preceding tokens) and their sum. With --input,
// JSONL of {"prefix", "continuation"} pairs in, one JSON line per pair out with the
// continuation's per-token log-probabilities and their sum.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>

#include "cai/generate/scorer.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "command.h"

namespace cai::cli {
namespace cmd_score {

struct ScoreFlags {
  std::string model, text, input, output = "-";
  bool no_bos = false;
  int threads = 0;
  ScoreOptions opts;
};

std::string dump(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json token_list(const Tokenizer& tok, const std::vector<std::int32_t>& ids,
                          const std::vector<float>* lps, std::size_t first_scored) {
  auto arr = nlohmann::json::array();
  for (std::size_t k = 0; k < ids.size(); ++k) {
    nlohmann::json t;
    t["id"] = ids[k];
    t["text"] = tok.token_bytes(ids[k]);
    t["logprob"] =
        k < first_scored ? nlohmann::json(nullptr) : nlohmann::json((*lps)[k - first_scored]);
    arr.push_back(std::move(t));
  }
  return arr;
}

void run(const ScoreFlags& f) {
  CAI_CHECK(f.text.empty() != f.input.empty(), "cai score: give exactly one of --text and --input");
  set_torch_threads(f.threads);
  LoadedModel lm = load_model(f.model);
  CAI_CHECK(lm.tokenizer.has_value(), "{}: the model carries no tokenizer; cai score needs one",
            f.model);
  const Tokenizer& tok = *lm.tokenizer;
  auto out = [&](const std::string& line) { std::fputs((line + "\n").c_str(), stdout); };

  if (!f.text.empty()) {
    auto ids = tok.encode(f.text, !f.no_bos, false);
    CAI_CHECK(ids.size() >= 2, "cai score: the text has {} token(s); at least 2 are needed",
              ids.size());
    ScoreResult r = score_tokens(*lm.model, ids, f.opts);
    nlohmann::json j;
    j["text"] = f.text;
    j["tokens"] = token_list(tok, ids, &r.token_logprobs, 1);
    j["sum"] = r.sum;
    j["num_scored"] = r.token_logprobs.size();
    out(dump(j, 2));
    return;
  }

  const std::string source = f.input == "-" ? "<stdin>" : f.input;
  std::istringstream in(read_input(f.input));
  std::vector<ScoreRequest> reqs;
  std::vector<nlohmann::json> records;
  for_each_jsonl(in, source, [&](const nlohmann::json& j, std::size_t line) {
    try {
      ScoreRequest q;
      q.prefix = tok.encode(j.at("prefix").get<std::string>(), !f.no_bos, false);
      q.continuation = tok.encode(j.at("continuation").get<std::string>(), false, false);
      CAI_CHECK(!q.prefix.empty(), "empty prefix (use a BOS token or a non-empty prefix)");
      reqs.push_back(std::move(q));
      records.push_back(j);
    } catch (const std::exception& e) {
      throw_error("{}:{}: {}", source, line, e.what());
    }
  });
  auto res = score(*lm.model, reqs, f.opts);
  std::unique_ptr<JsonlWriter> writer;
  if (f.output != "-") writer = std::make_unique<JsonlWriter>(f.output, false);
  for (std::size_t i = 0; i < res.size(); ++i) {
    nlohmann::json j;
    j["index"] = i;
    j["prefix"] = records[i].at("prefix");
    j["continuation"] = records[i].at("continuation");
    j["tokens"] = token_list(tok, reqs[i].continuation, &res[i].token_logprobs, 0);
    j["sum"] = res[i].sum;
    j["num_tokens"] = res[i].token_logprobs.size();
    if (writer)
      writer->write(j);
    else
      out(dump(j));
  }
}

const Registrar reg(41, [](CLI::App& root) {
  auto f = std::make_shared<ScoreFlags>();
  CLI::App* cmd = root.add_subcommand("score", "Log-probabilities of texts or continuations");
  cmd->add_option("MODEL", f->model, "Model directory or .gguf file")->required();
  cmd->add_option("--text", f->text, "Score every token of this text (teacher forcing)");
  cmd->add_option("--input,-i", f->input, "JSONL of {\"prefix\", \"continuation\"}; - for stdin");
  cmd->add_option("--output,-o", f->output, "JSONL results for --input; - for stdout")
      ->capture_default_str();
  cmd->add_flag("--no-bos", f->no_bos, "Do not add the tokenizer's BOS token");
  cmd->add_option("--batch-tokens", f->opts.max_batch_tokens, "Padded tokens per forward pass")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_score
}  // namespace cai::cli
