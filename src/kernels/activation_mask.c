/* Hardtanh (relu6) with a bit mask for its backward: the forward writes the clamped
 * values and one bit per element, set where min < x < max (where the gradient passes);
 * the backward reads that bit instead of the input. An in-place hardtanh_ then keeps
 * n / 8 bytes for its backward instead of a copy of its input (n * 4 bytes), and the
 * backward streams g and the bits rather than g and x. The formulas are
 * activation_impl.h's (fwd_hardtanh, bwd_hardtanh): NaN stays NaN forward and gives a
 * zero gradient. One variant per level, picked like the other kernel families. */
#include <stddef.h>

#include "kernels/activation.h"

/* ---- portable ----------------------------------------------------------------------- */

static void mask_forward_scalar(const cnnc__act_params *p, float *out, uint32_t *bits,
                                const float *x, int64_t n) {
    const float a = p->a, b = p->b;
    for (int64_t w = 0; w * 32 < n; w++) {
        const int64_t e = n - w * 32 < 32 ? n - w * 32 : 32;
        uint32_t m = 0;
        for (int64_t j = 0; j < e; j++) {
            const float v = x[w * 32 + j];
            const float y = v < a ? a : v;
            out[w * 32 + j] = y > b ? b : y;
            m |= (uint32_t)(v > a && v < b) << j;
        }
        bits[w] = m;
    }
}

static void mask_backward_scalar(float *gx, const float *g, const uint32_t *bits, int64_t n) {
    for (int64_t i = 0; i < n; i++) gx[i] = (bits[i >> 5] >> (i & 31)) & 1u ? g[i] : 0.0f;
}

/* ---- AVX2 and AVX-512: whole words in vectors, the tail word by the portable loop ---- */

#if CNNC__ISA_X86
#include <immintrin.h>

CNNC__ISA_TARGET_BEGIN("avx2,fma")
static void mask_forward_avx2(const cnnc__act_params *p, float *out, uint32_t *bits,
                              const float *x, int64_t n) {
    const __m256 a = _mm256_set1_ps(p->a), b = _mm256_set1_ps(p->b);
    const int64_t full = n / 32;
    for (int64_t w = 0; w < full; w++) {
        uint32_t m = 0;
        for (int j = 0; j < 4; j++) {
            const __m256 v = _mm256_loadu_ps(x + w * 32 + 8 * j);
            /* max(a, v) keeps v when v is NaN (v < a ? a : v), min(b, .) likewise */
            _mm256_storeu_ps(out + w * 32 + 8 * j, _mm256_min_ps(b, _mm256_max_ps(a, v)));
            const __m256 in = _mm256_and_ps(_mm256_cmp_ps(v, a, _CMP_GT_OQ),
                                            _mm256_cmp_ps(v, b, _CMP_LT_OQ));
            m |= (uint32_t)_mm256_movemask_ps(in) << (8 * j);
        }
        bits[w] = m;
    }
    if (full * 32 < n) mask_forward_scalar(p, out + full * 32, bits + full, x + full * 32, n - full * 32);
}

static void mask_backward_avx2(float *gx, const float *g, const uint32_t *bits, int64_t n) {
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const int64_t full = n / 32;
    for (int64_t w = 0; w < full; w++)
        for (int j = 0; j < 4; j++) {
            const __m256i m = _mm256_set1_epi32((int)((bits[w] >> (8 * j)) & 0xFFu));
            const __m256i on = _mm256_cmpeq_epi32(_mm256_and_si256(m, lane), lane);
            const __m256 v = _mm256_loadu_ps(g + w * 32 + 8 * j);
            _mm256_storeu_ps(gx + w * 32 + 8 * j, _mm256_and_ps(v, _mm256_castsi256_ps(on)));
        }
    if (full * 32 < n) mask_backward_scalar(gx + full * 32, g + full * 32, bits + full, n - full * 32);
}
CNNC__ISA_TARGET_END

CNNC__ISA_TARGET_BEGIN("avx512f")
static void mask_forward_avx512(const cnnc__act_params *p, float *out, uint32_t *bits,
                                const float *x, int64_t n) {
    const __m512 a = _mm512_set1_ps(p->a), b = _mm512_set1_ps(p->b);
    const int64_t full = n / 32;
    for (int64_t w = 0; w < full; w++) {
        uint32_t m = 0;
        for (int j = 0; j < 2; j++) {
            const __m512 v = _mm512_loadu_ps(x + w * 32 + 16 * j);
            _mm512_storeu_ps(out + w * 32 + 16 * j, _mm512_min_ps(b, _mm512_max_ps(a, v)));
            const __mmask16 in = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(v, a, _CMP_GT_OQ), v,
                                                         b, _CMP_LT_OQ);
            m |= (uint32_t)in << (16 * j);
        }
        bits[w] = m;
    }
    if (full * 32 < n) mask_forward_scalar(p, out + full * 32, bits + full, x + full * 32, n - full * 32);
}

static void mask_backward_avx512(float *gx, const float *g, const uint32_t *bits, int64_t n) {
    const int64_t full = n / 32;
    for (int64_t w = 0; w < full; w++)
        for (int j = 0; j < 2; j++) {
            const __mmask16 m = (__mmask16)(bits[w] >> (16 * j));
            _mm512_storeu_ps(gx + w * 32 + 16 * j, _mm512_maskz_loadu_ps(m, g + w * 32 + 16 * j));
        }
    if (full * 32 < n) mask_backward_scalar(gx + full * 32, g + full * 32, bits + full, n - full * 32);
}
CNNC__ISA_TARGET_END
#endif

/* ---- the variant table -------------------------------------------------------------- */

typedef struct mask_variant {
    cnnc__isa isa;
    const char *name;
    void (*forward)(const cnnc__act_params *p, float *out, uint32_t *bits, const float *x,
                    int64_t n);
    void (*backward)(float *gx, const float *g, const uint32_t *bits, int64_t n);
} mask_variant;

static const mask_variant variants[] = {
#if CNNC__ISA_X86
    {CNNC__ISA_AVX512, "f32_hardtanh_mask__avx512", mask_forward_avx512, mask_backward_avx512},
    {CNNC__ISA_AVX2, "f32_hardtanh_mask__avx2", mask_forward_avx2, mask_backward_avx2},
#endif
    {CNNC__ISA_SCALAR, "f32_hardtanh_mask__scalar", mask_forward_scalar, mask_backward_scalar},
};

CNNC__ISA_PICKER(variant, mask_variant, variants)

const char *cnnc__k_hardtanh_mask_variant_name(cnnc__isa isa) { return variant(isa)->name; }

void cnnc__k_hardtanh_mask_forward(cnnc__isa isa, const cnnc__act_params *p, float *out,
                                   uint32_t *bits, const float *x, int64_t n) {
    variant(isa)->forward(p, out, bits, x, n);
}

void cnnc__k_hardtanh_mask_backward(cnnc__isa isa, float *gx, const float *g,
                                    const uint32_t *bits, int64_t n) {
    variant(isa)->backward(gx, g, bits, n);
}
