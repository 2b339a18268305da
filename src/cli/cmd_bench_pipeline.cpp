// `cai bench critique-revise`: prompts per minute of Phase 1 (default 3 rounds) on a local
// model, with and without the engine's prefix cache, and how many prompt positions the cache
// copied instead of computing. The two runs produce the same records (checked).
#include <chrono>

#include "backend_flags.h"
#include "cai/backend/local_backend.h"
#include "cai/constitution/constitution.h"
#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "cai/pipeline/critique_revise.h"
#include "command.h"
#include "option_flags.h"

namespace cai::cli {
namespace cmd_bench_pipeline {

struct Flags {
  BackendOptions backend;
  std::string prompts, constitution;
  pipeline::CritiqueReviseOptions opts = [] {
    pipeline::CritiqueReviseOptions o;
    o.max_tokens = 64;
    return o;
  }();
  std::size_t limit = 16;
};

void run(Flags& f) {
  CAI_CHECK(!f.backend.model.empty(), "bench critique-revise: needs a local --model");
  check_flags(f.opts);
  const Constitution c = load_constitution(f.constitution);
  auto prompts = pipeline::read_prompts(f.prompts);
  if (prompts.size() > f.limit) prompts.resize(f.limit);
  f.opts.chunk = static_cast<std::int64_t>(prompts.size());
  std::vector<std::string> finals[2];
  for (int cached = 1; cached >= 0; --cached) {
    BackendOptions bo = f.backend;
    bo.local.prefix_cache = cached == 1;
    auto backend = make_backend(bo);
    const auto t0 = std::chrono::steady_clock::now();
    auto recs = pipeline::critique_revise(*backend, c, prompts, 0, f.opts);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& r : recs) finals[cached].push_back(r.final_response);
    const EngineStats* st = local_engine_stats(*backend);
    std::printf(
        "%-16s %3zu prompts, %lld rounds: %7.2f s, %7.2f prompts/min, prefill %lld tok, "
        "reused %lld tok\n",
        cached ? "prefix cache" : "no prefix cache", prompts.size(),
        static_cast<long long>(f.opts.rounds), s, 60.0 * prompts.size() / s,
        st ? static_cast<long long>(st->prefill_tokens) : -1LL,
        st ? static_cast<long long>(st->prefix_reused_tokens) : -1LL);
    std::fflush(stdout);
  }
  std::size_t same = 0;
  for (std::size_t i = 0; i < finals[0].size(); ++i) same += finals[0][i] == finals[1][i];
  std::printf("identical final revisions: %zu of %zu\n", same, finals[0].size());
}

const Registrar reg(92, [](CLI::App& root) {
  CLI::App* bench = group(root, "bench", "Benchmarks");
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = bench->add_subcommand("critique-revise",
                                        "Phase 1 prompts per minute with and without prefix reuse");
  add_backend_flags(cmd, f->backend);
  cmd->add_option("--prompts,-p", f->prompts, "Prompts (JSONL or one per line)")->required();
  cmd->add_option("--constitution,-c", f->constitution, "Constitution")->required();
  cmd->add_option("--limit", f->limit, "Prompts used")->capture_default_str();
  add_flags(cmd, f->opts, {"chunk"});
  cmd->callback([f] { run(*f); });
});

}  // namespace cmd_bench_pipeline
}  // namespace cai::cli
