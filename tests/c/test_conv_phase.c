/* The input gradient of strided convolutions by input phases (ops/conv_phase_data.c):
 * its B packing (cnnc__conv_pack_taps_batch) against its definition; the path against
 * the reference kernel on randomized geometries that take it (1-d and 2-d, strides 2-4
 * or mixed with 1, kernels 1-5 (not 1x1), dilation 1-3, padding 0-3, an extra trailing
 * pad, groups, batch 1-4, odd and even sizes; fixed seed), and on larger ones (several
 * column tiles, several waves of images, ResNet's downsampling convolutions in small,
 * a 4x4 stride 2), through the driver (which must take this path) at
 * 1, 2 and 3 threads with the same bits; at every ISA level this CPU runs. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "ops/conv.h"
#include "ops/conv_phase.h"

#include "conv_geom.h"
#include "rng.h"

/* body(level) at every ISA level this CPU runs, with the level capped to it meanwhile
 * and the random generator restarted at `seed` (the same cases at every level). */
static void each_level(const char *what, void (*body)(cnnc__isa), uint64_t seed) {
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        const cnnc__isa isa = (cnnc__isa)l;
        REQUIRE(cnnc__isa_set_cap(isa));
        printf("test_conv_phase: %s at level %s (%s)\n", what, cnnc__isa_name(isa),
               cnnc__sgemm_kernel_name(isa));
        fflush(stdout);
        rng_state = seed;
        body(isa);
    }
    CHECK(cnnc__isa_set_cap(saved));
    cnnc_set_num_threads(2);
}

/* ---- the B packing --------------------------------------------------------------------- */

static void pack_taps(cnnc__isa isa) {
    for (int it = 0; it < 60; it++) {
        const int64_t nimg = rnd(1, 3), nch = rnd(1, 6), gh = rnd(1, 9), gw = rnd(1, 20);
        const int64_t hp = gh + rnd(0, 3), ld = gw + rnd(0, 4), plane = hp * ld;
        const int64_t img_floats = nch * plane + rnd(0, 5), ntaps = rnd(1, 5);
        int64_t tap_off[5];
        for (int64_t t = 0; t < ntaps; t++) tap_off[t] = rnd(0, hp - gh) * ld + rnd(0, ld - gw);
        float *src = rand_buf(nimg * img_floats);
        static const int64_t nrs[] = {32, 16, 8, 5};
        const int64_t nr = nrs[it % 4], rows = ntaps * nch, cols = nimg * gh * gw;
        const int64_t k0 = rnd(0, rows - 1), kc = rnd(1, rows - k0);
        const int64_t j0 = rnd(0, cols - 1), ncol = rnd(1, cols - j0), npan = (ncol + nr - 1) / nr;
        float *pk = aligned_alloc(64, (size_t)((npan * nr * kc + 15) / 16 * 64));
        for (int64_t i = 0; i < npan * nr * kc; i++) pk[i] = NAN;
        cnnc__conv_pack_taps_batch(isa, pk, nr, src, img_floats, plane, nch, tap_off, gh, gw, ld,
                                   k0, kc, j0, ncol);
        int bad = 0;
        for (int64_t r = 0; r < kc; r++)
            for (int64_t jj = 0; jj < npan * nr; jj++) {
                const int64_t row = k0 + r, col = j0 + jj, t = row / nch, ch = row % nch;
                const int64_t img = col / (gh * gw), u = col % (gh * gw) / gw, v = col % gw;
                const float want = jj < ncol ? src[img * img_floats + ch * plane + tap_off[t] +
                                                   u * ld + v]
                                             : 0.0f;
                const float got = pk[(jj / nr) * nr * kc + r * nr + jj % nr];
                if (memcmp(&got, &want, sizeof got) != 0) bad++;
            }
        CHECK_EQ_INT(bad, 0);
        free(src), free(pk);
    }
}

static void test_pack_taps(void) { each_level("tap packing", pack_taps, 0x3F84D5B5B5470917u); }

/* ---- the path ---------------------------------------------------------------------- */

/* A random geometry the path takes: dims spatial dims (right-aligned), a stride above 1. */
static cnnc__window random_geom(int dims) {
    cnnc__window g;
    memset(&g, 0, sizeof g);
    g.n = rnd(1, 4);
    g.groups = rnd(1, 3);
    g.c = g.groups * rnd(8, 10); /* the path's least */
    g.m = g.groups * rnd(1, 2 * g.c / g.groups);
    random_spatial(&g, dims, true, 1);
    return g;
}

/* The path called directly and through the driver (which must take it) against the
 * reference; the driver's bits the same at 1, 2 and 3 threads. */
static void check_geom(const cnnc__window *g) {
    REQUIRE(cnnc__conv_phase_data_fits(g));
    const int64_t nx = g->n * g->c * cnnc__window_in_size(g);
    const int64_t ny = g->n * g->m * cnnc__window_out_size(g);
    float *w = rand_buf(g->m * (g->c / g->groups) * cnnc__window_k_size(g)), *dy = rand_buf(ny);
    float *dxr = malloc((size_t)nx * sizeof(float)), *dx = malloc((size_t)nx * sizeof(float));
    float *dx1 = malloc((size_t)nx * sizeof(float));
    cnnc__conv_ref_backward_data(dxr, dy, w, g);
    for (int64_t i = 0; i < nx; i++) dx[i] = NAN; /* every element written */
    CHECK_OK(cnnc__conv_phase_backward_data(cnnc__isa_active(), g, dx, dy, w));
    const double err = max_rel(dx, dxr, nx);
    CHECK(err < 1e-5);
    for (int threads = 1; threads <= 3; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
        float *out = threads == 1 ? dx1 : dx;
        for (int64_t i = 0; i < nx; i++) out[i] = NAN;
        CHECK_OK(cnnc__conv_run_backward_data(g, out, dy, w, true));
        CHECK(strcmp(cnnc__conv_forward_path(), "input phases + gemm") == 0);
        if (threads > 1) CHECK(memcmp(dx, dx1, (size_t)nx * sizeof(float)) == 0);
    }
    CHECK(max_rel(dx1, dxr, nx) < 1e-5);
    if (check_current_failures_) print_geom(g, err);
    free(w), free(dy), free(dxr), free(dx), free(dx1);
}

static void phases_random(cnnc__isa isa) {
    (void)isa; /* the path runs at the capped level */
    for (int it = 0; it < 80 && !check_current_failures_; it++) {
        cnnc__window g = random_geom(1 + it % 2);
        check_geom(&g);
    }
}

static void test_phases_random(void) {
    each_level("random geometries", phases_random, 0x0801F2E2858EFC16u);
}

static void phases_large(cnnc__isa isa) {
    (void)isa;
    const cnnc__window gs[] = {
        geom(3, 24, 40, 1, 29, 30, 3, 2, 1),  /* ResNet's downsampling, odd/even, column tiles */
        geom(2, 32, 64, 1, 14, 14, 3, 2, 1),  /* 7x7 outputs */
        geom(9, 8, 12, 1, 30, 30, 3, 2, 1),   /* several waves of images */
        geom(2, 32, 48, 2, 17, 16, 3, 2, 1),  /* groups */
        geom(3, 8, 12, 1, 20, 21, 3, 2, 0),   /* no padding: the last row, column read nothing */
        geom(2, 16, 20, 1, 15, 16, 4, 2, 1),  /* 4x4 stride 2 (a transposed conv's) */
        geom(1, 20, 36, 1, 33, 31, 5, 3, 2),  /* stride 3 */
    };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0] && !check_current_failures_; i++)
        check_geom(&gs[i]);
}

static void test_phases_large(void) { each_level("larger geometries", phases_large, 7); }

/* Geometries the path declines: stride 1, 1x1, few input channels, many more output
 * channels, 3-d, depthwise, taps past its limit; the bounds taken. */
static void test_declines(void) {
    cnnc__window g = geom(2, 8, 8, 1, 9, 9, 3, 1, 1);
    CHECK(!cnnc__conv_phase_data_fits(&g));
    g = geom(2, 8, 8, 1, 9, 9, 1, 2, 0);
    CHECK(!cnnc__conv_phase_data_fits(&g));
    g = geom(2, 7, 8, 1, 9, 9, 3, 2, 1);
    CHECK(!cnnc__conv_phase_data_fits(&g));
    g = geom(2, 8, 17, 1, 9, 9, 3, 2, 1);
    CHECK(!cnnc__conv_phase_data_fits(&g));
    g = geom(2, 8, 16, 1, 9, 9, 3, 2, 1);
    CHECK(cnnc__conv_phase_data_fits(&g));
    g = geom(2, 16, 16, 16, 9, 9, 3, 2, 1);
    CHECK(!cnnc__conv_phase_data_fits(&g));
    g = geom(1, 8, 8, 1, 40, 40, 17, 2, 8);
    CHECK(!cnnc__conv_phase_data_fits(&g));
    g = geom(2, 8, 8, 1, 9, 9, 3, 2, 1);
    g.in[0] = 3, g.out[0] = 2, g.k[0] = 2;
    CHECK(!cnnc__conv_phase_data_fits(&g));
}

int main(void) {
    RUN_TEST(test_pack_taps);
    RUN_TEST(test_phases_random);
    RUN_TEST(test_phases_large);
    RUN_TEST(test_declines);
    cnnc_thread_cleanup();
    return check_summary();
}
