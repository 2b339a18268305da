// load_model: a Hugging Face directory or a GGUF file, with its tokenizer when it has one.
#include "cai/model/loader.h"

#include "cai/formats/gguf.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "model_io.h"

namespace cai {
namespace fs = std::filesystem;

LoadedModel load_model(const fs::path& path) {
  if (fs::is_directory(path)) {
    CAI_CHECK(fs::exists(path / "config.json"), "{}: not a model directory (no config.json)",
              path.string());
    LoadedModel m = detail::load_hf_weights(path);
    if (fs::exists(path / "tokenizer.json")) m.tokenizer = Tokenizer::load(path);
    return m;
  }
  CAI_CHECK(fs::exists(path), "{}: no such file or directory", path.string());
  CAI_CHECK(path.extension() == ".gguf", "{}: expected a model directory or a .gguf file",
            path.string());
  gguf::Reader r(path);
  LoadedModel m = detail::load_gguf_weights(r);
  if (r.has("tokenizer.ggml.tokens")) m.tokenizer = Tokenizer::from_gguf(r);
  return m;
}

}  // namespace cai
