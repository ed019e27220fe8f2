/* Row primitives for the direct (depthwise) convolution kernels and col2im:
 * y += a x, dot(x, y), sum(x) and the stride-2 gather/scatter of im2col and
 * col2im, in scalar C, AVX2+FMA and AVX-512 (function target
 * attributes, so the library still runs on any x86-64), one variant per ISA level.
 * Within a variant, element i of an axpy is always fma(a, x[i], y[i]) on SIMD lanes
 * (the scalar tail uses the same fused operation through fmaf), so a value never
 * depends on where a row segment starts. */
#include <math.h>

#include "kernels/conv.h"

static void axpy_scalar(float *y, const float *x, float a, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static float dot_scalar(const float *x, const float *y, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

static float sum_scalar(const float *x, int64_t n) {
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s[0] += x[i];
        s[1] += x[i + 1];
        s[2] += x[i + 2];
        s[3] += x[i + 3];
    }
    for (; i < n; i++) s[0] += x[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static void gather2_scalar(float *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = src[2 * i];
}

static void scatter2_scalar(float *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[2 * i] += src[i];
}

#if CNNC__ISA_X86
#include <immintrin.h>

#include "kernels/lanes_avx2.h"

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))

AVX2 static void axpy_avx2(float *y, const float *x, float a, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        __m256 y1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] = fmaf(a, x[i], y[i]);
}

AVX2 static float dot_avx2(const float *x, const float *y, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++) s = fmaf(x[i], y[i], s);
    return s;
}

AVX2 static float sum_avx2(const float *x, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++) s += x[i];
    return s;
}

AVX512 static float sum_avx512(const float *x, int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
    if (i < n) s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1u), x + i));
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* The even elements of a (8 floats) then of b (7 floats used): a[0], a[2], .., b[6]. */
AVX2 static inline __m256 even8_avx2(__m256 a, __m256 b) {
    __m256 e, o;
    cnnc__deinterleave2_avx2(&e, &o, a, b);
    return e;
}

/* As gather2_avx512, 8 at a time. */
AVX2 static void gather2_avx2(float *dst, const float *src, int64_t n) {
    const __m256i head = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        /* the last pair's odd element, src[2i + 15], may lie past the end */
        const __m256 a = _mm256_loadu_ps(src + 2 * i);
        const __m256 b = _mm256_maskload_ps(src + 2 * i + 8, head);
        _mm256_storeu_ps(dst + i, even8_avx2(a, b));
    }
    for (; i < n; i++) dst[i] = src[2 * i];
}

/* As scatter2_avx512, 8 at a time: the odd elements keep their bits (a blend, not an
 * addition of zeros, which would turn -0 into +0). */
AVX2 static void scatter2_avx2(float *dst, const float *src, int64_t n) {
    const __m256i head = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0);
    const __m256 zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 s = _mm256_loadu_ps(src + i);
        const __m256 ul = _mm256_unpacklo_ps(s, zero), uh = _mm256_unpackhi_ps(s, zero);
        const __m256 lo = _mm256_permute2f128_ps(ul, uh, 0x20); /* s0 0 s1 0 s2 0 s3 0 */
        const __m256 hi = _mm256_permute2f128_ps(ul, uh, 0x31); /* s4 0 .. s7 0 */
        const __m256 d0 = _mm256_loadu_ps(dst + 2 * i);
        const __m256 d1 = _mm256_maskload_ps(dst + 2 * i + 8, head);
        _mm256_storeu_ps(dst + 2 * i, _mm256_blend_ps(d0, _mm256_add_ps(d0, lo), 0x55));
        cnnc__store_n_avx2(dst + 2 * i + 8, _mm256_blend_ps(d1, _mm256_add_ps(d1, hi), 0x55), 7);
    }
    for (; i < n; i++) dst[2 * i] += src[i];
}

AVX512 static void gather2_avx512(float *dst, const float *src, int64_t n) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        /* the last pair's odd element is at 2 (i + 15) + 1 = 2i + 31: past the end on the
         * final chunk, so the second load stops at lane 14 */
        __m512 a = _mm512_loadu_ps(src + 2 * i);
        __m512 b = _mm512_maskz_loadu_ps((__mmask16)0x7FFF, src + 2 * i + 16);
        _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(a, even, b));
    }
    for (; i < n; i++) dst[i] = src[2 * i];
}

AVX512 static void scatter2_avx512(float *dst, const float *src, int64_t n) {
    const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    const __mmask16 even = 0x5555, head = 0x7FFF; /* dst[2i + 31] is never touched */
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 s = _mm512_loadu_ps(src + i);
        __m512 d0 = _mm512_loadu_ps(dst + 2 * i);
        __m512 d1 = _mm512_maskz_loadu_ps(head, dst + 2 * i + 16);
        d0 = _mm512_mask_add_ps(d0, even, d0, _mm512_permutexvar_ps(lo, s));
        d1 = _mm512_mask_add_ps(d1, even, d1, _mm512_permutexvar_ps(hi, s));
        _mm512_storeu_ps(dst + 2 * i, d0);
        _mm512_mask_storeu_ps(dst + 2 * i + 16, head, d1);
    }
    for (; i < n; i++) dst[2 * i] += src[i];
}

AVX512 static void axpy_avx512(float *y, const float *x, float a, int64_t n) {
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 y0 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
        __m512 y1 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16));
        _mm512_storeu_ps(y + i, y0);
        _mm512_storeu_ps(y + i + 16, y1);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) { /* masked tail: same fused arithmetic per lane */
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
        __m512 v = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i));
        _mm512_mask_storeu_ps(y + i, k, v);
    }
}

AVX512 static float dot_avx512(const float *x, const float *y, int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
#endif

/* X-list, fastest first: (level, name, axpy, dot, sum, gather2, scatter2). */
#if CNNC__ISA_X86
#define ROWS_SIMD_VARIANTS(X)                                                                    \
    X(AVX512, f32_conv_rows__avx512, axpy_avx512, dot_avx512, sum_avx512, gather2_avx512,        \
      scatter2_avx512)                                                                           \
    X(AVX2, f32_conv_rows__avx2, axpy_avx2, dot_avx2, sum_avx2, gather2_avx2, scatter2_avx2)
#else
#define ROWS_SIMD_VARIANTS(X)
#endif
#define ROWS_VARIANTS(X)                                                                         \
    ROWS_SIMD_VARIANTS(X)                                                                        \
    X(SCALAR, f32_conv_rows__scalar, axpy_scalar, dot_scalar, sum_scalar, gather2_scalar,        \
      scatter2_scalar)

static const cnnc__conv_rows variants[] = {
#define CNNC__X(isa, name, axpy, dot, sum, gather2, scatter2) \
    {CNNC__ISA_##isa, #name, axpy, dot, sum, gather2, scatter2},
    ROWS_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, cnnc__conv_rows, variants)

const cnnc__conv_rows *cnnc__conv_rows_of(cnnc__isa isa) { return variant(isa); }
