/* The fast norm kernels compiled for AVX2+FMA (the AVX2 level of norm_internal.h). */
#include "kernels/norm_internal.h"

#if CNNC__ISA_X86
CNNC__ISA_TARGET_BEGIN("avx2,fma")
#define NORM_SUFFIX avx2
#include <immintrin.h>
/* a lane is set when all its bits are (its sign bit then is) */
#define NB_MOVEMASK(m) ((uint32_t)_mm256_movemask_ps((__m256)(m)))
#include "kernels/norm_body.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__norm_avx2_unused; /* ISO C: a translation unit must not be empty */
#endif
