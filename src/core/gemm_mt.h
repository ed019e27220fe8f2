/* Internal: multithreaded single-precision GEMM over the thread pool.
 * Same arguments and semantics as cnnc__sgemm_st in kernels/gemm.h (row-major,
 * C = beta*C + op(A) op(B), beta == 0 never reads C), at the ISA level isa (one the
 * CPU supports: the caller's op reads cnnc__isa_active() once and passes it). */
#ifndef CNNC_CORE_GEMM_MT_H
#define CNNC_CORE_GEMM_MT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/isa.h"

/* Multithreaded C = beta*C + op(A) op(B). Splits the rows of C (or its columns when
 * C is wide and short) over cnnc__parallel_for, never k, so results do not depend
 * on the thread count; small products (under ~8M multiply-adds) stay on the calling
 * thread. Called from inside a parallel_for it runs inline. Each chunk uses its
 * slice of one cnnc__workspace() buffer of the calling thread, so a cnnc__workspace
 * pointer the caller holds is invalid after this call (pass your own buffer to
 * cnnc__sgemm_ws instead). Returns 0, or -1 if the workspace could not be allocated
 * (the error is set). */
int cnnc__sgemm(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                const float *a, int64_t lda, const float *b, int64_t ldb,
                float beta, float *c, int64_t ldc);

/* Floats of workspace cnnc__sgemm_ws needs to use every thread of the pool now:
 * cnnc__parallel_threads() slices of cnnc__sgemm_workspace_floats(isa) floats. */
size_t cnnc__sgemm_ws_floats(cnnc__isa isa);

/* cnnc__sgemm with a caller-owned workspace: ws is 64-byte aligned and holds
 * ws_floats floats, at least cnnc__sgemm_workspace_floats(isa); with fewer than
 * cnnc__sgemm_ws_floats(isa) the product runs on fewer threads (same result). */
void cnnc__sgemm_ws(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    const float *a, int64_t lda, const float *b, int64_t ldb,
                    float beta, float *c, int64_t ldc, float *ws, size_t ws_floats);

#endif
