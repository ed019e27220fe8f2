/* Depthwise convolution kernels on the geometries of their fast paths: square 3x3 and
 * 5x5 filters on 2-d planes with H and W stride 1 or 2, padding 0..2, H dilation 1 or
 * 2, planes from 1x1 up past the widths of the row blocks (64) and of 16-lane
 * multiples, odd widths, with and without a bias. At every ISA level this CPU runs:
 * forward, backward-data (written, then accumulated) and backward-weight against the
 * plain reference kernels (float sums in another order: relative 1e-5). At the
 * AVX-512 level the square kernels' forward, blocked (several output rows at once)
 * or not, must also give the very bits of bias + the taps fused-multiply-added in
 * (q1, q2) order, the order they promise. The driver at 1 and 2 threads: the same
 * bits, and the reference's values. A mismatched input: PyTorch's error. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, sysconf */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/conv.h"
#include "kernels/conv_dw_internal.h"
#include "kernels/isa.h"
#include "ops/conv.h"

static uint64_t rng = 0x6A09E667F3BCC908u;

static int64_t rnd(int64_t lo, int64_t hi) { return check_rng_int(&rng, lo, hi); }

/* One plane's window: k x k filter, strides, H dilation, paddings; sizes from tiny
 * (the filter's reach) to 130. */
static cnnc__window dw_geom(void) {
    cnnc__window g;
    memset(&g, 0, sizeof g);
    g.n = 1, g.c = g.m = g.groups = 2;
    for (int d = 0; d < 3; d++) g.in[d] = g.out[d] = g.k[d] = g.stride[d] = g.dil[d] = 1;
    const int64_t k = rnd(0, 3) ? 3 : 5;
    g.k[1] = g.k[2] = k;
    g.stride[1] = rnd(1, 2), g.stride[2] = rnd(1, 2);
    g.dil[1] = rnd(0, 3) ? 1 : 2;
    for (int d = 1; d < 3; d++) {
        g.pad[d] = rnd(0, 2);
        const int64_t eff = g.dil[d] * (k - 1) + 1, lo = eff - 2 * g.pad[d];
        const int64_t top = rnd(0, 2) ? 8 : 130;
        g.in[d] = (lo < 1 ? 1 : lo) + rnd(0, top);
        g.out[d] = (g.in[d] + 2 * g.pad[d] - eff) / g.stride[d] + 1;
    }
    return g;
}

/* y = bias, then w * x fused-multiply-added over the taps in (q1, q2) order; a tap
 * row outside the input is skipped, a position outside a row inside adds w * 0. */
static void forward_fma_order(float *y, const float *x, const float *w, float bias,
                              const cnnc__window *g) {
    const int64_t k1 = g->k[1], k2 = g->k[2];
    for (int64_t p1 = 0; p1 < g->out[1]; p1++)
        for (int64_t p2 = 0; p2 < g->out[2]; p2++) {
            float acc = bias;
            for (int64_t q1 = 0; q1 < k1; q1++) {
                const int64_t i1 = p1 * g->stride[1] - g->pad[1] + q1 * g->dil[1];
                if (i1 < 0 || i1 >= g->in[1]) continue;
                for (int64_t q2 = 0; q2 < k2; q2++) {
                    const int64_t i2 = p2 * g->stride[2] - g->pad[2] + q2;
                    const float v = i2 >= 0 && i2 < g->in[2] ? x[i1 * g->in[2] + i2] : 0.0f;
                    acc = fmaf(w[q1 * k2 + q2], v, acc);
                }
            }
            y[p1 * g->out[2] + p2] = acc;
        }
}

static void print_geom(int it, const cnnc__window *g) {
    fprintf(stderr, "  case %d: in %lldx%lld k %lld stride %lldx%lld pad %lldx%lld dil %lld\n", it,
            (long long)g->in[1], (long long)g->in[2], (long long)g->k[1], (long long)g->stride[1],
            (long long)g->stride[2], (long long)g->pad[1], (long long)g->pad[2],
            (long long)g->dil[1]);
}

static void planes_case(cnnc__isa isa, const cnnc__window *g) {
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g), ksz = cnnc__window_k_size(g);
    float *x = check_rng_floats(&rng, isz), *w = check_rng_floats(&rng, ksz);
    float *dy = check_rng_floats(&rng, osz), *dx = check_rng_floats(&rng, isz);
    float *y = malloc((size_t)osz * 4), *yr = malloc((size_t)osz * 4), *dxr = malloc((size_t)isz * 4);
    float *dw = calloc((size_t)ksz, 4), *dwr = calloc((size_t)ksz, 4);
    const float bias = rnd(0, 1) ? 0.0f : 0.375f;
    cnnc__dwconv_forward_plane(isa, y, x, w, bias, g);
    cnnc__dwconv_forward_plane_ref(yr, x, w, bias, g);
    CHECK(max_rel(y, yr, osz) < 1e-5);
    if (isa == CNNC__ISA_AVX512) { /* the square kernels take every case but dilated W */
        forward_fma_order(yr, x, w, bias, g);
        CHECK(memcmp(y, yr, (size_t)osz * 4) == 0);
    }
    cnnc__dwconv_backward_data_plane(isa, dx, dy, w, g, false); /* over garbage */
    memset(dxr, 0, (size_t)isz * 4);
    cnnc__dwconv_backward_data_plane_ref(dxr, dy, w, g);
    CHECK(max_rel(dx, dxr, isz) < 1e-5);
    cnnc__dwconv_backward_data_plane(isa, dx, dy, w, g, true);
    cnnc__dwconv_backward_data_plane_ref(dxr, dy, w, g);
    CHECK(max_rel(dx, dxr, isz) < 1e-5);
    cnnc__dwconv_backward_weight_plane(isa, dw, dy, x, g);
    cnnc__dwconv_backward_weight_plane_ref(dwr, dy, x, g);
    CHECK(max_rel(dw, dwr, ksz) < 1e-5);
    free(x), free(w), free(dy), free(dx), free(y), free(yr), free(dxr), free(dw), free(dwr);
}

static void planes_at(cnnc__isa isa) {
    const int before = check_current_failures_;
    for (int it = 0; it < 400; it++) {
        const cnnc__window g = dw_geom();
        planes_case(isa, &g);
        if (check_current_failures_ != before) {
            print_geom(it, &g);
            break;
        }
    }
}

/* Runs body at every level this CPU runs, capped to it meanwhile, from the same seed. */
static void each_level(const char *what, void (*body)(cnnc__isa)) {
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        const cnnc__isa isa = (cnnc__isa)l;
        REQUIRE(cnnc__isa_set_cap(isa));
        printf("test_conv_dw: %s at level %s (%s)\n", what, cnnc__isa_name(isa),
               cnnc__dwconv_variant(isa));
        fflush(stdout);
        rng = 0x6A09E667F3BCC908u;
        body(isa);
    }
    CHECK(cnnc__isa_set_cap(saved));
}

static void test_planes(void) { each_level("planes", planes_at); }

/* Runs of n planes (cnnc__dwconv_*_planes: AVX-512's flat kernels on small "same"
 * planes, stride 1, padding (k - 1) / 2, up to 256 floats; with stride 2 and even
 * sizes the backward-data by phases; its square kernels on the others, tables built
 * once per run; other levels plane by plane) against the reference plane by plane:
 * forward (at AVX-512 the bits of bias and the taps fused-multiply-added in (q1, q2)
 * order), backward-data written over garbage, backward-weight accumulated over two
 * images. */
/* The forward with an activation (cnnc__dwconv_forward_planes_act: ReLU and Hardtanh
 * in the band kernels' registers, others as a pass) against y, the run's forward, then
 * the activation's pass: the same bits. */
static void forward_act_case(cnnc__isa isa, const cnnc__window *g, int64_t n, const float *x,
                             const float *w, const float *bias, const float *y) {
    static const cnnc__conv_epilogue acts[] = {
        {.act = true, .op = CNNC__ACT_RELU},
        {.act = true, .op = CNNC__ACT_HARDTANH, .p = {0.0f, 6.0f, 0.0f}},
        {.act = true, .op = CNNC__ACT_HARDTANH, .p = {-0.5f, 0.25f, 0.0f}},
        {.act = true, .op = CNNC__ACT_SILU},
        {.act = false}};
    const cnnc__conv_epilogue *act = &acts[rnd(0, 4)];
    const int64_t osz = cnnc__window_out_size(g);
    float *ya = malloc((size_t)(n * osz) * 4), *yr = malloc((size_t)(n * osz) * 4);
    memcpy(yr, y, (size_t)(n * osz) * 4);
    cnnc__conv_epilogue_act(isa, act, yr, n * osz);
    cnnc__dwconv_forward_planes_act(isa, ya, x, w, bias, n, g, act);
    CHECK(memcmp(ya, yr, (size_t)(n * osz) * 4) == 0);
    free(ya), free(yr);
}

static void runs_case(cnnc__isa isa, const cnnc__window *g, int64_t n) {
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    const int64_t ksz = cnnc__window_k_size(g);
    /* two images of n planes: the weight gradient sums over both */
    float *x = check_rng_floats(&rng, 2 * n * isz), *w = check_rng_floats(&rng, n * ksz);
    float *dy = check_rng_floats(&rng, 2 * n * osz), *dx = check_rng_floats(&rng, n * isz);
    float *bias = check_rng_floats(&rng, n), *dw = check_rng_floats(&rng, n * ksz);
    float *y = malloc((size_t)(n * osz) * 4), *yr = malloc((size_t)osz * 4);
    float *dxr = malloc((size_t)isz * 4), *dwr = malloc((size_t)(n * ksz) * 4);
    memcpy(dwr, dw, (size_t)(n * ksz) * 4);
    const bool with_bias = rnd(0, 1);
    cnnc__dwconv_forward_planes(isa, y, x, w, with_bias ? bias : NULL, n, g);
    forward_act_case(isa, g, n, x, w, with_bias ? bias : NULL, y);
    cnnc__dwconv_backward_data_planes(isa, dx, dy, w, n, g);
    const cnnc__dw_images two = {2, n * osz, n * isz};
    cnnc__dwconv_backward_weight_planes(isa, dw, dy, x, n, two, g);
    for (int64_t i = 0; i < n; i++) {
        const float b = with_bias ? bias[i] : 0.0f;
        cnnc__dwconv_forward_plane_ref(yr, x + i * isz, w + i * ksz, b, g);
        CHECK(max_rel(y + i * osz, yr, osz) < 1e-5);
        if (isa == CNNC__ISA_AVX512) {
            forward_fma_order(yr, x + i * isz, w + i * ksz, b, g);
            CHECK(memcmp(y + i * osz, yr, (size_t)osz * 4) == 0);
        }
        memset(dxr, 0, (size_t)isz * 4);
        cnnc__dwconv_backward_data_plane_ref(dxr, dy + i * osz, w + i * ksz, g);
        CHECK(max_rel(dx + i * isz, dxr, isz) < 1e-5);
        for (int64_t b = 0; b < 2; b++)
            cnnc__dwconv_backward_weight_plane_ref(dwr + i * ksz, dy + (b * n + i) * osz,
                                                   x + (b * n + i) * isz, g);
    }
    CHECK(max_rel(dw, dwr, n * ksz) < 1e-5);
    free(x), free(w), free(dy), free(dx), free(bias), free(dw);
    free(y), free(yr), free(dxr), free(dwr);
}

static void runs_at(cnnc__isa isa) {
    const int before = check_current_failures_;
    for (int it = 0; it < 300; it++) {
        cnnc__window g;
        memset(&g, 0, sizeof g);
        g.n = 1, g.c = g.m = g.groups = 2;
        for (int d = 0; d < 3; d++) g.in[d] = g.out[d] = g.k[d] = g.stride[d] = g.dil[d] = 1;
        const bool same = rnd(0, 2) > 0;
        const int64_t k = rnd(0, 2) ? 3 : 5, pad = same ? (k - 1) / 2 : rnd(0, 2);
        g.k[1] = g.k[2] = k;
        for (int d = 1; d < 3; d++) { /* mostly small planes, stride 1 or 2 */
            g.pad[d] = pad;
            g.stride[d] = rnd(0, 1) ? 1 : 2;
            g.in[d] = rnd(1, rnd(0, 3) ? 16 : 40);
            if (g.stride[d] == 2 && rnd(0, 1)) g.in[d] += g.in[d] % 2; /* twice the output */
            if (g.in[d] + 2 * pad < k) g.in[d] = k - 2 * pad;
            g.out[d] = (g.in[d] + 2 * pad - k) / g.stride[d] + 1;
        }
        runs_case(isa, &g, rnd(1, 9));
        if (check_current_failures_ != before) {
            print_geom(it, &g);
            break;
        }
    }
}

static void test_runs(void) { each_level("runs of planes", runs_at); }

/* The AVX2 band kernels (conv_dw_band_avx2.c) called directly, where the CPU runs
 * AVX2: runs of n planes, K 3 or 5, the same stride 1 or 2 in H and W, padding 0 .. K - 1
 * per dim, planes from 1x1 to 150 wide and 240 tall (several bands of the buffer), widths
 * around the 8-lane groups (the forward declines 5x5 filters on outputs wider than 32,
 * backward-weight those outputs and 5x5 filters, the stride-1 backward-data inputs wider
 * than 64).
 * The forward must give the bits of bias + the taps fused-multiply-added in (q1, q2)
 * order; backward-data (written over garbage) and backward-weight (summed over two
 * images) the reference's values; nothing may be written past the run (the rows' last
 * vectors may write into the next row). */
enum { BAND_GUARD = 16 };

static bool guard_intact(const float *p, int64_t n) {
    for (int64_t i = 0; i < BAND_GUARD; i++)
        if (p[n + i] != 1234.5f) return false;
    return true;
}

static float clamp_ref(float v, const cnnc__conv_clamp *c) { /* hardtanh's formula */
    v = v < c->lo ? c->lo : v;
    return v > c->hi ? c->hi : v;
}

/* The band forward with an epilogue (cnnc__dw_fwd_ep): input planes xstep apart (NaN in
 * the gaps: never read) or consecutive (0), output planes ystep apart (the gaps
 * untouched), the input's bias and clamp as it is read and the output's clamp
 * (ReLU's (0, inf) or a narrow one, each or both left out) must give the bits of the
 * input's epilogue, the FMA order and the clamp one after the other. */
static void band_ep_case(const cnnc__window *g, int64_t n, const float *x, const float *w,
                         const float *bias, bool y_done) {
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    const int64_t ksz = cnnc__window_k_size(g), ystep = osz + rnd(0, 1) * rnd(1, 9);
    static const cnnc__conv_clamp relu = {0.0f, INFINITY}, narrow = {-0.3f, 0.4f};
    const int pick = (int)rnd(0, 3);
    const cnnc__conv_clamp *clamp = pick == 0 ? NULL : pick == 1 ? &relu : &narrow;
    const cnnc__conv_clamp *xclamp = rnd(0, 2) == 0 ? NULL : rnd(0, 1) ? &relu : &narrow;
    const float *xbias = rnd(0, 2) ? bias : NULL;
    const int64_t xstep = rnd(0, 1) ? isz + rnd(1, 9) : 0, xs = xstep ? xstep : isz;
    const cnnc__dw_fwd_ep ep = {.ystep = ystep, .clamp = clamp, .xbias = xbias, .xclamp = xclamp,
                                .xstep = xstep};
    float *y = malloc((size_t)(n * ystep + BAND_GUARD) * 4), *yr = malloc((size_t)osz * 4);
    float *xe = malloc((size_t)isz * 4), *xp = malloc((size_t)(n * xs) * 4); /* [n, xs] */
    for (int64_t i = 0; i < n * ystep + BAND_GUARD; i++) y[i] = 1234.5f;
    for (int64_t i = 0; i < n; i++)
        for (int64_t t = 0; t < xs; t++) xp[i * xs + t] = t < isz ? x[i * isz + t] : NAN;
    CHECK(cnnc__dw_band_forward_avx2(y, xp, w, bias, n, g, &ep) == y_done);
    for (int64_t i = 0; i < n && y_done; i++) {
        for (int64_t t = 0; t < isz; t++) {
            const float v = xbias ? x[i * isz + t] + xbias[i] : x[i * isz + t];
            xe[t] = xclamp ? clamp_ref(v, xclamp) : v;
        }
        forward_fma_order(yr, xe, w + i * ksz, bias[i], g);
        for (int64_t t = 0; t < osz && clamp; t++) yr[t] = clamp_ref(yr[t], clamp);
        CHECK(memcmp(y + i * ystep, yr, (size_t)osz * 4) == 0);
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t t = osz; t < ystep; t++) CHECK(y[i * ystep + t] == 1234.5f);
    CHECK(guard_intact(y, n * ystep));
    free(y), free(yr), free(xe), free(xp);
}

/* The band forward from planes split ahead (cnnc__dwconv_split_rows; taken at stride 2
 * on outputs 24 wide or more or a multiple of 8, 3x3 or narrow 5x5), xstep apart (NaN
 * in the gaps) or consecutive, with or without the output's clamp: the bits of the
 * unsplit forward; declined with an input epilogue. */
static void band_split_case(const cnnc__window *g, int64_t n, const float *x, const float *w,
                            const float *bias, bool y_done) {
    const bool fits = cnnc__dwconv_split_fits(CNNC__ISA_AVX2, g);
    const int64_t ow = g->out[2];
    CHECK(fits == (y_done && g->stride[1] == 2 && ow >= 8 && (ow >= 24 || ow % 8 == 0)));
    if (!fits) return;
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    const int64_t ksz = cnnc__window_k_size(g), ld = cnnc__dwconv_split_ld(g);
    const int64_t ssz = g->in[1] * ld, xstep = rnd(0, 1) ? ssz + rnd(1, 9) : 0;
    const int64_t xs = xstep ? xstep : ssz;
    static const cnnc__conv_clamp narrow = {-0.3f, 0.4f};
    const cnnc__conv_clamp *clamp = rnd(0, 1) ? &narrow : NULL;
    cnnc__dw_fwd_ep ep = {.ystep = osz, .clamp = clamp, .xstep = xstep, .xsplit = true};
    float *xp = malloc((size_t)(n * xs) * 4), *y = malloc((size_t)(n * osz + BAND_GUARD) * 4);
    float *yr = malloc((size_t)osz * 4);
    for (int64_t i = 0; i < n * xs; i++) xp[i] = NAN;
    for (int64_t i = 0; i < n; i++)
        cnnc__dwconv_split_rows(CNNC__ISA_AVX2, xp + i * xs, x + i * isz, g->in[1], g);
    for (int64_t i = 0; i < n * osz + BAND_GUARD; i++) y[i] = 1234.5f;
    CHECK(cnnc__dw_band_forward_avx2(y, xp, w, bias, n, g, &ep));
    for (int64_t i = 0; i < n; i++) {
        forward_fma_order(yr, x + i * isz, w + i * ksz, bias[i], g);
        for (int64_t t = 0; t < osz && clamp; t++) yr[t] = clamp_ref(yr[t], clamp);
        CHECK(memcmp(y + i * osz, yr, (size_t)osz * 4) == 0);
    }
    CHECK(guard_intact(y, n * osz));
    ep.xbias = bias;
    CHECK(!cnnc__dw_band_forward_avx2(y, xp, w, bias, n, g, &ep));
    free(xp), free(y), free(yr);
}

static void band_case(const cnnc__window *g, int64_t n) {
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    const int64_t ksz = cnnc__window_k_size(g);
    float *x = check_rng_floats(&rng, 2 * n * isz), *w = check_rng_floats(&rng, n * ksz);
    float *dy = check_rng_floats(&rng, 2 * n * osz), *bias = check_rng_floats(&rng, n);
    float *y = malloc((size_t)(n * osz + BAND_GUARD) * 4);
    float *dx = check_rng_floats(&rng, n * isz + BAND_GUARD);
    float *dw = check_rng_floats(&rng, n * ksz), *dwr = malloc((size_t)(n * ksz) * 4);
    float *yr = malloc((size_t)osz * 4), *dxr = malloc((size_t)isz * 4);
    for (int64_t i = 0; i < BAND_GUARD; i++) y[n * osz + i] = dx[n * isz + i] = 1234.5f;
    memcpy(dwr, dw, (size_t)(n * ksz) * 4);
    const bool with_bias = rnd(0, 1), narrow = g->out[2] <= 32;
    const bool weight = (narrow || g->in[2] <= 64) && g->k[1] == 3;
    const bool y_done = narrow || g->k[1] == 3;
    CHECK(cnnc__dw_band_forward_avx2(y, x, w, with_bias ? bias : NULL, n, g, NULL) == y_done);
    const bool dx_done = g->stride[1] == 2 || g->in[2] <= 64;
    CHECK(cnnc__dw_band_backward_data_avx2(dx, dy, w, n, g) == dx_done);
    const cnnc__dw_images two = {2, n * osz, n * isz};
    CHECK(cnnc__dw_band_backward_weight_avx2(dw, dy, x, n, two, g) == weight);
    CHECK(guard_intact(y, n * osz) && guard_intact(dx, n * isz));
    for (int64_t i = 0; i < n; i++) {
        forward_fma_order(yr, x + i * isz, w + i * ksz, with_bias ? bias[i] : 0.0f, g);
        CHECK(!y_done || memcmp(y + i * osz, yr, (size_t)osz * 4) == 0);
        memset(dxr, 0, (size_t)isz * 4);
        cnnc__dwconv_backward_data_plane_ref(dxr, dy + i * osz, w + i * ksz, g);
        CHECK(!dx_done || max_rel(dx + i * isz, dxr, isz) < 1e-5);
        for (int64_t b = 0; b < 2 && weight; b++)
            cnnc__dwconv_backward_weight_plane_ref(dwr + i * ksz, dy + (b * n + i) * osz,
                                                   x + (b * n + i) * isz, g);
    }
    CHECK(max_rel(dw, dwr, n * ksz) < 1e-5);
    band_ep_case(g, n, x, w, bias, y_done);
    band_split_case(g, n, x, w, bias, y_done);
    free(x), free(w), free(dy), free(bias), free(y), free(dx), free(dw), free(dwr), free(yr);
    free(dxr);
}

/* A square K x K window, the same stride s in H and W, paddings p1, p2, input h x w. */
static cnnc__window band_geom(int64_t k, int64_t s, int64_t p1, int64_t p2, int64_t h,
                              int64_t w) {
    cnnc__window g;
    memset(&g, 0, sizeof g);
    g.n = 1, g.c = g.m = g.groups = 2;
    for (int d = 0; d < 3; d++) g.in[d] = g.out[d] = g.k[d] = g.stride[d] = g.dil[d] = 1;
    const int64_t pad[3] = {0, p1, p2}, in[3] = {1, h, w};
    for (int d = 1; d < 3; d++) {
        g.k[d] = k, g.stride[d] = s, g.pad[d] = pad[d];
        g.in[d] = in[d] + 2 * pad[d] < k ? k - 2 * pad[d] : in[d];
        g.out[d] = (g.in[d] + 2 * pad[d] - k) / s + 1;
    }
    return g;
}

static void test_band_avx2(void) {
#if CNNC__ISA_X86
    if (cnnc__isa_cpu() < CNNC__ISA_AVX2) return;
    const int before = check_current_failures_;
    static const int64_t edges[][6] = {
        /* k, s, p1, p2, h, w: MobileNet's planes, 1x1, widths 7 .. 17, the paddings' ends,
         * tall and wide planes (bands), odd sizes at stride 2, tall planes with rows up to
         * 32 outputs (the forward's bands), 3x3 outputs 33 .. 130 wide (the forward's
         * wide rows: 3-row blocks of two vectors and the rest; the weight gradient's
         * bands on input rows up to 64) */
        {3, 1, 1, 1, 7, 7},    {3, 1, 1, 1, 14, 14},  {3, 2, 1, 1, 14, 14},  {3, 2, 1, 1, 56, 56},
        {3, 1, 1, 1, 112, 112}, {3, 2, 1, 1, 112, 112}, {3, 1, 0, 0, 1, 1},  {5, 1, 4, 4, 1, 1},
        {3, 1, 1, 1, 8, 8},    {3, 1, 1, 1, 9, 9},    {3, 2, 1, 1, 15, 17},  {3, 2, 0, 2, 16, 16},
        {5, 2, 2, 2, 33, 150}, {5, 1, 0, 4, 120, 9}, {3, 1, 2, 0, 120, 150},
        {3, 2, 2, 1, 119, 149}, {3, 1, 1, 1, 120, 32}, {3, 2, 1, 1, 240, 64},
        {5, 1, 2, 2, 100, 30}, {3, 1, 1, 1, 9, 33},  {3, 2, 1, 1, 10, 66},  {3, 1, 0, 0, 5, 130},
        {3, 2, 0, 1, 7, 67},   {3, 1, 2, 2, 4, 41},   {3, 2, 2, 2, 11, 130}, {3, 1, 1, 1, 56, 56},
        {3, 1, 0, 2, 31, 57},  {3, 2, 1, 0, 29, 113}};
    const int64_t nedge = (int64_t)(sizeof edges / sizeof edges[0]);
    for (int64_t it = 0; it < nedge + 300; it++) {
        const int64_t *e = edges[it < nedge ? it : 0];
        const int64_t k = rnd(0, 2) ? 3 : 5, big = rnd(0, 7) == 0;
        const cnnc__window g =
            it < nedge ? band_geom(e[0], e[1], e[2], e[3], e[4], e[5])
                       : band_geom(k, rnd(1, 2), rnd(0, k - 1), rnd(0, k - 1),
                                   rnd(1, big ? 120 : 20), rnd(1, big ? 150 : 30));
        band_case(&g, rnd(1, big || it < nedge ? 3 : 6));
        if (check_current_failures_ != before) {
            print_geom((int)it, &g);
            break;
        }
    }
    /* split runs of 8 or more planes on outputs 8 and 16 wide at stride 2: geometries the
     * channels-last groups (conv_dw_cl_avx2.c) take unsplit, and must leave to the bands
     * split (taking them read the split rows as planes: 10 failed checks) */
    static const int64_t cl[][6] = {{3, 2, 1, 1, 16, 16}, {3, 2, 1, 1, 31, 31}, {3, 2, 0, 2, 20, 32}};
    for (int64_t it = 0; it < 6; it++) {
        const int64_t *e = cl[it % 3], n = 8 + it;
        const cnnc__window g = band_geom(e[0], e[1], e[2], e[3], e[4], e[5]);
        const int64_t isz = cnnc__window_in_size(&g);
        float *x = check_rng_floats(&rng, n * isz), *w = check_rng_floats(&rng, n * 9);
        float *bias = check_rng_floats(&rng, n);
        band_split_case(&g, n, x, w, bias, true);
        free(x), free(w), free(bias);
    }
#endif
}

/* The band weight gradient's blocks of filters: in a run of planes crossing them (70:
 * blocks of 32, 32 and 6), every filter gets the bits of its plane run alone (the same
 * FMAs in the same order), over two images. */
static void test_band_weight_blocks_avx2(void) {
#if CNNC__ISA_X86
    if (cnnc__isa_cpu() < CNNC__ISA_AVX2) return;
    static const int64_t geoms[][2] = {{1, 14}, {2, 14}, {1, 7}, {2, 28}, {2, 9}}; /* s, size */
    enum { N = 70 };
    for (size_t t = 0; t < sizeof geoms / sizeof geoms[0]; t++) {
        const cnnc__window g = band_geom(3, geoms[t][0], 1, 1, geoms[t][1], geoms[t][1]);
        const int64_t isz = cnnc__window_in_size(&g), osz = cnnc__window_out_size(&g);
        float *x = check_rng_floats(&rng, 2 * N * isz), *dy = check_rng_floats(&rng, 2 * N * osz);
        float *dw = calloc(N * 9, 4), one[9];
        const cnnc__dw_images two = {2, N * osz, N * isz};
        CHECK(cnnc__dw_band_backward_weight_avx2(dw, dy, x, N, two, &g));
        for (int64_t i = 0; i < N; i++) {
            memset(one, 0, sizeof one);
            CHECK(cnnc__dw_band_backward_weight_avx2(one, dy + i * osz, x + i * isz, 1, two, &g));
            CHECK(memcmp(one, dw + i * 9, sizeof one) == 0);
        }
        free(x), free(dy), free(dw);
    }
#endif
}

/* The band forward's small planes (outputs up to 8 wide at stride 1 read in place by
 * masked loads, no buffer): every square plane 1x1 .. 16x16, 3x3 and 5x5, stride 1 and
 * 2, padding 0 and 1, runs of 1 .. 4 planes, each three times (band_ep_case's
 * epilogues drawn anew). */
static void test_band_small_avx2(void) {
#if CNNC__ISA_X86
    if (cnnc__isa_cpu() < CNNC__ISA_AVX2) return;
    const int before = check_current_failures_;
    for (int64_t h = 1; h <= 16; h++)
        for (int64_t k = 3; k <= 5; k += 2)
            for (int64_t s = 1; s <= 2; s++)
                for (int64_t p = 0; p <= 1; p++)
                    for (int rep = 0; rep < 3; rep++) {
                        const cnnc__window g = band_geom(k, s, p, p, h, h);
                        band_case(&g, rnd(1, 4));
                        if (check_current_failures_ != before) {
                            print_geom((int)h, &g);
                            return;
                        }
                    }
#endif
}

/* The band forward on a run of n planes that ends where an inaccessible page begins
 * (the fills' loads may run into a plane's next row, never past its last one), with
 * no epilogue or (pre) the input's bias and ReLU as it is read: the bits of
 * forward_fma_order. */
static void band_end_case(const cnnc__window *g, int64_t n, bool pre) {
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    const int64_t ksz = cnnc__window_k_size(g);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = (size_t)(n * isz) * 4;
    const size_t len = (bytes + page - 1) / page * page;
    char *map = mmap(NULL, len + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    if (map == MAP_FAILED) return;
    CHECK(mprotect(map + len, page, PROT_NONE) == 0);
    float *x = (float *)(map + len - bytes); /* [n, isz], ending at the guard page */
    float *xr = check_rng_floats(&rng, n * isz), *w = check_rng_floats(&rng, n * ksz);
    float *bias = check_rng_floats(&rng, n), *y = malloc((size_t)(n * osz + BAND_GUARD) * 4);
    float *yr = malloc((size_t)osz * 4);
    memcpy(x, xr, bytes);
    for (int64_t i = 0; i < n * osz + BAND_GUARD; i++) y[i] = 1234.5f;
    static const cnnc__conv_clamp relu = {0.0f, INFINITY};
    const cnnc__dw_fwd_ep ep = {.ystep = osz, .xbias = bias, .xclamp = &relu};
    CHECK(cnnc__dw_band_forward_avx2(y, x, w, bias, n, g, pre ? &ep : NULL));
    for (int64_t i = 0; i < n; i++) {
        for (int64_t t = 0; t < isz && pre; t++)
            xr[i * isz + t] = clamp_ref(xr[i * isz + t] + bias[i], &relu);
        forward_fma_order(yr, xr + i * isz, w + i * ksz, bias[i], g);
        CHECK(memcmp(y + i * osz, yr, (size_t)osz * 4) == 0);
    }
    CHECK(guard_intact(y, n * osz));
    munmap(map, len + page);
    free(xr), free(w), free(bias), free(y), free(yr);
}

/* band_end_case on 3x3 planes 1 .. 12 tall and 1 .. 40 wide (row tails of every
 * length in both fills), stride 1 and 2, padding 0 and 1, runs of 1 .. 3 planes. */
static void test_band_end_avx2(void) {
#if CNNC__ISA_X86
    if (cnnc__isa_cpu() < CNNC__ISA_AVX2) return;
    const int before = check_current_failures_;
    for (int64_t h = 1; h <= 12; h++)
        for (int64_t w = 1; w <= 40; w++)
            for (int64_t s = 1; s <= 2; s++)
                for (int64_t p = 0; p <= 1; p++) {
                    const cnnc__window g = band_geom(3, s, p, p, h, w);
                    band_end_case(&g, rnd(1, 3), rnd(0, 1));
                    if (check_current_failures_ != before) {
                        print_geom((int)w, &g);
                        return;
                    }
                }
#endif
}

/* The band forward's groups of 8 planes channels-last (conv_dw_cl_avx2.c, then the
 * bands on the rest of the run): runs of 1 .. 40 planes of 1x1 .. 30x30 (3x3, stride 1
 * or 2, padding 0 .. 2 per dim; the groups take outputs up to 8 wide at stride 1, 16 at
 * stride 2), with and without a bias and the output's clamp, inputs with NaN,
 * infinities and -0 sprinkled in or not: the bits of forward_fma_order then the clamp
 * (the filters and bias finite and the bias never -0, where every way of treating a
 * tap on padding gives the same bits), nothing written past the run. Then the
 * epilogues of band_ep_case (the input's ones declined by the groups) and runs ending
 * where an inaccessible page begins. */
static void cl_case(const cnnc__window *g, int64_t n) {
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    float *x = check_rng_floats(&rng, n * isz), *w = check_rng_floats(&rng, n * 9);
    float *bias = check_rng_floats(&rng, n), *yr = malloc((size_t)osz * 4);
    float *y = malloc((size_t)(n * osz + BAND_GUARD) * 4);
    static const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f};
    for (int64_t i = 0; i < n * isz && rnd(0, 1); i++)
        if (rnd(0, 9) == 0) x[i] = special[rnd(0, 4)];
    for (int64_t i = 0; i < n * osz + BAND_GUARD; i++) y[i] = 1234.5f;
    static const cnnc__conv_clamp relu6 = {0.0f, 6.0f}, narrow = {-0.3f, 0.4f};
    const int pick = (int)rnd(0, 3);
    const cnnc__conv_clamp *clamp = pick == 1 ? &relu6 : pick == 2 ? &narrow : NULL;
    const cnnc__dw_fwd_ep ep = {.ystep = osz, .clamp = clamp};
    const bool with_bias = rnd(0, 1);
    CHECK(cnnc__dw_band_forward_avx2(y, x, w, with_bias ? bias : NULL, n, g, pick ? &ep : NULL));
    for (int64_t i = 0; i < n; i++) {
        forward_fma_order(yr, x + i * isz, w + i * 9, with_bias ? bias[i] : 0.0f, g);
        for (int64_t t = 0; t < osz && clamp; t++) yr[t] = clamp_ref(yr[t], clamp);
        CHECK(memcmp(y + i * osz, yr, (size_t)osz * 4) == 0);
    }
    CHECK(guard_intact(y, n * osz));
    band_ep_case(g, n, x, w, bias, true);
    free(x), free(w), free(bias), free(yr), free(y);
}

static void test_cl_avx2(void) {
#if CNNC__ISA_X86
    if (cnnc__isa_cpu() < CNNC__ISA_AVX2) return;
    const int before = check_current_failures_;
    static const int64_t edges[][5] = {/* s, p1, p2, h, w: MobileNetV2's, 1x1, ends */
                                       {1, 1, 1, 14, 14}, {1, 1, 1, 7, 7},  {2, 1, 1, 14, 14},
                                       {2, 1, 1, 28, 28}, {2, 1, 1, 56, 56}, {1, 0, 0, 1, 1},
                                       {1, 2, 2, 1, 1},   {2, 2, 2, 1, 1},  {1, 1, 1, 16, 16},
                                       {2, 0, 0, 58, 57}, {1, 2, 0, 30, 12}};
    const int64_t nedge = (int64_t)(sizeof edges / sizeof edges[0]);
    for (int64_t it = 0; it < nedge + 400; it++) {
        const int64_t *e = edges[it < nedge ? it : 0];
        const cnnc__window g =
            it < nedge ? band_geom(3, e[0], e[1], e[2], e[3], e[4])
                       : band_geom(3, rnd(1, 2), rnd(0, 2), rnd(0, 2), rnd(1, 30),
                                   rnd(1, rnd(0, 1) ? 12 : 30));
        cl_case(&g, it < nedge ? 40 : rnd(1, 40));
        if (check_current_failures_ != before) {
            print_geom((int)it, &g);
            return;
        }
    }
    for (int64_t h = 1; h <= 16; h += 3)
        for (int64_t s = 1; s <= 2; s++)
            for (int64_t p = 0; p <= 2; p++) {
                const cnnc__window g = band_geom(3, s, p, p, h, h + rnd(0, 2));
                band_end_case(&g, rnd(8, 20), rnd(0, 1));
                if (check_current_failures_ != before) {
                    print_geom((int)h, &g);
                    return;
                }
            }
#endif
}

/* Through the driver: values as the reference's, the same bits at 1 and 2 threads.
 * n images of c planes h x w, 3x3, stride and padding in both dims. */
static void driver_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride, int64_t pad) {
    cnnc__window g;
    memset(&g, 0, sizeof g);
    g.n = n, g.c = g.m = g.groups = c;
    for (int d = 0; d < 3; d++) g.in[d] = g.out[d] = g.k[d] = g.stride[d] = g.dil[d] = 1;
    g.in[1] = h, g.in[2] = w;
    g.k[1] = g.k[2] = 3;
    g.stride[1] = g.stride[2] = stride;
    g.pad[1] = g.pad[2] = pad;
    g.out[1] = (h + 2 * pad - 3) / stride + 1, g.out[2] = (w + 2 * pad - 3) / stride + 1;
    const int64_t nx = n * c * h * w, ny = n * c * g.out[1] * g.out[2], nw = c * 9;
    float *x = check_rng_floats(&rng, nx), *wt = check_rng_floats(&rng, nw);
    float *b = check_rng_floats(&rng, c), *dy = check_rng_floats(&rng, ny);
    float *out[2][3], *ref[3];
    ref[0] = malloc((size_t)ny * 4), ref[1] = malloc((size_t)nx * 4), ref[2] = malloc((size_t)nw * 4);
    cnnc__conv_ref_forward(ref[0], x, wt, b, &g);
    cnnc__conv_ref_backward_data(ref[1], dy, wt, &g);
    cnnc__conv_ref_backward_weight(ref[2], dy, x, &g);
    for (int t = 0; t < 2; t++) {
        out[t][0] = malloc((size_t)ny * 4), out[t][1] = malloc((size_t)nx * 4);
        out[t][2] = malloc((size_t)nw * 4);
        CHECK_OK(cnnc_set_num_threads(t + 1));
        CHECK_OK(cnnc__conv_run_forward(&g, out[t][0], x, wt, b, true));
        CHECK_OK(cnnc__conv_run_backward_data(&g, out[t][1], dy, wt, true));
        CHECK_OK(cnnc__conv_run_backward_weight(&g, out[t][2], dy, x));
    }
    const int64_t sizes[3] = {ny, nx, nw};
    for (int i = 0; i < 3; i++) {
        CHECK(max_rel(out[0][i], ref[i], sizes[i]) < 1e-5);
        CHECK(memcmp(out[0][i], out[1][i], (size_t)sizes[i] * 4) == 0);
        free(out[0][i]), free(out[1][i]), free(ref[i]);
    }
    free(x), free(wt), free(b), free(dy);
}

static void drivers_at(cnnc__isa isa) {
    (void)isa; /* the drivers run at the capped level */
    driver_case(2, 12, 56, 56, 1, 1); /* the bench's shapes, scaled down */
    driver_case(2, 12, 56, 56, 2, 1);
    /* stride 2 (the row blocks prefetch past each plane, into the next or past the
     * tensor): MobileNetV2's planes scaled down, batch 1, odd sizes, widths off 16,
     * padding 0 and 1, tiny planes */
    driver_case(2, 5, 112, 112, 2, 1);
    driver_case(1, 7, 28, 28, 2, 1);
    driver_case(3, 9, 14, 14, 2, 1);
    driver_case(1, 3, 57, 43, 2, 0);
    driver_case(2, 4, 31, 75, 2, 1);
    driver_case(1, 6, 5, 3, 2, 0);
    driver_case(1, 5, 3, 4, 2, 1);
    driver_case(1, 2, 1, 1, 2, 1);
    /* stride 1 small planes (the flat kernels up to 16x16, the weight gradient over
     * the images at once), 28x28 past them */
    driver_case(3, 9, 7, 7, 1, 1);
    driver_case(2, 5, 14, 14, 1, 1);
    driver_case(3, 4, 16, 16, 1, 1);
    driver_case(2, 3, 28, 28, 1, 1);
    driver_case(2, 3, 5, 9, 1, 1);
    /* runs of 8-plane groups and their rest (the threads split them anywhere) */
    driver_case(2, 40, 14, 14, 1, 1);
    driver_case(3, 27, 7, 7, 1, 1);
    driver_case(2, 19, 28, 28, 2, 1);
    driver_case(2, 33, 14, 14, 2, 1);
    driver_case(1, 17, 9, 13, 1, 2);
    CHECK_OK(cnnc_set_num_threads(2));
}

static void test_drivers(void) { each_level("drivers", drivers_at); }

/* A depthwise weight against an input with another channel count: PyTorch's message. */
static void test_errors(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(1, 3, 8, 8), CNNC_FLOAT32);
    cnnc_tensor *w = cnnc_zeros(CNNC_SHAPE(4, 1, 3, 3), CNNC_FLOAT32);
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.groups = 4)));
    CHECK_ERROR_CONTAINS("Given groups=4, weight of size [4, 1, 3, 3], expected input[1, 3, 8, 8] "
                         "to have 4 channels, but got 3 channels instead");
    cnnc_scope_end();
}

int main(void) {
    RUN_TEST(test_planes);
    RUN_TEST(test_runs);
    RUN_TEST(test_band_avx2);
    RUN_TEST(test_band_small_avx2);
    RUN_TEST(test_band_weight_blocks_avx2);
    RUN_TEST(test_band_end_avx2);
    RUN_TEST(test_cl_avx2);
    RUN_TEST(test_drivers);
    RUN_TEST(test_errors);
    cnnc_thread_cleanup();
    return check_summary();
}
