/* AVX-512F GEMM micro-kernel: a 14 x 32 tile of C in 28 zmm accumulators.
 *
 * Per k step: two 16-float loads of the packed B row, then for each of the 14 rows a
 * broadcast of A(i,p) and two FMAs. 28 independent FMA chains cover the FMA latency
 * (4 cycles) times two FMA ports with room to spare; 30 of the 32 zmm registers hold
 * accumulators and the B row. Edge tiles use the same arithmetic (fewer rows,
 * masked columns), so a C element's bits never depend on where its tile falls.
 * Also the packing routines for this tile (16 x 16 register transposes).
 * Only this file's functions use AVX-512 (function target attributes), so the
 * library still builds and runs on any x86-64. */
#include "kernels/gemm.h"

#if CNNC__ISA_X86
#include <immintrin.h>

#include "kernels/transpose16_avx512.h"

#define MR 14
#define NR 32
#define TARGET __attribute__((target("avx512f")))

/* The tile with `rows` rows and `nv` 16-float vectors per row (both compile-time
 * constants at each call site, so the loops unroll and acc[][] lives in registers).
 * The arithmetic for one C element does not depend on rows, nv or pf. The last vector
 * of each row has `rem` (1..16) columns inside C. pf > 0 (the streaming kernel):
 * prefetch A pf k steps ahead, for panels that come from memory. */
static inline __attribute__((always_inline)) TARGET void
tile(const int rows, const int nv, int64_t kc, const float *restrict a,
     const float *restrict b, float *restrict c, int64_t ldc, float beta, int rem,
     const int pf) {
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int i = 0; i < rows; i++) {
        /* The C rows are stored after the k loop: start bringing them in now
         * (their first and last columns). */
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16 * (nv - 1) + rem - 1), _MM_HINT_T0);
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            acc[i][v] = _mm512_setzero_ps();
    }
#pragma GCC unroll 2
    for (int64_t p = 0; p < kc; p++) {
        if (pf) _mm_prefetch((const char *)(a + pf * MR), _MM_HINT_T0);
        const __m512 b0 = _mm512_load_ps(b);
        const __m512 b1 = nv > 1 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 14
        for (int i = 0; i < rows; i++) {
            const __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            if (nv > 1)
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += MR;
        b += NR;
    }
    const __mmask16 last = (__mmask16)(0xFFFFu >> (16 - rem));
    if (beta == 0.0f) {
#pragma GCC unroll 14
        for (int i = 0; i < rows; i++) {
            float *ci = c + i * ldc;
            if (nv > 1)
                _mm512_storeu_ps(ci, acc[i][0]);
            _mm512_mask_storeu_ps(ci + 16 * (nv - 1), last, acc[i][nv - 1]);
        }
    } else if (beta == 1.0f) {
#pragma GCC unroll 14
        for (int i = 0; i < rows; i++) {
            float *ci = c + i * ldc;
            if (nv > 1)
                _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), acc[i][0]));
            float *cl = ci + 16 * (nv - 1);
            _mm512_mask_storeu_ps(cl, last,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(last, cl), acc[i][nv - 1]));
        }
    } else {
        const __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 14
        for (int i = 0; i < rows; i++) {
            float *ci = c + i * ldc;
            if (nv > 1)
                _mm512_storeu_ps(ci, _mm512_fmadd_ps(vbeta, _mm512_loadu_ps(ci), acc[i][0]));
            float *cl = ci + 16 * (nv - 1);
            _mm512_mask_storeu_ps(cl, last,
                                  _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(last, cl),
                                                  acc[i][nv - 1]));
        }
    }
}

#define ROWS_CASES(nv, pf)                                                       \
    switch (mr) {                                                              \
    case 1: tile(1, nv, kc, a, b, c, ldc, beta, rem, pf); break;                   \
    case 2: tile(2, nv, kc, a, b, c, ldc, beta, rem, pf); break;                   \
    case 3: tile(3, nv, kc, a, b, c, ldc, beta, rem, pf); break;                   \
    case 4: tile(4, nv, kc, a, b, c, ldc, beta, rem, pf); break;                   \
    case 5: tile(5, nv, kc, a, b, c, ldc, beta, rem, pf); break;                   \
    case 6: tile(6, nv, kc, a, b, c, ldc, beta, rem, pf); break;                   \
    case 7: tile(7, nv, kc, a, b, c, ldc, beta, rem, pf); break;                   \
    case 8: tile(8, nv, kc, a, b, c, ldc, beta, rem, pf); break;                   \
    case 9: tile(9, nv, kc, a, b, c, ldc, beta, rem, pf); break;                   \
    case 10: tile(10, nv, kc, a, b, c, ldc, beta, rem, pf); break;                 \
    case 11: tile(11, nv, kc, a, b, c, ldc, beta, rem, pf); break;                 \
    case 12: tile(12, nv, kc, a, b, c, ldc, beta, rem, pf); break;                 \
    case 13: tile(13, nv, kc, a, b, c, ldc, beta, rem, pf); break;                 \
    default: tile(14, nv, kc, a, b, c, ldc, beta, rem, pf); break;                 \
    }

/* Columns of the last vector inside C: nr in 1..16 -> one vector, 17..32 -> two. */
#define NV_CASES(pf)                                 \
    const int rem = (int)(nr - (nr > 16 ? 16 : 0)); \
    if (nr > 16) {                                   \
        ROWS_CASES(2, pf)                            \
    } else {                                         \
        ROWS_CASES(1, pf)                            \
    }

TARGET void cnnc__f32_gemm_14x32__avx512(int64_t mr, int64_t nr, int64_t kc,
                                          const float *a, const float *b,
                                          float *c, int64_t ldc, float beta) {
    NV_CASES(0)
}

/* 64 k steps (3.5 KB of A) ahead: measured on Zen 5 against 16 and 32 */
TARGET void cnnc__f32_gemm_14x32_stream__avx512(int64_t mr, int64_t nr, int64_t kc,
                                                 const float *a, const float *b,
                                                 float *c, int64_t ldc, float beta) {
    NV_CASES(64)
}

/* ---- Packing ------------------------------------------------------------- */


/* Loads `rows` (<= 16) rows of `cnt` (<= 16) floats at src + i*ld, zeros elsewhere,
 * transposes them and stores column q (q < cnt) to dst + q*dst_ld under `store`: the
 * low dst_ld lanes (MR: the A panels) or all 16. Whole rows load plain and columns
 * store whole where they can (on Zen 5 a masked load or store of a line in no cache
 * ran at half speed, the prefetchers passing it over): with MR lanes, column q's
 * 16-float store spills into column q + 1's floats, which its own store then
 * overwrites, so only the last column's is masked. */
static inline __attribute__((always_inline)) TARGET void
transpose_block(int64_t rows, int64_t cnt, const float *src, int64_t ld, float *dst,
                int64_t dst_ld, __mmask16 store) {
    const __mmask16 load = (__mmask16)(0xFFFFu >> (16 - cnt));
    __m512 r[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = i >= rows   ? _mm512_setzero_ps()
               : cnt == 16 ? _mm512_loadu_ps(src + i * ld)
                           : _mm512_maskz_loadu_ps(load, src + i * ld);
    cnnc__transpose16_avx512(r);
    const int64_t whole = store == 0xFFFF ? cnt : cnt - 1; /* columns stored whole */
    if (cnt == 16) {
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++)
            if (q < whole)
                _mm512_storeu_ps(dst + q * dst_ld, r[q]);
            else
                _mm512_mask_storeu_ps(dst + q * dst_ld, store, r[q]);
    } else {
        for (int q = 0; q < cnt; q++)
            if (q < whole)
                _mm512_storeu_ps(dst + q * dst_ld, r[q]);
            else
                _mm512_mask_storeu_ps(dst + q * dst_ld, store, r[q]);
    }
}

/* Prefetches the line at src of each of `rows` rows ld apart. */
static inline __attribute__((always_inline)) void prefetch_rows(const float *src, int64_t ld,
                                                                int64_t rows) {
#pragma GCC unroll 16
    for (int64_t i = 0; i < 16; i++)
        if (i < rows) _mm_prefetch((const char *)(src + i * ld), _MM_HINT_T0);
}

/* Packs like pack_a in gemm.c for MR = 14: panel r holds, for each p, the 14 floats
 * A(r*14 + i, p), rows past mc zero. a points at A(ic, pc). */
TARGET void cnnc__f32_gemm_pack_a14__avx512(bool trans, int64_t mc, int64_t kc,
                                             const float *a, int64_t lda, float *dst) {
    const __mmask16 panel = (__mmask16)((1u << MR) - 1);
    if (trans) {
        /* A is stored k x m: row p of the storage holds A(., p). Go along it across
         * all the panels, so each row (often a page of its own) is visited once. */
        const int64_t full = mc / MR * MR;
        const __mmask16 last = (__mmask16)((1u << (mc - full)) - 1);
        for (int64_t p = 0; p < kc; p++) {
            const float *src = a + p * lda;
            float *d = dst + p * MR;
            for (int64_t ir = 0; ir < full; ir += MR, d += MR * kc)
                _mm512_mask_storeu_ps(d, panel, _mm512_maskz_loadu_ps(panel, src + ir));
            if (last)
                _mm512_mask_storeu_ps(d, panel, _mm512_maskz_loadu_ps(last, src + full));
        }
        return;
    }
    /* Rows of A are contiguous: transpose 14 x 16 blocks, the next panel's line at p
     * prefetched meanwhile (short runs of many rows, which the hardware prefetchers
     * barely follow: an input's rows in a 1x1 convolution's weight gradient). */
    for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
        const int64_t rows = mc - ir < MR ? mc - ir : MR;
        const int64_t ahead = mc - ir - rows < MR ? mc - ir - rows : MR;
        for (int64_t p = 0; p < kc; p += 16) {
            prefetch_rows(a + (ir + MR) * lda + p, lda, ahead);
            transpose_block(rows, kc - p < 16 ? kc - p : 16, a + ir * lda + p, lda,
                            dst + p * MR, MR, panel);
        }
    }
}

/* Packs like pack_b in gemm.c for NR = 32: panel s holds, for each p, the 32 floats
 * B(p, s*32 + j), columns past nc zero. b points at B(pc, jc); dst is 64-byte aligned. */
TARGET void cnnc__f32_gemm_pack_b32__avx512(bool trans, int64_t kc, int64_t nc,
                                             const float *b, int64_t ldb, float *dst) {
    if (!trans) {
        /* Row by row across all the panels: each row of B is read once, in order,
         * which the TLB and the hardware prefetchers like far better than going down
         * the rows (a page each) once per panel. */
        const int64_t full = nc / NR * NR, cols = nc - full;
        const __mmask16 m0 = (__mmask16)(0xFFFFu >> (16 - (cols > 16 ? 16 : cols)));
        const __mmask16 m1 = (__mmask16)(0xFFFFu >> (16 - (cols > 16 ? cols - 16 : 0)));
        for (int64_t p = 0; p < kc; p++) {
            const float *src = b + p * ldb;
            float *d = dst + p * NR;
            for (int64_t jr = 0; jr < full; jr += NR, d += NR * kc) {
                _mm512_store_ps(d, _mm512_loadu_ps(src + jr));
                _mm512_store_ps(d + 16, _mm512_loadu_ps(src + jr + 16));
            }
            if (cols) {
                /* The last panel, zero-padded. */
                _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, src + full));
                _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, src + full + 16));
            }
        }
        return;
    }
    /* B is stored n x k: transpose 16 x 16 blocks into each half of each panel (the
     * next 16 rows' line at p prefetched meanwhile, as in pack_a14). */
    for (int64_t jr = 0; jr < nc; jr += NR, dst += NR * kc) {
        const int64_t cols = nc - jr < NR ? nc - jr : NR;
        for (int64_t h = 0; h < NR; h += 16) {
            const int64_t hc = cols - h, next = nc - (jr + h + 16);
            for (int64_t p = 0; p < kc; p += 16) {
                if (hc <= 0) {
                    for (int64_t q = p; q < kc && q < p + 16; q++)
                        _mm512_store_ps(dst + q * NR + h, _mm512_setzero_ps());
                    continue;
                }
                prefetch_rows(b + (jr + h + 16) * ldb + p, ldb, next < 16 ? next : 16);
                transpose_block(hc < 16 ? hc : 16, kc - p < 16 ? kc - p : 16,
                                b + (jr + h) * ldb + p, ldb, dst + p * NR + h, NR, 0xFFFF);
            }
        }
    }
}

#else
typedef int cnnc__gemm_avx512_unused; /* ISO C wants a declaration in every file */
#endif
