// Private pieces of the dataset loaders shared by data.cpp and data_load.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cai/train/data.h"

namespace cai::train::detail {

// The conversation rendered with `tmpl` and tokenised segment by segment (see data.h); only
// assistant messages at index >= first_target are targets.
TokenizedSequence tokenize_messages(const std::vector<ChatMessage>& messages,
                                    std::size_t first_target, const Tokenizer& tok,
                                    const ChatTemplate& tmpl, bool add_bos);

// [BOS] when `add_bos` and the tokenizer's configuration adds one, else empty.
std::vector<std::int32_t> bos_prefix(const Tokenizer& tok, bool add_bos);

// Drops masked tokens after the last target (they cannot change the loss).
void trim_trailing_masked(TokenizedSequence& seq);

}  // namespace cai::train::detail
