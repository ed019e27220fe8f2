/* Depthwise convolution, AVX-512, small planes as flat vectors, on runs of planes.
 * Stride 1 ("same": square 3x3 or 5x5 filters, dilation 1, padding (K - 1) / 2, so
 * the output plane has the input's H x W; at most CNNC__DW_FLAT_MAX floats a plane,
 * MobileNet's 7x7 and 14x14 maps): output position p (row-major) reads input position
 * p + off[q] for tap q, off[q] = (q1 - pad) W + (q2 - pad), so the plane is a run of
 * 16-lane chunks and each tap one load per chunk, with no per-row work and no lanes
 * wasted at the row ends (a 7-wide row kept 7 of 16 lanes busy). The mask of the lanes
 * whose tap reads inside the plane gates the FMA: taps outside are skipped, as the
 * reference kernels do (the same value as adding w * 0 but for signed zeros and
 * infinite weights); chunks whose loads stay inside the plane load all 16 floats. The
 * masks, which depend only on the geometry, are built once per run (flat_tabs).
 * Forward: bias, then the taps in (q1, q2) order, fused-multiply-added. Backward-data:
 * the forward of dy with the filter turned by 180 degrees (same padding).
 * Backward-weight: per tap one vector accumulator over the plane in every image of
 * the run, reduced once per filter.
 * Stride 2 backward-data (below): dx's four phases, per dy row. */
#include "kernels/conv_dw_internal.h"

#if CNNC__ISA_X86
#include <immintrin.h>
#include <stdint.h>

CNNC__ISA_TARGET_BEGIN("avx512f,fma")

enum { FL_PF_BYTES = 4096 };
enum { FL_MAX_K = 5, FL_MAX_TAPS = FL_MAX_K * FL_MAX_K, FL_MAX_CHUNKS = CNNC__DW_FLAT_MAX / 16 };

#define FL_INLINE static inline __attribute__((always_inline))

/* Per chunk c of 16 output positions: ld[c][q], the lanes whose tap q reads inside
 * the plane (the others skip the tap, as the reference kernels do); st[c], the lanes
 * that exist; edge[c], some tap's 16 floats leave the plane (loads masked: inside
 * chunks load all 16, the masks then only gate the FMAs). */
typedef struct flat_tabs {
    int64_t nch, off[FL_MAX_TAPS];
    __mmask16 ld[FL_MAX_CHUNKS][FL_MAX_TAPS], st[FL_MAX_CHUNKS];
    bool edge[FL_MAX_CHUNKS];
} flat_tabs;

bool cnnc__dw_flat_fits(const cnnc__window *g) {
    const int64_t k = g->k[1], pad = (k - 1) / 2;
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (k != g->k[2] || (k != 3 && k != 5)) return false;
    for (int d = 1; d < 3; d++)
        if (g->stride[d] != 1 || g->dil[d] != 1 || g->pad[d] != pad || g->in[d] < 1 ||
            g->out[d] != g->in[d])
            return false;
    return g->in[1] * g->in[2] <= CNNC__DW_FLAT_MAX;
}

/* Lanes of v (int32) in [0, n). */
static inline __mmask16 inside(__m512i v, int64_t n) {
    return _mm512_cmpge_epi32_mask(v, _mm512_setzero_si512()) &
           _mm512_cmplt_epi32_mask(v, _mm512_set1_epi32((int)n));
}

/* Sixteen lanes at a time: the positions' rows and columns (p / W by a division in
 * floats, exact for these small integers), then the masks by comparisons. */
static void make_flat_tabs(flat_tabs *t, const cnnc__window *g) {
    const int64_t k = g->k[1], pad = (k - 1) / 2, h = g->in[1], w = g->in[2], size = h * w;
    t->nch = (size + 15) / 16;
    for (int64_t q = 0; q < k * k; q++) t->off[q] = (q / k - pad) * w + q % k - pad;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 wf = _mm512_set1_ps((float)w);
    for (int64_t c = 0; c < t->nch; c++) {
        const __m512i p = _mm512_add_epi32(iota, _mm512_set1_epi32((int)(16 * c)));
        const __m512i p1 = _mm512_cvttps_epi32(_mm512_div_ps(_mm512_cvtepi32_ps(p), wf));
        const __m512i p2 = _mm512_sub_epi32(p, _mm512_mullo_epi32(p1, _mm512_set1_epi32((int)w)));
        t->st[c] = inside(p, size);
        __mmask16 row[FL_MAX_K], col[FL_MAX_K];
        for (int64_t q = 0; q < k; q++) {
            const __m512i d = _mm512_set1_epi32((int)(q - pad));
            row[q] = t->st[c] & inside(_mm512_add_epi32(p1, d), h);
            col[q] = inside(_mm512_add_epi32(p2, d), w);
        }
        for (int64_t q = 0; q < k * k; q++) t->ld[c][q] = row[q / k] & col[q % k];
        t->edge[c] = 16 * c + t->off[0] < 0 || 16 * c + 15 + t->off[k * k - 1] >= size;
    }
}

/* 16 floats at x[e ..] under mask m: the address is formed as an integer since x + e
 * may lie outside the plane (masked lanes never fault). */
FL_INLINE __m512 load_at(const float *x, int64_t e, __mmask16 m) {
    const float *p = (const float *)((uintptr_t)x + (uintptr_t)(e * (int64_t)sizeof(float)));
    return _mm512_maskz_loadu_ps(m, p);
}

/* The offset of tap q: a constant when the instantiation fixes W, the plane's width
 * (0: it does not), else from the tables. */
FL_INLINE int64_t tap_off(const int K, const int W, const flat_tabs *t, int q) {
    return W ? (q / K - (K - 1) / 2) * W + q % K - (K - 1) / 2 : t->off[q];
}

/* G chunks from c0 of one output plane: independent accumulators in flight; EDGE:
 * some load leaves the plane (masked loads). */
FL_INLINE void fwd_group(const int K, const int W, const int G, const bool EDGE, float *y,
                         const float *x, const __m512 wv[], __m512 vb, const flat_tabs *t,
                         int64_t c0) {
    __m512 acc[4];
    const float *xc = x + 16 * c0;
#pragma GCC unroll 4
    for (int j = 0; j < G; j++) acc[j] = vb;
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) {
            const int q = q1 * K + q2;
#pragma GCC unroll 4
            for (int j = 0; j < G; j++) {
                const __mmask16 m = t->ld[c0 + j][q];
                const int64_t e = 16 * j + tap_off(K, W, t, q);
                const __m512 v = EDGE ? load_at(xc, e, m) : _mm512_loadu_ps(xc + e);
                acc[j] = _mm512_mask3_fmadd_ps(wv[q], v, acc[j], m);
            }
        }
#pragma GCC unroll 4
    for (int j = 0; j < G; j++) _mm512_mask_storeu_ps(y + 16 * (c0 + j), t->st[c0 + j], acc[j]);
}

/* n planes: y [n, size] from x [n, size], filters w [n, K K] (turned by 180 degrees
 * when FLIP), bias [n] (NULL: zeros). */
FL_INLINE void fwd_planes(const int K, const int W, const bool FLIP, float *y, const float *x,
                          const float *w, const float *bias, int64_t n, int64_t size,
                          const flat_tabs *t) {
    for (int64_t i = 0; i < n; i++) {
        __m512 wv[FL_MAX_TAPS];
        const float *wi = w + i * K * K;
#pragma GCC unroll 32
        for (int q = 0; q < K * K; q++) wv[q] = _mm512_set1_ps(wi[FLIP ? K * K - 1 - q : q]);
        const __m512 vb = _mm512_set1_ps(bias ? bias[i] : 0.0f);
        const float *xi = x + i * size;
        float *yi = y + i * size;
        cnnc__dw_prefetch_ahead(xi, size, FL_PF_BYTES, false);
        cnnc__dw_prefetch_ahead(yi, size, FL_PF_BYTES, true);
        int64_t c = 0;
        for (; c + 4 <= t->nch; c += 4) {
            if (t->edge[c] || t->edge[c + 3])
                fwd_group(K, W, 4, true, yi, xi, wv, vb, t, c);
            else
                fwd_group(K, W, 4, false, yi, xi, wv, vb, t, c);
        }
        for (; c < t->nch; c++) fwd_group(K, W, 1, true, yi, xi, wv, vb, t, c);
    }
}

/* dw [n, K K] += per plane the sums over p of dy[p] x[p + off[q]]. */
FL_INLINE void bww_planes(const int K, const int W, float *dw, const float *dy, const float *x,
                          int64_t n, cnnc__dw_images im, int64_t size, const flat_tabs *t) {
    for (int64_t i = 0; i < n; i++) {
        __m512 acc[FL_MAX_TAPS];
#pragma GCC unroll 32
        for (int q = 0; q < K * K; q++) acc[q] = _mm512_setzero_ps();
        for (int64_t b = 0; b < im.n; b++) {
            const float *xi = x + b * im.x_step + i * size, *yi = dy + b * im.dy_step + i * size;
            /* the next filter's */
            cnnc__dw_prefetch_ahead(xi, size, size * (int64_t)sizeof(float), false);
            cnnc__dw_prefetch_ahead(yi, size, size * (int64_t)sizeof(float), false);
            for (int64_t c = 0; c < t->nch; c++) {
                const __m512 vy = _mm512_maskz_loadu_ps(t->st[c], yi + 16 * c);
#pragma GCC unroll 32
                for (int q = 0; q < K * K; q++) {
                    const __mmask16 m = t->ld[c][q];
                    const int64_t e = 16 * c + tap_off(K, W, t, q);
                    const __m512 v = t->edge[c] ? load_at(xi, e, m) : _mm512_loadu_ps(xi + e);
                    acc[q] = _mm512_mask3_fmadd_ps(vy, v, acc[q], m);
                }
            }
        }
#pragma GCC unroll 32
        for (int q = 0; q < K * K; q++) dw[i * K * K + q] += _mm512_reduce_add_ps(acc[q]);
    }
}

/* The instantiations: K 3 on MobileNet's 7- and 14-wide planes, K 3 and 5 on any. */
typedef void (*fwd_fn)(float *y, const float *x, const float *w, const float *b, int64_t n,
                       int64_t size, const flat_tabs *t);
typedef void (*bww_fn)(float *dw, const float *dy, const float *x, int64_t n,
                       cnnc__dw_images im, int64_t size, const flat_tabs *t);
#define FL_FNS(K, W)                                                                          \
    static void fwd_##K##_##W(float *y, const float *x, const float *w, const float *b,      \
                              int64_t n, int64_t size, const flat_tabs *t) {                 \
        fwd_planes(K, W, false, y, x, w, b, n, size, t);                                     \
    }                                                                                         \
    static void flip_##K##_##W(float *y, const float *x, const float *w, const float *b,     \
                               int64_t n, int64_t size, const flat_tabs *t) {                \
        fwd_planes(K, W, true, y, x, w, b, n, size, t);                                      \
    }                                                                                         \
    static void bww_##K##_##W(float *dw, const float *dy, const float *x, int64_t n,         \
                              cnnc__dw_images im, int64_t size, const flat_tabs *t) {        \
        bww_planes(K, W, dw, dy, x, n, im, size, t);                                         \
    }
FL_FNS(3, 7)
FL_FNS(3, 14)
FL_FNS(3, 0)
FL_FNS(5, 0)
#undef FL_FNS

typedef struct flat_fns {
    fwd_fn fwd, flip;
    bww_fn bww;
} flat_fns;

static flat_fns fns_of(const cnnc__window *g) {
    if (g->k[1] == 5) return (flat_fns){fwd_5_0, flip_5_0, bww_5_0};
    if (g->in[2] == 7) return (flat_fns){fwd_3_7, flip_3_7, bww_3_7};
    if (g->in[2] == 14) return (flat_fns){fwd_3_14, flip_3_14, bww_3_14};
    return (flat_fns){fwd_3_0, flip_3_0, bww_3_0};
}

bool cnnc__dw_flat_forward_avx512(float *y, const float *x, const float *w, const float *bias,
                                  int64_t n, const cnnc__window *g) {
    if (!cnnc__dw_flat_fits(g)) return false;
    flat_tabs t;
    make_flat_tabs(&t, g);
    fns_of(g).fwd(y, x, w, bias, n, g->in[1] * g->in[2], &t);
    return true;
}

bool cnnc__dw_flat_backward_data_avx512(float *dx, const float *dy, const float *w, int64_t n,
                                        const cnnc__window *g) {
    if (!cnnc__dw_flat_fits(g)) return false;
    flat_tabs t;
    make_flat_tabs(&t, g);
    fns_of(g).flip(dx, dy, w, NULL, n, g->in[1] * g->in[2], &t);
    return true;
}

bool cnnc__dw_flat_backward_weight_avx512(float *dw, const float *dy, const float *x, int64_t n,
                                          cnnc__dw_images im, const cnnc__window *g) {
    if (!cnnc__dw_flat_fits(g)) return false;
    flat_tabs t;
    make_flat_tabs(&t, g);
    fns_of(g).bww(dw, dy, x, n, im, g->in[1] * g->in[2], &t);
    return true;
}

/* ---- stride 2, backward-data: the four phases of dx ------------------------------------ */

/* dx [2 Ho, 2 Wo] from dy [Ho, Wo] (stride 2, padding (K - 1) / 2, Wo <= 16): dx's
 * phase (a, b), the positions (2 u + a, 2 v + b), is a stride-1 sum over dy of the
 * taps q with a + pad - q1 and b + pad - q2 even, tap q reading dy[u + du][v + dv]
 * (du = (a + pad - q1) / 2, in -1 .. 1). Per dy row u and row phase a, the two column
 * phases are one 16-lane vector each (a tap: one masked load of a dy row, the mask
 * gating the FMA: taps outside skipped, as the reference does), then interleaved into
 * dx row 2 u + a (one permute per 16 floats): no scatter, no lanes spent on the zeros
 * of the stride. */
bool cnnc__dw_phase_fits(const cnnc__window *g) {
    const int64_t k = g->k[1], pad = (k - 1) / 2;
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (k != g->k[2] || (k != 3 && k != 5)) return false;
    for (int d = 1; d < 3; d++)
        if (g->stride[d] != 2 || g->dil[d] != 1 || g->pad[d] != pad || g->out[d] < 1 ||
            g->in[d] != 2 * g->out[d])
            return false;
    return g->out[2] <= 16;
}

/* Column phase B of row phase A, dy row u's contribution: the taps with A + pad - q1
 * and B + pad - q2 even whose dy row is inside (all fixed at compile time but the row
 * test). m[dv + 1]: the lanes v < wo with v + dv inside the row. */
FL_INLINE __m512 phase_row(const int K, const int A, const int B, const float *dy, int64_t u,
                           int64_t ho, int64_t wo, const __m512 wv[], const __mmask16 m[3]) {
    const int pad = (K - 1) / 2;
    __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++) {
        if ((A + pad - q1) % 2 != 0) continue;
        const int64_t r = u + (A + pad - q1) / 2;
        if (r < 0 || r >= ho) continue;
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) {
            if ((B + pad - q2) % 2 != 0) continue;
            const int dv = (B + pad - q2) / 2;
            acc = _mm512_mask3_fmadd_ps(wv[q1 * K + q2], load_at(dy + r * wo, dv, m[dv + 1]), acc,
                                        m[dv + 1]);
        }
    }
    return acc;
}

/* n planes: dx [n, 2 ho, 2 wo] written from dy [n, ho, wo] and w [n, K K]. */
FL_INLINE void phase_planes(const int K, float *dx, const float *dy, const float *w, int64_t n,
                            int64_t ho, int64_t wo) {
    const __m512i first =
        _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __mmask16 m[3];
    for (int d = 0; d < 3; d++)
        m[d] = inside(iota, wo) & inside(_mm512_add_epi32(iota, _mm512_set1_epi32(d - 1)), wo);
    const int64_t W = 2 * wo, osz = ho * wo;
    const __mmask16 st0 = (__mmask16)((1u << (W < 16 ? W : 16)) - 1u);
    const __mmask16 st1 = W > 16 ? (__mmask16)((1u << (W - 16)) - 1u) : 0;
    for (int64_t i = 0; i < n; i++) {
        __m512 wv[FL_MAX_TAPS];
#pragma GCC unroll 32
        for (int q = 0; q < K * K; q++) wv[q] = _mm512_set1_ps(w[i * K * K + q]);
        const float *dyi = dy + i * osz;
        float *dxi = dx + i * 4 * osz;
        cnnc__dw_prefetch_ahead(dyi, osz, FL_PF_BYTES, false);
        cnnc__dw_prefetch_ahead(dxi, 4 * osz, 4 * FL_PF_BYTES, true);
        for (int64_t u = 0; u < ho; u++) {
#pragma GCC unroll 2
            for (int a = 0; a < 2; a++) {
                const __m512 even = a ? phase_row(K, 1, 0, dyi, u, ho, wo, wv, m)
                                      : phase_row(K, 0, 0, dyi, u, ho, wo, wv, m);
                const __m512 odd = a ? phase_row(K, 1, 1, dyi, u, ho, wo, wv, m)
                                     : phase_row(K, 0, 1, dyi, u, ho, wo, wv, m);
                float *dxr = dxi + (2 * u + a) * W;
                _mm512_mask_storeu_ps(dxr, st0, _mm512_permutex2var_ps(even, first, odd));
                if (st1)
                    _mm512_mask_storeu_ps(dxr + 16, st1, _mm512_permutex2var_ps(even, second, odd));
            }
        }
    }
}

static void phase_planes_3(float *dx, const float *dy, const float *w, int64_t n, int64_t ho,
                           int64_t wo) {
    phase_planes(3, dx, dy, w, n, ho, wo);
}

static void phase_planes_5(float *dx, const float *dy, const float *w, int64_t n, int64_t ho,
                           int64_t wo) {
    phase_planes(5, dx, dy, w, n, ho, wo);
}

bool cnnc__dw_phase_backward_data_avx512(float *dx, const float *dy, const float *w, int64_t n,
                                         const cnnc__window *g) {
    if (!cnnc__dw_phase_fits(g)) return false;
    (g->k[1] == 5 ? phase_planes_5 : phase_planes_3)(dx, dy, w, n, g->out[1], g->out[2]);
    return true;
}

CNNC__ISA_TARGET_END
#else
typedef int cnnc__dw_flat_avx512_unused; /* ISO C: a translation unit is not empty */
#endif
