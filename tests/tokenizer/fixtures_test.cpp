// Golden vectors: every input of every llama.cpp vocabulary fixture must tokenize exactly as
// llama.cpp (commit c392e509) does, and the hf-model tokenizer must give reference.json's ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cai/formats/gguf.h"
#include "cai/io/file.h"
#include "cai/tokenizer/tokenizer.h"
#include "fixture_cases.h"

namespace {

namespace fs = std::filesystem;

using cai_test::Case;
using cai_test::read_cases;
using cai_test::show;

class VocabFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabFixture, MatchesLlamaCpp) {
  const std::string name = GetParam();
  const cai::Tokenizer tok = cai::Tokenizer::load(cai_test::kTokenizerFixtures / name);
  const auto cases = read_cases(name);
  ASSERT_EQ(cases.size(), 46u);
  for (const Case& c : cases) {
    const auto got = tok.encode(c.input, /*add_special=*/false, /*parse_special=*/false);
    ASSERT_EQ(show(got), show(c.expected)) << "first mismatch on input '" << c.input << "'";
  }
}

TEST_P(VocabFixture, DecodeInvertsEncode) {
  const std::string name = GetParam();
  const cai::Tokenizer tok = cai::Tokenizer::load(cai_test::kTokenizerFixtures / name);
  for (const Case& c : read_cases(name)) {
    // SentencePiece vocabularies lose nothing either: spaces become U+2581 and back, and the
    // one space put in front of the text is stripped again.
    EXPECT_EQ(tok.decode(tok.encode(c.input)), c.input);
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, VocabFixture,
                         ::testing::Values("ggml-vocab-gpt-2.gguf", "ggml-vocab-starcoder.gguf",
                                           "ggml-vocab-falcon.gguf", "ggml-vocab-llama-spm.gguf",
                                           "ggml-vocab-phi-3.gguf"),
                         [](const auto& info) {
                           std::string n = info.param.substr(11, info.param.size() - 16);
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(HfModel, ReferenceIds) {
  const fs::path dir = fs::path(CAI_FIXTURES_DIR) / "hf-model";
  const auto ref = nlohmann::json::parse(cai::read_file(dir / "reference.json"));
  const cai::Tokenizer tok = cai::Tokenizer::load(dir);
  const std::string text = ref["text"];
  const auto want = ref["tokens"].get<std::vector<std::int32_t>>();
  EXPECT_EQ(show(tok.encode(text, /*add_special=*/true)), show(want));
  EXPECT_EQ(tok.decode(want), text);
  EXPECT_EQ(tok.kind(), "bpe");
  EXPECT_EQ(tok.vocab_size(), 272);
  // Added tokens are numbered in order (the file claims 268 for all four).
  EXPECT_EQ(tok.token_to_id("<|begin_of_text|>"), 268);
  EXPECT_EQ(tok.token_to_id("<|end_of_text|>"), 269);
  EXPECT_EQ(tok.token_to_id("<|im_start|>"), 270);
  EXPECT_EQ(tok.token_to_id("<|im_end|>"), 271);
  EXPECT_EQ(tok.eos_id(), 269);
  EXPECT_FALSE(tok.bos_id().has_value());
}

}  // namespace
