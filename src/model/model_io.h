// Internal pieces of the loader: each format's weight reading/writing, kept apart from the
// tokenizer so the two stay small (see loader.cpp for the public entry points).
#pragma once

#include <filesystem>

#include "cai/formats/gguf.h"
#include "cai/model/loader.h"

namespace cai::detail {

// Config + weights (no tokenizer) of a GGUF file / a Hugging Face directory.
LoadedModel load_gguf_weights(const gguf::Reader& reader);
LoadedModel load_hf_weights(const std::filesystem::path& dir);

}  // namespace cai::detail
