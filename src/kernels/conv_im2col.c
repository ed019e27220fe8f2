/* im2col and col2im over any geometry (kernels/conv.h). Rows of col are walked one
 * output row at a time: per kernel tap the range of W positions that read inside
 * the input is computed once, so each row segment is a zero fill, a memcpy (W
 * stride 1) or a strided gather, and the zero fills around it. */
#include <string.h>

#include "kernels/conv.h"

/* First output position p >= 0 with p * s + off >= 0. */
static inline int64_t first_inside(int64_t off, int64_t s) {
    return off >= 0 ? 0 : (-off + s - 1) / s;
}

/* One past the last output position p < out with p * s + off < in (0 if none). */
static inline int64_t end_inside(int64_t off, int64_t s, int64_t in, int64_t out) {
    int64_t t = in - 1 - off;
    if (t < 0) return 0;
    int64_t e = t / s + 1;
    return e < out ? e : out;
}

/* Walks the output columns [o0, o0 + ncol) of one kernel tap in row segments:
 * for each, SEG(j, len, xr, a, b) with j the first column, len its length, xr the
 * input row (NULL when the row is outside the input), and [a, b) the positions of
 * the segment (relative to its start) that read inside xr. */
#define WALK_TAP(g, xc, q0, q1, q2, o0, ncol, SEG)                                           \
    do {                                                                                     \
        const int64_t off0_ = (q0) * (g)->dil[0] - (g)->pad[0];                              \
        const int64_t off1_ = (q1) * (g)->dil[1] - (g)->pad[1];                              \
        const int64_t off2_ = (q2) * (g)->dil[2] - (g)->pad[2];                              \
        const int64_t s2_ = (g)->stride[2];                                                  \
        int64_t lo_ = first_inside(off2_, s2_);                                              \
        int64_t hi_ = end_inside(off2_, s2_, (g)->in[2], (g)->out[2]);                       \
        if (hi_ < lo_) hi_ = lo_;                                                            \
        int64_t p2_ = (o0) % (g)->out[2], p01_ = (o0) / (g)->out[2];                         \
        int64_t p1_ = p01_ % (g)->out[1], p0_ = p01_ / (g)->out[1];                          \
        for (int64_t j_ = 0; j_ < (ncol);) {                                                 \
            int64_t len_ = (g)->out[2] - p2_;                                                \
            if (len_ > (ncol) - j_) len_ = (ncol) - j_;                                      \
            const int64_t i0_ = p0_ * (g)->stride[0] + off0_;                                \
            const int64_t i1_ = p1_ * (g)->stride[1] + off1_;                                \
            const float *xr_ = NULL;                                                         \
            if (i0_ >= 0 && i0_ < (g)->in[0] && i1_ >= 0 && i1_ < (g)->in[1])                \
                xr_ = (xc) + (i0_ * (g)->in[1] + i1_) * (g)->in[2];                          \
            int64_t a_ = lo_ > p2_ ? lo_ - p2_ : 0;                                          \
            int64_t b_ = hi_ - p2_ < len_ ? hi_ - p2_ : len_;                                \
            if (b_ < a_) b_ = a_;                                                            \
            {                                                                                \
                const int64_t j = j_, len = len_, a = a_, b = b_, p2 = p2_, off = off2_;     \
                const float *xr = xr_;                                                       \
                (void)p2, (void)off, (void)len;                                              \
                SEG;                                                                         \
            }                                                                                \
            j_ += len_;                                                                      \
            p2_ = 0;                                                                         \
            if (++p1_ == (g)->out[1]) {                                                      \
                p1_ = 0;                                                                     \
                p0_++;                                                                       \
            }                                                                                \
        }                                                                                    \
    } while (0)

void cnnc__conv_im2col(float *col, int64_t ldc, const float *x, const cnnc__conv_geom *g,
                       int64_t c0, int64_t c1, int64_t o0, int64_t ncol) {
    const int64_t isz = cnnc__conv_in_size(g), ksz = cnnc__conv_k_size(g);
    const int64_t s2 = g->stride[2];
    cnnc__conv_gather2_fn gather2 = cnnc__conv_gather2();
    for (int64_t ci = c0; ci < c1; ci++) {
        const float *xc = x + ci * isz;
        int64_t q = 0;
        for (int64_t q0 = 0; q0 < g->k[0]; q0++)
            for (int64_t q1 = 0; q1 < g->k[1]; q1++)
                for (int64_t q2 = 0; q2 < g->k[2]; q2++, q++) {
                    float *row = col + ((ci - c0) * ksz + q) * ldc;
                    WALK_TAP(g, xc, q0, q1, q2, o0, ncol, {
                        float *dst = row + j;
                        if (!xr || a == b) {
                            memset(dst, 0, (size_t)len * sizeof(float));
                        } else {
                            if (a > 0) memset(dst, 0, (size_t)a * sizeof(float));
                            const float *src = xr + (p2 + a) * s2 + off;
                            if (s2 == 1) {
                                memcpy(dst + a, src, (size_t)(b - a) * sizeof(float));
                            } else if (s2 == 2) {
                                gather2(dst + a, src, b - a);
                            } else {
                                for (int64_t t = a; t < b; t++) dst[t] = src[(t - a) * s2];
                            }
                            if (b < len) memset(dst + b, 0, (size_t)(len - b) * sizeof(float));
                        }
                    });
                }
    }
}

void cnnc__conv_col2im(float *x, const float *col, int64_t ldc, const cnnc__conv_geom *g,
                       int64_t c0, int64_t c1, int64_t o0, int64_t ncol) {
    const int64_t isz = cnnc__conv_in_size(g), ksz = cnnc__conv_k_size(g);
    const int64_t s2 = g->stride[2];
    cnnc__conv_axpy_fn axpy = cnnc__conv_axpy();
    cnnc__conv_scatter2_fn scatter2 = cnnc__conv_scatter2();
    for (int64_t ci = c0; ci < c1; ci++) {
        /* WALK_TAP hands out const rows; col2im writes them (x is ours) */
        const float *xc = x + ci * isz;
        int64_t q = 0;
        for (int64_t q0 = 0; q0 < g->k[0]; q0++)
            for (int64_t q1 = 0; q1 < g->k[1]; q1++)
                for (int64_t q2 = 0; q2 < g->k[2]; q2++, q++) {
                    const float *row = col + ((ci - c0) * ksz + q) * ldc;
                    WALK_TAP(g, xc, q0, q1, q2, o0, ncol, {
                        if (xr && a < b) {
                            float *dst = (float *)xr + (p2 + a) * s2 + off;
                            const float *src = row + j + a;
                            if (s2 == 1) {
                                axpy(dst, src, 1.0f, b - a);
                            } else if (s2 == 2) {
                                scatter2(dst, src, b - a);
                            } else {
                                for (int64_t t = 0; t < b - a; t++) dst[t * s2] += src[t];
                            }
                        }
                    });
                }
    }
}
