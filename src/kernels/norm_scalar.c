/* The fast norm kernels for the baseline target (the SCALAR level): norm_body.h
 * where GCC/Clang vector extensions exist, else plain loops. */
#include "kernels/norm_internal.h"

#if defined(__GNUC__)
/* the body's helpers are static and inlined: the AVX vector-ABI note (reported
 * at the end of the file) does not apply */
#pragma GCC diagnostic ignored "-Wpsabi"
#define NORM_SUFFIX scalar
#include "kernels/norm_body.h"
#else
void cnnc__k_norm_stats_scalar(double *mean, double *m2, const float *x, int64_t nseg,
                               int64_t stride, int64_t len) {
    cnnc__k_norm_stats_ref(mean, m2, x, nseg, stride, len);
}
void cnnc__k_norm_apply_scalar(float *y, const float *x, int64_t n, float mhi, float mlo,
                               float a, float b) {
    for (int64_t i = 0; i < n; i++) y[i] = ((x[i] - mhi) - mlo) * a + b;
}
void cnnc__k_norm_apply_vec_scalar(float *y, const float *x, int64_t n, float mhi, float mlo,
                                   float invstd, const float *w, const float *b) {
    for (int64_t i = 0; i < n; i++) {
        float t = ((x[i] - mhi) - mlo) * invstd;
        if (w) t *= w[i];
        if (b) t += b[i];
        y[i] = t;
    }
}
void cnnc__k_norm_grad_sums_scalar(double *sg, double *sgd, const float *g, const float *x,
                                   int64_t n, float mhi, float mlo, const float *w) {
    cnnc__k_norm_grad_sums_ref(sg, sgd, g, x, n, mhi, mlo, w);
}
void cnnc__k_norm_grad_apply_scalar(float *gx, const float *g, const float *x, int64_t n,
                                    float mhi, float mlo, const float *w, float A, float B,
                                    float C) {
    for (int64_t i = 0; i < n; i++) {
        float gv = w ? g[i] * w[i] : g[i];
        gx[i] = gv * A + ((x[i] - mhi) - mlo) * B + C;
    }
}
static float act1(float z, const cnnc__norm_act *act) {
    if (!act->clamp) return z < 0.0f ? 0.0f : z;
    float t = z < act->lo ? act->lo : z;
    return t > act->hi ? act->hi : t;
}
void cnnc__k_norm_act_apply_scalar(float *y, uint32_t *bits, const float *x, int64_t n, float mhi,
                                   float mlo, float a, float b, const cnnc__norm_act *act) {
    for (int64_t i = 0; i < n; i++) {
        y[i] = act1(((x[i] - mhi) - mlo) * a + b, act);
        bool pass = act->clamp ? y[i] > act->lo && y[i] < act->hi : !(y[i] <= 0.0f);
        if (!bits) continue;
        if ((i & 31) == 0) bits[i >> 5] = 0;
        bits[i >> 5] |= (uint32_t)pass << (i & 31);
    }
}
static float gated(const float *g, const uint32_t *bits, int64_t i) {
    return (bits[i >> 5] >> (i & 31)) & 1u ? g[i] : 0.0f;
}
void cnnc__k_norm_masked_grad_sums_scalar(double *sg, double *sgd, const float *g,
                                          const uint32_t *bits, const float *x, int64_t n,
                                          float mhi, float mlo) {
    double mean = (double)mhi + (double)mlo, s = 0.0, t = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double gv = (double)gated(g, bits, i);
        s += gv;
        t += gv * ((double)x[i] - mean);
    }
    *sg += s;
    *sgd += t;
}
void cnnc__k_norm_masked_grad_apply_scalar(float *gx, const float *g, const uint32_t *bits,
                                           const float *x, int64_t n, float mhi, float mlo, float A,
                                           float B, float C) {
    for (int64_t i = 0; i < n; i++) gx[i] = gated(g, bits, i) * A + ((x[i] - mhi) - mlo) * B + C;
}
void cnnc__k_norm_col_sums_scalar(double *aw, double *ab, const float *g, const float *x,
                                  int64_t n, float mhi, float mlo, float invstd) {
    cnnc__k_norm_col_sums_ref(aw, ab, g, x, n, mhi, mlo, invstd);
}
#endif
