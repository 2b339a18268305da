// Tokenizer::Impl::finalize: consistency checks and the lookup tables every encode uses.
#include <algorithm>
#include <atomic>

#include <fmt/format.h>

#include "cai/io/error.h"
#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/unicode.h"

namespace cai {

void Tokenizer::Impl::finalize(const std::string& where) {
  static std::atomic<std::uint64_t> next_serial{1};
  serial = next_serial++;
  const std::size_t n = pieces.size();
  CAI_CHECK(n > 0, "{}: empty vocabulary", where);
  if (scores.empty()) scores.assign(n, 0.0f);
  if (types.empty()) types.assign(n, tok::TokenType::normal);
  CAI_CHECK(scores.size() == n && types.size() == n,
            "{}: {} tokens but {} scores and {} token types", where, n, scores.size(),
            types.size());

  // Later duplicates win, as in llama.cpp's token_to_id map.
  piece_to_id.clear();
  piece_to_id.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) piece_to_id[pieces[i]] = static_cast<std::int32_t>(i);

  merge_table.clear();
  merge_table.reserve(merges.size() * 2);
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const auto [a, b] = merges[r];
    CAI_CHECK(a >= 0 && a < size() && b >= 0 && b < size(),
              "{}: merge {} names token ids {} {} "
              "outside the vocabulary",
              where, r, a, b);
    const auto merged = find(pieces[a] + pieces[b]);
    CAI_CHECK(merged.has_value(), "{}: merge {} ('{} {}') makes a token not in the vocabulary",
              where, r, pieces[a], pieces[b]);
    // The first (lowest-rank) occurrence of a pair is the one that counts.
    merge_table.emplace(tok::pair_key(a, b),
                        tok::MergeResult{static_cast<std::int32_t>(r), *merged});
  }

  for (int b = 0; b < 256; ++b) {
    const auto id =
        byte_level ? find(tok::byte_to_symbol()[b]) : find(fmt::format("<0x{:02X}>", b));
    byte_ids[b] = id ? *id : -1;
  }

  spm_split_words = algo == tok::MergeAlgo::scores;
  for (std::size_t i = 0; i < n && spm_split_words; ++i) {
    const std::string& p = pieces[i];
    for (std::size_t at = p.find(tok::kMetaspace, 1); at != std::string::npos;
         at = p.find(tok::kMetaspace, at + 1)) {
      if (at < 3 || std::string_view(p).substr(at - 3, 3) != tok::kMetaspace) {
        spm_split_words = false;
        break;
      }
    }
  }

  auto check_id = [&](const std::optional<std::int32_t>& id, const char* what) {
    CAI_CHECK(!id || (*id >= 0 && *id < size()),
              "{}: {} token id {} is outside the vocabulary "
              "(size {})",
              where, what, id.value_or(0), n);
  };
  check_id(bos, "BOS");
  check_id(eos, "EOS");
  check_id(eot, "EOT");
  check_id(pad, "padding");
  check_id(unk_id, "unknown");

  // Normalised added tokens are looked for as their normalised text (Hugging Face normalises
  // their content with the tokenizer's normaliser).
  for (auto& list : added_by_first_byte) list.assign(256, {});
  any_normalized_added = false;
  for (std::size_t i = 0; i < added.size(); ++i) {
    auto& t = added[i];
    CAI_CHECK(t.id >= 0 && t.id < size(), "{}: added token '{}' has id {} outside the vocabulary",
              where, t.content, t.id);
    t.pattern = t.normalized ? normalize(t.content, /*prefix_ok=*/true) : t.content;
    if (t.pattern.empty()) continue;
    any_normalized_added = any_normalized_added || t.normalized;
    added_by_first_byte[t.normalized ? 1 : 0][static_cast<unsigned char>(t.pattern[0])].push_back(
        i);
  }
  // Longest first, so "<|im_end|>" wins over a hypothetical "<|im".
  for (auto& table : added_by_first_byte)
    for (auto& list : table)
      std::stable_sort(list.begin(), list.end(), [&](std::size_t a, std::size_t b) {
        return added[a].pattern.size() > added[b].pattern.size();
      });

  stops.clear();
  auto add_stop = [&](std::optional<std::int32_t> id) {
    if (id && std::find(stops.begin(), stops.end(), *id) == stops.end()) stops.push_back(*id);
  };
  add_stop(eos);
  add_stop(eot);
  // End-of-turn markers of the common chat formats, when the vocabulary has them as
  // special tokens.
  for (const char* marker : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>",
                             "<|end_of_text|>", "<end_of_turn>"}) {
    const auto id = find(marker);
    if (id && types[*id] == tok::TokenType::control) add_stop(id);
  }
}

}  // namespace cai
