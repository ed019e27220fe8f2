/* Internal: the 16 x 16 float transpose in AVX-512 registers, shared by the GEMM's
 * packing (gemm_avx512.c) and the channels-last copies (conv_cl.c). Include only from
 * code built for x86 (CNNC__ISA_X86). */
#ifndef CNNC_KERNELS_TRANSPOSE16_AVX512_H
#define CNNC_KERNELS_TRANSPOSE16_AVX512_H
#include <immintrin.h>

/* r[0..15] (16 rows of 16 floats) becomes its transpose: r[c][i] = old r[i][c]. */
__attribute__((target("avx512f"), always_inline)) static inline void cnnc__transpose16_avx512(
    __m512 r[16]) {
    __m512 t[16];
    /* t[2i], t[2i+1]: rows 2i and 2i+1 interleaved (columns 4L..4L+1 and 4L+2..4L+3
     * of each 128-bit lane L). */
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* r[4i+e], lane L: rows 4i..4i+3 of column 4L+e. */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    /* Gather lane L of r[e], r[4+e], r[8+e], r[12+e]: column 4L+e, all 16 rows. */
#pragma GCC unroll 4
    for (int e = 0; e < 4; e++) {
        const __m512 u0 = _mm512_shuffle_f32x4(r[e], r[4 + e], 0x88);
        const __m512 u1 = _mm512_shuffle_f32x4(r[e], r[4 + e], 0xDD);
        const __m512 u2 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0x88);
        const __m512 u3 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0xDD);
        t[e] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        t[8 + e] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
        t[4 + e] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        t[12 + e] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = t[i];
}

#endif
