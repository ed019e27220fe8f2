/* The forward of strided convolutions by position panels (ops/conv_pospanel.c): the
 * panel packing (cnnc__conv_pack_positions) against its definition, every float of
 * every panel, on random geometries the level packs (1-d and 2-d, strides 1-4,
 * kernels 1-5, dilation 1-3, padding 0-3, maps narrower than a panel, so that a panel
 * holds runs of several rows and images, and wider), random position spans and depth
 * blocks; the path against the reference kernel on random geometries (groups, batch
 * 1-4) and larger ones (ResNet's downsampling layers in small, k blocks, several
 * items), with the filters packed here or given packed, a bias, at 1, 2 and 3 threads
 * with the same bits; through the driver on the larger ones, which must take it;
 * the geometries it declines. AVX-512 only: skipped on CPUs without it. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/conv_pospanel.h"
#include "kernels/isa.h"
#include "ops/conv.h"
#include "ops/conv_pospanel.h"

#include "conv_geom.h"
#include "rng.h"

static bool have_avx512(void) { return cnnc__isa_cpu() >= CNNC__ISA_AVX512; }

/* A random geometry the level packs: dims spatial dims, strided or not. */
static cnnc__window random_geom(int dims, bool strided, int64_t cmax) {
    cnnc__window g;
    for (;;) {
        memset(&g, 0, sizeof g);
        g.n = rnd(1, 4);
        g.groups = rnd(1, 3);
        g.c = g.groups * rnd(1, cmax);
        g.m = g.groups * rnd(1, 40);
        random_spatial(&g, dims, strided, 1);
        if (cnnc__conv_pospanel_fits(CNNC__ISA_AVX512, &g)) return g;
    }
}

/* ---- the packing ----------------------------------------------------------------- */

static float input_at(const float *x, const cnnc__window *g, int64_t img, int64_t ch, int64_t ih,
                      int64_t iw) {
    if (ih < 0 || ih >= g->in[1] || iw < 0 || iw >= g->in[2]) return 0.0f;
    return x[((img * g->c + ch) * g->in[1] + ih) * g->in[2] + iw];
}

static void check_packing(const cnnc__window *g) {
    const int64_t mr = cnnc__conv_pospanel_mr(CNNC__ISA_AVX512), kk = g->k[1] * g->k[2];
    const int64_t cg = g->c / g->groups, kdim = cg * kk, osz = cnnc__window_out_size(g);
    const int64_t total = g->n * osz, grp = rnd(0, g->groups - 1);
    const int64_t q0 = rnd(0, total - 1), npos = rnd(1, total - q0);
    const int64_t k0 = rnd(0, kdim - 1), kc = rnd(1, kdim - k0), npan = (npos + mr - 1) / mr;
    float *x = rand_buf(g->n * g->c * cnnc__window_in_size(g));
    const size_t floats = (size_t)(npan * kc * mr + 16);
    float *d = malloc(floats * sizeof(float));
    for (size_t i = 0; i < floats; i++) d[i] = NAN;
    cnnc__conv_pack_positions(CNNC__ISA_AVX512, d, x, g, grp * cg, q0, npos, k0, kc);
    int bad = 0;
    for (int64_t t = 0; t < npan; t++)
        for (int64_t p = 0; p < kc; p++)
            for (int64_t i = 0; i < mr; i++) {
                const int64_t q = q0 + t * mr + i, k = k0 + p;
                const int64_t img = q / osz, oh = q % osz / g->out[2], ow = q % g->out[2];
                const int64_t ch = grp * cg + k / kk, kh = k % kk / g->k[2], kw = k % g->k[2];
                const float want =
                    t * mr + i < npos
                        ? input_at(x, g, img, ch, oh * g->stride[1] + kh * g->dil[1] - g->pad[1],
                                   ow * g->stride[2] + kw * g->dil[2] - g->pad[2])
                        : 0.0f;
                const float got = d[(t * kc + p) * mr + i];
                if (memcmp(&got, &want, sizeof got) != 0) bad++;
            }
    CHECK_EQ_INT(bad, 0);
    if (check_current_failures_) print_geom(g, 0.0);
    free(x), free(d);
}

static void test_packing(void) {
    if (!have_avx512()) return;
    rng_state = 0x5D1A2C0FFEE12345u;
    for (int it = 0; it < 300 && !check_current_failures_; it++) {
        const cnnc__window g = random_geom(1 + it % 2, it % 3 != 0, 6);
        check_packing(&g);
    }
}

/* ---- the path --------------------------------------------------------------------- */

/* The path (filters packed here, and given packed) with a bias against the reference,
 * at 1-3 threads with the same bits; through the driver too if `driver` (which must
 * take the path). */
static void check_path(const cnnc__window *g, bool driver) {
    const cnnc__isa isa = cnnc__isa_active();
    const int64_t nx = g->n * g->c * cnnc__window_in_size(g);
    const int64_t ny = g->n * g->m * cnnc__window_out_size(g);
    const int64_t nw = g->m * (g->c / g->groups) * cnnc__window_k_size(g);
    float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf(g->m);
    float *yr = malloc((size_t)ny * sizeof(float)), *y1 = malloc((size_t)ny * sizeof(float));
    float *y = malloc((size_t)ny * sizeof(float));
    float *bpk = aligned_alloc(64, (size_t)g->groups * cnnc__conv_pospanel_b_floats(isa, g) *
                                       sizeof(float));
    cnnc__conv_pospanel_pack_filters(isa, g, w, bpk);
    cnnc__conv_ref_forward(yr, x, w, b, g);
    const cnnc__conv_epilogue ep = {.bias = b};
    for (int threads = 1; threads <= 3; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
        for (int given = 0; given < 2; given++) {
            float *out = threads == 1 && !given ? y1 : y;
            for (int64_t i = 0; i < ny; i++) out[i] = NAN; /* every element written */
            CHECK_OK(cnnc__conv_pospanel_forward(isa, g, out, x, w, given ? bpk : NULL, &ep));
            if (out == y) CHECK(memcmp(y, y1, (size_t)ny * sizeof(float)) == 0);
        }
        if (!driver) continue;
        for (int64_t i = 0; i < ny; i++) y[i] = NAN;
        CHECK_OK(cnnc__conv_run_forward(g, y, x, w, b, false));
        CHECK_CONTAINS(cnnc__conv_forward_path(), "position panels");
        CHECK(memcmp(y, y1, (size_t)ny * sizeof(float)) == 0);
    }
    const double err = max_rel(y1, yr, ny);
    CHECK(err < 1e-5);
    if (check_current_failures_) print_geom(g, err);
    free(x), free(w), free(b), free(yr), free(y1), free(y), free(bpk);
}

static void test_path_random(void) {
    if (!have_avx512()) return;
    rng_state = 0x0DDC0FFEE5EED123u;
    for (int it = 0; it < 60 && !check_current_failures_; it++) {
        cnnc__window g = random_geom(1 + it % 2, it % 4 != 0, 24);
        if (g.c / g.groups * cnnc__window_k_size(&g) == 0) continue;
        check_path(&g, false);
    }
}

static void test_path_large(void) {
    if (!have_avx512()) return;
    rng_state = 11;
    const cnnc__window gs[] = {
        geom(2, 32, 64, 1, 28, 28, 3, 2, 1),   /* 14-wide outputs: one run a panel */
        geom(3, 48, 40, 1, 29, 30, 3, 2, 1),   /* odd/even, 15-wide outputs */
        geom(5, 64, 96, 1, 14, 14, 3, 2, 1),   /* 7x7 outputs: panels across images */
        geom(2, 40, 256, 1, 56, 56, 1, 2, 0),  /* 1x1 stride 2 (ResNet-50's shortcut) */
        geom(1, 300, 36, 1, 12, 12, 3, 2, 1),  /* k blocks (2700 deep) */
        geom(2, 64, 96, 2, 18, 17, 3, 2, 1),   /* groups */
        geom(1, 64, 48, 1, 28, 29, 3, 3, 1),   /* stride 3: 10-wide outputs */
    };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0] && !check_current_failures_; i++)
        check_path(&gs[i], true);
}

/* Geometries the level declines: 3-d, a window past 32 floats, levels below AVX-512. */
static void test_declines(void) {
    cnnc__window g = geom(2, 8, 8, 1, 40, 40, 3, 2, 1);
    CHECK(cnnc__conv_pospanel_fits(CNNC__ISA_AVX512, &g));
    CHECK(!cnnc__conv_pospanel_fits(CNNC__ISA_AVX2, &g));
    CHECK(!cnnc__conv_pospanel_fits(CNNC__ISA_SCALAR, &g));
    g.in[0] = 3, g.out[0] = 2, g.k[0] = 2;
    CHECK(!cnnc__conv_pospanel_fits(CNNC__ISA_AVX512, &g));
    g = geom(1, 8, 8, 1, 80, 80, 5, 3, 2); /* 13 x 3 + 4 = 43 floats */
    CHECK(!cnnc__conv_pospanel_fits(CNNC__ISA_AVX512, &g));
    g = geom(1, 8, 8, 1, 9, 9, 5, 3, 2); /* 3-wide outputs: 2 x 3 + 4 = 11 */
    CHECK(cnnc__conv_pospanel_fits(CNNC__ISA_AVX512, &g));
}

int main(void) {
    RUN_TEST(test_packing);
    RUN_TEST(test_path_random);
    RUN_TEST(test_path_large);
    RUN_TEST(test_declines);
    cnnc_thread_cleanup();
    return check_summary();
}
