/* The input gradient of convolutions with few channels a group by shifted sums in the
 * input's stride phases (ops/conv_phase_sum.c, kernels/conv_phase_sum.c): against the
 * reference kernel on randomized geometries it takes (1-d and 2-d, 1-7 input and 1-6
 * output channels a group, groups 1-3, strides 1-4, kernels 1-5, dilation 1-3, padding
 * 0-3, an extra trailing pad (rows no output reaches), batch 1-4; fixed seed) and on the
 * seed net's first layer, with the same bits at every ISA level this CPU runs and
 * through the driver (which must take it where the stride is above 1) at 1, 2 and 3
 * threads; a non-finite weight makes it decline (the driver's other path then gives the
 * reference's NaN and infinities); the geometries it declines. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/isa.h"
#include "ops/conv.h"
#include "ops/conv_phase.h"

#include "conv_geom.h"
#include "rng.h"

/* A random geometry the path takes: dims spatial dims (right-aligned). */
static cnnc__window random_geom(int dims) {
    cnnc__window g;
    memset(&g, 0, sizeof g);
    g.n = rnd(1, 4);
    g.groups = rnd(1, 3);
    g.c = g.groups * rnd(g.groups > 1 ? 2 : 1, 7); /* not depthwise (its own path) */
    g.m = g.groups * rnd(1, 6);
    do /* the path wants more taps than stride phases */
        random_spatial(&g, dims, false, 2);
    while (g.k[1] * g.k[2] <= g.stride[1] * g.stride[2]);
    return g;
}

/* The path at every level (the same bits) and through the driver at 1, 2 and 3 threads
 * (the same bits again, and this path where a stride is above 1) against the reference. */
static void check_geom(const cnnc__window *g) {
    REQUIRE(cnnc__conv_phase_sum_fits(g));
    const int64_t nx = g->n * g->c * cnnc__window_in_size(g);
    const int64_t ny = g->n * g->m * cnnc__window_out_size(g);
    float *w = rand_buf(g->m * (g->c / g->groups) * cnnc__window_k_size(g)), *dy = rand_buf(ny);
    float *dxr = malloc((size_t)nx * sizeof(float)), *dx = malloc((size_t)nx * sizeof(float));
    float *dx0 = malloc((size_t)nx * sizeof(float));
    cnnc__conv_ref_backward_data(dxr, dy, w, g);
    double err = 0.0;
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        float *out = l == (int)cnnc__isa_cpu() ? dx0 : dx;
        for (int64_t i = 0; i < nx; i++) out[i] = NAN; /* every element written */
        cnnc_status st = CNNC_ERR_RUNTIME;
        CHECK(cnnc__conv_phase_sum_backward_data((cnnc__isa)l, g, out, dy, w, &st));
        CHECK_OK(st);
        const double e = max_rel(out, dxr, nx);
        if (e > err) err = e;
        if (out != dx0) CHECK(memcmp(dx, dx0, (size_t)nx * sizeof(float)) == 0);
    }
    CHECK(err < 1e-5);
    const bool strided = g->stride[1] > 1 || g->stride[2] > 1;
    for (int threads = 1; threads <= 3; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
        for (int64_t i = 0; i < nx; i++) dx[i] = NAN;
        CHECK_OK(cnnc__conv_run_backward_data(g, dx, dy, w, true));
        if (strided) {
            CHECK(strcmp(cnnc__conv_forward_path(), "input phases by shifted sums") == 0);
            CHECK(memcmp(dx, dx0, (size_t)nx * sizeof(float)) == 0);
        } else {
            CHECK(max_rel(dx, dxr, nx) < 1e-5);
        }
    }
    cnnc_set_num_threads(2);
    if (check_current_failures_) print_geom(g, err);
    free(w), free(dy), free(dxr), free(dx), free(dx0);
}

static void test_random(void) {
    rng_state = 0x5CA77E12D0C0FFEEu;
    for (int it = 0; it < 200 && !check_current_failures_; it++) {
        cnnc__window g = random_geom(1 + it % 2);
        check_geom(&g);
    }
}

static void test_shapes(void) {
    rng_state = 11;
    const cnnc__window gs[] = {
        geom(64, 1, 3, 1, 28, 28, 3, 2, 1), /* the seed net's Conv2d(1, 3, 3, s2, p1) */
        geom(64, 1, 6, 1, 28, 28, 5, 2, 2), /* LeNet-like, strided */
        geom(3, 4, 4, 1, 33, 30, 3, 2, 1),  /* odd and even sizes */
        geom(2, 4, 8, 2, 16, 17, 4, 2, 1),  /* groups, a transposed conv's 4x4 / 2 */
        geom(2, 3, 5, 1, 23, 19, 5, 3, 0),  /* stride 3, no padding: trailing rows unread */
    };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0] && !check_current_failures_; i++)
        check_geom(&gs[i]);
}

/* An infinite or NaN weight: the path declines (dy's zero padding would meet it), and
 * the driver's GEMM path gives the reference's special values. */
static void test_non_finite_weights(void) {
    rng_state = 12;
    const cnnc__window g = geom(2, 2, 3, 1, 12, 11, 3, 2, 1);
    const int64_t nx = g.n * g.c * cnnc__window_in_size(&g);
    const int64_t ny = g.n * g.m * cnnc__window_out_size(&g), nw = g.m * g.c * 9;
    float *w = rand_buf(nw), *dy = rand_buf(ny), *dx = malloc((size_t)nx * sizeof(float));
    float *dxr = malloc((size_t)nx * sizeof(float));
    for (int k = 0; k < 2; k++) {
        w[k ? 4 : 0] = k ? NAN : INFINITY;
        cnnc_status st = CNNC_OK;
        CHECK(!cnnc__conv_phase_sum_backward_data(cnnc__isa_active(), &g, dx, dy, w, &st));
        cnnc__conv_ref_backward_data(dxr, dy, w, &g);
        CHECK_OK(cnnc__conv_run_backward_data(&g, dx, dy, w, true));
        CHECK(strcmp(cnnc__conv_forward_path(), "input phases by shifted sums") != 0);
        int bad = 0;
        for (int64_t i = 0; i < nx; i++)
            if (isnan(dx[i]) != isnan(dxr[i]) || (isinf(dxr[i]) && dx[i] != dxr[i])) bad++;
        CHECK_EQ_INT(bad, 0);
    }
    free(w), free(dy), free(dx), free(dxr);
}

/* Geometries it declines: 8 input or 7 output channels a group, depthwise, 3-d, sizes
 * past its bounds, no more taps than stride phases (1x1 kernels, 2x2 / 2); the bounds
 * taken. */
static void test_declines(void) {
    const struct {
        cnnc__window g;
        bool fits;
    } cases[] = {
        {geom(2, 7, 6, 1, 9, 9, 3, 2, 1), true},
        {geom(2, 3, 6, 1, 9, 9, 1, 1, 0), false}, /* 1x1: one tap, one phase */
        {geom(2, 3, 6, 1, 9, 9, 1, 2, 0), false},
        {geom(2, 3, 6, 1, 9, 9, 2, 2, 0), false}, /* 2x2 / 2: one tap a phase */
        {geom(2, 3, 6, 1, 9, 9, 3, 1, 1), true},
        {geom(2, 8, 6, 1, 9, 9, 3, 2, 1), false},
        {geom(2, 7, 7, 1, 9, 9, 3, 2, 1), false},
        {geom(2, 14, 12, 2, 9, 9, 3, 2, 1), true},
        {geom(2, 4, 4, 4, 9, 9, 3, 2, 1), false},       /* depthwise */
        {geom(1, 1, 1, 1, 70000, 9, 3, 2, 1), false},   /* past the size bound */
        {geom(1, 1, 1, 1, 9000, 9000, 3, 1, 1), false}, /* planes past the scratch bound */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(cnnc__conv_phase_sum_fits(&cases[i].g) == cases[i].fits);
    cnnc__window g = geom(2, 2, 2, 1, 9, 9, 3, 2, 1); /* 3-d */
    g.in[0] = 3, g.out[0] = 2, g.k[0] = 2;
    CHECK(!cnnc__conv_phase_sum_fits(&g));
}

int main(void) {
    RUN_TEST(test_random);
    RUN_TEST(test_shapes);
    RUN_TEST(test_non_finite_weights);
    RUN_TEST(test_declines);
    cnnc_thread_cleanup();
    return check_summary();
}
