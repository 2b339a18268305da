// The Hugging Face open CAI recipe's constitution JSON. An import that succeeds must survive
// the round trip through cai's YAML.
#include "../fuzz_target.h"

#include <stdexcept>

#include "../../src/constitution/internal.h"
#include "cai/constitution/constitution.h"

CAI_FUZZ_TARGET(hf_recipe) {
  const std::string text(cai::fuzz::as_text(data, size));
  cai::Constitution c;
  try {
    c = cai::detail::parse_hf_constitution(text, "fuzz.json");
  } catch (const cai::Error&) {
    return;
  }
  const cai::Constitution back = cai::parse_constitution(cai::to_yaml(c), "fuzz.yaml");
  if (!(back == c)) throw std::logic_error("the YAML round trip changed the imported constitution");
}
