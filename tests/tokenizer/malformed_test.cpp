// Malformed tokenizer.json and GGUF vocabulary metadata: a cai::Error whose message names
// the key at fault.
#include <gtest/gtest.h>

#include <filesystem>

#include "cai/formats/gguf.h"
#include "cai/io/error.h"
#include "cai/tokenizer/load.h"
#include "cai/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

// Runs `f`, expecting a cai::Error mentioning `key`.
template <typename F>
void expect_error_naming(F f, const std::string& key) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming " << key;
  } catch (const cai::Error& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos)
        << "message '" << e.what() << "' does not name " << key;
  }
}

void expect_json_error(const std::string& json, const std::string& key) {
  expect_error_naming([&] { cai::tok::parse_hf_json(json, "", "bad.json"); }, key);
}

TEST(Malformed, HfJson) {
  expect_json_error(R"({"model":{"type":"BPE","merges":[]}})", "model.vocab");
  expect_json_error(R"({"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a c"]}})",
                    "model.merges[0]");
  expect_json_error(R"({"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}})",
                    "model.merges[0]");  // "ab" is not in the vocabulary
  expect_json_error(R"({"model":{"type":"BPE","vocab":{"a":"0"}}})", "model.vocab[\"a\"]");
  expect_json_error(R"({"model":{"type":"BPE","vocab":{"a":0,"b":0}}})", "model.vocab");
  expect_json_error(R"({"model":{"type":"BPE","vocab":[]}})", "model.vocab");
  expect_json_error(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":{}}})", "model.merges");
  expect_json_error(R"({"model":{"type":"Unigram","vocab":{"a":0}}})", "model.type");
  expect_json_error(R"({"model":{"type":"BPE","vocab":{"a":0}},"normalizer":{"type":"NFKC"}})",
                    "normalizer.type");
  expect_json_error(R"({"model":{"type":"BPE","vocab":{"a":0}},"pre_tokenizer":{"type":"Sequence",
      "pretokenizers":[{"type":"Whitespace"}]}})",
                    "pre_tokenizer.pretokenizers[0].type");
  expect_json_error(R"({"model":{"type":"BPE","vocab":{"a":0}},"added_tokens":[{"id":1}]})",
                    "added_tokens[0].content");
  expect_json_error(R"({"model":)", "bad.json");
}

struct VocabSpec {
  std::string model = "gpt2";
  std::string pre = "gpt-2";
  std::vector<std::string> tokens = {"a", "b", "ab"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<std::int32_t> types = {1, 1, 1};
  std::vector<std::string> merges = {"a b"};
  std::uint32_t bos = 0;
};

fs::path write_gguf(const VocabSpec& v, const std::string& name) {
  const fs::path dir = fs::path(CAI_TEST_TMPDIR) / "tokenizer";
  fs::create_directories(dir);
  cai::gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", v.model);
  w.set_string("tokenizer.ggml.pre", v.pre);
  w.set_string_array("tokenizer.ggml.tokens", v.tokens);
  w.set_f32_array("tokenizer.ggml.scores", v.scores);
  w.set_i32_array("tokenizer.ggml.token_type", v.types);
  w.set_string_array("tokenizer.ggml.merges", v.merges);
  w.set_u32("tokenizer.ggml.bos_token_id", v.bos);
  const fs::path path = dir / (name + ".gguf");
  w.write(path);
  return path;
}

void expect_gguf_error(const VocabSpec& v, const std::string& name, const std::string& key) {
  const fs::path path = write_gguf(v, name);
  expect_error_naming([&] { cai::Tokenizer::load(path); }, key);
}

TEST(Malformed, GgufVocab) {
  // The well-formed base loads.
  const auto ok = cai::Tokenizer::load(write_gguf(VocabSpec{}, "ok"));
  EXPECT_EQ(ok.encode("ab"), (std::vector<std::int32_t>{2}));

  VocabSpec v;
  v.scores = {0, 0};
  expect_gguf_error(v, "scores", "tokenizer.ggml.scores");
  v = VocabSpec{};
  v.types = {1, 1, 1, 1};
  expect_gguf_error(v, "types", "tokenizer.ggml.token_type");
  v = VocabSpec{};
  v.model = "wordpiece";
  expect_gguf_error(v, "model", "tokenizer.ggml.model");
  v = VocabSpec{};
  v.pre = "no-such-pre";
  expect_gguf_error(v, "pre", "tokenizer.ggml.pre");
  v = VocabSpec{};
  v.bos = 3;
  expect_gguf_error(v, "bos", "tokenizer.ggml.bos_token_id");
  v = VocabSpec{};
  v.merges = {"a c"};
  expect_gguf_error(v, "merges", "tokenizer.ggml.merges[0]");
}

}  // namespace
