/* The direct small-channel convolution (kernels/conv_direct.h, ops/conv_direct.c):
 * the kernels against their definition over the wide columns of the phase planes
 * (every channel count up to past two channel blocks, column counts that are not a
 * multiple of the vector or tile; the channels-in-lanes forward bit-identical with the
 * wide one), and the drivers (forward with bias, the stride-1
 * input gradient run as a flipped forward, the weight gradient) against the reference
 * kernels on random geometries with few input channels (fixed seed) and edge cases:
 * 1-wide maps, padding past the kernel's reach, strides 2-4, dilation, groups, batch 1;
 * bit-identical at 1 and 2 threads, the path taken checked; an inf in the input sends
 * the weight gradient to another path with the reference's NaN pattern. The forward by
 * output rows (AVX2) bit-identical with the wide one, also with its in-register
 * epilogue and over maps of several groups of tiles, and its drivers on edge cases of
 * its own. Every case at every ISA level
 * this CPU runs. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/conv_direct.h"
#include "kernels/isa.h"
#include "ops/conv.h"
#include "ops/conv_direct.h"

static uint64_t rng_state;

static int64_t rnd(int64_t lo, int64_t hi) { return check_rng_int(&rng_state, lo, hi); }
static float *rand_buf(int64_t n) { return check_rng_floats(&rng_state, n); }

/* Runs body at every level this CPU runs (kernels capped to it), the generator restarted. */
static void each_level(const char *what, void (*body)(cnnc__isa), uint64_t seed) {
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        const cnnc__isa isa = (cnnc__isa)l;
        REQUIRE(cnnc__isa_set_cap(isa));
        printf("test_conv_direct: %s at level %s: %s\n", what, cnnc__isa_name(isa),
               cnnc__conv_direct_variant(isa));
        fflush(stdout);
        rng_state = seed;
        body(isa);
    }
    CHECK(cnnc__isa_set_cap(saved));
}

/* A 2-d geometry (1-d when h is 1 and k1 1); output from PyTorch's formula. */
static cnnc__window geom(int64_t n, int64_t c, int64_t m, int64_t groups, int64_t h, int64_t w,
                         int64_t k1, int64_t k2, int64_t s1, int64_t s2, int64_t p1, int64_t p2,
                         int64_t d1, int64_t d2) {
    cnnc__window g = {.n = n, .c = c, .m = m, .groups = groups, .in = {1, h, w}, .k = {1, k1, k2},
                      .stride = {1, s1, s2}, .pad = {0, p1, p2}, .dil = {1, d1, d2}};
    g.out[0] = 1;
    g.out[1] = (h + 2 * p1 - d1 * (k1 - 1) - 1) / s1 + 1;
    g.out[2] = (w + 2 * p2 - d2 * (k2 - 1) - 1) / s2 + 1;
    return g;
}

static void print_geom(const char *what, const cnnc__window *g) {
    fprintf(stderr, "  %s: n=%lld c=%lld m=%lld groups=%lld in=%lldx%lld k=%lldx%lld stride=%lldx%lld "
                    "pad=%lldx%lld dil=%lldx%lld\n", what, (long long)g->n, (long long)g->c,
            (long long)g->m, (long long)g->groups, (long long)g->in[1], (long long)g->in[2],
            (long long)g->k[1], (long long)g->k[2], (long long)g->stride[1], (long long)g->stride[2],
            (long long)g->pad[1], (long long)g->pad[2], (long long)g->dil[1], (long long)g->dil[2]);
}

/* ---- the kernels against their definition ----------------------------------------- */

/* One image's planes of g (one group), with the slack zeroed; *floats their size. */
static float *planes_of(cnnc__isa isa, const cnnc__window *g, const float *x, int64_t *floats) {
    int64_t hph, wph;
    cnnc__conv_phase_geom(g, &hph, &wph);
    *floats = (g->c / g->groups) * g->stride[1] * g->stride[2] * hph * wph;
    float *ph = calloc((size_t)(*floats + CNNC__CONV_DIRECT_SLACK), sizeof(float));
    cnnc__conv_phase_split(isa, ph, x, g, 0, g->c / g->groups);
    return ph;
}

/* v < lo ? lo : v, then > hi ? hi : (hardtanh's formula) */
static float clamp_ref(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

static const cnnc__conv_direct_ep no_ep = {0};

/* The wide sums of the planes x: y [m][n] = columns [0, n) (no epilogue) */
static void wide_sums(cnnc__isa isa, float *y, int64_t n, const float *x, const int64_t *off,
                      int64_t kdim, const float *wp, int64_t m) {
    cnnc__conv_direct_forward(isa, y, n, n, x, n, off, kdim, wp, m, 1, n, &no_ep);
}

typedef void (*rows_fn)(cnnc__isa isa, float *y, int64_t ldc, int64_t ldr, const float *x,
                        int64_t xr, const int64_t *off, int64_t kdim, const float *wp, int64_t m,
                        int64_t nrows, int64_t ncol, const cnnc__conv_direct_ep *ep);

/* A forward into output rows (the wide tiles', or by output rows where the level has
 * it) against the wide sums yw [m][ho wph] of the planes ph [pf]: from a random row on
 * (the rows before untouched), with no epilogue, a bias, a bias and a clamp: the bits
 * of the wide sums followed by them, a NaN among the inputs staying NaN. */
static void rows_case(cnnc__isa isa, rows_fn fwd, const cnnc__window *g, const float *ph,
                      int64_t pf, const int64_t *off, const float *wp, int64_t kdim) {
    const int64_t m = g->m, ho = g->out[1], wo = g->out[2], r0 = rnd(0, ho - 1);
    int64_t hph, wph;
    cnnc__conv_phase_geom(g, &hph, &wph);
    float *x = malloc((size_t)(pf + CNNC__CONV_DIRECT_SLACK) * sizeof(float));
    memcpy(x, ph, (size_t)(pf + CNNC__CONV_DIRECT_SLACK) * sizeof(float));
    if (rnd(0, 1)) x[rnd(0, pf - 1)] = NAN;
    float *yw = malloc((size_t)(m * ho * wph) * sizeof(float)), *b = rand_buf(m);
    float *y = malloc((size_t)(m * ho * wo) * sizeof(float));
    wide_sums(isa, yw, ho * wph, x, off, kdim, wp, m);
    for (int e = 0; e < 3; e++) {
        const cnnc__conv_direct_ep ep = {.bias = e ? b : NULL, .clamp = e == 2, .lo = -0.25f, .hi = 0.5f};
        memset(y, 0xA5, (size_t)(m * ho * wo) * sizeof(float));
        fwd(isa, y + r0 * wo, ho * wo, wo, x + r0 * wph, wph, off, kdim, wp, m, ho - r0, wo, &ep);
        int same = 1;
        for (int64_t o = 0; o < m; o++)
            for (int64_t r = 0; r < ho; r++)
                for (int64_t p = 0; p < wo; p++) {
                    const float got = y[(o * ho + r) * wo + p];
                    float want = yw[o * ho * wph + r * wph + p];
                    if (e) want += b[o];
                    if (e == 2) want = clamp_ref(want, ep.lo, ep.hi);
                    if (r < r0) /* untouched */
                        same &= memcmp(&got, &(uint32_t){0xA5A5A5A5u}, sizeof got) == 0;
                    else
                        same &= isnan(want) ? isnan(got) : memcmp(&got, &want, sizeof got) == 0;
                }
        CHECK(same);
    }
    free(x), free(yw), free(b), free(y);
}

static void kernels_case(cnnc__isa isa, const cnnc__window *g) {
    const int64_t cg = g->c, m = g->m, kdim = cg * cnnc__window_k_size(g);
    int64_t hph, wph, pf;
    cnnc__conv_phase_geom(g, &hph, &wph);
    float *x = rand_buf(cg * cnnc__window_in_size(g)), *w = rand_buf(m * kdim);
    float *ph = planes_of(isa, g, x, &pf);
    int64_t *off = malloc((size_t)kdim * sizeof(int64_t));
    cnnc__conv_direct_offsets(off, g);
    float *wp = malloc((size_t)(m * kdim) * sizeof(float));
    cnnc__conv_direct_pack(isa, wp, w, m, kdim);
    /* forward: every wide column, from an offset column j0 (x = ph + j0) */
    const int64_t ncol = g->out[1] * wph - rnd(0, 3), j0 = rnd(0, 2) < 2 ? 0 : rnd(1, 5);
    const int64_t n = ncol - j0 > 0 ? ncol - j0 : 1;
    float *y = malloc((size_t)(m * n) * sizeof(float));
    wide_sums(isa, y, n, ph + j0, off, kdim, wp, m);
    double err = 0.0;
    for (int64_t o = 0; o < m; o++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0.0;
            for (int64_t t = 0; t < kdim; t++) s += (double)w[o * kdim + t] * ph[off[t] + j0 + j];
            const double d = fabs(y[o * n + j] - s);
            if (!(d <= err)) err = d;
        }
    CHECK(err < 1e-5 * (double)kdim);
    /* channels in the lanes: the same bits at the valid columns (j0 = 0) */
    if (m % cnnc__conv_direct_lanes(isa) == 0) {
        const int64_t ho = g->out[1], wo = g->out[2];
        float *yl = malloc((size_t)(m * ho * wo) * sizeof(float));
        float *wc = malloc((size_t)(m * kdim) * sizeof(float));
        float *yw = malloc((size_t)(m * ho * wph) * sizeof(float));
        cnnc__conv_direct_pack_lanes(isa, wc, w, m, kdim);
        cnnc__conv_direct_forward_lanes(isa, yl, ho * wo, wo, ph, wph, off, kdim, wc, m, ho, wo);
        wide_sums(isa, yw, ho * wph, ph, off, kdim, wp, m);
        int same = 1;
        for (int64_t o = 0; o < m; o++)
            for (int64_t r = 0; r < ho; r++)
                same &= memcmp(yl + (o * ho + r) * wo, yw + o * ho * wph + r * wph,
                               (size_t)wo * sizeof(float)) == 0;
        CHECK(same);
        free(yl), free(wc), free(yw);
    }
    rows_case(isa, cnnc__conv_direct_forward, g, ph, pf, off, wp, kdim);
    if (cnnc__conv_direct_has_rows(isa))
        rows_case(isa, cnnc__conv_direct_forward_rows, g, ph, pf, off, wp, kdim);
    /* weight gradient: two images (the same planes twice, dy differing), every item */
    const int64_t cols = CNNC__CONV_DIRECT_COLS, ldd = (g->out[1] * wph + cols - 1) / cols * cols;
    float *dy = rand_buf(2 * m * ldd), *x2 = calloc((size_t)(2 * pf + CNNC__CONV_DIRECT_SLACK), 4);
    memcpy(x2, ph, (size_t)pf * 4);
    memcpy(x2 + pf, ph, (size_t)pf * 4);
    float *pv = calloc(cnnc__conv_direct_wgrad_floats(isa, m, kdim), sizeof(float));
    float *dw = malloc((size_t)(m * kdim) * sizeof(float));
    const int64_t items = cnnc__conv_direct_wgrad_items(isa, m, kdim);
    for (int64_t it = items - 1; it >= 0; it--) /* any order: items are independent */
        cnnc__conv_direct_wgrad_item(isa, it, pv, dy, ldd, m * ldd, x2, pf, off, kdim, m, ldd, 2);
    cnnc__conv_direct_wgrad_finish(isa, dw, pv, m, kdim);
    err = 0.0;
    for (int64_t o = 0; o < m; o++)
        for (int64_t t = 0; t < kdim; t++) {
            double s = 0.0;
            for (int64_t i = 0; i < 2; i++)
                for (int64_t j = 0; j < ldd; j++)
                    s += (double)dy[(i * m + o) * ldd + j] * x2[i * pf + off[t] + j];
            const double d = fabs(dw[o * kdim + t] - s);
            if (!(d <= err)) err = d;
        }
    CHECK(err < 1e-5 * (double)ldd);
    if (check_current_failures_) print_geom("kernels", g);
    free(x), free(w), free(ph), free(off), free(wp), free(y), free(dy), free(x2), free(pv), free(dw);
}

static void kernels(cnnc__isa isa) {
    for (int it = 0; it < 60 && !check_current_failures_; it++) {
        const int64_t k1 = rnd(1, 5), k2 = rnd(1, 7), s = rnd(1, 3), d1 = rnd(1, 2);
        cnnc__window g = geom(1, rnd(1, 5), 1 + it % 20, 1, rnd(d1 * (k1 - 1) + 1, 20), rnd(k2, 40),
                              k1, k2, s, rnd(1, 3), rnd(0, 3), rnd(0, 3), d1, 1);
        kernels_case(isa, &g);
    }
}

static void test_kernels(void) { each_level("kernels", kernels, 0x13198A2E03707344u); }

/* The forward by output rows over maps of several groups of tiles (the last one partial,
 * rows not a multiple of the vector), channel counts of one to five blocks, 1-4 input
 * channels, the stems' 3x3 and 7x7 at stride 2: the kernels' checks (rows_case among
 * them). */
static void kernels_groups(cnnc__isa isa) {
    for (int it = 0; it < 16 && !check_current_failures_; it++) {
        const int64_t k = it % 2 ? 7 : 3, s = rnd(1, 2);
        cnnc__window g = geom(1, rnd(1, 4), rnd(1, 20), 1, rnd(k + 8, 60), rnd(k + 8, 140), k, k,
                              s, s, k / 2, k / 2, 1, 1);
        kernels_case(isa, &g);
    }
}

static void test_kernels_groups(void) { each_level("row groups", kernels_groups, 0x452821E638D01377u); }

/* ---- the drivers against the reference ---------------------------------------------- */

/* Forward (bias), backward-data, backward-weight at 1 thread against the reference, then
 * bit-identical at 2; the forward and the weight gradient run here exactly when the
 * rules say so, the input gradient when bwd_path says so (NULL: not checked). */
static void drivers_case(cnnc__isa isa, const cnnc__window *g, const char *bwd_path) {
    const int64_t nx = g->n * g->c * cnnc__window_in_size(g), ny = g->n * g->m * cnnc__window_out_size(g);
    const int64_t nw = g->m * (g->c / g->groups) * cnnc__window_k_size(g);
    float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf(g->m), *dy = rand_buf(ny);
    float *y[2], *dx[2], *dw[2];
    float *yr = malloc((size_t)ny * 4), *dxr = malloc((size_t)nx * 4), *dwr = malloc((size_t)nw * 4);
    cnnc__conv_ref_forward(yr, x, w, b, g);
    cnnc__conv_ref_backward_data(dxr, dy, w, g);
    cnnc__conv_ref_backward_weight(dwr, dy, x, g);
    for (int t = 0; t < 2; t++) {
        y[t] = malloc((size_t)ny * 4), dx[t] = malloc((size_t)nx * 4), dw[t] = malloc((size_t)nw * 4);
        CHECK_OK(cnnc_set_num_threads(t + 1));
        CHECK_OK(cnnc__conv_run_forward(g, y[t], x, w, b, true));
        const bool direct = strncmp(cnnc__conv_forward_path(), "direct", 6) == 0;
        CHECK(direct == cnnc__conv_direct_forward_pays(isa, g));
        if (direct)
            CHECK(strcmp(cnnc__conv_forward_path(), cnnc__conv_direct_forward_path(isa, g)) == 0);
        CHECK_OK(cnnc__conv_run_backward_data(g, dx[t], dy, w, true));
        if (bwd_path) CHECK_CONTAINS(cnnc__conv_forward_path(), bwd_path);
        CHECK_OK(cnnc__conv_run_backward_weight(g, dw[t], dy, x));
        CHECK((strcmp(cnnc__conv_forward_path(), "direct") == 0) ==
              cnnc__conv_direct_wgrad_pays(isa, g));
    }
    CHECK(max_rel(y[0], yr, ny) < 1e-5);
    CHECK(max_rel(dx[0], dxr, nx) < 1e-5);
    CHECK(max_rel(dw[0], dwr, nw) < 2e-5);
    CHECK(memcmp(y[0], y[1], (size_t)ny * 4) == 0);
    CHECK(memcmp(dx[0], dx[1], (size_t)nx * 4) == 0);
    CHECK(memcmp(dw[0], dw[1], (size_t)nw * 4) == 0);
    if (check_current_failures_) print_geom("drivers", g);
    free(x), free(w), free(b), free(dy), free(yr), free(dxr), free(dwr);
    for (int t = 0; t < 2; t++) free(y[t]), free(dx[t]), free(dw[t]);
}

static void drivers_random(cnnc__isa isa) {
    for (int it = 0; it < 60 && !check_current_failures_; it++) {
        const int64_t groups = rnd(1, 3), k1 = rnd(1, 5), k2 = rnd(2, 7);
        const int64_t s1 = rnd(1, 3), s2 = it % 4 == 3 ? 4 : rnd(1, 3), d1 = rnd(1, 2), d2 = rnd(1, 2);
        const int64_t w = rnd(d2 * (k2 - 1) + 1, 50);
        cnnc__window g = geom(2 + it % 3, groups * rnd(1, 6), groups * rnd(1, 20), groups,
                              rnd(d1 * (k1 - 1) + 1, 16), w, k1, k2, s1, s2, rnd(0, 3), rnd(0, 3),
                              d1, d2);
        drivers_case(isa, &g, NULL);
    }
}

static void test_drivers_random(void) { each_level("drivers", drivers_random, 0xA4093822299F31D0u); }

static void drivers_edges(cnnc__isa isa) {
    static const int64_t e[][14] = {
        /* n  c  m grp  h   w  k1 k2 s1 s2 p1 p2 d1 d2 */
        {64, 6, 16, 1, 14, 14, 5, 5, 1, 1, 0, 0, 1, 1}, /* LeNet-5 conv2 */
        {64, 1, 6, 1, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1},  /* LeNet-5 conv1 */
        {64, 1, 3, 1, 28, 28, 3, 3, 2, 2, 1, 1, 1, 1},  /* the seed net's */
        {2, 3, 64, 1, 38, 36, 7, 7, 2, 2, 3, 3, 1, 1},  /* a ResNet stem, small */
        {2, 3, 32, 1, 33, 35, 3, 3, 2, 2, 1, 1, 1, 1},  /* a MobileNetV2 stem, small */
        {1, 3, 9, 1, 1, 17, 1, 3, 1, 1, 0, 1, 1, 1},    /* 1 x 17 (conv1d-like), batch 1 */
        {2, 2, 5, 1, 9, 1, 3, 1, 1, 1, 1, 0, 1, 1},     /* 1 wide */
        {2, 3, 7, 1, 6, 5, 3, 3, 1, 1, 4, 4, 1, 1},     /* padding past the kernel's reach */
        {3, 4, 6, 2, 11, 13, 3, 3, 3, 3, 1, 1, 1, 1},   /* stride 3, groups */
        {2, 2, 4, 1, 12, 31, 3, 3, 4, 4, 1, 1, 1, 1},   /* stride 4 */
        {2, 3, 4, 1, 12, 12, 3, 3, 1, 1, 2, 2, 2, 2},   /* dilation 2 */
        {1, 16, 17, 1, 9, 21, 3, 3, 1, 1, 1, 1, 1, 1},  /* 16 channels, batch 1 */
        {2, 3, 8, 1, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1},   /* rows of 32: weight gradient by rows */
        {2, 3, 20, 1, 17, 31, 3, 3, 2, 2, 1, 1, 1, 1},  /* rows of 16, stride 2 */
        {1, 2, 6, 1, 150, 64, 3, 5, 1, 1, 1, 2, 1, 1},  /* rows of 64, several row chunks */
        {2, 3, 6, 1, 150, 63, 3, 3, 1, 1, 1, 1, 1, 1},  /* an image a segment, column chunks */
        {4, 16, 32, 1, 7, 7, 5, 5, 1, 1, 2, 2, 1, 1},   /* AVX-512: channels in the lanes */
        {3, 8, 16, 1, 9, 12, 5, 5, 1, 1, 0, 0, 1, 1},   /* ... an odd number of rows */
        {2, 6, 16, 1, 17, 18, 5, 5, 1, 1, 0, 0, 1, 1},  /* ... rows of 12 + 2 positions */
    };
    for (size_t i = 0; i < sizeof e / sizeof e[0] && !check_current_failures_; i++) {
        const int64_t *r = e[i];
        cnnc__window g = geom(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                              r[11], r[12], r[13]);
        CHECK(cnnc__conv_direct_forward_pays(isa, &g)); /* every one of them */
        /* LeNet-5 conv2's input gradient: the flipped forward at AVX-512 */
        drivers_case(isa, &g, i == 0 && isa == CNNC__ISA_AVX512 ? "flipped forward: direct" : NULL);
    }
}

static void test_drivers_edges(void) { each_level("edge cases", drivers_edges, 7); }

/* Edge cases of the forward by output rows (AVX2): widths that are not a multiple of the
 * vector or the tile (3 vectors), under one vector, few input channels and channel
 * blocks of 4 + 3 and 3 + 2, padding past the kernel's reach, dilation, groups, stride 3,
 * batch 1 (a plane's rows in parts at 2 threads). */
static void drivers_rows(cnnc__isa isa) {
    static const int64_t e[][14] = {
        /* n  c  m grp  h   w  k1 k2 s1 s2 p1 p2 d1 d2 */
        {2, 3, 64, 1, 30, 26, 7, 7, 2, 2, 3, 3, 1, 1},  /* a ResNet stem: 13 wide */
        {2, 3, 32, 1, 29, 30, 3, 3, 2, 2, 1, 1, 1, 1},  /* a MobileNetV2 stem: 15 wide */
        {3, 1, 6, 1, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1},   /* 1 channel in, 28 wide */
        {2, 2, 5, 1, 20, 23, 3, 3, 1, 1, 1, 1, 1, 1},   /* blocks 3 + 2, 23 wide */
        {2, 4, 7, 1, 9, 7, 3, 3, 1, 1, 1, 1, 1, 1},     /* blocks 4 + 3, 7 wide */
        {2, 3, 6, 1, 10, 12, 5, 5, 1, 1, 4, 4, 1, 1},   /* padding 4 of a 5x5 */
        {2, 3, 8, 1, 14, 14, 3, 3, 1, 1, 2, 2, 2, 2},   /* dilation 2 */
        {2, 4, 10, 2, 12, 15, 3, 3, 1, 1, 1, 1, 1, 1},  /* groups */
        {1, 3, 9, 1, 1, 40, 1, 5, 1, 1, 0, 2, 1, 1},    /* 1 x 40, batch 1 */
        {1, 3, 16, 1, 33, 30, 3, 3, 2, 2, 1, 1, 1, 1},  /* batch 1, 17 rows */
        {2, 3, 8, 1, 20, 47, 3, 3, 3, 3, 1, 1, 1, 1},   /* stride 3 */
        {2, 3, 12, 1, 10, 24, 3, 3, 1, 1, 1, 1, 1, 1},  /* 24 wide: a tile a row */
        {2, 3, 13, 1, 45, 77, 3, 3, 2, 2, 1, 1, 1, 1},  /* 39 wide: groups of tiles, 4 blocks */
        {1, 1, 33, 1, 40, 61, 7, 7, 2, 2, 3, 3, 1, 1},  /* 1 channel in, 9 blocks, batch 1 */
    };
    for (size_t i = 0; i < sizeof e / sizeof e[0] && !check_current_failures_; i++) {
        const int64_t *r = e[i];
        cnnc__window g = geom(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                              r[11], r[12], r[13]);
        CHECK(cnnc__conv_direct_forward_pays(isa, &g));
        if (cnnc__conv_direct_has_rows(isa))
            CHECK(strcmp(cnnc__conv_direct_forward_path(isa, &g), "direct by rows") == 0);
        drivers_case(isa, &g, NULL);
    }
}

static void test_drivers_rows(void) { each_level("forward by rows", drivers_rows, 11); }

/* An inf in the input: the weight gradient over wide columns declines (0 * inf in a
 * dropped column would be NaN), the one by rows (no dropped column) does not; both have
 * the reference's NaN pattern. */
static void nonfinite_case(const cnnc__window *geom_, bool by_rows) {
    const cnnc__window g = *geom_;
    const int64_t nx = g.n * g.c * cnnc__window_in_size(&g), ny = g.n * g.m * cnnc__window_out_size(&g);
    const int64_t nw = g.m * g.c * 9;
    float *x = rand_buf(nx), *dy = rand_buf(ny), *dw = malloc((size_t)nw * 4), *dwr = malloc((size_t)nw * 4);
    x[g.in[2] - 1] = INFINITY; /* row 0, last column: only the last taps read it */
    CHECK_OK(cnnc_set_num_threads(1));
    CHECK_OK(cnnc__conv_run_backward_weight(&g, dw, dy, x));
    CHECK((strstr(cnnc__conv_forward_path(), "direct") != NULL) == by_rows);
    cnnc__conv_ref_backward_weight(dwr, dy, x, &g);
    int finite = 0;
    for (int64_t i = 0; i < nw; i++) {
        CHECK(isnan(dw[i]) == isnan(dwr[i]));
        CHECK(isfinite(dw[i]) == isfinite(dwr[i]));
        finite += isfinite(dwr[i]);
    }
    CHECK(finite > 0); /* the taps that never read it stay finite */
    free(x), free(dy), free(dw), free(dwr);
}

static void nonfinite(cnnc__isa isa) {
    (void)isa;
    const cnnc__window wide = geom(2, 2, 4, 1, 9, 10, 3, 3, 1, 1, 0, 0, 1, 1);
    nonfinite_case(&wide, false);
    const cnnc__window rows = geom(2, 2, 4, 1, 9, 18, 3, 3, 1, 1, 0, 0, 1, 1); /* 16 wide */
    nonfinite_case(&rows, true);
}

static void test_nonfinite_input(void) { each_level("non-finite input", nonfinite, 3); }

int main(void) {
    RUN_TEST(test_kernels);
    RUN_TEST(test_kernels_groups);
    RUN_TEST(test_drivers_random);
    RUN_TEST(test_drivers_edges);
    RUN_TEST(test_drivers_rows);
    RUN_TEST(test_nonfinite_input);
    cnnc_set_num_threads(2);
    return check_summary();
}
