// cai::Tokenizer: loading dispatch, encode (added-token split, normalise, pre-tokenise,
// merge) and decode.
#include "cai/tokenizer/tokenizer.h"

#include <algorithm>

#include <fmt/format.h>

#include "cai/formats/gguf.h"
#include "cai/io/error.h"
#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/load.h"
#include "cai/tokenizer/unicode.h"

namespace cai {

namespace fs = std::filesystem;

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Tokenizer Tokenizer::load(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path json = path / "tokenizer.json";
    if (fs::exists(json)) return tok::load_hf_json(json, path / "tokenizer_config.json");
    // A directory holding only a GGUF model: use its metadata.
    for (const auto& e : fs::directory_iterator(path))
      if (e.path().extension() == ".gguf") return from_gguf(gguf::Reader(e.path()));
    throw_error("{}: no tokenizer.json (or .gguf file) in this directory", path.string());
  }
  CAI_CHECK(fs::exists(path, ec), "{}: no such file", path.string());
  if (path.extension() == ".gguf") return from_gguf(gguf::Reader(path));
  return tok::load_hf_json(path, path.parent_path() / "tokenizer_config.json");
}

Tokenizer Tokenizer::from_gguf(const gguf::Reader& reader) { return tok::load_gguf(reader); }

std::string Tokenizer::Impl::normalize(std::string_view text, bool prefix_ok) const {
  std::string buf(text);
  for (const NormStep& s : normalizer) {
    if (!s.prepend)
      buf = tok::replace_all(buf, s.from, s.to);
    else if (prefix_ok && !buf.empty())
      buf.insert(0, s.to);
  }
  return buf;
}

void Tokenizer::Impl::encode_text(std::string_view text, bool first_segment,
                                  std::vector<std::int32_t>& out, bool normalized) const {
  if (text.empty()) return;
  std::string buf;
  const bool normalize_here = !normalized && !normalizer.empty();
  if (normalize_here || pre_metaspace || !pre_prefix.empty()) {
    buf = normalize_here ? normalize(text, first_segment || prepend_every_segment)
                         : std::string(text);
    if (pre_metaspace) buf = tok::replace_all(buf, " ", tok::kMetaspace);
    // Hugging Face adds the pre-tokenizer's prefix only when the text lacks it.
    if (!pre_prefix.empty() && (first_segment || !pre_prefix_first_only) &&
        !buf.starts_with(pre_prefix))
      buf.insert(0, pre_prefix);
    text = buf;
  }
  if (algo == tok::MergeAlgo::scores) {
    // llama.cpp's SentencePiece path merges the whole segment at once. When the vocabulary
    // allows (spm_split_words), cutting before each "▁" that follows another character
    // gives the same tokens, since no merge can cross such a cut and merges on either side
    // are independent; the pieces can then be cached like BPE words.
    if (!spm_split_words) {
      spm_text(text, out);
      return;
    }
    // Cuts only fall where spm_text's own character walk has a symbol boundary: an invalid
    // lead byte (say 0xFF, read as a 4-byte sequence) can swallow the "▁" after it.
    const std::string_view ms = tok::kMetaspace;
    std::size_t start = 0;
    bool prev_is_ms = true;  // no cut at position 0
    for (std::size_t i = 0; i < text.size();) {
      const std::size_t n =
          std::min(tok::utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
      const bool is_ms = text.compare(i, n, ms) == 0;
      if (is_ms && !prev_is_ms) {
        cached(text.substr(start, i - start), out, &Impl::spm_text);
        start = i;
      }
      prev_is_ms = is_ms;
      i += n;
    }
    cached(text.substr(start), out, &Impl::spm_text);
    return;
  }
  if (pre.empty()) {
    bpe_word(text, out);
    return;
  }
  thread_local std::vector<std::string_view> words;
  pre.split(text, words);
  for (std::string_view w : words) bpe_word(w, out);
}

bool Tokenizer::prompt_wants_bos(std::string_view text) const {
  if (const auto bos = bos_id(); bos && is_special(*bos)) {
    const std::string& piece = id_to_piece(*bos);
    if (!piece.empty() && text.starts_with(piece)) return false;
  }
  return true;
}

std::vector<std::int32_t> Tokenizer::encode_prompt(std::string_view text,
                                                   std::string_view continued) const {
  auto ids = encode(text, prompt_wants_bos(text), /*parse_special=*/true);
  for (const auto id : encode(continued, /*add_special=*/false, /*parse_special=*/true))
    ids.push_back(id);
  return ids;
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                            bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && m.add_bos && m.bos) out.push_back(*m.bos);

  // Cut the text at the added tokens matched in raw text; the stretches between them are
  // normalised and, when the vocabulary has normalised added tokens, cut again at those
  // (Hugging Face's AddedVocabulary::extract_and_normalize); what is left is encoded as text.
  // `first` is true until anything has been emitted: only the text at the very start gets a
  // "first" prefix.
  bool first = true;
  thread_local std::vector<tok::AddedSplit> raw, norm;
  raw.clear();
  m.split_added(text, /*normalized=*/false, parse_special, raw);
  for (const tok::AddedSplit& r : raw) {
    if (r.id >= 0) {
      out.push_back(r.id);
    } else if (!m.any_normalized_added) {
      m.encode_text(r.text, first, out);
    } else {
      const std::string normed = m.normalize(r.text, first || m.prepend_every_segment);
      norm.clear();
      m.split_added(normed, /*normalized=*/true, parse_special, norm);
      for (const tok::AddedSplit& n : norm) {
        if (n.id >= 0)
          out.push_back(n.id);
        else
          m.encode_text(n.text, first && &n == &norm.front(), out, /*normalized=*/true);
      }
    }
    if (!r.text.empty() || r.id >= 0) first = false;
  }

  if (add_special && m.add_eos && m.eos) out.push_back(*m.eos);
  return out;
}

std::string Tokenizer::token_bytes(std::int32_t id) const {
  const Impl& m = *impl_;
  CAI_CHECK(id >= 0 && id < m.size(), "token id {} is outside the vocabulary (size {})", id,
            m.size());
  const std::string& piece = m.pieces[id];
  switch (m.types[id]) {
    case tok::TokenType::control:
    case tok::TokenType::user_defined:
    case tok::TokenType::unknown:
      return piece;  // added and special tokens decode to their text as written
    case tok::TokenType::byte:
      if (piece.size() == 6 && piece.starts_with("<0x"))
        return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
      break;
    default:
      break;
  }
  if (m.byte_level) return tok::byte_level_to_bytes(piece);
  if (m.decode_metaspace) return tok::replace_all(piece, tok::kMetaspace, " ");
  return piece;
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string out;
  bool first = true;
  for (std::int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    std::string bytes = token_bytes(id);
    // Undo the space the encoder put in front of the text.
    if (first && m.strip_leading_space && m.types[id] != tok::TokenType::control &&
        !bytes.empty() && bytes.front() == ' ')
      bytes.erase(0, 1);
    first = false;
    out += bytes;
  }
  return out;
}

std::int32_t Tokenizer::vocab_size() const { return impl_->size(); }

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view piece) const {
  return impl_->find(piece);
}

const std::string& Tokenizer::id_to_piece(std::int32_t id) const {
  CAI_CHECK(id >= 0 && id < impl_->size(), "token id {} is outside the vocabulary (size {})", id,
            impl_->size());
  return impl_->pieces[id];
}

bool Tokenizer::is_special(std::int32_t id) const {
  CAI_CHECK(id >= 0 && id < impl_->size(), "token id {} is outside the vocabulary (size {})", id,
            impl_->size());
  return impl_->types[id] == tok::TokenType::control;
}

std::optional<std::int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<std::int32_t> Tokenizer::eos_id() const { return impl_->eos; }
const std::vector<std::int32_t>& Tokenizer::stop_ids() const { return impl_->stops; }
const std::optional<std::string>& Tokenizer::chat_template_source() const {
  return impl_->chat_template;
}
std::string Tokenizer::kind() const { return impl_->byte_level ? "bpe" : "spm"; }

}  // namespace cai
