// `cai generate MODEL`: prompts from JSONL (a file or stdin), completions as JSONL, in input
// order. Each input line is {"prompt": "..."} or {"messages": [{"role", "content"}, ...]}
// (rendered with the chat template; a final assistant message is continued, not closed) with
// optional per-line overrides: max_tokens, temperature, top_k, top_p, seed, stop (string or
// list).
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <sstream>

#include "cai/generate/chat.h"
#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/io/progress.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "command.h"

namespace cai::cli {
namespace cmd_generate {

struct GenerateFlags {
  std::string model, input = "-", output = "-", chat_template;
  bool raw = false;
  SamplingOptions sampling;
  EngineOptions engine;
  int threads = 0;
};

struct Prompt {
  std::string where;  // source:line, for errors
  std::string text;
  std::string prefill;  // a final assistant message continued (chat_template.h), after text
  SamplingOptions sampling;
};

// One input line -> prompt text and its sampling options. Errors name source:line.
Prompt parse_line(const nlohmann::json& j, const std::string& where, const GenerateFlags& f,
                  const ChatTemplate& tmpl) {
  CAI_CHECK(j.is_object(), "{}: expected a JSON object", where);
  Prompt p;
  p.where = where;
  p.sampling = f.sampling;
  try {
    if (j.contains("messages")) {
      std::vector<ChatMessage> msgs;
      for (const auto& m : j.at("messages"))
        msgs.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
      if (f.raw) {
        for (const auto& m : msgs) p.text += m.content;
      } else {
        auto c = tmpl.render_continued(msgs);
        p.text = std::move(c.prompt);
        p.prefill = std::move(c.prefill);
        for (const auto& s : tmpl.stop_strings()) p.sampling.stop.push_back(s);
      }
    } else {
      CAI_CHECK(j.contains("prompt"), "{}: needs \"prompt\" or \"messages\"", where);
      p.text = j.at("prompt").get<std::string>();
    }
    if (j.contains("max_tokens"))
      p.sampling.max_new_tokens = j.at("max_tokens").get<std::int64_t>();
    if (j.contains("temperature")) p.sampling.temperature = j.at("temperature").get<double>();
    if (j.contains("top_k")) p.sampling.top_k = j.at("top_k").get<std::int64_t>();
    if (j.contains("top_p")) p.sampling.top_p = j.at("top_p").get<double>();
    if (j.contains("seed")) p.sampling.seed = j.at("seed").get<std::uint64_t>();
    if (j.contains("stop")) {
      const auto& s = j.at("stop");
      if (s.is_string())
        p.sampling.stop.push_back(s.get<std::string>());
      else
        for (const auto& x : s) p.sampling.stop.push_back(x.get<std::string>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw_error("{}: {}", where, e.what());
  }
  try {
    p.sampling.validate();
  } catch (const Error& e) {
    throw_error("{}: {}", where, e.what());
  }
  return p;
}

void run(const GenerateFlags& f) {
  set_torch_threads(f.threads);
  LoadedModel lm = load_model(f.model);
  CAI_CHECK(lm.tokenizer.has_value(), "{}: the model carries no tokenizer; cai generate needs one",
            f.model);
  const Tokenizer& tok = *lm.tokenizer;
  const ChatTemplate tmpl = pick_chat_template(&tok, f.chat_template);

  // Read every prompt first so a bad line fails before any generation.
  std::vector<Prompt> prompts;
  const std::string source = f.input == "-" ? "<stdin>" : f.input;
  std::istringstream in(read_input(f.input));
  for_each_jsonl(in, source, [&](const nlohmann::json& j, std::size_t line) {
    prompts.push_back(parse_line(j, fmt::format("{}:{}", source, line), f, tmpl));
  });

  // Tokenize everything first: the KV cache is sized to what these prompts need.
  std::vector<std::vector<std::int32_t>> ids(prompts.size());
  std::int64_t need = 1;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    ids[i] = tok.encode_prompt(prompts[i].text, prompts[i].prefill);
    CAI_CHECK(!ids[i].empty(), "{}: the prompt is empty after tokenization", prompts[i].where);
    need = std::max<std::int64_t>(
        need, static_cast<std::int64_t>(ids[i].size()) + prompts[i].sampling.max_new_tokens);
  }
  EngineOptions eo = f.engine;
  if (eo.max_seq_len == 0) eo.max_seq_len = std::min(need, lm.config.max_position_embeddings);
  eo.max_batch = std::min<std::int64_t>(eo.max_batch, std::max<std::size_t>(1, prompts.size()));
  Engine engine(*lm.model, eo, &tok);
  std::unique_ptr<JsonlWriter> writer;
  if (f.output != "-") writer = std::make_unique<JsonlWriter>(f.output, /*append=*/false);
  auto emit = [&](const nlohmann::json& j) {
    if (writer) {
      writer->write(j);
    } else {
      std::fputs((j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n").c_str(),
                 stdout);
      std::fflush(stdout);
    }
  };

  Progress progress("generate", prompts.size(), "prompts");
  std::map<std::size_t, nlohmann::json> done;  // finished out of order, written in order
  std::size_t next_out = 0;
  std::int64_t gen_tokens = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    GenerationRequest r;
    r.prompt = std::move(ids[i]);
    r.sampling = prompts[i].sampling;
    r.stream = i;  // the same line with the same seed gives the same completion
    r.on_finish = [&, i](const GenerationResult& g) {
      nlohmann::json j;
      j["index"] = i;
      j["prompt"] = prompts[i].text + prompts[i].prefill;
      j["completion"] = g.text;
      j["finish_reason"] = to_string(g.finish);
      j["prompt_tokens"] = g.prompt_tokens;
      j["completion_tokens"] = g.tokens.size();
      done.emplace(i, std::move(j));
      gen_tokens += static_cast<std::int64_t>(g.tokens.size());
      while (!done.empty() && done.begin()->first == next_out) {
        emit(done.begin()->second);
        done.erase(done.begin());
        ++next_out;
      }
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      progress.set_postfix(fmt::format("{:.0f} tok/s", gen_tokens / std::max(s, 1e-9)));
      progress.add(1);
    };
    try {
      engine.submit(std::move(r));
    } catch (const Error& e) {
      throw_error("{}: {}", prompts[i].where, e.what());
    }
  }
  while (engine.step()) {}
  progress.finish();
}

const Registrar reg(40, [](CLI::App& root) {
  auto f = std::make_shared<GenerateFlags>();
  CLI::App* cmd = root.add_subcommand("generate", "Generate completions for JSONL prompts");
  cmd->add_option("MODEL", f->model, "Model directory or .gguf file")->required();
  cmd->add_option("--input,-i", f->input,
                  "JSONL prompts ({\"prompt\"} or {\"messages\"}); - for stdin")
      ->capture_default_str();
  cmd->add_option("--output,-o", f->output, "JSONL completions; - for stdout")
      ->capture_default_str();
  cmd->add_option("--max-tokens", f->sampling.max_new_tokens, "New tokens at most")
      ->capture_default_str();
  cmd->add_option("--temperature", f->sampling.temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", f->sampling.top_k, "0 = off")->capture_default_str();
  cmd->add_option("--top-p", f->sampling.top_p, "1 = off")->capture_default_str();
  cmd->add_option("--seed", f->sampling.seed, "Sampling seed (per line: seed + line index)")
      ->capture_default_str();
  cmd->add_option("--stop", f->sampling.stop, "Stop string (repeatable)");
  cmd->add_flag("--ignore-eos", f->sampling.ignore_eos, "Continue past end-of-sequence tokens");
  cmd->add_option("--batch-size", f->engine.max_batch, "Sequences decoded together")
      ->capture_default_str();
  cmd->add_option("--max-seq-len", f->engine.max_seq_len,
                  "Prompt + completion tokens per sequence (0: what the prompts need, within the "
                  "model's context)")
      ->capture_default_str();
  cmd->add_option("--chat-template", f->chat_template,
                  "Template for {\"messages\"} lines (chatml, llama3, llama2, human-assistant); "
                  "default: the tokenizer's, else human-assistant. A final assistant message is "
                  "continued");
  cmd->add_flag("--raw", f->raw, "Do not apply a chat template to {\"messages\"} lines");
  cmd->add_option("--threads", f->threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_generate
}  // namespace cai::cli
