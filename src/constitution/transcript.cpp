#include "cai/constitution/transcript.h"

#include <cctype>

namespace cai::transcript {

namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out += p;
  return out;
}
}  // namespace

std::string conversation_prompt(std::string_view prompt) {
  return cat({"Human: ", prompt, "\n\nAssistant:"});
}

std::string conversation(std::string_view prompt, std::string_view response) {
  return cat({"Human: ", prompt, "\n\nAssistant: ", response});
}

std::string critique_prompt(std::string_view prompt, std::string_view response,
                            std::string_view critique_request) {
  return cat(
      {conversation(prompt, response), "\n\nCritiqueRequest: ", critique_request, "\n\nCritique:"});
}

std::string critique_text(bool follows, std::string_view reason) {
  return cat({follows ? kFollowsVerdict : kViolatesVerdict, " ", reason});
}

std::string critique_example(std::string_view prompt, std::string_view response,
                             std::string_view critique_request, std::string_view critique) {
  return cat({critique_prompt(prompt, response, critique_request), " ", critique});
}

std::optional<bool> parse_critique_verdict(std::string_view critique) {
  const std::string t = trim(critique);
  if (t.rfind(kFollowsVerdict, 0) == 0) return true;
  if (t.rfind(kViolatesVerdict, 0) == 0) return false;
  return std::nullopt;
}

std::vector<std::string> critique_verdict_options() {
  return {cat({" ", kFollowsVerdict}), cat({" ", kViolatesVerdict})};
}

std::string revision_prompt(std::string_view critique_example, std::string_view revision_request) {
  return cat({critique_example, "\n\nRevisionRequest: ", revision_request, "\n\nRevision:"});
}

std::string revision_example(std::string_view critique_example, std::string_view revision_request,
                             std::string_view revised) {
  return cat({revision_prompt(critique_example, revision_request), " ", revised});
}

std::string escape_response(std::string_view response) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(response.size());
  for (std::size_t i = 0; i < response.size(); ++i) {
    const char c = response[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else if (c == '(' && (response.substr(i + 1, 2) == "A)" ||
                            response.substr(i + 1, 2) == "B)")) {
      out += "\\u0028";  // an option marker inside a response is not an answer
    } else {
      out += c;
    }
  }
  return out;
}

std::string quote_response(std::string_view response) {
  std::string out(1, '"');  // appended, not "\"" + ...: GCC 12 warns falsely on that form
  out += escape_response(response);
  out += '"';
  return out;
}

std::string comparison_prompt(std::string_view prompt, std::string_view response_a,
                              std::string_view response_b, std::string_view question) {
  return cat({"Human: ", prompt, "\n\nConsider the following two responses.\n\n(A) ",
              escape_response(response_a), "\n\n(B) ", escape_response(response_b),
              "\n\nQuestion: ", question, "\n\nThe answer is:"});
}

std::string comparison_example(std::string_view prompt, std::string_view response_a,
                               std::string_view response_b, std::string_view question,
                               bool a_better) {
  return comparison_prompt(prompt, response_a, response_b, question) +
         std::string(a_better ? kOptionA : kOptionB);
}

std::string first_turn(std::string_view continuation) {
  const std::size_t cut = continuation.find("\n\n");
  return trim(continuation.substr(0, cut));
}

}  // namespace cai::transcript
