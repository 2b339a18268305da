// Request bodies of `cai serve` (/v1/completions when the first byte is even, else
// /v1/chat/completions), parsed and checked field by field.
#include "../fuzz_target.h"

#include "cai/serve/protocol.h"

CAI_FUZZ_TARGET(serve_request) {
  if (size == 0) return;
  const auto ep = data[0] % 2 ? cai::serve::Endpoint::chat : cai::serve::Endpoint::completions;
  const std::string body(cai::fuzz::as_text(data + 1, size - 1));
  cai::fuzz::rejecting_cleanly([&] { (void)cai::serve::parse_request(body, ep, 20); });
}
