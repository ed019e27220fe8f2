/* AVX2 + FMA GEMM micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators.
 *
 * Per k step: two 8-float loads of the packed B row, then for each of the 6 rows a
 * broadcast of A(i,p) and two FMAs: 12 accumulators + 2 B vectors + 1 broadcast use
 * 15 of the 16 ymm registers. Edge tiles use the same arithmetic (fewer rows,
 * masked columns), so a C element's bits never depend on where its tile falls.
 * Also the packing routines for this tile (8 x 8 register transposes).
 * Only this file's functions use AVX2/FMA (function target attributes), so the
 * library still builds and runs on any x86-64. */
#include "kernels/gemm.h"

#if CNNC__ISA_X86
#include <immintrin.h>

#include "kernels/lanes_avx2.h"
#include "kernels/transpose8_avx2.h"

#define MR 6
#define NR 16
#define TARGET __attribute__((target("avx2,fma")))

/* Loads of the last vector of a row, restricted to the columns inside C (its stores:
 * cnnc__store_n_avx2). */
static inline __attribute__((always_inline)) TARGET __m256
load_last(const float *p, __m256i mask, bool full) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}

/* The store's epilogue (EP, a compile-time constant: the plain kernel's store has
 * none): v + bias (-0 without one: x + -0 is x, bit for bit, -0 and NaN included),
 * then clamped as hardtanh: max(lo, v) is v < lo ? lo : v and min(hi, v) is
 * v > hi ? hi : v, NaN staying NaN (maxps/minps return their second operand when
 * either is NaN). */
typedef struct tile_ep {
    const float *bias; /* the tile's rows, or NULL */
    float lo, hi;
} tile_ep;

static inline __attribute__((always_inline)) TARGET __m256
ep_apply(__m256 v, __m256 bias, __m256 lo, __m256 hi) {
    return _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(v, bias)));
}

/* The tile with `rows` rows and `nv` 8-float vectors per row (compile-time constants
 * at each call site, so acc[][] lives in registers). The arithmetic for one C
 * element does not depend on rows, nv or full. The last vector of each row has
 * `rem` columns inside C (all 8 when `full`); its mask is made after the k loop,
 * where it does not take a register from the accumulators. EP: the values go through
 * ep_apply before they are stored. */
static inline __attribute__((always_inline)) TARGET void
tile(const int rows, const int nv, int64_t kc, const float *restrict a,
     const float *restrict b, float *restrict c, int64_t ldc, float beta, int rem,
     bool full, const int pf, const bool EP, const tile_ep ep) {
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++) {
        /* The C rows are stored after the k loop: start bringing them in now
         * (their first and last columns). */
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 8 * (nv - 1) + rem - 1), _MM_HINT_T0);
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            acc[i][v] = _mm256_setzero_ps();
    }
#pragma GCC unroll 2
    for (int64_t p = 0; p < kc; p++) {
        if (pf) _mm_prefetch((const char *)(a + pf * MR), _MM_HINT_T0);
        const __m256 b0 = _mm256_load_ps(b);
        const __m256 b1 = nv > 1 ? _mm256_load_ps(b + 8) : b0;
#pragma GCC unroll 6
        for (int i = 0; i < rows; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            if (nv > 1)
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += MR;
        b += NR;
    }
    const __m256 vbeta = _mm256_set1_ps(beta);
    const __m256i mask = cnnc__lanes_avx2(rem);
    const __m256 lo = _mm256_set1_ps(ep.lo), hi = _mm256_set1_ps(ep.hi);
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
        float *cl = ci + 8 * (nv - 1);
        __m256 r0 = acc[i][0], rl = acc[i][nv - 1];
        if (beta == 0.0f) {
            /* C is write-only. */
        } else if (beta == 1.0f) {
            if (nv > 1)
                r0 = _mm256_add_ps(_mm256_loadu_ps(ci), r0);
            rl = _mm256_add_ps(load_last(cl, mask, full), rl);
        } else {
            if (nv > 1)
                r0 = _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(ci), r0);
            rl = _mm256_fmadd_ps(vbeta, load_last(cl, mask, full), rl);
        }
        if (EP) {
            const __m256 bias = _mm256_set1_ps(ep.bias ? ep.bias[i] : -0.0f);
            r0 = ep_apply(r0, bias, lo, hi);
            rl = ep_apply(rl, bias, lo, hi);
        }
        if (nv > 1)
            _mm256_storeu_ps(ci, r0);
        cnnc__store_n_avx2(cl, rl, full ? 8 : rem);
    }
}

#define ROWS_CASES(nv, full, pf, EP)                                                     \
    switch (mr) {                                                                          \
    case 1: tile(1, nv, kc, a, b, c, ldc, beta, rem, full, pf, EP, ep); break;             \
    case 2: tile(2, nv, kc, a, b, c, ldc, beta, rem, full, pf, EP, ep); break;             \
    case 3: tile(3, nv, kc, a, b, c, ldc, beta, rem, full, pf, EP, ep); break;             \
    case 4: tile(4, nv, kc, a, b, c, ldc, beta, rem, full, pf, EP, ep); break;             \
    case 5: tile(5, nv, kc, a, b, c, ldc, beta, rem, full, pf, EP, ep); break;             \
    default: tile(6, nv, kc, a, b, c, ldc, beta, rem, full, pf, EP, ep); break;            \
    }

/* Columns of the last vector inside C: nr in 1..8 -> one vector, 9..16 -> two. */
#define NV_CASES(pf, EP)                           \
    const int rem = (int)(nr - (nr > 8 ? 8 : 0)); \
    if (nr == 16) {                                \
        ROWS_CASES(2, true, pf, EP)                \
    } else if (nr > 8) {                           \
        ROWS_CASES(2, false, pf, EP)               \
    } else if (nr == 8) {                          \
        ROWS_CASES(1, true, pf, EP)                \
    } else {                                       \
        ROWS_CASES(1, false, pf, EP)               \
    }

TARGET void cnnc__f32_gemm_6x16__avx2(int64_t mr, int64_t nr, int64_t kc,
                                       const float *a, const float *b,
                                       float *c, int64_t ldc, float beta) {
    const tile_ep ep = {NULL, 0.0f, 0.0f};
    NV_CASES(0, false)
}

/* Prefetching A 128 k steps (3 KB) ahead, as the AVX-512 streaming kernel. */
TARGET void cnnc__f32_gemm_6x16_stream__avx2(int64_t mr, int64_t nr, int64_t kc,
                                              const float *a, const float *b,
                                              float *c, int64_t ldc, float beta) {
    const tile_ep ep = {NULL, 0.0f, 0.0f};
    NV_CASES(128, false)
}

/* The two with the epilogue in the store (cnnc__sgemm_ukernel_ep). */
TARGET void cnnc__f32_gemm_6x16_ep__avx2(int64_t mr, int64_t nr, int64_t kc, const float *a,
                                          const float *b, float *c, int64_t ldc, float beta,
                                          const float *bias, float lo, float hi) {
    const tile_ep ep = {bias, lo, hi};
    NV_CASES(0, true)
}

TARGET void cnnc__f32_gemm_6x16_ep_stream__avx2(int64_t mr, int64_t nr, int64_t kc,
                                                 const float *a, const float *b, float *c,
                                                 int64_t ldc, float beta, const float *bias,
                                                 float lo, float hi) {
    const tile_ep ep = {bias, lo, hi};
    NV_CASES(128, true)
}

/* ---- Packing ------------------------------------------------------------- */

/* Loads `rows` (<= 8) rows of `cnt` (<= 8) floats at src + i*ld, zeros elsewhere,
 * transposes them and stores the first `width` floats of column q (q < cnt) to
 * dst + q*dst_ld. */
static inline __attribute__((always_inline)) TARGET void
transpose_block(int64_t rows, int64_t cnt, const float *src, int64_t ld, float *dst,
                int64_t dst_ld, int64_t width) {
    __m256 r[8];
    if (cnt == 8) {
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            r[i] = i < rows ? _mm256_loadu_ps(src + i * ld) : _mm256_setzero_ps();
    } else {
        const __m256i load = cnnc__lanes_avx2(cnt);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            r[i] = i < rows ? _mm256_maskload_ps(src + i * ld, load) : _mm256_setzero_ps();
    }
    cnnc__transpose8_avx2(r);
    for (int q = 0; q < cnt; q++)
        cnnc__store_n_avx2(dst + q * dst_ld, r[q], width);
}

/* Packs like pack_a in gemm.c for MR = 6: panel r holds, for each p, the 6 floats
 * A(r*6 + i, p), rows past mc zero. a points at A(ic, pc). */
TARGET void cnnc__f32_gemm_pack_a6__avx2(bool trans, int64_t mc, int64_t kc,
                                          const float *a, int64_t lda, float *dst) {
    if (trans) {
        /* A is stored k x m: go along each storage row across all the panels. */
        const int64_t full = mc / MR * MR;
        const __m256i panel = cnnc__lanes_avx2(MR);
        const __m256i last = cnnc__lanes_avx2(mc - full);
        for (int64_t p = 0; p < kc; p++) {
            const float *src = a + p * lda;
            float *d = dst + p * MR;
            for (int64_t ir = 0; ir < full; ir += MR, d += MR * kc)
                cnnc__store_n_avx2(d, _mm256_maskload_ps(src + ir, panel), MR);
            if (full < mc)
                cnnc__store_n_avx2(d, _mm256_maskload_ps(src + full, last), MR);
        }
        return;
    }
    /* Rows of A are contiguous: transpose 6 x 8 blocks. */
    for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
        const int64_t rows = mc - ir < MR ? mc - ir : MR;
        for (int64_t p = 0; p < kc; p += 8)
            transpose_block(rows, kc - p < 8 ? kc - p : 8, a + ir * lda + p, lda,
                            dst + p * MR, MR, MR);
    }
}

/* Rows of B packed per group: a group goes across all the panels, each panel getting
 * its rows as one contiguous run. One row at a time across the panels (a 64-byte
 * store every NR kc floats) took 14-17% of 64x1024x256 and 64x3136x576 (packing B
 * 2 to 2.5 times slower than a memcpy of it); groups of 8 rows measured best (4: half
 * the gain, 16 and 32 slower on 64x1024x256). */
enum { PACK_B_ROWS = 8 };

/* Packs like pack_b in gemm.c for NR = 16: panel s holds, for each p, the 16 floats
 * B(p, s*16 + j), columns past nc zero. b points at B(pc, jc); dst is 32-byte aligned. */
TARGET void cnnc__f32_gemm_pack_b16__avx2(bool trans, int64_t kc, int64_t nc,
                                           const float *b, int64_t ldb, float *dst) {
    if (!trans) {
        const int64_t full = nc / NR * NR, cols = nc - full;
        const __m256i m0 = cnnc__lanes_avx2(cols), m1 = cnnc__lanes_avx2(cols - 8);
        for (int64_t p0 = 0; p0 < kc; p0 += PACK_B_ROWS) {
            const int64_t p1 = kc - p0 < PACK_B_ROWS ? kc : p0 + PACK_B_ROWS;
            for (int64_t jr = 0; jr < full; jr += NR)
                for (int64_t p = p0; p < p1; p++) {
                    const float *src = b + p * ldb + jr;
                    float *d = dst + jr * kc + p * NR;
                    _mm256_store_ps(d, _mm256_loadu_ps(src));
                    _mm256_store_ps(d + 8, _mm256_loadu_ps(src + 8));
                }
            for (int64_t p = p0; p < p1 && cols; p++) {
                const float *src = b + p * ldb + full;
                float *d = dst + full * kc + p * NR;
                _mm256_store_ps(d, _mm256_maskload_ps(src, m0));
                _mm256_store_ps(d + 8, _mm256_maskload_ps(src + 8, m1));
            }
        }
        return;
    }
    /* B is stored n x k: transpose 8 x 8 blocks into each half of each panel. */
    for (int64_t jr = 0; jr < nc; jr += NR, dst += NR * kc) {
        const int64_t cols = nc - jr < NR ? nc - jr : NR;
        for (int64_t h = 0; h < NR; h += 8) {
            const int64_t hc = cols - h;
            for (int64_t p = 0; p < kc; p += 8) {
                if (hc <= 0) {
                    for (int64_t q = p; q < kc && q < p + 8; q++)
                        _mm256_store_ps(dst + q * NR + h, _mm256_setzero_ps());
                    continue;
                }
                transpose_block(hc < 8 ? hc : 8, kc - p < 8 ? kc - p : 8,
                                b + (jr + h) * ldb + p, ldb, dst + p * NR + h, NR, 8);
            }
        }
    }
}

#else
typedef int cnnc__gemm_avx2_unused; /* ISO C wants a declaration in every file */
#endif
