// Chooses the kernel table once: the best instruction set this CPU runs, or CAI_CPU_ISA.
#include <cstdlib>
#include <string>

#include "cai/io/error.h"
#include "cpu.h"

namespace cai::kernels::cpu {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return "scalar";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
  }
  return "?";
}

int type_index(ggml::Type t) {
  switch (t) {
    case ggml::Type::F32:
      return kF32;
    case ggml::Type::F16:
      return kF16;
    case ggml::Type::BF16:
      return kBF16;
    case ggml::Type::Q4_0:
      return kQ4_0;
    case ggml::Type::Q4_1:
      return kQ4_1;
    case ggml::Type::Q5_0:
      return kQ5_0;
    case ggml::Type::Q5_1:
      return kQ5_1;
    case ggml::Type::Q8_0:
      return kQ8_0;
    case ggml::Type::Q4_K:
      return kQ4_K;
    case ggml::Type::Q5_K:
      return kQ5_K;
    case ggml::Type::Q6_K:
      return kQ6_K;
  }
  return -1;
}

bool int8_dot(ggml::Type t) { return ggml::traits(t).quantized; }

bool available(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return true;
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    case Isa::avx512:
      // VNNI's u8 x s8 dot products are what the 512-bit path is built on.
      return available(Isa::avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
#endif
    default:
      return false;
  }
}

namespace {

Table build(Isa isa) {
  Table t;
  fill_scalar(t);
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::avx2 || isa == Isa::avx512) fill_avx2(t);
  if (isa == Isa::avx512) fill_avx512(t);
#endif
  t.isa = isa;
  return t;
}

Isa choose() {
  if (const char* env = std::getenv("CAI_CPU_ISA"); env && *env) {
    const std::string want = env;
    for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
      if (want == isa_name(isa)) {
        CAI_CHECK(available(isa), "CAI_CPU_ISA={}: this CPU (or build) does not run it", want);
        return isa;
      }
    throw_error("CAI_CPU_ISA={}: expected scalar, avx2 or avx512", want);
  }
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (available(isa)) return isa;
  return Isa::scalar;
}

}  // namespace

const Table& table_for(Isa isa) {
  CAI_CHECK(available(isa), "kernels: this CPU does not run {}", isa_name(isa));
  static const Table tables[] = {build(Isa::scalar),
                                 available(Isa::avx2) ? build(Isa::avx2) : build(Isa::scalar),
                                 available(Isa::avx512) ? build(Isa::avx512) : build(Isa::scalar)};
  return tables[static_cast<int>(isa)];
}

const Table& table() {
  static const Table& t = table_for(choose());
  return t;
}

}  // namespace cai::kernels::cpu
