// Writing a tokenizer out: as a Hugging Face tokenizer.json (+ tokenizer_config.json) and as
// the tokenizer.ggml.* metadata keys of a GGUF file.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "cai/formats/gguf.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/tokenizer/chat_template.h"
#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/load.h"
#include "cai/tokenizer/unicode.h"

namespace cai {

namespace {

using json = nlohmann::json;

json pre_tokenizer_json(const Tokenizer::Impl& m) {
  json list = json::array();
  if (m.pre_metaspace) {
    std::string scheme = m.pre_prefix.empty()      ? "never"
                         : m.pre_prefix_first_only ? "first"
                                                   : "always";
    list.push_back({{"type", "Metaspace"},
                    {"replacement", std::string(tok::kMetaspace)},
                    {"prepend_scheme", scheme},
                    {"split", false}});
  }
  for (const std::string& p : m.pre.patterns())
    list.push_back({{"type", "Split"},
                    {"pattern", {{"Regex", p}}},
                    {"behavior", "Isolated"},
                    {"invert", false}});
  if (m.byte_level)
    list.push_back({{"type", "ByteLevel"},
                    {"add_prefix_space", m.pre_prefix == " "},
                    {"trim_offsets", true},
                    {"use_regex", false}});
  if (list.empty()) return nullptr;
  return {{"type", "Sequence"}, {"pretokenizers", list}};
}

bool spm_adds_prefix(const Tokenizer::Impl& m) {
  for (const auto& s : m.normalizer)
    if (s.prepend) return true;
  return false;
}

json normalizer_json(const Tokenizer::Impl& m) {
  if (m.algo == tok::MergeAlgo::scores) {
    // Hugging Face's Llama conversion: Prepend("▁") then Replace(" " -> "▁"); the same text
    // as llama.cpp's " " prefix followed by the replacement.
    json list = json::array();
    if (spm_adds_prefix(m))
      list.push_back({{"type", "Prepend"}, {"prepend", std::string(tok::kMetaspace)}});
    list.push_back({{"type", "Replace"},
                    {"pattern", {{"String", " "}}},
                    {"content", std::string(tok::kMetaspace)}});
    return {{"type", "Sequence"}, {"normalizers", list}};
  }
  if (m.normalizer.empty()) return nullptr;
  json list = json::array();
  for (const auto& s : m.normalizer) {
    if (s.prepend)
      list.push_back({{"type", "Prepend"}, {"prepend", s.to}});
    else
      list.push_back({{"type", "Replace"}, {"pattern", {{"String", s.from}}}, {"content", s.to}});
  }
  return {{"type", "Sequence"}, {"normalizers", list}};
}

json decoder_json(const Tokenizer::Impl& m) {
  if (m.byte_level)
    return {{"type", "ByteLevel"},
            {"add_prefix_space", true},
            {"trim_offsets", true},
            {"use_regex", true}};
  json list = json::array();
  if (m.decode_metaspace)
    list.push_back({{"type", "Replace"},
                    {"pattern", {{"String", std::string(tok::kMetaspace)}}},
                    {"content", " "}});
  if (m.byte_fallback || m.algo == tok::MergeAlgo::scores)
    list.push_back({{"type", "ByteFallback"}});
  list.push_back({{"type", "Fuse"}});
  if (m.strip_leading_space)
    list.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  return {{"type", "Sequence"}, {"decoders", list}};
}

json post_processor_json(const Tokenizer::Impl& m) {
  if (!(m.add_bos && m.bos) && !(m.add_eos && m.eos)) return nullptr;
  json single = json::array(), pair = json::array(), specials = json::object();
  auto special = [&](std::int32_t id) {
    const std::string& c = m.pieces[id];
    specials[c] = {{"id", c}, {"ids", {id}}, {"tokens", {c}}};
    return json{{"SpecialToken", {{"id", c}, {"type_id", 0}}}};
  };
  if (m.add_bos && m.bos) {
    single.push_back(special(*m.bos));
    pair.push_back(special(*m.bos));
  }
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  pair.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  if (m.add_eos && m.eos) {
    single.push_back(special(*m.eos));
    pair.push_back(special(*m.eos));
  }
  if (m.add_bos && m.bos) pair.push_back(special(*m.bos));
  pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
  if (m.add_eos && m.eos) pair.push_back(special(*m.eos));
  return {{"type", "TemplateProcessing"},
          {"single", single},
          {"pair", pair},
          {"special_tokens", specials}};
}

}  // namespace

namespace tok {

std::vector<std::pair<std::int32_t, std::int32_t>> spm_merges_from_scores(
    const Tokenizer::Impl& m) {
  struct Merge {
    float score;
    std::int32_t merged, left, right;
  };
  std::vector<Merge> list;
  for (std::int32_t id = 0; id < m.size(); ++id) {
    const std::string& piece = m.pieces[id];
    // A duplicated piece counts once, under the id lookups give it (the last).
    if (m.find(piece) != id) continue;
    // Every cut between two UTF-8 characters (the same character walk as spm_text).
    std::size_t at = std::min(utf8_len(static_cast<unsigned char>(piece[0])), piece.size());
    for (; at < piece.size();
         at += std::min(utf8_len(static_cast<unsigned char>(piece[at])), piece.size() - at)) {
      const auto left = m.find(std::string_view(piece).substr(0, at));
      const auto right = m.find(std::string_view(piece).substr(at));
      if (left && right) list.push_back({m.scores[id], id, *left, *right});
    }
  }
  // transformers' SentencePieceExtractor: a stable sort by score (highest first) of the
  // merges listed piece by piece in id order, each piece's splits by left id.
  std::sort(list.begin(), list.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.merged != b.merged) return a.merged < b.merged;
    return a.left < b.left;
  });
  std::vector<std::pair<std::int32_t, std::int32_t>> out;
  out.reserve(list.size());
  for (const Merge& x : list) out.emplace_back(x.left, x.right);
  return out;
}

}  // namespace tok

void Tokenizer::save(const std::filesystem::path& path) const {
  const Impl& m = *impl_;
  const bool spm_scores = m.algo == tok::MergeAlgo::scores;
  json vocab = json::object();
  for (std::int32_t i = 0; i < m.size(); ++i) {
    CAI_CHECK(m.find(m.pieces[i]) == i,
              "{}: token '{}' appears more than once in the "
              "vocabulary (ids {} and {}); tokenizer.json cannot hold that",
              path.string(), m.pieces[i], i, *m.find(m.pieces[i]));
    vocab[m.pieces[i]] = i;
  }
  json merges = json::array();
  for (const auto& [a, b] : spm_scores ? tok::spm_merges_from_scores(m) : m.merges)
    merges.push_back({m.pieces[a], m.pieces[b]});
  json added = json::array();
  auto add_token = [&](const tok::AddedToken& t) {
    added.push_back({{"id", t.id},
                     {"content", t.content},
                     {"single_word", t.single_word},
                     {"lstrip", t.lstrip},
                     {"rstrip", t.rstrip},
                     {"normalized", t.normalized},
                     {"special", t.special}});
  };
  // Hugging Face lists added tokens by id; a SentencePiece <unk> joins them as a special one.
  std::vector<tok::AddedToken> tokens = m.added;
  if (spm_scores && m.unk_id &&
      std::none_of(tokens.begin(), tokens.end(), [&](const auto& t) { return t.id == *m.unk_id; }))
    tokens.push_back(tok::AddedToken::special_token(m.pieces[*m.unk_id], *m.unk_id));
  if (spm_scores)
    std::stable_sort(tokens.begin(), tokens.end(),
                     [](const auto& a, const auto& b) { return a.id < b.id; });
  for (const auto& t : tokens) add_token(t);
  json model = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", m.unk_id ? json(m.pieces[*m.unk_id]) : json(nullptr)},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", spm_scores},
                {"byte_fallback", m.byte_fallback || spm_scores},
                {"ignore_merges", m.ignore_merges},
                {"vocab", std::move(vocab)},
                {"merges", std::move(merges)}};
  const json j = {{"version", "1.0"},
                  {"truncation", nullptr},
                  {"padding", nullptr},
                  {"added_tokens", std::move(added)},
                  {"normalizer", normalizer_json(m)},
                  {"pre_tokenizer", pre_tokenizer_json(m)},
                  {"post_processor", post_processor_json(m)},
                  {"decoder", decoder_json(m)},
                  {"model", std::move(model)}};
  write_file_atomic(path, j.dump(1) + "\n");

  // BOS/EOS and the chat template live in tokenizer_config.json; keys already there survive.
  const auto cfg_path = path.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  json cfg = json::object();
  if (std::filesystem::exists(cfg_path, ec)) {
    cfg = read_json(cfg_path);
  }
  cfg["bos_token"] = m.bos ? json(m.pieces[*m.bos]) : json(nullptr);
  cfg["eos_token"] = m.eos ? json(m.pieces[*m.eos]) : json(nullptr);
  cfg["add_bos_token"] = m.add_bos;
  cfg["add_eos_token"] = m.add_eos;
  if (m.chat_template) cfg["chat_template"] = *m.chat_template;
  cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
  write_file_atomic(cfg_path, cfg.dump(1) + "\n");
}

void Tokenizer::write_gguf_metadata(gguf::Writer& w) const {
  const Impl& m = *impl_;
  const bool spm = !m.byte_level;
  w.set_string("tokenizer.ggml.model", spm ? "llama" : "gpt2");
  w.set_string("tokenizer.ggml.pre", m.pre_name);
  w.set_string_array("tokenizer.ggml.tokens", m.pieces);

  std::vector<float> scores = m.scores;
  if (spm && m.algo == tok::MergeAlgo::ranks) {
    // A rank-merged BPE written for llama.cpp's score-merged SentencePiece path: earlier
    // merges must win, so a merge's product scores minus its rank; pieces no merge makes
    // score lowest.
    scores.assign(m.pieces.size(), -1e9f);
    for (std::size_t r = m.merges.size(); r-- > 0;) {
      const auto& [a, b] = m.merges[r];
      scores[*m.find(m.pieces[a] + m.pieces[b])] = -static_cast<float>(r);
    }
  }
  w.set_f32_array("tokenizer.ggml.scores", scores);
  std::vector<std::int32_t> types;
  for (auto t : m.types) types.push_back(static_cast<std::int32_t>(t));
  w.set_i32_array("tokenizer.ggml.token_type", types);
  if (!spm) {
    std::vector<std::string> merges;
    merges.reserve(m.merges.size());
    for (const auto& [a, b] : m.merges) merges.push_back(m.pieces[a] + " " + m.pieces[b]);
    w.set_string_array("tokenizer.ggml.merges", merges);
    w.set_string_array(tok::kPrePatternsKey, m.pre.patterns());
    w.set_bool("tokenizer.ggml.add_space_prefix", m.pre_prefix == " ");
  } else {
    bool prefix = false;
    for (const auto& s : m.normalizer) prefix = prefix || s.prepend;
    w.set_bool("tokenizer.ggml.add_space_prefix", prefix || !m.pre_prefix.empty());
  }
  auto id = [&](const char* key, const std::optional<std::int32_t>& v) {
    if (v) w.set_u32(key, static_cast<std::uint32_t>(*v));
  };
  id("tokenizer.ggml.bos_token_id", m.bos);
  id("tokenizer.ggml.eos_token_id", m.eos);
  id("tokenizer.ggml.eot_token_id", m.eot);
  id("tokenizer.ggml.padding_token_id", m.pad);
  id("tokenizer.ggml.unknown_token_id", m.unk_id);
  w.set_bool("tokenizer.ggml.add_bos_token", m.add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", m.add_eos);
  // A tokenizer without a template of its own gets the Jinja source of the one cai falls back
  // to for it (pick_chat_template), so llama.cpp's server renders chat as cai does rather
  // than in its own default format; read back, detect() gives the same template again.
  w.set_string("tokenizer.chat_template",
               m.chat_template ? *m.chat_template
                               : ChatTemplate::by_name(ChatTemplate::kDefaultName).jinja());
}

}  // namespace cai
