/* Internal: the 8 x 8 float transpose in AVX registers, shared by the AVX2 GEMM's
 * packing (gemm_avx2.c) and the channels-last copies (conv_cl.c). Include only from
 * code built for x86 (CNNC__ISA_X86). */
#ifndef CNNC_KERNELS_TRANSPOSE8_AVX2_H
#define CNNC_KERNELS_TRANSPOSE8_AVX2_H
#include <immintrin.h>

/* r[0..7] (8 rows of 8 floats) becomes its transpose: r[c][i] = old r[i][c]. */
__attribute__((target("avx2"), always_inline)) static inline void cnnc__transpose8_avx2(
    __m256 r[8]) {
    __m256 t[8];
    /* t[2i], t[2i+1]: rows 2i and 2i+1 interleaved within each 128-bit lane. */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* r[4i+e], lane L: rows 4i..4i+3 of column 4L+e. */
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) {
        r[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int e = 0; e < 4; e++) {
        t[e] = _mm256_permute2f128_ps(r[e], r[4 + e], 0x20);
        t[4 + e] = _mm256_permute2f128_ps(r[e], r[4 + e], 0x31);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) r[i] = t[i];
}

#endif
