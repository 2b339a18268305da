// `cai bench tokenize [TOKENIZER...]`: encode throughput (MB/s, tokens/s) on ~4 MB of
// deterministic mixed text: English prose, code, numbers, CJK, emoji, whitespace runs.
// With no tokenizer given, a byte-level BPE is trained on part of the text and measured.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "cai/io/error.h"
#include "cai/tokenizer/tokenizer.h"
#include "cai/tokenizer/trainer.h"
#include "command.h"

namespace cai::cli {
namespace cmd_bench_tokenize {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

struct BenchFlags {
  std::vector<std::string> tokenizers;
  double megabytes = 4.0;
  std::uint32_t seed = 1234;
};

// One document of each kind; the mix is chosen so every pre-tokenizer branch is exercised.
class TextGen {
 public:
  explicit TextGen(std::uint32_t seed) : rng_(seed) {}

  std::string document() {
    switch (pick(10)) {
      case 0:
      case 1:
      case 2:
      case 3:
        return prose();
      case 4:
      case 5:
        return code();
      case 6:
        return numbers();
      case 7:
        return cjk();
      case 8:
        return emoji();
      default:
        return whitespace();
    }
  }

 private:
  std::size_t pick(std::size_t n) { return rng_() % n; }
  template <typename T>
  const T& any(const std::vector<T>& v) {
    return v[pick(v.size())];
  }

  std::string prose() {
    static const std::vector<std::string> words = {
        "the",     "model",   "should",   "answer",    "honestly",     "and",
        "avoid",   "harm",    "a",        "careful",   "reader",       "would",
        "thank",   "you",     "for",      "this",      "constitution", "principle",
        "it's",    "don't",   "we'll",    "assistant", "human",        "question",
        "because", "however", "naïve",    "café",      "über",         "résumé",
        "Привет",  "мир",     "Ελληνικά", "Γειά",      "Hello",        "World"};
    std::string s;
    const std::size_t sentences = 3 + pick(6);
    for (std::size_t k = 0; k < sentences; ++k) {
      const std::size_t n = 5 + pick(15);
      for (std::size_t i = 0; i < n; ++i) {
        std::string w = any(words);
        if (i == 0 && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 32);
        s += w;
        s += (i + 1 == n) ? any(std::vector<std::string>{". ", "! ", "? ", ".\n"})
                          : (pick(9) == 0 ? ", " : " ");
      }
    }
    return s + "\n\n";
  }

  std::string code() {
    static const std::vector<std::string> names = {
        "tokens", "merge_rank", "pieces", "vocab", "out", "i", "n_ctx", "logits", "kvCache"};
    std::string s = "def " + any(names) + "(" + any(names) + ", " + any(names) + "=None):\n";
    for (std::size_t i = 0, n = 3 + pick(8); i < n; ++i) {
      s += std::string(4 * (1 + pick(3)), ' ');
      switch (pick(4)) {
        case 0:
          s += "if " + any(names) + " >= " + std::to_string(pick(1000)) + ":\n";
          break;
        case 1:
          s += any(names) + "[" + any(names) + "] += " + any(names) + " * 0.5  # scale\n";
          break;
        case 2:
          s += "return {\"" + any(names) + "\": " + any(names) + ", 'k': [1, 2, 3]}\n";
          break;
        default:
          s += "for (int j = 0; j < " + any(names) + ".size(); ++j) { x->y(j); }\n";
          break;
      }
    }
    return s + "\n";
  }

  std::string numbers() {
    std::string s;
    for (std::size_t i = 0, n = 10 + pick(30); i < n; ++i) {
      switch (pick(4)) {
        case 0:
          s += std::to_string(rng_());
          break;
        case 1:
          s += std::to_string(pick(10000)) + "." + std::to_string(pick(100000));
          break;
        case 2:
          s += "2024-" + std::to_string(1 + pick(12)) + "-" + std::to_string(1 + pick(28));
          break;
        default:
          s += "$" + std::to_string(pick(999)) + ",000";
          break;
      }
      s += pick(5) == 0 ? "\n" : " ";
    }
    return s + "\n";
  }

  std::string cjk() {
    static const std::vector<std::string> parts = {
        "我想在",   "apple",  "工作",       "天～", "東京都", "の",           "日本語",
        "テキスト", "한국어", "문장입니다", "，",   "。",     "中文分词测试", "1314151"};
    std::string s;
    for (std::size_t i = 0, n = 10 + pick(40); i < n; ++i) s += any(parts);
    return s + "\n";
  }

  std::string emoji() {
    static const std::vector<std::string> parts = {
        "🦙", "🚀",  "😁", "😶‍🌫️", "👩‍👩‍👧‍👦", "✅", "🇫🇷", " ", " ",
        "ok ",  "!!", "🔥🔥"};
    std::string s;
    for (std::size_t i = 0, n = 10 + pick(30); i < n; ++i) s += any(parts);
    return s + "\n";
  }

  std::string whitespace() {
    std::string s;
    for (std::size_t i = 0, n = 5 + pick(20); i < n; ++i) {
      s += std::string(pick(12), any(std::vector<char>{' ', '\t', '\n'}));
      s += any(std::vector<std::string>{"x", "end", "\r\n", "  ", "."});
    }
    return s + "\n";
  }

  std::mt19937 rng_;
};

void run(const BenchFlags& f) {
  CAI_CHECK(f.megabytes > 0 && f.megabytes <= 1024, "--mb must be in (0, 1024], got {}",
            f.megabytes);
  TextGen gen(f.seed);
  std::vector<std::string> docs;
  std::size_t bytes = 0;
  const auto target = static_cast<std::size_t>(f.megabytes * 1024 * 1024);
  while (bytes < target) {
    docs.push_back(gen.document());
    bytes += docs.back().size();
  }
  std::printf("text: %.2f MB in %zu documents (prose, code, numbers, CJK, emoji, whitespace)\n",
              bytes / 1048576.0, docs.size());
  // Wall-clock MB/s suffers when other work shares the machine; CPU MB/s (this thread's
  // CPU time) does not.
  std::printf("%-40s %5s %7s %8s %8s %11s %8s %6s\n", "tokenizer", "kind", "vocab", "MB/s",
              "MB/s-cpu", "tokens/s", "B/token", "exact");

  auto measure = [&](const std::string& label, const Tokenizer& tok) {
    std::size_t n_tokens = 0, mismatches = 0;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = thread_cpu_seconds();
    for (const auto& d : docs) n_tokens += tok.encode(d).size();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu = thread_cpu_seconds() - cpu_start;
    // Decode check outside the timed loop: every document must come back byte for byte.
    for (std::size_t i = 0; i < docs.size(); i += 7)
      if (tok.decode(tok.encode(docs[i])) != docs[i]) ++mismatches;
    std::printf("%-40s %5s %7d %8.2f %8.2f %11.0f %8.2f %6s\n", label.c_str(), tok.kind().c_str(),
                tok.vocab_size(), bytes / 1048576.0 / secs, bytes / 1048576.0 / cpu,
                n_tokens / secs, static_cast<double>(bytes) / std::max<std::size_t>(1, n_tokens),
                mismatches ? "NO" : "yes");
    std::fflush(stdout);
  };

  if (f.tokenizers.empty()) {
    BpeTrainerOptions o;
    o.vocab_size = 4096;
    o.special_tokens = {"<|endoftext|>"};
    o.pre_tokenizer = "llama-bpe";
    const std::vector<std::string> sample(docs.begin(), docs.begin() + docs.size() / 4);
    measure("(trained here, 4096, llama-bpe)", train_bpe(sample, o));
  }
  for (const auto& path : f.tokenizers) {
    std::string label = path;
    if (label.size() > 40) label = "..." + label.substr(label.size() - 37);
    measure(label, Tokenizer::load(path));
  }
}

const Registrar reg(90, [](CLI::App& root) {
  CLI::App* bench = group(root, "bench", "Benchmarks");
  auto f = std::make_shared<BenchFlags>();
  CLI::App* cmd = bench->add_subcommand("tokenize", "Encode throughput on mixed text");
  cmd->add_option("TOKENIZER", f->tokenizers,
                  "tokenizer.json, .gguf or model directories (none: train one and measure it)");
  cmd->add_option("--mb", f->megabytes, "Megabytes of text to generate")->capture_default_str();
  cmd->add_option("--seed", f->seed, "Text generator seed")->capture_default_str();
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_bench_tokenize
}  // namespace cai::cli
