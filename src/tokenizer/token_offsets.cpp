// Token offsets in a text (see include/cai/tokenizer/token_offsets.h).
#include "cai/tokenizer/token_offsets.h"

namespace cai {

std::vector<std::size_t> token_text_offsets(const Tokenizer& tok,
                                            const std::vector<std::int32_t>& ids,
                                            std::string_view text) {
  std::vector<std::size_t> out;
  out.reserve(ids.size());
  std::size_t off = 0;
  for (const std::int32_t id : ids) {
    out.push_back(off);
    const std::string b = tok.token_bytes(id);
    const std::string_view rest = text.substr(off);
    if (rest.starts_with(b)) {
      off += b.size();
    } else if (tok.is_special(id)) {
      // Added by the encoder; the text does not hold it.
    } else if (off == 0 && b.size() > 1 && b[0] == ' ' &&
               rest.starts_with(std::string_view(b).substr(1))) {
      off += b.size() - 1;
    } else {
      off += b.size();
    }
    if (off > text.size()) off = text.size();
  }
  return out;
}

}  // namespace cai
