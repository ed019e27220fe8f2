/* The update loops compiled for AVX-512F (512-bit vectors): the same source and the
 * same bits as the AVX2 build (update_avx2.c: only the explicit fmaf calls fuse; sqrt
 * and division are IEEE). Compiled with -fno-math-errno like it (CMakeLists.txt). */
#include "optim/update.h"

#if CNNC__K_UPDATE_X86
#include "kernels/isa.h"
#if defined(__clang__) /* (prefer-vector-width is GCC's) */
CNNC__ISA_TARGET_BEGIN("avx512f,avx2,fma")
#else
CNNC__ISA_TARGET_BEGIN("avx512f,avx2,fma,prefer-vector-width=512")
#endif
#define K(name) cnnc__k_##name##_avx512
#include "optim/update_impl.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__update_avx512_unused; /* ISO C: a translation unit is not empty */
#endif
