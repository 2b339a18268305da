// GGUF files: the header, metadata and tensor table (gguf::Reader), every tensor widened to
// F32, and the tokenizer read from the metadata, which then encodes and decodes a text.
#include "../fuzz_target.h"

#include "cai/formats/gguf.h"
#include "cai/tokenizer/tokenizer.h"

CAI_FUZZ_TARGET(gguf) {
  const auto path = cai::fuzz::write_scratch("model.gguf", cai::fuzz::as_text(data, size));
  cai::fuzz::rejecting_cleanly([&] {
    const cai::gguf::Reader r(path);
    for (const auto& [key, v] : r.metadata()) (void)v.size();
    for (const auto& t : r.tensors()) cai::fuzz::rejecting_cleanly([&] { (void)r.read_f32(t); });
    const cai::Tokenizer tok = cai::Tokenizer::from_gguf(r);
    const auto ids = tok.encode("Hello world! <s> 123 \xc3\xa9", true, true);
    (void)tok.decode(ids);
    for (const auto id : ids) (void)tok.token_bytes(id);
  });
}
