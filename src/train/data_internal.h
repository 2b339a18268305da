// Private pieces of the dataset loaders shared by data.cpp and data_load.cpp.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cai/train/data.h"

namespace cai::train::detail {

// The conversation rendered with `tmpl` and tokenised segment by segment (see data.h); only
// assistant messages at index >= first_target are targets. The first `given_bytes` bytes of
// message first_target's content (an assistant message) are a given start: tokenised on their
// own after the generation prompt, masked, and their tokens counted in
// TokenizedSequence::continued.
TokenizedSequence tokenize_messages(const std::vector<ChatMessage>& messages,
                                    std::size_t first_target, const Tokenizer& tok,
                                    const ChatTemplate& tmpl, bool add_bos,
                                    std::size_t given_bytes = 0);

// A JSON list of {"role", "content"} messages; errors name `where` and field `name`.
std::vector<ChatMessage> parse_messages(const nlohmann::json& j, const std::string& name,
                                        const std::string& where, bool allow_empty);

// [BOS] when `add_bos` and the tokenizer's configuration adds one, else empty.
std::vector<std::int32_t> bos_prefix(const Tokenizer& tok, bool add_bos);

// Drops masked tokens after the last target (they cannot change the loss).
void trim_trailing_masked(TokenizedSequence& seq);

}  // namespace cai::train::detail
