/* Internal: an AVX2 vector's first lanes, as load masks and as stores, lane ranges as
 * masks, and the even / odd split of 16 floats, shared by the GEMMs, the convolutions'
 * row loops and the max pool (the AVX2 and AVX-512 copies of its kernel). Include only
 * from code built for x86 (CNNC__ISA_X86). */
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

/* All bits set in lane l when lo <= first + l < hi, else 0. */
__attribute__((target("avx2"), always_inline)) static inline __m256 cnnc__lanes_between_avx2(
    int64_t lo, int64_t hi, int first) {
    const __m256i l = _mm256_add_epi32(_mm256_set1_epi32(first),
                                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_castsi256_ps(_mm256_andnot_si256(
        _mm256_cmpgt_epi32(_mm256_set1_epi32((int)lo), l),
        _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), l)));
}

/* ev, od = the even and odd floats of lo, hi (16 floats in order) */
__attribute__((target("avx2"), always_inline)) static inline void cnnc__deinterleave2_avx2(
    __m256 *ev, __m256 *od, __m256 lo, __m256 hi) {
    /* in-lane picks give (lo 0 2, hi 0 2, lo 4 6, hi 4 6) in 64-bit quarters: 0xD8
     * puts them in order */
    const __m256d e = _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88));
    const __m256d o = _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD));
    *ev = _mm256_castpd_ps(_mm256_permute4x64_pd(e, 0xD8));
    *od = _mm256_castpd_ps(_mm256_permute4x64_pd(o, 0xD8));
}

#endif
