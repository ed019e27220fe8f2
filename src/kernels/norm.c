/* Norm kernels: plain references, the table of the fast variants (norm_scalar.c,
 * norm_avx2.c) and local response norm. */
#include "kernels/norm.h"

#include <math.h>
#include <stdbool.h>

#include "kernels/norm_internal.h"

/* ---- references --------------------------------------------------------------- */

void cnnc__k_norm_stats_ref(double *mean, double *m2, const float *x, int64_t nseg,
                            int64_t stride, int64_t len) {
    double s = 0.0;
    for (int64_t i = 0; i < nseg; i++)
        for (int64_t j = 0; j < len; j++) s += (double)x[i * stride + j];
    double mu = s / (double)(nseg * len), q = 0.0;
    for (int64_t i = 0; i < nseg; i++)
        for (int64_t j = 0; j < len; j++) {
            double d = (double)x[i * stride + j] - mu;
            q += d * d;
        }
    *mean = mu;
    *m2 = q;
}

void cnnc__k_norm_grad_sums_ref(double *sg, double *sgd, const float *g, const float *x,
                                int64_t n, float mhi, float mlo, const float *w) {
    double mean = (double)mhi + (double)mlo, s = 0.0, t = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double gv = (double)g[i] * (w ? (double)w[i] : 1.0);
        s += gv;
        t += gv * ((double)x[i] - mean);
    }
    *sg += s;
    *sgd += t;
}

void cnnc__k_norm_col_sums_ref(double *aw, double *ab, const float *g, const float *x, int64_t n,
                               float mhi, float mlo, float invstd) {
    double mean = (double)mhi + (double)mlo;
    for (int64_t i = 0; i < n; i++) {
        ab[i] += (double)g[i];
        aw[i] += (double)g[i] * ((double)x[i] - mean) * (double)invstd;
    }
}

void cnnc__k_norm_split(double mean, float *hi, float *lo) {
    float h = (float)mean;
    *hi = h;
    *lo = isfinite(h) ? (float)(mean - (double)h) : 0.0f;
}

/* ---- fast: the variant table ------------------------------------------------------- */

typedef struct norm_variant {
    cnnc__isa isa;
    const char *name;
    void (*stats)(double *mean, double *m2, const float *x, int64_t nseg, int64_t stride,
                  int64_t len);
    void (*apply)(float *y, const float *x, int64_t n, float mhi, float mlo, float a, float b);
    void (*apply_vec)(float *y, const float *x, int64_t n, float mhi, float mlo, float invstd,
                      const float *w, const float *b);
    void (*grad_sums)(double *sg, double *sgd, const float *g, const float *x, int64_t n,
                      float mhi, float mlo, const float *w);
    void (*grad_apply)(float *gx, const float *g, const float *x, int64_t n, float mhi,
                       float mlo, const float *w, float A, float B, float C);
    void (*col_sums)(double *aw, double *ab, const float *g, const float *x, int64_t n,
                     float mhi, float mlo, float invstd);
    void (*act_apply)(float *y, uint32_t *bits, const float *x, int64_t n, float mhi, float mlo,
                      float a, float b, const cnnc__norm_act *act);
    void (*masked_grad_sums)(double *sg, double *sgd, const float *g, const uint32_t *bits,
                             const float *x, int64_t n, float mhi, float mlo);
    void (*masked_grad_apply)(float *gx, const float *g, const uint32_t *bits, const float *x,
                              int64_t n, float mhi, float mlo, float A, float B, float C);
} norm_variant;

static const norm_variant variants[] = {
#define CNNC__X(isa, sfx)                                                                   \
    {CNNC__ISA_##isa, "f32_norm__" #sfx, cnnc__k_norm_stats_##sfx, cnnc__k_norm_apply_##sfx, \
     cnnc__k_norm_apply_vec_##sfx, cnnc__k_norm_grad_sums_##sfx,                           \
     cnnc__k_norm_grad_apply_##sfx, cnnc__k_norm_col_sums_##sfx, cnnc__k_norm_act_apply_##sfx,  \
     cnnc__k_norm_masked_grad_sums_##sfx, cnnc__k_norm_masked_grad_apply_##sfx},
    CNNC__NORM_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, norm_variant, variants)

const char *cnnc__k_norm_variant_name(cnnc__isa isa) { return variant(isa)->name; }

void cnnc__k_norm_stats(cnnc__isa isa, double *mean, double *m2, const float *x, int64_t nseg,
                        int64_t stride, int64_t len) {
    variant(isa)->stats(mean, m2, x, nseg, stride, len);
}
void cnnc__k_norm_apply(cnnc__isa isa, float *y, const float *x, int64_t n, float mhi, float mlo,
                        float a, float b) {
    variant(isa)->apply(y, x, n, mhi, mlo, a, b);
}
void cnnc__k_norm_apply_vec(cnnc__isa isa, float *y, const float *x, int64_t n, float mhi,
                            float mlo, float invstd, const float *w, const float *b) {
    variant(isa)->apply_vec(y, x, n, mhi, mlo, invstd, w, b);
}
void cnnc__k_norm_grad_sums(cnnc__isa isa, double *sg, double *sgd, const float *g,
                            const float *x, int64_t n, float mhi, float mlo, const float *w) {
    variant(isa)->grad_sums(sg, sgd, g, x, n, mhi, mlo, w);
}
void cnnc__k_norm_grad_apply(cnnc__isa isa, float *gx, const float *g, const float *x, int64_t n,
                             float mhi, float mlo, const float *w, float A, float B, float C) {
    variant(isa)->grad_apply(gx, g, x, n, mhi, mlo, w, A, B, C);
}
void cnnc__k_norm_col_sums(cnnc__isa isa, double *aw, double *ab, const float *g, const float *x,
                           int64_t n, float mhi, float mlo, float invstd) {
    variant(isa)->col_sums(aw, ab, g, x, n, mhi, mlo, invstd);
}

void cnnc__k_norm_act_apply(cnnc__isa isa, float *y, uint32_t *bits, const float *x, int64_t n,
                            float mhi, float mlo, float a, float b, const cnnc__norm_act *act) {
    variant(isa)->act_apply(y, bits, x, n, mhi, mlo, a, b, act);
}
void cnnc__k_norm_masked_grad_sums(cnnc__isa isa, double *sg, double *sgd, const float *g,
                                   const uint32_t *bits, const float *x, int64_t n, float mhi,
                                   float mlo) {
    variant(isa)->masked_grad_sums(sg, sgd, g, bits, x, n, mhi, mlo);
}
void cnnc__k_norm_masked_grad_apply(cnnc__isa isa, float *gx, const float *g, const uint32_t *bits,
                                    const float *x, int64_t n, float mhi, float mlo, float A,
                                    float B, float C) {
    variant(isa)->masked_grad_apply(gx, g, bits, x, n, mhi, mlo, A, B, C);
}

/* ---- local response norm ------------------------------------------------------------ */

/* den^-beta and den^(-beta-1) for one value */
static inline double lrn_pow(double den, double beta) {
    if (beta == 0.75) return 1.0 / (sqrt(den) * sqrt(sqrt(den)));
    if (beta == 0.5) return 1.0 / sqrt(den);
    if (beta == 1.0) return 1.0 / den;
    return pow(den, -beta);
}

enum { LRN_BLOCK = 256 };

/* Calls body(c, den[]) for every channel c with den over the spatial block
 * [s0, s0 + w). Each window's sum of squares is summed afresh (size terms, all
 * non-negative) rather than slid by adding the new channel and subtracting the old:
 * the subtraction cancels (1e18 + 1 - 1e18) and turns Inf into NaN (Inf - Inf), and a
 * NaN must reach exactly the channels whose window holds it, as PyTorch's avg_pool
 * formulation does. */
#define LRN_SWEEP(x, p, s0, w, ...)                                                   \
    do {                                                                                \
        double den_[LRN_BLOCK];                                                         \
        int64_t lo_ = (p)->size / 2, hi_ = ((p)->size - 1) / 2;                         \
        double scale_ = (p)->alpha / (double)(p)->size;                                 \
        for (int64_t c = 0; c < (p)->C; c++) {                                          \
            int64_t q0_ = c - lo_ > 0 ? c - lo_ : 0;                                    \
            int64_t q1_ = c + hi_ < (p)->C - 1 ? c + hi_ : (p)->C - 1;                  \
            lrn_window_sum(den_, (x) + (s0), (p)->S, q0_, q1_, (w));                    \
            for (int64_t j_ = 0; j_ < (w); j_++) den_[j_] = (p)->k + scale_ * den_[j_];  \
            double *den = den_;                                                         \
            __VA_ARGS__                                                                 \
        }                                                                               \
    } while (0)

/* acc[j] = sum_{q in [q0, q1]} x[q * S + j]^2 for j < w (0 for an empty range). */
static void lrn_window_sum(double *acc, const float *x, int64_t S, int64_t q0, int64_t q1,
                           int64_t w) {
    for (int64_t j = 0; j < w; j++) acc[j] = 0.0;
    for (int64_t q = q0; q <= q1; q++) {
        const float *r = x + q * S;
        for (int64_t j = 0; j < w; j++) acc[j] += (double)r[j] * r[j];
    }
}

void cnnc__k_lrn_forward(float *y, const float *x, const cnnc__lrn_params *p, int64_t s0,
                         int64_t s1) {
    for (int64_t b = s0; b < s1; b += LRN_BLOCK) {
        int64_t w = s1 - b < LRN_BLOCK ? s1 - b : LRN_BLOCK;
        LRN_SWEEP(x, p, b, w, {
            const float *xr = x + c * p->S + b;
            float *yr = y + c * p->S + b;
            for (int64_t j = 0; j < w; j++) yr[j] = (float)((double)xr[j] * lrn_pow(den[j], p->beta));
        });
    }
}

void cnnc__k_lrn_backward_t(float *t, const float *g, const float *x, const cnnc__lrn_params *p,
                            int64_t s0, int64_t s1) {
    for (int64_t b = s0; b < s1; b += LRN_BLOCK) {
        int64_t w = s1 - b < LRN_BLOCK ? s1 - b : LRN_BLOCK;
        LRN_SWEEP(x, p, b, w, {
            int64_t o = c * p->S + b;
            for (int64_t j = 0; j < w; j++)
                t[o + j] = (float)((double)g[o + j] * x[o + j] * lrn_pow(den[j], p->beta) / den[j]);
        });
    }
}

void cnnc__k_lrn_backward_gx(float *gx, const float *g, const float *x, const float *t,
                             const cnnc__lrn_params *p, int64_t s0, int64_t s1) {
    /* c receives from c' with c in [c' - size/2, c' + (size-1)/2], i.e.
     * c' in [c - (size-1)/2, c + size/2]; summed afresh per channel (t has either sign,
     * so a sliding sum would cancel). */
    int64_t back = (p->size - 1) / 2, ahead = p->size / 2;
    double coef = 2.0 * p->alpha * p->beta / (double)p->size;
    for (int64_t b = s0; b < s1; b += LRN_BLOCK) {
        int64_t w = s1 - b < LRN_BLOCK ? s1 - b : LRN_BLOCK;
        double tsum[LRN_BLOCK];
        LRN_SWEEP(x, p, b, w, {
            int64_t q0 = c - back > 0 ? c - back : 0, q1 = c + ahead < p->C - 1 ? c + ahead : p->C - 1;
            for (int64_t j = 0; j < w; j++) tsum[j] = 0.0;
            for (int64_t q = q0; q <= q1; q++)
                for (int64_t j = 0; j < w; j++) tsum[j] += (double)t[q * p->S + b + j];
            int64_t o = c * p->S + b;
            for (int64_t j = 0; j < w; j++)
                gx[o + j] = (float)((double)g[o + j] * lrn_pow(den[j], p->beta) -
                                    coef * (double)x[o + j] * tsum[j]);
        });
    }
}

static double lrn_den_ref(const float *x, const cnnc__lrn_params *p, int64_t c, int64_t s) {
    double acc = 0.0;
    for (int64_t q = c - p->size / 2; q <= c + (p->size - 1) / 2; q++)
        if (q >= 0 && q < p->C) acc += (double)x[q * p->S + s] * x[q * p->S + s];
    return p->k + p->alpha / (double)p->size * acc;
}

void cnnc__k_lrn_forward_ref(float *y, const float *x, const cnnc__lrn_params *p) {
    for (int64_t c = 0; c < p->C; c++)
        for (int64_t s = 0; s < p->S; s++)
            y[c * p->S + s] = (float)(x[c * p->S + s] * pow(lrn_den_ref(x, p, c, s), -p->beta));
}

void cnnc__k_lrn_backward_ref(float *gx, const float *g, const float *x, const cnnc__lrn_params *p) {
    for (int64_t c = 0; c < p->C; c++)
        for (int64_t s = 0; s < p->S; s++) {
            double v = g[c * p->S + s] * pow(lrn_den_ref(x, p, c, s), -p->beta);
            for (int64_t q = 0; q < p->C; q++) {
                if (c < q - p->size / 2 || c > q + (p->size - 1) / 2) continue;
                double dq = lrn_den_ref(x, p, q, s);
                v -= 2.0 * p->alpha * p->beta / (double)p->size * x[c * p->S + s] *
                     g[q * p->S + s] * x[q * p->S + s] * pow(dq, -p->beta - 1.0);
            }
            gx[c * p->S + s] = (float)v;
        }
}
