// PCRE2-backed pre-tokenizers and the pattern lists of the llama.cpp pre-tokenizer styles.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cai/tokenizer/pretokenizer.h"

#include <map>

#include "cai/io/error.h"

namespace cai::tok {

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// Per-thread match state: match data sized for one pair of offsets and a JIT stack large
// enough for long whitespace runs (the default 32 KiB machine stack is not).
struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* ctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
  MatchState() {
    data = pcre2_match_data_create(1, nullptr);
    ctx = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(ctx);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

// The patterns llama.cpp (commit c392e509) uses per `tokenizer.ggml.pre`.
const std::string kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const std::string kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const std::string kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const std::string kPunct = "[\\p{P}\\$\\+<=>\\^~\\|]+";

const std::map<std::string, std::vector<std::string>>& style_table() {
  static const std::map<std::string, std::vector<std::string>> t = {
      {"default", {kPunct, kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}},
      {"gpt-2", {kGpt2}},
      {"llama-bpe", {kLlama3}},
      {"qwen2", {kQwen2}},
      {"starcoder", {"\\p{N}", kGpt2}},
      {"falcon", {kPunct, kGpt2, "[0-9][0-9][0-9]"}},
  };
  return t;
}

// Other names for the same pattern lists (llama.cpp and the cai trainer's spellings).
const std::map<std::string, std::string>& style_aliases() {
  static const std::map<std::string, std::string> a = {
      {"gpt2", "gpt-2"},       {"mpt", "gpt-2"},           {"olmo", "gpt-2"},
      {"jais", "gpt-2"},       {"llama3", "llama-bpe"},    {"llama-3", "llama-bpe"},
      {"refact", "starcoder"}, {"command-r", "starcoder"}, {"smollm", "starcoder"},
  };
  return a;
}

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw_error("regex '{}': {} at offset {}", pattern, reinterpret_cast<const char*>(msg), off);
  }
  auto c = std::make_shared<Code>();
  c->code = code;
  // JIT is an optimisation only: when unavailable, pcre2_match interprets.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_ = std::move(c);
}

void Regex::split(std::string_view text, std::vector<std::string_view>& out) const {
  MatchState& st = match_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t pos = 0, gap_start = 0;
  while (pos < text.size()) {
    // NOTEMPTY: every pattern here consumes at least one character when it matches.
    const int rc =
        pcre2_match(code_->code, subject, text.size(), pos, PCRE2_NOTEMPTY, st.data, st.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw_error("regex '{}': match failed: {}", pattern_, reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
    if (ov[0] > gap_start) out.push_back(text.substr(gap_start, ov[0] - gap_start));
    out.push_back(text.substr(ov[0], ov[1] - ov[0]));
    pos = gap_start = ov[1];
  }
  if (gap_start < text.size()) out.push_back(text.substr(gap_start));
}

bool Regex::matches_at_start(std::string_view text) const {
  MatchState& st = match_state();
  const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                             PCRE2_ANCHORED, st.data, st.ctx);
  return rc >= 0;
}

PreTokenizer::PreTokenizer(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) regexes_.emplace_back(p);
}

std::optional<PreTokenizer> PreTokenizer::for_style(const std::string& style) {
  std::string name = style;
  if (auto a = style_aliases().find(name); a != style_aliases().end()) name = a->second;
  auto it = style_table().find(name);
  if (it == style_table().end()) return std::nullopt;
  // Compiling is cheap next to loading a vocabulary, but caching keeps repeated loads fast.
  static thread_local std::map<std::string, PreTokenizer> cache;
  auto c = cache.find(name);
  if (c == cache.end()) c = cache.emplace(name, PreTokenizer(it->second)).first;
  return c->second;
}

std::vector<std::string> PreTokenizer::styles() {
  std::vector<std::string> names;
  for (const auto& [k, v] : style_table()) names.push_back(k);
  for (const auto& [k, v] : style_aliases()) names.push_back(k);
  return names;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
  out.clear();
  if (text.empty()) return;
  out.push_back(text);
  std::vector<std::string_view> next;
  for (const Regex& re : regexes_) {
    next.clear();
    for (std::string_view piece : out) re.split(piece, next);
    out.swap(next);
  }
}

std::vector<std::string> PreTokenizer::patterns() const {
  std::vector<std::string> p;
  for (const Regex& re : regexes_) p.push_back(re.pattern());
  return p;
}

std::string PreTokenizer::style() const {
  const auto mine = patterns();
  for (const auto& [name, pats] : style_table())
    if (pats == mine) return name;
  return "";
}

}  // namespace cai::tok
