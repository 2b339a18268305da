// A constitution in YAML. One that parses must survive the round trip: written back as YAML
// (to_yaml) and read again, it is the same constitution.
#include "../fuzz_target.h"

#include <stdexcept>

#include "cai/constitution/constitution.h"

CAI_FUZZ_TARGET(constitution_yaml) {
  const std::string text(cai::fuzz::as_text(data, size));
  cai::Constitution c;
  try {
    c = cai::parse_constitution(text, "fuzz.yaml");
  } catch (const cai::Error&) {
    return;
  }
  const cai::Constitution back = cai::parse_constitution(cai::to_yaml(c), "fuzz.yaml");
  if (!(back == c)) throw std::logic_error("the YAML round trip changed the constitution");
}
