/* Activation kernels: the table of the fast variants (one per ISA level), plus the
 * PReLU and dropout loops (memory-bound selects, vectorizable as written). */
#include "kernels/activation.h"

#include <stddef.h>

#include "kernels/activation_internal.h"

static const char *const act_names[CNNC__ACT_COUNT] = {
#define ACT_NAME(E, n) #n,
    CNNC__ACT_LIST(ACT_NAME)
#undef ACT_NAME
};

const char *cnnc__act_name(cnnc__act op) {
    return (unsigned)op < CNNC__ACT_COUNT ? act_names[op] : "?";
}

bool cnnc__act_backward_uses_result(cnnc__act op) {
    return op == CNNC__ACT_RELU || op == CNNC__ACT_SIGMOID || op == CNNC__ACT_TANH;
}

/* ---- the variant table ------------------------------------------------------------ */

typedef struct act_variant {
    cnnc__isa isa;
    const char *name;
    void (*forward)(cnnc__act op, const cnnc__act_params *p, float *out, const float *x,
                    int64_t n);
    void (*forward_bias)(cnnc__act op, const cnnc__act_params *p, float *out, const float *x,
                         float bias, int64_t n);
    void (*backward)(cnnc__act op, const cnnc__act_params *p, bool from_result, float *gx,
                     const float *g, const float *s, int64_t n);
    void (*softmax)(bool log, float *out, const float *x, int64_t dim, int64_t inner,
                    int64_t o_begin, int64_t o_end, int64_t i_begin, int64_t i_end);
    void (*softmax_backward)(bool log, float *gx, const float *g, const float *y, int64_t dim,
                             int64_t inner, int64_t o_begin, int64_t o_end, int64_t i_begin,
                             int64_t i_end);
} act_variant;

static const act_variant variants[] = {
#define CNNC__X(isa, sfx)                                                                 \
    {CNNC__ISA_##isa, "f32_act__" #sfx, cnnc__k_act_forward_##sfx##_impl,                \
     cnnc__k_act_forward_bias_##sfx##_impl,                                               \
     cnnc__k_act_backward_##sfx##_impl, cnnc__k_softmax_##sfx##_impl,                    \
     cnnc__k_softmax_backward_##sfx##_impl},
    CNNC__ACT_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, act_variant, variants)

const char *cnnc__k_act_variant_name(cnnc__isa isa) { return variant(isa)->name; }

void cnnc__k_act_forward(cnnc__isa isa, cnnc__act op, const cnnc__act_params *p, float *out,
                         const float *x, int64_t n) {
    variant(isa)->forward(op, p, out, x, n);
}
void cnnc__k_act_forward_bias(cnnc__isa isa, cnnc__act op, const cnnc__act_params *p, float *out,
                              const float *x, float bias, int64_t n) {
    variant(isa)->forward_bias(op, p, out, x, bias, n);
}
void cnnc__k_act_backward(cnnc__isa isa, cnnc__act op, const cnnc__act_params *p,
                          bool from_result, float *gx, const float *g, const float *s,
                          int64_t n) {
    variant(isa)->backward(op, p, from_result, gx, g, s, n);
}
void cnnc__k_act_forward_ref(cnnc__act op, const cnnc__act_params *p, float *out,
                             const float *x, int64_t n) {
    cnnc__k_act_forward_ref_impl(op, p, out, x, n);
}
void cnnc__k_act_backward_ref(cnnc__act op, const cnnc__act_params *p, bool from_result,
                              float *gx, const float *g, const float *s, int64_t n) {
    cnnc__k_act_backward_ref_impl(op, p, from_result, gx, g, s, n);
}

void cnnc__k_softmax(cnnc__isa isa, bool log, float *out, const float *x, int64_t dim,
                     int64_t inner, int64_t o_begin, int64_t o_end, int64_t i_begin,
                     int64_t i_end) {
    variant(isa)->softmax(log, out, x, dim, inner, o_begin, o_end, i_begin, i_end);
}
void cnnc__k_softmax_ref(bool log, float *out, const float *x, int64_t dim, int64_t inner,
                         int64_t o_begin, int64_t o_end, int64_t i_begin, int64_t i_end) {
    cnnc__k_softmax_ref_impl(log, out, x, dim, inner, o_begin, o_end, i_begin, i_end);
}
void cnnc__k_softmax_backward(cnnc__isa isa, bool log, float *gx, const float *g,
                              const float *y, int64_t dim, int64_t inner, int64_t o_begin,
                              int64_t o_end, int64_t i_begin, int64_t i_end) {
    variant(isa)->softmax_backward(log, gx, g, y, dim, inner, o_begin, o_end, i_begin, i_end);
}
void cnnc__k_softmax_backward_ref(bool log, float *gx, const float *g, const float *y,
                                  int64_t dim, int64_t inner, int64_t o_begin, int64_t o_end,
                                  int64_t i_begin, int64_t i_end) {
    cnnc__k_softmax_backward_ref_impl(log, gx, g, y, dim, inner, o_begin, o_end, i_begin, i_end);
}

/* ---- PReLU ----------------------------------------------------------------------- */

void cnnc__k_prelu(float *out, const float *x, const float *w, int64_t channels, int64_t inner,
                   int64_t r_begin, int64_t r_end) {
    for (int64_t r = r_begin; r < r_end; r++) {
        const float wc = w[r % channels];
        const float *xr = x + r * inner;
        float *o = out + r * inner;
        for (int64_t i = 0; i < inner; i++) o[i] = xr[i] > 0.0f ? xr[i] : wc * xr[i];
    }
}

void cnnc__k_prelu_backward_input(float *gx, const float *g, const float *x, const float *w,
                                  int64_t channels, int64_t inner, int64_t r_begin,
                                  int64_t r_end) {
    for (int64_t r = r_begin; r < r_end; r++) {
        const float wc = w[r % channels];
        const float *xr = x + r * inner, *gr = g + r * inner;
        float *o = gx + r * inner;
        for (int64_t i = 0; i < inner; i++) o[i] = xr[i] > 0.0f ? gr[i] : wc * gr[i];
    }
}

void cnnc__k_prelu_backward_weight(double *gw, const float *g, const float *x, int64_t outer,
                                   int64_t channels, int64_t inner, int64_t c_begin,
                                   int64_t c_end) {
    for (int64_t c = c_begin; c < c_end; c++) {
        double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int64_t o = 0; o < outer; o++) {
            const float *xr = x + (o * channels + c) * inner, *gr = g + (o * channels + c) * inner;
            int64_t i = 0;
            for (; i + 8 <= inner; i += 8)
                for (int k = 0; k < 8; k++)
                    acc[k] += (double)(xr[i + k] > 0.0f ? 0.0f : xr[i + k] * gr[i + k]);
            for (int k = 0; i < inner; i++, k++)
                acc[k] += (double)(xr[i] > 0.0f ? 0.0f : xr[i] * gr[i]);
        }
        gw[c - c_begin] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
}

/* ---- dropout ----------------------------------------------------------------------- */

/* murmur3's 32-bit finalizer: a bijection with full avalanche. Two rounds over
 * (index, key) give independent-looking draws for consecutive indices. */
static inline uint32_t fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static inline uint32_t draw24(uint32_t k0, uint32_t k1, uint32_t lo, uint32_t hi_mix) {
    uint32_t h = fmix32(lo * 0x9e3779b9u + k0);
    h = fmix32(h ^ k1 ^ hi_mix);
    return h >> 8; /* 24 uniform bits */
}

bool cnnc__k_dropout_keep(uint64_t key, uint32_t keep_q, int64_t k) {
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    uint32_t hi_mix = fmix32((uint32_t)((uint64_t)k >> 32) + 0x632be5abu);
    return draw24(k0, k1, (uint32_t)k, hi_mix) < keep_q;
}

void cnnc__k_dropout(float *out, const float *x, uint64_t key, uint32_t keep_q, float scale,
                     int64_t inner, int64_t begin, int64_t end) {
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    if (inner == 1) {
        /* one draw per element; indices split into 2^32 blocks so the inner loop
         * is 32-bit arithmetic (vectorizable) */
        int64_t i = begin;
        while (i < end) {
            int64_t block_end = ((i >> 32) + 1) << 32;
            if (block_end > end) block_end = end;
            uint32_t hi_mix = fmix32((uint32_t)((uint64_t)i >> 32) + 0x632be5abu);
            int64_t n = block_end - i;
            uint32_t lo0 = (uint32_t)i;
            float *o = out + i;
            const float *xs = x ? x + i : NULL;
            if (xs)
                for (int64_t j = 0; j < n; j++) {
                    float m = draw24(k0, k1, lo0 + (uint32_t)j, hi_mix) < keep_q ? scale : 0.0f;
                    o[j] = xs[j] * m;
                }
            else
                for (int64_t j = 0; j < n; j++)
                    o[j] = draw24(k0, k1, lo0 + (uint32_t)j, hi_mix) < keep_q ? scale : 0.0f;
            i = block_end;
        }
        return;
    }
    /* one draw per row of `inner` elements */
    int64_t i = begin;
    while (i < end) {
        int64_t row = i / inner, row_end = (row + 1) * inner;
        if (row_end > end) row_end = end;
        float m = cnnc__k_dropout_keep(key, keep_q, row) ? scale : 0.0f;
        if (x)
            for (int64_t j = i; j < row_end; j++) out[j] = x[j] * m;
        else
            for (int64_t j = i; j < row_end; j++) out[j] = m;
        i = row_end;
    }
}
