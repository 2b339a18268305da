// The CPU kernels of the inference path, one table per instruction set (as ggml's
// ggml-cpu/arch/ does). The table is filled once at start-up with the best set the CPU runs
// (cpuid through __builtin_cpu_supports), or the one CAI_CPU_ISA names (scalar, avx2, avx512),
// so tests and CI can exercise every path, the portable one included. Only the files under
// arch/x86 use intrinsics, and they compile to nothing on other CPUs.
//
// Shape legend: N = activation rows, M = weight rows (outputs), K = the shared dimension,
// Kp = K rounded up to 64 (the stride of quantized activation rows).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cai/formats/ggml_quant.h"

namespace cai::kernels::cpu {

enum class Isa { scalar, avx2, avx512 };
const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512"

// The weight types of the packed path, as table indices.
enum TypeIndex {
  kF32,
  kF16,
  kBF16,
  kQ4_0,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ8_0,
  kQ4_K,
  kQ5_K,
  kQ6_K,
  kTypes
};
int type_index(ggml::Type t);  // -1 for a type without kernels
// Whether the type's dot product reads 8-bit activations (Act::q) rather than F32 (Act::f).
bool int8_dot(ggml::Type t);

// Activation rows for the packed dot products: F32 as given, and (for the block types)
// quantized to int8 in blocks of 32 with one scale per block, zero-padded to Kp:
//   q   [N, Kp]      int8, x ~ d * q
//   d16 [N, Kp/16]   the scale of the block holding each group of 16 values
//   s16 [N, Kp/16]   d * sum(q) over each group of 16 (for the weight types' offsets/minimums)
// and, as the AVX-512 dot products of two or more rows read them, step-major copies (N4 =
// ceil(N/4) four-row units, rows past N zero):
//   d16s, s16s [Kp/64, N4, 4, 4]   for each 64-value step and each four rows, the four groups'
//                                  values of the four rows, group-major (element 4g + r): one
//                                  512-bit load holds four rows' values, laid out as those
//                                  kernels lay out four rows' group sums
//   qs  [Kp/64, N4, 4, 64]         for each step and four rows, four "turns" i of 64 bytes: the
//                                  int32 lane 4g + r of turn i holds row r's values 16g + 4j ..
//                                  16g + 4j + 3 of the step, j = (r + i) % 4. Lane 4g + r of the
//                                  step's weights turned by i (weight lane 4g + j) multiplies
//                                  it, so four dpbusd over the four turns leave each row's group
//                                  sums in lane 4g + r with no shuffle of the products.
struct Act {
  const float* f = nullptr;
  std::int64_t ldf = 0;
  const std::int8_t* q = nullptr;
  const float* d16 = nullptr;
  const float* s16 = nullptr;
  std::int64_t K = 0, Kp = 0;
  const float* d16s = nullptr;
  const float* s16s = nullptr;
  const std::int8_t* qs = nullptr;
  std::int64_t N = 0;  // rows in the step-major copies
};

// y[n * ldy + m] (+)= dot(weight row m, activation row n), m in [m0, m1), n in [n0, n1); weight
// row m starts at w + (m - m0) * row_bytes. n0 is a multiple of 4 (the step-major layout's
// four-row units).
using DotFn = void (*)(const std::uint8_t* w, std::size_t row_bytes, std::int64_t m0,
                       std::int64_t m1, const Act& x, std::int64_t n0, std::int64_t n1, float* y,
                       std::int64_t ldy, bool accumulate);
// One encoded row of K values -> F32.
using ToF32Fn = void (*)(const std::uint8_t* w, std::int64_t K, float* out);

struct Table {
  Isa isa = Isa::scalar;
  // y[n, m] (+)= sum_k x[n*ldx + k] w[m*K + k] (+ bias[m]) for n in [n0, n1), m in [m0, m1).
  void (*gemm_f32)(const float* x, std::int64_t ldx, const float* w, const float* bias, float* y,
                   std::int64_t ldy, std::int64_t n0, std::int64_t n1, std::int64_t m0,
                   std::int64_t m1, std::int64_t K, bool accumulate) = nullptr;
  // The same for one row of x (decoding at batch 1), outputs y[m0..m1).
  void (*gemv_f32)(const float* x, const float* w, const float* bias, float* y, std::int64_t m0,
                   std::int64_t m1, std::int64_t K, bool accumulate) = nullptr;
  // softmax(q . K[0..len)) V for one query row of D values; `scores` holds len floats.
  void (*attend_one)(const float* q, const float* K, const float* V, std::int64_t len,
                     std::int64_t D, float* scores, float* o) = nullptr;
  // The same over an F16 cache (K, V as IEEE half bits).
  void (*attend_one_f16)(const float* q, const std::uint16_t* K, const std::uint16_t* V,
                         std::int64_t len, std::int64_t D, float* scores, float* o) = nullptr;
  // Rows [n0, n1) of gate|up [., 2F] -> silu(gate) * up [., F].
  void (*swiglu_rows)(const float* gu, float* o, std::int64_t F, std::int64_t n0,
                      std::int64_t n1) = nullptr;
  // Rows [n0, n1) of x [., ldx] -> the int8 blocks of Act (q, d16, s16 with row strides Kp,
  // Kp/16).
  void (*quantize_rows)(const float* x, std::int64_t ldx, std::int64_t n0, std::int64_t n1,
                        std::int64_t K, std::int64_t Kp, std::int8_t* q, float* d16,
                        float* s16) = nullptr;
  // Whether the block types' dot products read Act's step-major copies (only AVX-512's do).
  bool step_major = false;
  DotFn dot[kTypes] = {};
  ToF32Fn to_f32[kTypes] = {};
  // Rows [0, N) of x [., ldx] times a tile of 16 weight rows stored transposed, tile[k * 16 + j]
  // (k < K): y[n * ldy + j] (+)= sum_k x[n, k] tile[k, j] for the first `cols` columns j. The
  // batched path's kernel: no reductions, each weight loaded once per 6 or 12 rows of x.
  void (*gemm_tile16)(const float* x, std::int64_t ldx, std::int64_t N, const float* tile,
                      std::int64_t K, float* y, std::int64_t ldy, std::int64_t cols,
                      bool accumulate) = nullptr;
};

// The buffers behind an Act, reused from call to call.
struct ActBuffers {
  std::vector<std::int8_t> q, qs;
  std::vector<float> d16, s16, d16s, s16s;
};
// N rows of x [., ldx] (K values each) as `table`'s dot products read them: F32 as given and,
// when `quantized`, the int8 blocks (with the step-major copies if the table reads them and
// N > 1) in buf.
Act make_act(const Table& table, const float* x, std::int64_t ldx, std::int64_t N, std::int64_t K,
             bool quantized, ActBuffers& buf);

// The table in use (chosen on first call; CAI_CPU_ISA overrides, and naming a set this CPU
// lacks is an error).
const Table& table();
// Whether this CPU (and this build) runs `isa`; the table of a set it runs.
bool available(Isa isa);
const Table& table_for(Isa isa);

// Filled by each instruction set's file.
void fill_scalar(Table& t);
#if defined(__x86_64__) || defined(__i386__)
void fill_avx2(Table& t);
void fill_avx512(Table& t);
#endif

}  // namespace cai::kernels::cpu
