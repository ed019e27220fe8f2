/* Internal kernels for the norm family (batch/instance/layer/group norm, local
 * response norm). Raw pointers and dims, outputs first, no allocation.
 *
 * Statistics are accumulated in double. A mean is carried as a float pair
 * (mhi, mlo) with mhi + mlo ~= mean to double precision, so that normalizing
 * computes ((x - mhi) - mlo), which stays exact-ish even when the mean is large
 * against the spread (mean 1e4, std 1): no x * a + b form that cancels.
 *
 * The fast kernels take the ISA level (kernels/isa.h) and run the variant
 * norm_internal.h lists for it; the _ref ones are the plain loops tests compare with.
 *
 * A "segment set" is nseg runs of len floats starting at x + i * stride (a batch
 * norm channel: N runs of H*W at stride C*H*W; a row: one run). */
#ifndef CNNC_KERNELS_NORM_H
#define CNNC_KERNELS_NORM_H
#include <stdbool.h>
#include <stdint.h>

#include "kernels/isa.h"

/* mean and m2 = sum (x - mean)^2 over a segment set (count = nseg * len > 0).
 * _ref: the plain two-pass reference over the whole set. The fast version works
 * on L1-sized chunks (shifted two-pass per chunk, merged with Chan's formula), so
 * the data is read from memory once. */
void cnnc__k_norm_stats_ref(double *mean, double *m2, const float *x, int64_t nseg,
                            int64_t stride, int64_t len);
void cnnc__k_norm_stats(cnnc__isa isa, double *mean, double *m2, const float *x, int64_t nseg,
                        int64_t stride, int64_t len);

/* Name of the fast variant a level runs ("f32_norm__avx2"). */
const char *cnnc__k_norm_variant_name(cnnc__isa isa);

/* Splits a double mean into (hi, lo) floats. */
void cnnc__k_norm_split(double mean, float *hi, float *lo);

/* y[i] = ((x[i] - mhi) - mlo) * a + b, i < n. */
void cnnc__k_norm_apply(cnnc__isa isa, float *y, const float *x, int64_t n, float mhi, float mlo,
                        float a, float b);
/* Layer norm row: y[j] = ((x[j] - mhi) - mlo) * invstd * w[j] + b[j]; w, b may be NULL
 * (1 and 0). */
void cnnc__k_norm_apply_vec(cnnc__isa isa, float *y, const float *x, int64_t n, float mhi,
                            float mlo, float invstd, const float *w, const float *b);

/* Backward sums over n elements, added into *sg and *sgd (double):
 * sg += sum g, sgd += sum g * ((x - mhi) - mlo). With w (layer norm; NULL is 1),
 * g is taken as g[j] * w[j]. */
void cnnc__k_norm_grad_sums(cnnc__isa isa, double *sg, double *sgd, const float *g,
                            const float *x, int64_t n, float mhi, float mlo, const float *w);
void cnnc__k_norm_grad_sums_ref(double *sg, double *sgd, const float *g, const float *x,
                                int64_t n, float mhi, float mlo, const float *w);
/* gx[i] = g[i] * (w ? w[i] : 1) * A + ((x[i] - mhi) - mlo) * B + C. */
void cnnc__k_norm_grad_apply(cnnc__isa isa, float *gx, const float *g, const float *x, int64_t n,
                             float mhi, float mlo, const float *w, float A, float B, float C);

/* A BatchNorm fused with the activation that alone reads its output (the model
 * runtime in training): ReLU (clamp false) or Hardtanh(lo, hi) with lo < hi (clamp
 * true; ReLU6 is (0, 6)), with the formulas of the activation kernels (NaN stays NaN).
 * The norm's output z is not kept: the forward records, one bit per element, where the
 * gradient passes: !(y <= 0) for ReLU (relu's backward from its result: NaN passes),
 * lo < y < hi for Hardtanh (y is inside exactly when z is; NaN does not pass), as the
 * activations' backwards decide. A row of n elements has (n + 31) / 32 words of bits,
 * bit i % 32 of word i / 32 for element i. */
typedef struct cnnc__norm_act {
    bool clamp;
    float lo, hi;
} cnnc__norm_act;
/* y[i] = act(((x[i] - mhi) - mlo) * a + b) (cnnc__k_norm_apply, then act), and the row's
 * bits (bits NULL: none). */
void cnnc__k_norm_act_apply(cnnc__isa isa, float *y, uint32_t *bits, const float *x, int64_t n,
                            float mhi, float mlo, float a, float b, const cnnc__norm_act *act);
/* cnnc__k_norm_grad_sums (w NULL) and cnnc__k_norm_grad_apply (w NULL) with g[i] taken
 * as +0 where bit i of the row's bits is clear: the same bits as the activation's
 * backward (a gradient tensor) followed by the unfused kernels. */
void cnnc__k_norm_masked_grad_sums(cnnc__isa isa, double *sg, double *sgd, const float *g,
                                   const uint32_t *bits, const float *x, int64_t n, float mhi,
                                   float mlo);
void cnnc__k_norm_masked_grad_apply(cnnc__isa isa, float *gx, const float *g, const uint32_t *bits,
                                    const float *x, int64_t n, float mhi, float mlo, float A,
                                    float B, float C);

/* Layer norm weight/bias gradient columns for one row: ab[i] += g[i],
 * aw[i] += g[i] * ((x[i] - mhi) - mlo) * invstd. */
void cnnc__k_norm_col_sums(cnnc__isa isa, double *aw, double *ab, const float *g, const float *x,
                           int64_t n, float mhi, float mlo, float invstd);
void cnnc__k_norm_col_sums_ref(double *aw, double *ab, const float *g, const float *x, int64_t n,
                               float mhi, float mlo, float invstd);

/* Local response norm over channels, for one image [C, S] and the spatial range
 * [s0, s1): den[c] = k + alpha / size * sum_{c' in [c - size/2, c + (size-1)/2]} x[c']^2.
 * Forward: y = x * den^-beta. */
typedef struct cnnc__lrn_params {
    int64_t C, S, size;
    double alpha, beta, k;
} cnnc__lrn_params;
void cnnc__k_lrn_forward(float *y, const float *x, const cnnc__lrn_params *p, int64_t s0,
                         int64_t s1);
/* Backward, in two phases over the same ranges: phase 1 writes
 * t = g * x * den^(-beta-1) into t; phase 2 writes
 * gx = g * den^-beta - 2 alpha beta / size * x * sum_{c' : c in window(c')} t[c']. */
void cnnc__k_lrn_backward_t(float *t, const float *g, const float *x, const cnnc__lrn_params *p,
                            int64_t s0, int64_t s1);
void cnnc__k_lrn_backward_gx(float *gx, const float *g, const float *x, const float *t,
                             const cnnc__lrn_params *p, int64_t s0, int64_t s1);
/* Plain references (per element window loops). */
void cnnc__k_lrn_forward_ref(float *y, const float *x, const cnnc__lrn_params *p);
void cnnc__k_lrn_backward_ref(float *gx, const float *g, const float *x, const cnnc__lrn_params *p);
#endif
