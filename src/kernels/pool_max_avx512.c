/* The max pooling kernel with indices compiled for AVX512 (see pool_max_body.h). */
#include "kernels/pool_internal.h"

#if CNNC__ISA_X86
/* GCC's generic tuning prefers 256-bit vectors even with AVX-512; Clang's does not */
#if defined(__clang__)
CNNC__ISA_TARGET_BEGIN("avx512f")
#else
CNNC__ISA_TARGET_BEGIN("avx512f,prefer-vector-width=512")
#endif
#define PM_SPLIT2_AVX2 /* the stride-2 row split by shuffles */
#define POOL_SUFFIX avx512
#include "kernels/pool_max_body.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__pool_max_avx512_unused; /* ISO C: a translation unit must not be empty */
#endif
