/* The max pooling kernel with indices compiled for AVX2 (see pool_max_body.h). */
#include "kernels/pool_internal.h"

#if CNNC__ISA_X86
CNNC__ISA_TARGET_BEGIN("avx2,fma")
#define PM_SPLIT2_AVX2 /* the stride-2 row split by shuffles */
#define POOL_SUFFIX avx2
#include "kernels/pool_max_body.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__pool_max_avx2_unused; /* ISO C: a translation unit must not be empty */
#endif
