/* Internal: cross entropy over class indices from the logits (kernels/loss.h),
 * written once and compiled per variant through loss_impl.h. NOT include-guarded.
 *
 * Two layouts: a position's classes are contiguous (inner == 1, [n, c] logits: one
 * row per position) or strided by inner (K-dim inputs: a run of positions is a run
 * of columns, vectorized across them). Sums follow one fixed order per layout (the
 * result does not depend on how positions are split over threads): a row's that of
 * row_reduce.h (16 float lanes over chunks of 256 classes, chunks added in double);
 * a column's float sums of CE_FLUSH classes, added in double. */

#define ROW_EXP(x) LOSS_EXP(x)
#include "kernels/row_reduce.h"

enum { CE_COLS = 256, CE_FLUSH = 32 };

/* ---- contiguous rows -------------------------------------------------------------- */

/* sum_i w[i] ((x[i] - m) - lse) over [0, c) (w NULL: ones) */
static double row_sum_lp(const float *x, const float *w, int64_t c, float m, float lse) {
    double total = 0.0;
    if (w)
        ROW_SUM(total, c, i, ((x[i] - m) - lse) * w[i]);
    else
        ROW_SUM(total, c, i, (x[i] - m) - lse);
    return total;
}

/* the per-position outputs from m, lse and (with smoothing) sum_c w[c] lp[c] */
static inline void ce_outputs(const cnnc__ce_args *a, int64_t t, float m, float lse,
                              float xt, double wlp, float *stat, float *nll, float *smooth) {
    const bool skip = t == a->ignore;
    if (stat) stat[0] = m, stat[1] = lse;
    *nll = skip ? 0.0f : -((xt - m) - lse) * (a->w ? a->w[t] : 1.0f);
    *smooth = skip || !a->smooth ? 0.0f : (float)-wlp;
}

static void ce_rows_forward(const cnnc__ce_args *a, float *stat, float *nll, float *smooth,
                            int64_t nb, int64_t s0, int64_t s1) {
    for (int64_t k = 0, p = nb + s0; p < nb + s1; p++, k++) { /* inner == 1: p = nb + s */
        const float *x = a->x + p * a->c;
        const int64_t t = a->t[p];
        const float m = row_max(x, a->c);
        const float lse = LOSS_LOG((float)row_sum_exp(x, a->c, m, NULL));
        const double wlp = a->smooth ? row_sum_lp(x, a->w, a->c, m, lse) : 0.0;
        const float xt = t == a->ignore ? 0.0f : x[t];
        ce_outputs(a, t, m, lse, xt, wlp, stat ? stat + 2 * k : NULL, nll + k, smooth + k);
    }
}

/* gx[i] = -(b w[i]) - e^((x[i] - m) - lse) s over the row; the target's gl then has
 * -(w[t] a) added, as nll_loss's gradient into log_softmax's backward */
static void ce_rows_backward(const cnnc__ce_args *a, float *gx, const float *stat,
                             const float *coef, float wsum, int64_t nb, int64_t s0, int64_t s1) {
    const int64_t c = a->c;
    for (int64_t k = 0, p = nb + s0; p < nb + s1; p++, k++) {
        const float *x = a->x + p * c, m = stat[2 * k], lse = stat[2 * k + 1];
        const float ca = coef[2 * k], cb = coef[2 * k + 1];
        const int64_t t = a->t[p];
        const bool skip = t == a->ignore;
        const float wt = skip ? 0.0f : a->w ? a->w[t] : 1.0f;
        const float s = -(cb * wsum) + -(wt * ca); /* sum_c gl[c] */
        float *g = gx + p * c;
        if (a->w)
            for (int64_t i = 0; i < c; i++) g[i] = -(cb * a->w[i]) - LOSS_EXP((x[i] - m) - lse) * s;
        else
            for (int64_t i = 0; i < c; i++) g[i] = -(cb * 1.0f) - LOSS_EXP((x[i] - m) - lse) * s;
        if (!skip) g[t] = (-(cb * wt) + -(wt * ca)) - LOSS_EXP((x[t] - m) - lse) * s;
    }
}

/* ---- strided columns (inner > 1) --------------------------------------------------- */

/* Positions [j0, j0 + nc) of batch nb's columns (nc <= CE_COLS): x0 points at
 * class 0 of column j0. */
static void ce_cols_forward(const cnnc__ce_args *a, const float *x0, const int64_t *t, int nc,
                            float *stat, float *nll, float *smooth) {
    const int64_t c = a->c, inner = a->inner;
    float m[CE_COLS], lse[CE_COLS], acc[CE_COLS];
    double sum[CE_COLS];
    for (int j = 0; j < nc; j++) m[j] = -INFINITY, sum[j] = 0.0, acc[j] = 0.0f;
    for (int64_t cl = 0; cl < c; cl++) {
        const float *r = x0 + cl * inner;
        for (int j = 0; j < nc; j++) m[j] = r[j] > m[j] ? r[j] : m[j];
    }
    for (int64_t cl = 0; cl < c; cl++) { /* float sums of CE_FLUSH classes, then double */
        const float *r = x0 + cl * inner;
        for (int j = 0; j < nc; j++) acc[j] += LOSS_EXP(r[j] - m[j]);
        if ((cl + 1) % CE_FLUSH == 0 || cl + 1 == c)
            for (int j = 0; j < nc; j++) sum[j] += (double)acc[j], acc[j] = 0.0f;
    }
    for (int j = 0; j < nc; j++) lse[j] = (float)sum[j];
    for (int j = 0; j < nc; j++) lse[j] = LOSS_LOG(lse[j]);
    if (a->smooth) {
        for (int j = 0; j < nc; j++) sum[j] = 0.0;
        for (int64_t cl = 0; cl < c; cl++) {
            const float *r = x0 + cl * inner, wc = a->w ? a->w[cl] : 1.0f;
            for (int j = 0; j < nc; j++) acc[j] += ((r[j] - m[j]) - lse[j]) * wc;
            if ((cl + 1) % CE_FLUSH == 0 || cl + 1 == c)
                for (int j = 0; j < nc; j++) sum[j] += (double)acc[j], acc[j] = 0.0f;
        }
    }
    for (int j = 0; j < nc; j++) {
        const bool skip = t[j] == a->ignore;
        const float xt = skip ? 0.0f : x0[t[j] * inner + j];
        ce_outputs(a, t[j], m[j], lse[j], xt, a->smooth ? sum[j] : 0.0,
                   stat ? stat + 2 * j : NULL, nll + j, smooth + j);
    }
}

static void ce_cols_backward(const cnnc__ce_args *a, const float *x0, float *g0,
                             const int64_t *t, int nc, const float *stat, const float *coef,
                             float wsum) {
    const int64_t c = a->c, inner = a->inner;
    float m[CE_COLS], lse[CE_COLS], cb[CE_COLS], s[CE_COLS], wt[CE_COLS];
    for (int j = 0; j < nc; j++) {
        const bool skip = t[j] == a->ignore;
        m[j] = stat[2 * j], lse[j] = stat[2 * j + 1], cb[j] = coef[2 * j + 1];
        wt[j] = skip ? 0.0f : a->w ? a->w[t[j]] : 1.0f;
        s[j] = -(cb[j] * wsum) + -(wt[j] * coef[2 * j]);
    }
    for (int64_t cl = 0; cl < c; cl++) {
        const float *r = x0 + cl * inner, wc = a->w ? a->w[cl] : 1.0f;
        float *g = g0 + cl * inner;
        for (int j = 0; j < nc; j++) g[j] = -(cb[j] * wc) - LOSS_EXP((r[j] - m[j]) - lse[j]) * s[j];
    }
    for (int j = 0; j < nc; j++)
        if (t[j] != a->ignore) {
            const int64_t o = t[j] * inner + j;
            g0[o] = (-(cb[j] * wt[j]) + -(wt[j] * coef[2 * j])) -
                    LOSS_EXP((x0[o] - m[j]) - lse[j]) * s[j];
        }
}

/* ---- the entry points ------------------------------------------------------------- */

void LOSS_FN(ce_forward)(const cnnc__ce_args *a, float *stat, float *nll, float *smooth,
                         int64_t nb, int64_t s0, int64_t s1) {
    if (a->inner == 1) {
        ce_rows_forward(a, stat, nll, smooth, nb, s0, s1);
        return;
    }
    const float *xb = a->x + nb * a->c * a->inner;
    const int64_t *tb = a->t + nb * a->inner;
    for (int64_t j0 = s0; j0 < s1; j0 += CE_COLS) {
        const int nc = (int)(s1 - j0 < CE_COLS ? s1 - j0 : CE_COLS);
        const int64_t k = j0 - s0;
        ce_cols_forward(a, xb + j0, tb + j0, nc, stat ? stat + 2 * k : NULL, nll + k, smooth + k);
    }
}

void LOSS_FN(ce_backward)(const cnnc__ce_args *a, float *gx, const float *stat, const float *coef,
                          float wsum, int64_t nb, int64_t s0, int64_t s1) {
    if (a->inner == 1) {
        ce_rows_backward(a, gx, stat, coef, wsum, nb, s0, s1);
        return;
    }
    const int64_t off = nb * a->c * a->inner;
    const int64_t *tb = a->t + nb * a->inner;
    for (int64_t j0 = s0; j0 < s1; j0 += CE_COLS) {
        const int nc = (int)(s1 - j0 < CE_COLS ? s1 - j0 : CE_COLS);
        const int64_t k = j0 - s0;
        ce_cols_backward(a, a->x + off + j0, gx + off + j0, tb + j0, nc, stat + 2 * k,
                         coef + 2 * k, wsum);
    }
}
