/* The convolution path tests' geometries (test_conv_phase.c, test_conv_scatter.c):
 * square 2-d ones by size, random spatial dims, and a failing case's description. */
#ifndef CNNC_TEST_CONV_GEOM_H
#define CNNC_TEST_CONV_GEOM_H
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kernels/window.h"
#include "rng.h"

static cnnc__window geom(int64_t n, int64_t c, int64_t m, int64_t groups, int64_t h, int64_t w,
                         int64_t k, int64_t s, int64_t p) {
    cnnc__window g = {.n = n, .c = c, .m = m, .groups = groups, .in = {1, h, w},
                      .k = {1, k, k}, .stride = {1, s, s}, .pad = {0, p, p}, .dil = {1, 1, 1}};
    g.out[0] = 1;
    g.out[1] = (h + 2 * p - k) / s + 1;
    g.out[2] = (w + 2 * p - k) / s + 1;
    return g;
}

/* g's spatial dims, the last `dims` of them random (the others 1): kernels 1-5,
 * strides 1-4, dilation 1-3, padding 0-3, up to extra_max trailing padding (input
 * no output reaches). strided: never 1x1, and a stride of 2-4 in every dim (1-4 in the
 * rows of 2-d ones). */
static void random_spatial(cnnc__window *g, int dims, bool strided, int64_t extra_max) {
    for (int d = 0; d < 3; d++) {
        g->in[d] = g->out[d] = g->k[d] = g->stride[d] = g->dil[d] = 1;
        g->pad[d] = 0;
    }
    for (int d = 3 - dims; d < 3; d++) {
        g->k[d] = rnd(strided && d == 2 && g->k[1] == 1 ? 2 : 1, 5);
        g->stride[d] = rnd(strided && !(dims == 2 && d == 1) ? 2 : 1, 4);
        g->dil[d] = rnd(1, 3);
        g->pad[d] = rnd(0, 3);
        const int64_t extra = rnd(0, extra_max), eff = g->dil[d] * (g->k[d] - 1) + 1;
        const int64_t lo = eff - 2 * g->pad[d] - extra;
        g->in[d] = (lo < 1 ? 1 : lo) + rnd(0, dims == 1 ? 40 : 14);
        g->out[d] = (g->in[d] + 2 * g->pad[d] + extra - eff) / g->stride[d] + 1;
    }
}

static void print_geom(const cnnc__window *g, double err) {
    fprintf(stderr, "  n=%lld c=%lld m=%lld groups=%lld in=%lldx%lld k=%lldx%lld stride "
                    "%lldx%lld pad %lldx%lld dil %lldx%lld out %lldx%lld: error %g\n",
            (long long)g->n, (long long)g->c, (long long)g->m, (long long)g->groups,
            (long long)g->in[1], (long long)g->in[2], (long long)g->k[1], (long long)g->k[2],
            (long long)g->stride[1], (long long)g->stride[2], (long long)g->pad[1],
            (long long)g->pad[2], (long long)g->dil[1], (long long)g->dil[2],
            (long long)g->out[1], (long long)g->out[2], err);
}
#endif
