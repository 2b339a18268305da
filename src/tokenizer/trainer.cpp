// Byte-level BPE training with incremental pair counts.
//
// Words (pre-tokens) are counted once; each distinct word is a symbol sequence with a
// frequency. Pair counts live in a hash map, and for each pair the words holding it. A merge
// rewrites only the words holding its pair and adjusts the counts of the pairs in those
// words, so each step costs what it touches rather than a pass over the corpus. The best
// pair comes from a max-heap whose stale entries are refreshed when popped (as Hugging Face
// tokenizers' BpeTrainer does); ties go to the pair with smaller ids, which is deterministic.
#include "cai/tokenizer/trainer.h"

#include <algorithm>
#include <optional>
#include <queue>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/progress.h"
#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/unicode.h"

namespace cai {

void BpeTrainerOptions::validate() const {
  const auto base = static_cast<std::int64_t>(special_tokens.size()) + 256;
  CAI_CHECK(vocab_size >= base,
            "BpeTrainerOptions.vocab_size {} is smaller than the {} special "
            "tokens + 256 byte symbols",
            vocab_size, special_tokens.size());
  CAI_CHECK(min_frequency >= 1, "BpeTrainerOptions.min_frequency must be at least 1, got {}",
            min_frequency);
  CAI_CHECK(tok::PreTokenizer::for_style(pre_tokenizer).has_value(),
            "BpeTrainerOptions.pre_tokenizer: unknown style '{}' (known: {})", pre_tokenizer,
            fmt::join(tok::PreTokenizer::styles(), ", "));
  for (std::size_t i = 0; i < special_tokens.size(); ++i) {
    CAI_CHECK(!special_tokens[i].empty(), "BpeTrainerOptions.special_tokens[{}] is empty", i);
    for (std::size_t k = 0; k < i; ++k)
      CAI_CHECK(special_tokens[k] != special_tokens[i],
                "BpeTrainerOptions.special_tokens: '{}' is given twice", special_tokens[i]);
  }
  auto in_specials = [&](const std::optional<std::string>& t, const char* field) {
    CAI_CHECK(
        !t || std::find(special_tokens.begin(), special_tokens.end(), *t) != special_tokens.end(),
        "BpeTrainerOptions.{} '{}' is not one of special_tokens", field, t.value_or(""));
  };
  in_specials(bos_token, "bos_token");
  in_specials(eos_token, "eos_token");
  CAI_CHECK(
      !add_bos || bos_token ||
          std::any_of(special_tokens.begin(), special_tokens.end(),
                      [](const std::string& s) { return s == "<s>" || s == "<|begin_of_text|>"; }),
      "BpeTrainerOptions.add_bos is set but there is no BOS token");
}

namespace {

class WordCounter {
 public:
  explicit WordCounter(const BpeTrainerOptions& o)
      : opts_(o), pre_(*tok::PreTokenizer::for_style(o.pre_tokenizer)) {}

  // Counts the pre-tokens of `text`, skipping occurrences of the special tokens.
  void add(std::string_view text) {
    std::size_t seg = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      for (const auto& s : opts_.special_tokens) {
        if (text.compare(i, s.size(), s) == 0) {
          add_segment(text.substr(seg, i - seg));
          i += s.size();
          seg = i;
          --i;
          break;
        }
      }
    }
    add_segment(text.substr(std::min(seg, text.size())));
  }

  std::unordered_map<std::string, std::int64_t>& counts() { return counts_; }

 private:
  void add_segment(std::string_view text) {
    if (text.empty()) return;
    pre_.split(text, pieces_);
    for (std::string_view p : pieces_) ++counts_[std::string(p)];
  }
  const BpeTrainerOptions& opts_;
  tok::PreTokenizer pre_;
  std::vector<std::string_view> pieces_;
  std::unordered_map<std::string, std::int64_t> counts_;
};

struct Word {
  std::vector<std::int32_t> syms;
  std::int64_t count;
};

struct Entry {
  std::int64_t count;
  std::uint64_t pair;
  bool operator<(const Entry& o) const {
    return count != o.count ? count < o.count : pair > o.pair;  // max count, then smallest ids
  }
};

Tokenizer train(std::unordered_map<std::string, std::int64_t>& word_counts,
                const BpeTrainerOptions& opts) {
  auto m = std::make_shared<Tokenizer::Impl>();
  for (const auto& s : opts.special_tokens) {
    m->pieces.push_back(s);
    m->types.push_back(tok::TokenType::control);
  }
  const auto first_byte = static_cast<std::int32_t>(m->pieces.size());
  for (int b = 0; b < 256; ++b) {
    m->pieces.push_back(tok::byte_to_symbol()[b]);
    m->types.push_back(tok::TokenType::normal);
  }

  // Sorted words make the run independent of hash-map iteration order.
  std::vector<Word> words;
  {
    std::vector<std::pair<std::string, std::int64_t>> sorted(word_counts.begin(),
                                                             word_counts.end());
    word_counts.clear();
    std::sort(sorted.begin(), sorted.end());
    words.reserve(sorted.size());
    for (auto& [w, c] : sorted) {
      Word word{{}, c};
      for (unsigned char ch : w) word.syms.push_back(first_byte + ch);
      words.push_back(std::move(word));
    }
  }

  std::unordered_map<std::uint64_t, std::int64_t> pair_count;
  std::unordered_map<std::uint64_t, std::vector<std::int32_t>> pair_words;
  for (std::size_t w = 0; w < words.size(); ++w) {
    const auto& s = words[w].syms;
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
      const auto key = tok::pair_key(s[i], s[i + 1]);
      pair_count[key] += words[w].count;
      auto& list = pair_words[key];
      if (list.empty() || list.back() != static_cast<std::int32_t>(w))
        list.push_back(static_cast<std::int32_t>(w));
    }
  }
  std::priority_queue<Entry> heap;
  for (const auto& [key, c] : pair_count) heap.push({c, key});

  const std::int64_t target_merges = opts.vocab_size - static_cast<std::int64_t>(m->pieces.size());
  std::optional<Progress> progress;
  if (opts.show_progress)
    progress.emplace("bpe merges",
                     static_cast<std::uint64_t>(std::max<std::int64_t>(0, target_merges)),
                     "merges");
  std::vector<std::uint32_t> stamp(words.size(), 0);
  std::uint32_t step = 0;
  std::vector<std::int32_t> merged_syms;
  std::unordered_map<std::uint64_t, std::int64_t> touched;  // new pairs of this step

  while (static_cast<std::int64_t>(m->merges.size()) < target_merges && !heap.empty()) {
    const Entry top = heap.top();
    heap.pop();
    auto it = pair_count.find(top.pair);
    const std::int64_t current = it == pair_count.end() ? 0 : it->second;
    if (current != top.count) {  // stale: requeue with the real count
      if (current > 0) heap.push({current, top.pair});
      continue;
    }
    if (current < opts.min_frequency) break;

    const auto a = static_cast<std::int32_t>(top.pair >> 32);
    const auto b = static_cast<std::int32_t>(top.pair & 0xFFFFFFFFu);
    const auto new_id = static_cast<std::int32_t>(m->pieces.size());
    m->pieces.push_back(m->pieces[a] + m->pieces[b]);
    m->types.push_back(tok::TokenType::normal);
    m->merges.emplace_back(a, b);
    ++step;
    touched.clear();

    std::vector<std::int32_t> holders = std::move(pair_words[top.pair]);
    pair_words.erase(top.pair);
    for (std::int32_t w : holders) {
      if (stamp[w] == step) continue;
      stamp[w] = step;
      Word& word = words[w];
      auto& s = word.syms;
      bool found = false;
      for (std::size_t i = 0; i + 1 < s.size(); ++i)
        if (s[i] == a && s[i + 1] == b) {
          found = true;
          break;
        }
      if (!found) continue;
      // Replace the word's pair counts: remove the old adjacencies, add the new ones.
      for (std::size_t i = 0; i + 1 < s.size(); ++i)
        pair_count[tok::pair_key(s[i], s[i + 1])] -= word.count;
      merged_syms.clear();
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          merged_syms.push_back(new_id);
          ++i;
        } else {
          merged_syms.push_back(s[i]);
        }
      }
      s.swap(merged_syms);
      for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        const auto key = tok::pair_key(s[i], s[i + 1]);
        pair_count[key] += word.count;
        // Only adjacencies with the new token are new to this word.
        if (s[i] == new_id || s[i + 1] == new_id) {
          auto& list = pair_words[key];
          if (list.empty() || list.back() != w) list.push_back(w);
          touched[key] = 0;
        }
      }
    }
    pair_count.erase(top.pair);
    for (auto& [key, unused] : touched) {
      const std::int64_t c = pair_count[key];
      if (c > 0) heap.push({c, key});
    }
    if (progress) progress->add();
  }
  if (progress) progress->finish();

  m->algo = tok::MergeAlgo::ranks;
  m->byte_level = true;
  m->pre = *tok::PreTokenizer::for_style(opts.pre_tokenizer);
  m->pre_name = m->pre.style();
  auto id_of = [&](const std::string& s) -> std::optional<std::int32_t> {
    for (std::size_t i = 0; i < opts.special_tokens.size(); ++i)
      if (opts.special_tokens[i] == s) return static_cast<std::int32_t>(i);
    return std::nullopt;
  };
  for (std::size_t i = 0; i < opts.special_tokens.size(); ++i)
    m->added.push_back(
        tok::AddedToken::special_token(opts.special_tokens[i], static_cast<std::int32_t>(i)));
  if (opts.bos_token)
    m->bos = id_of(*opts.bos_token);
  else
    for (const char* s : {"<s>", "<|begin_of_text|>"})
      if (!m->bos) m->bos = id_of(s);
  if (opts.eos_token)
    m->eos = id_of(*opts.eos_token);
  else
    for (const char* s : {"</s>", "<|endoftext|>", "<|end_of_text|>"})
      if (!m->eos) m->eos = id_of(s);
  m->add_bos = opts.add_bos;
  m->finalize("trained tokenizer");
  return Tokenizer(std::move(m));
}

}  // namespace

Tokenizer train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options) {
  options.validate();
  WordCounter counter(options);
  for (const auto& t : texts) counter.add(t);
  return train(counter.counts(), options);
}

Tokenizer train_bpe_files(const std::vector<std::filesystem::path>& files,
                          const BpeTrainerOptions& options) {
  options.validate();
  CAI_CHECK(!files.empty(), "train_bpe_files: no input files");
  WordCounter counter(options);
  for (const auto& f : files) counter.add(read_file(f));
  return train(counter.counts(), options);
}

}  // namespace cai
