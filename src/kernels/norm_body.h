/* The fast norm kernels' bodies, written once with GCC/Clang vector extensions and
 * compiled per ISA level: norm_scalar.c includes this file for the baseline target,
 * norm_avx2.c for AVX2+FMA. NORM_SUFFIX (scalar, avx2) names the copies:
 * cnnc__k_norm_stats_<suffix>, ... (declared by norm_internal.h). Not a public
 * header. */
#include <math.h>
#include <string.h>

#ifndef NORM_SUFFIX
#error "define NORM_SUFFIX before including kernels/norm_body.h"
#endif
#define NORM_CAT2(a, b) a##b
#define NORM_CAT(a, b) NORM_CAT2(a, b)
#define NORM_FN(name) NORM_CAT(name, NORM_SUFFIX)

typedef float nb_v4f __attribute__((vector_size(16)));
typedef float nb_v8f __attribute__((vector_size(32)));
typedef double nb_v4d __attribute__((vector_size(32)));

static inline nb_v4d nb_load4d(const float *p) {
    nb_v4f v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, nb_v4d);
}
static inline nb_v8f nb_load8f(const float *p) {
    nb_v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void nb_store8f(float *p, nb_v8f v) { memcpy(p, &v, sizeof v); }
static inline double nb_hsum(nb_v4d v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/* Shifted sums of one contiguous chunk: s1 += sum (x - c), s2 += sum (x - c)^2, in
 * double lanes (the chunk total is then added to the caller's running total: a
 * two-level summation). */
static void NORM_FN(nb_chunk_sums_)(const float *x, int64_t n, double c, double *s1, double *s2) {
    nb_v4d cc = {c, c, c, c};
    nb_v4d s1a = {0, 0, 0, 0}, s1b = s1a, s2a = s1a, s2b = s1a;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        nb_v4d d0 = nb_load4d(x + i) - cc, d1 = nb_load4d(x + i + 4) - cc;
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

void NORM_FN(cnnc__k_norm_apply_)(float *y, const float *x, int64_t n, float mhi, float mlo,
                                  float a, float b) {
    nb_v8f vh = {mhi, mhi, mhi, mhi, mhi, mhi, mhi, mhi}, vl = {mlo, mlo, mlo, mlo, mlo, mlo, mlo, mlo};
    nb_v8f va = {a, a, a, a, a, a, a, a}, vb = {b, b, b, b, b, b, b, b};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) nb_store8f(y + i, ((nb_load8f(x + i) - vh) - vl) * va + vb);
    for (; i < n; i++) y[i] = ((x[i] - mhi) - mlo) * a + b;
}

void NORM_FN(cnnc__k_norm_apply_vec_)(float *y, const float *x, int64_t n, float mhi, float mlo,
                                  float invstd, const float *w, const float *b) {
    nb_v8f vh = {mhi, mhi, mhi, mhi, mhi, mhi, mhi, mhi}, vl = {mlo, mlo, mlo, mlo, mlo, mlo, mlo, mlo};
    nb_v8f vs = {invstd, invstd, invstd, invstd, invstd, invstd, invstd, invstd};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        nb_v8f t = ((nb_load8f(x + i) - vh) - vl) * vs;
        if (w) t *= nb_load8f(w + i);
        if (b) t += nb_load8f(b + i);
        nb_store8f(y + i, t);
    }
    for (; i < n; i++) {
        float t = ((x[i] - mhi) - mlo) * invstd;
        if (w) t *= w[i];
        if (b) t += b[i];
        y[i] = t;
    }
}

void NORM_FN(cnnc__k_norm_grad_sums_)(double *sg, double *sgd, const float *g, const float *x,
                                  int64_t n, float mhi, float mlo, const float *w) {
    double h = (double)mhi, l = (double)mlo;
    nb_v4d vh = {h, h, h, h}, vl = {l, l, l, l};
    nb_v4d a0 = {0, 0, 0, 0}, a1 = a0, b0 = a0, b1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        nb_v4d g0, g1;
        if (w) {
            nb_v8f gw = nb_load8f(g + i) * nb_load8f(w + i);
            nb_v4f lo = {gw[0], gw[1], gw[2], gw[3]}, hi = {gw[4], gw[5], gw[6], gw[7]};
            g0 = __builtin_convertvector(lo, nb_v4d);
            g1 = __builtin_convertvector(hi, nb_v4d);
        } else {
            g0 = nb_load4d(g + i);
            g1 = nb_load4d(g + i + 4);
        }
        nb_v4d d0 = (nb_load4d(x + i) - vh) - vl, d1 = (nb_load4d(x + i + 4) - vh) - vl;
        a0 += g0;
        a1 += g1;
        b0 += g0 * d0;
        b1 += g1 * d1;
    }
    double s = nb_hsum(a0 + a1), t = nb_hsum(b0 + b1);
    for (; i < n; i++) {
        double gv = w ? (double)(g[i] * w[i]) : (double)g[i];
        s += gv;
        t += gv * (((double)x[i] - h) - l);
    }
    *sg += s;
    *sgd += t;
}

void NORM_FN(cnnc__k_norm_grad_apply_)(float *gx, const float *g, const float *x, int64_t n,
                                   float mhi, float mlo, const float *w, float A, float B,
                                   float C) {
    nb_v8f vh = {mhi, mhi, mhi, mhi, mhi, mhi, mhi, mhi}, vl = {mlo, mlo, mlo, mlo, mlo, mlo, mlo, mlo};
    nb_v8f va = {A, A, A, A, A, A, A, A}, vb = {B, B, B, B, B, B, B, B}, vc = {C, C, C, C, C, C, C, C};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        nb_v8f gv = nb_load8f(g + i);
        if (w) gv *= nb_load8f(w + i);
        nb_store8f(gx + i, gv * va + ((nb_load8f(x + i) - vh) - vl) * vb + vc);
    }
    for (; i < n; i++) {
        float gv = w ? g[i] * w[i] : g[i];
        gx[i] = gv * A + ((x[i] - mhi) - mlo) * B + C;
    }
}

void NORM_FN(cnnc__k_norm_col_sums_)(double *aw, double *ab, const float *g, const float *x,
                                 int64_t n, float mhi, float mlo, float invstd) {
    nb_v8f vh = {mhi, mhi, mhi, mhi, mhi, mhi, mhi, mhi}, vl = {mlo, mlo, mlo, mlo, mlo, mlo, mlo, mlo};
    nb_v8f vs = {invstd, invstd, invstd, invstd, invstd, invstd, invstd, invstd};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        nb_v8f gv = nb_load8f(g + i), gx = gv * (((nb_load8f(x + i) - vh) - vl) * vs);
        nb_v4f g0 = {gv[0], gv[1], gv[2], gv[3]}, g1 = {gv[4], gv[5], gv[6], gv[7]};
        nb_v4f p0 = {gx[0], gx[1], gx[2], gx[3]}, p1 = {gx[4], gx[5], gx[6], gx[7]};
        nb_v4d b0, b1, w0, w1;
        memcpy(&b0, ab + i, sizeof b0);
        memcpy(&b1, ab + i + 4, sizeof b1);
        memcpy(&w0, aw + i, sizeof w0);
        memcpy(&w1, aw + i + 4, sizeof w1);
        b0 += __builtin_convertvector(g0, nb_v4d);
        b1 += __builtin_convertvector(g1, nb_v4d);
        w0 += __builtin_convertvector(p0, nb_v4d);
        w1 += __builtin_convertvector(p1, nb_v4d);
        memcpy(ab + i, &b0, sizeof b0);
        memcpy(ab + i + 4, &b1, sizeof b1);
        memcpy(aw + i, &w0, sizeof w0);
        memcpy(aw + i + 4, &w1, sizeof w1);
    }
    for (; i < n; i++) {
        ab[i] += (double)g[i];
        aw[i] += (double)(g[i] * (((x[i] - mhi) - mlo) * invstd));
    }
}

#undef NORM_FN
#undef NORM_CAT
#undef NORM_CAT2
