/* Winograd F(4x4, 3x3) row loops (conv_winograd_internal.h), interpolation points
 * 0, 1, -1, 1/2, -2 and infinity (more accurate in fp32 than 0, +-1, +-2: about 2/3 of
 * its rms error on random layers):
 *
 *   B^T = [1 -3/2  -2  3/2 1 0;  0 -1  1/2 5/2 1 0;  0  1 -5/2  1/2 1 0;
 *          0  -2   -1    2 1 0;  0 1/2  -1 -1/2 1 0;  0  1 -3/2   -2 3/2 1]
 *   A^T = [1 1 1 1 1 0;  0 1 -1 1/2 -2 0;  0 1 1 1/4 4 0;  0 1 -1 1/8 -8 1]
 *   G   = [1 0 0;  1/3 1/3 1/3;  -1/3 1/3 -1/3;  -16/15 -8/15 -4/15;  1/15 -2/15 4/15;  0 0 1]
 *
 * (G is applied by conv_winograd.c's weight transform.) The AVX-512 loops use fused
 * multiply-adds, in the vector body and in the masked tails alike; their arithmetic
 * is conv_winograd_f4_ops.h's, shared with the AVX2 loops (conv_winograd_avx2.c). */
#include "kernels/conv_winograd_internal.h"

/* ---- scalar --------------------------------------------------------------------------- */

/* r = B^T d for one column of 6 */
static inline void bt6(float r[6], float d0, float d1, float d2, float d3, float d4, float d5) {
    r[0] = ((d0 + d4) - 2.0f * d2) + 1.5f * (d3 - d1);
    r[1] = ((d4 - d1) + 0.5f * d2) + 2.5f * d3;
    r[2] = ((d4 + d1) - 2.5f * d2) + 0.5f * d3;
    r[3] = (d4 - d2) + 2.0f * (d3 - d1);
    r[4] = (d4 - d2) + 0.5f * (d1 - d3);
    r[5] = ((d1 + d5) - 2.0f * d3) + 1.5f * (d4 - d2);
}

/* r = A^T m for one column of 6 */
static inline void at6(float r[4], float m0, float m1, float m2, float m3, float m4, float m5) {
    const float p = m1 + m2, q = m1 - m2;
    r[0] = (m0 + p) + (m3 + m4);
    r[1] = (q + 0.5f * m3) - 2.0f * m4;
    r[2] = (p + 0.25f * m3) + 4.0f * m4;
    r[3] = ((q + 0.125f * m3) - 8.0f * m4) + m5;
}

static void vert_scalar(float *s, int64_t ss, const float *const *d, int64_t n, bool whole) {
    (void)whole;
    for (int64_t c = 0; c < n; c++) {
        float r[6];
        bt6(r, d[0][c], d[1][c], d[2][c], d[3][c], d[4][c], d[5][c]);
        for (int i = 0; i < 6; i++) s[i * ss + c] = r[i];
    }
}

static void horiz_scalar(float *v, int64_t vs, const float *sr, int64_t nk) {
    for (int64_t k = 0; k < nk; k++) {
        const float *c = sr + 4 * k;
        float r[6];
        bt6(r, c[0], c[1], c[2], c[3], c[4], c[5]);
        for (int j = 0; j < 6; j++) v[j * vs + k] = r[j];
    }
}

static void horiz_at_scalar(float *v, int64_t vs, const float *s, const int32_t *at, int64_t n) {
    for (int64_t k = 0; k < n; k++) horiz_scalar(v + k, vs, s + at[k], 1);
}

static void out_scalar(float *o, int64_t os, const float *m, int64_t mstride, float bv, int64_t n) {
    for (int64_t k = 0; k < n; k++) {
        float z[4][6]; /* A^T m, column by column */
        for (int j = 0; j < 6; j++) {
            float r[4];
            at6(r, m[(0 * 6 + j) * mstride + k], m[(1 * 6 + j) * mstride + k],
                m[(2 * 6 + j) * mstride + k], m[(3 * 6 + j) * mstride + k],
                m[(4 * 6 + j) * mstride + k], m[(5 * 6 + j) * mstride + k]);
            for (int i = 0; i < 4; i++) z[i][j] = r[i];
        }
        for (int i = 0; i < 4; i++) { /* (A^T m) A */
            float r[4];
            at6(r, z[i][0], z[i][1], z[i][2], z[i][3], z[i][4], z[i][5]);
            for (int c = 0; c < 4; c++) o[(i * 4 + c) * os + k] = r[c] + bv;
        }
    }
}

static void interleave_scalar(float *r, const float *a, int64_t as, int64_t n) {
    for (int64_t k = 0; k < n; k++)
        for (int i = 0; i < 4; i++) r[4 * k + i] = a[i * as + k];
}

/* r = G v for one column of 3 */
static inline void g3(float r[6], float a, float b, float c) {
    r[0] = a;
    r[1] = ((a + b) + c) * (1.0f / 3.0f);
    r[2] = (b - (a + c)) * (1.0f / 3.0f);
    r[3] = ((4.0f * a + 2.0f * b) + c) * (-4.0f / 15.0f);
    r[4] = ((a - 2.0f * b) + 4.0f * c) * (1.0f / 15.0f);
    r[5] = c;
}

static void weights_one(float *u, int64_t ldu, const float *f) {
    float gf[3][6]; /* (G f)^T: the columns of f transformed */
    for (int c = 0; c < 3; c++) g3(gf[c], f[c], f[3 + c], f[6 + c]);
    for (int r = 0; r < 6; r++) {
        float row[6];
        g3(row, gf[0][r], gf[1][r], gf[2][r]);
        for (int c = 0; c < 6; c++) u[(r * 6 + c) * ldu] = row[c];
    }
}

static void weights_scalar(float *u, int64_t ldu, const float *w, int64_t fs, int64_t ds,
                           bool rev, int64_t n, int64_t mr, int64_t kc) {
    cnnc__wino_weights_walk(u, ldu, w, fs, ds, rev, n, mr, kc, 36, weights_one);
}

const cnnc__wino_rows cnnc__wino_f4_scalar = {
    .vert = vert_scalar, .horiz = horiz_scalar, .horiz_at = horiz_at_scalar, .out = out_scalar,
    .interleave = interleave_scalar, .weights = weights_scalar};

#if CNNC__ISA_X86
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

/* the first n (clamped to [0, 16]) lanes */
static inline __mmask16 mask_n(int64_t n) {
    return n <= 0 ? (__mmask16)0 : n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

#define F4_V __m512
#define F4_LANES 16
#define F4_ATTR AVX512
#define F4_OUT out_avx512
#define SET1 _mm512_set1_ps
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL _mm512_mul_ps
#define FMA _mm512_fmadd_ps
#define LOADU _mm512_loadu_ps
#define STOREU _mm512_storeu_ps
#include "kernels/conv_winograd_f4_ops.h"

/* the first 16 floats at p (whole) or its first lanes of mk (zeros past them) */
AVX512 static inline __m512 load_tail(const float *p, __mmask16 mk, bool whole) {
    return whole ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mk, p);
}

AVX512 static void vert_avx512(float *s, int64_t ss, const float *const *d, int64_t n, bool whole) {
    int64_t c = 0;
    for (; c + 16 <= n; c += 16) {
        __m512 r[6];
        bt6_v(r, _mm512_loadu_ps(d[0] + c), _mm512_loadu_ps(d[1] + c), _mm512_loadu_ps(d[2] + c),
              _mm512_loadu_ps(d[3] + c), _mm512_loadu_ps(d[4] + c), _mm512_loadu_ps(d[5] + c));
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) _mm512_storeu_ps(s + i * ss + c, r[i]);
    }
    if (c < n) {
        const __mmask16 mk = mask_n(n - c);
        __m512 r[6];
        bt6_v(r, load_tail(d[0] + c, mk, whole), load_tail(d[1] + c, mk, whole),
              load_tail(d[2] + c, mk, whole), load_tail(d[3] + c, mk, whole),
              load_tail(d[4] + c, mk, whole), load_tail(d[5] + c, mk, whole));
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) _mm512_mask_storeu_ps(s + i * ss + c, mk, r[i]);
    }
}

/* 16 tiles from p = sr + 4 k: lanes 0-7 gather from the first 32 floats, lanes 8-15
 * from the next 32 (idx[j] = 4 (lane mod 8) + j); columns 4 and 5 come from the same
 * gathers 4 floats further on. Reads p[0 .. 68) whole (plain loads: masked loads are
 * several times slower on some cores); stores the lanes of mk. */
AVX512 static void horiz_block(float *v, int64_t vs, const float *p, __mmask16 mk) {
    __m512 r[4], s[4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        r[q] = _mm512_loadu_ps(p + 16 * q);
        s[q] = _mm512_loadu_ps(p + 4 + 16 * q);
    }
    __m512 c[6];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m512i idx = _mm512_setr_epi32(j, 4 + j, 8 + j, 12 + j, 16 + j, 20 + j, 24 + j,
                                              28 + j, j, 4 + j, 8 + j, 12 + j, 16 + j, 20 + j,
                                              24 + j, 28 + j);
        c[j] = _mm512_mask_blend_ps(0xFF00, _mm512_permutex2var_ps(r[0], idx, r[1]),
                                    _mm512_permutex2var_ps(r[2], idx, r[3]));
        if (j < 2)
            c[4 + j] = _mm512_mask_blend_ps(0xFF00, _mm512_permutex2var_ps(s[0], idx, s[1]),
                                            _mm512_permutex2var_ps(s[2], idx, s[3]));
    }
    __m512 o[6];
    bt6_v(o, c[0], c[1], c[2], c[3], c[4], c[5]);
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) _mm512_mask_storeu_ps(v + j * vs, mk, o[j]);
}

AVX512 static void horiz_avx512(float *v, int64_t vs, const float *sr, int64_t nk) {
    for (int64_t k = 0; k < nk; k += 16) horiz_block(v + k, vs, sr + 4 * k, mask_n(nk - k));
}

/* 16 tiles a step, their 6 columns gathered */
AVX512 static void horiz_at_avx512(float *v, int64_t vs, const float *s, const int32_t *at, int64_t n) {
    for (int64_t k = 0; k < n; k += 16) {
        const __mmask16 mk = mask_n(n - k);
        const __m512i ix = _mm512_maskz_loadu_epi32(mk, at + k);
        __m512 c[6], o[6];
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++)
            c[j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk,
                                            _mm512_add_epi32(ix, _mm512_set1_epi32(j)), s, 4);
        bt6_v(o, c[0], c[1], c[2], c[3], c[4], c[5]);
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++) _mm512_mask_storeu_ps(v + j * vs + k, mk, o[j]);
    }
}

AVX512 static void interleave_avx512(float *r, const float *a, int64_t as, int64_t n) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i q0 = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const __m512i q1 = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    for (int64_t k = 0; k < n; k += 16) {
        const __m512 a0 = _mm512_loadu_ps(a + k), a1 = _mm512_loadu_ps(a + as + k);
        const __m512 a2 = _mm512_loadu_ps(a + 2 * as + k), a3 = _mm512_loadu_ps(a + 3 * as + k);
        const __m512 ab_lo = _mm512_permutex2var_ps(a0, lo, a1), ab_hi = _mm512_permutex2var_ps(a0, hi, a1);
        const __m512 cd_lo = _mm512_permutex2var_ps(a2, lo, a3), cd_hi = _mm512_permutex2var_ps(a2, hi, a3);
        const __m512 out[4] = {_mm512_permutex2var_ps(ab_lo, q0, cd_lo), _mm512_permutex2var_ps(ab_lo, q1, cd_lo),
                               _mm512_permutex2var_ps(ab_hi, q0, cd_hi), _mm512_permutex2var_ps(ab_hi, q1, cd_hi)};
        const int64_t left = 4 * (n - k); /* floats of r from 4 k */
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) _mm512_mask_storeu_ps(r + 4 * k + 16 * q, mask_n(left - 16 * q), out[q]);
    }
}

/* Depth by depth: the taps of its filters in lanes (filter j in lane j), then its mr
 * transformed filters stored per position */
AVX512 static void weights_avx512(float *u, int64_t ldu, const float *w, int64_t fs,
                                  int64_t ds, bool rev, int64_t n, int64_t mr, int64_t kc) {
    _Alignas(64) float tmp[144 * 16];
    const __mmask16 mk = mask_n(mr), real = mask_n(n);
    for (int64_t d = 0; d < kc; d++) {
        __m512 t[9];
        cnnc__wino_taps(t, tmp, w, fs, ds, rev, n, kc, d);
        __m512 gf[3][6];
        for (int c = 0; c < 3; c++) g3_v(gf[c], t[c], t[3 + c], t[6 + c]);
        for (int r = 0; r < 6; r++) {
            __m512 row[6];
            g3_v(row, gf[0][r], gf[1][r], gf[2][r]);
            for (int c = 0; c < 6; c++) /* +0 in the padding rows */
                _mm512_mask_storeu_ps(u + (r * 6 + c) * ldu + d * mr, mk, _mm512_maskz_mov_ps(real, row[c]));
        }
    }
}

const cnnc__wino_rows cnnc__wino_f4_avx512 = {
    .vert = vert_avx512, .horiz = horiz_avx512, .horiz_at = horiz_at_avx512, .out = out_avx512,
    .interleave = interleave_avx512, .weights = weights_avx512};
#endif
