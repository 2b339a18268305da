// The BPE trainer: arbitrary bytes (invalid UTF-8 included) round-trip, the result survives
// tokenizer.json and GGUF, and merges follow the counts.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>

#include "cai/formats/gguf.h"
#include "cai/io/error.h"
#include "cai/tokenizer/tokenizer.h"
#include "cai/tokenizer/trainer.h"

namespace {

namespace fs = std::filesystem;

std::vector<std::string> corpus() {
  const std::vector<std::string> words = {"the",   "cat", "sat",  "on",    "mat",  "and",  "then",
                                          "there", "was", "a",    "dog",   "42",   "2024", "über",
                                          "naïve", "猫",  "🦙", "don't", "it's", "\n",   "  "};
  std::mt19937 rng(7);
  std::vector<std::string> texts;
  for (int t = 0; t < 200; ++t) {
    std::string s;
    for (int w = 0; w < 200; ++w) {
      s += words[rng() % words.size()];
      s += (rng() % 7 == 0) ? ". " : " ";
    }
    texts.push_back(s);
  }
  return texts;
}

cai::Tokenizer trained() {
  cai::BpeTrainerOptions o;
  o.vocab_size = 400;
  o.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  o.pre_tokenizer = "llama-bpe";
  static const cai::Tokenizer tok = cai::train_bpe(corpus(), o);
  return tok;
}

std::vector<std::string> probes() {
  std::vector<std::string> p = {"",
                                "the cat sat on the mat",
                                "naïve über 猫 🦙 2024!",
                                "\xff\xfe\xfd",
                                "abc\xe2\x82",
                                "\xc0\xaf overlong",
                                "\x80\x80x",
                                std::string("nul\0inside", 10),
                                "<|im_start|>user\nhi<|im_end|>"};
  std::mt19937 rng(1);
  for (int i = 0; i < 200; ++i) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    p.push_back(s);
  }
  return p;
}

TEST(Trainer, VocabularyShape) {
  const auto tok = trained();
  // The small corpus runs out of pairs seen twice before 400.
  EXPECT_GT(tok.vocab_size(), 300);
  EXPECT_LE(tok.vocab_size(), 400);
  EXPECT_EQ(tok.token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(tok.eos_id(), 0);
  EXPECT_TRUE(tok.is_special(2));
  EXPECT_EQ(tok.kind(), "bpe");
  // Frequent words become single tokens.
  EXPECT_EQ(tok.encode(" the").size(), 1u);
  EXPECT_EQ(tok.encode("<|im_end|>", false, true), (std::vector<std::int32_t>{2}));
}

TEST(Trainer, RoundTripsArbitraryBytes) {
  const auto tok = trained();
  for (const auto& s : probes()) {
    const auto ids = tok.encode(s);
    EXPECT_EQ(tok.decode(ids), s);
    for (auto id : ids) EXPECT_FALSE(tok.is_special(id));  // specials only with parse_special
  }
}

TEST(Trainer, SaveLoadEncodesIdentically) {
  const auto tok = trained();
  const fs::path dir = fs::path(CAI_TEST_TMPDIR) / "tokenizer" / "trained";
  fs::create_directories(dir);
  tok.save(dir / "tokenizer.json");
  const auto back = cai::Tokenizer::load(dir);
  EXPECT_EQ(back.vocab_size(), tok.vocab_size());
  EXPECT_EQ(back.eos_id(), tok.eos_id());
  for (const auto& s : probes()) {
    EXPECT_EQ(back.encode(s), tok.encode(s));
    EXPECT_EQ(back.encode(s, true, true), tok.encode(s, true, true));
  }
}

TEST(Trainer, GgufRoundTrip) {
  const auto tok = trained();
  const fs::path path = fs::path(CAI_TEST_TMPDIR) / "tokenizer" / "trained.gguf";
  fs::create_directories(path.parent_path());
  cai::gguf::Writer w;
  w.set_string("general.architecture", "llama");
  tok.write_gguf_metadata(w);
  w.write(path);
  const auto back = cai::Tokenizer::from_gguf(cai::gguf::Reader(path));
  EXPECT_EQ(back.vocab_size(), tok.vocab_size());
  for (const auto& s : probes()) EXPECT_EQ(back.encode(s, false, true), tok.encode(s, false, true));
}

TEST(Trainer, FixtureTokenizersSurviveGguf) {
  // A byte-level HF tokenizer and a SentencePiece GGUF vocabulary, written and read back.
  const fs::path fx(CAI_FIXTURES_DIR);
  for (const fs::path& src : {fx / "hf-model", fx / "tokenizer" / "ggml-vocab-llama-spm.gguf",
                              fx / "tokenizer" / "ggml-vocab-falcon.gguf"}) {
    const auto tok = cai::Tokenizer::load(src);
    const fs::path path = fs::path(CAI_TEST_TMPDIR) / "tokenizer" / "rt.gguf";
    cai::gguf::Writer w;
    w.set_string("general.architecture", "llama");
    tok.write_gguf_metadata(w);
    w.write(path);
    const auto back = cai::Tokenizer::load(path);
    for (const auto& s : probes()) EXPECT_EQ(back.encode(s), tok.encode(s)) << src;
  }
}

TEST(Trainer, MergesMostFrequentPairFirst) {
  cai::BpeTrainerOptions o;
  o.vocab_size = 258;
  o.min_frequency = 1;
  const auto tok = cai::train_bpe({"xy xy xy ab"}, o);
  // Pre-tokens "xy" x1, " xy" x2, " ab" x1: the commonest pair is "xy" (3), then " x" (2).
  EXPECT_EQ(tok.id_to_piece(256), "xy");
  EXPECT_EQ(tok.id_to_piece(257), "\xC4\xA0xy");  // "Ġ" + "xy"
}

TEST(Trainer, Validate) {
  cai::BpeTrainerOptions o;
  o.vocab_size = 100;
  EXPECT_THROW(o.validate(), cai::Error);
  o = {};
  o.pre_tokenizer = "nope";
  EXPECT_THROW(o.validate(), cai::Error);
  o = {};
  o.eos_token = "<eos>";
  EXPECT_THROW(o.validate(), cai::Error);
}

TEST(Trainer, FastOnMegabytes) {
  // About 2 MB of text: counting plus 4000 merges must take seconds, not minutes.
  std::vector<std::string> texts;
  for (int k = 0; k < 5; ++k)
    for (auto& t : corpus()) texts.push_back(t + std::to_string(k));
  cai::BpeTrainerOptions o;
  o.vocab_size = 1000;
  const auto start = std::chrono::steady_clock::now();
  const auto tok = cai::train_bpe(texts, o);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(secs, 30.0);
  EXPECT_GT(tok.vocab_size(), 300);
}

}  // namespace
