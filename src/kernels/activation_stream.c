/* ReLU and leaky ReLU, forward and backward, with non-temporal (streaming) stores,
 * for outputs much larger than the caches: the output lines are written without
 * being read first (a plain store reads each line before writing it), so a pass
 * moves two streams of memory instead of three. Same values as the table's kernels,
 * bit for bit:
 *   relu        y = x < 0 ? 0 : x          max(0, x) with x second: NaN and -0 kept
 *               gx = y <= 0 ? 0 : g        NaN y passes g
 *   leaky_relu  y = x > 0 ? x : x * a      gx = s > 0 ? g : g * a
 * AVX-512 and AVX2 copies; other levels and ops decline. */
#include "kernels/activation.h"

#include <stdint.h>

#if CNNC__ISA_X86
#include <immintrin.h>

/* One element: v the value (forward x, backward g), s the saved tensor (backward). */
static inline float one(bool leaky, bool bwd, float v, float s, float a) {
    if (leaky) return (bwd ? s : v) > 0.0f ? v : v * a;
    return bwd ? (s <= 0.0f ? 0.0f : v) : (v < 0.0f ? 0.0f : v);
}

static inline void scalar_range(bool leaky, bool bwd, float *out, const float *v,
                                const float *s, float a, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) out[i] = one(leaky, bwd, v[i], bwd ? s[i] : 0.0f, a);
}

/* Elements before the output's first 64-byte line (all of them when out is not even
 * float-aligned). */
static int64_t aligned_head(const float *out, int64_t n) {
    int64_t h = (int64_t)(((64 - ((uintptr_t)out & 63)) & 63) / sizeof(float));
    return ((uintptr_t)out & 3) ? n : (h < n ? h : n);
}

__attribute__((target("avx512f"))) static void stream_avx512(bool leaky, bool bwd, float *out,
                                                             const float *v, const float *s,
                                                             float a, int64_t n) {
    int64_t i = aligned_head(out, n);
    scalar_range(leaky, bwd, out, v, s, a, 0, i);
    const __m512 zero = _mm512_setzero_ps(), va = _mm512_set1_ps(a);
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(v + i), y;
        if (leaky) {
            __m512 t = bwd ? _mm512_loadu_ps(s + i) : x;
            y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, zero, _CMP_GT_OQ), _mm512_mul_ps(x, va), x);
        } else if (bwd) {
            y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_loadu_ps(s + i), zero, _CMP_LE_OQ), x, zero);
        } else {
            y = _mm512_max_ps(zero, x);
        }
        _mm512_stream_ps(out + i, y);
    }
    _mm_sfence();
    scalar_range(leaky, bwd, out, v, s, a, i, n);
}

__attribute__((target("avx2"))) static void stream_avx2(bool leaky, bool bwd, float *out,
                                                        const float *v, const float *s, float a,
                                                        int64_t n) {
    int64_t i = aligned_head(out, n);
    scalar_range(leaky, bwd, out, v, s, a, 0, i);
    const __m256 zero = _mm256_setzero_ps(), va = _mm256_set1_ps(a);
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(v + i), y;
        if (leaky) {
            __m256 t = bwd ? _mm256_loadu_ps(s + i) : x;
            y = _mm256_blendv_ps(_mm256_mul_ps(x, va), x, _mm256_cmp_ps(t, zero, _CMP_GT_OQ));
        } else if (bwd) {
            y = _mm256_andnot_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + i), zero, _CMP_LE_OQ), x);
        } else {
            y = _mm256_max_ps(zero, x);
        }
        _mm256_stream_ps(out + i, y);
    }
    _mm_sfence();
    scalar_range(leaky, bwd, out, v, s, a, i, n);
}
#endif

bool cnnc__k_act_stream(cnnc__isa isa, cnnc__act op, const cnnc__act_params *p, bool backward,
                        float *out, const float *v, const float *s, int64_t n) {
#if CNNC__ISA_X86
    if (op != CNNC__ACT_RELU && op != CNNC__ACT_LEAKY_RELU) return false;
    bool leaky = op == CNNC__ACT_LEAKY_RELU;
    if (isa >= CNNC__ISA_AVX512) {
        stream_avx512(leaky, backward, out, v, s, p->a, n);
        return true;
    }
    if (isa >= CNNC__ISA_AVX2) {
        stream_avx2(leaky, backward, out, v, s, p->a, n);
        return true;
    }
#endif
    (void)isa, (void)op, (void)p, (void)backward, (void)out, (void)v, (void)s, (void)n;
    return false;
}
