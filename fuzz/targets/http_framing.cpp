// Where `cai serve` finds the end of a request in the bytes a connection receives: the input
// arrives in pieces whose sizes the first byte sets, and the framing must come out the same
// as when it arrives at once, never past the bytes received.
#include "../fuzz_target.h"

#include <stdexcept>

#include "../../src/serve/request_framing.h"

CAI_FUZZ_TARGET(http_framing) {
  if (size == 0) return;
  const std::size_t step = 1 + data[0] % 64;
  const std::string_view in = cai::fuzz::as_text(data + 1, size - 1);
  using F = cai::serve::RequestFramer;
  F whole(1024, 4096), pieces(1024, 4096);
  const F::State all = whole.scan(in);
  F::State st = F::State::incomplete;
  for (std::size_t n = 0; n <= in.size() && st == F::State::incomplete;
       n = n == in.size() ? n + 1 : std::min(in.size(), n + step))
    st = pieces.scan(in.substr(0, n));
  if (st != all) throw std::logic_error("framing in pieces differs from framing at once");
  if (all == F::State::complete &&
      (whole.request_bytes() != pieces.request_bytes() || whole.request_bytes() > in.size() ||
       whole.header_bytes() > whole.request_bytes()))
    throw std::logic_error("a complete request's size is wrong");
}
