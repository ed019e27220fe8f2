/* The fast norm kernels compiled for AVX2+FMA (chosen at run time by norm.c). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("avx2,fma")
#include <stdint.h>

#define NORM_SUFFIX _avx2
#include "kernels/norm_body.h"

void cnnc__k_norm_stats_avx2(double *mean, double *m2, const float *x, int64_t nseg,
                             int64_t stride, int64_t len);
void cnnc__k_norm_apply_avx2(float *y, const float *x, int64_t n, float mhi, float mlo, float a,
                             float b);
void cnnc__k_norm_apply_vec_avx2(float *y, const float *x, int64_t n, float mhi, float mlo,
                                 float invstd, const float *w, const float *b);
void cnnc__k_norm_grad_sums_avx2(double *sg, double *sgd, const float *g, const float *x,
                                 int64_t n, float mhi, float mlo, const float *w);
void cnnc__k_norm_grad_apply_avx2(float *gx, const float *g, const float *x, int64_t n, float mhi,
                                  float mlo, const float *w, float A, float B, float C);

void cnnc__k_norm_col_sums_avx2(double *aw, double *ab, const float *g, const float *x,
                                int64_t n, float mhi, float mlo, float invstd);
void cnnc__k_norm_col_sums_avx2(double *aw, double *ab, const float *g, const float *x,
                                int64_t n, float mhi, float mlo, float invstd) {
    nb_col_sums_avx2(aw, ab, g, x, n, mhi, mlo, invstd);
}
void cnnc__k_norm_stats_avx2(double *mean, double *m2, const float *x, int64_t nseg,
                             int64_t stride, int64_t len) {
    nb_stats_avx2(mean, m2, x, nseg, stride, len);
}
void cnnc__k_norm_apply_avx2(float *y, const float *x, int64_t n, float mhi, float mlo, float a,
                             float b) {
    nb_apply_avx2(y, x, n, mhi, mlo, a, b);
}
void cnnc__k_norm_apply_vec_avx2(float *y, const float *x, int64_t n, float mhi, float mlo,
                                 float invstd, const float *w, const float *b) {
    nb_apply_vec_avx2(y, x, n, mhi, mlo, invstd, w, b);
}
void cnnc__k_norm_grad_sums_avx2(double *sg, double *sgd, const float *g, const float *x,
                                 int64_t n, float mhi, float mlo, const float *w) {
    nb_grad_sums_avx2(sg, sgd, g, x, n, mhi, mlo, w);
}
void cnnc__k_norm_grad_apply_avx2(float *gx, const float *g, const float *x, int64_t n, float mhi,
                                  float mlo, const float *w, float A, float B, float C) {
    nb_grad_apply_avx2(gx, g, x, n, mhi, mlo, w, A, B, C);
}
#else
typedef int cnnc__norm_avx2_unused; /* ISO C: a translation unit must not be empty */
#endif
