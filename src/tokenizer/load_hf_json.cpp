// Reading a Hugging Face tokenizer.json (+ tokenizer_config.json). Only the pieces of the
// format that BPE tokenizers use are accepted; anything else is an error naming its key,
// so a tokenizer never silently encodes differently from the reference.
#include <cstdio>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/io/log.h"
#include "cai/tokenizer/impl.h"
#include "cai/tokenizer/load.h"
#include "cai/tokenizer/unicode.h"

namespace cai::tok {

namespace {

using json = nlohmann::json;

// Hugging Face's ByteLevel(use_regex=true) pattern is GPT-2's; llama.cpp's spelling of it
// (without the final "|\s+") splits identically because unmatched stretches stay pieces.
// Known Split patterns map to the llama.cpp style name written to GGUF.
const std::vector<std::pair<std::string, std::string>>& known_split_patterns() {
  static const std::vector<std::pair<std::string, std::string>> t = {
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
       "?[^\\s\\p{L}\\p{N}]+"
       "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "llama-bpe"},
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
       "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "qwen2"},
  };
  return t;
}

class Parser {
 public:
  explicit Parser(std::string where) : where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw_error("{}: key {}: {}", where_, key, what);
  }
  static std::string type_name(const json& v) { return v.type_name(); }

  const json& need(const json& obj, const std::string& key, const std::string& path) const {
    if (!obj.is_object()) fail(path, "expected an object, got " + type_name(obj));
    auto it = obj.find(key);
    if (it == obj.end()) fail(join(path, key), "missing");
    return *it;
  }
  std::string str(const json& v, const std::string& key) const {
    if (!v.is_string()) fail(key, "expected a string, got " + type_name(v));
    return v.get<std::string>();
  }
  bool boolean(const json& obj, const std::string& key, const std::string& path, bool dflt) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return dflt;
    if (!it->is_boolean()) fail(join(path, key), "expected true or false, got " + type_name(*it));
    return it->get<bool>();
  }
  std::int64_t integer(const json& v, const std::string& key) const {
    if (!v.is_number_integer()) fail(key, "expected an integer, got " + type_name(v));
    return v.get<std::int64_t>();
  }
  const json& array(const json& v, const std::string& key) const {
    if (!v.is_array()) fail(key, "expected an array, got " + type_name(v));
    return v;
  }
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

// model: {"type": "BPE", "vocab": {...}, "merges": [...], ...}
void parse_model(const Parser& p, const json& model, Tokenizer::Impl& m) {
  const std::string type = p.str(p.need(model, "type", "model"), "model.type");
  if (type != "BPE")
    p.fail("model.type", fmt::format("unsupported model '{}' (cai reads BPE)", type));
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()))
      p.fail(std::string("model.") + key, "not supported");
  }

  const json& vocab = p.need(model, "vocab", "model");
  if (!vocab.is_object())
    p.fail("model.vocab", "expected an object, got " + Parser::type_name(vocab));
  std::vector<const std::string*> by_id(vocab.size(), nullptr);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const std::string key = fmt::format("model.vocab[\"{}\"]", it.key());
    const std::int64_t id = p.integer(it.value(), key);
    if (id < 0 || id >= static_cast<std::int64_t>(vocab.size()))
      p.fail(key, fmt::format("id {} is outside 0..{} (ids must be dense)", id, vocab.size() - 1));
    if (by_id[id])
      p.fail("model.vocab",
             fmt::format("id {} is given to both '{}' and '{}'", id, *by_id[id], it.key()));
    by_id[id] = &it.key();
  }
  m.pieces.reserve(by_id.size());
  for (const std::string* s : by_id) m.pieces.push_back(*s);

  PieceMap ids;
  ids.reserve(m.pieces.size() * 2);
  for (std::size_t i = 0; i < m.pieces.size(); ++i) ids[m.pieces[i]] = static_cast<std::int32_t>(i);
  auto lookup = [&](const std::string& tok, const std::string& key) {
    auto it = ids.find(tok);
    if (it == ids.end()) p.fail(key, fmt::format("unknown token '{}'", tok));
    return it->second;
  };

  if (auto it = model.find("merges"); it != model.end() && !it->is_null()) {
    const json& merges = p.array(*it, "model.merges");
    m.merges.reserve(merges.size());
    for (std::size_t i = 0; i < merges.size(); ++i) {
      const std::string key = fmt::format("model.merges[{}]", i);
      std::string a, b;
      if (merges[i].is_string()) {
        const std::string s = merges[i].get<std::string>();
        const std::size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          p.fail(key, fmt::format("'{}' is not two tokens separated by one space", s));
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (merges[i].is_array() && merges[i].size() == 2) {
        a = p.str(merges[i][0], key + "[0]");
        b = p.str(merges[i][1], key + "[1]");
      } else {
        p.fail(key, "expected \"a b\" or [a, b], got " + Parser::type_name(merges[i]));
      }
      const std::int32_t ia = lookup(a, key), ib = lookup(b, key);
      if (ids.find(a + b) == ids.end())
        p.fail(key, fmt::format("merged token '{}' is not in model.vocab", a + b));
      m.merges.emplace_back(ia, ib);
    }
  }
  m.byte_fallback = p.boolean(model, "byte_fallback", "model", false);
  m.ignore_merges = p.boolean(model, "ignore_merges", "model", false);
  if (auto it = model.find("unk_token"); it != model.end() && !it->is_null())
    m.unk_id = lookup(p.str(*it, "model.unk_token"), "model.unk_token");
  m.types.assign(m.pieces.size(), TokenType::normal);
  if (m.unk_id) m.types[*m.unk_id] = TokenType::unknown;
}

void parse_normalizer(const Parser& p, const json& n, const std::string& key, Tokenizer::Impl& m) {
  if (n.is_null()) return;
  const std::string type = p.str(p.need(n, "type", key), key + ".type");
  if (type == "Sequence") {
    const json& list = p.array(p.need(n, "normalizers", key), key + ".normalizers");
    for (std::size_t i = 0; i < list.size(); ++i)
      parse_normalizer(p, list[i], fmt::format("{}.normalizers[{}]", key, i), m);
  } else if (type == "Prepend") {
    m.normalizer.push_back({true, "", p.str(p.need(n, "prepend", key), key + ".prepend")});
    m.prepend_every_segment = true;
  } else if (type == "Replace") {
    const json& pat = p.need(n, "pattern", key);
    auto s = pat.find("String");
    if (s == pat.end()) p.fail(key + ".pattern", "only {\"String\": ...} patterns are supported");
    m.normalizer.push_back({false, p.str(*s, key + ".pattern.String"),
                            p.str(p.need(n, "content", key), key + ".content")});
  } else if (type == "NFC") {
    // Accepted without being applied: text that is already NFC (nearly all text) encodes
    // identically. Said once so a mismatch on decomposed input is not a mystery.
    log_warning("{}: key {}: NFC normalisation is not applied", p.where(), key + ".type");
  } else {
    p.fail(key + ".type", fmt::format("unsupported normalizer '{}' (cai reads Sequence, Prepend, "
                                      "Replace, NFC)",
                                      type));
  }
}

void parse_pre_tokenizer(const Parser& p, const json& n, const std::string& key, Tokenizer::Impl& m,
                         std::vector<std::string>& patterns) {
  if (n.is_null()) return;
  const std::string type = p.str(p.need(n, "type", key), key + ".type");
  if (type == "Sequence") {
    const json& list = p.array(p.need(n, "pretokenizers", key), key + ".pretokenizers");
    for (std::size_t i = 0; i < list.size(); ++i)
      parse_pre_tokenizer(p, list[i], fmt::format("{}.pretokenizers[{}]", key, i), m, patterns);
  } else if (type == "ByteLevel") {
    m.byte_level = true;
    if (p.boolean(n, "add_prefix_space", key, false)) m.pre_prefix = " ";
    if (p.boolean(n, "use_regex", key, true)) {
      for (const auto& pat : PreTokenizer::for_style("gpt-2")->patterns()) patterns.push_back(pat);
    }
  } else if (type == "Split") {
    const json& pat = p.need(n, "pattern", key);
    if (auto r = pat.find("Regex"); r != pat.end()) {
      patterns.push_back(p.str(*r, key + ".pattern.Regex"));
    } else if (auto s = pat.find("String"); s != pat.end()) {
      patterns.push_back("\\Q" + p.str(*s, key + ".pattern.String") + "\\E");
    } else {
      p.fail(key + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    }
    const std::string behavior = p.str(p.need(n, "behavior", key), key + ".behavior");
    if (behavior != "Isolated")
      p.fail(key + ".behavior", fmt::format("unsupported '{}' (cai reads Isolated)", behavior));
    if (p.boolean(n, "invert", key, false)) p.fail(key + ".invert", "true is not supported");
  } else if (type == "Digits") {
    patterns.push_back(p.boolean(n, "individual_digits", key, false) ? "\\p{N}" : "\\p{N}+");
  } else if (type == "Metaspace") {
    const std::string rep = p.str(p.need(n, "replacement", key), key + ".replacement");
    if (rep != kMetaspace) p.fail(key + ".replacement", "only U+2581 is supported");
    m.pre_metaspace = true;
    std::string scheme = "always";
    if (auto it = n.find("prepend_scheme"); it != n.end())
      scheme = p.str(*it, key + ".prepend_scheme");
    else if (!p.boolean(n, "add_prefix_space", key, true))
      scheme = "never";
    if (scheme == "always" || scheme == "first")
      m.pre_prefix = std::string(kMetaspace);
    else if (scheme != "never")
      p.fail(key + ".prepend_scheme", "expected always, first or never");
    m.pre_prefix_first_only = scheme == "first";
    // split: every U+2581 starts a new piece.
    if (p.boolean(n, "split", key, true))
      patterns.push_back("\xE2\x96\x81[^\xE2\x96\x81]*|[^\xE2\x96\x81]+");
  } else {
    p.fail(key + ".type", fmt::format("unsupported pre-tokenizer '{}' (cai reads ByteLevel, Split, "
                                      "Digits, Metaspace, Sequence)",
                                      type));
  }
}

void parse_decoder(const Parser& p, const json& n, const std::string& key, Tokenizer::Impl& m) {
  if (n.is_null()) return;
  const std::string type = p.str(p.need(n, "type", key), key + ".type");
  if (type == "Sequence") {
    const json& list = p.array(p.need(n, "decoders", key), key + ".decoders");
    for (std::size_t i = 0; i < list.size(); ++i)
      parse_decoder(p, list[i], fmt::format("{}.decoders[{}]", key, i), m);
  } else if (type == "Replace") {
    const json& pat = p.need(n, "pattern", key);
    auto s = pat.find("String");
    if (s == pat.end() || p.str(*s, key + ".pattern.String") != kMetaspace ||
        p.str(p.need(n, "content", key), key + ".content") != " ")
      p.fail(key, "only Replace(U+2581 -> ' ') is supported");
    m.decode_metaspace = true;
  } else if (type == "Strip") {
    const json& start = p.need(n, "start", key);
    if (p.integer(start, key + ".start") > 1) p.fail(key + ".start", "at most 1 is supported");
    m.strip_leading_space = start.get<std::int64_t>() == 1;
  } else if (type == "Metaspace") {
    m.decode_metaspace = true;
    m.strip_leading_space = true;
  } else if (type != "ByteLevel" && type != "ByteFallback" && type != "Fuse") {
    p.fail(key + ".type", fmt::format("unsupported decoder '{}' (cai reads ByteLevel, Metaspace, "
                                      "Sequence of Replace/ByteFallback/Fuse/Strip)",
                                      type));
  }
}

// TemplateProcessing: a SpecialToken before $A means BOS, after it EOS.
void parse_post_processor(const Parser& p, const json& n, const std::string& key,
                          Tokenizer::Impl& m) {
  if (n.is_null()) return;
  const std::string type = p.str(p.need(n, "type", key), key + ".type");
  if (type == "Sequence") {
    const json& list = p.array(p.need(n, "processors", key), key + ".processors");
    for (std::size_t i = 0; i < list.size(); ++i)
      parse_post_processor(p, list[i], fmt::format("{}.processors[{}]", key, i), m);
  } else if (type == "TemplateProcessing") {
    const json& single = p.array(p.need(n, "single", key), key + ".single");
    bool seen_text = false;
    for (std::size_t i = 0; i < single.size(); ++i) {
      const std::string k = fmt::format("{}.single[{}]", key, i);
      if (single[i].contains("Sequence")) {
        seen_text = true;
        continue;
      }
      const json& sp = p.need(single[i], "SpecialToken", k);
      const std::string content =
          p.str(p.need(sp, "id", k + ".SpecialToken"), k + ".SpecialToken.id");
      const auto id = m.find(content);
      if (!id) p.fail(k + ".SpecialToken.id", fmt::format("unknown token '{}'", content));
      if (!seen_text) {
        m.bos = *id;
        m.add_bos = true;
      } else {
        m.eos = *id;
        m.add_eos = true;
      }
    }
  } else if (type != "ByteLevel") {
    p.fail(key + ".type", fmt::format("unsupported post-processor '{}' (cai reads "
                                      "TemplateProcessing, ByteLevel, Sequence)",
                                      type));
  }
}

// added_tokens: ids are assigned the way Hugging Face tokenizers does, not read: a token
// already in the model vocabulary keeps that id, others take the next free id in order.
void parse_added_tokens(const Parser& p, const json& list, Tokenizer::Impl& m) {
  std::size_t renumbered = 0;
  std::string first_warning;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string key = fmt::format("added_tokens[{}]", i);
    const json& t = list[i];
    AddedToken a;
    a.content = p.str(p.need(t, "content", key), key + ".content");
    if (a.content.empty()) p.fail(key + ".content", "empty");
    const std::int64_t declared = p.integer(p.need(t, "id", key), key + ".id");
    a.special = p.boolean(t, "special", key, false);
    a.lstrip = p.boolean(t, "lstrip", key, false);
    a.rstrip = p.boolean(t, "rstrip", key, false);
    a.single_word = p.boolean(t, "single_word", key, false);
    // tokenizers' AddedToken::from(content, special): special tokens are not normalised.
    a.normalized = p.boolean(t, "normalized", key, !a.special);
    if (const auto id = m.find(a.content)) {
      a.id = *id;
    } else {
      a.id = m.size();
      m.pieces.push_back(a.content);
      m.scores.push_back(0.0f);
      m.types.push_back(TokenType::normal);
      m.piece_to_id[a.content] = a.id;
    }
    m.types[a.id] = a.special ? TokenType::control : TokenType::user_defined;
    if (declared != a.id && renumbered++ == 0)
      first_warning = fmt::format("{}.id is {} but the token gets id {}", key, declared, a.id);
    m.added.push_back(std::move(a));
  }
  if (renumbered > 0)
    log_warning(
        "{}: key {} ({} added token id(s) differ; ids are assigned in order, as Hugging Face "
        "tokenizers does)",
        p.where(), first_warning, renumbered);
}

// bos_token / eos_token: "text" or {"content": "text", ...}.
std::optional<std::string> config_token(const Parser& p, const json& cfg, const std::string& key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_object()) return p.str(p.need(*it, "content", key), key + ".content");
  return p.str(*it, key);
}

void parse_config(const Parser& p, const json& cfg, Tokenizer::Impl& m) {
  if (!cfg.is_object()) p.fail("(top level)", "expected an object");
  for (const char* key : {"bos_token", "eos_token"}) {
    const auto content = config_token(p, cfg, key);
    if (!content) continue;
    const auto id = m.find(*content);
    if (!id) p.fail(key, fmt::format("token '{}' is not in the vocabulary", *content));
    (std::string(key) == "bos_token" ? m.bos : m.eos) = *id;
  }
  if (cfg.contains("add_bos_token")) m.add_bos = p.boolean(cfg, "add_bos_token", "", false);
  if (cfg.contains("add_eos_token")) m.add_eos = p.boolean(cfg, "add_eos_token", "", false);
  if (auto it = cfg.find("chat_template"); it != cfg.end() && !it->is_null()) {
    if (it->is_string()) {
      m.chat_template = it->get<std::string>();
    } else {
      // A list of named templates: take "default", else the first.
      const json& list = p.array(*it, "chat_template");
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string k = fmt::format("chat_template[{}]", i);
        const std::string name = p.str(p.need(list[i], "name", k), k + ".name");
        if (!m.chat_template || name == "default")
          m.chat_template = p.str(p.need(list[i], "template", k), k + ".template");
      }
    }
  }
}

}  // namespace

Tokenizer parse_hf_json(const std::string& json_text, const std::string& config_text,
                        const std::string& where, const std::string& config_where) {
  const json j = parse_json(json_text, where);
  Parser p(where);
  if (!j.is_object()) p.fail("(top level)", "expected an object");
  auto m = std::make_shared<Tokenizer::Impl>();
  m->byte_level = false;
  m->algo = MergeAlgo::ranks;
  parse_model(p, p.need(j, "model", ""), *m);
  for (std::size_t i = 0; i < m->pieces.size(); ++i)
    m->piece_to_id[m->pieces[i]] = static_cast<std::int32_t>(i);
  m->scores.assign(m->pieces.size(), 0.0f);

  if (auto it = j.find("added_tokens"); it != j.end() && !it->is_null())
    parse_added_tokens(p, p.array(*it, "added_tokens"), *m);
  if (auto it = j.find("normalizer"); it != j.end()) parse_normalizer(p, *it, "normalizer", *m);
  std::vector<std::string> patterns;
  if (auto it = j.find("pre_tokenizer"); it != j.end())
    parse_pre_tokenizer(p, *it, "pre_tokenizer", *m, patterns);
  m->pre = PreTokenizer(patterns);
  m->pre_name = m->pre.style();
  for (const auto& [pat, name] : known_split_patterns())
    if (patterns.size() == 1 && patterns[0] == pat) m->pre_name = name;
  if (m->pre_name.empty()) m->pre_name = "default";
  if (auto it = j.find("decoder"); it != j.end()) parse_decoder(p, *it, "decoder", *m);
  if (auto it = j.find("post_processor"); it != j.end())
    parse_post_processor(p, *it, "post_processor", *m);

  // Byte-fallback vocabularies mark their <0xXX> pieces so decode turns them into bytes.
  if (m->byte_fallback)
    for (std::size_t i = 0; i < m->pieces.size(); ++i) {
      const std::string& s = m->pieces[i];
      if (s.size() == 6 && s.starts_with("<0x") && s.back() == '>' &&
          m->types[i] == TokenType::normal)
        m->types[i] = TokenType::byte;
    }

  if (!config_text.empty()) {
    const std::string cfg_where = config_where.empty() ? "tokenizer_config.json" : config_where;
    parse_config(Parser(cfg_where), parse_json(config_text, cfg_where), *m);
  }
  m->finalize(where);
  return Tokenizer(std::move(m));
}

Tokenizer load_hf_json(const std::filesystem::path& json_path,
                       const std::filesystem::path& config) {
  std::error_code ec;
  const std::string cfg = std::filesystem::exists(config, ec) ? read_file(config) : std::string();
  return parse_hf_json(read_file(json_path), cfg, json_path.string(), config.string());
}

}  // namespace cai::tok
