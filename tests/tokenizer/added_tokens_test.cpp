// Added tokens that are not special (tokenizer.json `"special": false`, GGUF USER_DEFINED) are
// split out of plain text before pre-tokenization, as the reference tokenizers do, with
// Hugging Face's lstrip / rstrip / single_word / normalized flags.
//
// Where the expected ids come from:
//  - the tokenizer.json cases: Hugging Face tokenizers 0.23.2 (its Node binding, the Rust
//    library itself), Tokenizer.fromFile(<the JSON built here, written out>).encode(text,
//    null, {addSpecialTokens: false}).getIds();
//  - the GGUF cases: llama.cpp's llama-server, /tokenize on a model made with `cai model init
//    --tokenizer <the byte-level JSON below> --out m.gguf` (GGUF keeps none of the flags, and
//    llama.cpp takes the longest added token anywhere first).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cai/formats/gguf.h"
#include "cai/tokenizer/load.h"
#include "cai/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Ids = std::vector<std::int32_t>;

json added_token(int id, const std::string& content, bool special, bool normalized,
                 bool single_word = false, bool lstrip = false, bool rstrip = false) {
  return {{"id", id},          {"content", content}, {"single_word", single_word},
          {"lstrip", lstrip},  {"rstrip", rstrip},   {"normalized", normalized},
          {"special", special}};
}

json bpe_model(const json& vocab, const json& merges, bool spm) {
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", spm ? json("<unk>") : json(nullptr)},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", spm},
          {"byte_fallback", spm},
          {"ignore_merges", false},
          {"vocab", vocab},
          {"merges", merges}};
}

// Byte-level BPE (GPT-2 style, no normaliser): a..z 0..25, "Ġ" 26, [ ] < > | _ 27..32, the
// two byte symbols of "é" (Ã ©) 33, 34, X 35, merges ca 36, cat 37, Ġc 38, sa 39. Added:
// [X] 40 (lstrip, rstrip), cat 37 (single_word; already in the vocabulary, so it keeps that
// id), <ud> 41, at 42 (normalized), <|sp|> 43 (special).
json byte_level_json() {
  json vocab = json::object();
  int id = 0;
  for (char c = 'a'; c <= 'z'; ++c) vocab[std::string(1, c)] = id++;
  for (const char* s : {"\xC4\xA0", "[", "]", "<", ">", "|", "_", "\xC3\x83", "\xC2\xA9", "X"})
    vocab[s] = id++;
  const json merges = {"c a", "ca t", "\xC4\xA0 c", "s a"};
  for (const char* s : {"ca", "cat",
                        "\xC4\xA0"
                        "c",
                        "sa"})
    vocab[s] = id++;
  const json added = {added_token(40, "[X]", false, false, false, true, true),
                      added_token(37, "cat", false, false, true),
                      added_token(41, "<ud>", false, false), added_token(42, "at", false, true),
                      added_token(43, "<|sp|>", true, false)};
  const json byte_level = {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", true},
                           {"use_regex", true}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", nullptr},
          {"decoder", byte_level},
          {"model", bpe_model(vocab, merges, false)}};
}

// SentencePiece-style BPE as transformers writes Llama's (normaliser Prepend "▁" + Replace
// " " -> "▁", byte fallback): <unk> <s> </s> 0..2, <0x00>..<0xFF> 3..258, "▁" 259, a..z
// 260..285, merges ▁h 286, ▁hi 287, ▁t 288, he 289, ▁the 290. Added: "hi there" 291
// (normalized: matched as "▁hi▁there"), "x y" 292 (raw text), "ok" 293 (normalized, rstrip).
json spm_json() {
  json vocab = json::object();
  int id = 0;
  for (const char* s : {"<unk>", "<s>", "</s>"}) vocab[s] = id++;
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = id++;
  vocab["\xE2\x96\x81"] = id++;
  for (char c = 'a'; c <= 'z'; ++c) vocab[std::string(1, c)] = id++;
  const std::string ms = "\xE2\x96\x81";
  const json merges = {ms + " h", ms + "h i", ms + " t", "h e", ms + "t he"};
  for (const std::string& s : {ms + "h", ms + "hi", ms + "t", std::string("he"), ms + "the"})
    vocab[s] = id++;
  const json added = {added_token(0, "<unk>", true, false),
                      added_token(1, "<s>", true, false),
                      added_token(2, "</s>", true, false),
                      added_token(291, "hi there", false, true),
                      added_token(292, "x y", false, false),
                      added_token(293, "ok", false, true, false, false, true)};
  const json normalizer = {
      {"type", "Sequence"},
      {"normalizers",
       {{{"type", "Prepend"}, {"prepend", ms}},
        {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", ms}}}}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", normalizer},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model", bpe_model(vocab, merges, true)}};
}

struct Expected {
  std::string text;
  Ids ids;
};

}  // namespace

TEST(AddedTokens, ByteLevelMatchesHuggingFace) {
  const auto tok = cai::tok::parse_hf_json(byte_level_json().dump(), "", "byte-level.json");
  const std::vector<Expected> cases = {
      // [X] swallows the spaces around it (Unicode ones too: U+00A0, U+3000).
      {"abc [X] bc", {0, 1, 2, 40, 1, 2}},
      {"a\u00a0[X]\u3000b", {0, 40, 1}},
      {"ca [X]  [X] cat", {36, 40, 40, 37}},
      // cat only as a word of its own; where it is not, the normalised pass still finds "at".
      {"a cat sat", {0, 26, 37, 26, 18, 42}},
      {"cats", {2, 42, 18}},
      {"_cat", {32, 2, 42}},
      {"\u00e9cat", {33, 34, 2, 42}},
      {"cat\u00e9", {2, 42, 33, 34}},
      {"the cat", {19, 7, 4, 26, 37}},
      {"scat at", {18, 2, 42, 26, 42}},
      {"x<ud>y", {23, 41, 24}},
      {"<ud><ud>cat<ud>", {41, 41, 37, 41}},
      {"x<|sp|>y", {23, 43, 24}},  // special: with parse_special (Hugging Face always)
  };
  for (const auto& c : cases) EXPECT_EQ(tok.encode(c.text, false, true), c.ids) << c.text;
  // Without parse_special the special token is text; the others are found all the same.
  EXPECT_EQ(tok.encode("x<|sp|>y", false, false), (Ids{23, 29, 31, 18, 15, 31, 30, 24}));
  EXPECT_EQ(tok.encode("x<ud>y", false, false), (Ids{23, 41, 24}));
}

TEST(AddedTokens, NormalizedTokensMatchTheNormalisedText) {
  const auto tok = cai::tok::parse_hf_json(spm_json().dump(), "", "spm.json");
  const std::vector<Expected> cases = {
      {"hi there", {291}},
      {"say hi there", {259, 278, 260, 284, 291}},
      // "▁hi▁there" is not in "▁ohi▁there".
      {"ohi there", {259, 274, 267, 268, 290, 277, 264}},
      // "x y" is cut from the raw text first; each side is then normalised on its own.
      {"a x y b", {259, 260, 259, 292, 259, 259, 261}},
      {"ax yb", {259, 260, 292, 259, 261}},
      {"hi there hi there", {291, 291}},
      // "ok" is looked for as "▁ok"; "▁" is not whitespace, so rstrip takes nothing.
      {"the ok  then", {290, 293, 259, 290, 273}},
      {"hi thereok", {291, 274, 270}},
  };
  for (const auto& c : cases) EXPECT_EQ(tok.encode(c.text, false, false), c.ids) << c.text;
}

TEST(AddedTokens, FlagsSurviveTokenizerJson) {
  const auto tok = cai::tok::parse_hf_json(spm_json().dump(), "", "spm.json");
  const fs::path dir = fs::path(CAI_TEST_TMPDIR) / "added-tokens";
  fs::create_directories(dir);
  tok.save(dir / "tokenizer.json");
  const auto back = cai::Tokenizer::load(dir / "tokenizer.json");
  for (const std::string text : {"say hi there", "a x y b", "the ok  then", "hi thereok"})
    EXPECT_EQ(back.encode(text), tok.encode(text)) << text;
}

// The byte-level vocabulary with one more non-special token, "sc", written to GGUF: the added
// tokens become USER_DEFINED (<|sp|> CONTROL) and lose their flags; llama.cpp then takes the
// longest one anywhere first ("scat" is "s" + "cat", not "sc" + "at") and matches "cat" and
// "at" wherever they are.
TEST(AddedTokens, GgufUserDefinedTokensMatchLlamaCpp) {
  json j = byte_level_json();
  j["added_tokens"].push_back(added_token(44, "sc", false, false));
  const auto hf = cai::tok::parse_hf_json(j.dump(), "", "byte-level.json");
  cai::gguf::Writer w;
  w.set_string("general.architecture", "llama");
  hf.write_gguf_metadata(w);
  const fs::path path = fs::path(CAI_TEST_TMPDIR) / "added-tokens" / "user-defined.gguf";
  fs::create_directories(path.parent_path());
  w.write(path);
  const auto tok = cai::Tokenizer::load(path);
  const std::vector<Expected> cases = {
      {"abc [X] bc", {0, 1, 2, 26, 40, 26, 1, 2}},
      {"a cat sat", {0, 26, 37, 26, 18, 42}},
      {"cats", {37, 18}},
      {"scat", {18, 37}},
      {"scat at", {18, 37, 26, 42}},
      {"x<ud>y", {23, 41, 24}},
      {"x<|sp|>y", {23, 43, 24}},
      {"<ud><ud>cat<ud>", {41, 41, 37, 41}},
      {"_cat", {32, 37}},
      {"\u00e9cat", {33, 34, 37}},
      {"ca [X]  [X] cat", {36, 26, 40, 26, 26, 40, 26, 37}},
  };
  for (const auto& c : cases) EXPECT_EQ(tok.encode(c.text, false, true), c.ids) << c.text;
  EXPECT_EQ(tok.encode("x<ud>y", false, false), (Ids{23, 41, 24}));
  EXPECT_FALSE(tok.is_special(41));
  EXPECT_TRUE(tok.is_special(43));
}
