// What the model's CPU kernels run on: the instruction set chosen at start-up (the best this
// CPU has, or the CAI_CPU_ISA environment variable: scalar, avx2 or avx512), and the machine's
// memory bandwidth, against which decoding (bound by reading the weights) is measured.
#pragma once

namespace cai {

// "scalar", "avx2" or "avx512".
const char* cpu_kernels();

// Streaming read bandwidth of main memory in GB/s with `threads` threads (0 = all cores):
// the best of a few passes summing a buffer much larger than the caches.
double measure_read_bandwidth(int threads);

}  // namespace cai
