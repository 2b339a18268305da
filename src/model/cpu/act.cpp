// Activation rows in the forms the dot products read (Act in cpu.h): quantized by the table,
// then copied step-major for the AVX-512 kernels.
#include <algorithm>

#include "cpu.h"

namespace cai::kernels::cpu {
namespace {

// [N, Kp/16] -> [Kp/64, N4, 4 groups, 4 rows].
void step_major(const std::vector<float>& g16, std::int64_t N, std::int64_t Kp,
                std::vector<float>& out) {
  const std::int64_t G16 = Kp / 16, N4 = (N + 3) / 4;
  out.resize(static_cast<std::size_t>(Kp / 64 * N4 * 16));
  float* o = out.data();
  for (std::int64_t s = 0; s < Kp / 64; ++s)
    for (std::int64_t n0 = 0; n0 < 4 * N4; n0 += 4)
      for (std::int64_t g = 0; g < 4; ++g)
        for (std::int64_t n = n0; n < n0 + 4; ++n)
          *o++ = n < N ? g16[static_cast<std::size_t>(n * G16 + 4 * s + g)] : 0.0f;
}

// [N, Kp] -> [Kp/64, N4, 4 turns, 16 lanes, 4 bytes]: lane 4g + r of turn i holds row r's
// values 16g + 4((r + i) % 4) .. + 3 of the step.
void step_major_q(const std::vector<std::int8_t>& q, std::int64_t N, std::int64_t Kp,
                  std::vector<std::int8_t>& out) {
  const std::int64_t N4 = (N + 3) / 4;
  out.resize(static_cast<std::size_t>(N4 * 4 * Kp));
  std::int8_t* o = out.data();
  for (std::int64_t s = 0; s < Kp / 64; ++s)
    for (std::int64_t n0 = 0; n0 < 4 * N4; n0 += 4)
      for (int i = 0; i < 4; ++i)
        for (int g = 0; g < 4; ++g)
          for (int r = 0; r < 4; ++r, o += 4) {
            if (n0 + r >= N) {
              std::fill(o, o + 4, std::int8_t{0});
              continue;
            }
            const std::int8_t* src = q.data() + (n0 + r) * Kp + 64 * s + 16 * g + 4 * ((r + i) % 4);
            std::copy(src, src + 4, o);
          }
}

}  // namespace

Act make_act(const Table& table, const float* x, std::int64_t ldx, std::int64_t N, std::int64_t K,
             bool quantized, ActBuffers& buf) {
  Act act;
  act.f = x;
  act.ldf = ldx;
  act.K = K;
  act.Kp = (K + 63) / 64 * 64;
  act.N = N;
  if (!quantized) return act;
  const auto n = static_cast<std::size_t>(N * act.Kp);
  buf.q.resize(n);
  buf.d16.resize(n / 16);
  buf.s16.resize(n / 16);
  table.quantize_rows(x, ldx, 0, N, K, act.Kp, buf.q.data(), buf.d16.data(), buf.s16.data());
  act.q = buf.q.data();
  act.d16 = buf.d16.data();
  act.s16 = buf.s16.data();
  // A lone row's dot product reads the row-major forms (the four-row copies would go unread).
  if (table.step_major && N > 1) {
    step_major(buf.d16, N, act.Kp, buf.d16s);
    step_major(buf.s16, N, act.Kp, buf.s16s);
    step_major_q(buf.q, N, act.Kp, buf.qs);
    act.d16s = buf.d16s.data();
    act.s16s = buf.s16s.data();
    act.qs = buf.qs.data();
  }
  return act;
}

}  // namespace cai::kernels::cpu
