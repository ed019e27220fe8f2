/* AVX-512F tiles of the small-product GEMM (gemm_small.c): operands read in place.
 *
 * bcast: up to 8 rows x 48 columns of C in 24 zmm accumulators; per k step three
 *        vectors of the B row (unaligned, straight from B) and one broadcast of A(i,p)
 *        per row, the packed 14x32 kernel's arithmetic element for element (sum from
 *        zero, one FMA per p in increasing order, then the beta rule), so a result
 *        equals the packed GEMM's bit for bit.
 * dot:   up to 8 rows of A against 3 rows of B (B stored n x k): 24 zmm lane sums
 *        along k, reduced at the end of the k block.
 * Only this file's functions use AVX-512 (function target attributes). */
#include "kernels/gemm_small.h"

#if CNNC__ISA_X86
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline)) TARGET
#define BR 8  /* bcast rows */
#define BV 3  /* bcast vectors: 48 columns */
#define DR 8  /* dot rows of A */
#define DC 3  /* dot rows of B (columns of C) */

/* The tile with `rows` rows and `nv` vectors (compile-time constants at each call
 * site); the last vector has the columns in `last`. Prefetches the next tile's
 * part of B rows pf0, pf0 + pf_step, ... (pf_step 0: none), for B rows too far apart
 * for the hardware prefetchers. */
INLINE void bcast_tile(const int rows, const int nv, int64_t kc, const float *restrict a,
                       int64_t sai, int64_t sap, const float *restrict b, int64_t ldb,
                       float *restrict c, int64_t ldc, float beta, __mmask16 last,
                       int64_t pf0, int64_t pf_step, bool stream) {
    __m512 acc[BR][BV];
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_setzero_ps();
    int64_t pf_next = pf_step ? pf0 : kc;
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = b + p * ldb;
        if (p == pf_next) {
            pf_next += pf_step;
            _mm_prefetch((const char *)(bp + 16 * BV), _MM_HINT_T0);
            _mm_prefetch((const char *)(bp + 16 * BV + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(bp + 16 * BV + 32), _MM_HINT_T0);
            _mm_prefetch((const char *)(bp + 32 * BV - 1), _MM_HINT_T0);
        }
        __m512 bv[BV];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, bp + 16 * v)
                                : _mm512_loadu_ps(bp + 16 * v);
        const float *ap = a + p * sap;
#pragma GCC unroll 8
        for (int i = 0; i < rows; i++) {
            const __m512 ai = _mm512_set1_ps(ap[i * sai]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    const __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            const __mmask16 mk = v == nv - 1 ? last : 0xFFFF;
            __m512 r = acc[i][v];
            if (beta == 1.0f)
                r = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, ci + 16 * v), r);
            else if (beta != 0.0f)
                r = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(mk, ci + 16 * v), r);
            if (stream)
                _mm512_stream_ps(ci + 16 * v, r);
            else
                _mm512_mask_storeu_ps(ci + 16 * v, mk, r);
        }
    }
}

#define BCAST_ROWS(nv)                                                                   \
    switch (rows) {                                                                      \
    case 1: bcast_tile(1, nv, kc, a, sai, sap, b, ldb, c, ldc, beta, last, pf0, pfs, st); break; \
    case 2: bcast_tile(2, nv, kc, a, sai, sap, b, ldb, c, ldc, beta, last, pf0, pfs, st); break; \
    case 3: bcast_tile(3, nv, kc, a, sai, sap, b, ldb, c, ldc, beta, last, pf0, pfs, st); break; \
    case 4: bcast_tile(4, nv, kc, a, sai, sap, b, ldb, c, ldc, beta, last, pf0, pfs, st); break; \
    case 5: bcast_tile(5, nv, kc, a, sai, sap, b, ldb, c, ldc, beta, last, pf0, pfs, st); break; \
    case 6: bcast_tile(6, nv, kc, a, sai, sap, b, ldb, c, ldc, beta, last, pf0, pfs, st); break; \
    case 7: bcast_tile(7, nv, kc, a, sai, sap, b, ldb, c, ldc, beta, last, pf0, pfs, st); break; \
    default: bcast_tile(8, nv, kc, a, sai, sap, b, ldb, c, ldc, beta, last, pf0, pfs, st); break; \
    }

TARGET void cnnc__f32_gemm_bcast_8x48__avx512(int64_t rows, int64_t cols, int64_t kc,
                                              const float *a, int64_t sai, int64_t sap,
                                              const float *b, int64_t ldb, float *c,
                                              int64_t ldc, float beta, unsigned flags) {
    const int nv = (int)((cols + 15) / 16);
    const __mmask16 last = (__mmask16)(0xFFFFu >> (16 * nv - cols));
    const bool st = flags & CNNC__SMALL_STREAM;
    int64_t pf0;
    const int64_t pfs = cnnc__small_prefetch_rows(flags, &pf0);
    if (nv == 3) {
        BCAST_ROWS(3)
    } else if (nv == 2) {
        BCAST_ROWS(2)
    } else {
        BCAST_ROWS(1)
    }
}

/* ---- dot ------------------------------------------------------------------------- */

/* acc[i][j] += A row i . B row j over the 16 floats at p (under mask mk). */
INLINE void dot_step(const int rows, const int cols, const float *a, int64_t lda, const float *b,
                     const float *next, int64_t ldb, int64_t p, __mmask16 mk, __m512 acc[DR][DC]) {
    __m512 bv[DC];
#pragma GCC unroll 3
    for (int j = 0; j < DC; j++) /* the next tile's rows, into L2 */
        _mm_prefetch((const char *)(next + j * ldb + p), _MM_HINT_T1);
#pragma GCC unroll 3
    for (int j = 0; j < cols; j++) bv[j] = _mm512_maskz_loadu_ps(mk, b + j * ldb + p);
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++) {
        __m512 av = _mm512_maskz_loadu_ps(mk, a + i * lda + p);
        /* in a register: loaded once for its 3 FMAs, not once per FMA (as a memory
         * operand, 27 loads a step would bound the loop before the FMAs do) */
        __asm__("" : "+v"(av));
#pragma GCC unroll 3
        for (int j = 0; j < cols; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
}

INLINE void dot_tile(const int rows, const int cols, int64_t kc, const float *restrict a,
                     int64_t lda, const float *restrict b, const float *next, int64_t ldb,
                     float *restrict c, int64_t ldc, float beta) {
    __m512 acc[DR][DC];
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 3
        for (int j = 0; j < cols; j++) acc[i][j] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 16 <= kc; p += 16) dot_step(rows, cols, a, lda, b, next, ldb, p, 0xFFFF, acc);
    if (p < kc)
        dot_step(rows, cols, a, lda, b, next, ldb, p, (__mmask16)(0xFFFFu >> (16 - (kc - p))), acc);
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 3
        for (int j = 0; j < cols; j++) {
            const float s = _mm512_reduce_add_ps(acc[i][j]);
            float *cij = c + i * ldc + j;
            *cij = beta == 0.0f ? s : beta == 1.0f ? *cij + s : beta * *cij + s;
        }
}

#define DOT_ROWS(cols)                                                   \
    switch (rows) {                                                      \
    case 1: dot_tile(1, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    case 2: dot_tile(2, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    case 3: dot_tile(3, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    case 4: dot_tile(4, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    case 5: dot_tile(5, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    case 6: dot_tile(6, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    case 7: dot_tile(7, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break;  \
    default: dot_tile(8, cols, kc, a, lda, b, next, ldb, c, ldc, beta); break; \
    }

TARGET void cnnc__f32_gemm_dot_8x3__avx512(int64_t rows, int64_t cols, int64_t kc, const float *a,
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

TARGET void cnnc__f32_gemm_small_fence__avx512(void) { _mm_sfence(); }

#else
typedef int cnnc__gemm_small_avx512_unused; /* ISO C wants a declaration in every file */
#endif
