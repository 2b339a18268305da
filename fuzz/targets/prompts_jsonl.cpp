// Prompt files of Phase 1 and Phase 2: JSONL ({"prompt"} or {"id", "prompt"}) or one prompt
// per line.
#include "../fuzz_target.h"

#include "cai/pipeline/common.h"

CAI_FUZZ_TARGET(prompts_jsonl) {
  const auto path = cai::fuzz::write_scratch("prompts.jsonl", cai::fuzz::as_text(data, size));
  cai::fuzz::rejecting_cleanly([&] { (void)cai::pipeline::read_prompts(path); });
}
