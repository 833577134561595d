// D2M_CLONES: AVX2 and baseline clones of a row loop, picked at load time (glibc ifunc), so -O3 -ffast-math
// loops get 8-lane libmvec expf where the CPU has AVX2. Shared by the CPU kernels' row loops.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define D2M_CLONES __attribute__((target_clones("avx2", "default"), noinline))
#else
#define D2M_CLONES
#endif
