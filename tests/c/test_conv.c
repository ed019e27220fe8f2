/* Convolution: every fast path (the forward's implicit GEMMs: phase planes for
 * 1-d/2-d, B panels packed from the image otherwise; im2col + GEMM over column tiles,
 * 1x1 GEMM, depthwise direct kernels, their backward-data and backward-weight, the
 * bias gradient) against the plain reference kernels on randomized geometries (fixed
 * seed), with 1 and several threads (bit-identical); im2col/col2im, the B-panel
 * packing and the phase planes against their definition; the public API's shapes,
 * errors, autograd and modules; no leaks (run under ASan + UBSan too). Winograd
 * F(2x2, 3x3) and F(4x4, 3x3): the weight transform against its definition (plain and
 * flipped), its kernels on random 3x3 stride-1 geometries and random
 * tile blocks, and the driver path, against the reference; the F(2x2) weight gradient
 * likewise, bit-identical at 1, 2 and 3 threads. Every kernel and driver test runs at
 * every ISA level this CPU supports (the same cases at each), saying which variants
 * each level runs. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/conv_winograd_internal.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "ops/conv.h"
#include "ops/conv_cols.h"

#define TEST_RNG_SEED 0x243F6A8885A308D3u
#include "rng.h"

/* Runs body(level) at every ISA level this CPU runs, best first, with the kernels'
 * level capped to it meanwhile (the drivers read it) and the random generator
 * restarted at `seed` (the same cases at every level); prints the variants each level
 * runs. */
static void each_level(const char *what, void (*body)(cnnc__isa), uint64_t seed) {
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        const cnnc__isa isa = (cnnc__isa)l;
        REQUIRE(cnnc__isa_set_cap(isa));
        int64_t mr, nr;
        cnnc__sgemm_tile(isa, &mr, &nr);
        printf("test_conv: %s at level %s: %s, %s, %s, %s, %s\n", what, cnnc__isa_name(isa),
               cnnc__sgemm_kernel_name(isa), cnnc__conv_rows_of(isa)->name,
               cnnc__conv_im2col_variant(isa, nr), cnnc__dwconv_variant(isa),
               cnnc__conv_winograd_variant(isa));
        fflush(stdout);
        rng_state = seed;
        body(isa);
    }
    CHECK(cnnc__isa_set_cap(saved));
}

/* A random valid geometry: dims spatial dims (right-aligned), maybe depthwise,
 * maybe 1x1; output sizes from the PyTorch formula with an asymmetric extra pad. */
static cnnc__window random_geom(int dims, int kind) {
    cnnc__window g;
    memset(&g, 0, sizeof g);
    g.n = rnd(1, 3);
    if (kind == 1) { /* depthwise */
        g.groups = rnd(2, 6);
        g.c = g.groups;
        g.m = g.groups * rnd(1, 3);
    } else {
        g.groups = rnd(1, 3);
        g.c = g.groups * rnd(1, 5);
        g.m = g.groups * rnd(1, 5);
    }
    for (int d = 0; d < 3; d++) {
        g.in[d] = g.out[d] = g.k[d] = g.stride[d] = g.dil[d] = 1;
        g.pad[d] = 0;
    }
    for (int d = 3 - dims; d < 3; d++) {
        if (kind == 2) { /* 1x1, stride 1, no padding */
            g.in[d] = g.out[d] = rnd(1, 40);
            continue;
        }
        g.k[d] = rnd(1, 5);
        g.stride[d] = rnd(1, 3);
        g.dil[d] = rnd(1, 3);
        g.pad[d] = rnd(0, 3);
        int64_t extra = rnd(0, 1), eff = g.dil[d] * (g.k[d] - 1) + 1;
        int64_t lo = eff - 2 * g.pad[d] - extra;
        g.in[d] = (lo < 1 ? 1 : lo) + rnd(0, dims == 1 ? 60 : 12);
        g.out[d] = (g.in[d] + 2 * g.pad[d] + extra - eff) / g.stride[d] + 1;
    }
    return g;
}

static int64_t wsize(const cnnc__window *g) { return g->m * (g->c / g->groups) * cnnc__window_k_size(g); }

static void compare_drivers(const cnnc__window *g, int threads) {
    const int64_t nx = g->n * g->c * cnnc__window_in_size(g), ny = g->n * g->m * cnnc__window_out_size(g);
    const int64_t nw = wsize(g);
    float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf(g->m), *dy = rand_buf(ny);
    float *y = malloc((size_t)ny * 4 + 4), *yr = malloc((size_t)ny * 4 + 4);
    float *dx = malloc((size_t)nx * 4 + 4), *dxr = malloc((size_t)nx * 4 + 4);
    float *dw = malloc((size_t)nw * 4 + 4), *dwr = malloc((size_t)nw * 4 + 4);
    float *db = malloc((size_t)g->m * 4 + 4);
    CHECK_OK(cnnc_set_num_threads(threads));
    cnnc__conv_ref_forward(yr, x, w, b, g);
    cnnc__conv_ref_backward_data(dxr, dy, w, g);
    /* inference first (Winograd F(4x4): coarser rounding), bit-identical with one
     * thread; then training, whose results the checks below go on with */
    CHECK_OK(cnnc__conv_run_forward(g, y, x, w, b, false));
    CHECK(max_rel(y, yr, ny) < 4e-5);
    CHECK_OK(cnnc__conv_run_backward_data(g, dx, dy, w, false));
    CHECK(max_rel(dx, dxr, nx) < 4e-5);
    if (threads > 1) {
        float *y1 = malloc((size_t)ny * 4 + 4), *dx1 = malloc((size_t)nx * 4 + 4);
        CHECK_OK(cnnc_set_num_threads(1));
        CHECK_OK(cnnc__conv_run_forward(g, y1, x, w, b, false));
        CHECK_OK(cnnc__conv_run_backward_data(g, dx1, dy, w, false));
        CHECK(memcmp(y1, y, (size_t)ny * 4) == 0);
        CHECK(memcmp(dx1, dx, (size_t)nx * 4) == 0);
        free(y1), free(dx1);
        CHECK_OK(cnnc_set_num_threads(threads));
    }
    CHECK_OK(cnnc__conv_run_forward(g, y, x, w, b, true));
    CHECK(max_rel(y, yr, ny) < 1e-5);
    CHECK_OK(cnnc__conv_run_backward_data(g, dx, dy, w, true));
    CHECK(max_rel(dx, dxr, nx) < 1e-5);
    CHECK_OK(cnnc__conv_run_backward_weight(g, dw, dy, x));
    cnnc__conv_ref_backward_weight(dwr, dy, x, g);
    CHECK(max_rel(dw, dwr, nw) < 1e-5);
    CHECK_OK(cnnc__conv_run_bias_grad(db, dy, g->n, g->m, cnnc__window_out_size(g)));
    for (int64_t o = 0; o < g->m; o++) {
        double s = 0, sa = 0;
        for (int64_t bi = 0; bi < g->n; bi++)
            for (int64_t p = 0; p < cnnc__window_out_size(g); p++) {
                s += dy[(bi * g->m + o) * cnnc__window_out_size(g) + p];
                sa += fabs(dy[(bi * g->m + o) * cnnc__window_out_size(g) + p]);
            }
        /* float partial sums of a plane err relative to the sum of magnitudes (the
         * terms cancel: s itself can be small) */
        CHECK_NEAR(db[o], s, 1e-4 * (1 + fabs(s)) + 1e-6 * sa);
    }
    /* bit-identical with one thread */
    if (threads > 1) {
        float *y1 = malloc((size_t)ny * 4 + 4), *dx1 = malloc((size_t)nx * 4 + 4);
        float *dw1 = malloc((size_t)nw * 4 + 4);
        CHECK_OK(cnnc_set_num_threads(1));
        CHECK_OK(cnnc__conv_run_forward(g, y1, x, w, b, true));
        CHECK_OK(cnnc__conv_run_backward_data(g, dx1, dy, w, true));
        CHECK_OK(cnnc__conv_run_backward_weight(g, dw1, dy, x));
        CHECK(memcmp(y1, y, (size_t)ny * 4) == 0);
        CHECK(memcmp(dx1, dx, (size_t)nx * 4) == 0);
        CHECK(memcmp(dw1, dw, (size_t)nw * 4) == 0);
        free(y1);
        free(dx1);
        free(dw1);
    }
    free(x), free(w), free(b), free(dy), free(y), free(yr), free(dx), free(dxr), free(dw), free(dwr);
    free(db);
}

static void drivers_random(cnnc__isa isa) {
    (void)isa; /* the drivers run at the capped level */
    int failures_before = check_current_failures_;
    for (int it = 0; it < 120; it++) {
        int dims = 1 + it % 3, kind = (it / 3) % 3;
        cnnc__window g = random_geom(dims, kind);
        compare_drivers(&g, 1 + it % 3);
        if (check_current_failures_ != failures_before) {
            fprintf(stderr, "  geometry %d: n=%lld c=%lld m=%lld groups=%lld in=%lldx%lldx%lld "
                            "k=%lldx%lldx%lld\n", it, (long long)g.n, (long long)g.c,
                    (long long)g.m, (long long)g.groups, (long long)g.in[0], (long long)g.in[1],
                    (long long)g.in[2], (long long)g.k[0], (long long)g.k[1], (long long)g.k[2]);
            break;
        }
    }
    cnnc_set_num_threads(2);
}

static void test_drivers_random(void) {
    each_level("drivers", drivers_random, 0x452821E638D01377u);
}

/* Large enough for several column tiles and for the threaded paths. */
static void drivers_large(cnnc__isa isa) {
    (void)isa; /* the drivers run at the capped level */
    cnnc__window g = {.n = 2, .c = 32, .m = 24, .groups = 1,
                         .in = {1, 45, 47}, .out = {1, 45, 47}, .k = {1, 3, 3},
                         .stride = {1, 1, 1}, .pad = {0, 1, 1}, .dil = {1, 1, 1}};
    compare_drivers(&g, 2);
    cnnc__window g1 = {.n = 1, .c = 64, .m = 16, .groups = 2,
                          .in = {1, 70, 70}, .out = {1, 70, 70}, .k = {1, 1, 1},
                          .stride = {1, 1, 1}, .pad = {0, 0, 0}, .dil = {1, 1, 1}};
    compare_drivers(&g1, 3);
    cnnc__window g2 = {.n = 3, .c = 16, .m = 32, .groups = 16,
                          .in = {1, 40, 41}, .out = {1, 20, 21}, .k = {1, 3, 3},
                          .stride = {1, 2, 2}, .pad = {0, 1, 1}, .dil = {1, 1, 1}};
    compare_drivers(&g2, 2);
    /* 1x1 with the weights packed once (SIMD levels: more than 32 rows and 16 k per
     * group, past the small paths): groups, 2 column tiles of 6544 + 180 positions */
    cnnc__window g3 = {.n = 2, .c = 80, .m = 72, .groups = 2,
                          .in = {1, 82, 82}, .out = {1, 82, 82}, .k = {1, 1, 1},
                          .stride = {1, 1, 1}, .pad = {0, 0, 0}, .dil = {1, 1, 1}};
    compare_drivers(&g3, 2);
    cnnc_set_num_threads(2);
}

static void test_drivers_large(void) { each_level("large drivers", drivers_large, 1); }

/* 1x1 weight gradients on maps of 1024 positions or more (conv_cols.c's dot path at the
 * SIMD levels): more than 16 rows on the dot's side (row blocks and a remainder), A
 * being dY or the input, position tiles with a remainder, groups, 3-d maps; 1 and 2
 * threads (compare_drivers: 2 threads bit-identical with 1). */
static void dot_wgrad(cnnc__isa isa) {
    (void)isa; /* the drivers run at the capped level */
    static const int64_t GEOMS[][7] = {
        /* n, c, m, groups, in0, in1, in2 */
        {2, 37, 20, 1, 1, 33, 35}, /* A = dY: 16 + 4 rows; 1155 positions: 3 tiles of 385 */
        {1, 19, 50, 1, 1, 40, 41}, /* A = input: 16 + 3 rows */
        {2, 54, 51, 3, 1, 32, 32}, /* groups of 18 -> 17: exactly 1024 positions */
        {1, 24, 24, 1, 4, 16, 17}, /* 3-d, equal sides */
        {3, 16, 40, 1, 1, 36, 36}, /* one row block of 16 */
        {1, 33, 5, 1, 1, 50, 21},  /* 5 rows of A, 33 of B (two column units) */
    };
    for (size_t i = 0; i < sizeof GEOMS / sizeof GEOMS[0]; i++) {
        const int64_t *e = GEOMS[i];
        cnnc__window g = {.n = e[0], .c = e[1], .m = e[2], .groups = e[3],
                          .in = {e[4], e[5], e[6]}, .out = {e[4], e[5], e[6]}, .k = {1, 1, 1},
                          .stride = {1, 1, 1}, .pad = {0, 0, 0}, .dil = {1, 1, 1}};
        compare_drivers(&g, 1);
        compare_drivers(&g, 2);
    }
    cnnc_set_num_threads(2);
}

static void test_dot_wgrad(void) { each_level("1x1 weight gradient", dot_wgrad, 0xA4093822299F31D0u); }

static void im2col_definition(cnnc__isa isa) {
    for (int it = 0; it < 90; it++) { /* the last 30: 1x1, stride 1, no padding */
        cnnc__window g = random_geom(1 + it % 3, it < 60 ? 0 : 2);
        const int64_t cg = g.c / g.groups, ksz = cnnc__window_k_size(&g), osz = cnnc__window_out_size(&g);
        float *x = rand_buf(cg * cnnc__window_in_size(&g));
        const int64_t o0 = rnd(0, osz - 1), ncol = rnd(1, osz - o0);
        const int64_t c0 = rnd(0, cg - 1), c1 = rnd(c0 + 1, cg);
        float *col = malloc((size_t)((c1 - c0) * ksz * ncol) * sizeof(float));
        cnnc__conv_im2col(isa, col, ncol, x, &g, c0, c1, o0, ncol);
        int bad = 0;
        for (int64_t ci = c0; ci < c1; ci++)
            for (int64_t q = 0; q < ksz; q++)
                for (int64_t j = 0; j < ncol; j++) {
                    int64_t o = o0 + j, p2 = o % g.out[2], p1 = (o / g.out[2]) % g.out[1],
                            p0 = o / (g.out[2] * g.out[1]);
                    int64_t q2 = q % g.k[2], q1 = (q / g.k[2]) % g.k[1], q0 = q / (g.k[2] * g.k[1]);
                    int64_t i0 = p0 * g.stride[0] - g.pad[0] + q0 * g.dil[0];
                    int64_t i1 = p1 * g.stride[1] - g.pad[1] + q1 * g.dil[1];
                    int64_t i2 = p2 * g.stride[2] - g.pad[2] + q2 * g.dil[2];
                    float want = 0.0f;
                    if (i0 >= 0 && i0 < g.in[0] && i1 >= 0 && i1 < g.in[1] && i2 >= 0 && i2 < g.in[2])
                        want = x[ci * cnnc__window_in_size(&g) + (i0 * g.in[1] + i1) * g.in[2] + i2];
                    if (col[((ci - c0) * ksz + q) * ncol + j] != want) bad++;
                }
        CHECK_EQ_INT(bad, 0);
        /* The same rows straight into GEMM B panels (implicit im2col), nr-wide, the
         * columns past ncol zero up to the end of the last panel. */
        {
            static const int64_t nrs[] = {32, 16, 32, 8, 32, 5};
            const int64_t nr = nrs[it % 6], rows = (c1 - c0) * ksz;
            const int64_t k0 = rnd(0, rows - 1), kc = rnd(1, rows - k0);
            const int64_t npan = (ncol + nr - 1) / nr;
            /* 64-byte aligned, as a GEMM's packing buffer is */
            float *pk = aligned_alloc(64, (size_t)((npan * nr * kc + 15) / 16 * 64));
            float *scratch = malloc((size_t)(npan * nr) * sizeof(float));
            for (int64_t i = 0; i < npan * nr * kc; i++) pk[i] = NAN;
            cnnc__conv_pack_cols(isa, pk, nr, scratch, x + c0 * cnnc__window_in_size(&g), &g, k0, kc,
                                 o0, ncol);
            int pbad = 0;
            for (int64_t r = 0; r < kc; r++)
                for (int64_t j = 0; j < npan * nr; j++) {
                    const float want = j < ncol ? col[(k0 + r) * ncol + j] : 0.0f;
                    const float got = pk[(j / nr) * nr * kc + r * nr + j % nr];
                    if (memcmp(&got, &want, sizeof got) != 0) pbad++;
                }
            CHECK_EQ_INT(pbad, 0);
            /* the portable version writes the same bits */
            float *pr = malloc((size_t)(npan * nr * kc) * sizeof(float));
            for (int64_t i = 0; i < npan * nr * kc; i++) pr[i] = NAN;
            cnnc__conv_pack_cols_ref(pr, nr, scratch, x + c0 * cnnc__window_in_size(&g), &g, k0, kc,
                                     o0, ncol);
            CHECK(memcmp(pr, pk, (size_t)(npan * nr * kc) * sizeof(float)) == 0);
            free(pk), free(scratch), free(pr);
        }
        /* col2im is its adjoint: <im2col(x), c> == <x, col2im(c)> */
        float *c = rand_buf((c1 - c0) * ksz * ncol);
        float *xa = calloc((size_t)(cg * cnnc__window_in_size(&g)), sizeof(float));
        cnnc__conv_col2im(isa, xa, c, ncol, &g, c0, c1, o0, ncol);
        double lhs = 0, rhs = 0;
        for (int64_t i = 0; i < (c1 - c0) * ksz * ncol; i++) lhs += (double)col[i] * c[i];
        for (int64_t i = 0; i < cg * cnnc__window_in_size(&g); i++) rhs += (double)x[i] * xa[i];
        CHECK_NEAR(lhs, rhs, 1e-4 * (1 + fabs(lhs)));
        if (it >= 60) { /* a 1x1 col2im adds each column to its one input (accumulates) */
            const int64_t isz = cnnc__window_in_size(&g);
            float *xb = rand_buf(cg * isz), *xc = malloc((size_t)(cg * isz) * sizeof(float));
            memcpy(xc, xb, (size_t)(cg * isz) * sizeof(float));
            cnnc__conv_col2im(isa, xc, c, ncol, &g, c0, c1, o0, ncol);
            int abad = 0;
            for (int64_t ci = 0; ci < cg; ci++)
                for (int64_t i = 0; i < isz; i++) {
                    const bool in = ci >= c0 && ci < c1 && i >= o0 && i < o0 + ncol;
                    const float want = in ? xb[ci * isz + i] + c[(ci - c0) * ncol + i - o0]
                                          : xb[ci * isz + i];
                    if (memcmp(&want, &xc[ci * isz + i], sizeof want) != 0) abad++;
                }
            CHECK_EQ_INT(abad, 0);
            free(xb), free(xc);
        }
        free(x), free(col), free(c), free(xa);
    }
}

static void test_im2col_definition(void) {
    each_level("im2col", im2col_definition, 0xBE5466CF34E90C6Cu);
}

/* Phase planes: the batched packing from them equals im2col's column matrix of the
 * images side by side, the padding columns of the last panel 0. */
static void phase_planes(cnnc__isa isa) {
    for (int it = 0; it < 42; it++) {
        cnnc__window g = random_geom(1 + it % 2, 0);
        if (it >= 40) { /* padding much wider than the input (whole zero planes/rows) */
            g.in[1] = 2, g.in[2] = 1 + it % 2, g.k[1] = 3, g.k[2] = 2;
            g.stride[1] = 1 + it % 2, g.stride[2] = 2, g.dil[1] = g.dil[2] = 1;
            g.pad[1] = 5, g.pad[2] = 7;
            for (int d = 1; d < 3; d++)
                g.out[d] = (g.in[d] + 2 * g.pad[d] - g.k[d]) / g.stride[d] + 1;
            compare_drivers(&g, 2);
            g.stride[2] = 100; /* beyond the phase-plane path's limits: the general one */
            g.out[2] = (g.in[2] + 2 * g.pad[2] - g.k[2]) / g.stride[2] + 1;
            compare_drivers(&g, 2);
            g.stride[2] = 2;
            g.out[2] = (g.in[2] + 2 * g.pad[2] - g.k[2]) / g.stride[2] + 1;
        }
        /* a batch of nb images: the batch's column matrix, image after image */
        const int64_t cg = g.c / g.groups, ksz = cnnc__window_k_size(&g), osz = cnnc__window_out_size(&g);
        const int64_t nb = rnd(1, 3), isz = cg * cnnc__window_in_size(&g);
        float *x = rand_buf(nb * isz);
        float *col = malloc((size_t)(nb * cg * ksz * osz) * sizeof(float)); /* [cg ksz, nb osz] */
        int64_t hph, wph;
        cnnc__conv_phase_geom(&g, &hph, &wph);
        const int64_t img = cg * g.stride[1] * g.stride[2] * hph * wph;
        float *ph = malloc((size_t)(nb * img) * sizeof(float));
        float *phs = malloc((size_t)(nb * img) * sizeof(float)); /* the scalar level's */
        memset(ph, 0, (size_t)(nb * img) * sizeof(float));           /* (phases no tap reads) */
        memset(phs, 0, (size_t)(nb * img) * sizeof(float));
        for (int64_t b = 0; b < nb; b++) {
            cnnc__conv_im2col(isa, col + b * osz, nb * osz, x + b * isz, &g, 0, cg, 0, osz);
            cnnc__conv_phase_split(isa, ph + b * img, x + b * isz, &g, 0, cg);
            cnnc__conv_phase_split(CNNC__ISA_SCALAR, phs + b * img, x + b * isz, &g, 0, cg);
        }
        CHECK(memcmp(ph, phs, (size_t)(nb * img) * sizeof(float)) == 0); /* every column */
        free(phs);
        static const int64_t nrs[] = {32, 16, 8, 5};
        const int64_t nr = nrs[it % 4], rows = cg * ksz;
        const int64_t k0 = rnd(0, rows - 1), kc = rnd(1, rows - k0);
        const int64_t j0 = rnd(0, nb * osz - 1), ncol = rnd(1, nb * osz - j0), npan = (ncol + nr - 1) / nr;
        float *pk = aligned_alloc(64, (size_t)((npan * nr * kc + 15) / 16 * 64));
        cnnc__conv_pack_phase_batch(isa, pk, nr, ph, img, &g, k0, kc, j0, ncol);
        int bad = 0;
        for (int64_t r = 0; r < kc; r++)
            for (int64_t jj = 0; jj < npan * nr; jj++) {
                const float got = pk[(jj / nr) * nr * kc + r * nr + jj % nr];
                if (got != (jj < ncol ? col[(k0 + r) * nb * osz + j0 + jj] : 0.0f)) bad++;
            }
        CHECK_EQ_INT(bad, 0);
        /* copy_add against the plain sum */
        const int64_t n = rnd(1, 70);
        float *dst = malloc((size_t)n * sizeof(float));
        cnnc__conv_copy_add(isa, dst, x, 0.25f, n < cg * cnnc__window_in_size(&g) ? n : 1);
        for (int64_t t = 0; t < (n < cg * cnnc__window_in_size(&g) ? n : 1); t++)
            CHECK(dst[t] == x[t] + 0.25f);
        free(x), free(col), free(ph), free(pk), free(dst);
    }
}

static void test_phase_planes(void) {
    each_level("phase planes", phase_planes, 0xC0AC29B7C97C50DDu);
}

/* Stride-2 splits of wide rows (AVX2 splits both column phases of a row in one pass, 16
 * floats at a time with masked loads at the ends): the scalar level's planes, for widths
 * around multiples of 16 and first layers' 224, paddings 0-4, odd and even kernels. */
static void phase_split_wide(cnnc__isa isa) {
    static const int64_t widths[] = {1, 7, 15, 16, 17, 31, 32, 33, 47, 224, 225}, ks[] = {2, 3, 7};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++)
        for (int64_t pad = 0; pad <= 4; pad++)
            for (size_t kk = 0; kk < sizeof ks / sizeof *ks; kk++) {
                const int64_t k = ks[kk];
                cnnc__window g = {.n = 1, .c = 2, .m = 1, .groups = 1, .in = {1, 3, widths[i]},
                                  .k = {1, 3, k}, .stride = {1, 2, 2}, .pad = {0, 1, pad},
                                  .dil = {1, 1, 1}};
                g.out[0] = 1;
                g.out[1] = (3 + 2 - 3) / 2 + 1;
                g.out[2] = (widths[i] + 2 * pad - k) / 2 + 1;
                if (g.out[2] < 1) continue;
                int64_t hph, wph;
                cnnc__conv_phase_geom(&g, &hph, &wph);
                const int64_t n = 2 * 4 * hph * wph;
                float *x = rand_buf(2 * 3 * widths[i]);
                float *ph = calloc((size_t)n, sizeof(float)), *phs = calloc((size_t)n, sizeof(float));
                cnnc__conv_phase_split(isa, ph, x, &g, 0, 2);
                cnnc__conv_phase_split(CNNC__ISA_SCALAR, phs, x, &g, 0, 2);
                CHECK(memcmp(ph, phs, (size_t)n * sizeof(float)) == 0);
                /* channel 1 alone, into its own planes (a thread's share of channels) */
                memset(ph + n / 2, 0, (size_t)(n / 2) * sizeof(float));
                cnnc__conv_phase_split(isa, ph + n / 2, x, &g, 1, 2);
                CHECK(memcmp(ph, phs, (size_t)n * sizeof(float)) == 0);
                free(x), free(ph), free(phs);
            }
}

static void test_phase_split_wide(void) {
    each_level("stride-2 splits", phase_split_wide, 0x452821E638D01377u);
}

/* A 2-d depthwise plane with a square k x k filter (the register-tiled AVX-512
 * kernels' shapes): W stride 1 or 2, W dilation 1, H anything, widths past 16 lanes. */
static cnnc__window square_dw_geom(int it) {
    cnnc__window g;
    memset(&g, 0, sizeof g);
    g.n = 1, g.c = g.m = g.groups = 2;
    for (int d = 0; d < 3; d++) g.in[d] = g.out[d] = g.k[d] = g.stride[d] = g.dil[d] = 1;
    const int64_t k = it % 2 ? 5 : 3;
    g.k[1] = g.k[2] = k;
    g.stride[1] = rnd(1, 2), g.stride[2] = rnd(1, 2);
    g.dil[1] = rnd(1, 2);
    g.pad[1] = rnd(0, k), g.pad[2] = rnd(0, k);
    for (int d = 1; d < 3; d++) {
        const int64_t eff = g.dil[d] * (k - 1) + 1, lo = eff - 2 * g.pad[d];
        g.in[d] = (lo < 1 ? 1 : lo) + rnd(0, d == 2 ? 90 : 12);
        g.out[d] = (g.in[d] + 2 * g.pad[d] - eff) / g.stride[d] + 1;
    }
    return g;
}

static void depthwise_planes(cnnc__isa isa) {
    for (int it = 0; it < 120; it++) {
        cnnc__window g = it < 60 ? random_geom(1 + it % 3, 1) : square_dw_geom(it);
        const int64_t isz = cnnc__window_in_size(&g), osz = cnnc__window_out_size(&g), ksz = cnnc__window_k_size(&g);
        float *x = rand_buf(isz), *w = rand_buf(ksz), *dy = rand_buf(osz);
        float *y = malloc((size_t)osz * 4), *yr = malloc((size_t)osz * 4);
        float *dx = rand_buf(isz), *dxr = malloc((size_t)isz * 4);
        float *dw = calloc((size_t)ksz, 4), *dwr = calloc((size_t)ksz, 4);
        cnnc__dwconv_forward_plane(isa, y, x, w, 0.25f, &g);
        cnnc__dwconv_forward_plane_ref(yr, x, w, 0.25f, &g);
        CHECK(max_rel(y, yr, osz) < 1e-5);
        /* written over garbage, then accumulated onto that result */
        cnnc__dwconv_backward_data_plane(isa, dx, dy, w, &g, false);
        memset(dxr, 0, (size_t)isz * 4);
        cnnc__dwconv_backward_data_plane_ref(dxr, dy, w, &g);
        CHECK(max_rel(dx, dxr, isz) < 1e-5);
        cnnc__dwconv_backward_data_plane(isa, dx, dy, w, &g, true);
        cnnc__dwconv_backward_data_plane_ref(dxr, dy, w, &g);
        CHECK(max_rel(dx, dxr, isz) < 1e-5);
        cnnc__dwconv_backward_weight_plane(isa, dw, dy, x, &g);
        cnnc__dwconv_backward_weight_plane_ref(dwr, dy, x, &g);
        CHECK(max_rel(dw, dwr, ksz) < 1e-5);
        free(x), free(w), free(dy), free(y), free(yr), free(dx), free(dxr), free(dw), free(dwr);
    }
}

static void test_depthwise_planes(void) {
    each_level("depthwise", depthwise_planes, 0x3F84D5B5B5470917u);
}

static void simd_rows(cnnc__isa isa) {
    const cnnc__conv_rows *rows = cnnc__conv_rows_of(isa);
    const cnnc__conv_axpy_fn axpy = rows->axpy;
    const cnnc__conv_dot_fn dot = rows->dot;
    const cnnc__conv_sum_fn sum = rows->sum;
    const cnnc__conv_gather2_fn gather2 = rows->gather2;
    CHECK(rows->isa <= isa);
    for (int64_t n = 0; n < 70; n++) { /* reads exactly src[0 .. 2n - 1) (ASan checks) */
        float *src = rand_buf(n > 0 ? 2 * n - 1 : 0), *dst = malloc((size_t)(n + 1) * 4);
        gather2(dst, src, n);
        int bad = 0;
        for (int64_t i = 0; i < n; i++) bad += dst[i] != src[2 * i];
        CHECK_EQ_INT(bad, 0);
        free(src), free(dst);
        /* scatter2: dst[2i] += src[i] exactly, odd elements untouched */
        float *d2 = rand_buf(n > 0 ? 2 * n - 1 : 0), *d0 = malloc((size_t)(2 * n + 1) * 4);
        float *s2 = rand_buf(n);
        memcpy(d0, d2, (size_t)(n > 0 ? 2 * n - 1 : 0) * 4);
        rows->scatter2(d2, s2, n);
        bad = 0;
        for (int64_t i = 0; i < 2 * n - 1; i++) bad += d2[i] != (i % 2 ? d0[i] : d0[i] + s2[i / 2]);
        CHECK_EQ_INT(bad, 0);
        free(d2), free(d0), free(s2);
    }
    for (int64_t n = 0; n < 70; n++) {
        float *x = rand_buf(n), *y = rand_buf(n), *y0 = malloc((size_t)(n + 1) * 4);
        memcpy(y0, y, (size_t)n * 4);
        double d = 0, s = 0;
        for (int64_t i = 0; i < n; i++) d += (double)x[i] * y[i], s += x[i];
        CHECK_NEAR(dot(x, y, n), d, 1e-5 * (1 + n));
        CHECK_NEAR(sum(x, n), s, 1e-5 * (1 + n));
        axpy(y, x, 0.5f, n);
        for (int64_t i = 0; i < n; i++) CHECK_NEAR(y[i], y0[i] + 0.5 * x[i], 1e-6);
        free(x), free(y), free(y0);
    }
}

static void test_simd_rows(void) { each_level("row primitives", simd_rows, 0x9216D5D98979FB1Bu); }

/* ---- public API -------------------------------------------------------------------- */

static int shape_is(const cnnc_tensor *t, int ndim, const int64_t *shape) {
    if (!t || cnnc_tensor_ndim(t) != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (cnnc_tensor_shape(t)[i] != shape[i]) return 0;
    return 1;
}

static void test_api_shapes(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(1, 3, 28, 28));
    cnnc_tensor *w = cnnc_randn(CNNC_SHAPE(16, 3, 5, 5));
    cnnc_tensor *y = cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.stride = CNNC_INTS(1), .padding = CNNC_INTS(1)));
    CHECK(shape_is(y, 4, (int64_t[]){1, 16, 26, 26}));
    y = cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.stride = CNNC_INTS(2), .padding = CNNC_INTS(2)));
    CHECK(shape_is(y, 4, (int64_t[]){1, 16, 14, 14}));
    y = cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.padding_str = "same"));
    CHECK(shape_is(y, 4, (int64_t[]){1, 16, 28, 28}));
    cnnc_tensor *xt = cnnc_randn(CNNC_SHAPE(4, 5, 5));
    cnnc_tensor *wt = cnnc_randn(CNNC_SHAPE(4, 3, 3, 3));
    y = cnnc_conv_transpose2d(xt, wt, NULL, CNNC_CONV_TRANSPOSE2D(.stride = CNNC_INTS(2),
                                                                  .output_padding = CNNC_INTS(1)));
    CHECK(shape_is(y, 3, (int64_t[]){3, 12, 12}));
    y = cnnc_conv1d(cnnc_randn(CNNC_SHAPE(0, 2, 9)), cnnc_randn(CNNC_SHAPE(4, 2, 3)), NULL, CNNC_CONV1D());
    CHECK(shape_is(y, 3, (int64_t[]){0, 4, 7}));
    y = cnnc_conv3d(cnnc_randn(CNNC_SHAPE(1, 2, 4, 5, 6)), cnnc_randn(CNNC_SHAPE(4, 1, 1, 2, 3)), NULL,
                    CNNC_CONV3D(.groups = 2, .padding = CNNC_INTS(0, 1, 1)));
    CHECK(shape_is(y, 5, (int64_t[]){1, 4, 4, 6, 6}));
    cnnc_scope_end();
}

static void test_api_errors(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(1, 2, 28, 28), CNNC_FLOAT32);
    cnnc_tensor *w = cnnc_zeros(CNNC_SHAPE(3, 1, 3, 3), CNNC_FLOAT32);
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D()));
    CHECK_ERROR_CONTAINS("Given groups=1, weight of size [3, 1, 3, 3], expected input[1, 2, 28, 28] "
                         "to have 1 channels, but got 2 channels instead");
    CHECK_TENSOR_ERR(cnnc_conv2d(NULL, w, NULL, CNNC_CONV2D()));
    CHECK_TENSOR_ERR(cnnc_conv2d(x, NULL, NULL, CNNC_CONV2D()));
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.groups = 0)));
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.padding_str = "full")));
    CHECK_ERROR_CONTAINS("Invalid padding string: 'full'");
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.stride = CNNC_INTS_NONE)));
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.stride = {.n = -3})));
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.stride = {.n = 99})));
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.padding = CNNC_INTS(INT64_MAX))));
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.dilation = CNNC_INTS(INT64_MAX))));
    CHECK_TENSOR_ERR(cnnc_conv_transpose2d(x, cnnc_zeros(CNNC_SHAPE(2, 1, 3, 3), CNNC_FLOAT32), NULL,
                                           CNNC_CONV_TRANSPOSE2D(.stride = CNNC_INTS(INT64_MAX))));
    cnnc_tensor *xi = cnnc_zeros(CNNC_SHAPE(1, 1, 4, 4), CNNC_INT64);
    CHECK_TENSOR_ERR(cnnc_conv2d(xi, w, NULL, CNNC_CONV2D()));
    CHECK_NULL_ERR(cnnc_conv_transpose_forward(NULL, x, 0, NULL));
    cnnc_module *m = cnnc_conv2d_new(2, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3)));
    REQUIRE(m);
    CHECK_NULL_ERR(cnnc_conv_transpose_forward(m, x, 0, NULL)); /* not a transposed module */
    cnnc_module_release(m);
    CHECK_NULL_ERR(cnnc_conv2d_new(2, 3, CNNC_CONV_MODULE())); /* kernel_size missing */
    /* a kernel_size tuple of the wrong length makes a module (a 5-d weight), as
     * PyTorch's; its forward fails with conv2d's message */
    m = cnnc_conv2d_new(2, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3, 3, 3)));
    REQUIRE(m);
    CHECK_TENSOR_ERR(cnnc_module_forward(m, x));
    CHECK_ERROR_CONTAINS("expected stride to be a single integer value or a list of 3 values");
    cnnc_module_release(m);
    CHECK_NULL_ERR(cnnc_conv2d_new(2, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .groups = 2)));
    CHECK_NULL_ERR(cnnc_conv2d_new(2, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                          .padding_mode = "mirror")));
    CHECK_NULL_ERR(cnnc_convtranspose2d_new(2, 3, CNNC_CONV_TRANSPOSE_MODULE(
                                                       .kernel_size = CNNC_INTS(3), .padding_mode = "reflect")));
    CHECK_NULL_ERR(cnnc_conv2d_new(-2, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3))));
    CHECK_ERROR_CONTAINS("negative dimension -2");
    cnnc_scope_end();
}

static void test_api_autograd_and_module(void) {
    cnnc_manual_seed(1);
    cnnc_module *m = cnnc_conv2d_new(1, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                            .stride = CNNC_INTS(2),
                                                            .padding = CNNC_INTS(1)));
    REQUIRE(m);
    char *r = cnnc_module_repr(m);
    CHECK_STR_EQ(r, "Conv2d(1, 3, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))");
    cnnc_free(r);
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(1, 1, 28, 28));
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    cnnc_tensor *y = cnnc_module_forward(m, x);
    CHECK(shape_is(y, 4, (int64_t[]){1, 3, 14, 14}));
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(y), "ConvolutionBackward0");
    CHECK_OK(cnnc_backward(cnnc_sum(y), NULL, false));
    cnnc_tensor *w = NULL, *b = NULL;
    CHECK_OK(cnnc_module_tensor(m, "weight", &w));
    CHECK_OK(cnnc_module_tensor(m, "bias", &b));
    CHECK(shape_is(cnnc_tensor_grad(w), 4, (int64_t[]){3, 1, 3, 3}));
    CHECK(shape_is(cnnc_tensor_grad(x), 4, (int64_t[]){1, 1, 28, 28}));
    /* d sum / d bias = number of output positions */
    const float *gb = cnnc_tensor_data_f32(cnnc_tensor_grad(b));
    for (int i = 0; i < 3; i++) CHECK_NEAR(gb[i], 196.0, 1e-3);
    cnnc_scope_end();
    /* padding modes and a transposed module with output_size */
    cnnc_module *mr = cnnc_conv1d_new(2, 2, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                             .padding_str = "same",
                                                             .padding_mode = "reflect"));
    cnnc_module *mt = cnnc_convtranspose2d_new(3, 2, CNNC_CONV_TRANSPOSE_MODULE(
                                                          .kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(2)));
    REQUIRE(mr && mt);
    cnnc_scope_begin();
    CHECK(shape_is(cnnc_module_forward(mr, cnnc_randn(CNNC_SHAPE(1, 2, 6))), 3, (int64_t[]){1, 2, 6}));
    cnnc_tensor *yt = cnnc_conv_transpose_forward(mt, cnnc_randn(CNNC_SHAPE(1, 3, 4, 4)), 2,
                                                  (int64_t[]){10, 9});
    CHECK(shape_is(yt, 4, (int64_t[]){1, 2, 10, 9}));
    CHECK_TENSOR_ERR(cnnc_conv_transpose_forward(mt, cnnc_randn(CNNC_SHAPE(1, 3, 4, 4)), 2,
                                                 (int64_t[]){11, 9}));
    cnnc_value v;
    CHECK_OK(cnnc_module_attr(mr, "padding", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_STRING);
    CHECK_STR_EQ(v.s, "same");
    CHECK_OK(cnnc_module_attr(mt, "output_padding", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_INTS);
    CHECK_EQ_INT(v.n, 2);
    cnnc_scope_end();
    cnnc_module_release(mr);
    cnnc_module_release(mt);
    cnnc_module_release(m);
}

/* Winograd F(2x2, 3x3): the kernels (weight transform, tile blocks) against the
 * reference on random 3x3 stride-1 geometries, with random tile blocks (results must
 * not depend on the blocking), then the driver (which takes that path for enough
 * channels) with 1 and 2 threads, bit-identical. */
static float *alloc64(size_t floats) {
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

/* out = the Winograd forward of g through the kernels, in tile blocks of ldt (rounded
 * up to the GEMM's panel width), the weights packed beforehand (chunks 0) or by the
 * blocks, chunks MR-row panels at a time */
static void winograd_by_kernels(cnnc__isa isa, int mt, float *out, const float *x, const float *w,
                                const float *b, const cnnc__window *g, int64_t ldt, int chunks) {
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    ldt = (ldt + nr - 1) / nr * nr;
    const int64_t osz = cnnc__window_out_size(g);
    const int64_t all = g->n * cnnc__conv_winograd_tiles(g, mt);
    float *up = alloc64(cnnc__conv_winograd_packed_floats(isa, g, mt));
    float *gws = alloc64(cnnc__sgemm_workspace_floats(isa));
    const cnnc__wino_weights wt = {.up = chunks ? NULL : up, .w = w, .chunk = chunks * mr};
    float *scratch = alloc64(cnnc__conv_winograd_scratch_floats(isa, g, ldt, mt, wt.chunk));
    cnnc__conv_winograd_pack_weights(isa, up, w, g, mt, false);
    memset(out, 0xFF, (size_t)(g->n * g->m * osz) * 4); /* NaN: every output must be written */
    /* blocks over the whole batch's tiles (crossing images) */
    const int64_t mg = g->m / g->groups;
    for (int64_t grp = 0; grp < g->groups; grp++)
        for (int64_t t0 = 0; t0 < all; t0 += ldt) {
            /* output channels in two calls at a random panel boundary, as threads split them */
            const int64_t cut = mg > mr ? rnd(0, (mg - 1) / mr) * mr : 0;
            for (int part = 0; part < 2; part++)
                cnnc__conv_winograd_block(isa, mt, out, x, &wt, &(cnnc__conv_epilogue){.bias = b},
                                          g, grp, part ? cut : 0, part ? mg : cut, t0,
                                          all - t0 < ldt ? all - t0 : ldt, ldt, scratch, gws);
        }
    free(up), free(gws), free(scratch);
}

/* A 3x3 stride-1 geometry from s = {n, c, m, groups, h, w, pad_h, pad_w}. */
static cnnc__window wino_geom(const int64_t s[8]) {
    cnnc__window g = {.n = s[0], .c = s[1], .m = s[2], .groups = s[3],
                      .in = {1, s[4], s[5]}, .k = {1, 3, 3}, .stride = {1, 1, 1},
                      .pad = {0, s[6], s[7]}, .dil = {1, 1, 1}};
    g.out[0] = 1;
    g.out[1] = s[4] + 2 * s[6] - 2;
    g.out[2] = s[5] + 2 * s[7] - 2;
    return g;
}

/* A random one: batch 1-3, groups (every 4th: 2), up to most_ch channels in and out,
 * padding 0-2, odd and even sizes up to most_in. */
static cnnc__window random_wino_geom(int it, int64_t most_ch, int64_t most_in) {
    int64_t s[8];
    s[0] = rnd(1, 3);
    s[3] = it % 4 == 3 ? 2 : 1;
    s[1] = rnd(1, most_ch / s[3]) * s[3];
    s[2] = rnd(1, most_ch / s[3]) * s[3];
    for (int d = 0; d < 2; d++) {
        s[6 + d] = rnd(0, 2);
        s[4 + d] = rnd(s[6 + d] >= 1 ? 1 : 3, most_in);
    }
    return wino_geom(s);
}

static void print_wino_geom(int it, const cnnc__window *g) {
    fprintf(stderr, "  geometry %d: n=%lld c=%lld m=%lld groups=%lld in=%lldx%lld pad=%lldx%lld\n",
            it, (long long)g->n, (long long)g->c, (long long)g->m, (long long)g->groups,
            (long long)g->in[1], (long long)g->in[2], (long long)g->pad[1], (long long)g->pad[2]);
}

/* Training on few tiles and wide weights (transformed by the blocks, a chunk at a
 * time: 288 channels, 48 tiles over the batch): forward and input gradient the same
 * bits as the kernels with all the weights packed beforehand (the input gradient's
 * through the flipped filters made explicit), at 1 and 2 threads. */
static void winograd_chunked_driver(cnnc__isa isa) {
    const int64_t shape[8] = {3, 288, 288, 1, 7, 7, 1, 1};
    const cnnc__window g = wino_geom(shape);
    cnnc__window t = g; /* the input gradient's forward: filters [c][m] flipped */
    t.c = g.m, t.m = g.c;
    const int64_t nx = g.n * g.c * 49, nw = wsize(&g);
    float *x = rand_buf(nx), *w = rand_buf(nw), *wf = malloc((size_t)nw * 4);
    float *y = malloc((size_t)nx * 4), *yk = malloc((size_t)nx * 4);
    for (int64_t o = 0; o < g.m; o++)
        for (int64_t i = 0; i < g.c; i++)
            for (int q = 0; q < 9; q++) wf[(i * g.m + o) * 9 + q] = w[(o * g.c + i) * 9 + 8 - q];
    CHECK(cnnc__conv_winograd_tile(cnnc__isa_active(), &g, true) == 2);
    const bool chunks = isa != CNNC__ISA_SCALAR; /* its 8-column panels: 6, in 2 blocks */
    for (int threads = 1; threads <= 2; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
        CHECK_OK(cnnc__conv_run_forward(&g, y, x, w, NULL, true));
        CHECK(!chunks || strcmp(cnnc__conv_forward_path(), "winograd F(2x2,3x3), weights by chunks") == 0);
        winograd_by_kernels(isa, 2, yk, x, w, NULL, &g, 64, 0);
        CHECK(memcmp(y, yk, (size_t)nx * 4) == 0);
        CHECK_OK(cnnc__conv_run_backward_data(&g, y, x, w, true));
        CHECK(!chunks ||
              strcmp(cnnc__conv_forward_path(), "flipped forward: winograd F(2x2,3x3), weights by chunks") == 0);
        winograd_by_kernels(isa, 2, yk, x, wf, NULL, &t, 64, 0);
        CHECK(memcmp(y, yk, (size_t)nx * 4) == 0);
    }
    free(x), free(w), free(wf), free(y), free(yk);
}

static void winograd_kernels(cnnc__isa isa) {
    int failures_before = check_current_failures_;
    for (int it = 0; it < 80; it++) {
        cnnc__window g = random_wino_geom(it, 40, 21);
        CHECK(cnnc__conv_winograd_ok(&g));
        const bool has_bias = it % 2 == 0;
        const int mt = it / 2 % 2 ? 4 : 2; /* both tile sizes */
        const int64_t ny = g.n * g.m * cnnc__window_out_size(&g), nx = g.n * g.c * cnnc__window_in_size(&g);
        const int64_t nw = wsize(&g), tiles = cnnc__conv_winograd_tiles(&g, mt);
        float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf(g.m);
        float *y = malloc((size_t)ny * 4 + 4), *y1 = malloc((size_t)ny * 4 + 4);
        float *yr = malloc((size_t)ny * 4 + 4);
        /* blocks of 16-48 tiles, then of an image's tiles (rounded up to 16), the second
         * transforming its weights in chunks of 1-3 panels: the same bits */
        winograd_by_kernels(isa, mt, y, x, w, has_bias ? b : NULL, &g, 16 * rnd(1, 3), 0);
        winograd_by_kernels(isa, mt, y1, x, w, has_bias ? b : NULL, &g, (tiles + 15) / 16 * 16,
                            (int)rnd(0, 3));
        cnnc__conv_ref_forward(yr, x, w, has_bias ? b : NULL, &g);
        CHECK(max_rel(y, yr, ny) < (mt == 4 ? 4e-5 : 1e-5));
        CHECK(memcmp(y, y1, (size_t)ny * 4) == 0);
        free(x), free(w), free(b), free(y), free(y1), free(yr);
        if (check_current_failures_ != failures_before) {
            fprintf(stderr, "  F(%dx%d):\n", mt, mt);
            print_wino_geom(it, &g);
            break;
        }
    }
    /* the driver on shapes its heuristic sends to Winograd (>= 16 channels per group,
     * maps of 8 or more, >= 256 tiles over the batch): the same bits as the kernels (so
     * the path was taken), against the reference, 1 vs 2 threads bit-identical
     * (compare_drivers); odd/even sizes, padding 0/1/2, groups */
    const int64_t shapes[][8] = {/* n, c, m, groups, h, w, pad_h, pad_w */
                                 {3, 24, 40, 1, 21, 22, 1, 1}, {3, 16, 16, 1, 20, 20, 1, 1},
                                 {3, 32, 32, 2, 23, 22, 0, 0}, {3, 20, 36, 1, 17, 19, 2, 2},
                                 {2, 64, 48, 1, 30, 29, 1, 0}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        cnnc__window g = wino_geom(shapes[i]);
        compare_drivers(&g, 2);
        const int64_t nx = g.n * g.c * cnnc__window_in_size(&g), ny = g.n * g.m * cnnc__window_out_size(&g);
        float *x = rand_buf(nx), *w = rand_buf(wsize(&g)), *b = rand_buf(g.m);
        float *y = malloc((size_t)ny * 4), *yk = malloc((size_t)ny * 4);
        for (int threads = 1; threads <= 2; threads++) {
            CHECK_OK(cnnc_set_num_threads(threads));
            for (int training = 0; training <= 1; training++) { /* F(4x4), then F(2x2) */
                CHECK_OK(cnnc__conv_run_forward(&g, y, x, w, b, training));
                const int mt = cnnc__conv_winograd_tile(cnnc__isa_active(), &g, training);
                CHECK(mt == (training ? 2 : 4));
                winograd_by_kernels(isa, mt, yk, x, w, b, &g, 16, 0);
                CHECK(memcmp(y, yk, (size_t)ny * 4) == 0);
            }
        }
        free(x), free(w), free(b), free(y), free(yk);
    }
    { /* inference where F(4x4) does not pay (7x7 maps, 128 tiles of 2x2): F(2x2) */
        const int64_t shape[8] = {8, 64, 48, 1, 7, 7, 1, 1};
        const cnnc__window g = wino_geom(shape);
        CHECK(cnnc__conv_winograd_tile(cnnc__isa_active(), &g, false) == 2);
        const int64_t nx = g.n * g.c * 49, ny = g.n * g.m * 49;
        float *x = rand_buf(nx), *w = rand_buf(wsize(&g)), *y = malloc((size_t)ny * 4);
        float *yk = malloc((size_t)ny * 4);
        CHECK_OK(cnnc__conv_run_forward(&g, y, x, w, NULL, false));
        winograd_by_kernels(isa, 2, yk, x, w, NULL, &g, 16, 0);
        CHECK(memcmp(y, yk, (size_t)ny * 4) == 0);
        free(x), free(w), free(y), free(yk);
    }
    winograd_chunked_driver(isa);
    cnnc_set_num_threads(2);
}

/* Every row loop of a level's Winograd tables (kernels/conv_winograd_internal.h)
 * against the scalar ones on random lengths (vector bodies and every tail), the
 * destinations filled beforehand so that a float written outside the contract shows:
 * F(2x2) the same bits (additions and exact halvings), F(4x4) within rounding (fused
 * multiply-adds). horiz_at on random increasing window starts (up to 16), the weights
 * on both filter layouts (far apart: ds == 9; adjacent: fs == 9, the transposed
 * convolution's), flipped or not, with padding rows; the weight gradient's grad
 * (odd lengths, a missing second row) and fold. */
typedef struct rows_case {
    const cnnc__wino_rows *f, *ref;
    double tol; /* 0: the same bits */
} rows_case;

/* a (the level's) and b (scalar's) of count floats: equal, or within tol */
static bool rows_match(const rows_case *c, const float *a, const float *b, int64_t count) {
    for (int64_t i = 0; i < count; i++)
        if (memcmp(a + i, b + i, 4) != 0 && !(c->tol > 0 && fabs((double)a[i] - b[i]) <= c->tol))
            return false;
    return true;
}

/* two copies of count floats of 0x7F bytes (finite) for the level's and scalar's */
static float *sentinel2(int64_t count) {
    float *p = malloc((size_t)(2 * count) * 4);
    memset(p, 0x7F, (size_t)(2 * count) * 4);
    return p;
}

static void rows_transforms(const rows_case *c, int mt, int64_t n) {
    const int alpha = mt + 2;
    const int64_t pad = (n + 15) / 16 * 16 + 16, ss = n + 8;
    float *d = rand_buf(alpha * pad), *s = sentinel2(alpha * ss);
    const float *dr[6];
    for (int r = 0; r < alpha; r++) dr[r] = d + r * pad;
    const bool whole = rnd(0, 1);
    c->f->vert(s, ss, dr, n, whole);
    c->ref->vert(s + alpha * ss, ss, dr, n, whole);
    CHECK(rows_match(c, s, s + alpha * ss, alpha * ss));
    /* horiz over a row of mt n + 2 (and the slack), horiz_at over random windows */
    float *sr = rand_buf(mt * n + 2 + CNNC__WINO_ROW_SLACK), *v = sentinel2(alpha * ss);
    c->f->horiz(v, ss, sr, n);
    c->ref->horiz(v + alpha * ss, ss, sr, n);
    CHECK(rows_match(c, v, v + alpha * ss, alpha * ss));
    const int64_t na = n < 16 ? n : 16;
    int32_t at[16];
    at[0] = (int32_t)rnd(0, 5);
    for (int64_t k = 1; k < na; k++) at[k] = at[k - 1] + (int32_t)rnd(1, 2 * mt + 2);
    float *sa = rand_buf(at[na - 1] + 64), *va = sentinel2(alpha * ss);
    c->f->horiz_at(va, ss, sa, at, na);
    c->ref->horiz_at(va + alpha * ss, ss, sa, at, na);
    CHECK(rows_match(c, va, va + alpha * ss, alpha * ss));
    /* out: the m x m outputs of k < n (both may write up to n rounded up to 16) */
    float *m = rand_buf(alpha * alpha * pad), *o = sentinel2(mt * mt * pad);
    const float bv = rndf();
    c->f->out(o, pad, m, pad, bv, n);
    c->ref->out(o + mt * mt * pad, pad, m, pad, bv, n);
    for (int i = 0; i < mt * mt; i++) CHECK(rows_match(c, o + i * pad, o + (mt * mt + i) * pad, n));
    float *r = sentinel2(mt * n + 16); /* interleave: writes r[0 .. mt n) only */
    c->f->interleave(r, m, pad, n);
    c->ref->interleave(r + mt * n + 16, m, pad, n);
    CHECK(rows_match(c, r, r + mt * n + 16, mt * n + 16));
    free(d), free(s), free(sr), free(v), free(sa), free(va), free(m), free(o), free(r);
}

static void rows_weights(const rows_case *c, cnnc__isa isa, int mt, bool adjacent) {
    const int np = (mt + 2) * (mt + 2);
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    const int64_t n = rnd(1, mr), kc = rnd(1, 40), ldu = kc * mr + 8;
    const int64_t fs = adjacent ? 9 : 9 * kc + 9 * rnd(0, 2);
    const int64_t ds = adjacent ? 9 * n + 9 * rnd(0, 2) : 9;
    const bool rev = rnd(0, 1);
    float *w = rand_buf((n - 1) * fs + (kc - 1) * ds + 9), *u = sentinel2(np * ldu);
    c->f->weights(u, ldu, w, fs, ds, rev, n, mr, kc);
    c->ref->weights(u + np * ldu, ldu, w, fs, ds, rev, n, mr, kc);
    CHECK(rows_match(c, u, u + np * ldu, np * ldu));
    free(w), free(u);
}

static void rows_wgrad(const rows_case *c, int64_t n) {
    const int64_t len = 2 * n - rnd(0, 1), qs = n + 8; /* grad: a last tile half outside */
    float *r0 = rand_buf(len), *r1 = rnd(0, 3) ? rand_buf(len) : NULL, *q = sentinel2(16 * qs);
    c->f->grad(q, qs, r0, r1, n, len);
    c->ref->grad(q + 16 * qs, qs, r0, r1, n, len);
    CHECK(rows_match(c, q, q + 16 * qs, 16 * qs));
    const int64_t ldd = n + rnd(0, 20), ws = 9 + 9 * rnd(0, 1);
    float *d = rand_buf(16 * ldd), *dw = sentinel2(n * ws);
    c->f->fold(dw, ws, d, ldd, n);
    c->ref->fold(dw + n * ws, ws, d, ldd, n);
    CHECK(rows_match(c, dw, dw + n * ws, n * ws));
    free(r0), free(r1), free(q), free(d), free(dw);
}

static void winograd_rows(cnnc__isa isa) {
    int failures_before = check_current_failures_;
    for (int it = 0; it < 120; it++) {
        const int mt = it % 2 ? 4 : 2;
        const rows_case c = {cnnc__wino_rows_of(isa, mt), cnnc__wino_rows_of(CNNC__ISA_SCALAR, mt),
                             mt == 4 ? 1e-4 : 0.0};
        const int64_t n = it < 64 ? it / 2 + 1 : rnd(1, 70); /* 1 .. 32, then random */
        rows_transforms(&c, mt, n);
        rows_weights(&c, isa, mt, it % 4 >= 2);
        if (mt == 2) rows_wgrad(&c, n);
        if (check_current_failures_ != failures_before) {
            fprintf(stderr, "  F(%dx%d), n = %lld\n", mt, mt, (long long)n);
            break;
        }
    }
}

static void test_winograd_rows(void) {
    each_level("winograd row loops", winograd_rows, 0x452821E638D01377u);
}

/* The packed weight transform (cnnc__conv_winograd_pack_weights) against its
 * definition: element (o, i) of position e's A for group grp read back through the
 * GEMM's packed layout is (G w[grp mg + o][i] G^T)[e] (in double; the panels' padding
 * rows 0), for F(2x2) the same bits as the scalar level's, and the flipped form the same bits as
 * packing a flipped, transposed copy. Channels past a GEMM k block (KC) and not a
 * multiple of MR, groups. */
static const double wino_g2[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
static const double wino_g4[6][3] = {{1, 0, 0},
                                     {1 / 3., 1 / 3., 1 / 3.},
                                     {-1 / 3., 1 / 3., -1 / 3.},
                                     {-16 / 15., -8 / 15., -4 / 15.},
                                     {1 / 15., -2 / 15., 4 / 15.},
                                     {0, 0, 1}};

/* out[((e groups + grp) mg + o) cg + i]: the packed elements read back (padding rows
 * checked to be 0 on the way) */
static void unpack_wino(cnnc__isa isa, float *out, const float *up, const cnnc__window *g, int mt) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups, np = (mt + 2) * (mt + 2);
    const size_t pa = cnnc__sgemm_packed_a_floats(isa, mg, cg);
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    const int64_t mpad = (mg + mr - 1) / mr * mr;
    for (int64_t e = 0; e < np; e++)
        for (int64_t grp = 0; grp < g->groups; grp++)
            for (int64_t o = 0; o < mpad; o++)
                for (int64_t i = 0; i < cg; i++) {
                    const float v = up[e * cnnc__conv_winograd_plane_floats(isa, g) + grp * (int64_t)pa +
                                       cnnc__sgemm_packed_a_offset(isa, mg, cg, o, i)];
                    if (o >= mg)
                        CHECK(v == 0.0f && !signbit(v));
                    else
                        out[((e * g->groups + grp) * mg + o) * cg + i] = v;
                }
}

/* Filters [r0, r0 + rows) of a random group packed by cnnc__conv_winograd_pack_rows:
 * element by element the bits of the whole packing's planes (in up, overwritten) */
static bool pack_rows_matches(cnnc__isa isa, const cnnc__window *g, int mt, const float *w,
                              float *up, bool flipped) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups, np = (mt + 2) * (mt + 2);
    const int64_t grp = rnd(0, g->groups - 1), r0 = rnd(0, mg - 1), rows = rnd(1, mg - r0);
    const int64_t pa = (int64_t)cnnc__sgemm_packed_a_floats(isa, mg, cg);
    const int64_t lda = (int64_t)cnnc__sgemm_packed_a_floats(isa, rows, cg) + 16;
    float *ar = alloc64(cnnc__conv_winograd_rows_floats(isa, g, mt, rows));
    cnnc__conv_winograd_pack_weights(isa, up, w, g, mt, flipped);
    cnnc__conv_winograd_pack_rows(isa, ar, w, g, mt, flipped, grp, r0, rows);
    int64_t bad = 0;
    for (int64_t e = 0; e < np; e++)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < cg; i++) {
                const float got = ar[e * lda + (int64_t)cnnc__sgemm_packed_a_offset(isa, rows, cg, r, i)];
                const float want = up[e * cnnc__conv_winograd_plane_floats(isa, g) + grp * pa +
                                      (int64_t)cnnc__sgemm_packed_a_offset(isa, mg, cg, r0 + r, i)];
                bad += memcmp(&got, &want, 4) != 0;
            }
    free(ar);
    return bad == 0;
}

static void winograd_pack(cnnc__isa isa) {
    int failures_before = check_current_failures_;
    for (int it = 0; it < 24; it++) {
        const int mt = it % 2 ? 4 : 2, alpha = mt + 2, np = alpha * alpha;
        cnnc__window g = random_wino_geom(it, it % 3 == 2 ? 700 : 40, 8);
        const int64_t cg = g.c / g.groups, mg = g.m / g.groups, nw = wsize(&g);
        const size_t packed = cnnc__conv_winograd_packed_floats(isa, &g, mt);
        const size_t packed_s = cnnc__conv_winograd_packed_floats(CNNC__ISA_SCALAR, &g, mt);
        float *w = rand_buf(nw), *wf = malloc((size_t)nw * 4);
        float *up = alloc64(packed), *upf = alloc64(packed), *ups = alloc64(packed_s);
        float *a = malloc((size_t)(np * nw / 9) * 4), *as = malloc((size_t)(np * nw / 9) * 4);
        memset(up, 0x7F, packed * 4), memset(upf, 0x7F, packed * 4); /* every float written */
        cnnc__conv_winograd_pack_weights(isa, up, w, &g, mt, false);
        cnnc__conv_winograd_pack_weights(CNNC__ISA_SCALAR, ups, w, &g, mt, false);
        { /* the items in two ranges, the later first (as threads may): the same floats */
            const int64_t items = cnnc__conv_winograd_pack_items(isa, &g), cut = rnd(0, items);
            memset(upf, 0x7F, packed * 4);
            cnnc__conv_winograd_pack_weights_range(isa, upf, w, &g, mt, it % 4 == 3, cut, items);
            cnnc__conv_winograd_pack_weights_range(isa, upf, w, &g, mt, it % 4 == 3, 0, cut);
            if (it % 4 == 3) /* flipped: against the whole flipped packing */
                cnnc__conv_winograd_pack_weights(isa, up, w, &g, mt, true);
            CHECK(memcmp(up, upf, packed * 4) == 0);
            if (it % 4 == 3) cnnc__conv_winograd_pack_weights(isa, up, w, &g, mt, false);
            memset(upf, 0x7F, packed * 4);
        }
        CHECK(pack_rows_matches(isa, &g, mt, w, upf, it % 2 == 1));
        unpack_wino(isa, a, up, &g, mt);
        unpack_wino(CNNC__ISA_SCALAR, as, ups, &g, mt);
        if (mt == 2) /* F(4x4)'s SIMD loops fuse multiply-adds */
            CHECK(memcmp(a, as, (size_t)(np * nw / 9) * 4) == 0);
        double worst = 0.0;
        for (int64_t f = 0; f < g.m * cg; f++) /* f = (grp mg + o) cg + i */
            for (int r = 0; r < alpha; r++)
                for (int c = 0; c < alpha; c++) {
                    double ref = 0.0, mag = 0.0;
                    for (int p = 0; p < 3; p++)
                        for (int q = 0; q < 3; q++) {
                            const double gg = (mt == 2 ? wino_g2[r][p] * wino_g2[c][q]
                                                       : wino_g4[r][p] * wino_g4[c][q]);
                            ref += gg * w[f * 9 + p * 3 + q];
                            mag += fabs(gg * w[f * 9 + p * 3 + q]);
                        }
                    const int64_t grp = f / cg / mg, rest = f - grp * mg * cg;
                    const double got = a[((int64_t)(r * alpha + c) * g.groups + grp) * mg * cg + rest];
                    const double err = fabs(got - ref) / (mag > 1e-30 ? mag : 1.0);
                    if (err > worst) worst = err;
                }
        CHECK(worst < 1e-6);
        /* flipped: w read as [c, mg, 3, 3] for g; wf is that read made explicit */
        for (int64_t grp = 0; grp < g.groups; grp++)
            for (int64_t o = 0; o < mg; o++)
                for (int64_t i = 0; i < cg; i++)
                    for (int q = 0; q < 9; q++)
                        wf[((grp * mg + o) * cg + i) * 9 + q] = w[((grp * cg + i) * mg + o) * 9 + 8 - q];
        cnnc__conv_winograd_pack_weights(isa, up, wf, &g, mt, false);
        cnnc__conv_winograd_pack_weights(isa, upf, w, &g, mt, true);
        CHECK(memcmp(up, upf, packed * 4) == 0);
        free(w), free(wf), free(up), free(upf), free(ups), free(a), free(as);
        if (check_current_failures_ != failures_before) {
            fprintf(stderr, "  F(%dx%d):\n", mt, mt);
            print_wino_geom(it, &g);
            break;
        }
    }
}

static void test_winograd_pack(void) {
    each_level("winograd weight transform", winograd_pack, 0x9C30D5392AF26013u);
}

static void test_winograd_kernels(void) {
    each_level("winograd", winograd_kernels, 0x0801F2E2858EFC16u);
}

/* The Winograd F(2x2, 3x3) weight gradient (ops/conv_wgrad_wino.c) against the
 * reference: random 3x3 stride-1 geometries whatever the heuristic says (odd and even
 * sizes: part tiles at the right and bottom; padding 0-2; groups; batches whose tile
 * blocks cross images; enough blocks for two tile groups), bit-identical at 1, 2 and 3
 * threads; then the driver on shapes its heuristic sends there (the same bits: the
 * path was taken). */
static void winograd_wgrad_case(cnnc__isa isa, const cnnc__window *g) {
    const int64_t nx = g->n * g->c * cnnc__window_in_size(g), ny = g->n * g->m * cnnc__window_out_size(g);
    const int64_t nw = wsize(g);
    float *x = rand_buf(nx), *dy = rand_buf(ny), *dwr = malloc((size_t)nw * 4);
    float *dw[3];
    cnnc__conv_ref_backward_weight(dwr, dy, x, g);
    for (int t = 0; t < 3; t++) {
        dw[t] = malloc((size_t)nw * 4);
        memset(dw[t], 0xFF, (size_t)nw * 4); /* NaN: every element must be written */
        CHECK_OK(cnnc_set_num_threads(t + 1));
        CHECK_OK(cnnc__conv_wgrad_winograd(isa, g, dw[t], dy, x));
    }
    CHECK(max_rel(dw[0], dwr, nw) < 1e-5);
    CHECK(memcmp(dw[0], dw[1], (size_t)nw * 4) == 0);
    CHECK(memcmp(dw[0], dw[2], (size_t)nw * 4) == 0);
    if (cnnc__conv_wgrad_winograd_pays(cnnc__isa_active(), g)) { /* the driver takes the path */
        CHECK_OK(cnnc__conv_run_backward_weight(g, dw[1], dy, x));
        CHECK(memcmp(dw[0], dw[1], (size_t)nw * 4) == 0);
    }
    free(x), free(dy), free(dwr), free(dw[0]), free(dw[1]), free(dw[2]);
}

static void winograd_wgrad(cnnc__isa isa) {
    int failures_before = check_current_failures_;
    for (int it = 0; it < 40; it++) {
        /* every 5th wide and large: blocks of fewer tiles than the batch's, crossing images */
        cnnc__window g = random_wino_geom(it, it % 5 == 4 ? 72 : 40, it % 5 == 4 ? 40 : 23);
        winograd_wgrad_case(isa, &g);
        if (check_current_failures_ != failures_before) {
            print_wino_geom(it, &g);
            break;
        }
    }
    const int64_t shapes[][8] = {/* n, c, m, groups, h, w, pad_h, pad_w */
                                 {3, 24, 40, 1, 21, 22, 1, 1}, {2, 24, 32, 1, 25, 27, 1, 1},
                                 {3, 64, 64, 2, 23, 22, 0, 0}, {3, 28, 36, 1, 17, 19, 2, 2},
                                 {4, 64, 48, 1, 30, 29, 1, 0},
                                 /* 1200 tiles: 10 blocks, two tile groups, 2 parts */
                                 {2, 64, 40, 1, 48, 50, 1, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        cnnc__window g = wino_geom(shapes[i]);
        CHECK(cnnc__conv_wgrad_winograd_pays(cnnc__isa_active(), &g));
        winograd_wgrad_case(isa, &g);
    }
    cnnc_set_num_threads(2);
}

static void test_winograd_wgrad(void) {
    each_level("winograd weight gradient", winograd_wgrad, 0x13198A2E03707344u);
}

int main(void) {
    RUN_TEST(test_simd_rows);
    RUN_TEST(test_im2col_definition);
    RUN_TEST(test_phase_planes);
    RUN_TEST(test_phase_split_wide);
    RUN_TEST(test_depthwise_planes);
    RUN_TEST(test_drivers_random);
    RUN_TEST(test_drivers_large);
    RUN_TEST(test_dot_wgrad);
    RUN_TEST(test_winograd_rows);
    RUN_TEST(test_winograd_pack);
    RUN_TEST(test_winograd_kernels);
    RUN_TEST(test_winograd_wgrad);
    RUN_TEST(test_api_shapes);
    RUN_TEST(test_api_errors);
    RUN_TEST(test_api_autograd_and_module);
    cnnc_thread_cleanup();
    return check_summary();
}
