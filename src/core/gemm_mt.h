/* Internal: multithreaded single-precision GEMM over the thread pool.
 * Same arguments and semantics as cnnc__sgemm_st in kernels/gemm.h (row-major,
 * C = beta*C + op(A) op(B), beta == 0 never reads C), at the ISA level isa (one the
 * CPU supports: the caller's op reads cnnc__isa_active() once and passes it). */
#ifndef CNNC_CORE_GEMM_MT_H
#define CNNC_CORE_GEMM_MT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnc.h"
#include "kernels/isa.h"

/* Multithreaded C = beta*C + op(A) op(B). Splits the rows of C (or its columns when
 * C is wide and short) into parallel-region chunks (core/parallel.h; each chunk packs
 * the whole other operand, which the grain rule counts), never k, so results do not
 * depend on the thread count; small products stay on the calling thread. A product
 * with few rows or a short k (kernels/gemm_small.h, decided for the whole product, as
 * cnnc__sgemm_st does) is split along its columns only and packs nothing. Called
 * from inside a parallel region it runs inline. Each chunk uses its slice of one
 * cnnc__workspace() buffer of the calling thread, so a cnnc__workspace pointer the
 * caller holds is invalid after this call (pass your own buffer to cnnc__sgemm_ws
 * instead). Returns CNNC_OK, or CNNC_ERR_OUT_OF_MEMORY if the workspace could not
 * be allocated (the error is set). */
cnnc_status cnnc__sgemm(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n,
                        int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc);

/* The number of chunks (threads) cnnc__sgemm at level isa would use for an
 * m x n x k product with `threads` threads: 1 when the product is too small to split
 * (the level sets the tile, the unit of the split). */
int cnnc__sgemm_chunks(cnnc__isa isa, int64_t m, int64_t n, int64_t k, int threads);

/* cnnc__sgemm with a caller-owned workspace: ws is 64-byte aligned and holds
 * ws_floats floats, at least cnnc__sgemm_workspace_floats(isa); it runs on at most
 * ws_floats / cnnc__sgemm_workspace_floats(isa) threads (same result with any). */
void cnnc__sgemm_ws(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    const float *a, int64_t lda, const float *b, int64_t ldb,
                    float beta, float *c, int64_t ldc, float *ws, size_t ws_floats);

#endif
