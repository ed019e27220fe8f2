/* Internal to src/kernels/loss*.c: the compiled variants of loss_impl.h (the
 * reference, and the fast kernels per ISA level). */
#ifndef CNNC_KERNELS_LOSS_INTERNAL_H
#define CNNC_KERNELS_LOSS_INTERNAL_H
#include "kernels/loss.h"

/* X-list of the fast variants, fastest first: (level, suffix of the functions).
 * loss_<suffix>.c compiles loss_impl.h for the level's target. */
#if CNNC__ISA_X86
#define CNNC__LOSS_SIMD_VARIANTS(X) \
    X(AVX512, avx512)               \
    X(AVX2, avx2)
#else
#define CNNC__LOSS_SIMD_VARIANTS(X)
#endif
#define CNNC__LOSS_VARIANTS(X)  \
    CNNC__LOSS_SIMD_VARIANTS(X) \
    X(SCALAR, scalar)

#define CNNC__LOSS_DECLARE(isa, sfx)                                                          \
    void cnnc__k_pwl_forward_##sfx(cnnc__pwl op, const cnnc__pwl_args *a, float *out,         \
                                   int64_t begin, int64_t end);                               \
    void cnnc__k_pwl_backward_##sfx(cnnc__pwl op, const cnnc__pwl_args *a, float *gx,         \
                                    float *gy, const float *g, float g0, int64_t begin,       \
                                    int64_t end);                                             \
    void cnnc__k_ce_forward_##sfx(const cnnc__ce_args *a, float *stat, float *nll,            \
                                  float *smooth, int64_t nb, int64_t s0, int64_t s1);         \
    void cnnc__k_ce_backward_##sfx(const cnnc__ce_args *a, float *gx, const float *stat,      \
                                   const float *coef, float wsum, int64_t nb, int64_t s0,     \
                                   int64_t s1);
CNNC__LOSS_DECLARE(REF, ref_impl)
CNNC__LOSS_VARIANTS(CNNC__LOSS_DECLARE)
#undef CNNC__LOSS_DECLARE
#endif
