#include "cai/world/noise.h"

#include <cctype>
#include <map>
#include <vector>

#include "cai/world/grammar.h"
#include "cai/world/rng.h"

namespace cai::world {
namespace {

bool is_punct(char c) { return c == '.' || c == ',' || c == '?' || c == '!' || c == ':'; }
bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Misspellings people make in messages like these (the word, lower case -> variants).
const std::map<std::string, std::vector<std::string>>& misspellings() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"appointment", {"appointmnet", "apointment", "appt"}},
      {"tomorrow", {"tommorow", "tomorow", "tmrw"}},
      {"schedule", {"schedual", "shedule"}},
      {"insurance", {"insurence", "insurace"}},
      {"results", {"resluts", "reults"}},
      {"available", {"availible", "avaliable"}},
      {"because", {"becuase", "bc"}},
      {"wondering", {"wonderng", "wonering"}},
      {"should", {"shoud", "shold"}},
      {"please", {"pls", "plz", "plese"}},
      {"thanks", {"thx", "thanx"}},
      {"you", {"u", "yuo"}},
      {"your", {"ur", "yuor"}},
      {"doctor", {"docter", "dr"}},
      {"know", {"kno", "konw"}},
      {"cancel", {"cancle", "cancell"}},
      {"prepare", {"prepair", "perpare"}},
      {"before", {"befor", "beofre"}},
      {"where", {"were", "wher"}},
      {"what", {"waht", "wat"}},
      {"there", {"their", "thre"}},
      {"anything", {"anythng", "anyting"}},
      {"clinic", {"clinc", "clinik"}},
      {"information", {"infomation", "info"}},
      {"records", {"recrods", "recods"}},
      {"through", {"thru", "throught"}},
      {"really", {"realy", "rly"}},
      {"right", {"rite", "rigth"}},
      {"question", {"qestion", "quesiton"}},
      {"minutes", {"mins", "minuets"}},
      {"something", {"somthing", "smth"}},
      {"pick", {"pik", "pcik"}},
  };
  return m;
}

struct Word {
  std::size_t begin, end;
};

// Words of letters (and apostrophes inside) outside the marks.
std::vector<Word> words(const std::string& s) {
  std::vector<Word> out;
  bool marked = false;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == kMarkOpen) marked = true;
    if (s[i] == kMarkClose) marked = false;
    if (marked || !is_letter(s[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() &&
           (is_letter(s[j]) || (s[j] == '\'' && j + 1 < s.size() && is_letter(s[j + 1]))))
      ++j;
    out.push_back({i, j});
    i = j;
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One misspelling: a known one when the word has it, else a slip (two letters swapped, one
// dropped or doubled) inside a word of at least four letters. False when no word qualifies.
bool typo(std::string& s, Rng& rng) {
  std::vector<Word> can;
  for (const Word& w : words(s)) {
    const std::string lw = lower(s.substr(w.begin, w.end - w.begin));
    const bool plain = lw.find('\'') == std::string::npos;
    if (misspellings().count(lw) || (plain && w.end - w.begin >= 4)) can.push_back(w);
  }
  if (can.empty()) return false;
  const Word w = can[rng.below(can.size())];
  std::string word = s.substr(w.begin, w.end - w.begin);
  auto it = misspellings().find(lower(word));
  const bool slip = rng.chance(0.3) && word.size() >= 4;
  if (it != misspellings().end() && !slip) {
    std::string v = rng.pick(it->second);
    if (std::isupper(static_cast<unsigned char>(word[0])))
      v[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(v[0])));
    word = v;
  } else {
    const std::size_t at = 1 + rng.below(word.size() - 2);  // never the first letter
    switch (rng.below(3)) {
      case 0:
        if (word[at] != word[at + 1]) {
          std::swap(word[at], word[at + 1]);
          break;
        }
        [[fallthrough]];  // swapping equal letters would change nothing
      case 1:
        word.erase(at, 1);
        break;
      default:
        word.insert(at, 1, word[at]);
    }
  }
  s.replace(w.begin, w.end - w.begin, word);
  return true;
}

}  // namespace

std::string tidy_sentences(std::string_view marked) {
  std::string s;
  for (char c : marked) {
    if (c == ' ' && (s.empty() || s.back() == ' ')) continue;
    if (is_punct(c) && !s.empty() && s.back() == ' ') s.pop_back();
    s.push_back(c);
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  bool start = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (is_letter(c) && start) {
      s[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      start = false;
    } else if (c == '.' || c == '?' || c == '!') {
      start = true;
    } else if (c != ' ' && c != kMarkOpen && c != kMarkClose && c != '"') {
      start = false;
    }
  }
  return s;
}

std::string light_noise(std::string_view marked, Rng& rng) {
  std::string s(marked);
  // Every operation is drawn, used or not, so one choice never shifts the others.
  const bool all_lower = rng.chance(0.4), drop_end = rng.chance(0.4),
             no_apostrophes = rng.chance(0.25), no_commas = rng.chance(0.25);
  const int typos = rng.chance(0.5) ? (rng.chance(0.3) ? 2 : 1) : 0;
  if (all_lower) s = lower(s);
  if (drop_end)
    while (!s.empty() && (s.back() == '?' || s.back() == '.' || s.back() == '!')) s.pop_back();
  if (no_apostrophes || no_commas) {
    std::string t;
    bool in_mark = false;
    for (char c : s) {
      if (c == kMarkOpen) in_mark = true;
      if (c == kMarkClose) in_mark = false;
      if (!in_mark && ((no_apostrophes && c == '\'') || (no_commas && c == ','))) continue;
      t.push_back(c);
    }
    s = std::move(t);
  }
  for (int i = 0; i < typos; ++i) typo(s, rng);
  // Noise that happened to change nothing (no comma to drop, a slip undone by the next) gets
  // one more slip.
  for (int i = 0; i < 8 && s == marked; ++i) typo(s, rng);
  return s;
}

}  // namespace cai::world
