// Atomic directory replacement: a directory is written in full beside its place, then swapped
// in, so a reader or a killed run sees the old directory or the new one, never a mix (a
// trainer's checkpoint and final model, the loop's merged LoRA model).
#pragma once

#include <filesystem>
#include <functional>

namespace cai {

// Replaces `dir` by the finished directory `tmp` (a sibling, on the same filesystem): one
// renameat2(RENAME_EXCHANGE) where the filesystem has it, else the old directory is moved to
// "<dir>.old" first; the old one is then removed.
void replace_dir(const std::filesystem::path& tmp, const std::filesystem::path& dir);

// Writes a directory whole or not at all: `fill` writes into the sibling "<dir>.tmp", which
// then replaces `dir` (replace_dir); when `fill` throws (a full disk), the temporary is removed
// and the error passes on, leaving `dir` as it was.
void write_dir_atomic(const std::filesystem::path& dir,
                      const std::function<void(const std::filesystem::path& tmp)>& fill);

// A crash between the two renames of replace_dir's fallback leaves only "<dir>.old": this puts
// it back (a no-op otherwise). replace_dir calls it first; readers of `dir` may too.
void recover_dir(const std::filesystem::path& dir);

// fsync of a directory (its entries), best effort.
void fsync_dir(const std::filesystem::path& dir);

}  // namespace cai
