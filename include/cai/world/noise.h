// Finishing a worded prompt: spacing and sentence case, then the light noise real patients'
// messages have (all lower case, a dropped final question mark or comma, apostrophes left
// out, a common misspelling or a slip of the finger). Text between kMarkOpen and kMarkClose
// (the entity, grammar.h) is never misspelt, so the prompt still names what it asks about.
#pragma once

#include <string>
#include <string_view>

namespace cai::world {

class Rng;

// Single spaces, no space before punctuation, trimmed; the first letter of every sentence
// upper-cased. Marks are kept.
std::string tidy_sentences(std::string_view marked);

// One or more noise operations, each drawn from `rng`; marks are kept. At least one operation
// changes the text when it has a word of four letters or more outside the marks.
std::string light_noise(std::string_view marked, Rng& rng);

}  // namespace cai::world
