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
 * into their two phases, each a contiguous run of dy, and interleaves them (the taps
 * that reach each phase fixed at compile time by the parity of the W padding).
 * Row blocks (forward, backward-weight; H stride 1 or 2, no H dilation, rows up to
 * DW_BLOCK_W outputs): several output rows at once, each input row they share turned
 * into its taps once, independent accumulators in flight; 1 thread, 3x3, ns per
 * plane of 56x56 from DRAM: forward stride 1 1270 -> 1116, stride 2 1050 -> 568;
 * on 112-wide rows streamed from DRAM they lost (3570 -> 4010 ns, forward stride 1),
 * hence the width limit. */
#include "kernels/conv_dw_internal.h"

#if CNNC__ISA_X86
#include <immintrin.h>
#include <stdint.h>

CNNC__ISA_TARGET_BEGIN("avx512f,fma")

/* Row blocks prefetch their input DW_PF_BYTES ahead (and their output that over the
 * strides' area, the output planes being that much smaller): the planes lie one after
 * another, so past a plane's end this is the next plane. The hardware prefetcher alone
 * left the stride-2 forward and weight gradient waiting on memory: 1 thread, 3x3, ns
 * per plane of 56x56 streamed from DRAM, forward 683 -> 436, weight gradient 1057 ->
 * 408; 112x112: 2860 -> 1922, 4240 -> 1650 (4 KB and 16 KB ahead did the same). The
 * backward-data was not helped (it waits on its shuffles). Stride 1 too, when the
 * planes come from memory (each call after a PyTorch one, batch 8, ms): 192x28x28
 * forward 1.33 -> 0.70, 144x56x56 1.76 -> 1.66. */
enum { DW_PF_BYTES = 8192 };
enum { DW_MAX_K = 5, DW_MAX_R = 4, DW_BLOCK_W = 64, DW_MAX_CHUNKS = 64, DW_MAX_W = 16 * DW_MAX_CHUNKS };

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

/* Touches the cache lines of n floats from p (a prefetch: never faults, p may lie
 * past the buffer). */
DW_INLINE void prefetch_run(const float *p, int64_t n, bool write) {
    for (int64_t i = 0; i < n; i += 16) {
        if (write)
            __builtin_prefetch(p + i, 1, 3);
        else
            __builtin_prefetch(p + i, 0, 3);
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

/* R output rows at once (H stride SH, H dilation 1, every input row they read inside
 * the input) of NC chunks from c: the K + (R - 1) SH input rows from x0 are each turned
 * into their taps once and feed every output row that reads them, in R NC independent
 * accumulators (each sums K K taps in a chain; two chunks a block put twice the chains in
 * flight: 1 thread, [8,128,56,56] 3x3 from memory 1.04 -> 0.89 ms). Each output still
 * sums bias, then its taps in (q1, q2) order: the same bits as fwd_chunk one row at a
 * time. FULL: every chunk of the block full (NC 2: always). */
DW_INLINE void fwd_rows(const int K, const int S, const int SH, const int R, const int NC,
                        const bool FULL, const __m512 wv[DW_MAX_K][DW_MAX_K], __m512 vb,
                        const float *x0, int64_t in2, const in_tabs *t, int64_t c, int64_t pad2,
                        float *y0, int64_t out2) {
    __m512 acc[DW_MAX_R][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int n = 0; n < NC; n++) acc[r][n] = vb;
#pragma GCC unroll 16
    for (int j = 0; j < K + (R - 1) * SH; j++) {
#pragma GCC unroll 2
        for (int n = 0; n < NC; n++) {
            __m512 v[DW_MAX_K];
            row_taps(K, S, FULL, x0 + j * in2, t, c + n, pad2, v);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const int q1 = j - r * SH;
                if (q1 < 0 || q1 >= K) continue;
#pragma GCC unroll 8
                for (int q2 = 0; q2 < K; q2++)
                    acc[r][n] = _mm512_fmadd_ps(wv[q1][q2], v[q2], acc[r][n]);
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int n = 0; n < NC; n++) {
            float *yc = y0 + r * out2 + 16 * (c + n);
            if (FULL)
                _mm512_storeu_ps(yc, acc[r][n]);
            else
                _mm512_mask_storeu_ps(yc, t->st[c + n], acc[r][n]);
        }
}

/* Output rows [p1, p1 + R) read only input rows inside the input, H stride SH, no H
 * dilation (the blocked path applies). */
static inline bool rows_inside(const cnnc__window *g, int SH, int R, int64_t p1) {
    const int64_t first = p1 * SH - g->pad[1], last = (p1 + R - 1) * SH - g->pad[1] + g->k[1] - 1;
    return SH > 0 && g->out[2] <= DW_BLOCK_W && g->stride[1] == SH && g->dil[1] == 1 &&
           p1 + R <= g->out[1] && first >= 0 && last < g->in[1];
}

/* SH: the H stride the blocked path is compiled for (0: none), R rows per block. */
DW_INLINE void fwd_body(const int K, const int S, const int SH, const int R, float *y,
                        const float *x, const float *w, float bias, const cnnc__window *g,
                        const in_tabs *t) {
    __m512 wv[DW_MAX_K][DW_MAX_K];
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) wv[q1][q2] = _mm512_set1_ps(w[q1 * K + q2]);
    const __m512 vb = _mm512_set1_ps(bias);
    const int64_t pad2 = g->pad[2], out2 = g->out[2], in2 = g->in[2];
    for (int64_t p1 = 0; p1 < g->out[1];) {
        float *yr = y + p1 * out2;
        if (rows_inside(g, SH, R, p1)) {
            const float *x0 = x + (p1 * SH - g->pad[1]) * in2;
            /* the next rows (or plane) while these compute */
            prefetch_run((const float *)((uintptr_t)x0 + DW_PF_BYTES), R * SH * in2, false);
            prefetch_run((const float *)((uintptr_t)yr + DW_PF_BYTES / (S * SH)), R * out2, true);
            /* two full chunks at once where they follow each other, the others (a
             * row's ends, masked) one by one */
            for (int64_t c = 0; c < t->nch;) {
                if (t->full[c] && c + 1 < t->nch && t->full[c + 1]) {
                    fwd_rows(K, S, SH, R, 2, true, wv, vb, x0, in2, t, c, pad2, yr, out2);
                    c += 2;
                } else {
                    if (t->full[c])
                        fwd_rows(K, S, SH, R, 1, true, wv, vb, x0, in2, t, c, pad2, yr, out2);
                    else
                        fwd_rows(K, S, SH, R, 1, false, wv, vb, x0, in2, t, c, pad2, yr, out2);
                    c++;
                }
            }
            p1 += R;
            continue;
        }
        const float *xr[DW_MAX_K];
        bool ok[DW_MAX_K];
        in_rows(K, g, x, p1, xr, ok);
        for (int64_t c = 0; c < t->nch; c++) {
            if (t->full[c])
                _mm512_storeu_ps(yr + 16 * c, fwd_chunk(K, S, true, wv, vb, xr, ok, t, c, pad2));
            else
                _mm512_mask_storeu_ps(yr + 16 * c, t->st[c],
                                      fwd_chunk(K, S, false, wv, vb, xr, ok, t, c, pad2));
        }
        p1++;
    }
}

/* The instantiations: (K, W stride) x H stride 1 (blocks of 4 rows), 2 (blocks of 2),
 * other (no blocks). */
#define DW_FWD(name, K, S, SH, R)                                                        \
    static void name(float *y, const float *x, const float *w, float b, const cnnc__window *g, \
                     const in_tabs *t) {                                                  \
        fwd_body(K, S, SH, R, y, x, w, b, g, t);                                         \
    }
DW_FWD(fwd_3_1_h1, 3, 1, 1, 4)
DW_FWD(fwd_3_1_h2, 3, 1, 2, 2)
DW_FWD(fwd_3_1_hx, 3, 1, 0, 1)
DW_FWD(fwd_3_2_h1, 3, 2, 1, 4)
DW_FWD(fwd_3_2_h2, 3, 2, 2, 2)
DW_FWD(fwd_3_2_hx, 3, 2, 0, 1)
DW_FWD(fwd_5_1_h1, 5, 1, 1, 2)
DW_FWD(fwd_5_1_h2, 5, 1, 2, 2)
DW_FWD(fwd_5_1_hx, 5, 1, 0, 1)
DW_FWD(fwd_5_2_h1, 5, 2, 1, 2)
DW_FWD(fwd_5_2_h2, 5, 2, 2, 2)
DW_FWD(fwd_5_2_hx, 5, 2, 0, 1)
#undef DW_FWD

typedef void (*fwd_fn)(float *y, const float *x, const float *w, float b, const cnnc__window *g,
                       const in_tabs *t);

/* [K == 5][W stride 2][H stride 1, 2, other] */
static const fwd_fn fwd_fns[2][2][3] = {
    {{fwd_3_1_h1, fwd_3_1_h2, fwd_3_1_hx}, {fwd_3_2_h1, fwd_3_2_h2, fwd_3_2_hx}},
    {{fwd_5_1_h1, fwd_5_1_h2, fwd_5_1_hx}, {fwd_5_2_h1, fwd_5_2_h2, fwd_5_2_hx}},
};

/* Index of the H-stride instantiation: 0 (stride 1), 1 (stride 2), 2 (other or dilated). */
static int h_kind(const cnnc__window *g) {
    if (g->dil[1] != 1) return 2;
    return g->stride[1] == 1 ? 0 : g->stride[1] == 2 ? 1 : 2;
}

bool cnnc__dw_sq_forward_planes_avx512(float *y, const float *x, const float *w,
                                       const float *bias, int64_t n, const cnnc__window *g) {
    if (!fits(g)) return false;
    in_tabs t;
    make_in_tabs(&t, g);
    const fwd_fn fn = fwd_fns[g->k[1] == 5][g->stride[2] == 2][h_kind(g)];
    const int64_t isz = g->in[1] * g->in[2], osz = g->out[1] * g->out[2], ksz = g->k[1] * g->k[2];
    for (int64_t i = 0; i < n; i++)
        fn(y + i * osz, x + i * isz, w + i * ksz, bias ? bias[i] : 0.0f, g, &t);
    return true;
}

bool cnnc__dw_sq_forward_avx512(float *y, const float *x, const float *w, float bias,
                                const cnnc__window *g) {
    return cnnc__dw_sq_forward_planes_avx512(y, x, w, &bias, 1, g);
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

/* R output rows at once (as fwd_rows): dy of the R rows loaded once, each of the K +
 * (R - 1) SH input rows turned into its taps once and multiplied with every dy row
 * that reads it. */
DW_INLINE void bww_rows(const int K, const int S, const int SH, const int R, const bool FULL,
                        __m512 acc[DW_MAX_K][DW_MAX_K], const float *y0, int64_t out2,
                        const float *x0, int64_t in2, const in_tabs *t, int64_t c, int64_t pad2) {
    __m512 vy[DW_MAX_R];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        vy[r] = FULL ? _mm512_loadu_ps(y0 + r * out2 + 16 * c)
                     : _mm512_maskz_loadu_ps(t->st[c], y0 + r * out2 + 16 * c);
#pragma GCC unroll 16
    for (int j = 0; j < K + (R - 1) * SH; j++) {
        __m512 v[DW_MAX_K];
        row_taps(K, S, FULL, x0 + j * in2, t, c, pad2, v);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const int q1 = j - r * SH;
            if (q1 < 0 || q1 >= K) continue;
#pragma GCC unroll 8
            for (int q2 = 0; q2 < K; q2++) acc[q1][q2] = _mm512_fmadd_ps(vy[r], v[q2], acc[q1][q2]);
        }
    }
}

DW_INLINE void bwd_weight_body(const int K, const int S, const int SH, const int R, float *dw,
                               const float *dy, const float *x, const cnnc__window *g,
                               const in_tabs *t) {
    __m512 acc[DW_MAX_K][DW_MAX_K];
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) acc[q1][q2] = _mm512_setzero_ps();
    const int64_t pad2 = g->pad[2], out2 = g->out[2], in2 = g->in[2];
    for (int64_t p1 = 0; p1 < g->out[1];) {
        const float *yr = dy + p1 * out2;
        if (rows_inside(g, SH, R, p1)) {
            const float *x0 = x + (p1 * SH - g->pad[1]) * in2;
            /* the next rows (or plane) of x and dy */
            prefetch_run((const float *)((uintptr_t)x0 + DW_PF_BYTES), R * SH * in2, false);
            prefetch_run((const float *)((uintptr_t)yr + DW_PF_BYTES / (S * SH)), R * out2, false);
            for (int64_t c = 0; c < t->nch; c++) {
                if (t->full[c])
                    bww_rows(K, S, SH, R, true, acc, yr, out2, x0, in2, t, c, pad2);
                else
                    bww_rows(K, S, SH, R, false, acc, yr, out2, x0, in2, t, c, pad2);
            }
            p1 += R;
            continue;
        }
        const float *xr[DW_MAX_K];
        bool ok[DW_MAX_K];
        in_rows(K, g, x, p1, xr, ok);
        for (int64_t c = 0; c < t->nch; c++) {
            if (t->full[c])
                bww_chunk(K, S, true, acc, _mm512_loadu_ps(yr + 16 * c), xr, ok, t, c, pad2);
            else
                bww_chunk(K, S, false, acc, _mm512_maskz_loadu_ps(t->st[c], yr + 16 * c), xr, ok,
                          t, c, pad2);
        }
        p1++;
    }
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) dw[q1 * K + q2] += _mm512_reduce_add_ps(acc[q1][q2]);
}

/* The instantiations, as the forward's (K = 5 without blocks: its 25 accumulators
 * fill the registers). 3x3 at H stride 1 in blocks of 4 rows (each accumulator's chain
 * 4 FMAs a chunk): [1,128,56,56] in cache 0.109-0.114 -> 0.104-0.108 ms against 2 rows
 * (1 thread); batch 8 from memory even (1.03-1.08 against 1.04-1.06). */
#define DW_BWW(name, K, S, SH, R)                                                           \
    static void name(float *dw, const float *dy, const float *x, const cnnc__window *g,     \
                     const in_tabs *t) {                                                   \
        bwd_weight_body(K, S, SH, R, dw, dy, x, g, t);                                     \
    }
DW_BWW(bww_3_1_h1, 3, 1, 1, 4)
DW_BWW(bww_3_1_h2, 3, 1, 2, 2)
DW_BWW(bww_3_1_hx, 3, 1, 0, 1)
DW_BWW(bww_3_2_h1, 3, 2, 1, 4)
DW_BWW(bww_3_2_h2, 3, 2, 2, 2)
DW_BWW(bww_3_2_hx, 3, 2, 0, 1)
DW_BWW(bww_5_1_hx, 5, 1, 0, 1)
DW_BWW(bww_5_2_hx, 5, 2, 0, 1)
#undef DW_BWW

typedef void (*bww_fn)(float *dw, const float *dy, const float *x, const cnnc__window *g,
                       const in_tabs *t);

/* [K == 5][W stride 2][H stride 1, 2, other] */
static const bww_fn bww_fns[2][2][3] = {
    {{bww_3_1_h1, bww_3_1_h2, bww_3_1_hx}, {bww_3_2_h1, bww_3_2_h2, bww_3_2_hx}},
    {{bww_5_1_hx, bww_5_1_hx, bww_5_1_hx}, {bww_5_2_hx, bww_5_2_hx, bww_5_2_hx}},
};

bool cnnc__dw_sq_backward_weight_planes_avx512(float *dw, const float *dy, const float *x,
                                               int64_t n, const cnnc__window *g) {
    if (!fits(g)) return false;
    in_tabs t;
    make_in_tabs(&t, g);
    const bww_fn fn = bww_fns[g->k[1] == 5][g->stride[2] == 2][h_kind(g)];
    const int64_t isz = g->in[1] * g->in[2], osz = g->out[1] * g->out[2], ksz = g->k[1] * g->k[2];
    for (int64_t i = 0; i < n; i++) fn(dw + i * ksz, dy + i * osz, x + i * isz, g, &t);
    return true;
}

bool cnnc__dw_sq_backward_weight_avx512(float *dw, const float *dy, const float *x,
                                        const cnnc__window *g) {
    return cnnc__dw_sq_backward_weight_planes_avx512(dw, dy, x, 1, g);
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
    bool full[DW_MAX_CHUNKS]; /* every load and store of the chunk unmasked */
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
        t->full[c] = true;
        for (int64_t v = 0; v < s; v++) {
            t->st[c][v] = span(16 * (s * c + v), 16, in2);
            if (t->st[c][v] != 0xFFFF) t->full[c] = false;
        }
        for (int64_t a = 0; a < s; a++) {
            /* lanes l of this phase that exist: 16 s c + s l + a < in2 */
            const int64_t left = in2 - 16 * s * c - a, n = left <= 0 ? 0 : (left + s - 1) / s;
            for (int64_t q = 0; q < k; q++) {
                t->m[c][a][q] = t->on[a][q] ? span(16 * c + t->off[a][q], n, out2) : 0;
                if (t->on[a][q] && t->m[c][a][q] != 0xFFFF) t->full[c] = false;
            }
        }
    }
}

/* One chunk of 16 S positions of dx row xr from the dy rows yr[q1] (ok[q1]: reached).
 * P: the parity of pad2, which fixes the taps that reach each phase with W stride 2
 * (tap q2 reaches phase a when a + pad2 - q2 is even); FULL: no masks. */
DW_INLINE void bwd_chunk(const int K, const int S, const int P, const bool FULL,
                         const __m512 wv[DW_MAX_K][DW_MAX_K], float *xr, const float *yr[],
                         const bool ok[], const out_tabs *t, int64_t c, bool accumulate) {
    const __m512i lo_idx =
        _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_idx =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++) {
        if (!ok[q1]) continue;
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++)
#pragma GCC unroll 2
            for (int a = 0; a < S; a++) {
                if (S == 2 && ((a + P + q2) & 1)) continue;
                const int64_t e = 16 * c + t->off[a][q2];
                const __m512 v = FULL ? _mm512_loadu_ps(yr[q1] + e) : load_at(yr[q1], e, t->m[c][a][q2]);
                acc[a] = _mm512_fmadd_ps(wv[q1][q2], v, acc[a]);
            }
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
        if (FULL) {
            if (accumulate) v[u] = _mm512_add_ps(_mm512_loadu_ps(p), v[u]);
            _mm512_storeu_ps(p, v[u]);
            continue;
        }
        const __mmask16 m = t->st[c][u];
        if (!m) continue;
        if (accumulate) v[u] = _mm512_add_ps(_mm512_maskz_loadu_ps(m, p), v[u]);
        _mm512_mask_storeu_ps(p, m, v[u]);
    }
}

DW_INLINE void bwd_data_body(const int K, const int S, const int P, float *dx, const float *dy,
                             const float *w, const cnnc__window *g, const out_tabs *t,
                             bool accumulate) {
    __m512 wv[DW_MAX_K][DW_MAX_K];
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) wv[q1][q2] = _mm512_set1_ps(w[q1 * K + q2]);
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
            if (t->full[c])
                bwd_chunk(K, S, P, true, wv, xr, yr, ok, t, c, accumulate);
            else
                bwd_chunk(K, S, P, false, wv, xr, yr, ok, t, c, accumulate);
        }
    }
}

/* The instantiations: (K, W stride, parity of pad2 with W stride 2). */
#define DW_BWD(name, K, S, P)                                                                \
    static void name(float *dx, const float *dy, const float *w, const cnnc__window *g,     \
                     const out_tabs *t, bool acc) {                                          \
        bwd_data_body(K, S, P, dx, dy, w, g, t, acc);                                        \
    }
DW_BWD(bwd_3_1, 3, 1, 0)
DW_BWD(bwd_3_2_p0, 3, 2, 0)
DW_BWD(bwd_3_2_p1, 3, 2, 1)
DW_BWD(bwd_5_1, 5, 1, 0)
DW_BWD(bwd_5_2_p0, 5, 2, 0)
DW_BWD(bwd_5_2_p1, 5, 2, 1)
#undef DW_BWD

typedef void (*bwd_fn)(float *dx, const float *dy, const float *w, const cnnc__window *g,
                       const out_tabs *t, bool acc);

/* [K == 5][W stride 1, W stride 2 with even pad2, with odd pad2] */
static const bwd_fn bwd_fns[2][3] = {{bwd_3_1, bwd_3_2_p0, bwd_3_2_p1},
                                     {bwd_5_1, bwd_5_2_p0, bwd_5_2_p1}};

/* Stride 1 in both dims, written in full: dx is the forward of dy with the filter
 * turned by 180 degrees and padding dil (K - 1) - pad (the forward kernels' unmasked
 * inner loop; no scatter). False when that padding would be negative or too wide. */
static bool bwd_data_as_forward(float *dx, const float *dy, const float *w, int64_t n,
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
    in_tabs t;
    make_in_tabs(&t, &f);
    const fwd_fn fn = fwd_fns[k == 5][0][h_kind(&f)];
    const int64_t isz = g->in[1] * g->in[2], osz = g->out[1] * g->out[2];
    for (int64_t i = 0; i < n; i++) {
        float wf[DW_MAX_K * DW_MAX_K];
        for (int64_t q = 0; q < k * k; q++) wf[q] = w[i * k * k + k * k - 1 - q];
        fn(dx + i * isz, dy + i * osz, wf, 0.0f, &f, &t);
    }
    return true;
}

/* Stride 2 (or padding the flipped forward cannot take): the scatter-free phases. */
static bool bwd_data_phases(float *dx, const float *dy, const float *w, int64_t n,
                            const cnnc__window *g, bool accumulate) {
    out_tabs t;
    make_out_tabs(&t, g);
    const int kind = g->stride[2] == 1 ? 0 : 1 + (int)(g->pad[2] % 2);
    const bwd_fn fn = bwd_fns[g->k[1] == 5][kind];
    const int64_t isz = g->in[1] * g->in[2], osz = g->out[1] * g->out[2], ksz = g->k[1] * g->k[2];
    for (int64_t i = 0; i < n; i++) fn(dx + i * isz, dy + i * osz, w + i * ksz, g, &t, accumulate);
    return true;
}

bool cnnc__dw_sq_backward_data_planes_avx512(float *dx, const float *dy, const float *w,
                                             int64_t n, const cnnc__window *g) {
    if (!fits(g)) return false;
    return bwd_data_as_forward(dx, dy, w, n, g) || bwd_data_phases(dx, dy, w, n, g, false);
}

bool cnnc__dw_sq_backward_data_avx512(float *dx, const float *dy, const float *w,
                                      const cnnc__window *g, bool accumulate) {
    if (!fits(g)) return false;
    if (!accumulate && bwd_data_as_forward(dx, dy, w, 1, g)) return true;
    return bwd_data_phases(dx, dy, w, 1, g, accumulate);
}

CNNC__ISA_TARGET_END
#else
typedef int cnnc__dw_avx512_unused; /* ISO C: a translation unit is not empty */
#endif
