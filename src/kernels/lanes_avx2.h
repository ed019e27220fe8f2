/* Internal: an AVX2 vector's first lanes, as load masks and as stores, shared by the
 * GEMMs (gemm_avx2.c, gemm_small_avx2.c) and the Winograd row loops
 * (conv_winograd_avx2.c). Include only from code built for x86 (CNNC__ISA_X86). */
#ifndef CNNC_KERNELS_LANES_AVX2_H
#define CNNC_KERNELS_LANES_AVX2_H
#include <immintrin.h>
#include <stdint.h>

/* lanes [0, n) set (n clamped to [0, 8]), for maskload and maskstore */
__attribute__((target("avx2"), always_inline)) static inline __m256i cnnc__lanes_avx2(int64_t n) {
    const int c = n <= 0 ? 0 : n >= 8 ? 8 : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* v's first n lanes (all 8 when n >= 8, none when n <= 0) to p, by whole 128-, 64-
 * and 32-bit stores: vmaskmovps to memory is microcoded on AMD cores (Zen 3: 75% of
 * the GEMM's packing time went to it, whatever its mask) */
__attribute__((target("avx2"), always_inline)) static inline void cnnc__store_n_avx2(
    float *p, __m256 v, int64_t n) {
    if (n >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    __m128 h = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(p, h);
        h = _mm256_extractf128_ps(v, 1);
        p += 4, n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)p, h);
        h = _mm_movehl_ps(h, h);
        p += 2, n -= 2;
    }
    if (n >= 1) _mm_store_ss(p, h);
}

#endif
