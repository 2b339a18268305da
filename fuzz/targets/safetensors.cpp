// A safetensors file: its JSON header against the file (offsets, dtypes, shapes) and every
// tensor widened to F32.
#include "../fuzz_target.h"

#include "cai/formats/safetensors.h"

CAI_FUZZ_TARGET(safetensors) {
  const auto path = cai::fuzz::write_scratch("model.safetensors", cai::fuzz::as_text(data, size));
  cai::fuzz::rejecting_cleanly([&] {
    const cai::safetensors::File f(path);
    for (const auto& [k, v] : f.metadata()) (void)v;
    for (const auto& t : f.tensors())
      cai::fuzz::rejecting_cleanly([&] { (void)f.read_f32(t.name); });
  });
}
