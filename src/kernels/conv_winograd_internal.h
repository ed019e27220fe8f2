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
     * the same arithmetic as horiz, so a tile's bits do not depend on which ran */
    void (*horiz_at)(float *v, int64_t vs, const float *s, const int32_t *at, int64_t n);
    /* o[(i mt + j) os + k] = the mt x mt outputs (+ bv), k < n, of A^T m A (m's
     * alpha^2 rows ms floats apart); may read and write up to n rounded up to 16 */
    void (*out)(float *o, int64_t os, const float *m, int64_t ms, float bv, int64_t n);
    /* r[mt k + i] = a[i as + k], i < mt, k < n; may read up to n rounded up to 16,
     * writes r[0 .. mt n) only */
    void (*interleave)(float *r, const float *a, int64_t as, int64_t n);
    /* u[e ldu + j] = (G f_j G^T)[e], e < alpha^2, for the n 3x3 filters
     * f_j = w + j wstride (wstride < 2^31 / 16) */
    void (*weights)(float *u, int64_t ldu, const float *w, int64_t wstride, int64_t n);
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

#include <immintrin.h>
/* t[q], q < 9: tap q of the filters w + j wstride in lane j, j < n <= 16 (zeros past
 * n); the weights loops of both tile sizes gather their 16 filters with it. */
__attribute__((target("avx512f"))) static inline void cnnc__wino_gather_taps(
    __m512 t[9], const float *w, int64_t wstride, int64_t n) {
    const __mmask16 mk = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    const __m512i lane = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)wstride));
    for (int q = 0; q < 9; q++)
        t[q] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk,
                                        _mm512_add_epi32(lane, _mm512_set1_epi32(q)), w, 4);
}
#endif

#endif
