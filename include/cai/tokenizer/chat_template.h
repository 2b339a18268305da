// Chat templates: turning a list of messages into the prompt text a model was trained on.
// Known templates are implemented natively (no Jinja engine); a tokenizer's Jinja source is
// recognised by its markers and mapped to one of them, and the user can override the choice.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cai {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

class ChatTemplate {
 public:
  // "chatml", "llama3", "llama2", "human-assistant" (the CAI paper's `Human:` / `Assistant:`
  // transcript). Throws cai::Error listing the known names for anything else.
  static ChatTemplate by_name(const std::string& name);
  // Recognises a Jinja template source by its markers (<|im_start|>, <|start_header_id|>,
  // [INST], ...); nullopt when it is not one cai knows.
  static std::optional<ChatTemplate> detect(const std::string& jinja_source);
  static std::vector<std::string> names();
  // The template used when a tokenizer names none cai recognises (the CAI paper's transcript).
  static constexpr const char* kDefaultName = "human-assistant";

  const std::string& name() const { return name_; }
  // The prompt text; with add_generation_prompt it ends where the assistant's reply begins.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // A conversation to be answered. When it ends with an assistant message, that message is
  // continued, not closed: `prompt` is the generation prompt after the messages before it, and
  // `prefill` the message as the template renders it, up to its content's end
  // (transformers' continue_final_message; llama.cpp's server prefills alike). Tokenise the
  // prefill on its own after the prompt, as training tokenises a given start
  // (train/data.h). Otherwise `prompt` is render(messages, true) and `prefill` is empty.
  struct Continued {
    std::string prompt, prefill;
  };
  Continued render_continued(const std::vector<ChatMessage>& messages) const;
  // Where `start`, the beginning of an assistant message's content, ends in `turn`, the text
  // that message renders to after the generation prompt: the end of its first occurrence, found
  // without the whitespace around it, which templates trim or keep (as continue_final_message
  // finds a final message). 0 for a blank start; npos when `turn` does not hold it. Inference
  // (render_continued) and training (a given start, train/data.h) cut a turn here alike.
  static std::size_t start_end(std::string_view turn, std::string_view start);
  // Text markers that end an assistant turn ("<|im_end|>", "\n\nHuman:", ...).
  const std::vector<std::string>& stop_strings() const { return stops_; }
  // The Jinja source a Jinja engine (llama.cpp's server with --jinja, transformers'
  // apply_chat_template) renders to the same text as render(); written where a model file
  // has no template of its own (GGUF export). detect() maps it back to this template.
  const std::string& jinja() const { return jinja_; }

 private:
  std::string name_;
  std::vector<std::string> stops_;
  std::string jinja_;
};

}  // namespace cai
