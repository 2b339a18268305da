// Phase 2 (`cai label`) through an OpenAI-compatible server that answers the way llama.cpp's
// `llama-server` does, against the same labels computed in process. The server here runs in
// the test: /v1/completions over the fixture model, with log-probs as llama.cpp sends them
// (a chat-style `logprobs.content[]` list even on the completions endpoint, token text cut
// back to whole UTF-8 characters with the full `bytes` beside it, control tokens as empty
// text, probabilities rounded through float as llama.cpp computes them, no log-probs at all
// when the one generated token ends inside a UTF-8 character unless a grammar keeps it to
// ASCII) and `echo` refused.
// The numbers come from the in-process model, so the labels must agree to 1e-4.
#include <gtest/gtest.h>
#include <httplib.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "../serve/serve_process.h"
#include "cai/generate/scorer.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "fake_server.h"

namespace {

namespace fs = std::filesystem;
using cai::testing_util::FakeServer;
using cai::testing_util::read_jsonl;
using cai::testing_util::reply;
using cai::testing_util::sh;
using cai::testing_util::write_short_constitution;
using nlohmann::json;
const std::string kModel = std::string(CAI_FIXTURES_DIR) + "/hf-model";

// llama.cpp's validate_utf8: the text's length without a multi-byte character cut off at its
// end (anything else, even invalid bytes, counts as whole).
std::size_t validate_utf8(const std::string& s) {
  const std::size_t len = s.size();
  for (std::size_t i = 1; i <= 4 && i <= len; ++i) {
    const auto c = static_cast<unsigned char>(s[len - i]);
    if ((c & 0xE0) == 0xC0) {
      if (i < 2) return len - i;
    } else if ((c & 0xF0) == 0xE0) {
      if (i < 3) return len - i;
    } else if ((c & 0xF8) == 0xF0) {
      if (i < 4) return len - i;
    }
  }
  return len;
}

// A /v1/completions endpoint answering one token, llama.cpp's way, from the model in process.
class LlamaCppShapedServer {
 public:
  explicit LlamaCppShapedServer(const std::string& model_path)
      : lm_(cai::load_model(model_path)),
        server_([this](const json& body, const httplib::Request&, httplib::Response& res) {
          if (body.contains("echo"))  // llama.cpp: "Params supported by OAI but unsupported"
            reply(res, 500,
                  {{"error",
                    {{"code", 500},
                     {"message", "Unsupported param: echo"},
                     {"type", "server_error"}}}});
          else
            reply(res, 200, answer(body));
        }) {}
  std::string url() const { return server_.url(); }
  int requests() const { return server_.calls.load(); }
  std::atomic<int> held_back_answers = 0;

 private:
  // One entry of llama.cpp's probs list: id, token (whole characters), bytes, logprob.
  json entry(std::int32_t id, float p) const {
    const auto& tok = *lm_.tokenizer;
    const std::string piece = tok.is_special(id) ? "" : tok.token_bytes(id);
    json bytes = json::array();
    for (unsigned char c : piece) bytes.push_back(c);
    const float lp = p == 0.0f ? std::numeric_limits<float>::lowest() : std::log(p);
    return {{"id", id},
            {"token", piece.substr(0, validate_utf8(piece))},
            {"bytes", bytes},
            {"logprob", lp}};
  }

  json answer(const json& body) {
    const auto& tok = *lm_.tokenizer;
    // llama.cpp tokenizes completion prompts with add_special and parse_special.
    const auto ids = tok.encode(body.at("prompt").get<std::string>(), true, true);
    const std::int64_t n_probs = body.value("logprobs", 0);
    std::vector<std::int32_t> vocab(static_cast<std::size_t>(tok.vocab_size()));
    std::iota(vocab.begin(), vocab.end(), 0);
    std::vector<float> lps;
    {
      std::lock_guard lock(mu_);
      torch::NoGradGuard no_grad;
      lps = cai::next_token_logprobs(*lm_.model, {ids}, vocab)[0];
    }
    // Probabilities sorted high to low (llama.cpp's get_token_probabilities).
    std::vector<std::int32_t> order(vocab);
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return lps[a] > lps[b]; });
    // Greedy; a grammar (here only ever "printable ASCII") limits what is sampled, not the
    // probabilities listed.
    auto allowed = [&](std::int32_t id) {
      if (!body.contains("grammar") || tok.is_special(id)) return true;
      const std::string b = tok.token_bytes(id);
      return !b.empty() &&
             std::all_of(b.begin(), b.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
    };
    const std::int32_t best = *std::find_if(order.begin(), order.end(), allowed);
    json e = entry(best, std::exp(lps[best]));
    json top = json::array();
    for (std::int64_t k = 0; k < std::min<std::int64_t>(n_probs, order.size()); ++k)
      top.push_back(entry(order[k], std::exp(lps[order[k]])));
    e["top_logprobs"] = top;
    // A token that ends inside a UTF-8 character is held back, log-probs and all.
    const std::string text = tok.is_special(best) ? "" : tok.token_bytes(best);
    const bool held_back = validate_utf8(text) < text.size();
    if (held_back) ++held_back_answers;
    const json logprobs =
        n_probs > 0 && !held_back ? json{{"content", json::array({e})}} : json(nullptr);
    // The held-back text is not sent either (it would not be valid UTF-8 in JSON).
    return {{"choices",
             {{{"text", held_back ? std::string() : tok.decode({best})},
               {"index", 0},
               {"logprobs", logprobs},
               {"finish_reason", "length"}}}},
            {"created", 0},
            {"model", "m"},
            {"system_fingerprint", "b0000-test"},
            {"object", "text_completion"},
            {"usage",
             {{"completion_tokens", 1},
              {"prompt_tokens", ids.size()},
              {"total_tokens", ids.size() + 1}}},
            {"id", "chatcmpl-test"}};
  }

  cai::LoadedModel lm_;
  std::mutex mu_;  // the model runs one request at a time
  FakeServer server_;
};

fs::path tmp(const std::string& name) {
  fs::path d = fs::path(CAI_TEST_TMPDIR) / "llamacpp-shape";
  fs::create_directories(d);
  fs::remove(d / name);
  fs::remove(d / (name + ".settings.json"));
  return d / name;
}

}  // namespace

TEST(LlamaCppShape, Phase2LabelsMatchInProcess) {
  // Phase 1 rows written directly (short: the fixture model's context is 512 tokens).
  const fs::path input = tmp("phase1.jsonl");
  {
    std::ofstream f(input);
    const std::vector<std::array<std::string, 3>> rows = {
        {"How do I bake bread?", "Buy some.", "Mix flour, water and yeast, then bake."},
        {"Tell me about the moon.", "No.", "It orbits the Earth."},
        {"Is tea good?", "Tea is bad for everyone.", "Many people enjoy it."}};
    for (const auto& [prompt, init, final_text] : rows)
      f << json{{"prompt", prompt},
                {"init_response", init},
                {"messages",
                 {{{"role", "user"}, {"content", prompt}},
                  {{"role", "assistant"}, {"content", final_text}}}}}
               .dump()
        << "\n";
  }
  const fs::path constitution = tmp("short.yaml");
  write_short_constitution(constitution);
  const std::string bin = CAI_BINARY;
  const std::string common =
      " -i " + input.string() + " -c " + constitution.string() + " --ensemble=-1 --seed 3 -q";
  const fs::path local = tmp("local.jsonl"), remote = tmp("remote.jsonl");
  std::string out;
  ASSERT_EQ(sh(bin + " label --model " + kModel + common + " -o " + local.string(), &out), 0)
      << out;
  LlamaCppShapedServer server(kModel);
  // Top 300 covers the fixture's whole vocabulary (272), so no option falls outside the list.
  ASSERT_EQ(sh(bin + " label --api-base " + server.url() + " --api-model m --api-top-logprobs 300" +
                   common + " -o " + remote.string(),
               &out),
            0)
      << out;
  EXPECT_GT(server.requests(), 0);
  // Some of the fixture model's answers are byte tokens, held back the way llama.cpp does.
  EXPECT_GT(server.held_back_answers.load(), 0);
  const auto x = read_jsonl(local), y = read_jsonl(remote);
  ASSERT_EQ(x.size(), 3u);
  ASSERT_EQ(y.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i]["chosen_text"], y[i]["chosen_text"]) << i;
    EXPECT_NEAR(x[i]["p_chosen"].get<double>(), y[i]["p_chosen"].get<double>(), 1e-4) << i;
    const json &px = x[i]["principles"], &py = y[i]["principles"];
    ASSERT_EQ(px.size(), 2u);
    ASSERT_EQ(py.size(), px.size());
    for (std::size_t k = 0; k < px.size(); ++k)
      for (const char* order : {"chosen_first", "rejected_first"})
        EXPECT_NEAR(px[k][order]["p_first"].get<double>(), py[k][order]["p_first"].get<double>(),
                    1e-4)
            << i << ":" << k << ":" << order;
  }
}
