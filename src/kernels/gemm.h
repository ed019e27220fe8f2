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
 * Example (C = A B with A 3 x 4, B 4 x 5, all contiguous):
 *
 *     float *ws = aligned_alloc(64, cnnc__sgemm_workspace_floats() * sizeof(float));
 *     cnnc__sgemm_st(false, false, 3, 5, 4, a, 4, b, 5, 0.0f, c, 5, ws);
 *
 * The multithreaded entry point is cnnc__sgemm in core/gemm_mt.h.
 *
 * Determinism: every C element is summed over p = 0..k-1 in the same order (in KC
 * blocks fixed by k alone, each block accumulated from zero and then added to C),
 * whatever its position in a tile, so splitting the m or n range over threads never
 * changes a result bit. The micro-kernel is chosen once per process (the best ISA
 * the CPU supports), so results only differ between machines with different ISAs.
 */
#ifndef CNNC_KERNELS_GEMM_H
#define CNNC_KERNELS_GEMM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Plain triple loop (double accumulation); the oracle for the fast paths. */
void cnnc__sgemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                     const float *a, int64_t lda, const float *b, int64_t ldb,
                     float beta, float *c, int64_t ldc);

/* Floats of workspace one thread needs for cnnc__sgemm_st (a multiple of 16). */
size_t cnnc__sgemm_workspace_floats(void);

/* Single-threaded packed, cache-blocked GEMM. Never allocates: ws is 64-byte
 * aligned and holds cnnc__sgemm_workspace_floats() floats (packed panels of A and B). */
void cnnc__sgemm_st(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    const float *a, int64_t lda, const float *b, int64_t ldb,
                    float beta, float *c, int64_t ldc, float *ws);

/* ---- Pre-packed A, B packed by the caller (implicit-GEMM convolutions) ----------- */

/* Fills dst with rows [pc, pc + kc) x columns [jc, jc + nc) of the virtual B (k x n),
 * in the layout of cnnc__sgemm_pack_b: nr-column panels, panel s holding for each p
 * the nr floats B(pc + p, jc + s*nr + j), columns past nc zero. dst is 64-byte
 * aligned; scratch holds cnnc__sgemm_pack_scratch_floats() floats of the calling
 * thread's own (64-byte aligned) for the callback's use. */
typedef void (*cnnc__sgemm_pack_b_fn)(void *ctx, int64_t pc, int64_t kc, int64_t jc,
                                      int64_t nc, int64_t nr, float *dst, float *scratch);

/* Floats of scratch a cnnc__sgemm_pack_b_fn may use: the NC block rounded up. */
size_t cnnc__sgemm_pack_scratch_floats(void);

/* Floats cnnc__sgemm_pack_a_full writes for an m x k A (a multiple of 16). */
size_t cnnc__sgemm_packed_a_floats(int64_t m, int64_t k);

/* Packs all of op(A) (m x k) once, for any number of cnnc__sgemm_st_packed calls
 * with the same m and k: the k blocks of the driver one after the other, each in
 * MR-row panels. dst is 64-byte aligned, cnnc__sgemm_packed_a_floats(m, k) floats. */
void cnnc__sgemm_pack_a_full(bool trans_a, int64_t m, int64_t k, const float *a, int64_t lda,
                             float *dst);

/* C (m x n) = beta*C + A B, A pre-packed by cnnc__sgemm_pack_a_full(m, k), B packed
 * block by block by pack_b(ctx, ...). Same blocking, kernels, determinism and beta
 * rules as cnnc__sgemm_st (bit-identical results for the same A and B). ws holds
 * cnnc__sgemm_workspace_floats() floats, 64-byte aligned. */
void cnnc__sgemm_st_packed(int64_t m, int64_t n, int64_t k, const float *a_packed,
                           cnnc__sgemm_pack_b_fn pack_b, void *ctx, float beta, float *c,
                           int64_t ldc, float *ws);

/* Name of the selected micro-kernel, e.g. "f32_gemm_14x32__avx512". */
const char *cnnc__sgemm_kernel_name(void);

/* Register tile (rows x columns of C per micro-kernel call) of the selected kernel.
 * Splitting C over threads at multiples of these avoids extra edge tiles. */
void cnnc__sgemm_tile(int64_t *mr, int64_t *nr);

/* ---- Every micro-kernel, for tests and benchmarks ------------------------ */

/* The SIMD kernels need GCC/Clang function target attributes on x86. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define CNNC__SGEMM_X86 1
#else
#define CNNC__SGEMM_X86 0
#endif

/* X-list: (enum suffix, kernel name, MR, NR). Fastest last; selection picks the last
 * one the CPU supports. */
#define CNNC__SGEMM_KERNELS(X)                       \
    X(SCALAR, f32_gemm_4x8__scalar, 4, 8)            \
    X(AVX2, f32_gemm_6x16__avx2, 6, 16)              \
    X(AVX512, f32_gemm_14x32__avx512, 14, 32)

typedef enum cnnc__sgemm_isa {
#define CNNC__X(isa, name, mr, nr) CNNC__SGEMM_ISA_##isa,
    CNNC__SGEMM_KERNELS(CNNC__X)
#undef CNNC__X
    CNNC__SGEMM_ISA_COUNT
} cnnc__sgemm_isa;

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

#define CNNC__X(isa, name, mr, nr)                                        \
    void cnnc__##name(int64_t mr_, int64_t nr_, int64_t kc, const float *a, \
                      const float *b, float *c, int64_t ldc, float beta);
CNNC__SGEMM_KERNELS(CNNC__X)
#undef CNNC__X

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
void cnnc__f32_gemm_pack_a6__avx2(bool trans, int64_t mc, int64_t kc, const float *a,
                                  int64_t lda, float *dst);
void cnnc__f32_gemm_pack_b16__avx2(bool trans, int64_t kc, int64_t nc, const float *b,
                                   int64_t ldb, float *dst);
void cnnc__f32_gemm_pack_a14__avx512(bool trans, int64_t mc, int64_t kc, const float *a,
                                     int64_t lda, float *dst);
void cnnc__f32_gemm_pack_b32__avx512(bool trans, int64_t kc, int64_t nc, const float *b,
                                     int64_t ldb, float *dst);

/* Whether this build and this CPU can run the kernel of `isa`. */
bool cnnc__sgemm_isa_supported(cnnc__sgemm_isa isa);
/* The ISA the library selected (the best supported one). */
cnnc__sgemm_isa cnnc__sgemm_isa_selected(void);
const char *cnnc__sgemm_isa_kernel_name(cnnc__sgemm_isa isa);
size_t cnnc__sgemm_isa_workspace_floats(cnnc__sgemm_isa isa);
/* cnnc__sgemm_st with the kernel of `isa` (which must be supported) and its blocking. */
void cnnc__sgemm_st_isa(cnnc__sgemm_isa isa, bool trans_a, bool trans_b,
                        int64_t m, int64_t n, int64_t k,
                        const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc, float *ws);

#endif
