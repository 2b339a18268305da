// Where each token of an encoded text starts in that text, in bytes: the `text_offset` that
// OpenAI-compatible servers report for /completions log-probs (and `cai serve` under echo),
// and the local backend's split of prompt + continuation into the prompt's tokens and the
// continuation's (Backend::loglikelihoods). One definition for both, so the two agree on
// which tokens a continuation owns; it belongs to the tokenizer both use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cai/tokenizer/tokenizer.h"

namespace cai {

// Token bytes are matched against `text` in order. A special token the encoder added (BOS)
// that the text does not hold takes no bytes; a space the encoder put in front of the text
// (SentencePiece's prefix space) is not counted; a token whose bytes differ from the text
// (normalisation) advances by its own length. Offsets are capped at text.size().
std::vector<std::size_t> token_text_offsets(const Tokenizer& tok,
                                            const std::vector<std::int32_t>& ids,
                                            std::string_view text);

}  // namespace cai
