/* Internal to src/kernels/activation*.c: the compiled variants of
 * activation_impl.h (the reference, and the fast kernels per ISA level). */
#ifndef CNNC_KERNELS_ACTIVATION_INTERNAL_H
#define CNNC_KERNELS_ACTIVATION_INTERNAL_H
#include "kernels/activation.h"

/* X-list of the fast variants, fastest first: (level, suffix of the functions).
 * activation_<suffix>.c compiles activation_impl.h for the level's target. */
#if CNNC__ISA_X86
#define CNNC__ACT_SIMD_VARIANTS(X) \
    X(AVX512, avx512)              \
    X(AVX2, avx2)
#else
#define CNNC__ACT_SIMD_VARIANTS(X)
#endif
#define CNNC__ACT_VARIANTS(X)   \
    CNNC__ACT_SIMD_VARIANTS(X)  \
    X(SCALAR, scalar)

#define CNNC__ACT_DECLARE(isa, sfx)                                                         \
    void cnnc__k_act_forward_##sfx##_impl(cnnc__act op, const cnnc__act_params *p,           \
                                          float *out, const float *x, int64_t n);            \
    void cnnc__k_act_forward_bias_##sfx##_impl(cnnc__act op, const cnnc__act_params *p,      \
                                               float *out, const float *x, float bias,       \
                                               int64_t n);                                   \
    void cnnc__k_act_backward_##sfx##_impl(cnnc__act op, const cnnc__act_params *p,          \
                                           bool from_result, float *gx, const float *g,      \
                                           const float *s, int64_t n);                       \
    void cnnc__k_softmax_##sfx##_impl(bool logsm, float *out, const float *x, int64_t dim,   \
                                      int64_t inner, int64_t o_begin, int64_t o_end,         \
                                      int64_t i_begin, int64_t i_end);                       \
    void cnnc__k_softmax_backward_##sfx##_impl(bool logsm, float *gx, const float *g,        \
                                               const float *y, int64_t dim, int64_t inner,   \
                                               int64_t o_begin, int64_t o_end,               \
                                               int64_t i_begin, int64_t i_end);
CNNC__ACT_DECLARE(REF, ref)
CNNC__ACT_VARIANTS(CNNC__ACT_DECLARE)
#undef CNNC__ACT_DECLARE
#endif
