/* The update loops compiled for AVX2 + FMA: fmaf becomes one instruction and
 * the loops vectorize. No contraction beyond the explicit fmaf calls (ISO C
 * mode keeps -ffp-contract=off), and sqrt / division are IEEE in both builds,
 * so the bits equal the baseline's. This file is compiled with
 * -fno-math-errno (CMakeLists.txt): errno is never read, and sqrtf's errno
 * branch would keep the loops scalar. */
#include "optim/update.h"

#if CNNC__K_UPDATE_X86
#include "kernels/isa.h"
CNNC__ISA_TARGET_BEGIN("avx2,fma")
#define K(name) cnnc__k_##name##_avx2
#include "optim/update_impl.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__update_avx2_unused; /* ISO C: a translation unit is not empty */
#endif
