// Native renderings of the chat formats cai knows. Special-token text such as
// "<|im_start|>" is written literally: encode the prompt with parse_special = true.
// A leading BOS is never written; encode with add_special = true adds it when the tokenizer's
// configuration says so (as llama.cpp's llama_chat_apply_template does).
#include "cai/tokenizer/chat_template.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cai/io/error.h"

namespace cai {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\n\r");
  return s.substr(b, e - b + 1);
}

// <|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n
std::string render_chatml(const std::vector<ChatMessage>& msgs, bool gen) {
  std::string out;
  for (const auto& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

// <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> (content trimmed, as the
// Llama 3 template does).
std::string render_llama3(const std::vector<ChatMessage>& msgs, bool gen) {
  std::string out;
  for (const auto& m : msgs)
    out +=
        "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// [INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] assistant </s><s>[INST] user [/INST]
std::string render_llama2(const std::vector<ChatMessage>& msgs, bool /*gen*/) {
  std::string out, system;
  bool first_user = true;
  for (const auto& m : msgs) {
    if (m.role == "system") {
      system = m.content;
    } else if (m.role == "user") {
      if (!first_user) out += "<s>";
      out += "[INST] ";
      if (!system.empty()) {
        out += "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
        system.clear();
      }
      out += trim(m.content) + " [/INST]";
      first_user = false;
    } else {
      out += ' ';
      out += trim(m.content);
      out += " </s>";
    }
  }
  // The reply follows "[/INST]" directly, so the generation prompt adds nothing.
  return out;
}

// The Constitutional AI paper's transcript: "Human: ...\n\nAssistant: ..."; a system message
// is a preamble paragraph. The generation prompt ends in "Assistant:" (the reply starts with
// its own space).
std::string render_human_assistant(const std::vector<ChatMessage>& msgs, bool gen) {
  std::string out;
  for (const auto& m : msgs) {
    if (!out.empty()) out += "\n\n";
    if (m.role == "system")
      out += m.content;
    else if (m.role == "user")
      out += "Human: " + m.content;
    else
      out += "Assistant: " + m.content;
  }
  if (gen) out += out.empty() ? "Assistant:" : "\n\nAssistant:";
  return out;
}

// The Jinja source of each native rendering, for files other tools read (GGUF's
// tokenizer.chat_template, tokenizer_config.json): rendered by a Jinja engine (llama.cpp's
// server with --jinja, transformers' apply_chat_template) they give the same text as
// render(). Every tag trims the whitespace around it and all text comes from expressions,
// so trim_blocks / lstrip_blocks settings do not change the result.
constexpr const char* kChatmlJinja =
    "{%- for message in messages -%}\n"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}\n";

constexpr const char* kLlama3Jinja =
    "{%- for message in messages -%}\n"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
    "(message['content'] | trim) + '<|eot_id|>' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif -%}\n";

constexpr const char* kLlama2Jinja =
    "{%- set ns = namespace(system='', first=true) -%}\n"
    "{%- for message in messages -%}\n"
    "{%- if message['role'] == 'system' -%}\n"
    "{%- set ns.system = message['content'] -%}\n"
    "{%- elif message['role'] == 'user' -%}\n"
    "{%- if not ns.first -%}{{ '<s>' }}{%- endif -%}\n"
    "{{ '[INST] ' }}\n"
    "{%- if ns.system != '' -%}\n"
    "{{ '<<SYS>>\\n' + ns.system + '\\n<</SYS>>\\n\\n' }}\n"
    "{%- set ns.system = '' -%}\n"
    "{%- endif -%}\n"
    "{{ (message['content'] | trim) + ' [/INST]' }}\n"
    "{%- set ns.first = false -%}\n"
    "{%- else -%}\n"
    "{{ ' ' + (message['content'] | trim) + ' </s>' }}\n"
    "{%- endif -%}\n"
    "{%- endfor -%}\n";

constexpr const char* kHumanAssistantJinja =
    "{%- set ns = namespace(started=false) -%}\n"
    "{%- for message in messages -%}\n"
    "{%- if ns.started -%}{{ '\\n\\n' }}{%- endif -%}\n"
    "{%- if message['role'] == 'system' -%}\n"
    "{{ message['content'] }}\n"
    "{%- if message['content'] != '' -%}{%- set ns.started = true -%}{%- endif -%}\n"
    "{%- elif message['role'] == 'user' -%}\n"
    "{{ 'Human: ' + message['content'] }}{%- set ns.started = true -%}\n"
    "{%- else -%}\n"
    "{{ 'Assistant: ' + message['content'] }}{%- set ns.started = true -%}\n"
    "{%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "{%- if ns.started -%}{{ '\\n\\n' }}{%- endif -%}{{ 'Assistant:' }}\n"
    "{%- endif -%}\n";

struct Known {
  const char* name;
  std::vector<std::string> stops;
  const char* jinja;
};

const std::vector<Known>& known() {
  static const std::vector<Known> k = {
      {"chatml", {"<|im_end|>"}, kChatmlJinja},
      {"llama3", {"<|eot_id|>"}, kLlama3Jinja},
      {"llama2", {"</s>", "[INST]"}, kLlama2Jinja},
      {"human-assistant", {"\n\nHuman:"}, kHumanAssistantJinja},
  };
  return k;
}

}  // namespace

ChatTemplate ChatTemplate::by_name(const std::string& name) {
  for (const auto& k : known()) {
    if (name == k.name) {
      ChatTemplate t;
      t.name_ = k.name;
      t.stops_ = k.stops;
      t.jinja_ = k.jinja;
      return t;
    }
  }
  throw_error("unknown chat template '{}' (known: {})", name, fmt::join(names(), ", "));
}

std::optional<ChatTemplate> ChatTemplate::detect(const std::string& src) {
  auto has = [&](const char* s) { return src.find(s) != std::string::npos; };
  if (has("<|im_start|>")) return by_name("chatml");
  if (has("<|start_header_id|>")) return by_name("llama3");
  if (has("[INST]")) return by_name("llama2");
  if (has("Human:") && has("Assistant:")) return by_name("human-assistant");
  return std::nullopt;
}

std::vector<std::string> ChatTemplate::names() {
  std::vector<std::string> n;
  for (const auto& k : known()) n.push_back(k.name);
  return n;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& r = messages[i].role;
    CAI_CHECK(r == "system" || r == "user" || r == "assistant",
              "chat message {}: role '{}' is not system, user or assistant", i, r);
  }
  if (name_ == "chatml") return render_chatml(messages, add_generation_prompt);
  if (name_ == "llama3") return render_llama3(messages, add_generation_prompt);
  if (name_ == "llama2") return render_llama2(messages, add_generation_prompt);
  return render_human_assistant(messages, add_generation_prompt);
}

std::size_t ChatTemplate::start_end(std::string_view turn, std::string_view start) {
  const auto first = start.find_first_not_of(" \t\n");
  if (first == std::string_view::npos) return 0;
  const auto core = start.substr(first, start.find_last_not_of(" \t\n") - first + 1);
  const auto at = turn.find(core);
  return at == std::string_view::npos ? at : at + core.size();
}

ChatTemplate::Continued ChatTemplate::render_continued(
    const std::vector<ChatMessage>& messages) const {
  if (messages.empty() || messages.back().role != "assistant") return {render(messages, true), ""};
  const std::vector<ChatMessage> before(messages.begin(), messages.end() - 1);
  Continued c{render(before, true), ""};
  const std::string full = render(messages, false);
  CAI_CHECK(full.starts_with(c.prompt),
            "chat template {}: rendering the final assistant message changes the text before "
            "it; it cannot be continued",
            name_);
  const std::string turn = full.substr(c.prompt.size());
  const std::size_t end = start_end(turn, messages.back().content);
  CAI_CHECK(end != std::string::npos,
            "chat template {}: the rendering of the final assistant message does not hold its "
            "content, so it cannot be continued",
            name_);
  c.prefill = turn.substr(0, end);
  return c;
}

}  // namespace cai
