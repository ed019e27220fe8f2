/* Winograd row loops (conv_winograd_internal.h) for AVX2 + FMA, 8 tiles (or filters)
 * a vector, for both tile sizes: F(2x2, 3x3) with conv_winograd_f2.c's additions and
 * exact halvings (the scalar and AVX-512 loops' bits), F(4x4, 3x3) with the AVX-512
 * loops of conv_winograd_f4.c's fused multiply-adds in the same order (their bits).
 *
 * AVX2 has masked loads but its masked stores are slow on AMD cores, so the last part
 * vector of a row is stored by pieces (cnnc__store_n_avx2); tails load what the
 * contracts let them read, and run the body's operations. Windows of tiles (4 or 6
 * floats from where each tile starts) become a vector per column by 128-bit loads and
 * 4 x 4 transposes (windows4): no gathers. */
#include "kernels/conv_winograd_internal.h"

#if CNNC__ISA_X86
#include <immintrin.h>

#include "kernels/lanes_avx2.h"
#include "kernels/transpose8_avx2.h"

CNNC__ISA_TARGET_BEGIN("avx2,fma")

#define INLINE static inline __attribute__((always_inline))

/* ---- shared ----------------------------------------------------------------------- */

/* the first 8 floats at p (whole) or its first lanes of mk (zeros past them) */
INLINE __m256 load_part(const float *p, __m256i mk, bool whole) {
    return whole ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mk);
}

/* c[j] lane i = p[i][j], j < 4: the 4 floats at each of 8 places, a column a vector */
INLINE void windows4(__m256 c[4], const float *const p[8]) {
    __m256 r[4]; /* r[i]: the windows i (low half) and 4 + i (high) */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        r[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p[i])),
                                    _mm_loadu_ps(p[4 + i]), 1);
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    c[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    c[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    c[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    c[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

/* p[i] = s + at[i] for the n tiles there, the last one's again past them (lanes whose
 * results are not stored) */
INLINE void at_windows(const float *p[8], const float *s, const int32_t *at, int64_t n) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) p[i] = s + at[i < n ? i : n - 1];
}

/* p[i] = sr + step i: the windows of 8 tiles side by side */
INLINE void run_windows(const float *p[8], const float *sr, int step) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) p[i] = sr + step * i;
}

/* tmp[(9 d + q) 8 + j] = tap q of filter w + j fs + 9 d for j < n, 0 for n <= j < 8,
 * d < nd <= 8: the taps of 8 filters at nd depths, filter j in lane j, by plain loads
 * per filter and 8 x 8 transposes (cnnc__wino_panel_taps at 8 lanes). tmp 32-byte
 * aligned, 72 x 8 floats. */
INLINE void panel_taps8(float *tmp, const float *w, int64_t fs, int64_t n, int64_t nd) {
    for (int k = 0; k < 9; k++) {
        const int64_t left = 9 * nd - 8 * k; /* floats of each filter's run in vector k */
        if (left <= 0) break;
        const __m256i mk = cnnc__lanes_avx2(left);
        __m256 r[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            r[j] = j < n ? load_part(w + j * fs + 8 * k, mk, left >= 8) : _mm256_setzero_ps();
        cnnc__transpose8_avx2(r);
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) _mm256_store_ps(tmp + (8 * k + c) * 8, r[c]);
    }
}

/* t[q] = tap q (reversed: 8 - q) of the filters f_ij (the weights loops' arguments) at
 * depth d, filter j in lane j (zeros past n <= 8): cnnc__wino_taps at 8 lanes. Filters
 * far apart (ds == 9): from tmp, refilled every 8 depths; adjacent ones (fs == 9):
 * taps 0-7 of the 8 of depth d transposed, tap 8 gathered. */
INLINE void taps8(__m256 t[9], float *tmp, const float *w, int64_t fs, int64_t ds, bool rev,
                  int64_t n, int64_t kc, int64_t d) {
    if (ds == 9) {
        if (d % 8 == 0) {
            /* each filter's run 16 depths on (a page of its own: past the hardware
             * prefetchers; prefetches do not fault) */
            for (int64_t j = 0; j < n; j++)
                for (int q = 0; q < 5; q++) __builtin_prefetch(w + j * fs + 9 * (d + 16) + 16 * q);
            panel_taps8(tmp, w + 9 * d, fs, n, kc - d < 8 ? kc - d : 8);
        }
#pragma GCC unroll 9
        for (int q = 0; q < 9; q++) t[q] = _mm256_load_ps(tmp + (9 * (d % 8) + q) * 8);
    } else {
        /* a depth 8 ahead: depths are ds floats apart, past the hardware prefetchers */
        for (int64_t q = 0; d + 8 < kc && q < 9 * n; q += 16)
            __builtin_prefetch(w + (d + 8) * ds + q);
        const float *f = w + d * ds;
        __m256 r[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) r[j] = j < n ? _mm256_loadu_ps(f + 9 * j) : _mm256_setzero_ps();
        cnnc__transpose8_avx2(r);
#pragma GCC unroll 8
        for (int q = 0; q < 8; q++) t[q] = r[q];
        const __m256i at = _mm256_setr_epi32(8, 17, 26, 35, 44, 53, 62, 71);
        const __m256 real = _mm256_castsi256_ps(cnnc__lanes_avx2(n));
        t[8] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), f, at, real, 4);
    }
    for (int q = 0; rev && q < 4; q++) {
        const __m256 a = t[q];
        t[q] = t[8 - q];
        t[8 - q] = a;
    }
}

/* The weights loops (the table's arguments, mr <= 8), depth by depth: the taps of its
 * filters in lanes (filter j in lane j), their np transformed values by filter(o, t),
 * stored per position (+0 in the padding rows) */
INLINE void weights8(float *u, int64_t ldu, const float *w, int64_t fs, int64_t ds, bool rev,
                     int64_t n, int64_t mr, int64_t kc, int np,
                     void (*filter)(__m256 *o, const __m256 t[9])) {
    _Alignas(32) float tmp[72 * 8];
    const __m256 real = _mm256_castsi256_ps(cnnc__lanes_avx2(n));
    for (int64_t d = 0; d < kc; d++) {
        __m256 t[9], o[36];
        taps8(t, tmp, w, fs, ds, rev, n, kc, d);
        filter(o, t);
        for (int e = 0; e < np; e++)
            cnnc__store_n_avx2(u + e * ldu + d * mr, _mm256_and_ps(real, o[e]), mr);
    }
}

/* ---- F(2x2, 3x3) -------------------------------------------------------------------- */

static void f2_vert(float *sb, int64_t ss, const float *const *d, int64_t n, bool whole) {
    float *const s[4] = {sb, sb + ss, sb + 2 * ss, sb + 3 * ss};
    for (int64_t c = 0; c < n; c += 8) {
        const __m256i mk = cnnc__lanes_avx2(n - c);
        const bool all = whole || c + 8 <= n;
        const __m256 d0 = load_part(d[0] + c, mk, all), d1 = load_part(d[1] + c, mk, all);
        const __m256 d2 = load_part(d[2] + c, mk, all), d3 = load_part(d[3] + c, mk, all);
        cnnc__store_n_avx2(s[0] + c, _mm256_sub_ps(d0, d2), n - c);
        cnnc__store_n_avx2(s[1] + c, _mm256_add_ps(d1, d2), n - c);
        cnnc__store_n_avx2(s[2] + c, _mm256_sub_ps(d2, d1), n - c);
        cnnc__store_n_avx2(s[3] + c, _mm256_sub_ps(d1, d3), n - c);
    }
}

/* (c B)_j of 8 tiles' columns c[0..4) to v + j vs, lanes < n */
INLINE void f2_b_store(float *v, int64_t vs, const __m256 c[4], int64_t n) {
    cnnc__store_n_avx2(v, _mm256_sub_ps(c[0], c[2]), n);
    cnnc__store_n_avx2(v + vs, _mm256_add_ps(c[1], c[2]), n);
    cnnc__store_n_avx2(v + 2 * vs, _mm256_sub_ps(c[2], c[1]), n);
    cnnc__store_n_avx2(v + 3 * vs, _mm256_sub_ps(c[1], c[3]), n);
}

/* reads sr[0 .. 2 nk + 18) */
static void f2_horiz(float *v, int64_t vs, const float *sr, int64_t nk) {
    for (int64_t k = 0; k < nk; k += 8) {
        const float *p = sr + 2 * k;
        __m256 c[4];
        cnnc__deinterleave2_avx2(&c[0], &c[1], _mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
        cnnc__deinterleave2_avx2(&c[2], &c[3], _mm256_loadu_ps(p + 2), _mm256_loadu_ps(p + 10));
        f2_b_store(v + k, vs, c, nk - k);
    }
}

static void f2_horiz_at(float *v, int64_t vs, const float *s, const int32_t *at, int64_t n) {
    for (int64_t k = 0; k < n; k += 8) {
        const float *p[8];
        at_windows(p, s, at + k, n - k);
        __m256 c[4];
        windows4(c, p);
        f2_b_store(v + k, vs, c, n - k);
    }
}

#define F2_V __m256
#define F2_ATTR
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define LOADU _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#include "kernels/conv_winograd_f2_ops.h"

/* reads and writes up to n rounded up to 8 */
static void f2_out(float *ob, int64_t os, const float *m, int64_t ms, float bv, int64_t n) {
    float *const o[4] = {ob, ob + os, ob + 2 * os, ob + 3 * os};
    for (int64_t k = 0; k < n; k += 8) out_step(o, m, ms, _mm256_set1_ps(bv), k);
}

/* reads a and a + as up to n rounded up to 8 */
static void f2_interleave(float *r, const float *a, int64_t as, int64_t n) {
    for (int64_t k = 0; k < n; k += 8) {
        const __m256 va = _mm256_loadu_ps(a + k), vb = _mm256_loadu_ps(a + as + k);
        const __m256 lo = _mm256_unpacklo_ps(va, vb), hi = _mm256_unpackhi_ps(va, vb);
        const int64_t left = 2 * (n - k); /* floats of r from 2 k */
        cnnc__store_n_avx2(r + 2 * k, _mm256_permute2f128_ps(lo, hi, 0x20), left);
        cnnc__store_n_avx2(r + 2 * k + 8, _mm256_permute2f128_ps(lo, hi, 0x31), left - 8);
    }
}

/* G v for one column of 3 (the scalar weights' operations, so the same bits) */
INLINE void g4_v(__m256 r[4], __m256 a, __m256 b, __m256 c) {
    const __m256 half = _mm256_set1_ps(0.5f);
    r[0] = a;
    r[1] = _mm256_mul_ps(half, _mm256_add_ps(_mm256_add_ps(a, b), c));
    r[2] = _mm256_mul_ps(half, _mm256_add_ps(_mm256_sub_ps(a, b), c));
    r[3] = c;
}

/* o[4 r + c] = (G f G^T)[r][c] of the filters' taps t */
INLINE void f2_filter(__m256 *o, const __m256 t[9]) {
    __m256 gf[3][4];
    for (int c = 0; c < 3; c++) g4_v(gf[c], t[c], t[3 + c], t[6 + c]);
    for (int r = 0; r < 4; r++) g4_v(o + 4 * r, gf[0][r], gf[1][r], gf[2][r]);
}

static void f2_weights(float *u, int64_t ldu, const float *w, int64_t fs, int64_t ds, bool rev,
                       int64_t n, int64_t mr, int64_t kc) {
    weights8(u, ldu, w, fs, ds, rev, n, mr, kc, 16, f2_filter);
}

/* the tiles' even and odd columns of r at j .. j + 16 (zeros past len; r NULL: zeros) */
INLINE void split_pairs(__m256 *ev, __m256 *od, const float *r, int64_t j, int64_t len) {
    if (!r) {
        *ev = *od = _mm256_setzero_ps();
        return;
    }
    const bool all = j + 16 <= len;
    cnnc__deinterleave2_avx2(ev, od, load_part(r + j, cnnc__lanes_avx2(len - j), all),
                  load_part(r + j + 8, cnnc__lanes_avx2(len - j - 8), all));
}

/* (a, a + b, a - b, b): row r of (A' y) A'^T into positions 4r .. 4r + 3 */
INLINE void grad_row(float *q, int64_t qs, int64_t n, __m256 a, __m256 b) {
    cnnc__store_n_avx2(q, a, n);
    cnnc__store_n_avx2(q + qs, _mm256_add_ps(a, b), n);
    cnnc__store_n_avx2(q + 2 * qs, _mm256_sub_ps(a, b), n);
    cnnc__store_n_avx2(q + 3 * qs, b, n);
}

static void f2_grad(float *qb, int64_t qs, const float *r0, const float *r1, int64_t nk,
                    int64_t len) {
    for (int64_t k = 0; k < nk; k += 8) {
        __m256 y00, y01, y10, y11;
        split_pairs(&y00, &y01, r0, 2 * k, len);
        split_pairs(&y10, &y11, r1, 2 * k, len);
        float *q = qb + k;
        const int64_t n = nk - k;
        grad_row(q, qs, n, y00, y01); /* A' y: rows y0, y0 + y1, y0 - y1, y1 */
        grad_row(q + 4 * qs, qs, n, _mm256_add_ps(y00, y10), _mm256_add_ps(y01, y11));
        grad_row(q + 8 * qs, qs, n, _mm256_sub_ps(y00, y10), _mm256_sub_ps(y01, y11));
        grad_row(q + 12 * qs, qs, n, y10, y11);
    }
}

/* 8 filters' 9 taps a step, filter j in lane j: taps 0-7 turned into rows by an 8 x 8
 * transpose and stored 8 floats a filter, tap 8 one float a filter */
static void f2_fold(float *dw, int64_t wstride, const float *d, int64_t ldd, int64_t n) {
    const __m256 half = _mm256_set1_ps(0.5f);
    for (int64_t j = 0; j < n; j += 8) {
        const __m256i mk = cnnc__lanes_avx2(n - j);
        const bool all = j + 8 <= n;
        __m256 t[3][4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const __m256 d0 = load_part(d + c * ldd + j, mk, all);
            const __m256 d1 = load_part(d + (4 + c) * ldd + j, mk, all);
            const __m256 d2 = load_part(d + (8 + c) * ldd + j, mk, all);
            const __m256 d3 = load_part(d + (12 + c) * ldd + j, mk, all);
            const __m256 h = _mm256_mul_ps(half, _mm256_add_ps(d1, d2));
            t[0][c] = _mm256_add_ps(d0, h);
            t[1][c] = _mm256_mul_ps(half, _mm256_sub_ps(d1, d2));
            t[2][c] = _mm256_sub_ps(h, d3);
        }
        __m256 v[9]; /* v[q]: tap q of the 8 filters, then (v[0..8) transposed) filter f's */
#pragma GCC unroll 3
        for (int r = 0; r < 3; r++) {
            const __m256 h = _mm256_mul_ps(half, _mm256_add_ps(t[r][1], t[r][2]));
            v[3 * r] = _mm256_add_ps(t[r][0], h);
            v[3 * r + 1] = _mm256_mul_ps(half, _mm256_sub_ps(t[r][1], t[r][2]));
            v[3 * r + 2] = _mm256_sub_ps(h, t[r][3]);
        }
        _Alignas(32) float last[8];
        _mm256_store_ps(last, v[8]);
        cnnc__transpose8_avx2(v);
        for (int64_t f = 0; f < 8 && j + f < n; f++) {
            _mm256_storeu_ps(dw + (j + f) * wstride, v[f]);
            dw[(j + f) * wstride + 8] = last[f];
        }
    }
}

const cnnc__wino_rows cnnc__wino_f2_avx2 = {
    .vert = f2_vert, .horiz = f2_horiz, .horiz_at = f2_horiz_at, .out = f2_out,
    .interleave = f2_interleave, .weights = f2_weights, .grad = f2_grad, .fold = f2_fold};

/* ---- F(4x4, 3x3): the AVX-512 loops' arithmetic (conv_winograd_f4_ops.h) ------------- */

#undef ADD
#undef SUB
#undef LOADU
#undef STOREU
#define F4_V __m256
#define F4_LANES 8
#define F4_ATTR
#define F4_OUT f4_out
#define SET1 _mm256_set1_ps
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps
#define FMA _mm256_fmadd_ps
#define LOADU _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#include "kernels/conv_winograd_f4_ops.h"

static void f4_vert(float *s, int64_t ss, const float *const *d, int64_t n, bool whole) {
    for (int64_t c = 0; c < n; c += 8) {
        const __m256i mk = cnnc__lanes_avx2(n - c);
        const bool all = whole || c + 8 <= n;
        __m256 r[6];
        bt6_v(r, load_part(d[0] + c, mk, all), load_part(d[1] + c, mk, all),
              load_part(d[2] + c, mk, all), load_part(d[3] + c, mk, all),
              load_part(d[4] + c, mk, all), load_part(d[5] + c, mk, all));
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) cnnc__store_n_avx2(s + i * ss + c, r[i], n - c);
    }
}

/* (c B)_j of the 6-wide windows at p[i] (reading 8 floats from each) to v + j vs,
 * lanes < n */
INLINE void f4_windows_b(float *v, int64_t vs, const float *const p[8], int64_t n) {
    const float *q[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) q[i] = p[i] + 4;
    __m256 c[4], e[4], o[6];
    windows4(c, p);
    windows4(e, q); /* columns 4 and 5 (the rest unused) */
    bt6_v(o, c[0], c[1], c[2], c[3], e[0], e[1]);
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) cnnc__store_n_avx2(v + j * vs, o[j], n);
}

/* reads sr[0 .. 4 nk + 32) */
static void f4_horiz(float *v, int64_t vs, const float *sr, int64_t nk) {
    for (int64_t k = 0; k < nk; k += 8) {
        const float *p[8];
        run_windows(p, sr + 4 * k, 4);
        f4_windows_b(v + k, vs, p, nk - k);
    }
}

static void f4_horiz_at(float *v, int64_t vs, const float *s, const int32_t *at, int64_t n) {
    for (int64_t k = 0; k < n; k += 8) {
        const float *p[8];
        at_windows(p, s, at + k, n - k);
        f4_windows_b(v + k, vs, p, n - k);
    }
}

/* 4 rows of 8 tiles: a 4 x 4 transpose in each 128-bit lane gives tiles (i, 4 + i)
 * in vector i, reordered into pairs of tiles; reads up to n rounded up to 8 */
static void f4_interleave(float *r, const float *a, int64_t as, int64_t n) {
    for (int64_t k = 0; k < n; k += 8) {
        const __m256 a0 = _mm256_loadu_ps(a + k), a1 = _mm256_loadu_ps(a + as + k);
        const __m256 a2 = _mm256_loadu_ps(a + 2 * as + k), a3 = _mm256_loadu_ps(a + 3 * as + k);
        const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
        const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
        const __m256 x0 = _mm256_shuffle_ps(t0, t2, 0x44), x1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        const __m256 x2 = _mm256_shuffle_ps(t1, t3, 0x44), x3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        const __m256 out[4] = {
            _mm256_permute2f128_ps(x0, x1, 0x20), _mm256_permute2f128_ps(x2, x3, 0x20),
            _mm256_permute2f128_ps(x0, x1, 0x31), _mm256_permute2f128_ps(x2, x3, 0x31)};
        const int64_t left = 4 * (n - k); /* floats of r from 4 k */
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) cnnc__store_n_avx2(r + 4 * k + 8 * q, out[q], left - 8 * q);
    }
}

/* o[6 r + c] = (G f G^T)[r][c] of the filters' taps t */
INLINE void f4_filter(__m256 *o, const __m256 t[9]) {
    __m256 gf[3][6];
    for (int c = 0; c < 3; c++) g3_v(gf[c], t[c], t[3 + c], t[6 + c]);
    for (int r = 0; r < 6; r++) g3_v(o + 6 * r, gf[0][r], gf[1][r], gf[2][r]);
}

static void f4_weights(float *u, int64_t ldu, const float *w, int64_t fs, int64_t ds, bool rev,
                       int64_t n, int64_t mr, int64_t kc) {
    weights8(u, ldu, w, fs, ds, rev, n, mr, kc, 36, f4_filter);
}

const cnnc__wino_rows cnnc__wino_f4_avx2 = {
    .vert = f4_vert, .horiz = f4_horiz, .horiz_at = f4_horiz_at, .out = f4_out,
    .interleave = f4_interleave, .weights = f4_weights};

CNNC__ISA_TARGET_END
#endif
