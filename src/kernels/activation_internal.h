/* Internal to src/kernels/activation*.c: the compiled variants of
 * activation_impl.h (reference, baseline fast, AVX2 fast, AVX-512 fast). */
#ifndef CNNC_KERNELS_ACTIVATION_INTERNAL_H
#define CNNC_KERNELS_ACTIVATION_INTERNAL_H
#include "kernels/activation.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define CNNC__ACT_X86 1
#else
#define CNNC__ACT_X86 0
#endif

#define CNNC__ACT_DECLARE(sfx)                                                              \
    void cnnc__k_act_forward_##sfx##_impl(cnnc__act op, const cnnc__act_params *p,           \
                                          float *out, const float *x, int64_t n);            \
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
CNNC__ACT_DECLARE(ref)
CNNC__ACT_DECLARE(fast)
#if CNNC__ACT_X86
CNNC__ACT_DECLARE(avx2)
CNNC__ACT_DECLARE(avx512)
#endif
#undef CNNC__ACT_DECLARE
#endif
