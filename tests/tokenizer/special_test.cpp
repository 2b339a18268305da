// Special and added tokens: recognised only when asked (or always, for non-special added
// tokens), BOS/EOS from the configuration, and decode with and without them.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "cai/formats/gguf.h"
#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/load.h"
#include "cai/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

cai::Tokenizer hf_model() { return cai::Tokenizer::load(fs::path(CAI_FIXTURES_DIR) / "hf-model"); }

TEST(Special, ParsedOnlyWhenAsked) {
  const auto tok = hf_model();
  const std::string text = "<|im_start|>user\nhi<|im_end|>";
  const auto parsed = tok.encode(text, false, true);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), 270);
  EXPECT_EQ(parsed.back(), 271);
  const auto literal = tok.encode(text, false, false);
  for (auto id : literal) EXPECT_LT(id, 268);
  EXPECT_EQ(tok.decode(literal), text);
  EXPECT_EQ(tok.decode(parsed), text);
  EXPECT_EQ(tok.decode(parsed, /*skip_special=*/true), "user\nhi");
  EXPECT_TRUE(tok.is_special(270));
  EXPECT_FALSE(tok.is_special(97));
  // EOS is among the stop ids.
  const auto& stops = tok.stop_ids();
  EXPECT_NE(std::find(stops.begin(), stops.end(), 269), stops.end());
}

// A minimal byte-level tokenizer.json: a..z are ids 0..25, "Ġ" (space) 26, <s> 27, then
// `extra` pieces, with the given merges and added tokens.
nlohmann::json tiny(const std::vector<std::string>& extra, const std::vector<std::string>& merges,
                    nlohmann::json added, nlohmann::json post = nullptr) {
  nlohmann::json vocab = nlohmann::json::object();
  int id = 0;
  for (char c = 'a'; c <= 'z'; ++c) vocab[std::string(1, c)] = id++;
  vocab["\xC4\xA0"] = id++;
  vocab["<s>"] = id++;
  for (const auto& e : extra) vocab[e] = id++;
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"use_regex", true}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"post_processor", post},
          {"added_tokens", added}};
}

TEST(Special, NonSpecialAddedTokensAlwaysSplitAndStrip) {
  const auto j = tiny(
      {"bc"}, {"b c"},
      {{{"id", 27}, {"content", "<s>"}, {"special", true}},
       {{"id", 29}, {"content", "[X]"}, {"special", false}, {"lstrip", true}, {"rstrip", true}}});
  const auto tok = cai::tok::parse_hf_json(j.dump(), "", "tiny.json");
  EXPECT_EQ(tok.token_to_id("[X]"), 29);
  // "[X]" is found without parse_special and swallows the spaces around it.
  EXPECT_EQ(tok.encode("abc [X] bc", false, false), (std::vector<std::int32_t>{0, 28, 29, 28}));
  EXPECT_EQ(tok.encode("<s>", false, true), (std::vector<std::int32_t>{27}));
  EXPECT_NE(tok.encode("<s>", false, false), (std::vector<std::int32_t>{27}));
}

TEST(Special, TemplateProcessingAddsBos) {
  const nlohmann::json post = {{"type", "TemplateProcessing"},
                               {"single",
                                {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                 {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}};
  const auto j = tiny({"zz"}, {"z z"}, {{{"id", 27}, {"content", "<s>"}, {"special", true}}}, post);
  const auto tok =
      cai::tok::parse_hf_json(j.dump(), R"({"eos_token":{"content":"<s>"}})", "tiny.json");
  EXPECT_EQ(tok.bos_id(), 27);
  EXPECT_EQ(tok.eos_id(), 27);
  EXPECT_EQ(tok.encode("zz", true), (std::vector<std::int32_t>{27, 28}));
  EXPECT_EQ(tok.encode("zz", false), (std::vector<std::int32_t>{28}));
}

TEST(Special, SpmBosAndParse) {
  const auto tok =
      cai::Tokenizer::load(fs::path(CAI_FIXTURES_DIR) / "tokenizer" / "ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(tok.kind(), "spm");
  EXPECT_EQ(tok.bos_id(), 1);
  const auto ids = tok.encode("Hello", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(tok.decode(ids, true), "Hello");
  EXPECT_EQ(tok.encode("</s>", false, true), (std::vector<std::int32_t>{2}));
  // Byte fallback: a character the vocabulary lacks becomes <0xXX> tokens and decodes back.
  const std::string rare = "\xF0\x9F\xA6\x99";  // U+1F999 LLAMA
  EXPECT_EQ(tok.decode(tok.encode(rare)), rare);
}

}  // namespace

namespace {

namespace fs = std::filesystem;

// Cutting SentencePiece input before each "▁word" (done for speed when the vocabulary
// allows) must give exactly what merging the whole text at once gives.
TEST(Spm, WordCutsAreExact) {
  const cai::gguf::Reader reader(fs::path(CAI_FIXTURES_DIR) / "tokenizer" /
                                 "ggml-vocab-llama-spm.gguf");
  auto impl = cai::tok::load_gguf_impl(reader);
  ASSERT_TRUE(impl->spm_split_words);
  const cai::Tokenizer cut(impl);
  auto whole_impl = std::make_shared<cai::Tokenizer::Impl>(*impl);
  whole_impl->spm_split_words = false;
  whole_impl->serial = ~0ull;  // its own word cache
  const cai::Tokenizer whole(whole_impl);
  const std::vector<std::string> pieces = {"Hello", " ",      "  ",   "world",    "▁",      "x",
                                           "3.14",  "\n",     "🦙", "über",     "日本語", "\t",
                                           "don't", "ab\xff", "\xe2", "\xe2\x96", "\xf0",   "\x81"};
  std::mt19937 rng(3);
  for (int t = 0; t < 2000; ++t) {
    std::string s;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 30); k < n; ++k)
      s += pieces[rng() % pieces.size()];
    ASSERT_EQ(cut.encode(s), whole.encode(s)) << "'" << s << "'";
  }
}

}  // namespace
