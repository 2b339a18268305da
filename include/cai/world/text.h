// Small text helpers shared by the world generator and its oracle (ASCII only: the world's
// text is ASCII by construction, and responses are compared case-insensitively).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cai::world {

std::string lowercase(std::string_view s);
std::string capitalize(std::string s);  // first letter upper-cased
// True when `needle` occurs in `hay` ignoring case, starting and ending at word boundaries
// (so "ice packs" is not found inside "practice packs").
bool contains_phrase(std::string_view hay, std::string_view needle);
// Sentences split after '.', '!' or '?' followed by a space or the end ("Dr." and decimal
// points are not at a space, so "Dr. Reyes" splits; that is good enough for the oracle's
// "first sentence" rule because generated and model text rarely use abbreviations).
std::vector<std::string> split_sentences(std::string_view s);
std::string trim(std::string_view s);
// Replaces every "{key}" in `tmpl` by `value`.
std::string fill(std::string_view tmpl, std::string_view key, std::string_view value);

}  // namespace cai::world
