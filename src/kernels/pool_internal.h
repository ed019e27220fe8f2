/* Internal to src/kernels/pool*.c: the max pooling kernel with indices compiled per
 * ISA level (pool_max_body.h in pool_max_scalar.c, pool_max_avx2.c,
 * pool_max_avx512.c). */
#ifndef CNNC_KERNELS_POOL_INTERNAL_H
#define CNNC_KERNELS_POOL_INTERNAL_H
#include "kernels/isa.h"
#include "kernels/pool.h"

/* Row buffer limits of the kernel (it declines larger rows and strides, and rows
 * narrower than a vector without indices or than 3 outputs with them, where the
 * scalar kernel's per-output loop is faster); without indices, windows of up to
 * CNNC__PM_MAXKH rows take each input row's maxima once. With indices (training's
 * forward) the scalar loop was the slower from 3 outputs a row: AVX2, 1 thread, ms
 * forward + backward, scalar -> this kernel: 2x2 / 2 to 3x3 (batch 64, 32 channels)
 * 0.41-0.50 -> 0.36, to LeNet-5's 5x5 (16) 0.54 -> 0.34, 3x3 / 2 p1 to 7x7 (8, 64)
 * 0.73 -> 0.36, adaptive 28x28 -> 7x7 (8, 128) 2.37 -> 1.69-1.81; at 2x2 (16) 0.08
 * -> 0.12-0.13. */
enum {
    CNNC__PM_MINOW = 8,
    CNNC__PM_MINOW_IDX = 3,
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
