/* Internal kernels of the loss family (ops/loss*.c):
 *   - the pointwise losses (mse, l1, smooth_l1, huber, kl_div, binary_cross_entropy
 *     and its logits form): a forward and a backward formula per element;
 *   - cross entropy over class indices straight from the logits (log-softmax over
 *     the class dim, the target's term and label smoothing's sum in one pass; the
 *     backward recomputes the softmax from the saved per-position max and log-sum).
 *
 * Every kernel exists as a reference (libm's expf/logf/log1pf, compiled for the
 * baseline ISA) and as fast variants (activation_math.h's vectorizable
 * approximations, compiled once per ISA level: AVX-512, AVX2+FMA and the baseline;
 * loss_internal.h lists them). Both follow PyTorch 1.13's CPU formulas operation by
 * operation. Raw pointers, outputs first, no allocation; each works on a range so
 * the op layer can split it over threads. */
#ifndef CNNC_KERNELS_LOSS_H
#define CNNC_KERNELS_LOSS_H
#include <stdbool.h>
#include <stdint.h>

#include "kernels/isa.h"

/* ---- the pointwise losses ------------------------------------------------------------ */

/* X(ENUM, name) */
#define CNNC__PWL_LIST(X)            \
    X(MSE, mse)                      \
    X(L1, l1)                        \
    X(SMOOTH_L1, smooth_l1)          \
    X(HUBER, huber)                  \
    X(KL_DIV, kl_div)                \
    X(BCE, bce)                      \
    X(BCE_LOGITS, bce_logits)

typedef enum cnnc__pwl {
#define CNNC__PWL_ENUM(E, n) CNNC__PWL_##E,
    CNNC__PWL_LIST(CNNC__PWL_ENUM)
#undef CNNC__PWL_ENUM
    CNNC__PWL_COUNT
} cnnc__pwl;

/* What a pointwise loss reads: elements [0, n) of each array (w: binary cross
 * entropy's weight, pw: the logits form's pos_weight; NULL when absent). */
typedef struct cnnc__pwl_args {
    const float *x, *y, *w, *pw; /* input, target, weight, pos_weight */
    float a;                     /* smooth_l1's beta, huber's delta */
    bool flag;                   /* kl_div's log_target */
    double scale;                /* the reduction's factor: 1, 1/n (mean), 1/size(0) */
} cnnc__pwl_args;

/* "mse", ... */
const char *cnnc__pwl_name(cnnc__pwl op);
/* Name of the fast variant a level runs ("f32_loss__avx2"). */
const char *cnnc__k_loss_variant_name(cnnc__isa isa);

/* out[i - begin] = the loss of element i, for i in [begin, end). */
void cnnc__k_pwl_forward(cnnc__isa isa, cnnc__pwl op, const cnnc__pwl_args *a, float *out,
                         int64_t begin, int64_t end);
/* gx[i] and gy[i] (each NULL when not wanted) for i in [begin, end), from the
 * result's gradient g[i] ("none"), or the 0-d gradient g0 when g is NULL (the
 * formula applies a->scale, in PyTorch's order of operations). */
void cnnc__k_pwl_backward(cnnc__isa isa, cnnc__pwl op, const cnnc__pwl_args *a, float *gx,
                          float *gy, const float *g, float g0, int64_t begin, int64_t end);
void cnnc__k_pwl_forward_ref(cnnc__pwl op, const cnnc__pwl_args *a, float *out, int64_t begin,
                             int64_t end);
void cnnc__k_pwl_backward_ref(cnnc__pwl op, const cnnc__pwl_args *a, float *gx, float *gy,
                              const float *g, float g0, int64_t begin, int64_t end);

/* ---- cross entropy over class indices ------------------------------------------------ */

/* The logits x as [n, c, inner] (inner: the product of the spatial dims; 1 for [n, c])
 * and the targets t as [n, inner]. A position is (batch index, inner offset). */
typedef struct cnnc__ce_args {
    const float *x;   /* [n, c, inner] */
    const int64_t *t; /* [n, inner] */
    const float *w;   /* [c] class weights, or NULL (all ones) */
    int64_t c, inner;
    int64_t ignore;   /* ignore_index */
    bool smooth;      /* label smoothing on: also sum_c w[c] lp[c] */
} cnnc__ce_args;

/* The positions (nb, s) for s in [s0, s1) of batch nb (len = s1 - s0; with inner == 1
 * any nb and s: the row is nb + s). With
 * lp[c] = (x[c] - m) - lse, m the max over classes and lse = log sum_c e^(x[c] - m)
 * (PyTorch's log_softmax, sums in double):
 *   stat[2k], stat[2k+1] = m, lse                             (for the backward)
 *   nll[k]    = ignored ? 0 : -lp[t] w[t]
 *   smooth[k] = ignored or !smooth ? 0 : -sum_c w[c] lp[c]   (float of a double sum) */
void cnnc__k_ce_forward(cnnc__isa isa, const cnnc__ce_args *a, float *stat, float *nll,
                        float *smooth, int64_t nb, int64_t s0, int64_t s1);
/* The gradient of the logits at those positions, log_softmax's backward of the
 * nll gradient gl (PyTorch's composition): gl[c] = -(b w[c]) (smoothing; b = 0
 * without), gl[t] += -(w[t] a) where not ignored; gx[c] = gl[c] - e^lp[c] sum_c gl[c].
 * coef[2k], coef[2k+1] = a, b of position k (0, 0 where ignored); wsum = sum_c w[c]
 * (c without weights). gx is [n, c, inner] like x. */
void cnnc__k_ce_backward(cnnc__isa isa, const cnnc__ce_args *a, float *gx, const float *stat,
                         const float *coef, float wsum, int64_t nb, int64_t s0, int64_t s1);
void cnnc__k_ce_forward_ref(const cnnc__ce_args *a, float *stat, float *nll, float *smooth,
                            int64_t nb, int64_t s0, int64_t s1);
void cnnc__k_ce_backward_ref(const cnnc__ce_args *a, float *gx, const float *stat,
                             const float *coef, float wsum, int64_t nb, int64_t s0, int64_t s1);
#endif
