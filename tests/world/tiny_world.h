// A small world: the fixture of tests that need the embedded default (loop, probe, world
// evaluation) but not its size. tests/train/tiny_base.h pretrains a tiny model on it.
#pragma once

#include <cstdint>
#include <filesystem>

#include "cai/world/world.h"

namespace cai::testing_util {

// 4 services, 4 items, the given split sizes and a corpus of 40 conversations, 12 critiques
// and 12 comparisons; one phrasing per capability task.
inline void make_tiny_world(const std::filesystem::path& dir, std::uint64_t seed, int train,
                            int eval, int test) {
  world::WorldOptions w;
  w.seed = seed;
  w.knowledge.services = 4;
  w.knowledge.items = 4;
  w.prompts.train = train;
  w.prompts.eval = eval;
  w.prompts.test = test;
  w.corpus.conversations = 40;
  w.corpus.critiques = 12;
  w.corpus.comparisons = 12;
  w.corpus.document_repeats = 1;
  w.tasks.phrasings = 1;
  world::generate_world(w, dir);
}

}  // namespace cai::testing_util
