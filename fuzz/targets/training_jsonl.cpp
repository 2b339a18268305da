// Training datasets in JSONL: SFT rows (messages, prompt/completion, text) and preference
// rows (prompt, chosen, rejected, p_chosen), tokenised with the fixture model's tokenizer. The
// first byte picks the dataset kind and the length options; the rest is the file.
#include "../fuzz_target.h"

#include "cai/tokenizer/chat_template.h"
#include "cai/tokenizer/tokenizer.h"
#include "cai/train/data.h"

CAI_FUZZ_TARGET(training_jsonl) {
  static const cai::Tokenizer tok = cai::Tokenizer::load(CAI_FIXTURES_DIR "/hf-model");
  static const cai::ChatTemplate tmpl = cai::ChatTemplate::by_name("chatml");
  if (size == 0) return;
  const std::uint8_t mode = data[0];
  const auto path = cai::fuzz::write_scratch("data.jsonl", cai::fuzz::as_text(data + 1, size - 1));
  cai::train::DataOptions o;
  o.max_length = 2 + (mode >> 3) * 4;  // 2 .. 126: truncation is exercised
  o.overlong = static_cast<cai::train::Overlong>((mode >> 1) % 3);
  o.add_bos = (mode & 4) != 0;
  std::int64_t dropped = 0;
  cai::fuzz::rejecting_cleanly([&] {
    if (mode & 1) {
      for (const auto& e : cai::train::load_preferences(path, tok, tmpl, o, &dropped))
        if (e.prompt.size() + std::max(e.chosen.size(), e.rejected.size()) >
            static_cast<std::size_t>(o.max_length))
          throw std::logic_error("a preference example longer than max_length was kept");
    } else {
      for (const auto& e : cai::train::load_sft(path, tok, tmpl, o, &dropped))
        if (e.seq.tokens.size() != e.seq.target.size() ||
            e.seq.tokens.size() > static_cast<std::size_t>(o.max_length))
          throw std::logic_error("an SFT example longer than max_length or with a bad mask");
    }
  });
}
