// ggml block codecs (see ggml_quant.h for the layouts). The quantizers follow ggml's reference
// quantizers step for step, in the same float operations and order, so the bytes match
// llama-quantize's.
#include "cai/formats/ggml_quant.h"

#include <algorithm>
#include <cctype>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "cai/formats/dtype.h"
#include "cai/io/error.h"

namespace cai::ggml {

namespace {

constexpr TypeTraits kTraits[] = {
    {Type::F32, "F32", 1, 4, false},      {Type::F16, "F16", 1, 2, false},
    {Type::BF16, "BF16", 1, 2, false},    {Type::Q4_0, "Q4_0", 32, 18, true},
    {Type::Q4_1, "Q4_1", 32, 20, true},   {Type::Q5_0, "Q5_0", 32, 22, true},
    {Type::Q5_1, "Q5_1", 32, 24, true},   {Type::Q8_0, "Q8_0", 32, 34, true},
    {Type::Q4_K, "Q4_K", 256, 144, true}, {Type::Q5_K, "Q5_K", 256, 176, true},
    {Type::Q6_K, "Q6_K", 256, 210, true},
};

float h2f(const std::uint8_t* p) {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}
void f2h(float f, std::uint8_t* p) {
  const std::uint16_t h = f32_to_f16(f);
  std::memcpy(p, &h, 2);
}

// ggml's nearest_int: round half to even through the float adder (|x| < 2^22).
int nearest_int(float x) {
  const float v = x + 12582912.f;
  std::int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// ---------------------------------------------------------------------------------------------
// Blocks of 32

// The value of largest magnitude, with its sign (the first one on ties).
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

void quant_q4_0(const float* x, std::uint8_t* y) {
  const float d = signed_absmax(x, 32) / -8;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  f2h(d, y);
  for (int j = 0; j < 16; ++j) {
    const int a = std::min(15, static_cast<int>(static_cast<std::int8_t>(x[j] * id + 8.5f)));
    const int b = std::min(15, static_cast<int>(static_cast<std::int8_t>(x[16 + j] * id + 8.5f)));
    y[2 + j] = static_cast<std::uint8_t>(a | (b << 4));
  }
}

void min_max(const float* x, int n, float* mn, float* mx) {
  *mn = FLT_MAX;
  *mx = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < *mn) *mn = x[j];
    if (x[j] > *mx) *mx = x[j];
  }
}

void quant_q4_1(const float* x, std::uint8_t* y) {
  float mn, mx;
  min_max(x, 32, &mn, &mx);
  const float d = (mx - mn) / 15;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  f2h(d, y);
  f2h(mn, y + 2);
  for (int j = 0; j < 16; ++j) {
    const int a = std::min(15, static_cast<int>(static_cast<std::int8_t>((x[j] - mn) * id + 0.5f)));
    const int b =
        std::min(15, static_cast<int>(static_cast<std::int8_t>((x[16 + j] - mn) * id + 0.5f)));
    y[4 + j] = static_cast<std::uint8_t>(a | (b << 4));
  }
}

// Five-bit values q[32] -> 32 high bits at `qh` and nibbles at `qs` (value j and j + 16 share
// byte j).
void pack5(const int* q, std::uint8_t* qh, std::uint8_t* qs) {
  std::uint32_t h = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<std::uint8_t>((q[j] & 0xF) | ((q[16 + j] & 0xF) << 4));
    h |= static_cast<std::uint32_t>((q[j] & 0x10) >> 4) << j;
    h |= static_cast<std::uint32_t>((q[16 + j] & 0x10) >> 4) << (j + 16);
  }
  std::memcpy(qh, &h, 4);
}

void quant_q5_0(const float* x, std::uint8_t* y) {
  const float d = signed_absmax(x, 32) / -16;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  f2h(d, y);
  int q[32];
  for (int j = 0; j < 32; ++j)
    q[j] = std::min(31, static_cast<int>(static_cast<std::int8_t>(x[j] * id + 16.5f)));
  pack5(q, y + 2, y + 6);
}

void quant_q5_1(const float* x, std::uint8_t* y) {
  float mn, mx;
  min_max(x, 32, &mn, &mx);
  const float d = (mx - mn) / 31;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  f2h(d, y);
  f2h(mn, y + 2);
  int q[32];
  for (int j = 0; j < 32; ++j)
    q[j] = static_cast<int>(static_cast<std::uint8_t>((x[j] - mn) * id + 0.5f));
  pack5(q, y + 4, y + 8);
}

void quant_q8_0(const float* x, std::uint8_t* y) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  f2h(d, y);
  for (int j = 0; j < 32; ++j)
    y[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(std::round(x[j] * id)));
}

void dequant_small(Type t, const std::uint8_t* b, float* y) {
  const float d = h2f(b);
  switch (t) {
    case Type::Q4_0:
      for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>((b[2 + j] & 0xF) - 8) * d;
        y[16 + j] = static_cast<float>((b[2 + j] >> 4) - 8) * d;
      }
      return;
    case Type::Q4_1: {
      const float m = h2f(b + 2);
      for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>(b[4 + j] & 0xF) * d + m;
        y[16 + j] = static_cast<float>(b[4 + j] >> 4) * d + m;
      }
      return;
    }
    case Type::Q5_0:
    case Type::Q5_1: {
      const bool q51 = t == Type::Q5_1;
      const std::uint8_t* qh = b + (q51 ? 4 : 2);
      const std::uint8_t* qs = qh + 4;
      const float m = q51 ? h2f(b + 2) : 0.0f;
      const int off = q51 ? 0 : 16;
      std::uint32_t h;
      std::memcpy(&h, qh, 4);
      for (int j = 0; j < 16; ++j) {
        const int lo = (qs[j] & 0xF) | static_cast<int>(((h >> j) & 1u) << 4);
        const int hi = (qs[j] >> 4) | static_cast<int>(((h >> (j + 16)) & 1u) << 4);
        y[j] = static_cast<float>(lo - off) * d + m;
        y[16 + j] = static_cast<float>(hi - off) * d + m;
      }
      return;
    }
    case Type::Q8_0:
      for (int j = 0; j < 32; ++j)
        y[j] = static_cast<float>(static_cast<std::int8_t>(b[2 + j])) * d;
      return;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// K-quants (blocks of 256)

// ggml's make_qkx2_quants: the scale and (non-positive) minimum of an affine nmax-level grid
// minimising the weighted squared error, by a small search around the min/max grid. Returns
// the scale; *neg_min = -minimum.
float affine_grid(int n, int nmax, const float* x, const float* w, std::uint8_t* L, float* neg_min,
                  float rmin, float rdelta, int nstep) {
  float mn = x[0], mx = x[0];
  float sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < mn) mn = x[i];
    if (x[i] > mx) mx = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (mn > 0) mn = 0;
  if (mx == mn) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *neg_min = -mn;
    return 0.0f;
  }
  float iscale = nmax / (mx - mn);
  float scale = 1 / iscale;
  float best = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - mn))));
    L[i] = static_cast<std::uint8_t>(l);
    const float diff = scale * L[i] + mn - x[i];
    best += w[i] * (diff * diff);
  }
  std::uint8_t aux[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (mx - mn);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - mn))));
      aux[i] = static_cast<std::uint8_t>(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float err = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * aux[i] + this_min - x[i];
        err += w[i] * (diff * diff);
      }
      if (err < best) {
        std::copy(aux, aux + n, L);
        best = err;
        scale = this_scale;
        mn = this_min;
      }
    }
  }
  *neg_min = -mn;
  return scale;
}

// Q4_K and Q5_K (nmax 15 or 31): eight sub-blocks of 32 with 6-bit scales and minimums.
void quant_q45_k(const float* x, std::uint8_t* y, bool five) {
  const int nmax = five ? 31 : 15;
  std::uint8_t L[256];
  float scales[8], mins[8], w[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = five ? affine_grid(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], -0.5f, 0.1f, 15)
                     : affine_grid(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], -1.f, 0.1f, 20);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  std::uint8_t* s = y + 4;
  std::memset(s, 0, 12);
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < 8; ++j) {
    const auto ls = static_cast<std::uint8_t>(std::min(
        63, static_cast<int>(static_cast<std::uint8_t>(nearest_int(inv_scale * scales[j])))));
    const auto lm = static_cast<std::uint8_t>(
        std::min(63, static_cast<int>(static_cast<std::uint8_t>(nearest_int(inv_min * mins[j])))));
    if (j < 4) {
      s[j] = ls;
      s[j + 4] = lm;
    } else {
      s[j + 4] = static_cast<std::uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      s[j - 4] |= static_cast<std::uint8_t>((ls >> 4) << 6);
      s[j] |= static_cast<std::uint8_t>((lm >> 4) << 6);
    }
  }
  f2h(max_scale / 63.f, y);
  f2h(max_min / 63.f, y + 2);
  const float d_all = h2f(y), dmin_all = h2f(y + 2);
  for (int j = 0; j < 8; ++j) {
    std::uint8_t sc, m;
    k_scale_min(j, s, &sc, &m);
    const float d = d_all * sc;
    if (d == 0.0f) continue;
    const float dm = dmin_all * m;
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = static_cast<std::uint8_t>(
          std::max(0, std::min(nmax, nearest_int((x[32 * j + i] + dm) / d))));
  }
  if (!five) {
    std::uint8_t* q = y + 16;
    for (int j = 0; j < 256; j += 64, q += 32)
      for (int l = 0; l < 32; ++l)
        q[l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    return;
  }
  std::uint8_t* qh = y + 16;
  std::uint8_t* ql = y + 48;
  std::memset(qh, 0, 32);
  std::uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < 256; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j], l2 = L[n + j + 32];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] |= m1;
      }
      if (l2 > 15) {
        l2 -= 16;
        qh[j] |= m2;
      }
      ql[j] = static_cast<std::uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<std::uint8_t>(m1 << 2);
    m2 = static_cast<std::uint8_t>(m2 << 2);
  }
}

// ggml's make_qx_quants with rmse_type 1: a symmetric grid of levels -nmax..nmax-1 whose scale
// minimises the x^2-weighted squared error over a small search. L gets level + nmax.
float symmetric_grid(int n, int nmax, const float* x, std::int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  if (amax < 1e-15f) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
    L[i] = static_cast<std::int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i)
        L[i] = static_cast<std::int8_t>(
            nmax + std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i]))));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void quant_q6_k(const float* x, std::uint8_t* y) {
  std::int8_t L[256];
  float scales[16];
  float max_scale = 0, max_abs = 0;
  for (int ib = 0; ib < 16; ++ib) {
    scales[ib] = symmetric_grid(16, 32, x + 16 * ib, L + 16 * ib);
    if (std::fabs(scales[ib]) > max_abs) {
      max_abs = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  std::uint8_t* ql = y;
  std::uint8_t* qh = y + 128;
  auto* sc = reinterpret_cast<std::int8_t*>(y + 192);
  if (max_abs < 1e-15f) {
    std::memset(y, 0, 210);
    return;
  }
  const float iscale = -128.f / max_scale;
  f2h(1 / iscale, y + 208);
  for (int ib = 0; ib < 16; ++ib)
    sc[ib] = static_cast<std::int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  const float d_all = h2f(y + 208);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * sc[j];
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<std::int8_t>(
          std::max(-32, std::min(31, nearest_int(x[16 * j + i] / d))) + 32);
  }
  for (int j = 0; j < 256; j += 128, ql += 64, qh += 32)
    for (int l = 0; l < 32; ++l) {
      const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
      ql[l] = static_cast<std::uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
      ql[l + 32] = static_cast<std::uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
      qh[l] = static_cast<std::uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                        ((q4 >> 4) << 6));
    }
}

void dequant_k(Type t, const std::uint8_t* b, float* y) {
  if (t == Type::Q6_K) {
    const std::uint8_t* ql = b;
    const std::uint8_t* qh = b + 128;
    const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
    const float d = h2f(b + 208);
    for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8, y += 128)
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    return;
  }
  const bool five = t == Type::Q5_K;
  const float d = h2f(b), dmin = h2f(b + 2);
  const std::uint8_t* s = b + 4;
  const std::uint8_t* qh = b + 16;
  const std::uint8_t* q = b + (five ? 48 : 16);
  for (int c = 0; c < 4; ++c, q += 32) {
    std::uint8_t sc, m;
    k_scale_min(2 * c, s, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    k_scale_min(2 * c + 1, s, &sc, &m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) {
      const int h1 = five && (qh[l] >> (2 * c)) & 1 ? 16 : 0;
      *y++ = d1 * ((q[l] & 0xF) + h1) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      const int h2 = five && (qh[l] >> (2 * c + 1)) & 1 ? 16 : 0;
      *y++ = d2 * ((q[l] >> 4) + h2) - m2;
    }
  }
}

}  // namespace

const TypeTraits* traits(std::uint32_t id) {
  for (const auto& t : kTraits)
    if (static_cast<std::uint32_t>(t.type) == id) return &t;
  return nullptr;
}

const TypeTraits& traits(Type t) {
  const TypeTraits* p = traits(static_cast<std::uint32_t>(t));
  CAI_CHECK(p, "ggml type {} is not supported", static_cast<unsigned>(t));
  return *p;
}

std::string_view type_name(std::uint32_t id) {
  static constexpr std::string_view names[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2",   "Q4_3",  "Q5_0",  "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
      "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16"};
  return id < std::size(names) ? names[id] : "unknown";
}

bool parse_type(std::string_view name, Type* out) {
  std::string up(name);
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& t : kTraits)
    if (t.name == up) {
      *out = t.type;
      return true;
    }
  return false;
}

std::size_t row_bytes(Type t, std::int64_t n) {
  const TypeTraits& tr = traits(t);
  CAI_CHECK(n >= 0 && n % tr.block == 0, "{} rows hold multiples of {} values, not {}", tr.name,
            tr.block, n);
  return static_cast<std::size_t>(n / tr.block) * tr.block_bytes;
}

void dequantize_row(Type t, const void* src, float* dst, std::int64_t n) {
  const TypeTraits& tr = traits(t);
  const auto* p = static_cast<const std::uint8_t*>(src);
  switch (t) {
    case Type::F32:
      convert_to_f32(DType::F32, p, static_cast<std::size_t>(n), dst);
      return;
    case Type::F16:
      convert_to_f32(DType::F16, p, static_cast<std::size_t>(n), dst);
      return;
    case Type::BF16:
      convert_to_f32(DType::BF16, p, static_cast<std::size_t>(n), dst);
      return;
    default:
      break;
  }
  row_bytes(t, n);  // checks the length
  for (std::int64_t b = 0; b < n / tr.block; ++b, p += tr.block_bytes, dst += tr.block) {
    if (tr.block == 32)
      dequant_small(t, p, dst);
    else
      dequant_k(t, p, dst);
  }
}

void quantize_row(Type t, const float* src, void* dst, std::int64_t n) {
  const TypeTraits& tr = traits(t);
  auto* p = static_cast<std::uint8_t*>(dst);
  if (!tr.quantized) {
    for (std::int64_t i = 0; i < n; ++i) {
      if (t == Type::F32) {
        std::memcpy(p + 4 * i, src + i, 4);
      } else {
        const std::uint16_t h = t == Type::F16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
        std::memcpy(p + 2 * i, &h, 2);
      }
    }
    return;
  }
  row_bytes(t, n);
  for (std::int64_t b = 0; b < n / tr.block; ++b, p += tr.block_bytes, src += tr.block) {
    switch (t) {
      case Type::Q4_0:
        quant_q4_0(src, p);
        break;
      case Type::Q4_1:
        quant_q4_1(src, p);
        break;
      case Type::Q5_0:
        quant_q5_0(src, p);
        break;
      case Type::Q5_1:
        quant_q5_1(src, p);
        break;
      case Type::Q8_0:
        quant_q8_0(src, p);
        break;
      case Type::Q4_K:
        quant_q45_k(src, p, false);
        break;
      case Type::Q5_K:
        quant_q45_k(src, p, true);
        break;
      case Type::Q6_K:
        quant_q6_k(src, p);
        break;
      default:
        throw_error("quantize_row: {} is not a block type", tr.name);
    }
  }
}

}  // namespace cai::ggml
