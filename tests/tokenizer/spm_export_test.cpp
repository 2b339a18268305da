// Exporting a score-merged SentencePiece vocabulary (GGUF "llama": Llama 2, Phi-3) as a
// Hugging Face tokenizer.json: merges derived from the scores the way transformers converts
// Llama models, and the tokenizer.json read back must encode exactly like the GGUF one.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cai/formats/gguf.h"
#include "cai/io/file.h"
#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/tokenizer.h"
#include "cai/tokenizer/unicode.h"
#include "fixture_cases.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using cai_test::Case;
using cai_test::read_cases;
using cai_test::show;

std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02X}", c);
  }
  return out;
}

fs::path export_dir(const std::string& name) {
  const fs::path dir = fs::path(CAI_TEST_TMPDIR) / "spm_export" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Random text: ASCII words and punctuation, runs of spaces, tabs and newlines, multi-byte
// UTF-8 (Latin, Cyrillic, CJK, emoji), invalid and truncated byte sequences, literal U+2581,
// and runs of vocabulary pieces (their U+2581 as spaces) to exercise long merge chains.
std::string random_text(std::mt19937& rng, const cai::Tokenizer& tok) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  static const char* const kUtf8[] = {"é",
                                      "ß",
                                      "ñ",
                                      "ü",
                                      "Ж",
                                      "д",
                                      "я",
                                      "中",
                                      "文",
                                      "字",
                                      "日本",
                                      "한",
                                      "🦙",
                                      "😀",
                                      "🚀",
                                      "→",
                                      "€",
                                      "…",
                                      "ą",
                                      "ł",
                                      "ي",
                                      "ש",
                                      "\xE2\x96\x81",
                                      "\xC2\xA0",
                                      "\xEF\xBF\xBD",
                                      "\u0301"};
  static const char kAscii[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
      ".,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`";
  std::string s;
  const int parts = 1 + pick(12);
  for (int p = 0; p < parts; ++p) {
    switch (pick(8)) {
      case 0:  // a word
        for (int k = 1 + pick(10); k-- > 0;) s += kAscii[pick(26 * 2)];
        break;
      case 1:  // any printable ASCII
        for (int k = 1 + pick(8); k-- > 0;) s += kAscii[pick(sizeof(kAscii) - 1)];
        break;
      case 2:  // a run of spaces (longer than the longest whitespace piece sometimes)
        s.append(1 + pick(p % 3 == 0 ? 40 : 6), ' ');
        break;
      case 3:
        s += "\n\t\r "[pick(4)];
        if (pick(2)) s += "\n\n";
        break;
      case 4:
        for (int k = 1 + pick(4); k-- > 0;) s += kUtf8[pick(std::size(kUtf8))];
        break;
      case 5: {  // invalid UTF-8: stray continuation bytes, bad leads, truncated sequences
        static const char* const kBad[] = {"\x80", "\xBF",     "\xC0",
                                           "\xC3", "\xE2\x96", "\xF0\x9F",
                                           "\xFF", "\xFE",     "\xF8\x88\x80\x80\x80",
                                           "\xE2"};
        s += kBad[pick(std::size(kBad))];
        if (pick(2)) s += static_cast<char>(0x80 + pick(128));
        break;
      }
      default: {  // vocabulary pieces back to back, sometimes with spaces between
        for (int k = 1 + pick(6); k-- > 0;) {
          const std::string& piece = tok.id_to_piece(pick(tok.vocab_size()));
          if (piece.starts_with("<") && piece.ends_with(">")) continue;  // byte/special tokens
          s += cai::tok::replace_all(piece, cai::tok::kMetaspace, " ");
        }
        break;
      }
    }
    if (pick(3) == 0) s += ' ';
  }
  return s;
}

// Decoding gives the text back except where SentencePiece itself loses it, in the GGUF path
// and the tokenizer.json path alike: a literal U+2581 in the input decodes as a space, and an
// invalid lead byte (0xF3, read as a 4-byte sequence) can swallow the U+2581 a following
// space became, so that U+2581 is written out as raw <0xXX> bytes and decodes as itself.
bool decode_can_round_trip(const std::string& text) {
  const std::string_view ms = cai::tok::kMetaspace;
  if (text.find(ms) != std::string::npos) return false;
  const std::string norm =
      text.empty() ? text : std::string(ms) + cai::tok::replace_all(text, " ", ms);
  std::vector<bool> starts(norm.size() + 1, false);
  for (std::size_t i = 0; i < norm.size();) {
    starts[i] = true;
    i += std::min(cai::tok::utf8_len(static_cast<unsigned char>(norm[i])), norm.size() - i);
  }
  for (std::size_t at = norm.find(ms); at != std::string::npos; at = norm.find(ms, at + 1))
    if (!starts[at] || (at + ms.size() < norm.size() && !starts[at + ms.size()])) return false;
  return true;
}

class SpmExport : public ::testing::TestWithParam<std::string> {};

TEST_P(SpmExport, TokenizerJsonLayout) {
  const std::string name = GetParam();
  const cai::Tokenizer gguf = cai::Tokenizer::load(cai_test::kTokenizerFixtures / name);
  const fs::path dir = export_dir(name + "-layout");
  gguf.save(dir / "tokenizer.json");
  const json j = json::parse(cai::read_file(dir / "tokenizer.json"));
  const json& model = j.at("model");
  EXPECT_EQ(model.at("type"), "BPE");
  EXPECT_EQ(model.at("byte_fallback"), true);
  EXPECT_EQ(model.at("fuse_unk"), true);
  EXPECT_EQ(model.at("unk_token"), "<unk>");
  EXPECT_EQ(model.at("vocab").size(), static_cast<std::size_t>(gguf.vocab_size()));
  EXPECT_TRUE(j.at("pre_tokenizer").is_null());
  const json& norm = j.at("normalizer").at("normalizers");
  ASSERT_EQ(norm.size(), 2u);
  EXPECT_EQ(norm[0].at("type"), "Prepend");
  EXPECT_EQ(norm[0].at("prepend"), "\xE2\x96\x81");
  EXPECT_EQ(norm[1].at("type"), "Replace");
  EXPECT_EQ(norm[1].at("pattern").at("String"), " ");
  EXPECT_EQ(norm[1].at("content"), "\xE2\x96\x81");
  std::vector<std::string> decoders;
  for (const json& d : j.at("decoder").at("decoders")) decoders.push_back(d.at("type"));
  EXPECT_EQ(decoders, (std::vector<std::string>{"Replace", "ByteFallback", "Fuse", "Strip"}));

  // The merges Hugging Face's Llama conversion starts with.
  const json& merges = model.at("merges");
  ASSERT_GT(merges.size(), 4u);
  EXPECT_EQ(merges[0], json::array({"\xE2\x96\x81", "t"}));
  EXPECT_EQ(merges[1], json::array({"e", "r"}));
  EXPECT_EQ(merges[2], json::array({"i", "n"}));
  EXPECT_EQ(merges[3], json::array({"\xE2\x96\x81", "a"}));

  bool saw_bos = false;
  // Control and unknown tokens (Phi-3's [PAD...] are of the unknown type) are special;
  // USER_DEFINED ones (Phi-3's </s>) are not, and are matched in the raw text as llama.cpp
  // matches them. The types are read from the GGUF file itself.
  const auto types = cai::gguf::Reader(cai_test::kTokenizerFixtures / name).get_int_array("tokenizer.ggml.token_type");
  for (const json& t : j.at("added_tokens")) {
    const auto id = t.at("id").get<std::int32_t>();
    const auto type = static_cast<cai::tok::TokenType>(types.at(static_cast<std::size_t>(id)));
    EXPECT_EQ(t.at("special").get<bool>(), type != cai::tok::TokenType::user_defined) << t.dump();
    if (gguf.is_special(id)) {
      EXPECT_TRUE(t.at("special").get<bool>()) << t.dump();
    }
    EXPECT_FALSE(t.at("normalized").get<bool>()) << t.dump();
    saw_bos = saw_bos || t.at("content") == "<s>";
  }
  EXPECT_TRUE(saw_bos);
  const json cfg = json::parse(cai::read_file(dir / "tokenizer_config.json"));
  EXPECT_EQ(cfg.at("bos_token"), "<s>");
  EXPECT_EQ(cfg.at("add_bos_token"), true);
}

TEST_P(SpmExport, ReloadEncodesLikeGguf) {
  const std::string name = GetParam();
  const cai::Tokenizer gguf = cai::Tokenizer::load(cai_test::kTokenizerFixtures / name);
  const fs::path dir = export_dir(name);
  gguf.save(dir / "tokenizer.json");
  const cai::Tokenizer hf = cai::Tokenizer::load(dir);
  EXPECT_EQ(hf.kind(), "spm");
  ASSERT_EQ(hf.vocab_size(), gguf.vocab_size());
  EXPECT_EQ(hf.bos_id(), gguf.bos_id());
  EXPECT_EQ(hf.eos_id(), gguf.eos_id());
  for (std::int32_t id = 0; id < gguf.vocab_size(); ++id)
    ASSERT_EQ(hf.id_to_piece(id), gguf.id_to_piece(id));

  const auto cases = read_cases(name);
  ASSERT_EQ(cases.size(), 46u);
  for (const Case& c : cases) {
    ASSERT_EQ(show(gguf.encode(c.input)), show(c.expected)) << "GGUF, input '" << c.input << "'";
    const auto ids = hf.encode(c.input);
    ASSERT_EQ(show(ids), show(c.expected)) << "tokenizer.json, input '" << c.input << "'";
    EXPECT_EQ(show(hf.encode(c.input, true)), show(gguf.encode(c.input, true)));
    EXPECT_EQ(hf.decode(ids), c.input);
  }

  // Runs of spaces: the whitespace pieces all score the same, so here SentencePiece (leftmost
  // first) and BPE (lowest id first) take different paths to the same chunks.
  for (int n = 1; n <= 200; ++n) {
    const std::string run(static_cast<std::size_t>(n), ' ');
    for (const std::string& text : {run, "a" + run, run + "a", "x" + run + "y", "\n" + run + "\n"})
      ASSERT_EQ(show(hf.encode(text)), show(gguf.encode(text)))
          << n << " spaces in '" << text << "'";
  }

  std::mt19937 rng(20240611);
  int round_trips = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string text = random_text(rng, gguf);
    const auto want = gguf.encode(text);
    const auto got = hf.encode(text);
    ASSERT_EQ(show(got), show(want)) << "random input #" << i << " '" << escaped(text) << "'";
    ASSERT_EQ(hf.decode(got), gguf.decode(want)) << "random input #" << i;
    if (decode_can_round_trip(text)) {
      ++round_trips;
      ASSERT_EQ(hf.decode(got), text) << "random input #" << i << " '" << escaped(text) << "'";
    }
  }
  EXPECT_GT(round_trips, 1300);

  // Special tokens written in the text (parse_special): each stretch of text after one gets
  // its own "▁" in both (llama.cpp's llama-server tokenizes "<s>Hello" as 1 15043, "▁Hello").
  for (const char* text : {"</s>", "Hello world</s>", " Hello</s></s>", "<s>", "<s></s>",
                           "<s>Hello", "Hello</s>world", "Hello </s> world"}) {
    EXPECT_EQ(show(hf.encode(text, false, true)), show(gguf.encode(text, false, true))) << text;
    EXPECT_EQ(show(hf.encode(text, true, true)), show(gguf.encode(text, true, true))) << text;
  }
  const auto bos = *gguf.token_to_id("<s>");
  const auto hello = gguf.encode("Hello");  // "▁Hello"
  EXPECT_EQ(show(gguf.encode("<s>Hello", false, true)),
            show(std::vector<std::int32_t>{bos, hello[0]}));
}

// Words glued from fragments of vocabulary pieces, where one merged piece can be reached by
// different cuts at neighbouring positions: the place where rank order (Hugging Face BPE)
// and score order (SentencePiece) could part. Long runs on demand:
// CAI_SPM_EXPORT_STRESS=1000000 ./test_tokenizer --gtest_filter='*SpmExport*Stress*'
TEST_P(SpmExport, StressPieceFragments) {
  const char* env = std::getenv("CAI_SPM_EXPORT_STRESS");
  const long n = env ? std::atol(env) : 20000;
  const std::string name = GetParam();
  const cai::Tokenizer gguf = cai::Tokenizer::load(cai_test::kTokenizerFixtures / name);
  const fs::path dir = export_dir(name + "-stress");
  gguf.save(dir / "tokenizer.json");
  const cai::Tokenizer hf = cai::Tokenizer::load(dir);
  std::mt19937 rng(7);
  auto pick = [&](std::size_t k) { return static_cast<std::size_t>(rng() % k); };
  std::vector<std::vector<std::string>> chars;  // pieces as UTF-8 characters
  for (std::int32_t id = 0; id < gguf.vocab_size(); ++id) {
    const std::string piece =
        cai::tok::replace_all(gguf.id_to_piece(id), cai::tok::kMetaspace, " ");
    if (piece.size() < 2 || (piece.starts_with("<") && piece.ends_with(">"))) continue;
    std::vector<std::string> cs;
    for (std::size_t i = 0; i < piece.size();) {
      const std::size_t len =
          std::min(cai::tok::utf8_len(static_cast<unsigned char>(piece[i])), piece.size() - i);
      cs.push_back(piece.substr(i, len));
      i += len;
    }
    chars.push_back(std::move(cs));
  }
  long mismatches = 0;
  for (long i = 0; i < n; ++i) {
    std::string text;
    for (std::size_t k = 2 + pick(4); k-- > 0;) {
      const auto& cs = chars[pick(chars.size())];
      std::size_t a = pick(cs.size()), b = pick(cs.size());
      if (a > b) std::swap(a, b);
      if (pick(2))
        a = 0;
      else if (pick(2))
        b = cs.size() - 1;
      for (std::size_t c = a; c <= b; ++c) text += cs[c];
      if (pick(3) == 0) text += text.substr(pick(text.size()));  // repeat a tail
    }
    const auto want = gguf.encode(text);
    const auto got = hf.encode(text);
    if (got != want && mismatches++ < 5)
      ADD_FAILURE() << "'" << escaped(text) << "': GGUF" << show(want) << " tokenizer.json"
                    << show(got);
  }
  EXPECT_EQ(mismatches, 0) << "of " << n;
}

// Every piece next to itself and overlapping itself at every character: the layouts where
// two occurrences of one merged piece, cut differently, can wait side by side.
TEST_P(SpmExport, StressSelfOverlaps) {
  const std::string name = GetParam();
  const cai::Tokenizer gguf = cai::Tokenizer::load(cai_test::kTokenizerFixtures / name);
  const fs::path dir = export_dir(name + "-overlaps");
  gguf.save(dir / "tokenizer.json");
  const cai::Tokenizer hf = cai::Tokenizer::load(dir);
  long mismatches = 0, texts = 0;
  for (std::int32_t id = 0; id < gguf.vocab_size(); ++id) {
    const std::string p = cai::tok::replace_all(gguf.id_to_piece(id), cai::tok::kMetaspace, " ");
    if (p.size() < 2 || (p.starts_with("<") && p.ends_with(">"))) continue;
    std::vector<std::string> cases = {p + p};
    for (std::size_t i = cai::tok::utf8_len(static_cast<unsigned char>(p[0])); i < p.size();
         i += cai::tok::utf8_len(static_cast<unsigned char>(p[i]))) {
      cases.push_back(p + p.substr(i));
      cases.push_back(p.substr(0, i) + p);
      cases.push_back(p.substr(0, i) + p + p.substr(i));
    }
    for (const std::string& text : cases) {
      ++texts;
      const auto want = gguf.encode(text);
      const auto got = hf.encode(text);
      if (got != want && mismatches++ < 5)
        ADD_FAILURE() << "'" << escaped(text) << "': GGUF" << show(want) << " tokenizer.json"
                      << show(got);
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << texts;
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, SpmExport,
                         ::testing::Values("ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

// The derivation itself on a hand-made vocabulary: every two-part cut into known pieces,
// highest merged score first, ties by the merged piece's id and then the left part's id.
TEST(SpmExport, MergesFromScores) {
  cai::Tokenizer::Impl m;
  m.byte_level = false;
  m.algo = cai::tok::MergeAlgo::scores;
  m.pieces = {"<unk>", "a", "b", "c", "ab", "bc", "abc", "é", "aé", "ca"};
  m.scores = {0, -1, -2, -3, -10, -10, -20, -4, -5, -30};
  m.finalize("test");
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& [l, r] : cai::tok::spm_merges_from_scores(m))
    got.emplace_back(m.pieces[l], m.pieces[r]);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"a", "é"}, {"a", "b"}, {"b", "c"}, {"a", "bc"}, {"ab", "c"}, {"c", "a"}};
  EXPECT_EQ(got, want);
}

}  // namespace
