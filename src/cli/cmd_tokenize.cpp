// `cai tokenize MODEL [TEXT]`: text -> token ids (or ids -> text with --detokenize) with the
// tokenizer of a model directory, a tokenizer.json or a .gguf file.
#include <cstdio>
#include <sstream>

#include <unistd.h>

#include "cai/io/error.h"
#include "cai/tokenizer/tokenizer.h"
#include "cai/tokenizer/unicode.h"
#include "command.h"

namespace cai::cli {
namespace cmd_tokenize {

struct TokenizeFlags {
  std::string model;
  std::string text;
  std::string file;
  bool tokens = false;
  bool detokenize = false;
  bool add_special = false;
  bool parse_special = false;
};

// Token bytes shown on one line: control characters and invalid UTF-8 as escapes.
std::string printable(const std::string& bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t start = i;
    const std::uint32_t cp = tok::next_codepoint(bytes, i);
    const bool invalid = cp == 0xFFFD && i - start != 3;
    if (cp == '\n')
      out += "\\n";
    else if (cp == '\t')
      out += "\\t";
    else if (cp == '\r')
      out += "\\r";
    else if (cp == '\\')
      out += "\\\\";
    else if (invalid || cp < 0x20 || cp == 0x7F)
      for (std::size_t k = start; k < i; ++k)
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(bytes[k]));
    else
      out.append(bytes, start, i - start);
  }
  return out;
}

std::vector<std::int32_t> parse_ids(const std::string& text) {
  std::string s = text;
  for (char& c : s)
    if (c == ',' || c == '[' || c == ']') c = ' ';
  std::istringstream in(s);
  std::vector<std::int32_t> ids;
  std::string word;
  while (in >> word) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    CAI_CHECK(used == word.size(), "--detokenize: '{}' is not a token id", word);
    ids.push_back(static_cast<std::int32_t>(v));
  }
  return ids;
}

void run(const TokenizeFlags& f) {
  const Tokenizer tok = Tokenizer::load(f.model);
  CAI_CHECK(f.text.empty() || f.file.empty(), "give TEXT or --file, not both");
  const std::string input = !f.text.empty() ? f.text : read_input(f.file.empty() ? "-" : f.file);
  if (f.detokenize) {
    const std::string out = tok.decode(parse_ids(input), /*skip_special=*/false);
    std::fwrite(out.data(), 1, out.size(), stdout);
    // A newline for the terminal only: piped output is exactly the decoded bytes.
    if (isatty(fileno(stdout))) std::fputc('\n', stdout);
    return;
  }
  const auto ids = tok.encode(input, f.add_special, f.parse_special);
  if (f.tokens) {
    for (auto id : ids) std::printf("%d\t%s\n", id, printable(tok.token_bytes(id)).c_str());
    return;
  }
  std::string line;
  for (std::size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::printf("%s\n", line.c_str());
}

const Registrar reg(20, [](CLI::App& root) {
  auto f = std::make_shared<TokenizeFlags>();
  CLI::App* cmd =
      root.add_subcommand("tokenize", "Tokenize text (or detokenize ids) with a model's tokenizer");
  cmd->add_option("MODEL", f->model, "Model directory, tokenizer.json or .gguf file")->required();
  cmd->add_option("TEXT", f->text, "Text to tokenize (default: --file, else stdin)");
  cmd->add_option("--file", f->file, "Read the text from this file ('-' for stdin)");
  cmd->add_flag("--tokens", f->tokens, "Print one token per line: id and its text");
  cmd->add_flag("--detokenize", f->detokenize,
                "Input is token ids (space or comma separated); print the text");
  cmd->add_flag("--add-special", f->add_special, "Add BOS/EOS as the tokenizer's config says");
  cmd->add_flag("--parse-special", f->parse_special,
                "Recognise special tokens written in the text (<|im_end|>, ...)");
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_tokenize
}  // namespace cai::cli
