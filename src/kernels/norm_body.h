/* The fast norm kernels' bodies, written once with GCC/Clang vector extensions and
 * compiled per ISA level: norm_scalar.c includes this file for the baseline target,
 * norm_avx2.c for AVX2+FMA, norm_avx512.c for AVX-512 (with NB_W 16: 16-float and
 * 8-double vectors). NORM_SUFFIX (scalar, avx2, avx512) names the copies:
 * cnnc__k_norm_stats_<suffix>, ... (declared by norm_internal.h). Not a public
 * header. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#ifndef NORM_SUFFIX
#error "define NORM_SUFFIX before including kernels/norm_body.h"
#endif
#define NORM_CAT2(a, b) a##b
#define NORM_CAT(a, b) NORM_CAT2(a, b)
#define NORM_FN(name) NORM_CAT(name, NORM_SUFFIX)

/* NB_W floats per vector (8 unless the includer says 16), NB_H = NB_W / 2 doubles. */
#ifndef NB_W
#define NB_W 8
#endif
#define NB_H (NB_W / 2)
typedef float nb_vf __attribute__((vector_size(NB_W * 4)));
typedef float nb_vhf __attribute__((vector_size(NB_H * 4)));
typedef double nb_vd __attribute__((vector_size(NB_H * 8)));

/* NB_H floats widened to doubles (the includer may give a one-instruction form) */
#ifdef NB_LOADD
static inline nb_vd nb_loadd(const float *p) { return NB_LOADD(p); }
#else
static inline nb_vd nb_loadd(const float *p) {
    nb_vhf v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, nb_vd);
}
#endif
static inline nb_vf nb_loadf(const float *p) {
    nb_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void nb_storef(float *p, nb_vf v) { memcpy(p, &v, sizeof v); }
static inline nb_vf nb_splatf(float a) {
    nb_vf v;
    for (int k = 0; k < NB_W; k++) v[k] = a;
    return v;
}
static inline nb_vd nb_splatd(double a) {
    nb_vd v;
    for (int k = 0; k < NB_H; k++) v[k] = a;
    return v;
}
/* lanes summed pairwise, neighbours first: ((t0 + t1) + (t2 + t3)) + ... */
static inline double nb_hsum(nb_vd v) {
    double t[NB_H];
    memcpy(t, &v, sizeof t);
    for (int w = NB_H / 2; w > 0; w /= 2)
        for (int k = 0; k < w; k++) t[k] = t[2 * k] + t[2 * k + 1];
    return t[0];
}
/* the two halves of a float vector, widened */
static inline void nb_widen(nb_vf v, nb_vd *lo, nb_vd *hi) {
    float t[NB_W];
    memcpy(t, &v, sizeof t);
    *lo = nb_loadd(t);
    *hi = nb_loadd(t + NB_H);
}

/* Shifted sums of one contiguous chunk: s1 += sum (x - c), s2 += sum (x - c)^2, in
 * double lanes (the chunk total is then added to the caller's running total: a
 * two-level summation). */
static void NORM_FN(nb_chunk_sums_)(const float *x, int64_t n, double c, double *s1, double *s2) {
    nb_vd cc = nb_splatd(c);
    nb_vd s1a = nb_splatd(0.0), s1b = s1a, s2a = s1a, s2b = s1a;
    int64_t i = 0;
    for (; i + NB_W <= n; i += NB_W) {
        nb_vd d0 = nb_loadd(x + i) - cc, d1 = nb_loadd(x + i + NB_H) - cc;
        s1a += d0;
        s1b += d1;
        s2a += d0 * d0;
        s2b += d1 * d1;
    }
    double t1 = nb_hsum(s1a + s1b), t2 = nb_hsum(s2a + s2b);
    for (; i < n; i++) {
        double d = (double)x[i] - c;
        t1 += d;
        t2 += d * d;
    }
    *s1 += t1;
    *s2 += t2;
}

enum { NB_CHUNK = 2048, NB_SHIFT = 64 };

/* One pass over the data: the sums of deviations from a shift c (the mean of the
 * first values) give mean = c + s1/n and m2 = s2 - s1^2/n. s1/n is the distance
 * from c to the mean, a few standard deviations at most for real data, so in
 * double the subtraction loses nothing that float results could show: the 64
 * shift values are part of the data, so they sit at most sqrt(n / 64) standard
 * deviations from the mean, and the loss is ~(that)^2 * 1e-16 relative (2e-9 for
 * n = 1e9). No float cancellation as in a naive E[x^2] - E[x]^2. */
void NORM_FN(cnnc__k_norm_stats_)(double *mean, double *m2, const float *x, int64_t nseg,
                              int64_t stride, int64_t len) {
    int64_t first = len < NB_SHIFT ? len : NB_SHIFT;
    double c = 0.0;
    for (int64_t i = 0; i < first; i++) c += (double)x[i];
    c /= (double)first;
    if (!isfinite(c)) c = 0.0; /* inf/nan data: the sums carry it through */
    double s1 = 0.0, s2 = 0.0;
    for (int64_t sgi = 0; sgi < nseg; sgi++) {
        const float *p = x + sgi * stride;
        for (int64_t off = 0; off < len; off += NB_CHUNK)
            NORM_FN(nb_chunk_sums_)(p + off, len - off < NB_CHUNK ? len - off : NB_CHUNK, c,
                                    &s1, &s2);
    }
    double n = (double)(nseg * len), d = s1 / n;
    *mean = c + d;
    double v = s2 - s1 * d;
    *m2 = v > 0.0 ? v : (v == v ? 0.0 : v);
}

/* ---- the activation a BatchNorm may carry (the model runtime's fused pair) ---------- */

/* NB_RELU: y = z < 0 ? 0 : z, the gradient passes where !(y <= 0) (NaN too: relu's
 * backward from its result); NB_CLAMP: hardtanh(lo, hi), lo < hi, the gradient passes
 * where lo < y < hi (not on NaN: hardtanh's backward, y inside exactly when z is). The
 * formulas of activation_impl.h (fwd_relu, fwd_hardtanh, bwd_relu, bwd_hardtanh), lane
 * by lane. The forward records where the gradient passes as bits (bit i of word i / 32
 * for element i of the row), which the backward reads instead of y or z. */
enum { NB_RELU, NB_CLAMP };
#define NB_INLINE static inline __attribute__((always_inline))
typedef int32_t nb_vi __attribute__((vector_size(NB_W * 4)));

/* lanes of t where m is set, else of f */
NB_INLINE nb_vf nb_select(nb_vi m, nb_vf t, nb_vf f) { return (nb_vf)(((nb_vi)t & m) | ((nb_vi)f & ~m)); }

NB_INLINE nb_vf nb_act(nb_vf z, int mode, nb_vf lo, nb_vf hi) {
    if (mode == NB_RELU) return nb_select(z < nb_splatf(0.0f), nb_splatf(0.0f), z);
    nb_vf t = nb_select(z < lo, lo, z);
    return nb_select(t > hi, hi, t);
}
NB_INLINE float nb_act1(float z, int mode, float lo, float hi) {
    if (mode == NB_RELU) return z < 0.0f ? 0.0f : z;
    float t = z < lo ? lo : z;
    return t > hi ? hi : t;
}
/* all ones in the lanes where the gradient passes the activation whose result is y */
NB_INLINE nb_vi nb_pass(nb_vf y, int mode, nb_vf lo, nb_vf hi) {
    if (mode == NB_RELU) return ~(y <= nb_splatf(0.0f));
    return (y > lo) & (y < hi);
}
NB_INLINE bool nb_pass1(float y, int mode, float lo, float hi) {
    return mode == NB_RELU ? !(y <= 0.0f) : (y > lo && y < hi);
}
/* bit k set where lane k of m is set (the includer may give a one-instruction form) */
#ifndef NB_MOVEMASK
NB_INLINE uint32_t nb_movemask_(nb_vi m) {
    uint32_t r = 0;
    for (int k = 0; k < NB_W; k++) r |= (uint32_t)(m[k] & 1) << k;
    return r;
}
#define NB_MOVEMASK(m) nb_movemask_(m)
#endif
/* the lanes of the NB_W bits of word w from bit sh on, all ones where set */
NB_INLINE nb_vi nb_lanes(uint32_t w, int sh) {
    nb_vi bit = {0};
    for (int k = 0; k < NB_W; k++) bit[k] = (int32_t)(1u << k);
    return ((bit & (int32_t)(w >> sh)) == bit); /* the scalar broadcast to every lane */
}

/* the same for NB_H double lanes (bits sh .. sh + NB_H - 1) */
typedef int64_t nb_vl __attribute__((vector_size(NB_H * 8)));
NB_INLINE nb_vl nb_lanes_d(uint32_t w, int sh) {
    nb_vl bit = {0};
    for (int k = 0; k < NB_H; k++) bit[k] = (int64_t)1 << k;
    return ((bit & (int64_t)(w >> sh)) == bit);
}

/* y = act(((x - mhi) - mlo) * a + b), and the bits where the gradient passes */
NB_INLINE void nb_act_apply(float *y, uint32_t *bits, const float *x, int64_t n, float mhi, float mlo,
                            float a, float b, int mode, float lo, float hi) {
    nb_vf vh = nb_splatf(mhi), vl = nb_splatf(mlo);
    nb_vf va = nb_splatf(a), vb = nb_splatf(b), vlo = nb_splatf(lo), vhi = nb_splatf(hi);
    uint32_t w = 0;
    int64_t i = 0;
    for (; i + NB_W <= n; i += NB_W) {
        nb_vf t = nb_act(((nb_loadf(x + i) - vh) - vl) * va + vb, mode, vlo, vhi);
        nb_storef(y + i, t);
        if (!bits) continue;
        w |= NB_MOVEMASK(nb_pass(t, mode, vlo, vhi)) << (i & 31);
        if (((i + NB_W) & 31) == 0) bits[i >> 5] = w, w = 0;
    }
    for (; i < n; i++) {
        y[i] = nb_act1(((x[i] - mhi) - mlo) * a + b, mode, lo, hi);
        if (!bits) continue;
        w |= (uint32_t)nb_pass1(y[i], mode, lo, hi) << (i & 31);
        if (((i + 1) & 31) == 0) bits[i >> 5] = w, w = 0;
    }
    if (bits && (n & 31)) bits[n >> 5] = w;
}

void NORM_FN(cnnc__k_norm_apply_)(float *y, const float *x, int64_t n, float mhi, float mlo,
                                  float a, float b) {
    nb_vf vh = nb_splatf(mhi), vl = nb_splatf(mlo);
    nb_vf va = nb_splatf(a), vb = nb_splatf(b);
    int64_t i = 0;
    for (; i + NB_W <= n; i += NB_W) nb_storef(y + i, ((nb_loadf(x + i) - vh) - vl) * va + vb);
    for (; i < n; i++) y[i] = ((x[i] - mhi) - mlo) * a + b;
}

void NORM_FN(cnnc__k_norm_act_apply_)(float *y, uint32_t *bits, const float *x, int64_t n, float mhi,
                                      float mlo, float a, float b, const cnnc__norm_act *act) {
    if (act->clamp)
        nb_act_apply(y, bits, x, n, mhi, mlo, a, b, NB_CLAMP, act->lo, act->hi);
    else
        nb_act_apply(y, bits, x, n, mhi, mlo, a, b, NB_RELU, 0.0f, 0.0f);
}

void NORM_FN(cnnc__k_norm_apply_vec_)(float *y, const float *x, int64_t n, float mhi, float mlo,
                                  float invstd, const float *w, const float *b) {
    nb_vf vh = nb_splatf(mhi), vl = nb_splatf(mlo);
    nb_vf vs = nb_splatf(invstd);
    int64_t i = 0;
    for (; i + NB_W <= n; i += NB_W) {
        nb_vf t = ((nb_loadf(x + i) - vh) - vl) * vs;
        if (w) t *= nb_loadf(w + i);
        if (b) t += nb_loadf(b + i);
        nb_storef(y + i, t);
    }
    for (; i < n; i++) {
        float t = ((x[i] - mhi) - mlo) * invstd;
        if (w) t *= w[i];
        if (b) t += b[i];
        y[i] = t;
    }
}

/* sg += sum gv, sgd += sum gv * ((x - mhi) - mlo), gv = g * w (w not NULL), g where
 * its bit is set and +0 elsewhere (bits not NULL), or g */
NB_INLINE void nb_grad_sums(double *sg, double *sgd, const float *g, const float *x, int64_t n,
                            float mhi, float mlo, const float *w, const uint32_t *bits) {
    double h = (double)mhi, l = (double)mlo;
    nb_vd vh = nb_splatd(h), vl = nb_splatd(l);
    nb_vd a0 = nb_splatd(0.0), a1 = a0, b0 = a0, b1 = a0;
    int64_t i = 0;
    for (; i + NB_W <= n; i += NB_W) {
        nb_vd g0, g1;
        if (w) {
            nb_widen(nb_loadf(g + i) * nb_loadf(w + i), &g0, &g1);
        } else if (bits) { /* gated as doubles: +0 either way, no round trip through memory */
            const uint32_t word = bits[i >> 5];
#ifdef NB_LOADD_GATED
            g0 = NB_LOADD_GATED(g + i, word >> (i & 31));
            g1 = NB_LOADD_GATED(g + i + NB_H, word >> ((i & 31) + NB_H));
#else
            g0 = (nb_vd)((nb_vl)nb_loadd(g + i) & nb_lanes_d(word, (int)(i & 31)));
            g1 = (nb_vd)((nb_vl)nb_loadd(g + i + NB_H) & nb_lanes_d(word, (int)(i & 31) + NB_H));
#endif
        } else {
            g0 = nb_loadd(g + i);
            g1 = nb_loadd(g + i + NB_H);
        }
        nb_vd d0 = (nb_loadd(x + i) - vh) - vl, d1 = (nb_loadd(x + i + NB_H) - vh) - vl;
        a0 += g0;
        a1 += g1;
        b0 += g0 * d0;
        b1 += g1 * d1;
    }
    double s = nb_hsum(a0 + a1), t = nb_hsum(b0 + b1);
    for (; i < n; i++) {
        double gv = w      ? (double)(g[i] * w[i])
                    : bits ? (double)((bits[i >> 5] >> (i & 31)) & 1u ? g[i] : 0.0f)
                           : (double)g[i];
        s += gv;
        t += gv * (((double)x[i] - h) - l);
    }
    *sg += s;
    *sgd += t;
}

void NORM_FN(cnnc__k_norm_grad_sums_)(double *sg, double *sgd, const float *g, const float *x,
                                  int64_t n, float mhi, float mlo, const float *w) {
    nb_grad_sums(sg, sgd, g, x, n, mhi, mlo, w, NULL);
}

void NORM_FN(cnnc__k_norm_masked_grad_sums_)(double *sg, double *sgd, const float *g,
                                             const uint32_t *bits, const float *x, int64_t n,
                                             float mhi, float mlo) {
    nb_grad_sums(sg, sgd, g, x, n, mhi, mlo, NULL, bits);
}

/* gx = gv * A + ((x - mhi) - mlo) * B + C, gv as in nb_grad_sums */
NB_INLINE void nb_grad_apply(float *gx, const float *g, const float *x, int64_t n, float mhi,
                             float mlo, const float *w, const uint32_t *bits, float A, float B,
                             float C) {
    nb_vf vh = nb_splatf(mhi), vl = nb_splatf(mlo);
    nb_vf va = nb_splatf(A), vb = nb_splatf(B), vc = nb_splatf(C);
    int64_t i = 0;
    for (; i + NB_W <= n; i += NB_W) {
        nb_vf gv = nb_loadf(g + i);
        if (w) gv *= nb_loadf(w + i);
        else if (bits) gv = (nb_vf)((nb_vi)gv & nb_lanes(bits[i >> 5], (int)(i & 31)));
        nb_storef(gx + i, gv * va + ((nb_loadf(x + i) - vh) - vl) * vb + vc);
    }
    for (; i < n; i++) {
        float gv = w ? g[i] * w[i] : bits ? ((bits[i >> 5] >> (i & 31)) & 1u ? g[i] : 0.0f) : g[i];
        gx[i] = gv * A + ((x[i] - mhi) - mlo) * B + C;
    }
}

void NORM_FN(cnnc__k_norm_grad_apply_)(float *gx, const float *g, const float *x, int64_t n,
                                   float mhi, float mlo, const float *w, float A, float B,
                                   float C) {
    nb_grad_apply(gx, g, x, n, mhi, mlo, w, NULL, A, B, C);
}

void NORM_FN(cnnc__k_norm_masked_grad_apply_)(float *gx, const float *g, const uint32_t *bits,
                                              const float *x, int64_t n, float mhi, float mlo,
                                              float A, float B, float C) {
    nb_grad_apply(gx, g, x, n, mhi, mlo, NULL, bits, A, B, C);
}

void NORM_FN(cnnc__k_norm_col_sums_)(double *aw, double *ab, const float *g, const float *x,
                                 int64_t n, float mhi, float mlo, float invstd) {
    nb_vf vh = nb_splatf(mhi), vl = nb_splatf(mlo);
    nb_vf vs = nb_splatf(invstd);
    int64_t i = 0;
    for (; i + NB_W <= n; i += NB_W) {
        nb_vf gv = nb_loadf(g + i), gx = gv * (((nb_loadf(x + i) - vh) - vl) * vs);
        nb_vd g0, g1, p0, p1, b0, b1, w0, w1;
        nb_widen(gv, &g0, &g1);
        nb_widen(gx, &p0, &p1);
        memcpy(&b0, ab + i, sizeof b0);
        memcpy(&b1, ab + i + NB_H, sizeof b1);
        memcpy(&w0, aw + i, sizeof w0);
        memcpy(&w1, aw + i + NB_H, sizeof w1);
        b0 += g0;
        b1 += g1;
        w0 += p0;
        w1 += p1;
        memcpy(ab + i, &b0, sizeof b0);
        memcpy(ab + i + NB_H, &b1, sizeof b1);
        memcpy(aw + i, &w0, sizeof w0);
        memcpy(aw + i + NB_H, &w1, sizeof w1);
    }
    for (; i < n; i++) {
        ab[i] += (double)g[i];
        aw[i] += (double)(g[i] * (((x[i] - mhi) - mlo) * invstd));
    }
}

#undef NB_INLINE
#undef NB_MOVEMASK
#undef NB_LOADD
#undef NB_LOADD_GATED
#undef NORM_FN
#undef NORM_CAT
#undef NORM_CAT2
#undef NB_H
#undef NB_W
