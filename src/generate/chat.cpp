#include "cai/generate/chat.h"

#include "cai/tokenizer/tokenizer.h"

namespace cai {

ChatTemplate pick_chat_template(const Tokenizer* tokenizer, const std::string& override_name,
                                const std::string& fallback) {
  if (!override_name.empty()) return ChatTemplate::by_name(override_name);
  if (tokenizer && tokenizer->chat_template_source())
    if (auto t = ChatTemplate::detect(*tokenizer->chat_template_source())) return *t;
  return ChatTemplate::by_name(fallback);
}

}  // namespace cai
