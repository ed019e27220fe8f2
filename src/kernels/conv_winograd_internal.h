/* Internal to the Winograd kernels (conv_winograd.c): the row loops of one output
 * tile size, F(mt x mt, 3x3) with mt = 2 (conv_winograd_f2.c) or 4
 * (conv_winograd_f4.c). alpha = mt + 2 is the input tile; a transformed tile has
 * alpha^2 positions.
 *
 * Each variant does the same operations in the same order on every tile, in the
 * vector body and in its tail, so a tile's bits never depend on where a block of
 * tiles starts. */
#ifndef CNNC_KERNELS_CONV_WINOGRAD_INTERNAL_H
#define CNNC_KERNELS_CONV_WINOGRAD_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/isa.h"
#include "kernels/window.h"

/* Floats past a row that horiz may read (and that the rows' buffer must hold). */
enum { CNNC__WINO_ROW_SLACK = 80 };

typedef struct cnnc__wino_rows {
    /* s[r ss + c] = (B^T d)_r[c] for the alpha rows d_r, c < n; whole: every d_r is
     * readable up to n rounded up to 16 (the tail read by plain loads, else masked) */
    void (*vert)(float *s, int64_t ss, const float *const *d, int64_t n, bool whole);
    /* v[j vs + k] = (s B)_j for the alpha-wide window of sr at mt k, k < nk; may read
     * sr[0 .. mt nk + CNNC__WINO_ROW_SLACK) (whole vectors: plain loads are much faster
     * than masked ones on some cores), writes v[j vs + k], k < nk, only */
    void (*horiz)(float *v, int64_t vs, const float *sr, int64_t nk);
    /* horiz for tiles anywhere: v[j vs + k] = (s B)_j for the alpha-wide window at
     * s + at[k], k < n (narrow maps: the tiles of several tile rows in one vector);
     * the same arithmetic as horiz, so a tile's bits do not depend on which ran. at
     * increasing; may read 48 floats from s + at[k] for k = 0, 16, .., and 8 from
     * s + at[k] for every k */
    void (*horiz_at)(float *v, int64_t vs, const float *s, const int32_t *at, int64_t n);
    /* o[(i mt + j) os + k] = the mt x mt outputs (+ bv), k < n, of A^T m A (m's
     * alpha^2 rows ms floats apart); may read and write up to n rounded up to 16 */
    void (*out)(float *o, int64_t os, const float *m, int64_t ms, float bv, int64_t n);
    /* r[mt k + i] = a[i as + k], i < mt, k < n; may read up to n rounded up to 16,
     * writes r[0 .. mt n) only */
    void (*interleave)(float *r, const float *a, int64_t as, int64_t n);
    /* One panel of the GEMM's packed A per position: u[e ldu + i mr + j] =
     * (G f_ij G^T)[e], e < alpha^2, for the 3x3 filters f_ij at w + j fs + i ds (its 9
     * taps in order, or reversed when rev: the filter flipped in space), j < n,
     * i < kc, and 0 for n <= j < mr (n <= mr <= 16; ds == 9 or fs == 9;
     * 16 fs + kc ds < 2^31) */
    void (*weights)(float *u, int64_t ldu, const float *w, int64_t fs, int64_t ds, bool rev,
                    int64_t n, int64_t mr, int64_t kc);
    /* The weight gradient's (F(2x2) only: NULL in F(4x4)'s tables).
     * grad: q[e qs + k] = (A' y_k A'^T)[e], e < 16, for the 2x2 tiles y_k of rows r0, r1
     * at columns 2k, 2k + 1, k < nk; reads r0[j] and r1[j] for j < len <= 2 nk only
     * (zeros past len; r1 NULL: a zero row). A' is A (A^T = [1 1 1 0; 0 1 -1 -1]) with
     * its last row's sign flipped, which fold takes back (no negations here). */
    void (*grad)(float *q, int64_t qs, const float *r0, const float *r1, int64_t nk, int64_t len);
    /* fold: dw[j wstride + i] = (G'^T D_j G')[i], i < 9, for the 4x4 D_j[e] =
     * d[e ldd + j], j < n (G' = G with its last row's sign flipped) */
    void (*fold)(float *dw, int64_t wstride, const float *d, int64_t ldd, int64_t n);
} cnnc__wino_rows;

extern const cnnc__wino_rows cnnc__wino_f2_scalar, cnnc__wino_f4_scalar;

/* The scalar weights loops' walk over a panel (the table's weights arguments):
 * one(u + i mr + j, ldu, f) for each filter f (flipped when rev), writing its np
 * transformed values ldu apart; the padding rows' np values set to 0. */
void cnnc__wino_weights_walk(float *u, int64_t ldu, const float *w, int64_t fs, int64_t ds,
                             bool rev, int64_t n, int64_t mr, int64_t kc, int np,
                             void (*one)(float *u, int64_t ldu, const float *f));

/* The row loops a level runs for tile size mt (conv_winograd.c's table). */
const cnnc__wino_rows *cnnc__wino_rows_of(cnnc__isa isa, int mt);

/* Floats of the rows scratch cnnc__wino_input_block needs (a multiple of 16, the
 * row loops' slack included). */
size_t cnnc__wino_input_rows_floats(const cnnc__window *g, int mt);

/* The input transform of input channels [c0, c1) of group grp for the batch's tiles
 * [t0, t0 + nt): channel ci's (mt + 2)^2 positions at v + (ci - c0) (mt + 2)^2 ldt,
 * ldt apart, tile t at column t - t0 (V as kernels/conv.h's Winograd block lays it
 * out). rows: cnnc__wino_input_rows_floats(g, mt) floats of scratch. */
void cnnc__wino_input_block(const cnnc__wino_rows *f, int mt, float *v, int64_t ldt, const float *x,
                            const cnnc__window *g, int64_t grp, int64_t c0, int64_t c1, int64_t t0,
                            int64_t nt, float *rows);
#if CNNC__ISA_X86
extern const cnnc__wino_rows cnnc__wino_f2_avx512, cnnc__wino_f4_avx512;
/* 8 lanes (conv_winograd_avx2.c): weights takes mr <= 8 */
extern const cnnc__wino_rows cnnc__wino_f2_avx2, cnnc__wino_f4_avx2;

#include <immintrin.h>
#include "kernels/transpose16_avx512.h"
/* tmp[(9 d + q) 16 + j] = tap q of filter w + j fs + 9 d for j < n, 0 for n <= j < 16,
 * d < nd <= 16: the taps of 16 filters at nd depths, filter j in lane j, by 9 plain
 * loads per filter and 16 x 16 transposes (the filters are far apart: gathering
 * across them was ~10x slower). tmp 64-byte aligned, 144 x 16 floats. */
__attribute__((target("avx512f"))) static inline void cnnc__wino_panel_taps(
    float *tmp, const float *w, int64_t fs, int64_t n, int64_t nd) {
    for (int k = 0; k < 9; k++) {
        const int64_t left = 9 * nd - 16 * k; /* floats of each filter's run in vector k */
        if (left <= 0) break;
        const __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __m512 r[16];
        for (int j = 0; j < 16; j++)
            r[j] = j < n ? _mm512_maskz_loadu_ps(mk, w + j * fs + 16 * k) : _mm512_setzero_ps();
        cnnc__transpose16_avx512(r);
        for (int c = 0; c < 16; c++) _mm512_store_ps(tmp + (16 * k + c) * 16, r[c]);
    }
}

/* t[q] = tap q (reversed: 8 - q) of the filters f_ij (the weights loops' arguments)
 * at depth d, filter j in lane j (zeros past n). Filters far apart (ds == 9): from
 * tmp, which it refills every 16 depths; adjacent ones (fs == 9, a transposed
 * convolution's filters): the 16 of depth d transposed from their 144 floats. */
__attribute__((target("avx512f"))) static inline void cnnc__wino_taps(
    __m512 t[9], float *tmp, const float *w, int64_t fs, int64_t ds, bool rev, int64_t n,
    int64_t kc, int64_t d) {
    if (ds == 9) {
        if (d % 16 == 0) {
            /* the runs 32 depths on: each filter is its own page (no hardware prefetch);
             * past this k block they are the next one's (the packing walks a panel's k
             * blocks in turn), and prefetches do not fault */
            for (int64_t j = 0; j < n; j++)
                for (int q = 0; q < 9; q++) __builtin_prefetch(w + j * fs + 9 * (d + 32) + 16 * q);
            cnnc__wino_panel_taps(tmp, w + 9 * d, fs, n, kc - d < 16 ? kc - d : 16);
        }
        for (int q = 0; q < 9; q++) t[q] = _mm512_load_ps(tmp + (9 * (d % 16) + q) * 16);
    } else {
        /* a depth 8 ahead: depths are ds floats apart, past the hardware prefetchers */
        for (int64_t q = 0; d + 8 < kc && q < 9 * n; q += 16) __builtin_prefetch(w + (d + 8) * ds + q);
        /* filter j's 9 taps in lanes 0-8 by a plain load of 16 floats where the next
         * filter's follow (lanes 9-15 unused): a masked load whose line is not in cache
         * ran 2.4x slower than a plain one on Zen 5, where the hardware prefetchers
         * ignored it (512 -> 512 channels' flipped weights, cold: 3.33 -> 2.98 ms) */
        __m512 r[16];
        for (int j = 0; j < 16; j++)
            r[j] = j + 1 < n ? _mm512_loadu_ps(w + d * ds + 9 * j)
                   : j < n   ? _mm512_maskz_loadu_ps(0x1FF, w + d * ds + 9 * j)
                             : _mm512_setzero_ps();
        cnnc__transpose16_avx512(r);
        for (int q = 0; q < 9; q++) t[q] = r[q];
    }
    for (int q = 0; rev && q < 4; q++) {
        const __m512 a = t[q];
        t[q] = t[8 - q];
        t[8 - q] = a;
    }
}
#endif

#endif
