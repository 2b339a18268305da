// PackedMatrix: row ranges of encoded weights (see include/cai/model/packed.h).
#include "cai/model/packed.h"

#include <algorithm>

#include "cai/io/error.h"

namespace cai {

PackedMatrix::PackedMatrix(std::int64_t rows, std::int64_t cols) : rows_(rows), cols_(cols) {
  CAI_CHECK(rows > 0 && cols > 0, "packed matrix: shape [{}, {}] must be positive", rows, cols);
}

void PackedMatrix::set_rows(std::int64_t row0, std::int64_t n, ggml::Type t,
                            std::vector<std::uint8_t> bytes) {
  const ggml::TypeTraits& tr = ggml::traits(t);
  CAI_CHECK(row0 >= 0 && n > 0 && row0 + n <= rows_,
            "packed matrix: rows {}..{} outside the matrix's {}", row0, row0 + n - 1, rows_);
  CAI_CHECK(cols_ % tr.block == 0, "packed matrix: {} rows hold multiples of {} values, not {}",
            tr.name, tr.block, cols_);
  const std::size_t rb = ggml::row_bytes(t, cols_);
  CAI_CHECK(bytes.size() == rb * static_cast<std::size_t>(n),
            "packed matrix: {} rows of {} {} values take {} bytes, got {}", n, cols_, tr.name,
            rb * static_cast<std::size_t>(n), bytes.size());
  for (const Part& p : parts_)
    CAI_CHECK(row0 + n <= p.row0 || p.row0 + p.rows <= row0,
              "packed matrix: rows {}..{} overlap rows {}..{} already set", row0, row0 + n - 1,
              p.row0, p.row0 + p.rows - 1);
  Part p;
  p.row0 = row0;
  p.rows = n;
  p.type = t;
  p.row_bytes = rb;
  p.bytes = std::move(bytes);
  parts_.push_back(std::move(p));
  std::sort(parts_.begin(), parts_.end(),
            [](const Part& a, const Part& b) { return a.row0 < b.row0; });
}

bool PackedMatrix::complete() const {
  std::int64_t covered = 0;
  for (const Part& p : parts_) covered += p.rows;
  return rows_ > 0 && covered == rows_;
}

bool PackedMatrix::all_of(ggml::Type t) const {
  if (parts_.empty()) return false;
  for (const Part& p : parts_)
    if (p.type != t) return false;
  return true;
}

std::size_t PackedMatrix::bytes() const {
  std::size_t n = 0;
  for (const Part& p : parts_) n += p.bytes.size();
  return n;
}

void PackedMatrix::add_bytes_by_type(std::map<std::string, std::uint64_t>& out) const {
  for (const Part& p : parts_) out[std::string(ggml::traits(p.type).name)] += p.bytes.size();
}

void PackedMatrix::dequantize_rows(std::int64_t r0, std::int64_t r1, float* out) const {
  CAI_CHECK(0 <= r0 && r0 <= r1 && r1 <= rows_, "packed matrix: rows {}..{} outside 0..{}", r0, r1,
            rows_);
  for (const Part& p : parts_) {
    const std::int64_t a = std::max(r0, p.row0), b = std::min(r1, p.row0 + p.rows);
    for (std::int64_t r = a; r < b; ++r)
      ggml::dequantize_row(p.type, p.row(r - p.row0), out + (r - r0) * cols_, cols_);
  }
}

std::vector<std::uint8_t> PackedMatrix::encoded_rows(std::int64_t r0, std::int64_t r1,
                                                     ggml::Type* type) const {
  for (const Part& p : parts_)
    if (p.row0 <= r0 && r1 <= p.row0 + p.rows) {
      *type = p.type;
      return {p.row(r0 - p.row0), p.row(r1 - p.row0)};
    }
  return {};
}

}  // namespace cai
