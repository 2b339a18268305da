// Import of the constitution JSON used by the Hugging Face open CAI recipe (llm-swarm's
// examples/constitutional-ai):
//
//   {"constitutions": [{"critic": "...", "revision": "..."}, ...],
//    "system_chat": [[{"role": "user", "content": "..."}, ...], ...]}
//
// What maps to what:
// - constitutions[i] becomes principle "hf-<i+1>": critic -> critique, revision -> revision,
//   weight 1, and comparison_from_critique(critic) as the judge question (the format has none).
// - system_chat is either a list of transcripts (lists of messages) or one flat list of
//   messages (the recipe's script flattens it before use). Each transcript (the flat list
//   counts as one) is kept verbatim in Constitution::system_chat as a compact JSON array.
// - Few-shot examples: a run of six messages user / assistant / user / assistant / user /
//   assistant whose third message is exactly (ignoring surrounding whitespace) the critic of
//   a principle is the recipe's critique/revision shape, and becomes a few_shot example
//   {prompt, response, critique, revision, principle}. A nested transcript maps only when it
//   is exactly those six messages (a longer conversation would lose its earlier turns); a flat
//   list is scanned for such runs. Everything else stays in system_chat only.
// Errors name the file and the JSON pointer of the offending value.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/json.h"
#include "internal.h"

namespace cai::detail {
namespace {

using nlohmann::json;

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const auto b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

struct Message {
  std::string role, content;
};

class HfReader {
 public:
  explicit HfReader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& pointer, const std::string& problem) const {
    throw_error("{}: {}: {}", source_, pointer.empty() ? "/" : pointer, problem);
  }

  void only_keys(const json& obj, const std::string& ptr, std::initializer_list<const char*> keys) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool ok = false;
      for (const char* k : keys) ok = ok || it.key() == k;
      if (!ok) {
        std::string allowed;
        for (const char* k : keys) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
        fail(ptr + "/" + it.key(), fmt::format("unknown key (allowed: {})", allowed));
      }
    }
  }

  std::string text(const json& obj, const std::string& ptr, const char* key) {
    const std::string at = ptr + "/" + key;
    if (!obj.contains(key)) fail(at, "missing required field");
    const json& v = obj.at(key);
    if (!v.is_string()) fail(at, fmt::format("must be a string, not {}", v.type_name()));
    std::string s = v.get<std::string>();
    if (blank(s)) fail(at, "must be a non-empty string");
    return s;
  }

  Message message(const json& m, const std::string& ptr) {
    if (!m.is_object()) fail(ptr, "a message must be an object with role and content");
    only_keys(m, ptr, {"role", "content"});
    Message out{text(m, ptr, "role"), ""};
    if (out.role != "user" && out.role != "assistant" && out.role != "system")
      fail(ptr + "/role", fmt::format("'{}' is not user, assistant or system", out.role));
    // An empty content is legal in a chat, so only its type is checked.
    if (!m.contains("content") || !m.at("content").is_string())
      fail(ptr + "/content", "must be a string");
    out.content = m.at("content").get<std::string>();
    return out;
  }

  std::vector<Message> transcript(const json& list, const std::string& ptr) {
    std::vector<Message> out;
    for (std::size_t i = 0; i < list.size(); ++i)
      out.push_back(message(list[i], fmt::format("{}/{}", ptr, i)));
    return out;
  }

  // The recipe's critique/revision shape starting at msgs[i], if it is there.
  bool few_shot_at(const std::vector<Message>& msgs, std::size_t i, const Constitution& c,
                   FewShotExample& out) const {
    if (i + 6 > msgs.size()) return false;
    for (std::size_t k = 0; k < 6; ++k)
      if (msgs[i + k].role != (k % 2 == 0 ? "user" : "assistant")) return false;
    const std::string request = trim(msgs[i + 2].content);
    for (const Principle& p : c.principles) {
      if (trim(p.critique_request) != request) continue;
      out = {trim(msgs[i].content), trim(msgs[i + 1].content), trim(msgs[i + 3].content),
             trim(msgs[i + 5].content), p.name};
      return !blank(out.prompt) && !blank(out.response) && !blank(out.critique) &&
             !blank(out.revision);
    }
    return false;
  }

  static std::string dump(const std::vector<Message>& msgs) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const Message& m : msgs) arr.push_back({{"role", m.role}, {"content", m.content}});
    return arr.dump();
  }

  Constitution read(const json& root) {
    if (!root.is_object()) fail("", "must be a JSON object with \"constitutions\"");
    only_keys(root, "", {"constitutions", "system_chat"});
    if (!root.contains("constitutions")) fail("/constitutions", "missing required field");
    const json& list = root.at("constitutions");
    if (!list.is_array() || list.empty())
      fail("/constitutions", "must be a non-empty list of {critic, revision} objects");

    Constitution c;
    c.name = default_name(source_);
    c.description = "Imported from a Hugging Face open CAI recipe constitution.";
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string ptr = fmt::format("/constitutions/{}", i);
      if (!list[i].is_object()) fail(ptr, "must be an object with critic and revision");
      only_keys(list[i], ptr, {"critic", "revision"});
      Principle p;
      p.name = fmt::format("hf-{}", i + 1);
      p.critique_request = text(list[i], ptr, "critic");
      p.revision_request = text(list[i], ptr, "revision");
      p.comparison_question = comparison_from_critique(p.critique_request);
      c.principles.push_back(std::move(p));
    }

    if (!root.contains("system_chat") || root.at("system_chat").is_null()) return c;
    const json& chat = root.at("system_chat");
    if (!chat.is_array()) fail("/system_chat", "must be a list of transcripts or of messages");
    const bool nested = !chat.empty() && chat[0].is_array();
    if (!nested) {  // one flat list of messages: scan it for critique/revision runs
      const auto msgs = transcript(chat, "/system_chat");
      if (!msgs.empty()) c.system_chat.push_back(dump(msgs));
      FewShotExample e;
      for (std::size_t i = 0; i < msgs.size();) {
        if (few_shot_at(msgs, i, c, e)) {
          c.few_shot.push_back(e);
          i += 6;
        } else {
          ++i;
        }
      }
      return c;
    }
    for (std::size_t t = 0; t < chat.size(); ++t) {
      const std::string ptr = fmt::format("/system_chat/{}", t);
      if (!chat[t].is_array())
        fail(ptr, "must be a list of messages (the other entries are lists)");
      const auto msgs = transcript(chat[t], ptr);
      c.system_chat.push_back(dump(msgs));
      FewShotExample e;
      if (msgs.size() == 6 && few_shot_at(msgs, 0, c, e)) c.few_shot.push_back(e);
    }
    return c;
  }

 private:
  std::string source_;
};

}  // namespace

Constitution parse_hf_constitution(const std::string& text, const std::string& source) {
  const json root = parse_json(text, source);
  Constitution c = HfReader(source).read(root);
  validate_constitution(c, source, nullptr);
  return c;
}

}  // namespace cai::detail
