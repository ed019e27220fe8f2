/* AVX2 + FMA tiles of the small-product GEMM (gemm_small.c): operands read in place.
 *
 * bcast: up to 4 rows x 24 columns of C in 12 ymm accumulators (+ 3 B vectors + 1
 *        broadcast: all 16 registers), the packed 6x16 kernel's arithmetic element
 *        for element, so a result equals the packed GEMM's bit for bit.
 * dot:   up to 4 rows of A against 3 rows of B (B stored n x k): 12 ymm lane sums
 *        along k, reduced at the end of the k block.
 * Only this file's functions use AVX2/FMA (function target attributes). */
#include "kernels/gemm_small.h"

#if CNNC__ISA_X86
#include <immintrin.h>

#include "kernels/lanes_avx2.h"

#define TARGET __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline)) TARGET
#define BR 4 /* bcast rows */
#define BV 3 /* bcast vectors: 24 columns */
#define DR 4 /* dot rows of A */
#define DC 3 /* dot rows of B (columns of C) */

INLINE __m256 load_v(const float *p, bool full, __m256i mask) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}

/* The tile with `rows` rows and `nv` vectors (compile-time constants at each call
 * site); the last vector has `rem` columns (all 8 when `full`). The next tile's columns
 * of rows pf0, pf0 + pf_step, ... prefetched (pf_step 0: none). Plain stores only: on
 * Zen 3 non-temporal ones were slower (gemm_small.c). */
INLINE void bcast_tile(const int rows, const int nv, const bool full, int64_t kc,
                       const float *restrict a, int64_t sai, int64_t sap, const float *restrict b,
                       int64_t ldb, float *restrict c, int64_t ldc, float beta, int64_t rem,
                       int64_t pf0, int64_t pf_step) {
    __m256 acc[BR][BV];
#pragma GCC unroll 4
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) acc[i][v] = _mm256_setzero_ps();
    int64_t pf_next = pf_step ? pf0 : kc;
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = b + p * ldb;
        if (p == pf_next) {
            pf_next += pf_step;
            _mm_prefetch((const char *)(bp + 8 * BV), _MM_HINT_T0);
            _mm_prefetch((const char *)(bp + 16 * BV - 1), _MM_HINT_T0);
        }
        const __m256i mask = cnnc__lanes_avx2(rem);
        __m256 bv[BV];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? load_v(bp + 8 * v, full, mask) : _mm256_loadu_ps(bp + 8 * v);
        const float *ap = a + p * sap;
#pragma GCC unroll 4
        for (int i = 0; i < rows; i++) {
            const __m256 ai = _mm256_broadcast_ss(ap + i * sai);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    const __m256 vbeta = _mm256_set1_ps(beta);
    const __m256i mask = cnnc__lanes_avx2(rem);
#pragma GCC unroll 4
    for (int i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            const bool whole = full || v < nv - 1;
            __m256 r = acc[i][v];
            if (beta == 1.0f)
                r = _mm256_add_ps(load_v(ci + 8 * v, whole, mask), r);
            else if (beta != 0.0f)
                r = _mm256_fmadd_ps(vbeta, load_v(ci + 8 * v, whole, mask), r);
            if (whole)
                _mm256_storeu_ps(ci + 8 * v, r);
            else
                cnnc__store_n_avx2(ci + 8 * v, r, rem);
        }
    }
}

#define BCAST_TILE(r, nv, full) \
    bcast_tile(r, nv, full, kc, a, sai, sap, b, ldb, c, ldc, beta, rem, pf0, pfs)
#define BCAST_ROWS(nv, full)                          \
    switch (rows) {                                   \
    case 1: BCAST_TILE(1, nv, full); break;           \
    case 2: BCAST_TILE(2, nv, full); break;           \
    case 3: BCAST_TILE(3, nv, full); break;           \
    default: BCAST_TILE(4, nv, full); break;          \
    }

TARGET void cnnc__f32_gemm_bcast_4x24__avx2(int64_t rows, int64_t cols, int64_t kc,
                                            const float *a, int64_t sai, int64_t sap,
                                            const float *b, int64_t ldb, float *c, int64_t ldc,
                                            float beta, unsigned flags) {
    const int nv = (int)((cols + 7) / 8);
    const int64_t rem = cols - 8 * (nv - 1);
    int64_t pf0;
    const int64_t pfs = cnnc__small_prefetch_rows(flags, &pf0);
    if (cols == 24) {
        BCAST_ROWS(3, true)
    } else if (nv == 3) {
        BCAST_ROWS(3, false)
    } else if (nv == 2) {
        BCAST_ROWS(2, false)
    } else {
        BCAST_ROWS(1, false)
    }
}

/* ---- dot ------------------------------------------------------------------------- */

INLINE void dot_step(const int rows, const int cols, const bool full, const float *a, int64_t lda,
                     const float *b, const float *next, int64_t ldb, int64_t p, __m256i mask,
                     __m256 acc[DR][DC]) {
    __m256 bv[DC];
    if (p % 16 == 0) /* the next tile's rows, into L2, a line a row */
#pragma GCC unroll 3
        for (int j = 0; j < DC; j++)
            _mm_prefetch((const char *)(next + j * ldb + p), _MM_HINT_T1);
#pragma GCC unroll 3
    for (int j = 0; j < cols; j++) bv[j] = load_v(b + j * ldb + p, full, mask);
#pragma GCC unroll 4
    for (int i = 0; i < rows; i++) {
        const __m256 av = load_v(a + i * lda + p, full, mask);
#pragma GCC unroll 3
        for (int j = 0; j < cols; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
}

/* The 8 lanes summed in a fixed order: (lo + hi) halves, then pairs, then the two. */
INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE void dot_tile(const int rows, const int cols, int64_t kc, const float *restrict a,
                     int64_t lda, const float *restrict b, const float *next, int64_t ldb,
                     float *restrict c, int64_t ldc, float beta) {
    __m256 acc[DR][DC];
#pragma GCC unroll 4
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 3
        for (int j = 0; j < cols; j++) acc[i][j] = _mm256_setzero_ps();
    const __m256i none = _mm256_setzero_si256();
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) dot_step(rows, cols, true, a, lda, b, next, ldb, p, none, acc);
    if (p < kc)
        dot_step(rows, cols, false, a, lda, b, next, ldb, p, cnnc__lanes_avx2(kc - p), acc);
#pragma GCC unroll 4
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 3
        for (int j = 0; j < cols; j++) {
            const float s = hsum(acc[i][j]);
            float *cij = c + i * ldc + j;
            *cij = beta == 0.0f ? s : beta == 1.0f ? *cij + s : beta * *cij + s;
        }
}

#define DOT_ROWS(cols)                                                   \
    switch (rows) {                                                      \
    case 1: dot_tile(1, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    case 2: dot_tile(2, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    case 3: dot_tile(3, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    default: dot_tile(4, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break; \
    }

TARGET void cnnc__f32_gemm_dot_4x3__avx2(int64_t rows, int64_t cols, int64_t kc, const float *a,
                                         int64_t lda, const float *b, const float *next,
                                         int64_t ldb, float *c, int64_t ldc, float beta) {
    if (cols >= 3) {
        DOT_ROWS(3)
    } else if (cols == 2) {
        DOT_ROWS(2)
    } else {
        DOT_ROWS(1)
    }
}

#else
typedef int cnnc__gemm_small_avx2_unused; /* ISO C wants a declaration in every file */
#endif
