/* Internal: single-precision GEMM, row-major everywhere.
 *
 *     C (m x n, leading dim ldc) = beta * C + op(A) (m x k) * op(B) (k x n)
 *
 *   trans_a false: A is stored m x k, A(i,p) = a[i*lda + p]
 *   trans_a true:  A is stored k x m, A(i,p) = a[p*lda + i]
 *   trans_b false: B is stored k x n, B(p,j) = b[p*ldb + j]
 *   trans_b true:  B is stored n x k, B(p,j) = b[j*ldb + p]
 *
 * beta == 0 writes C without reading it (NaN or garbage in C never leaks into the
 * result). k == 0 gives C = beta*C (C = 0 when beta == 0). m <= 0 or n <= 0 does
 * nothing.
 *
 * Every function takes an ISA level (kernels/isa.h; one this CPU supports) and runs
 * the micro-kernel CNNC__SGEMM_KERNELS lists for it, with that kernel's blocking: the
 * workspace sizes, tile and packed layouts obtained at one level only fit calls made
 * at the same level, so a caller reads the level once and passes it everywhere.
 *
 * Example (C = A B with A 3 x 4, B 4 x 5, all contiguous):
 *
 *     cnnc__isa isa = cnnc__isa_active();
 *     float *ws = aligned_alloc(64, cnnc__sgemm_workspace_floats(isa) * sizeof(float));
 *     cnnc__sgemm_st(isa, false, false, 3, 5, 4, a, 4, b, 5, 0.0f, c, 5, ws);
 *
 * The multithreaded entry point is cnnc__sgemm in core/gemm_mt.h.
 *
 * Determinism: every C element is summed over p = 0..k-1 in the same order (in KC
 * blocks fixed by k alone, each block accumulated from zero and then added to C),
 * whatever its position in a tile, so splitting the m or n range over threads never
 * changes a result bit. Results differ between levels (different kernels), never
 * between calls at one level. One exception, decided by the whole product: with A not
 * transposed, B transposed and m <= CNNC__SGEMM_SMALL_M (kernels/gemm_small.h) at the
 * AVX2 and AVX-512 levels, cnnc__sgemm_st sums each element as a dot product (lane-wise
 * partial sums, k blocks of their own, still fixed by k alone), so such a product's
 * bits differ from cnnc__sgemm_st_blocked's and cnnc__sgemm_st_packed's, and a row's
 * bits depend on whether the product has more than CNNC__SGEMM_SMALL_M rows. Every
 * other small product (gemm_small.h) keeps the packed GEMM's bits.
 */
#ifndef CNNC_KERNELS_GEMM_H
#define CNNC_KERNELS_GEMM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/isa.h"

/* Plain triple loop (double accumulation); the oracle for the fast paths. */
void cnnc__sgemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                     const float *a, int64_t lda, const float *b, int64_t ldb,
                     float beta, float *c, int64_t ldc);

/* Floats of workspace one thread needs for cnnc__sgemm_st (a multiple of 16). */
size_t cnnc__sgemm_workspace_floats(cnnc__isa isa);

/* Single-threaded GEMM. Never allocates: ws is 64-byte aligned and holds
 * cnnc__sgemm_workspace_floats(isa) floats (packed panels of A and B). Products with a
 * few rows or a short k (cnnc__sgemm_small_fits) read their operands in place
 * (kernels/gemm_small.h); the others run cnnc__sgemm_st_blocked. */
void cnnc__sgemm_st(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    const float *a, int64_t lda, const float *b, int64_t ldb,
                    float beta, float *c, int64_t ldc, float *ws);

/* The packed, cache-blocked GEMM alone, whatever the shape (the arguments of
 * cnnc__sgemm_st): for a part of a product (a range of rows or columns) whose path
 * the caller chose for the whole. */
void cnnc__sgemm_st_blocked(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n,
                            int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                            float beta, float *c, int64_t ldc, float *ws);

/* The length of the k blocks of the level's packed GEMM for a product of depth k. */
int64_t cnnc__sgemm_k_block(cnnc__isa isa, int64_t k);

/* ---- Pre-packed A, B packed by the caller (implicit-GEMM convolutions) ----------- */

/* Rows [pc, pc + kc) x columns [jc, jc + nc) of the virtual B (k x n), in the layout
 * of the level's pack B routine: nr-column panels (nr: the level's tile width), panel s
 * holding for each p the nr floats B(pc + p, jc + s*nr + j), columns past nc zero (or
 * any finite value: they reach no stored result). Returns where that block is: dst,
 * filled (64-byte aligned), or the callback's own copy already in that layout (a B
 * its producer wrote packed). scratch holds cnnc__sgemm_pack_scratch_floats(isa)
 * floats of the calling thread's own (64-byte aligned) for the callback's use. */
typedef const float *(*cnnc__sgemm_pack_b_fn)(void *ctx, int64_t pc, int64_t kc, int64_t jc,
                                              int64_t nc, int64_t nr, float *dst,
                                              float *scratch);

/* op(B) rows [0, kc) x columns [0, nc) (b points at B(pc, jc)) into the level's
 * NR-column panels, the layout a cnnc__sgemm_pack_b_fn fills (nr = NR): for a callback
 * whose virtual B is a plain matrix. dst is 64-byte aligned. */
void cnnc__sgemm_pack_b_panels(cnnc__isa isa, bool trans, int64_t kc, int64_t nc, const float *b,
                               int64_t ldb, float *dst);

/* A plain B (not transposed, leading dim ldb) as a cnnc__sgemm_pack_b_fn:
 * cnnc__sgemm_plain_pack_b with a cnnc__sgemm_plain_b as its ctx. */
typedef struct cnnc__sgemm_plain_b {
    cnnc__isa isa;
    const float *b;
    int64_t ldb;
} cnnc__sgemm_plain_b;
const float *cnnc__sgemm_plain_pack_b(void *ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                                      int64_t nr, float *dst, float *scratch);

/* Floats of scratch a cnnc__sgemm_pack_b_fn may use: the NC block rounded up. */
size_t cnnc__sgemm_pack_scratch_floats(cnnc__isa isa);

/* Floats cnnc__sgemm_pack_a_full writes for an m x k A (a multiple of 16). */
size_t cnnc__sgemm_packed_a_floats(cnnc__isa isa, int64_t m, int64_t k);

/* Offset of element (r, p) of an m x k A in the layout cnnc__sgemm_pack_a_full writes;
 * the rows of r's MR-row panel at depth p are contiguous there (rows past m: zeros),
 * so a caller can write a panel's column itself (r a multiple of MR). */
size_t cnnc__sgemm_packed_a_offset(cnnc__isa isa, int64_t m, int64_t k, int64_t r, int64_t p);
/* The depth of that layout's k blocks: the panel of rows r.. at depths [pc, pc + kc)
 * of a block (pc a multiple of it, kc = the rest of k when shorter) is kc groups of MR
 * floats from cnnc__sgemm_packed_a_offset(isa, m, k, r, pc) on. */
int64_t cnnc__sgemm_packed_a_kc(cnnc__isa isa, int64_t k);

/* Packs all of op(A) (m x k) once, for any number of cnnc__sgemm_st_packed calls
 * with the same level, m and k: the k blocks of the driver one after the other, each
 * in MR-row panels. dst is 64-byte aligned, cnnc__sgemm_packed_a_floats(isa, m, k)
 * floats. */
void cnnc__sgemm_pack_a_full(cnnc__isa isa, bool trans_a, int64_t m, int64_t k, const float *a,
                             int64_t lda, float *dst);

/* An epilogue fused into the micro-kernel's store of the last k block (a convolution's
 * bias and clamp activation, while the tile is in registers): each final C value v
 * (beta C plus every k block's sum, as without it) of row i becomes
 *     v = v + bias[i]                  (bias NULL: nothing added; -0 stays -0)
 *     v = v < lo ? lo : v, then v > hi ? hi : v    (hardtanh's formula: NaN stays NaN;
 *                                                   lo -inf, hi inf: no clamp)
 * the bits of the same arithmetic as a separate pass over C (cnnc__k_act_forward_bias
 * with ReLU or Hardtanh, kernels/activation.h). Only the levels whose kernel table
 * (CNNC__SGEMM_EP_KERNELS) lists a fused store take one: see cnnc__sgemm_fuses_epilogue. */
typedef struct cnnc__sgemm_epilogue {
    const float *bias; /* [m] of the whole product (m_all rows) or NULL */
    float lo, hi;
} cnnc__sgemm_epilogue;

/* Does the level's packed GEMM fuse a cnnc__sgemm_epilogue into its store? Where it
 * does not, callers pass none and run the epilogue as a pass of their own. */
bool cnnc__sgemm_fuses_epilogue(cnnc__isa isa);

/* C (m x n) = beta*C + A B, A pre-packed by cnnc__sgemm_pack_a_full(isa, m, k), B
 * packed block by block by pack_b(ctx, ...). Same blocking, kernels, determinism and
 * beta rules as cnnc__sgemm_st_blocked (bit-identical results for the same A and B). ws holds
 * cnnc__sgemm_workspace_floats(isa) floats, 64-byte aligned. ep: the epilogue fused into
 * the store (NULL: none; else only with k > 0, at a level where
 * cnnc__sgemm_fuses_epilogue). */
void cnnc__sgemm_st_packed(cnnc__isa isa, int64_t m, int64_t n, int64_t k,
                           const float *a_packed, cnnc__sgemm_pack_b_fn pack_b, void *ctx,
                           float beta, float *c, int64_t ldc, float *ws,
                           const cnnc__sgemm_epilogue *ep);
/* The same for rows [r0, r0 + m) of A (r0 a multiple of MR) packed whole, m_all rows:
 * C's rows r0 .. (c points at the first), each with the bits the whole product gives
 * it (rows split over threads); ep's bias indexed by the row of the whole product
 * (row r0 + i of it for c's row i). */
void cnnc__sgemm_st_packed_rows(cnnc__isa isa, int64_t m_all, int64_t r0, int64_t m, int64_t n,
                                int64_t k, const float *a_packed, cnnc__sgemm_pack_b_fn pack_b,
                                void *ctx, float beta, float *c, int64_t ldc, float *ws,
                                const cnnc__sgemm_epilogue *ep);

/* C (m x n) = beta*C + A B, A pre-packed by cnnc__sgemm_pack_a_full(isa, m, k), B
 * already packed whole by the caller in NR-column panels of all k rows: panel s
 * (columns s NR ..) at b + s b_pstride, its row p the NR floats at + p NR (columns past
 * n: any finite value; b and b_pstride 64-byte aligned at the SIMD levels). For a B
 * that several products read in row ranges (b pointing at a range's first row). Same
 * blocking, kernels, determinism and beta rules as cnnc__sgemm_st_packed (the same
 * bits for the same A and B); no workspace. ep: as cnnc__sgemm_st_packed's. */
void cnnc__sgemm_st_prepacked(cnnc__isa isa, int64_t m, int64_t n, int64_t k,
                              const float *a_packed, const float *b, int64_t b_pstride, float beta,
                              float *c, int64_t ldc, const cnnc__sgemm_epilogue *ep);

/* Name of the level's micro-kernel, e.g. "f32_gemm_14x32__avx512". */
const char *cnnc__sgemm_kernel_name(cnnc__isa isa);

/* Register tile (rows x columns of C per micro-kernel call) of the level's kernel.
 * Splitting C over threads at multiples of these avoids extra edge tiles. */
void cnnc__sgemm_tile(cnnc__isa isa, int64_t *mr, int64_t *nr);

/* ---- The variants ----------------------------------------------------------- */

/* X-list, fastest first: (level, kernel, stream kernel, pack A, pack B, MR, NR, KC, MC,
 * NC): the micro-kernel computing MR x NR tiles of C, the same with a software
 * prefetch of A ahead (for A panels read from memory, not from L2: the first pass
 * over a pre-packed A larger than L2), the routines packing A into MR-row and
 * B into NR-column panels for it, and its cache blocks (KC: a KC x NR panel of B
 * stays in L1; MC, a multiple of MR: the MC x KC packed A stays in L2; NC, a
 * multiple of NR: the KC x NC packed B). Blocks measured on a Xeon with 48 KB L1d
 * and 2 MB L2 per core. A level runs the first entry at or below it (CNNC__ISA_PICKER). */
#if CNNC__ISA_X86
#define CNNC__SGEMM_SIMD_KERNELS(X)                                                           \
    X(AVX512, f32_gemm_14x32__avx512, f32_gemm_14x32_stream__avx512,                        \
      f32_gemm_pack_a14__avx512, f32_gemm_pack_b32__avx512, 14, 32, 256, 280, 1024)         \
    X(AVX2, f32_gemm_6x16__avx2, f32_gemm_6x16_stream__avx2, f32_gemm_pack_a6__avx2,        \
      f32_gemm_pack_b16__avx2, 6, 16, 256, 144, 1024)
#else
#define CNNC__SGEMM_SIMD_KERNELS(X)
#endif
#define CNNC__SGEMM_KERNELS(X)                                                              \
    CNNC__SGEMM_SIMD_KERNELS(X)                                                             \
    X(SCALAR, f32_gemm_4x8__scalar, f32_gemm_4x8__scalar, f32_gemm_pack_a4__scalar,         \
      f32_gemm_pack_b8__scalar, 4, 8, 256, 128, 1024)

/* X-list of the fused stores: (level, kernel, stream kernel), the level's micro-kernel
 * and its streaming twin (CNNC__SGEMM_KERNELS) with the store through a
 * cnnc__sgemm_epilogue (a cnnc__sgemm_ukernel_ep), the k loop the same code. A level
 * without an entry (AVX-512: not measurable on the AVX2 machine it was written on)
 * keeps the epilogue as its callers' separate pass. */
#if CNNC__ISA_X86
#define CNNC__SGEMM_SIMD_EP_KERNELS(X) \
    X(AVX2, f32_gemm_6x16_ep__avx2, f32_gemm_6x16_ep_stream__avx2)
#else
#define CNNC__SGEMM_SIMD_EP_KERNELS(X)
#endif
#define CNNC__SGEMM_EP_KERNELS(X) \
    CNNC__SGEMM_SIMD_EP_KERNELS(X) \
    X(SCALAR, f32_gemm_4x8_ep__scalar, f32_gemm_4x8_ep__scalar)

/* A micro-kernel: C tile (mr x nr, leading dim ldc; 1 <= mr <= MR, 1 <= nr <= NR)
 *     = beta*C + sum_{p<kc} a[p*MR + i] * b[p*NR + j]
 * a: packed A panel, kc groups of MR floats (rows >= mr zero-padded);
 * b: packed B panel, kc groups of NR floats (columns >= nr zero-padded), aligned to
 *    64 bytes. Only the mr x nr part of C is read (unless beta == 0) and written.
 * The sum starts from zero and adds p in increasing order (fused multiply-add on
 * SIMD kernels); then beta == 0 stores it, beta == 1 adds C, else beta*C + sum. */
typedef void (*cnnc__sgemm_ukernel)(int64_t mr, int64_t nr, int64_t kc,
                                    const float *a, const float *b,
                                    float *c, int64_t ldc, float beta);
/* The same with an epilogue in the store (cnnc__sgemm_epilogue): after the beta rule,
 * row i of the tile gets + bias[i] (bias: the tile's mr rows, or NULL: nothing added),
 * then the clamp to [lo, hi]. */
typedef void (*cnnc__sgemm_ukernel_ep)(int64_t mr, int64_t nr, int64_t kc, const float *a,
                                       const float *b, float *c, int64_t ldc, float beta,
                                       const float *bias, float lo, float hi);

/* Packing into a kernel's panels (MR / NR fixed by the routine's name):
 * pack_a: op(A) rows [0, mc) x k [0, kc) (a points at A(ic, pc)) into MR-row panels,
 *         panel r holding for each p the MR floats A(r*MR + i, p), rows past mc zero;
 * pack_b: op(B) k [0, kc) x columns [0, nc) (b points at B(pc, jc)) into NR-column
 *         panels, panel s holding for each p the NR floats B(p, s*NR + j), columns
 *         past nc zero; dst is 64-byte aligned. */
typedef void (*cnnc__sgemm_pack_a)(bool trans, int64_t mc, int64_t kc, const float *a,
                                   int64_t lda, float *dst);
typedef void (*cnnc__sgemm_pack_b)(bool trans, int64_t kc, int64_t nc, const float *b,
                                   int64_t ldb, float *dst);

#define CNNC__X(isa, kernel, stream, pack_a, pack_b, MR, NR, KC, MC, NC)                    \
    void cnnc__##kernel(int64_t mr, int64_t nr, int64_t kc, const float *a, const float *b, \
                        float *c, int64_t ldc, float beta);                                 \
    void cnnc__##stream(int64_t mr, int64_t nr, int64_t kc, const float *a, const float *b, \
                        float *c, int64_t ldc, float beta);                                 \
    void cnnc__##pack_a(bool trans, int64_t mc, int64_t kc, const float *a, int64_t lda,    \
                        float *dst);                                                        \
    void cnnc__##pack_b(bool trans, int64_t kc, int64_t nc, const float *b, int64_t ldb,    \
                        float *dst);
CNNC__SGEMM_KERNELS(CNNC__X)
#undef CNNC__X
#define CNNC__X(isa, kernel, stream)                                                          \
    void cnnc__##kernel(int64_t mr, int64_t nr, int64_t kc, const float *a, const float *b,   \
                        float *c, int64_t ldc, float beta, const float *bias, float lo,       \
                        float hi);                                                            \
    void cnnc__##stream(int64_t mr, int64_t nr, int64_t kc, const float *a, const float *b,   \
                        float *c, int64_t ldc, float beta, const float *bias, float lo,       \
                        float hi);
CNNC__SGEMM_EP_KERNELS(CNNC__X)
#undef CNNC__X

#endif
