/* The fast loss kernels compiled for AVX2 (8 lanes), with fused multiply-adds
 * (contraction is allowed in this file only: it is not fast-math, NaN and
 * infinities keep IEEE semantics; the last bits may differ from the baseline
 * build's, and each build is tested against the reference kernels). The AVX2 level
 * of loss_internal.h. */
#include "kernels/loss_internal.h"

#if CNNC__ISA_X86
CNNC__ISA_TARGET_BEGIN("avx2,fma")
CNNC__ISA_CONTRACT
#include "kernels/activation_math.h"

#define LOSS_EXP(x) cm_exp(x)
#define LOSS_LOG(x) cm_log(x)
#define LOSS_LOG1P_POS(x) cm_log1p_pos(x)
#define LOSS_FN(name) cnnc__k_##name##_avx2

#include "kernels/loss_impl.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__loss_avx2_unused; /* ISO C: a translation unit is not empty */
#endif
