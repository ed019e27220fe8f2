/* Winograd F(2x2, 3x3) row loops (conv_winograd_internal.h):
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *
 * and for the weight gradient dg = G^T [sum (A dy A^T) .* (B^T d B)] G, the same with
 * A' = A and G' = G with their last rows negated (the two signs cancel in the product,
 * so the gradient's transforms need no negations). Additions and exact halvings only:
 * the scalar, AVX2 (conv_winograd_avx2.c) and AVX-512 loops give the same bits. */
#include "kernels/conv_winograd_internal.h"

/* ---- row loops: scalar and AVX-512 (the same operations in the same order on every
 * lane, so the same bits) ------------------------------------------------------------ */

/* s_r[c] = (B^T d)[r][c], c < n */
static void vert_scalar(float *sb, int64_t ss, const float *const *d, int64_t n, bool whole) {
    (void)whole;
    float *const s[4] = {sb, sb + ss, sb + 2 * ss, sb + 3 * ss};
    for (int64_t c = 0; c < n; c++) {
        const float d0 = d[0][c], d1 = d[1][c], d2 = d[2][c], d3 = d[3][c];
        s[0][c] = d0 - d2;
        s[1][c] = d1 + d2;
        s[2][c] = d2 - d1;
        s[3][c] = d1 - d3;
    }
}

/* v_j[k] = (s B)[j] for the 4-wide window of s at 2k, k < nk */
static void horiz_scalar(float *vb, int64_t vs, const float *sr, int64_t nk) {
    float *const v[4] = {vb, vb + vs, vb + 2 * vs, vb + 3 * vs};
    for (int64_t k = 0; k < nk; k++) {
        const float c0 = sr[2 * k], c1 = sr[2 * k + 1], c2 = sr[2 * k + 2], c3 = sr[2 * k + 3];
        v[0][k] = c0 - c2;
        v[1][k] = c1 + c2;
        v[2][k] = c2 - c1;
        v[3][k] = c1 - c3;
    }
}

static void horiz_at_scalar(float *vb, int64_t vs, const float *s, const int32_t *at, int64_t n) {
    for (int64_t k = 0; k < n; k++) horiz_scalar(vb + k, vs, s + at[k], 1);
}

/* the 2x2 outputs (+ bias) of tiles [k0, n) from m (16 rows mstride apart) */
static void out_scalar(float *ob, int64_t os, const float *m, int64_t mstride, float bv, int64_t k0,
                       int64_t n) {
    float *const o[4] = {ob, ob + os, ob + 2 * os, ob + 3 * os};
    for (int64_t k = k0; k < n; k++) {
        float z0[4], z1[4];
        for (int j = 0; j < 4; j++) { /* A^T m */
            const float a0 = m[(0 * 4 + j) * mstride + k], a1 = m[(1 * 4 + j) * mstride + k];
            const float a2 = m[(2 * 4 + j) * mstride + k], a3 = m[(3 * 4 + j) * mstride + k];
            z0[j] = a0 + a1 + a2;
            z1[j] = a1 - a2 - a3;
        }
        o[0][k] = (z0[0] + z0[1] + z0[2]) + bv;
        o[1][k] = (z0[1] - z0[2] - z0[3]) + bv;
        o[2][k] = (z1[0] + z1[1] + z1[2]) + bv;
        o[3][k] = (z1[1] - z1[2] - z1[3]) + bv;
    }
}

/* r[2k] = a[k], r[2k + 1] = a[as + k], k < n */
static void interleave_scalar(float *r, const float *a, int64_t as, int64_t n) {
    for (int64_t k = 0; k < n; k++) {
        r[2 * k] = a[k];
        r[2 * k + 1] = a[as + k];
    }
}

/* The weight gradient's tile transform (conv_winograd_internal.h: grad). */

/* r[j] for j < len, else 0 (r NULL: a zero row) */
static inline float at_or_zero(const float *r, int64_t j, int64_t len) {
    return r && j < len ? r[j] : 0.0f;
}

static void grad_scalar(float *qb, int64_t qs, const float *r0, const float *r1, int64_t nk,
                        int64_t len) {
    for (int64_t k = 0; k < nk; k++) {
        const float y00 = at_or_zero(r0, 2 * k, len), y01 = at_or_zero(r0, 2 * k + 1, len);
        const float y10 = at_or_zero(r1, 2 * k, len), y11 = at_or_zero(r1, 2 * k + 1, len);
        const float z[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {y10, y11}};
        for (int r = 0; r < 4; r++) { /* (A' y) A'^T, row by row */
            const float a = z[r][0], b = z[r][1];
            qb[(4 * r + 0) * qs + k] = a;
            qb[(4 * r + 1) * qs + k] = a + b;
            qb[(4 * r + 2) * qs + k] = a - b;
            qb[(4 * r + 3) * qs + k] = b;
        }
    }
}

/* dw_j = G'^T D_j G' (16 -> 9): G'^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 -1] */
static void fold_scalar(float *dw, int64_t wstride, const float *d, int64_t ldd, int64_t n) {
    for (int64_t j = 0; j < n; j++) {
        float t[3][4]; /* G'^T D, column by column */
        for (int c = 0; c < 4; c++) {
            const float d0 = d[c * ldd + j], d1 = d[(4 + c) * ldd + j];
            const float d2 = d[(8 + c) * ldd + j], d3 = d[(12 + c) * ldd + j];
            const float h = 0.5f * (d1 + d2);
            t[0][c] = d0 + h;
            t[1][c] = 0.5f * (d1 - d2);
            t[2][c] = h - d3;
        }
        for (int r = 0; r < 3; r++) { /* (G'^T D) G' */
            const float h = 0.5f * (t[r][1] + t[r][2]);
            dw[j * wstride + 3 * r + 0] = t[r][0] + h;
            dw[j * wstride + 3 * r + 1] = 0.5f * (t[r][1] - t[r][2]);
            dw[j * wstride + 3 * r + 2] = h - t[r][3];
        }
    }
}

#if CNNC__ISA_X86
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

/* the first n (clamped to [0, 16]) lanes */
static inline __mmask16 mask_n(int64_t n) {
    return n <= 0 ? (__mmask16)0 : n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* the first 16 floats at p (whole) or its first lanes of mk (zeros past them) */
AVX512 static inline __m512 load_tail(const float *p, __mmask16 mk, bool whole) {
    return whole ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mk, p);
}

AVX512 static void vert_avx512(float *sb, int64_t ss, const float *const *d, int64_t n, bool whole) {
    float *const s[4] = {sb, sb + ss, sb + 2 * ss, sb + 3 * ss};
    int64_t c = 0;
    for (; c + 16 <= n; c += 16) {
        const __m512 d0 = _mm512_loadu_ps(d[0] + c), d1 = _mm512_loadu_ps(d[1] + c);
        const __m512 d2 = _mm512_loadu_ps(d[2] + c), d3 = _mm512_loadu_ps(d[3] + c);
        _mm512_storeu_ps(s[0] + c, _mm512_sub_ps(d0, d2));
        _mm512_storeu_ps(s[1] + c, _mm512_add_ps(d1, d2));
        _mm512_storeu_ps(s[2] + c, _mm512_sub_ps(d2, d1));
        _mm512_storeu_ps(s[3] + c, _mm512_sub_ps(d1, d3));
    }
    if (c < n) {
        const __mmask16 mk = mask_n(n - c);
        const __m512 d0 = load_tail(d[0] + c, mk, whole), d1 = load_tail(d[1] + c, mk, whole);
        const __m512 d2 = load_tail(d[2] + c, mk, whole), d3 = load_tail(d[3] + c, mk, whole);
        _mm512_mask_storeu_ps(s[0] + c, mk, _mm512_sub_ps(d0, d2));
        _mm512_mask_storeu_ps(s[1] + c, mk, _mm512_add_ps(d1, d2));
        _mm512_mask_storeu_ps(s[2] + c, mk, _mm512_sub_ps(d2, d1));
        _mm512_mask_storeu_ps(s[3] + c, mk, _mm512_sub_ps(d1, d3));
    }
}

/* reads sr[0 .. 2 nk + 34) (plain loads into the row slack: masked loads are slow on
 * some cores), stores v[j vs + k], k < nk, only */
AVX512 static void horiz_avx512(float *vb, int64_t vs, const float *sr, int64_t nk) {
    float *const v[4] = {vb, vb + vs, vb + 2 * vs, vb + 3 * vs};
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t k = 0; k < nk; k += 16) {
        const float *p = sr + 2 * k;
        const __m512 lo = _mm512_loadu_ps(p), hi = _mm512_loadu_ps(p + 16);
        const __m512 lo2 = _mm512_loadu_ps(p + 2), hi2 = _mm512_loadu_ps(p + 18);
        const __m512 c0 = _mm512_permutex2var_ps(lo, ev, hi), c1 = _mm512_permutex2var_ps(lo, od, hi);
        const __m512 c2 = _mm512_permutex2var_ps(lo2, ev, hi2);
        const __m512 c3 = _mm512_permutex2var_ps(lo2, od, hi2);
        const __mmask16 mk = mask_n(nk - k);
        _mm512_mask_storeu_ps(v[0] + k, mk, _mm512_sub_ps(c0, c2));
        _mm512_mask_storeu_ps(v[1] + k, mk, _mm512_add_ps(c1, c2));
        _mm512_mask_storeu_ps(v[2] + k, mk, _mm512_sub_ps(c2, c1));
        _mm512_mask_storeu_ps(v[3] + k, mk, _mm512_sub_ps(c1, c3));
    }
}

/* 16 tiles a step, their 4 columns picked from the (at most) 48 floats their windows
 * span by permutes (narrow maps: a few tile rows' B^T d rows side by side), else
 * gathered */
AVX512 static void horiz_at_avx512(float *vb, int64_t vs, const float *s, const int32_t *at,
                                   int64_t n) {
    float *const v[4] = {vb, vb + vs, vb + 2 * vs, vb + 3 * vs};
    for (int64_t k = 0; k < n; k += 16) {
        const __mmask16 mk = mask_n(n - k);
        const int64_t last = n - k < 16 ? n - 1 : k + 15;
        __m512 c[4];
        if (at[last] + 3 - at[k] < 48) { /* s readable 48 floats from at[k]: the rows' slack */
            const float *p = s + at[k];
            const __m512 s0 = _mm512_loadu_ps(p), s1 = _mm512_loadu_ps(p + 16);
            const __m512 s2 = _mm512_loadu_ps(p + 32);
            const __m512i ix = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mk, at + k),
                                                _mm512_set1_epi32(at[k]));
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const __m512i ij = _mm512_add_epi32(ix, _mm512_set1_epi32(j));
                const __mmask16 hi = _mm512_cmpge_epi32_mask(ij, _mm512_set1_epi32(32));
                c[j] = _mm512_mask_blend_ps(hi, _mm512_permutex2var_ps(s0, ij, s1),
                                            _mm512_permutexvar_ps(ij, s2));
            }
        } else {
            const __m512i ix = _mm512_maskz_loadu_epi32(mk, at + k);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                c[j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk,
                                                _mm512_add_epi32(ix, _mm512_set1_epi32(j)), s, 4);
        }
        _mm512_mask_storeu_ps(v[0] + k, mk, _mm512_sub_ps(c[0], c[2]));
        _mm512_mask_storeu_ps(v[1] + k, mk, _mm512_add_ps(c[1], c[2]));
        _mm512_mask_storeu_ps(v[2] + k, mk, _mm512_sub_ps(c[2], c[1]));
        _mm512_mask_storeu_ps(v[3] + k, mk, _mm512_sub_ps(c[1], c[3]));
    }
}

#define F2_V __m512
#define F2_ATTR AVX512
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define LOADU _mm512_loadu_ps
#define STOREU _mm512_storeu_ps
#include "kernels/conv_winograd_f2_ops.h"

AVX512 static void out_avx512(float *ob, int64_t os, const float *m, int64_t mstride, float bv,
                              int64_t n) {
    float *const o[4] = {ob, ob + os, ob + 2 * os, ob + 3 * os};
    const __m512 vb = _mm512_set1_ps(bv);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) out_step(o, m, mstride, vb, k);
    out_scalar(ob, os, m, mstride, bv, k, n);
}

/* the first lanes of mk (a plain store when all 16: masked stores are slower) */
AVX512 static inline void store_n(float *p, __mmask16 mk, __m512 v) {
    if (mk == (__mmask16)0xFFFF)
        _mm512_storeu_ps(p, v);
    else
        _mm512_mask_storeu_ps(p, mk, v);
}

/* G v for one column of 3 (the scalar weights' operations, so the same bits) */
AVX512 static inline void g4_v(__m512 r[4], __m512 a, __m512 b, __m512 c) {
    const __m512 half = _mm512_set1_ps(0.5f);
    r[0] = a;
    r[1] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(a, b), c));
    r[2] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(a, b), c));
    r[3] = c;
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
        __m512 gf[3][4];
        for (int c = 0; c < 3; c++) g4_v(gf[c], t[c], t[3 + c], t[6 + c]);
        for (int r = 0; r < 4; r++) {
            __m512 row[4];
            g4_v(row, gf[0][r], gf[1][r], gf[2][r]);
            for (int c = 0; c < 4; c++) /* +0 in the padding rows */
                _mm512_mask_storeu_ps(u + (r * 4 + c) * ldu + d * mr, mk, _mm512_maskz_mov_ps(real, row[c]));
        }
    }
}

AVX512 static void interleave_avx512(float *r, const float *a, int64_t as, int64_t n) {
    const float *b = a + as;
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m512 va = _mm512_loadu_ps(a + k), vb = _mm512_loadu_ps(b + k);
        _mm512_storeu_ps(r + 2 * k, _mm512_permutex2var_ps(va, lo, vb));
        _mm512_storeu_ps(r + 2 * k + 16, _mm512_permutex2var_ps(va, hi, vb));
    }
    if (k < n) { /* a and b readable up to n rounded up to 16 */
        const int64_t rem = n - k;
        const __m512 va = _mm512_loadu_ps(a + k), vb = _mm512_loadu_ps(b + k);
        _mm512_mask_storeu_ps(r + 2 * k, mask_n(2 * rem), _mm512_permutex2var_ps(va, lo, vb));
        _mm512_mask_storeu_ps(r + 2 * k + 16, mask_n(2 * rem - 16), _mm512_permutex2var_ps(va, hi, vb));
    }
}

/* the tiles' even and odd columns of r at 2k .. 2k + 32 (zeros past len; r NULL:
 * zeros): plain loads where the whole 32 are inside */
AVX512 static inline void split_pairs(__m512 *ev, __m512 *od, const float *r, int64_t j,
                                      int64_t len) {
    if (!r) {
        *ev = *od = _mm512_setzero_ps();
        return;
    }
    const __m512i e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i o = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 lo, hi;
    if (j + 32 <= len) {
        lo = _mm512_loadu_ps(r + j);
        hi = _mm512_loadu_ps(r + j + 16);
    } else {
        lo = _mm512_maskz_loadu_ps(mask_n(len - j), r + j);
        hi = _mm512_maskz_loadu_ps(mask_n(len - j - 16), r + j + 16);
    }
    *ev = _mm512_permutex2var_ps(lo, e, hi);
    *od = _mm512_permutex2var_ps(lo, o, hi);
}

/* (a, a + b, a - b, b): row r of (A' y) A'^T into positions 4r .. 4r + 3 */
AVX512 static inline void grad_row(float *q, int64_t qs, __mmask16 mk, __m512 a, __m512 b) {
    store_n(q, mk, a);
    store_n(q + qs, mk, _mm512_add_ps(a, b));
    store_n(q + 2 * qs, mk, _mm512_sub_ps(a, b));
    store_n(q + 3 * qs, mk, b);
}

AVX512 static void grad_avx512(float *qb, int64_t qs, const float *r0, const float *r1, int64_t nk,
                               int64_t len) {
    for (int64_t k = 0; k < nk; k += 16) {
        __m512 y00, y01, y10, y11;
        split_pairs(&y00, &y01, r0, 2 * k, len);
        split_pairs(&y10, &y11, r1, 2 * k, len);
        const __mmask16 mk = mask_n(nk - k);
        float *q = qb + k;
        grad_row(q, qs, mk, y00, y01); /* A' y: rows y0, y0 + y1, y0 - y1, y1 */
        grad_row(q + 4 * qs, qs, mk, _mm512_add_ps(y00, y10), _mm512_add_ps(y01, y11));
        grad_row(q + 8 * qs, qs, mk, _mm512_sub_ps(y00, y10), _mm512_sub_ps(y01, y11));
        grad_row(q + 12 * qs, qs, mk, y10, y11);
    }
}

/* 16 pairs at a time (lane j: pair j), the 9 taps scattered (wstride < 2^31 / 16) */
/* 16 filters' 9 taps a step, filter j in lane j, turned into rows by a 16 x 16
 * transpose and stored 9 floats a filter (scatters were 13% of a 512-channel weight
 * gradient) */
AVX512 static void fold_avx512(float *dw, int64_t wstride, const float *d, int64_t ldd, int64_t n) {
    const __m512 half = _mm512_set1_ps(0.5f);
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 mk = mask_n(n - j);
        const bool whole = j + 16 <= n; /* plain loads: D streams from memory on wide layers */
        __m512 t[3][4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const __m512 d0 = load_tail(d + c * ldd + j, mk, whole);
            const __m512 d1 = load_tail(d + (4 + c) * ldd + j, mk, whole);
            const __m512 d2 = load_tail(d + (8 + c) * ldd + j, mk, whole);
            const __m512 d3 = load_tail(d + (12 + c) * ldd + j, mk, whole);
            const __m512 h = _mm512_mul_ps(half, _mm512_add_ps(d1, d2));
            t[0][c] = _mm512_add_ps(d0, h);
            t[1][c] = _mm512_mul_ps(half, _mm512_sub_ps(d1, d2));
            t[2][c] = _mm512_sub_ps(h, d3);
        }
        __m512 v[16]; /* v[q]: tap q of the 16 filters, then (transposed) filter j's taps */
#pragma GCC unroll 3
        for (int r = 0; r < 3; r++) {
            const __m512 h = _mm512_mul_ps(half, _mm512_add_ps(t[r][1], t[r][2]));
            v[3 * r] = _mm512_add_ps(t[r][0], h);
            v[3 * r + 1] = _mm512_mul_ps(half, _mm512_sub_ps(t[r][1], t[r][2]));
            v[3 * r + 2] = _mm512_sub_ps(h, t[r][3]);
        }
        for (int q = 9; q < 16; q++) v[q] = _mm512_setzero_ps();
        cnnc__transpose16_avx512(v);
        /* filter f's 9 taps; where the filters are adjacent, whole vectors, whose last 7
         * floats the next filter's store overwrites (masked: the call's last filter's,
         * and every one where filters are apart). On Zen 5 a masked store whose line is
         * not in cache ran 2-4x slower than a plain one, and a large layer's dw is not
         * (1 thread, the weight gradient of 512 channels at batch 8, min of 40, ms: at
         * 7x7 9.28-9.38 -> 8.56-8.58, at 4x4 3.25-3.45 -> 2.61-2.77) */
#pragma GCC unroll 16
        for (int f = 0; f < 16; f++) {
            if (j + f >= n) break;
            if (wstride == 9 && j + f + 1 < n)
                _mm512_storeu_ps(dw + (j + f) * wstride, v[f]);
            else
                _mm512_mask_storeu_ps(dw + (j + f) * wstride, 0x1FF, v[f]);
        }
    }
}
#endif

/* The scalar output loop over whole rows (the table's signature). */
static void out_scalar_row(float *o, int64_t os, const float *m, int64_t mstride, float bv,
                           int64_t n) {
    out_scalar(o, os, m, mstride, bv, 0, n);
}

/* G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] (exact but for the final roundings) */
static void weights_one(float *u, int64_t ldu, const float *f) {
    float gg[4][3]; /* G f */
    for (int c = 0; c < 3; c++) {
        const float a = f[c], b = f[3 + c], d = f[6 + c];
        gg[0][c] = a;
        gg[1][c] = 0.5f * (a + b + d);
        gg[2][c] = 0.5f * (a - b + d);
        gg[3][c] = d;
    }
    for (int r = 0; r < 4; r++) { /* (G f) G^T */
        const float a = gg[r][0], b = gg[r][1], d = gg[r][2];
        u[(r * 4 + 0) * ldu] = a;
        u[(r * 4 + 1) * ldu] = 0.5f * (a + b + d);
        u[(r * 4 + 2) * ldu] = 0.5f * (a - b + d);
        u[(r * 4 + 3) * ldu] = d;
    }
}

static void weights_scalar(float *u, int64_t ldu, const float *w, int64_t fs, int64_t ds,
                           bool rev, int64_t n, int64_t mr, int64_t kc) {
    cnnc__wino_weights_walk(u, ldu, w, fs, ds, rev, n, mr, kc, 16, weights_one);
}

const cnnc__wino_rows cnnc__wino_f2_scalar = {
    .vert = vert_scalar, .horiz = horiz_scalar, .horiz_at = horiz_at_scalar,
    .out = out_scalar_row, .interleave = interleave_scalar, .weights = weights_scalar,
    .grad = grad_scalar, .fold = fold_scalar};
#if CNNC__ISA_X86
const cnnc__wino_rows cnnc__wino_f2_avx512 = {
    .vert = vert_avx512, .horiz = horiz_avx512, .horiz_at = horiz_at_avx512,
    .out = out_avx512, .interleave = interleave_avx512, .weights = weights_avx512,
    .grad = grad_avx512, .fold = fold_avx512};
#endif
