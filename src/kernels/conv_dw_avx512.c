/* Depthwise convolution, AVX-512, square 3x3 and 5x5 filters on 2-d planes (the
 * MobileNet / EfficientNet shapes): any H stride, dilation and padding, W stride 1 or
 * 2, W dilation 1, rows up to DW_MAX_W wide. Register tiles along W: one 16-lane
 * vector of outputs per step, the K x K filter taps (forward, backward-data) or the
 * K x K weight-gradient accumulators (backward-weight) held in registers for the
 * whole plane; K, the W stride and every tap loop are compile-time constants of each
 * instantiation (always-inline bodies), so nothing spills. Lanes that fall outside the
 * row are masked (the masks, which depend only on the chunk and the tap, are built once
 * per plane). W stride 2 loads 32 consecutive floats and keeps the even ones
 * (forward, backward-weight); backward-data splits the 32 input positions of a chunk
 * into their two phases, each a contiguous run of dy, and interleaves them. */
#include "kernels/conv_dw_internal.h"

#if CNNC__ISA_X86
#include <immintrin.h>
#include <stdint.h>

CNNC__ISA_TARGET_BEGIN("avx512f,fma")

enum { DW_MAX_K = 5, DW_MAX_CHUNKS = 64, DW_MAX_W = 16 * DW_MAX_CHUNKS };

#define DW_INLINE static inline __attribute__((always_inline))

/* Does the geometry fit these kernels? */
static bool fits(const cnnc__window *g) {
    const int64_t k = g->k[1];
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (k != g->k[2] || (k != 3 && k != 5)) return false;
    if (g->dil[2] != 1 || (g->stride[2] != 1 && g->stride[2] != 2)) return false;
    if (g->stride[1] < 1 || g->dil[1] < 1) return false;
    return g->in[2] <= DW_MAX_W && g->out[2] <= DW_MAX_W && g->in[2] >= 1 && g->out[2] >= 1 &&
           g->pad[2] <= DW_MAX_W;
}

/* Lanes j < 16 with j < n and 0 <= e + j < len. */
static inline __mmask16 span(int64_t e, int64_t n, int64_t len) {
    int64_t lo = e < 0 ? -e : 0, hi = len - e;
    if (hi > n) hi = n;
    if (hi > 16) hi = 16;
    if (lo >= hi) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* 16 floats at row[e ..] under mask m: the address is formed as an integer since
 * row + e may lie outside the row (masked lanes never fault). */
DW_INLINE __m512 load_at(const float *row, int64_t e, __mmask16 m) {
    const float *p = (const float *)((uintptr_t)row + (uintptr_t)(e * (int64_t)sizeof(float)));
    return _mm512_maskz_loadu_ps(m, p);
}

/* Per chunk (16 outputs): W stride 1, per tap q the mask m[c][q] of the 16 input
 * floats it reads; W stride 2, the masks m[c][0..2] of the three 16-float runs from
 * the chunk's first input (32 c - pad2): the taps are built from them (row_taps). And
 * the store mask of the chunk. */
typedef struct in_tabs {
    int64_t nch;
    __mmask16 m[DW_MAX_CHUNKS][DW_MAX_K], st[DW_MAX_CHUNKS];
    bool full[DW_MAX_CHUNKS]; /* 16 outputs, every load but the third run unmasked */
} in_tabs;

static void make_in_tabs(in_tabs *t, const cnnc__window *g) {
    const int64_t out2 = g->out[2], in2 = g->in[2], s = g->stride[2], k = g->k[2];
    t->nch = (out2 + 15) / 16;
    for (int64_t c = 0; c < t->nch; c++) {
        const int64_t n = out2 - 16 * c < 16 ? out2 - 16 * c : 16;
        t->st[c] = span(0, n, 16);
        t->full[c] = n == 16;
        if (s == 1) {
            for (int64_t q = 0; q < k; q++) {
                t->m[c][q] = span(16 * c + q - g->pad[2], n, in2);
                if (t->m[c][q] != 0xFFFF) t->full[c] = false;
            }
        } else {
            const int64_t e = 32 * c - g->pad[2];
            t->m[c][0] = span(e, 16, in2);
            t->m[c][1] = span(e + 16, 16, in2);
            t->m[c][2] = span(e + 32, k - 2, in2);
            if (t->m[c][0] != 0xFFFF || t->m[c][1] != 0xFFFF) t->full[c] = false;
        }
    }
}

/* v[q] = the 16 inputs of chunk c for W tap q, q < K: x[(16 c + l) S + q - pad2],
 * l < 16 (FULL: no masks but the third run's). Stride 2: the even and odd floats of
 * the first two runs are taps 0 and 1; tap q + 2 is tap q moved down one lane, with
 * float q of the third run in lane 15. */
DW_INLINE void row_taps(const int K, const int S, const bool FULL, const float *xr,
                        const in_tabs *t, int64_t c, int64_t pad2, __m512 v[]) {
    if (S == 1) {
        const int64_t e = 16 * c - pad2;
#pragma GCC unroll 8
        for (int q = 0; q < K; q++)
            v[q] = FULL ? _mm512_loadu_ps(xr + e + q) : load_at(xr, e + q, t->m[c][q]);
        return;
    }
    const int64_t e = 32 * c - pad2;
    const __m512 r0 = FULL ? _mm512_loadu_ps(xr + e) : load_at(xr, e, t->m[c][0]);
    const __m512 r1 = FULL ? _mm512_loadu_ps(xr + e + 16) : load_at(xr, e + 16, t->m[c][1]);
    const __m512 r2 = load_at(xr, e + 32, t->m[c][2]);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    v[0] = _mm512_permutex2var_ps(r0, even, r1);
    v[1] = _mm512_permutex2var_ps(r0, odd, r1);
#pragma GCC unroll 8
    for (int q = 2; q < K; q++) {
        const __m512i up = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                             16 + q - 2);
        v[q] = _mm512_permutex2var_ps(v[q - 2], up, r2);
    }
}

/* The K input rows output row p1 reads (ok[q1]: inside the input). */
DW_INLINE void in_rows(const int K, const cnnc__window *g, const float *x, int64_t p1,
                       const float *xr[], bool ok[]) {
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++) {
        const int64_t i1 = p1 * g->stride[1] - g->pad[1] + q1 * g->dil[1];
        ok[q1] = i1 >= 0 && i1 < g->in[1];
        xr[q1] = x + (ok[q1] ? i1 : 0) * g->in[2];
    }
}

/* ---- forward -------------------------------------------------------------------------- */

DW_INLINE __m512 fwd_chunk(const int K, const int S, const bool FULL,
                           const __m512 wv[DW_MAX_K][DW_MAX_K], __m512 acc, const float *xr[],
                           const bool ok[], const in_tabs *t, int64_t c, int64_t pad2) {
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++) {
        if (!ok[q1]) continue;
        __m512 v[DW_MAX_K];
        row_taps(K, S, FULL, xr[q1], t, c, pad2, v);
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) acc = _mm512_fmadd_ps(wv[q1][q2], v[q2], acc);
    }
    return acc;
}

DW_INLINE void fwd_body(const int K, const int S, float *y, const float *x, const float *w,
                        float bias, const cnnc__window *g, const in_tabs *t) {
    __m512 wv[DW_MAX_K][DW_MAX_K];
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) wv[q1][q2] = _mm512_set1_ps(w[q1 * K + q2]);
    const __m512 vb = _mm512_set1_ps(bias);
    const int64_t pad2 = g->pad[2], out2 = g->out[2];
    for (int64_t p1 = 0; p1 < g->out[1]; p1++) {
        const float *xr[DW_MAX_K];
        bool ok[DW_MAX_K];
        in_rows(K, g, x, p1, xr, ok);
        float *yr = y + p1 * out2;
        for (int64_t c = 0; c < t->nch; c++) {
            if (t->full[c])
                _mm512_storeu_ps(yr + 16 * c, fwd_chunk(K, S, true, wv, vb, xr, ok, t, c, pad2));
            else
                _mm512_mask_storeu_ps(yr + 16 * c, t->st[c],
                                      fwd_chunk(K, S, false, wv, vb, xr, ok, t, c, pad2));
        }
    }
}

static void fwd_3_1(float *y, const float *x, const float *w, float b, const cnnc__window *g,
                    const in_tabs *t) {
    fwd_body(3, 1, y, x, w, b, g, t);
}
static void fwd_3_2(float *y, const float *x, const float *w, float b, const cnnc__window *g,
                    const in_tabs *t) {
    fwd_body(3, 2, y, x, w, b, g, t);
}
static void fwd_5_1(float *y, const float *x, const float *w, float b, const cnnc__window *g,
                    const in_tabs *t) {
    fwd_body(5, 1, y, x, w, b, g, t);
}
static void fwd_5_2(float *y, const float *x, const float *w, float b, const cnnc__window *g,
                    const in_tabs *t) {
    fwd_body(5, 2, y, x, w, b, g, t);
}

bool cnnc__dw_sq_forward_avx512(float *y, const float *x, const float *w, float bias,
                                const cnnc__window *g) {
    if (!fits(g)) return false;
    in_tabs t;
    make_in_tabs(&t, g);
    const bool s2 = g->stride[2] == 2;
    if (g->k[1] == 3)
        (s2 ? fwd_3_2 : fwd_3_1)(y, x, w, bias, g, &t);
    else
        (s2 ? fwd_5_2 : fwd_5_1)(y, x, w, bias, g, &t);
    return true;
}

/* ---- backward weight ------------------------------------------------------------------ */

DW_INLINE void bww_chunk(const int K, const int S, const bool FULL,
                         __m512 acc[DW_MAX_K][DW_MAX_K], __m512 vy, const float *xr[],
                         const bool ok[], const in_tabs *t, int64_t c, int64_t pad2) {
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++) {
        if (!ok[q1]) continue;
        __m512 v[DW_MAX_K];
        row_taps(K, S, FULL, xr[q1], t, c, pad2, v);
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) acc[q1][q2] = _mm512_fmadd_ps(vy, v[q2], acc[q1][q2]);
    }
}

DW_INLINE void bwd_weight_body(const int K, const int S, float *dw, const float *dy,
                               const float *x, const cnnc__window *g, const in_tabs *t) {
    __m512 acc[DW_MAX_K][DW_MAX_K];
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) acc[q1][q2] = _mm512_setzero_ps();
    const int64_t pad2 = g->pad[2], out2 = g->out[2];
    for (int64_t p1 = 0; p1 < g->out[1]; p1++) {
        const float *xr[DW_MAX_K];
        bool ok[DW_MAX_K];
        in_rows(K, g, x, p1, xr, ok);
        const float *yr = dy + p1 * out2;
        for (int64_t c = 0; c < t->nch; c++) {
            if (t->full[c])
                bww_chunk(K, S, true, acc, _mm512_loadu_ps(yr + 16 * c), xr, ok, t, c, pad2);
            else
                bww_chunk(K, S, false, acc, _mm512_maskz_loadu_ps(t->st[c], yr + 16 * c), xr, ok,
                          t, c, pad2);
        }
    }
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) dw[q1 * K + q2] += _mm512_reduce_add_ps(acc[q1][q2]);
}

static void bww_3_1(float *dw, const float *dy, const float *x, const cnnc__window *g,
                    const in_tabs *t) {
    bwd_weight_body(3, 1, dw, dy, x, g, t);
}
static void bww_3_2(float *dw, const float *dy, const float *x, const cnnc__window *g,
                    const in_tabs *t) {
    bwd_weight_body(3, 2, dw, dy, x, g, t);
}
static void bww_5_1(float *dw, const float *dy, const float *x, const cnnc__window *g,
                    const in_tabs *t) {
    bwd_weight_body(5, 1, dw, dy, x, g, t);
}
static void bww_5_2(float *dw, const float *dy, const float *x, const cnnc__window *g,
                    const in_tabs *t) {
    bwd_weight_body(5, 2, dw, dy, x, g, t);
}

bool cnnc__dw_sq_backward_weight_avx512(float *dw, const float *dy, const float *x,
                                        const cnnc__window *g) {
    if (!fits(g)) return false;
    in_tabs t;
    make_in_tabs(&t, g);
    const bool s2 = g->stride[2] == 2;
    if (g->k[1] == 3)
        (s2 ? bww_3_2 : bww_3_1)(dw, dy, x, g, &t);
    else
        (s2 ? bww_5_2 : bww_5_1)(dw, dy, x, g, &t);
    return true;
}

/* ---- backward data -------------------------------------------------------------------- */

/* Per chunk of 16 S input positions, phase a < S (positions 16 S c + S l + a) and W tap
 * q: the mask of the dy floats dy[16 c + off[a][q] + l] it reads (zero when the tap
 * does not reach the phase); the store masks of the chunk's S vectors. */
typedef struct out_tabs {
    int64_t nch;
    int64_t off[2][DW_MAX_K];
    bool on[2][DW_MAX_K];
    __mmask16 m[DW_MAX_CHUNKS][2][DW_MAX_K], st[DW_MAX_CHUNKS][2];
} out_tabs;

static void make_out_tabs(out_tabs *t, const cnnc__window *g) {
    const int64_t out2 = g->out[2], in2 = g->in[2], s = g->stride[2], k = g->k[2];
    t->nch = (in2 + 16 * s - 1) / (16 * s);
    for (int64_t a = 0; a < s; a++)
        for (int64_t q = 0; q < k; q++) {
            const int64_t num = a + g->pad[2] - q;
            t->on[a][q] = num % s == 0;
            t->off[a][q] = t->on[a][q] ? num / s : 0;
        }
    for (int64_t c = 0; c < t->nch; c++) {
        for (int64_t v = 0; v < s; v++) t->st[c][v] = span(16 * (s * c + v), 16, in2);
        for (int64_t a = 0; a < s; a++) {
            /* lanes l of this phase that exist: 16 s c + s l + a < in2 */
            const int64_t left = in2 - 16 * s * c - a, n = left <= 0 ? 0 : (left + s - 1) / s;
            for (int64_t q = 0; q < k; q++)
                t->m[c][a][q] = t->on[a][q] ? span(16 * c + t->off[a][q], n, out2) : 0;
        }
    }
}

DW_INLINE void bwd_data_body(const int K, const int S, float *dx, const float *dy,
                             const float *w, const cnnc__window *g, const out_tabs *t,
                             bool accumulate) {
    __m512 wv[DW_MAX_K][DW_MAX_K];
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) wv[q1][q2] = _mm512_set1_ps(w[q1 * K + q2]);
    const __m512i lo_idx =
        _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_idx =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const int64_t in2 = g->in[2], out2 = g->out[2], s1 = g->stride[1];
    for (int64_t i1 = 0; i1 < g->in[1]; i1++) {
        const float *yr[DW_MAX_K];
        bool ok[DW_MAX_K];
#pragma GCC unroll 8
        for (int q1 = 0; q1 < K; q1++) {
            const int64_t num = i1 + g->pad[1] - q1 * g->dil[1];
            ok[q1] = num >= 0 && num % s1 == 0 && num / s1 < g->out[1];
            yr[q1] = dy + (ok[q1] ? num / s1 : 0) * out2;
        }
        float *xr = dx + i1 * in2;
        for (int64_t c = 0; c < t->nch; c++) {
            __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 8
            for (int q1 = 0; q1 < K; q1++) {
                if (!ok[q1]) continue;
#pragma GCC unroll 8
                for (int q2 = 0; q2 < K; q2++)
#pragma GCC unroll 2
                    for (int a = 0; a < S; a++)
                        if (t->on[a][q2])
                            acc[a] = _mm512_fmadd_ps(
                                wv[q1][q2], load_at(yr[q1], 16 * c + t->off[a][q2], t->m[c][a][q2]),
                                acc[a]);
            }
            __m512 v[2];
            if (S == 1) {
                v[0] = acc[0];
            } else {
                v[0] = _mm512_permutex2var_ps(acc[0], lo_idx, acc[1]);
                v[1] = _mm512_permutex2var_ps(acc[0], hi_idx, acc[1]);
            }
#pragma GCC unroll 2
            for (int u = 0; u < S; u++) {
                float *p = xr + 16 * (S * c + u);
                const __mmask16 m = t->st[c][u];
                if (!m) continue;
                if (accumulate) v[u] = _mm512_add_ps(_mm512_maskz_loadu_ps(m, p), v[u]);
                _mm512_mask_storeu_ps(p, m, v[u]);
            }
        }
    }
}

static void bwd_3_1(float *dx, const float *dy, const float *w, const cnnc__window *g,
                    const out_tabs *t, bool acc) {
    bwd_data_body(3, 1, dx, dy, w, g, t, acc);
}
static void bwd_3_2(float *dx, const float *dy, const float *w, const cnnc__window *g,
                    const out_tabs *t, bool acc) {
    bwd_data_body(3, 2, dx, dy, w, g, t, acc);
}
static void bwd_5_1(float *dx, const float *dy, const float *w, const cnnc__window *g,
                    const out_tabs *t, bool acc) {
    bwd_data_body(5, 1, dx, dy, w, g, t, acc);
}
static void bwd_5_2(float *dx, const float *dy, const float *w, const cnnc__window *g,
                    const out_tabs *t, bool acc) {
    bwd_data_body(5, 2, dx, dy, w, g, t, acc);
}

/* Stride 1 in both dims, written in full: dx is the forward of dy with the filter
 * turned by 180 degrees and padding dil (K - 1) - pad (the forward kernels' unmasked
 * inner loop; no scatter). False when that padding would be negative or too wide. */
static bool bwd_data_as_forward(float *dx, const float *dy, const float *w,
                                const cnnc__window *g) {
    const int64_t k = g->k[1];
    if (g->stride[1] != 1 || g->stride[2] != 1) return false;
    cnnc__window f = *g;
    for (int d = 1; d < 3; d++) {
        f.in[d] = g->out[d];
        f.out[d] = g->in[d];
        f.pad[d] = g->dil[d] * (k - 1) - g->pad[d];
        if (f.pad[d] < 0) return false;
    }
    if (!fits(&f)) return false;
    float wf[DW_MAX_K * DW_MAX_K];
    for (int64_t q = 0; q < k * k; q++) wf[q] = w[k * k - 1 - q];
    return cnnc__dw_sq_forward_avx512(dx, dy, wf, 0.0f, &f);
}

bool cnnc__dw_sq_backward_data_avx512(float *dx, const float *dy, const float *w,
                                      const cnnc__window *g, bool accumulate) {
    if (!fits(g)) return false;
    if (!accumulate && bwd_data_as_forward(dx, dy, w, g)) return true;
    out_tabs t;
    make_out_tabs(&t, g);
    const bool s2 = g->stride[2] == 2;
    if (g->k[1] == 3)
        (s2 ? bwd_3_2 : bwd_3_1)(dx, dy, w, g, &t, accumulate);
    else
        (s2 ? bwd_5_2 : bwd_5_1)(dx, dy, w, g, &t, accumulate);
    return true;
}

CNNC__ISA_TARGET_END
#else
typedef int cnnc__dw_avx512_unused; /* ISO C: a translation unit is not empty */
#endif
