/* Internal to src/kernels/pool*.c: the max pooling kernel with indices compiled per
 * ISA level (pool_max_body.h in pool_max_scalar.c, pool_max_avx2.c,
 * pool_max_avx512.c). */
#ifndef CNNC_KERNELS_POOL_INTERNAL_H
#define CNNC_KERNELS_POOL_INTERNAL_H
#include "kernels/isa.h"
#include "kernels/pool.h"

/* Row buffer limits of the kernel (it declines larger rows and strides, and rows
 * narrower than a vector, where the scalar kernel's per-output loop is faster);
 * without indices, windows of up to CNNC__PM_MAXKH rows take each input row's maxima
 * once. */
enum {
    CNNC__PM_MINOW = 8,
    CNNC__PM_MAXS = 4,
    CNNC__PM_MAXOW = 1024,
    CNNC__PM_PHLEN = 1024 + 64,
    CNNC__PM_MAXKH = 4
};

/* X-list of the variants, fastest first: (level, suffix of the functions). */
#if CNNC__ISA_X86
#define CNNC__POOL_SIMD_VARIANTS(X) \
    X(AVX512, avx512)               \
    X(AVX2, avx2)
#else
#define CNNC__POOL_SIMD_VARIANTS(X)
#endif
#define CNNC__POOL_VARIANTS(X)  \
    CNNC__POOL_SIMD_VARIANTS(X) \
    X(SCALAR, scalar)

/* 2-d (D == 1), dilation 1, idx nullable: out and idx as cnnc__k_max_pool_ref.
 * Returns false (doing nothing) for rows or strides beyond the buffers. */
#define CNNC__POOL_DECLARE(isa, sfx)                                                        \
    bool cnnc__k_max_pool2d_idx_##sfx(float *out, int64_t *idx, const float *x,             \
                                      const cnnc__window *g, int64_t p0, int64_t p1);
CNNC__POOL_VARIANTS(CNNC__POOL_DECLARE)
#undef CNNC__POOL_DECLARE
#endif
