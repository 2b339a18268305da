// Reading a tokenizer from GGUF metadata (the tokenizer.ggml.* keys llama.cpp writes).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cai/formats/gguf.h"
#include "cai/io/error.h"
#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/load.h"
#include "cai/tokenizer/unicode.h"

namespace cai::tok {

namespace {

std::optional<std::int32_t> special_id(const gguf::Reader& r, const std::string& key,
                                       std::size_t n_vocab) {
  const auto v = r.get_int_opt(key);
  if (!v) return std::nullopt;
  // llama.cpp writes -1 (or 0xFFFFFFFF as u32) for "none".
  if (*v == -1 || *v == 0xFFFFFFFFLL) return std::nullopt;
  CAI_CHECK(*v >= 0 && static_cast<std::size_t>(*v) < n_vocab,
            "{}: metadata key {}: token id {} is outside the vocabulary (size {})",
            r.path().string(), key, *v, n_vocab);
  return static_cast<std::int32_t>(*v);
}

std::optional<bool> get_bool_opt(const gguf::Reader& r, const std::string& key) {
  if (!r.has(key)) return std::nullopt;
  return r.get_bool(key);
}

}  // namespace

Tokenizer load_gguf(const gguf::Reader& r) { return Tokenizer(load_gguf_impl(r)); }

std::shared_ptr<Tokenizer::Impl> load_gguf_impl(const gguf::Reader& r) {
  const std::string where = r.path().string();
  auto m = std::make_shared<Tokenizer::Impl>();

  const std::string model = r.get_string("tokenizer.ggml.model");
  if (model == "gpt2") {
    m->algo = MergeAlgo::ranks;
    m->byte_level = true;
  } else if (model == "llama") {
    m->algo = MergeAlgo::scores;
    m->byte_level = false;
  } else {
    throw_error(
        "{}: metadata key tokenizer.ggml.model: unsupported tokenizer '{}' (cai reads "
        "'gpt2' and 'llama')",
        where, model);
  }

  m->pieces = r.get_string_array("tokenizer.ggml.tokens");
  const std::size_t n = m->pieces.size();
  CAI_CHECK(n > 0, "{}: metadata key tokenizer.ggml.tokens: empty vocabulary", where);
  if (r.has("tokenizer.ggml.scores")) {
    const auto scores = r.get_float_array("tokenizer.ggml.scores");
    CAI_CHECK(scores.size() == n,
              "{}: metadata key tokenizer.ggml.scores has {} entries but "
              "tokenizer.ggml.tokens has {}",
              where, scores.size(), n);
    m->scores.assign(scores.begin(), scores.end());
  }
  if (r.has("tokenizer.ggml.token_type")) {
    const auto types = r.get_int_array("tokenizer.ggml.token_type");
    CAI_CHECK(types.size() == n,
              "{}: metadata key tokenizer.ggml.token_type has {} entries but "
              "tokenizer.ggml.tokens has {}",
              where, types.size(), n);
    m->types.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      CAI_CHECK(types[i] >= 0 && types[i] <= 6,
                "{}: metadata key tokenizer.ggml.token_type[{}]: "
                "unknown token type {}",
                where, i, types[i]);
      m->types.push_back(static_cast<TokenType>(types[i]));
    }
  }

  if (m->byte_level) {
    const std::string pre = r.get_string_opt("tokenizer.ggml.pre").value_or("default");
    auto p = PreTokenizer::for_style(pre);
    CAI_CHECK(p.has_value(),
              "{}: metadata key tokenizer.ggml.pre: unknown pre-tokenizer '{}' "
              "(known: {})",
              where, pre, fmt::join(PreTokenizer::styles(), ", "));
    m->pre = *p;
    m->pre_name = pre;
    // cai writes the exact patterns too, for pre-tokenizers llama.cpp has no name for.
    if (r.has(kPrePatternsKey)) m->pre = PreTokenizer(r.get_string_array(kPrePatternsKey));

    // Merges are "left right"; the split is at the first space after the first character,
    // as llama.cpp does (byte-level pieces never contain a raw space).
    const auto& merges = r.get_string_array("tokenizer.ggml.merges");
    tok::PieceMap ids;
    ids.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) ids[m->pieces[i]] = static_cast<std::int32_t>(i);
    m->merges.reserve(merges.size());
    for (std::size_t i = 0; i < merges.size(); ++i) {
      const std::string& s = merges[i];
      const std::size_t sp = s.find(' ', 1);
      CAI_CHECK(sp != std::string::npos,
                "{}: metadata key tokenizer.ggml.merges[{}]: '{}' is not "
                "two tokens separated by a space",
                where, i, s);
      const std::string_view a = std::string_view(s).substr(0, sp);
      const std::string_view b = std::string_view(s).substr(sp + 1);
      auto ia = ids.find(a), ib = ids.find(b);
      CAI_CHECK(ia != ids.end() && ib != ids.end(),
                "{}: metadata key tokenizer.ggml.merges[{}]: "
                "'{}' names a token not in tokenizer.ggml.tokens",
                where, i, s);
      CAI_CHECK(ids.find(std::string(a) + std::string(b)) != ids.end(),
                "{}: metadata key "
                "tokenizer.ggml.merges[{}]: '{}' makes a token not in tokenizer.ggml.tokens",
                where, i, s);
      m->merges.emplace_back(ia->second, ib->second);
    }
    if (get_bool_opt(r, "tokenizer.ggml.add_space_prefix").value_or(false)) m->pre_prefix = " ";
    m->add_bos = get_bool_opt(r, "tokenizer.ggml.add_bos_token").value_or(false);
  } else {
    // llama.cpp: a space before each stretch of text that starts the input or follows an
    // added token (add_space_prefix; llama_vocab::impl::tokenize, is_prev_special), then
    // every space becomes U+2581.
    const bool prefix = get_bool_opt(r, "tokenizer.ggml.add_space_prefix").value_or(true);
    if (prefix) m->normalizer.push_back({true, "", " "});
    m->prepend_every_segment = true;
    m->normalizer.push_back({false, " ", std::string(kMetaspace)});
    m->decode_metaspace = true;
    m->strip_leading_space = prefix;
    m->add_bos = get_bool_opt(r, "tokenizer.ggml.add_bos_token").value_or(true);
  }
  m->add_eos = get_bool_opt(r, "tokenizer.ggml.add_eos_token").value_or(false);

  m->bos = special_id(r, "tokenizer.ggml.bos_token_id", n);
  m->eos = special_id(r, "tokenizer.ggml.eos_token_id", n);
  m->eot = special_id(r, "tokenizer.ggml.eot_token_id", n);
  m->pad = special_id(r, "tokenizer.ggml.padding_token_id", n);
  m->unk_id = special_id(r, "tokenizer.ggml.unknown_token_id", n);
  m->chat_template = r.get_string_opt("tokenizer.chat_template");
  if (m->add_bos && !m->bos)
    throw_error(
        "{}: metadata key tokenizer.ggml.add_bos_token is true but there is no "
        "tokenizer.ggml.bos_token_id",
        where);

  // llama.cpp splits control, user-defined and unknown tokens out of the text before
  // pre-tokenization: user-defined ones always, the others only with parse_special. GGUF
  // keeps no lstrip / rstrip flags (llama.cpp sets them for a few models by name).
  if (m->types.empty()) m->types.assign(n, TokenType::normal);
  m->added_longest_first = true;
  for (std::size_t i = 0; i < n; ++i) {
    const TokenType t = m->types[i];
    if (t == TokenType::control || t == TokenType::user_defined || t == TokenType::unknown) {
      AddedToken a = AddedToken::special_token(m->pieces[i], static_cast<std::int32_t>(i));
      a.special = t != TokenType::user_defined;
      m->added.push_back(std::move(a));
    }
  }

  m->finalize(where);
  return m;
}

}  // namespace cai::tok
