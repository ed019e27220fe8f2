/* The fast activation kernels compiled for AVX-512 (16 lanes), with fused multiply-adds
 * (contraction is allowed in this file only: it is not fast-math, NaN and
 * infinities keep IEEE semantics; the last bits may differ from the baseline
 * build's, and each build is tested against the reference kernels). The AVX512
 * level of activation_internal.h. */
#include "kernels/activation_internal.h"

#if CNNC__ISA_X86
/* GCC's generic tuning prefers 256-bit vectors even with AVX-512; Clang's does not
 * (and takes no preference in a target string) */
#if defined(__clang__)
CNNC__ISA_TARGET_BEGIN("avx512f,fma")
#else
CNNC__ISA_TARGET_BEGIN("avx512f,fma,prefer-vector-width=512")
#endif
CNNC__ISA_CONTRACT
#include "kernels/activation_math.h"

#define ACT_EXP(x) cm_exp(x)
#define ACT_EXP_NONPOS(x) cm_exp_nonpos(x)
#define ACT_LOG(x) cm_log(x)
#define ACT_TANH(x) cm_tanh(x)
#define ACT_TANH_ALONE(x) cm_tanh_rational(x)
#define ACT_ERF(x) cm_erf(x)
#define ACT_LOG1P_POS(x) cm_log1p_pos(x)
#define ACT_FN(name) cnnc__k_##name##_avx512_impl
#define ACT_TARGET
#define ACT_ROWS /* the contiguous-row softmax of row_reduce.h */

#include "kernels/activation_impl.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__act_avx512_unused; /* ISO C: a translation unit is not empty */
#endif
