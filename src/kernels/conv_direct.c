/* Direct small-channel convolution (kernels/conv_direct.h): the variant table, the tap
 * offsets into the phase planes and the weight packing; the kernels themselves are
 * conv_direct_body.h compiled per level. */
#include "kernels/conv_direct.h"

#define DIRECT_VARIANTS(X)   \
    DIRECT_SIMD_VARIANTS(X)  \
    X(SCALAR, scalar)
#if CNNC__ISA_X86
#define DIRECT_SIMD_VARIANTS(X) \
    X(AVX512, avx512)           \
    X(AVX2, avx2)
#else
#define DIRECT_SIMD_VARIANTS(X)
#endif

typedef struct direct_variant {
    cnnc__isa isa;
    const char *name;
    const cnnc__conv_direct_level *k;
} direct_variant;

static const direct_variant variants[] = {
#define CNNC__X(isa, sfx) {CNNC__ISA_##isa, "f32_conv_direct__" #sfx, &cnnc__conv_direct_##sfx},
    DIRECT_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, direct_variant, variants)

static const cnnc__conv_direct_level *level(cnnc__isa isa) { return variant(isa)->k; }

const char *cnnc__conv_direct_variant(cnnc__isa isa) { return variant(isa)->name; }

void cnnc__conv_direct_offsets(int64_t *off, const cnnc__window *g) {
    int64_t hph, wph;
    cnnc__conv_phase_geom(g, &hph, &wph);
    const int64_t s1 = g->stride[1], s2 = g->stride[2], plane = hph * wph;
    const int64_t cg = g->c / g->groups, k1 = g->k[1], k2 = g->k[2];
    /* as cnnc__conv_pack_phase_batch reads row ci * ksz + q */
    for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t q1 = 0; q1 < k1; q1++)
            for (int64_t q2 = 0; q2 < k2; q2++) {
                const int64_t t1 = q1 * g->dil[1], t2 = q2 * g->dil[2];
                off[(ci * k1 + q1) * k2 + q2] =
                    ((ci * s1 + t1 % s1) * s2 + t2 % s2) * plane + (t1 / s1) * wph + t2 / s2;
            }
}

/* wp = w in the blocks of at most max channels (cnnc__conv_direct_block_plan). */
static void pack_blocks(float *wp, const float *w, int64_t m, int64_t kdim, int64_t max) {
    cnnc__conv_direct_blocks blk;
    cnnc__conv_direct_block_plan(&blk, m, max);
    for (int64_t b = 0; b < blk.count; b++) {
        const int64_t o0 = cnnc__conv_direct_block_start(&blk, b);
        const int64_t mo = cnnc__conv_direct_block_size(&blk, b);
        float *dst = wp + o0 * kdim; /* [kdim][mo] */
        for (int64_t t = 0; t < kdim; t++)
            for (int64_t o = 0; o < mo; o++) dst[t * mo + o] = w[(o0 + o) * kdim + t];
    }
}

void cnnc__conv_direct_pack(cnnc__isa isa, float *wp, const float *w, int64_t m, int64_t kdim) {
    pack_blocks(wp, w, m, kdim, level(isa)->mo_max);
}

int64_t cnnc__conv_direct_lanes(cnnc__isa isa) { return level(isa)->lanes; }

void cnnc__conv_direct_pack_lanes(cnnc__isa isa, float *wc, const float *w, int64_t m,
                                  int64_t kdim) {
    pack_blocks(wc, w, m, kdim, level(isa)->lanes); /* m a multiple: equal blocks */
}

void cnnc__conv_direct_forward_lanes(cnnc__isa isa, float *y, int64_t ldc, int64_t ldr,
                                     const float *x, int64_t xr, const int64_t *off,
                                     int64_t kdim, const float *wc, int64_t m, int64_t nrows,
                                     int64_t ncol) {
    level(isa)->forward_lanes(y, ldc, ldr, x, xr, off, kdim, wc, m, nrows, ncol);
}

bool cnnc__conv_direct_has_rows(cnnc__isa isa) { return level(isa)->forward_rows != NULL; }

void cnnc__conv_direct_forward_rows(cnnc__isa isa, float *y, int64_t ldc, int64_t ldr,
                                    const float *x, int64_t xr, const int64_t *off,
                                    int64_t kdim, const float *wp, int64_t m, int64_t nrows,
                                    int64_t ncol, const cnnc__conv_direct_ep *ep) {
    level(isa)->forward_rows(y, ldc, ldr, x, xr, off, kdim, wp, m, nrows, ncol, ep);
}

void cnnc__conv_direct_forward(cnnc__isa isa, float *y, int64_t ldc, int64_t ldr, const float *x,
                               int64_t xr, const int64_t *off, int64_t kdim, const float *wp,
                               int64_t m, int64_t nrows, int64_t ncol,
                               const cnnc__conv_direct_ep *ep) {
    level(isa)->forward(y, ldc, ldr, x, xr, off, kdim, wp, m, nrows, ncol, ep);
}

size_t cnnc__conv_direct_wgrad_floats(cnnc__isa isa, int64_t m, int64_t kdim) {
    return (size_t)(m * kdim) * (size_t)level(isa)->lanes;
}

int64_t cnnc__conv_direct_wgrad_items(cnnc__isa isa, int64_t m, int64_t kdim) {
    return level(isa)->wgrad_items(m, kdim);
}

void cnnc__conv_direct_wgrad_item(cnnc__isa isa, int64_t item, float *pv, const float *dy,
                                  int64_t ldd, int64_t ds, const float *x, int64_t xs,
                                  const int64_t *off, int64_t kdim, int64_t m, int64_t ncol,
                                  int64_t nimg) {
    level(isa)->wgrad_item(item, pv, dy, ldd, ds, x, xs, off, kdim, m, ncol, nimg);
}

void cnnc__conv_direct_wgrad_finish(cnnc__isa isa, float *dw, const float *pv, int64_t m,
                                    int64_t kdim) {
    level(isa)->wgrad_finish(dw, pv, m * kdim);
}

bool cnnc__conv_direct_finite(cnnc__isa isa, const float *x, int64_t n) {
    return level(isa)->finite(x, n);
}
