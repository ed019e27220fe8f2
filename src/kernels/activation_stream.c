/* ReLU forward and backward with non-temporal (streaming) stores, for outputs much
 * larger than the caches: the output lines are written without being read first (a
 * plain store reads each line before writing it), so a pass moves two streams of
 * memory instead of three. Same values as the table's RELU kernels, bit for bit:
 *   forward  y = x < 0 ? 0 : x          max(0, x) with x second: NaN and -0 kept;
 *   backward gx = y <= 0 ? 0 : g        NaN y passes g.
 * AVX-512 and AVX2 copies; other levels decline. */
#include "kernels/activation.h"

#include <stdint.h>

#if CNNC__ISA_X86
#include <immintrin.h>

/* the scalar head (up to the output's first aligned line) and tail */
static inline void relu_scalar(bool bwd, float *out, const float *a, const float *b, int64_t i0,
                               int64_t i1) {
    for (int64_t i = i0; i < i1; i++)
        out[i] = bwd ? (b[i] <= 0.0f ? 0.0f : a[i]) : (a[i] < 0.0f ? 0.0f : a[i]);
}

static int64_t aligned_head(const float *out, int64_t n) {
    int64_t h = (int64_t)(((64 - ((uintptr_t)out & 63)) & 63) / sizeof(float));
    return ((uintptr_t)out & 3) ? n : (h < n ? h : n); /* misaligned floats: all scalar */
}

__attribute__((target("avx512f"))) static void relu_avx512(bool bwd, float *out, const float *a,
                                                           const float *b, int64_t n) {
    int64_t i = aligned_head(out, n);
    relu_scalar(bwd, out, a, b, 0, i);
    const __m512 zero = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(a + i);
        if (bwd) v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_loadu_ps(b + i), zero, _CMP_LE_OQ), v, zero);
        else v = _mm512_max_ps(zero, v);
        _mm512_stream_ps(out + i, v);
    }
    _mm_sfence();
    relu_scalar(bwd, out, a, b, i, n);
}

__attribute__((target("avx2"))) static void relu_avx2(bool bwd, float *out, const float *a,
                                                      const float *b, int64_t n) {
    int64_t i = aligned_head(out, n);
    relu_scalar(bwd, out, a, b, 0, i);
    const __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(a + i);
        if (bwd) v = _mm256_andnot_ps(_mm256_cmp_ps(_mm256_loadu_ps(b + i), zero, _CMP_LE_OQ), v);
        else v = _mm256_max_ps(zero, v);
        _mm256_stream_ps(out + i, v);
    }
    _mm_sfence();
    relu_scalar(bwd, out, a, b, i, n);
}
#endif

bool cnnc__k_relu_stream(cnnc__isa isa, bool backward, float *out, const float *a,
                         const float *b, int64_t n) {
#if CNNC__ISA_X86
    if (isa >= CNNC__ISA_AVX512) {
        relu_avx512(backward, out, a, b, n);
        return true;
    }
    if (isa >= CNNC__ISA_AVX2) {
        relu_avx2(backward, out, a, b, n);
        return true;
    }
#endif
    (void)isa, (void)backward, (void)out, (void)a, (void)b, (void)n;
    return false;
}
