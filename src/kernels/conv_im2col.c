/* im2col and col2im over any geometry (kernels/conv.h). Rows of col are walked one
 * output row at a time: per kernel tap the range of W positions that read inside
 * the input is computed once, so each row segment is a zero fill, a memcpy (W
 * stride 1) or a strided gather, and the zero fills around it. */
#include <string.h>

#include "kernels/conv.h"

#if CNNC__ISA_X86
#include <immintrin.h>

#include "kernels/lanes_avx2.h"
#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2,fma")))
#endif

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

/* One row of the column matrix: tap (q0, q1, q2) of input channel plane xc, output
 * columns [o0, o0 + ncol), into row[0, ncol). */
static inline void im2col_row(float *row, const float *xc, const cnnc__window *g,
                              int64_t q0, int64_t q1, int64_t q2, int64_t o0, int64_t ncol,
                              cnnc__conv_gather2_fn gather2) {
    const int64_t s2 = g->stride[2];
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

/* im2col a row at a time with library copies (stride 2: the level's gather2). */
static void im2col_by_rows(float *col, int64_t ldc, const float *x, const cnnc__window *g,
                           int64_t c0, int64_t c1, int64_t o0, int64_t ncol,
                           cnnc__conv_gather2_fn gather2) {
    const int64_t isz = cnnc__window_in_size(g), ksz = cnnc__window_k_size(g);
    for (int64_t ci = c0; ci < c1; ci++) {
        const float *xc = x + ci * isz;
        int64_t q = 0;
        for (int64_t q0 = 0; q0 < g->k[0]; q0++)
            for (int64_t q1 = 0; q1 < g->k[1]; q1++)
                for (int64_t q2 = 0; q2 < g->k[2]; q2++, q++)
                    im2col_row(col + ((ci - c0) * ksz + q) * ldc, xc, g, q0, q1, q2, o0, ncol,
                               gather2);
    }
}

static void im2col_scalar(float *col, int64_t ldc, const float *x, const cnnc__window *g,
                          int64_t c0, int64_t c1, int64_t o0, int64_t ncol) {
    im2col_by_rows(col, ldc, x, g, c0, c1, o0, ncol,
                   cnnc__conv_rows_of(CNNC__ISA_SCALAR)->gather2);
}

/* Copies one row of W floats into its slot of each panel (constant W: inlined). */
#define SPLIT_ROW(W)                                                     \
    for (int64_t s = 0; s < npan; s++)                                   \
        memcpy(d + s * pstride, row + s * (W), (W) * sizeof(float))

/* cnnc__conv_pack_cols_ref with the stride-2 gather of the caller's level. */
static void pack_cols_rows(float *dst, int64_t nr, float *row, const float *x,
                           const cnnc__window *g, int64_t k0, int64_t kc, int64_t o0,
                           int64_t ncol, cnnc__conv_gather2_fn gather2) {
    const int64_t isz = cnnc__window_in_size(g), ksz = cnnc__window_k_size(g);
    const int64_t npan = (ncol + nr - 1) / nr, pstride = nr * kc;
    /* the padding columns of the last panel stay zero: im2col_row writes [0, ncol) */
    memset(row + ncol, 0, (size_t)(npan * nr - ncol) * sizeof(float));
    for (int64_t r = 0; r < kc; r++) {
        const int64_t kk = k0 + r, ci = kk / ksz, q = kk % ksz;
        const int64_t q2 = q % g->k[2], q1 = (q / g->k[2]) % g->k[1], q0 = q / (g->k[2] * g->k[1]);
        im2col_row(row, x + ci * isz, g, q0, q1, q2, o0, ncol, gather2);
        float *d = dst + r * nr;
        switch (nr) {
        case 32: SPLIT_ROW(32); break;
        case 16: SPLIT_ROW(16); break;
        case 8: SPLIT_ROW(8); break;
        default: SPLIT_ROW(nr); break;
        }
    }
}

void cnnc__conv_pack_cols_ref(float *dst, int64_t nr, float *row, const float *x,
                              const cnnc__window *g, int64_t k0, int64_t kc, int64_t o0,
                              int64_t ncol) {
    pack_cols_rows(dst, nr, row, x, g, k0, kc, o0, ncol,
                   cnnc__conv_rows_of(CNNC__ISA_SCALAR)->gather2);
}

/* col2im a row at a time through the level's row routines. */
static void col2im_by_rows(cnnc__isa isa, float *x, const float *col, int64_t ldc,
                           const cnnc__window *g, int64_t c0, int64_t c1, int64_t o0,
                           int64_t ncol) {
    const int64_t isz = cnnc__window_in_size(g), ksz = cnnc__window_k_size(g);
    const int64_t s2 = g->stride[2];
    const cnnc__conv_rows *rows = cnnc__conv_rows_of(isa);
    const cnnc__conv_axpy_fn axpy = rows->axpy;
    const cnnc__conv_scatter2_fn scatter2 = rows->scatter2;
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

/* ---- short rows (the x86 levels) ------------------------------------------------- */

#if CNNC__ISA_X86
/* A run of one column-matrix row: columns [j, j + len) of which [j + a, j + b) read
 * the channel plane from offset src on (stride s2), the rest zero (src < 0: all zero). */
typedef struct im2col_seg {
    int64_t j, len, a, b, src;
} im2col_seg;

enum {
    IM2COL_ROWS = 8,                       /* output rows per span of columns */
    IM2COL_TAP_SEGS = IM2COL_ROWS + 2,     /* runs of one tap over a span, at most */
    IM2COL_SEGS = 64 * IM2COL_TAP_SEGS,    /* runs of a group of taps */
    IM2COL_LONG_ROW = 24,                  /* output rows at least this wide: row copies */
};

/* The runs of tap (q0, q1, q2) over columns [o0, o0 + ncol) (at most IM2COL_TAP_SEGS:
 * ncol spans at most IM2COL_ROWS output rows), offsets from plane: the same for every
 * channel plane. */
static int64_t im2col_segments(im2col_seg *segs, const float *plane, const cnnc__window *g,
                               int64_t q0, int64_t q1, int64_t q2, int64_t o0, int64_t ncol) {
    int64_t n = 0;
    WALK_TAP(g, plane, q0, q1, q2, o0, ncol, {
        im2col_seg *sg = &segs[n++];
        sg->j = j;
        sg->len = len;
        sg->a = a;
        sg->b = b;
        sg->src = xr && a < b ? (xr - plane) + (p2 + a) * g->stride[2] + off : -1;
    });
    return n;
}

/* The runs of taps [qa, qa + taps) over columns [o0, o0 + cols): tap t's in
 * segs[first[t], first[t + 1]). */
static void tap_group_segments(im2col_seg *segs, int64_t *first, const float *plane,
                               const cnnc__window *g, int64_t qa, int64_t taps, int64_t o0,
                               int64_t cols) {
    first[0] = 0;
    for (int64_t t = 0; t < taps; t++) {
        const int64_t q = qa + t, q2 = q % g->k[2], q1 = (q / g->k[2]) % g->k[1];
        const int64_t q0 = q / (g->k[2] * g->k[1]);
        first[t + 1] = first[t] + im2col_segments(segs + first[t], plane, g, q0, q1, q2, o0, cols);
    }
}

/* One row of the column matrix (tap t of a channel plane, a span's columns from row)
 * from its runs segs[0, n) (im2col), or the plane's elements added from it (col2im). */
typedef void (*short_row_fn)(float *row, float *plane, const im2col_seg *segs, int64_t n,
                             int64_t s2);

/* im2col / col2im of maps with short rows (out[2] < IM2COL_LONG_ROW): the runs of a
 * group of taps over a span of columns are worked out once and applied to every
 * channel, whose plane rows then stay in L1 across the taps (on small maps a row is a
 * few floats long: the walk and library copies would cost more than the data). col2im
 * adds a channel's taps in order over each span (the order of col2im_by_rows where an
 * input element's output rows share a span). x is written only by col2im. */
static void short_rows(short_row_fn row_fn, float *col, int64_t ldc, float *x,
                       const cnnc__window *g, int64_t c0, int64_t c1, int64_t o0, int64_t ncol) {
    const int64_t isz = cnnc__window_in_size(g), ksz = cnnc__window_k_size(g);
    const int64_t span = IM2COL_ROWS * g->out[2];
    const int64_t group = IM2COL_SEGS / IM2COL_TAP_SEGS; /* taps per group */
    im2col_seg segs[IM2COL_SEGS];
    int64_t first[IM2COL_SEGS / IM2COL_TAP_SEGS + 1]; /* tap t's runs: [first[t], first[t+1]) */
    for (int64_t j0 = 0; j0 < ncol; j0 += span) {
        const int64_t cols = ncol - j0 < span ? ncol - j0 : span;
        for (int64_t qa = 0; qa < ksz; qa += group) {
            const int64_t taps = ksz - qa < group ? ksz - qa : group;
            tap_group_segments(segs, first, x, g, qa, taps, o0 + j0, cols);
            for (int64_t ci = c0; ci < c1; ci++)
                for (int64_t t = 0; t < taps; t++)
                    row_fn(col + ((ci - c0) * ksz + qa + t) * ldc + j0, x + ci * isz,
                           &segs[first[t]], first[t + 1] - first[t], g->stride[2]);
        }
    }
}

/* ---- AVX-512: straight into 32-wide panels ---------------------------------------- */

/* The values src[t * s2], t < cnt (cnt <= 16), in lanes 0 .. cnt-1 (others zero),
 * reading only those elements. */
AVX512 static inline __m512 load_strided(const float *src, int64_t s2, int64_t cnt) {
    if (s2 == 1)
        return _mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1), src);
    if (s2 == 2) {
        const int64_t span = 2 * cnt - 1; /* src[0 .. span) holds every needed element */
        const __mmask16 m0 = (__mmask16)(span >= 16 ? 0xFFFFu : (1u << span) - 1);
        const __mmask16 m1 = (__mmask16)(span > 16 ? (1u << (span - 16)) - 1 : 0);
        const __m512 lo = _mm512_maskz_loadu_ps(m0, src);
        const __m512 hi = m1 ? _mm512_maskz_loadu_ps(m1, src + 16) : _mm512_setzero_ps();
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                              4, 2, 0);
        return _mm512_maskz_mov_ps((__mmask16)((1u << cnt) - 1),
                                   _mm512_permutex2var_ps(lo, even, hi));
    }
    float tmp[16] = {0.0f};
    for (int64_t t = 0; t < cnt; t++) tmp[t] = src[t * s2];
    return _mm512_loadu_ps(tmp);
}

/* One segment: tile columns [j, j + len), of which the relative positions [a, b) read
 * xr[base + t * s2] (xr NULL: all zero), into the 32-wide panels at d (pstride apart). */
AVX512 static inline void seg_avx512(float *d, int64_t pstride, int64_t j, int64_t len,
                                     int64_t a, int64_t b, const float *xr, int64_t base,
                                     int64_t s2) {
    for (int64_t t0 = 0; t0 < len;) {
        const int64_t col = j + t0, lane0 = col & 15;
        const int64_t n = 16 - lane0 < len - t0 ? 16 - lane0 : len - t0;
        __m512 v = _mm512_setzero_ps();
        const int64_t va = a > t0 ? a : t0, vb = b < t0 + n ? b : t0 + n;
        if (xr && va < vb) {
            const int64_t cnt = vb - va, lane = lane0 + (va - t0);
            v = _mm512_maskz_expand_ps((__mmask16)(((1u << cnt) - 1) << lane),
                                       load_strided(xr + base + va * s2, s2, cnt));
        }
        _mm512_mask_store_ps(d + (col >> 5) * pstride + (col & 16),
                             (__mmask16)(((1u << n) - 1) << lane0), v);
        t0 += n;
    }
}

AVX512 static void pack_cols_avx512(float *dst, int64_t nr, float *row, const float *x,
                                    const cnnc__window *g, int64_t k0, int64_t kc,
                                    int64_t o0, int64_t ncol) {
    enum { NR = 32 }; /* nr (the variant's panel width, checked by the caller) */
    (void)nr;
    (void)row;
    const int64_t isz = cnnc__window_in_size(g), ksz = cnnc__window_k_size(g);
    const int64_t pstride = NR * kc, s2 = g->stride[2];
    const int64_t npan = (ncol + NR - 1) / NR;
    for (int64_t r = 0; r < kc; r++) {
        const int64_t kk = k0 + r, ci = kk / ksz, q = kk % ksz;
        const int64_t q2 = q % g->k[2], q1 = (q / g->k[2]) % g->k[1], q0 = q / (g->k[2] * g->k[1]);
        const float *xc = x + ci * isz;
        float *d = dst + r * NR;
        WALK_TAP(g, xc, q0, q1, q2, o0, ncol,
                 seg_avx512(d, pstride, j, len, a, b, xr, p2 * s2 + off, s2));
        /* zero columns past ncol in the last panel */
        for (int64_t col = ncol; col < npan * NR;) {
            const int64_t lane0 = col & 15, n = 16 - lane0;
            _mm512_mask_store_ps(d + (col >> 5) * pstride + (col & 16),
                                 (__mmask16)(((1u << n) - 1) << lane0), _mm512_setzero_ps());
            col += n;
        }
    }
}

/* One run from plane xc into row: 16-column pieces, the zeros in the same stores;
 * pieces wholly inside the run's data need no lane shift. */
AVX512 static inline void im2col_run(float *row, const float *xc, const im2col_seg *sg,
                                     int64_t s2) {
    float *dst = row + sg->j;
    for (int64_t t0 = 0; t0 < sg->len; t0 += 16) {
        const int64_t n = sg->len - t0 < 16 ? sg->len - t0 : 16;
        const __mmask16 all = (__mmask16)((1u << n) - 1);
        if (sg->src >= 0 && t0 >= sg->a && t0 + n <= sg->b) {
            _mm512_mask_storeu_ps(dst + t0, all,
                                  load_strided(xc + sg->src + (t0 - sg->a) * s2, s2, n));
            continue;
        }
        const int64_t va = sg->a > t0 ? sg->a : t0, vb = sg->b < t0 + n ? sg->b : t0 + n;
        __m512 v = _mm512_setzero_ps();
        if (sg->src >= 0 && va < vb)
            v = _mm512_maskz_expand_ps((__mmask16)(((1u << (vb - va)) - 1) << (va - t0)),
                                       load_strided(xc + sg->src + (va - sg->a) * s2, s2, vb - va));
        _mm512_mask_storeu_ps(dst + t0, all, v);
    }
}

/* short_rows' im2col row for AVX-512: masked loads and stores. */
AVX512 static void im2col_row_avx512(float *row, float *plane, const im2col_seg *segs, int64_t n,
                                     int64_t s2) {
    for (int64_t s = 0; s < n; s++) im2col_run(row, plane, &segs[s], s2);
}

AVX512 static void im2col_avx512(float *col, int64_t ldc, const float *x, const cnnc__window *g,
                                 int64_t c0, int64_t c1, int64_t o0, int64_t ncol) {
    if (g->out[2] >= IM2COL_LONG_ROW) { /* long rows: library copies win (measured) */
        im2col_by_rows(col, ldc, x, g, c0, c1, o0, ncol,
                       cnnc__conv_rows_of(CNNC__ISA_AVX512)->gather2);
        return;
    }
    short_rows(im2col_row_avx512, col, ldc, (float *)x, g, c0, c1, o0, ncol);
}

/* short_rows' col2im row for AVX-512 (unit stride): x[run] += row[run] by masked pieces. */
AVX512 static void col2im_row_avx512(float *row, float *plane, const im2col_seg *segs, int64_t n,
                                     int64_t s2) {
    (void)s2;
    for (int64_t si = 0; si < n; si++) {
        const im2col_seg *sg = &segs[si];
        if (sg->src < 0) continue;
        float *d = plane + sg->src;
        const float *r = row + sg->j + sg->a;
        for (int64_t t0 = 0; t0 < sg->b - sg->a; t0 += 16) {
            const int64_t cnt = sg->b - sg->a - t0 < 16 ? sg->b - sg->a - t0 : 16;
            const __mmask16 m = (__mmask16)((1u << cnt) - 1);
            _mm512_mask_storeu_ps(d + t0, m,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m, d + t0),
                                                _mm512_maskz_loadu_ps(m, r + t0)));
        }
    }
}
#endif

/* ---- phase planes: im2col rows as contiguous slices -------------------------------- */

void cnnc__conv_phase_geom(const cnnc__window *g, int64_t *hph, int64_t *wph) {
    const int64_t off1 = (g->k[1] - 1) * g->dil[1] / g->stride[1];
    const int64_t off2 = (g->k[2] - 1) * g->dil[2] / g->stride[2];
    *hph = g->out[1] + off1 + 1;
    *wph = g->out[2] + off2;
}

/* Does a tap of dim d (1 or 2) read phase ph of its stride? Taps q read the phase
 * (q dil) mod stride: a 1x1 kernel only phase 0. */
static bool phase_read(const cnnc__window *g, int d, int64_t ph) {
    for (int64_t q = 0; q < g->k[d]; q++)
        if (q * g->dil[d] % g->stride[d] == ph) return true;
    return false;
}

/* A run of the batched phase packing's rows: len (1..16) floats from row + src to the
 * panels at d + dst, in one 16-lane group of a panel; the same for every row of a
 * block, only the row's start differs. */
typedef struct phase_piece {
    int32_t src, dst, len;
} phase_piece;

#if CNNC__ISA_X86
AVX512 static void pieces_avx512(float *d, const float *row, const phase_piece *pc, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const __mmask16 m = (__mmask16)((1u << pc[i].len) - 1);
        _mm512_mask_storeu_ps(d + pc[i].dst, m, _mm512_maskz_loadu_ps(m, row + pc[i].src));
    }
}

AVX512 static void copy_add_avx512(float *dst, const float *src, float bias, int64_t n) {
    const __m512 vb = _mm512_set1_ps(bias);
    int64_t t = 0;
    for (; t + 16 <= n; t += 16)
        _mm512_storeu_ps(dst + t, _mm512_add_ps(_mm512_loadu_ps(src + t), vb));
    if (t < n) {
        const __mmask16 m = (__mmask16)((1u << (n - t)) - 1);
        _mm512_mask_storeu_ps(dst + t, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, src + t), vb));
    }
}

/* half[0], half[1] = row[at .. at + 32) (0 outside [0, w)): two masked loads (lanes
 * outside the row load zeros, and no fault) */
AVX512 static inline void load32_avx512(__m512 half[2], const float *row, int64_t w,
                                        int64_t at) {
    for (int h = 0; h < 2; h++) {
        const int64_t a = at + 16 * h;
        const int64_t lo = a < 0 ? -a : 0, hi = w - a < 16 ? w - a : 16;
        const __mmask16 m = lo < hi ? (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1)) : 0;
        half[h] = _mm512_maskz_loadu_ps(m, row + a);
    }
}

/* d0[v] = row[2 v + off], d1[v] = row[2 v + 1 + off] (0 outside [0, w)) for v < n: a
 * row's two stride-2 phases (d1 NULL: the even one alone), the row read once, 32 input
 * columns from two masked loads, then one permute each for their even and odd lanes.
 * lo_ok, hi_ok (the AVX2 routine's readable bounds) unused: masked loads do not fault. */
AVX512 static void split_rows2_avx512(float *d0, float *d1, const float *row, int64_t w,
                                      int64_t off, int64_t n, const float *lo_ok,
                                      const float *hi_ok) {
    (void)lo_ok, (void)hi_ok;
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t v = 0; v < n; v += 16) {
        __m512 half[2];
        load32_avx512(half, row, w, 2 * v + off);
        const __mmask16 out = n - v < 16 ? (__mmask16)((1u << (n - v)) - 1) : (__mmask16)0xFFFF;
        _mm512_mask_storeu_ps(d0 + v, out, _mm512_permutex2var_ps(half[0], even, half[1]));
        if (d1) _mm512_mask_storeu_ps(d1 + v, out, _mm512_permutex2var_ps(half[0], odd, half[1]));
    }
}

/* d[v] = row[2 v + off] where 0 <= 2 v + off < w, else 0, for v < n: one stride-2
 * phase of a row */
AVX512 static void split_row2_avx512(float *d, const float *row, int64_t w, int64_t off,
                                     int64_t n) {
    split_rows2_avx512(d, NULL, row, w, off, n, NULL, NULL);
}

/* ---- AVX2: the rows with the level's stride-2 gather ------------------------------ */
/* The phase routines stay the portable ones at AVX2 (on Zen 3, masked-store pieces made
 * 3x3 s2 128 -> 256 at 28x28 forward 11.1-11.4 -> 13.0-13.9 ms, and an 8-lane stride-2
 * row splitter and copy-add measured level there, 11.1-11.3 ms), but for the two phases
 * of a stride-2 row split in one pass (below) and the copy-add: it is also the bias-only
 * epilogue of convolution outputs (1x1 layers without an activation), where the portable
 * loop, not vectorized at -O2, took 0.55% of MobileNetV2's inference at 1 thread. */
AVX2 static void copy_add_avx2(float *dst, const float *src, float bias, int64_t n) {
    const __m256 vb = _mm256_set1_ps(bias);
    int64_t t = 0;
    for (; t + 8 <= n; t += 8)
        _mm256_storeu_ps(dst + t, _mm256_add_ps(_mm256_loadu_ps(src + t), vb));
    if (t < n) {
        const __m256i m = cnnc__lanes_avx2(n - t);
        _mm256_maskstore_ps(dst + t, m, _mm256_add_ps(_mm256_maskload_ps(src + t, m), vb));
    }
}

/* Lanes [lo, hi) (0 <= lo < hi <= 8) of src[(l - lo) * s2], the others zero: unit stride
 * by one masked load (loads are not microcoded; the lanes shifted up by a permute, so no
 * address before src is formed), other strides through a buffer. */
AVX2 static inline __m256 load_run_avx2(const float *src, int64_t s2, int64_t lo, int64_t hi) {
    if (s2 != 1) {
        float tmp[8] = {0.0f};
        for (int64_t l = lo; l < hi; l++) tmp[l] = src[(l - lo) * s2];
        return _mm256_loadu_ps(tmp);
    }
    const __m256 v = _mm256_maskload_ps(src, cnnc__lanes_avx2(hi - lo));
    if (lo == 0) return v;
    const __m256i idx = _mm256_sub_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                         _mm256_set1_epi32((int)lo));
    return _mm256_andnot_ps(_mm256_castsi256_ps(cnnc__lanes_avx2(lo)),
                            _mm256_permutevar8x32_ps(v, idx));
}

/* short_rows' im2col row for AVX2: 8-column pieces, the zeros in the same stores. */
AVX2 static void im2col_row_avx2(float *row, float *plane, const im2col_seg *segs, int64_t n,
                                 int64_t s2) {
    for (int64_t s = 0; s < n; s++) {
        const im2col_seg *sg = &segs[s];
        for (int64_t t0 = 0; t0 < sg->len; t0 += 8) {
            const int64_t cnt = sg->len - t0 < 8 ? sg->len - t0 : 8;
            const int64_t va = sg->a > t0 ? sg->a : t0, vb = sg->b < t0 + cnt ? sg->b : t0 + cnt;
            __m256 v = _mm256_setzero_ps();
            if (sg->src >= 0 && va < vb)
                v = load_run_avx2(plane + sg->src + (va - sg->a) * s2, s2, va - t0, vb - t0);
            cnnc__store_n_avx2(row + sg->j + t0, v, cnt);
        }
    }
}

/* short_rows' col2im row for AVX2: x[run] += row[run], 8 at a time at unit stride. */
AVX2 static void col2im_row_avx2(float *row, float *plane, const im2col_seg *segs, int64_t n,
                                 int64_t s2) {
    for (int64_t si = 0; si < n; si++) {
        const im2col_seg *sg = &segs[si];
        if (sg->src < 0) continue;
        float *d = plane + sg->src;
        const float *r = row + sg->j + sg->a;
        const int64_t len = sg->b - sg->a;
        if (s2 != 1) {
            for (int64_t t = 0; t < len; t++) d[t * s2] += r[t];
            continue;
        }
        for (int64_t t0 = 0; t0 < len; t0 += 8) {
            const __m256i m = cnnc__lanes_avx2(len - t0);
            cnnc__store_n_avx2(d + t0,
                               _mm256_add_ps(_mm256_maskload_ps(d + t0, m), _mm256_maskload_ps(r + t0, m)),
                               len - t0);
        }
    }
}

/* Long rows: row copies with the level's stride-2 gather; short rows as at AVX-512
 * (1 thread, 512 -> 512 3x3 at 4x4, batch 8: the forward's im2col was 18% of the layer
 * by rows). */
static void im2col_avx2(float *col, int64_t ldc, const float *x, const cnnc__window *g,
                        int64_t c0, int64_t c1, int64_t o0, int64_t ncol) {
    if (g->out[2] >= IM2COL_LONG_ROW) {
        im2col_by_rows(col, ldc, x, g, c0, c1, o0, ncol,
                       cnnc__conv_rows_of(CNNC__ISA_AVX2)->gather2);
        return;
    }
    short_rows(im2col_row_avx2, col, ldc, (float *)x, g, c0, c1, o0, ncol);
}

static void pack_cols_avx2(float *dst, int64_t nr, float *row, const float *x,
                           const cnnc__window *g, int64_t k0, int64_t kc, int64_t o0, int64_t ncol) {
    pack_cols_rows(dst, nr, row, x, g, k0, kc, o0, ncol,
                   cnnc__conv_rows_of(CNNC__ISA_AVX2)->gather2);
}

/* d0[v] = row[2 v + off], d1[v] = row[2 v + 1 + off] (0 outside [0, w)), v < n: a row's
 * two stride-2 phases, the row read once, 16 floats at a time split into their even and
 * odd lanes (a first layer's 224-wide rows: MobileNetV2's 3 -> 32 3x3 s2, batch 8, 1
 * thread: its split, from two passes, was 18% of the forward). At the row's ends the
 * lanes outside it are zeroed: read plainly where the 16 floats lie inside [lo, hi)
 * (the channel's plane: the previous and next rows), else by masked loads (no address
 * outside [lo, hi) is formed). Not a buffer filled by scalar stores: its vector reloads
 * stalled on store forwarding (40% of the seed net's inference, rows of 28); and the
 * masked loads took 42% of the split of 28-wide rows on Zen 3 (the 128 -> 256 3x3 s2
 * layer's split 8.6% of it). */
AVX2 static void split_rows2_avx2(float *d0, float *d1, const float *row, int64_t w,
                                  int64_t off, int64_t n, const float *lo_ok,
                                  const float *hi_ok) {
    const int64_t before = row - lo_ok, after = hi_ok - row; /* readable around the row */
    for (int64_t v = 0; v < n; v += 8) {
        const int64_t c = 2 * v + off; /* inputs c .. c + 15 */
        __m256 a, b;
        if (c >= 0 && c + 16 <= w) {
            a = _mm256_loadu_ps(row + c);
            b = _mm256_loadu_ps(row + c + 8);
        } else {
            /* lanes [lo, hi) inside the row */
            const int64_t lo = c < 0 ? -c : 0, hi = w - c < 16 ? (w - c > 0 ? w - c : 0) : 16;
            if (before + c >= 0 && c + 16 <= after) {
                a = _mm256_and_ps(_mm256_loadu_ps(row + c),
                                  cnnc__lanes_between_avx2(lo, hi, 0));
                b = _mm256_and_ps(_mm256_loadu_ps(row + c + 8),
                                  cnnc__lanes_between_avx2(lo, hi, 8));
            } else { /* masked loads, not a buffer filled by scalar stores (above) */
                const int64_t la = lo < 8 ? lo : 8, ha = hi < 8 ? hi : 8;
                const int64_t lb = lo > 8 ? lo - 8 : 0, hb = hi > 8 ? hi - 8 : 0;
                a = la < ha ? load_run_avx2(row + c + la, 1, la, ha) : _mm256_setzero_ps();
                b = lb < hb ? load_run_avx2(row + c + 8 + lb, 1, lb, hb) : _mm256_setzero_ps();
            }
        }
        __m256 e, o;
        cnnc__deinterleave2_avx2(&e, &o, a, b);
        cnnc__store_n_avx2(d0 + v, e, n - v);
        cnnc__store_n_avx2(d1 + v, o, n - v);
    }
}
#endif

static void pieces_scalar(float *d, const float *row, const phase_piece *pc, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        memcpy(d + pc[i].dst, row + pc[i].src, (size_t)pc[i].len * sizeof(float));
}

static void copy_add_scalar(float *dst, const float *src, float bias, int64_t n) {
    for (int64_t t = 0; t < n; t++) dst[t] = src[t] + bias;
}

static void split_row2_scalar(float *d, const float *row, int64_t w, int64_t off, int64_t n) {
    for (int64_t v = 0; v < n; v++) {
        const int64_t c = 2 * v + off;
        d[v] = c >= 0 && c < w ? row[c] : 0.0f;
    }
}

/* X-list, fastest first: (level, name, panel width nr the SIMD routines fill, im2col,
 * pack columns, the batched phase packing's runs, copy-add, a stride-2 phase row, both
 * stride-2 phases of a row or NULL). A variant asked for another nr than its own leaves
 * the packing to the scalar routines. */
#if CNNC__ISA_X86
#define IM2COL_SIMD_VARIANTS(X)                                                          \
    X(AVX512, f32_im2col__avx512, 32, im2col_avx512, pack_cols_avx512, pieces_avx512,        \
      copy_add_avx512, split_row2_avx512, split_rows2_avx512)                                  \
    X(AVX2, f32_im2col__avx2, 0, im2col_avx2, pack_cols_avx2, pieces_scalar, copy_add_avx2,   \
      split_row2_scalar, split_rows2_avx2)
#else
#define IM2COL_SIMD_VARIANTS(X)
#endif
#define IM2COL_VARIANTS(X)  \
    IM2COL_SIMD_VARIANTS(X) \
    X(SCALAR, f32_im2col__scalar, 0, im2col_scalar, cnnc__conv_pack_cols_ref, pieces_scalar, \
      copy_add_scalar, split_row2_scalar, NULL)

typedef struct im2col_variant {
    cnnc__isa isa;
    const char *name;
    int64_t nr; /* 0: any */
    void (*im2col)(float *col, int64_t ldc, const float *x, const cnnc__window *g, int64_t c0,
                   int64_t c1, int64_t o0, int64_t ncol);
    void (*pack_cols)(float *dst, int64_t nr, float *row, const float *x,
                      const cnnc__window *g, int64_t k0, int64_t kc, int64_t o0,
                      int64_t ncol);
    void (*pieces)(float *d, const float *row, const phase_piece *pc, int64_t n);
    void (*copy_add)(float *dst, const float *src, float bias, int64_t n);
    void (*split_row2)(float *d, const float *row, int64_t w, int64_t off, int64_t n);
    void (*split_rows2)(float *d0, float *d1, const float *row, int64_t w, int64_t off,
                        int64_t n, const float *lo_ok, const float *hi_ok);
} im2col_variant;

static const im2col_variant variants[] = {
#define CNNC__X(isa, name, nr, im2col, pack_cols, pieces, copy_add, split_row2, split_rows2) \
    {CNNC__ISA_##isa, #name, nr, im2col, pack_cols, pieces, copy_add, split_row2, split_rows2},
    IM2COL_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(level_variant, im2col_variant, variants)

/* The variant of `isa`, for nr-wide panels (nr 0: no packing): the scalar one if the
 * level's packs another width. */
static const im2col_variant *variant(cnnc__isa isa, int64_t nr) {
    const im2col_variant *v = level_variant(isa);
    return nr && v->nr && v->nr != nr ? level_variant(CNNC__ISA_SCALAR) : v;
}

const char *cnnc__conv_im2col_variant(cnnc__isa isa, int64_t nr) { return variant(isa, nr)->name; }

/* One phase plane's row u from input row x_row (NULL: the row is padding): columns
 * v < wph are input columns v s2 + off2 (zero outside [0, W)). Stride 2: the level's
 * row splitter, one call a row (two memsets and a copy before: rows of 15 floats on the
 * 28x28 maps of a strided 3x3 layer; 128 -> 256 channels, batch 8, forward 5.17-5.20 ->
 * 5.08-5.13 ms; the split is otherwise bound by memory). */
static void split_row(const im2col_variant *v, float *d, const float *x_row,
                      const cnnc__window *g, int64_t off2, int64_t lo, int64_t hi, int64_t wph) {
    const int64_t s2 = g->stride[2], W = g->in[2];
    if (!x_row || lo == hi) {
        memset(d, 0, (size_t)wph * sizeof(float));
    } else if (s2 == 2) {
        v->split_row2(d, x_row, W, off2, wph);
    } else {
        const float *src = x_row + lo * s2 + off2;
        memset(d, 0, (size_t)lo * sizeof(float));
        if (s2 == 1)
            memcpy(d + lo, src, (size_t)(hi - lo) * sizeof(float));
        else
            for (int64_t t = 0; t < hi - lo; t++) d[lo + t] = src[t * s2];
        memset(d + hi, 0, (size_t)(wph - hi) * sizeof(float));
    }
}

/* The planes of channel xc (H x W) for s2 = 2 with both column phases read, by the
 * level's two-phase row splitter: every input row read once, in order. */
static void phase_split_pairs(const im2col_variant *v, float *pc, const float *xc,
                              const cnnc__window *g, int64_t hph, int64_t wph) {
    const int64_t s1 = g->stride[1], plane = hph * wph, H = g->in[1], W = g->in[2];
    for (int64_t u = 0; u < hph; u++)
        for (int64_t a = 0; a < s1; a++) {
            if (!phase_read(g, 1, a)) continue;
            float *d0 = pc + a * 2 * plane + u * wph, *d1 = d0 + plane; /* phases (a, 0), (a, 1) */
            const int64_t i1 = u * s1 + a - g->pad[1];
            if (i1 >= 0 && i1 < H) {
                v->split_rows2(d0, d1, xc + i1 * W, W, -g->pad[2], wph, xc, xc + H * W);
            } else {
                memset(d0, 0, (size_t)wph * sizeof(float));
                memset(d1, 0, (size_t)wph * sizeof(float));
            }
        }
}

void cnnc__conv_phase_split(cnnc__isa isa, float *ph, const float *x, const cnnc__window *g,
                            int64_t c0, int64_t c1) {
    const im2col_variant *v = variant(isa, 0);
    int64_t hph, wph;
    cnnc__conv_phase_geom(g, &hph, &wph);
    const int64_t s1 = g->stride[1], s2 = g->stride[2], plane = hph * wph;
    const int64_t H = g->in[1], W = g->in[2];
    const bool pairs = v->split_rows2 && s2 == 2 && phase_read(g, 2, 0) && phase_read(g, 2, 1);
    for (int64_t ci = c0; ci < c1; ci++) {
        const float *xc = x + ci * H * W;
        if (pairs) {
            phase_split_pairs(v, ph + (ci - c0) * s1 * s2 * plane, xc, g, hph, wph);
            continue;
        }
        for (int64_t a = 0; a < s1; a++)
            for (int64_t b = 0; b < s2; b++) {
                if (!phase_read(g, 1, a) || !phase_read(g, 2, b)) continue; /* no tap reads it */
                float *pp = ph + (((ci - c0) * s1 + a) * s2 + b) * plane;
                const int64_t off2 = b - g->pad[2];
                /* columns v with 0 <= v * s2 + off2 < W */
                int64_t lo = first_inside(off2, s2), hi = end_inside(off2, s2, W, wph);
                if (lo > wph) lo = wph; /* padding wider than the plane */
                if (hi < lo) hi = lo;
                for (int64_t u = 0; u < hph; u++) {
                    const int64_t i1 = u * s1 + a - g->pad[1];
                    split_row(v, pp + u * wph, i1 >= 0 && i1 < H ? xc + i1 * W : NULL, g, off2,
                              lo, hi, wph);
                }
            }
    }
}

void cnnc__conv_phase_split_items(cnnc__isa isa, float *ph, int64_t img_floats, const float *x,
                                  const cnnc__window *g, int64_t begin, int64_t end) {
    const int64_t C = g->c, cfloats = img_floats / C, xsz = C * cnnc__window_in_size(g);
    for (int64_t item = begin; item < end;) {
        const int64_t i = item / C, c0 = item % C;
        const int64_t c1 = C < c0 + end - item ? C : c0 + end - item;
        cnnc__conv_phase_split(isa, ph + i * img_floats + c0 * cfloats, x + i * xsz, g, c0, c1);
        item += c1 - c0;
    }
}

/* 1x1, stride 1, no padding: column o of a channel is its input position o, so a run of
 * columns is a run of the plane (one copy per channel; the general walks cut it into
 * the output rows, 7 or 14 floats each on MobileNet's small maps). */
static bool unfolds_to_itself(const cnnc__window *g) {
    for (int d = 0; d < 3; d++)
        if (g->k[d] != 1 || g->stride[d] != 1 || g->pad[d] != 0 || g->in[d] != g->out[d])
            return false;
    return true;
}

void cnnc__conv_im2col(cnnc__isa isa, float *col, int64_t ldc, const float *x,
                       const cnnc__window *g, int64_t c0, int64_t c1, int64_t o0,
                       int64_t ncol) {
    if (unfolds_to_itself(g)) {
        const int64_t isz = cnnc__window_in_size(g);
        for (int64_t ci = c0; ci < c1; ci++)
            memcpy(col + (ci - c0) * ldc, x + ci * isz + o0, (size_t)ncol * sizeof(float));
        return;
    }
    variant(isa, 0)->im2col(col, ldc, x, g, c0, c1, o0, ncol);
}

void cnnc__conv_col2im(cnnc__isa isa, float *x, const float *col, int64_t ldc,
                       const cnnc__window *g, int64_t c0, int64_t c1, int64_t o0,
                       int64_t ncol) {
    if (unfolds_to_itself(g)) { /* x += col row by row (1 * col + x: the sum's bits) */
        const int64_t isz = cnnc__window_in_size(g);
        const cnnc__conv_axpy_fn axpy = cnnc__conv_rows_of(isa)->axpy;
        for (int64_t ci = c0; ci < c1; ci++)
            axpy(x + ci * isz + o0, col + (ci - c0) * ldc, 1.0f, ncol);
        return;
    }
#if CNNC__ISA_X86
    if (isa >= CNNC__ISA_AVX512 && g->stride[2] == 1 && g->out[2] < IM2COL_LONG_ROW) {
        short_rows(col2im_row_avx512, (float *)col, ldc, x, g, c0, c1, o0, ncol);
        return;
    }
    if (isa == CNNC__ISA_AVX2 && g->out[2] < IM2COL_LONG_ROW) {
        short_rows(col2im_row_avx2, (float *)col, ldc, x, g, c0, c1, o0, ncol);
        return;
    }
#endif
    col2im_by_rows(isa, x, col, ldc, g, c0, c1, o0, ncol);
}

void cnnc__conv_copy_add(cnnc__isa isa, float *dst, const float *src, float bias, int64_t n) {
    variant(isa, 0)->copy_add(dst, src, bias, n);
}

void cnnc__conv_pack_cols(cnnc__isa isa, float *dst, int64_t nr, float *row, const float *x,
                          const cnnc__window *g, int64_t k0, int64_t kc, int64_t o0,
                          int64_t ncol) {
    variant(isa, nr)->pack_cols(dst, nr, row, x, g, k0, kc, o0, ncol);
}

enum { PHASE_SEG_COLS = 256 }; /* columns whose runs are listed at once (on the stack) */

/* The runs of the batch's columns [j, j + ncol) (ncol <= PHASE_SEG_COLS) of a grid of
 * gh x gw positions an image (row stride ld, img_floats an image), packed from panel
 * column t0 on: each grid row's run cut where a panel or a 16-lane group of one ends.
 * Returns their number. */
static int64_t grid_runs(phase_piece *pc, int64_t gh, int64_t gw, int64_t ld, int64_t img_floats,
                         int64_t nr, int64_t pstride, int64_t j, int64_t t0, int64_t ncol) {
    const int64_t osz = gh * gw;
    int64_t img = j / osz, oh = j % osz / gw, ow = j % gw, n = 0;
    for (int64_t t = t0; t < t0 + ncol;) {
        const int64_t lane = t % nr;
        int64_t len = gw - ow;
        if (len > t0 + ncol - t) len = t0 + ncol - t;
        const int64_t room = nr - lane < 16 - lane % 16 ? nr - lane : 16 - lane % 16;
        if (len > room) len = room;
        pc[n++] = (phase_piece){(int32_t)(img * img_floats + oh * ld + ow),
                                (int32_t)(t / nr * pstride + lane), (int32_t)len};
        t += len, ow += len;
        if (ow == gw) {
            ow = 0;
            if (++oh == gh) oh = 0, img++;
        }
    }
    return n;
}

/* Where row k0 + r of a batched packing starts (from the first image's base). */
typedef int64_t (*row_start_fn)(const void *ctx, int64_t row);

/* Inlined into each packing, so that its row start is a direct call, inlined too (an
 * indirect call per row made the forward's phase packing measurably slower). */
#if defined(__GNUC__)
#define GRID_INLINE static inline __attribute__((always_inline))
#else
#define GRID_INLINE static inline
#endif

/* Rows [k0, k0 + kc) x batch columns [j0, j0 + ncol) over a gh x gw grid an image
 * (grid_runs), row r reading src + start(ctx, k0 + r) + the run's offset, in nr-column
 * panels, the last one zero-padded. */
GRID_INLINE void pack_grid_batch(const im2col_variant *v, float *dst, int64_t nr, const float *src,
                            int64_t img_floats, int64_t gh, int64_t gw, int64_t ld,
                            row_start_fn start, const void *ctx, int64_t k0, int64_t kc,
                            int64_t j0, int64_t ncol) {
    const int64_t pstride = nr * kc, npan = (ncol + nr - 1) / nr, tail = ncol % nr;
    phase_piece pc[PHASE_SEG_COLS + PHASE_SEG_COLS / 16 + 1];
    for (int64_t t0 = 0; t0 < ncol; t0 += PHASE_SEG_COLS) {
        const int64_t seg = ncol - t0 < PHASE_SEG_COLS ? ncol - t0 : PHASE_SEG_COLS;
        const int64_t n = grid_runs(pc, gh, gw, ld, img_floats, nr, pstride, j0 + t0, t0, seg);
        for (int64_t r = 0; r < kc; r++) v->pieces(dst + r * nr, src + start(ctx, k0 + r), pc, n);
    }
    if (tail) /* the last panel's columns past ncol */
        for (int64_t r = 0; r < kc; r++)
            memset(dst + (npan - 1) * pstride + r * nr + tail, 0, (size_t)(nr - tail) * sizeof(float));
}

typedef struct phase_rows {
    const cnnc__window *g;
    int64_t plane, wph;
} phase_rows;

/* Row kk = ci ksize + q of the phase planes' column matrix: tap q's plane of channel ci,
 * shifted by the tap's whole strides. */
static int64_t phase_row_start(const void *ctx, int64_t kk) {
    const phase_rows *pr = ctx;
    const cnnc__window *g = pr->g;
    const int64_t s1 = g->stride[1], s2 = g->stride[2], ksz = g->k[1] * g->k[2];
    const int64_t ci = kk / ksz, q = kk % ksz;
    const int64_t t1 = q / g->k[2] * g->dil[1], t2 = q % g->k[2] * g->dil[2];
    return ((ci * s1 + t1 % s1) * s2 + t2 % s2) * pr->plane + (t1 / s1) * pr->wph + t2 / s2;
}

void cnnc__conv_pack_phase_batch(cnnc__isa isa, float *dst, int64_t nr, const float *ph,
                                 int64_t img_floats, const cnnc__window *g, int64_t k0,
                                 int64_t kc, int64_t j0, int64_t ncol) {
    int64_t hph, wph;
    cnnc__conv_phase_geom(g, &hph, &wph);
    const phase_rows pr = {g, hph * wph, wph};
    pack_grid_batch(variant(isa, nr), dst, nr, ph, img_floats, g->out[1], g->out[2], wph,
                    phase_row_start, &pr, k0, kc, j0, ncol);
}

typedef struct tap_rows {
    int64_t chan_floats, nch;
    const int64_t *tap_off;
} tap_rows;

/* Row kk = t nch + ch: channel ch's plane at tap t's offset. */
static int64_t tap_row_start(const void *ctx, int64_t kk) {
    const tap_rows *tr = ctx;
    return kk % tr->nch * tr->chan_floats + tr->tap_off[kk / tr->nch];
}

void cnnc__conv_pack_taps_batch(cnnc__isa isa, float *dst, int64_t nr, const float *src,
                                int64_t img_floats, int64_t chan_floats, int64_t nch,
                                const int64_t *tap_off, int64_t gh, int64_t gw, int64_t ld,
                                int64_t k0, int64_t kc, int64_t j0, int64_t ncol) {
    const tap_rows tr = {chan_floats, nch, tap_off};
    pack_grid_batch(variant(isa, nr), dst, nr, src, img_floats, gh, gw, ld, tap_row_start, &tr,
                    k0, kc, j0, ncol);
}
