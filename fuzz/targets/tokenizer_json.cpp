// A Hugging Face tokenizer: tokenizer.json, a NUL byte, then tokenizer_config.json (may be
// empty). A tokenizer that loads encodes and decodes texts with special tokens in them.
#include "../fuzz_target.h"

#include "cai/tokenizer/load.h"
#include "cai/tokenizer/tokenizer.h"

CAI_FUZZ_TARGET(tokenizer_json) {
  // Plain variables: clang 14 cannot capture a structured binding in a lambda.
  const auto parts = cai::fuzz::split_at_nul(cai::fuzz::as_text(data, size));
  const std::string json(parts.first), config(parts.second);
  cai::fuzz::rejecting_cleanly([&] {
    const cai::Tokenizer tok =
        cai::tok::parse_hf_json(json, config, "tokenizer.json", "tokenizer_config.json");
    for (const char* text : {"Hello, world!  It's 2024.\n", "<|im_start|>user\nhi<|im_end|>",
                             "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 \xff\xfe", ""}) {
      const auto ids = tok.encode(text, true, true);
      (void)tok.decode(ids);
      (void)tok.decode(ids, true);
      for (const auto id : ids) (void)tok.token_bytes(id);
    }
    (void)tok.stop_ids();
  });
}
