// D2M_CLONES: AVX-512, AVX2 and baseline clones of a row loop, picked at load time (glibc ifunc), so -O3
// -ffast-math loops get 16-lane (AVX-512) or 8-lane (AVX2) libmvec expf and full-width loads, FMAs and
// reductions. Shared by the CPU kernels' row loops.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define D2M_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), noinline))
#else
#define D2M_CLONES
#endif
