/* Internal to src/kernels/norm*.c: the fast norm kernels compiled per ISA level
 * (norm_body.h in norm_scalar.c, norm_avx2.c and norm_avx512.c). */
#ifndef CNNC_KERNELS_NORM_INTERNAL_H
#define CNNC_KERNELS_NORM_INTERNAL_H
#include "kernels/norm.h"

/* X-list of the variants, fastest first: (level, suffix of the functions). The
 * AVX-512 copy works on 16-float and 8-double vectors (the others on 8 and 4). */
#if CNNC__ISA_X86
#define CNNC__NORM_SIMD_VARIANTS(X) \
    X(AVX512, avx512)               \
    X(AVX2, avx2)
#else
#define CNNC__NORM_SIMD_VARIANTS(X)
#endif
#define CNNC__NORM_VARIANTS(X)  \
    CNNC__NORM_SIMD_VARIANTS(X) \
    X(SCALAR, scalar)

#define CNNC__NORM_DECLARE(isa, sfx)                                                          \
    void cnnc__k_norm_stats_##sfx(double *mean, double *m2, const float *x, int64_t nseg,    \
                                  int64_t stride, int64_t len);                              \
    void cnnc__k_norm_apply_##sfx(float *y, const float *x, int64_t n, float mhi, float mlo, \
                                  float a, float b);                                         \
    void cnnc__k_norm_apply_vec_##sfx(float *y, const float *x, int64_t n, float mhi,        \
                                      float mlo, float invstd, const float *w,               \
                                      const float *b);                                       \
    void cnnc__k_norm_grad_sums_##sfx(double *sg, double *sgd, const float *g,               \
                                      const float *x, int64_t n, float mhi, float mlo,       \
                                      const float *w);                                       \
    void cnnc__k_norm_grad_apply_##sfx(float *gx, const float *g, const float *x, int64_t n, \
                                       float mhi, float mlo, const float *w, float A,        \
                                       float B, float C);                                    \
    void cnnc__k_norm_act_apply_##sfx(float *y, uint32_t *bits, const float *x, int64_t n,  \
                                      float mhi, float mlo, float a, float b,                \
                                      const cnnc__norm_act *act);                            \
    void cnnc__k_norm_masked_grad_sums_##sfx(double *sg, double *sgd, const float *g,        \
                                             const uint32_t *bits, const float *x,           \
                                             int64_t n, float mhi, float mlo);               \
    void cnnc__k_norm_masked_grad_apply_##sfx(float *gx, const float *g,                     \
                                              const uint32_t *bits, const float *x,          \
                                              int64_t n, float mhi, float mlo, float A,      \
                                              float B, float C);                             \
    void cnnc__k_norm_col_sums_##sfx(double *aw, double *ab, const float *g, const float *x, \
                                     int64_t n, float mhi, float mlo, float invstd);
CNNC__NORM_VARIANTS(CNNC__NORM_DECLARE)
#undef CNNC__NORM_DECLARE
#endif
