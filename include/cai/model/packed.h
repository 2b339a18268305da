// A weight matrix kept in memory as the file stores it: ggml blocks (Q4_K, Q8_0, ...) or
// F16/BF16, never widened to F32. The inference kernels multiply by it directly; the
// differentiable path dequantizes it on the fly (frozen: no gradient of its own).
//
// The matrix is a list of row ranges ("parts"), each in one type, because the model fuses
// projections that a file stores apart: in a llama.cpp Q4_K_M file the q and k rows of a layer
// are Q4_K and its v rows Q6_K, so the fused q|k|v matrix has three parts. Free of libtorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cai/formats/ggml_quant.h"

namespace cai {

class PackedMatrix {
 public:
  struct Part {
    std::int64_t row0 = 0, rows = 0;
    ggml::Type type = ggml::Type::F32;
    std::size_t row_bytes = 0;  // bytes of one row of `cols` values
    std::vector<std::uint8_t> bytes;
    const std::uint8_t* row(std::int64_t r) const {  // r relative to row0
      return bytes.data() + static_cast<std::size_t>(r) * row_bytes;
    }
  };

  PackedMatrix() = default;
  PackedMatrix(std::int64_t rows, std::int64_t cols);

  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  // Rows [row0, row0 + n) from `n` encoded rows of type `t` (n * row_bytes(t, cols) bytes).
  // Throws cai::Error when the rows fall outside the matrix, overlap a part already set, or the
  // byte count or row length does not fit the type.
  void set_rows(std::int64_t row0, std::int64_t n, ggml::Type t, std::vector<std::uint8_t> bytes);
  // Every row set.
  bool complete() const;
  // Every part of type `t` (false when empty).
  bool all_of(ggml::Type t) const;
  const std::vector<Part>& parts() const { return parts_; }  // sorted by row0
  std::size_t bytes() const;
  // Bytes per stored type name ("Q4_K" -> bytes), added into `out`.
  void add_bytes_by_type(std::map<std::string, std::uint64_t>& out) const;

  // Rows [r0, r1) as F32, row-major, (r1 - r0) * cols values into `out`.
  void dequantize_rows(std::int64_t r0, std::int64_t r1, float* out) const;
  // Encoded bytes of rows [r0, r1) when they lie in one part (its type in *type), else empty.
  std::vector<std::uint8_t> encoded_rows(std::int64_t r0, std::int64_t r1, ggml::Type* type) const;

 private:
  std::int64_t rows_ = 0, cols_ = 0;
  std::vector<Part> parts_;
};

}  // namespace cai
