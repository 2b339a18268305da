#include "cai/world/text.h"

#include <cctype>

namespace cai::world {

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string capitalize(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

namespace {
bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
}  // namespace

bool contains_phrase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return false;
  const std::string h = lowercase(hay), n = lowercase(needle);
  for (std::size_t pos = h.find(n); pos != std::string::npos; pos = h.find(n, pos + 1)) {
    const bool left = pos == 0 || !is_word(h[pos - 1]) || !is_word(n.front());
    const std::size_t end = pos + n.size();
    const bool right = end == h.size() || !is_word(h[end]) || !is_word(n.back());
    if (left && right) return true;
  }
  return false;
}

std::vector<std::string> split_sentences(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (std::size_t i = 0; i < s.size(); ++i) {
    cur.push_back(s[i]);
    const bool end = s[i] == '.' || s[i] == '!' || s[i] == '?' || s[i] == '\n';
    if (end && (i + 1 == s.size() || s[i + 1] == ' ' || s[i + 1] == '\n')) {
      std::string t = trim(cur);
      if (!t.empty()) out.push_back(t);
      cur.clear();
    }
  }
  std::string t = trim(cur);
  if (!t.empty()) out.push_back(t);
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string fill(std::string_view tmpl, std::string_view key, std::string_view value) {
  std::string k(1, '{');  // built piecewise: GCC 12 warns (-Wrestrict) on "{" + key + "}"
  k.append(key);
  k.push_back('}');
  std::string out(tmpl);
  for (std::size_t pos = out.find(k); pos != std::string::npos;
       pos = out.find(k, pos + value.size()))
    out.replace(pos, k.size(), value);
  return out;
}

}  // namespace cai::world
