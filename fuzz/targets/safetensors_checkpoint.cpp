// A sharded safetensors checkpoint: the input is model.safetensors.index.json, a NUL byte,
// then the one shard the seeds' index names (model-00001-of-00001.safetensors).
#include "../fuzz_target.h"

#include <filesystem>

#include "cai/formats/safetensors.h"

CAI_FUZZ_TARGET(safetensors_checkpoint) {
  const auto [index, shard] = cai::fuzz::split_at_nul(cai::fuzz::as_text(data, size));
  const auto dir = cai::fuzz::scratch_dir() / "checkpoint";
  std::filesystem::create_directories(dir);
  cai::fuzz::write_scratch("checkpoint/model.safetensors.index.json", index);
  cai::fuzz::write_scratch("checkpoint/model-00001-of-00001.safetensors", shard);
  cai::fuzz::rejecting_cleanly([&] {
    const cai::safetensors::Checkpoint c(dir);
    for (const auto& name : c.names()) {
      (void)c.info(name);
      (void)c.file_of(name);
      cai::fuzz::rejecting_cleanly([&] { (void)c.read_f32(name); });
    }
  });
}
