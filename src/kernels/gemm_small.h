/* Internal: GEMM for products with a few rows of C or a short k, reading both
 * operands in place (no packed copies), same semantics as cnnc__sgemm_st (gemm.h).
 *
 * In such products one operand is large and each of its elements is used a few
 * times only (Linear at batch 8: W [4096, 25088] against 8 rows), so packing it
 * costs as much as the product: these paths stream it once instead.
 *   bcast (B not transposed; m <= CNNC__SGEMM_BCAST_M or k <= CNNC__SGEMM_SMALL_K, or at
 *         AVX-512 m <= CNNC__SGEMM_BCAST_WIDE_M with n >= CNNC__SGEMM_BCAST_WIDE_N):
 *         register tiles of C fed by broadcasts of A and rows of B read in place, with
 *         the packed kernel's arithmetic and k blocks: the same bits as the packed GEMM.
 *         With beta == 0, one k block and a C over CNNC__SGEMM_STREAM_FLOATS floats, C
 *         is written with non-temporal stores (no read of C's lines before the write)
 *         at AVX-512; AVX2 stores plainly (gemm_small.c).
 *   dot   (A not transposed, B transposed, m <= CNNC__SGEMM_SMALL_M): C(i,j) = row i of
 *         A . row j of B, as lane-wise partial sums along k (p in increasing order per
 *         lane), reduced in a fixed order at the end of each k block; k blocks depend on
 *         k alone (CNNC__SGEMM_DOT_KC) and are added to C in order, the first applying
 *         beta. Its bits differ from the packed GEMM's (not its accuracy).
 * The dot path depends on (level, trans_a, trans_b, m) only and bcast gives the packed
 * GEMM's bits; every C element's bits are independent of where its tile falls, so
 * splitting the columns of C over threads never changes a result. AVX2 and AVX-512 only (the scalar level always
 * packs). */
#ifndef CNNC_KERNELS_GEMM_SMALL_H
#define CNNC_KERNELS_GEMM_SMALL_H
#include <stdbool.h>
#include <stdint.h>

#include "kernels/isa.h"

#define CNNC__SGEMM_SMALL_M 16
/* Up to 32 rows the bcast tiles beat packing B (measured, 1 thread, 1x1 convolutions
 * at batch 8, MobileNetV2's projections: 96 -> 24 at 56x56 1.16 -> 0.55 ms, 144 -> 24
 * 1.89 -> 0.97, 192 -> 32 at 28x28 0.62 -> 0.39); up to 256 rows where B has 128
 * columns or more at AVX-512, the row groups then inside the column tiles (each 48-column
 * tile of B read from memory once for all the rows, its successor's prefetches spread
 * over the groups: gemm_small.c). Zen 5, 1 thread, batch 8, F.conv2d 1x1, ms, packed ->
 * bcast: 512 -> 64 at 28x28 2.93 -> 2.39, 1024 -> 48 at 14x14 1.0 -> 0.84, 512 -> 128 at
 * 28x28 4.85 -> 4.2, 256 -> 128 at 56x56 9.6 -> 7.8-8.1, 96 -> 192 at 56x56 5.2 -> 4.6,
 * 512 -> 256 at 28x28 8.6-8.8 -> 8.1; at 512 rows even or worse (512 -> 512 at 14x14
 * 4.3 -> 4.5), at 7x7 maps (49 columns) even. The wide rule is AVX-512's: at AVX2 (Zen
 * 3) the 4 x 24 tiles lost to the packed 6 x 16 GEMM there (m 64, 3136 columns: k 256 68
 * vs 86 GFLOP/s, k 576 67 vs 84; 12544 columns, k 64: 60-67 vs 77-84), so AVX2 keeps
 * them to 32 rows (1 thread, batch 8, 1x1 convolutions:
 * 256 -> 64 at 56x56 14.2-20.8 -> 10.6-14.6 ms; 64 -> 64 at 112x112, batch 2, 3.4-4.4
 * -> 2.6-3.7; 64 -> 64 and 96 -> 64 at 56x56 unchanged within the noise). */
#define CNNC__SGEMM_BCAST_M 32
#define CNNC__SGEMM_BCAST_WIDE_M 256
#define CNNC__SGEMM_BCAST_WIDE_N 128
#define CNNC__SGEMM_SMALL_K 16
#define CNNC__SGEMM_DOT_KC 1024
#define CNNC__SGEMM_STREAM_FLOATS ((int64_t)1 << 23)

/* Does cnnc__sgemm_small take this product (m, n, k > 0)? */
bool cnnc__sgemm_small_fits(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n,
                            int64_t k);

/* Columns of C per unit when splitting a product cnnc__sgemm_small takes over threads
 * (whole register tiles; any split gives the same bits). */
int64_t cnnc__sgemm_small_unit(cnnc__isa isa, bool trans_b);

/* C (m x n) = beta*C + op(A) op(B) as cnnc__sgemm_st, for a product that
 * cnnc__sgemm_small_fits. Never allocates. */
void cnnc__sgemm_small(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc);

/* ---- The tiles (one pair per SIMD level) ---------------------------------------- */

enum { CNNC__SMALL_PREFETCH = 1, CNNC__SMALL_STREAM = 2, CNNC__SMALL_SPREAD_SHIFT = 8 };
/* The flags of a prefetch spread over `period` tiles (at most 255 each), this one `phase`. */
#define CNNC__SMALL_SPREAD(period, phase)             \
    ((unsigned)(period) << CNNC__SMALL_SPREAD_SHIFT | \
     (unsigned)(phase) << (CNNC__SMALL_SPREAD_SHIFT + 8))

/* The B rows a bcast tile prefetches the next tile's columns of, from its flags: p =
 * *pf0, *pf0 + step, ... (step 0: none). */
static inline int64_t cnnc__small_prefetch_rows(unsigned flags, int64_t *pf0) {
    const unsigned period = flags >> CNNC__SMALL_SPREAD_SHIFT & 255;
    *pf0 = flags >> (CNNC__SMALL_SPREAD_SHIFT + 8) & 255;
    return !(flags & CNNC__SMALL_PREFETCH) ? 0 : period ? period : 1;
}

/* bcast: C tile (rows x cols, rows <= R, cols <= W of the kernel's name RxW)
 *     = beta*C + sum_{p<kc} A(i,p) B(p,j),  A(i,p) = a[i*sai + p*sap], B(p,j) = b[p*ldb + j]
 * summed from zero with one FMA per p in increasing order, then beta == 0 stores,
 * beta == 1 adds C, else beta*C + sum. flags: CNNC__SMALL_PREFETCH fetches the next W
 * columns of each B row ahead, or with CNNC__SMALL_SPREAD(period, phase) (period > 1)
 * of the rows p = phase, phase + period, ... only (the tiles of the row groups over
 * one column tile share the prefetches of the next); CNNC__SMALL_STREAM
 * (AVX-512 tiles only; cols == W, beta == 0, the C rows vector-aligned) stores with
 * non-temporal stores (the caller then fences). */
typedef void (*cnnc__sgemm_bcast_fn)(int64_t rows, int64_t cols, int64_t kc, const float *a,
                                     int64_t sai, int64_t sap, const float *b, int64_t ldb,
                                     float *c, int64_t ldc, float beta, unsigned flags);
/* dot: C tile (rows x cols, rows <= R, cols <= 3) = beta*C + sum_{p<kc} a[i*lda + p] *
 * b[j*ldb + p], as lane sums reduced in a fixed order; beta as above. next: the B rows
 * (ldb apart) the next call reads, prefetched into L2 along with b's. */
typedef void (*cnnc__sgemm_dot_fn)(int64_t rows, int64_t cols, int64_t kc, const float *a,
                                   int64_t lda, const float *b, const float *next, int64_t ldb,
                                   float *c, int64_t ldc, float beta);

#if CNNC__ISA_X86
void cnnc__f32_gemm_bcast_8x48__avx512(int64_t rows, int64_t cols, int64_t kc, const float *a,
                                       int64_t sai, int64_t sap, const float *b, int64_t ldb,
                                       float *c, int64_t ldc, float beta, unsigned flags);
void cnnc__f32_gemm_dot_8x3__avx512(int64_t rows, int64_t cols, int64_t kc, const float *a,
                                    int64_t lda, const float *b, const float *next, int64_t ldb,
                                    float *c, int64_t ldc, float beta);
void cnnc__f32_gemm_small_fence__avx512(void);
void cnnc__f32_gemm_bcast_4x24__avx2(int64_t rows, int64_t cols, int64_t kc, const float *a,
                                     int64_t sai, int64_t sap, const float *b, int64_t ldb,
                                     float *c, int64_t ldc, float beta, unsigned flags);
void cnnc__f32_gemm_dot_4x3__avx2(int64_t rows, int64_t cols, int64_t kc, const float *a,
                                  int64_t lda, const float *b, const float *next, int64_t ldb,
                                  float *c, int64_t ldc, float beta);
#endif

#endif
