/* The fast activation kernels compiled for AVX-512 (16 lanes), with fused multiply-adds
 * (contraction is allowed in this file only: it is not fast-math, NaN and
 * infinities keep IEEE semantics; the last bits may differ from the baseline
 * build's, and each build is tested against the reference kernels). Selected at
 * run time. */
#include "kernels/activation_internal.h"

#if CNNC__ISA_X86
#pragma GCC push_options
#pragma GCC target("avx512f,fma,prefer-vector-width=512")
#pragma GCC optimize("fp-contract=fast")
#include "kernels/activation_math.h"

#define ACT_EXP(x) cm_exp(x)
#define ACT_TANH(x) cm_tanh(x)
#define ACT_ERF(x) cm_erf(x)
#define ACT_LOG1P_POS(x) cm_log1p_pos(x)
#define ACT_FN(name) cnnc__k_##name##_avx512_impl
#define ACT_TARGET

#include "kernels/activation_impl.h"
#pragma GCC pop_options
#else
typedef int cnnc__act_avx512_unused; /* ISO C: a translation unit is not empty */
#endif
