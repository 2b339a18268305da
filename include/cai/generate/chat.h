// Which chat template a prompt gets: the user's choice when given, else the one the
// tokenizer's configuration names (when cai knows it), else a documented fallback.
#pragma once

#include <string>

#include "cai/tokenizer/chat_template.h"

namespace cai {

class Tokenizer;

// `override_name` (non-empty) wins; then ChatTemplate::detect on the tokenizer's chat template
// source; then `fallback` (the CAI paper's Human:/Assistant: transcript by default).
ChatTemplate pick_chat_template(const Tokenizer* tokenizer, const std::string& override_name = "",
                                const std::string& fallback = ChatTemplate::kDefaultName);

}  // namespace cai
