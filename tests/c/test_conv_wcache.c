/* Packed weights kept between inference calls (ops/conv_wcache.c), at every ISA level
 * this CPU runs: the cached forward against the reference loop on geometries inside
 * and outside the uncached Winograd domain, and on 1x1 ones (the GEMM's packed filters,
 * with folded scales, against the uncached driver's bits); bit-identical to the uncached driver where
 * both run F(4x4), on a second call (a cache hit), at 1, 2 and 3 threads; a rebuild
 * when the filters change (through the data pointer, seen by no version counter) and
 * when the ISA level changes; CNNC_WEIGHT_CACHE=0; a Conv2d module's no-grad
 * forward, whose cache its release frees (ASan and valgrind see leaks); and the
 * filters' storage version standing in for the comparison. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/tensor.h"
#include "kernels/conv.h"
#include "kernels/isa.h"
#include "ops/conv.h"

static uint64_t rng_state = 0x9B05688C2B3E6C1Fu;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static float *rand_buf(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)((double)(rng_next() >> 40) / (double)(1 << 23) - 1.0);
    return p;
}

/* A 3x3 stride-1 geometry, output size from the padding. */
static cnnc__window geom(int64_t n, int64_t c, int64_t m, int64_t groups, int64_t h, int64_t w, int64_t pad) {
    return (cnnc__window){.n = n, .c = c, .m = m, .groups = groups, .in = {1, h, w},
                          .out = {1, h + 2 * pad - 2, w + 2 * pad - 2}, .k = {1, 3, 3},
                          .stride = {1, 1, 1}, .pad = {0, pad, pad}, .dil = {1, 1, 1}};
}

typedef struct bufs {
    int64_t nx, ny, nw;
    float *x, *w, *b, *y, *y2, *yr;
} bufs;

static bufs bufs_new(const cnnc__window *g) {
    bufs s = {.nx = g->n * g->c * cnnc__window_in_size(g), .ny = g->n * g->m * cnnc__window_out_size(g),
              .nw = g->m * (g->c / g->groups) * 9};
    s.x = rand_buf(s.nx), s.w = rand_buf(s.nw), s.b = rand_buf(g->m);
    s.y = malloc((size_t)s.ny * 4), s.y2 = malloc((size_t)s.ny * 4), s.yr = malloc((size_t)s.ny * 4);
    return s;
}

static void bufs_free(bufs *s) { free(s->x), free(s->w), free(s->b), free(s->y), free(s->y2), free(s->yr); }

/* Does the cache hold any packing? */
static bool cached_any(const cnnc__conv_wcache *c) {
    for (int k = 0; k < CNNC__CONV_WCACHE_KINDS; k++)
        if (c->entry[k]) return true;
    return false;
}

/* One geometry: cached against the reference, a hit bit-identical to the first call
 * and to other thread counts, a rebuild after the filters change. */
static void cached_case(const cnnc__window *g) {
    bufs s = bufs_new(g);
    cnnc__conv_wcache cache = {0};
    cnnc__conv_ref_forward(s.yr, s.x, s.w, s.b, g);
    CHECK_OK(cnnc__conv_run_forward_cached(g, s.y, s.x, s.w, s.b, &cache));
    CHECK(max_rel(s.y, s.yr, s.ny) < 4e-5);
    for (int threads = 1; threads <= 3; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
        CHECK_OK(cnnc__conv_run_forward_cached(g, s.y2, s.x, s.w, s.b, &cache));
        CHECK(memcmp(s.y2, s.y, (size_t)s.ny * 4) == 0);
    }
    CHECK_OK(cnnc_set_num_threads(1));
    if (cnnc__conv_winograd_tile(cnnc__isa_active(), g, false) == 4) { /* the uncached driver runs F(4x4) too */
        CHECK_OK(cnnc__conv_run_forward(g, s.y2, s.x, s.w, s.b, false));
        CHECK(memcmp(s.y2, s.y, (size_t)s.ny * 4) == 0);
    }
    s.w[s.nw / 2] += 0.5f; /* one filter tap changed in place: a rebuild */
    cnnc__conv_ref_forward(s.yr, s.x, s.w, s.b, g);
    CHECK_OK(cnnc__conv_run_forward_cached(g, s.y2, s.x, s.w, s.b, &cache));
    CHECK(max_rel(s.y2, s.yr, s.ny) < 4e-5);
    CHECK(memcmp(s.y2, s.y, (size_t)s.ny * 4) != 0);
    /* the last tap, at 2 threads (wide filters are compared in pieces over the threads) */
    CHECK_OK(cnnc_set_num_threads(2));
    s.w[s.nw - 1] -= 0.5f;
    cnnc__conv_ref_forward(s.yr, s.x, s.w, s.b, g);
    CHECK_OK(cnnc__conv_run_forward_cached(g, s.y, s.x, s.w, s.b, &cache));
    CHECK(max_rel(s.y, s.yr, s.ny) < 4e-5);
    CHECK(memcmp(s.y2, s.y, (size_t)s.ny * 4) != 0);
    CHECK_OK(cnnc_set_num_threads(1));
    cnnc__conv_wcache_clear(&cache);
    CHECK(!cached_any(&cache));
    bufs_free(&s);
}

static void cached_level(void) {
    const cnnc__window gs[] = {
        geom(2, 32, 48, 1, 7, 7, 1),   /* 7x7 maps: outside the uncached domain */
        geom(2, 24, 64, 1, 7, 7, 1),   /* one block: threads split its output channels */
        geom(1, 16, 16, 1, 9, 11, 0),  /* part tiles at the right and bottom */
        geom(3, 20, 17, 1, 5, 6, 2),   /* padding 2, a partial GEMM panel */
        geom(2, 32, 32, 2, 8, 8, 1),   /* groups */
        geom(8, 16, 16, 1, 16, 16, 1), /* inside the uncached domain: the same bits */
        geom(1, 32, 32, 1, 3, 3, 1),   /* 1 tile: not Winograd, cached or not */
        geom(1, 192, 160, 1, 4, 4, 1), /* filters past one compared piece (65536 floats) */
        geom(1, 64, 64, 1, 7, 7, 1),   /* one 7x7 image: F(2x2), its transform cached */
    };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) cached_case(&gs[i]);
}

static void test_cached_forward(void) {
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        REQUIRE(cnnc__isa_set_cap((cnnc__isa)l));
        printf("test_conv_wcache: level %s\n", cnnc__isa_name((cnnc__isa)l));
        cached_level();
    }
    CHECK(cnnc__isa_set_cap(saved));
}

/* A module called at batch 1 (7x7 maps: F(2x2)) and at batch 2 (F(4x4)) in turn keeps
 * both transforms: neither call rebuilds the other's (the same entries throughout),
 * and each result is the reference's. */
static void test_batch_sizes_keep_both(void) {
    const cnnc__window g1 = geom(1, 32, 48, 1, 7, 7, 1), g2 = geom(2, 32, 48, 1, 7, 7, 1);
    bufs s = bufs_new(&g2); /* image 0 of x is g1's input */
    cnnc__conv_wcache cache = {0};
    cnnc__conv_ref_forward(s.yr, s.x, s.w, s.b, &g2);
    const int64_t ny1 = s.ny / 2;
    const cnnc__conv_wentry *kept[CNNC__CONV_WCACHE_KINDS] = {0};
    for (int round = 0; round < 4; round++) {
        const cnnc__window *g = round % 2 ? &g2 : &g1;
        CHECK_OK(cnnc__conv_run_forward_cached(g, s.y, s.x, s.w, s.b, &cache));
        CHECK(max_rel(s.y, s.yr, round % 2 ? s.ny : ny1) < 4e-5);
        CHECK_CONTAINS(cnnc__conv_forward_path(), round % 2 ? "F(4x4" : "F(2x2");
        for (int k = 0; k < CNNC__CONV_WCACHE_KINDS; k++) {
            if (round >= 2) CHECK(cache.entry[k] == kept[k]); /* built once */
            kept[k] = cache.entry[k];
        }
    }
    CHECK(kept[1] && kept[2]);
    cnnc__conv_wcache_clear(&cache);
    CHECK(!cached_any(&cache));
    bufs_free(&s);
}

/* The ISA level is part of the key (the packed layout follows the GEMM's tile). */
static void test_rebuilt_for_another_level(void) {
    if (cnnc__isa_cpu() == CNNC__ISA_SCALAR) return;
    const cnnc__isa saved = cnnc__isa_active();
    const cnnc__window g = geom(2, 32, 48, 1, 7, 7, 1);
    bufs s = bufs_new(&g);
    cnnc__conv_wcache cache = {0};
    cnnc__conv_ref_forward(s.yr, s.x, s.w, s.b, &g);
    CHECK_OK(cnnc__conv_run_forward_cached(&g, s.y, s.x, s.w, s.b, &cache));
    REQUIRE(cnnc__isa_set_cap(CNNC__ISA_SCALAR));
    CHECK_OK(cnnc__conv_run_forward_cached(&g, s.y2, s.x, s.w, s.b, &cache));
    CHECK(max_rel(s.y2, s.yr, s.ny) < 4e-5);
    CHECK(cnnc__isa_set_cap(saved));
    CHECK_OK(cnnc__conv_run_forward_cached(&g, s.y2, s.x, s.w, s.b, &cache));
    CHECK(memcmp(s.y2, s.y, (size_t)s.ny * 4) == 0);
    cnnc__conv_wcache_clear(&cache);
    bufs_free(&s);
}

/* CNNC_WEIGHT_CACHE=0: the module's forward keeps nothing. A Conv2d module in eval
 * under no_grad: the cached forward, a write through the data pointer seen. */
static void test_module_forward(void) {
    cnnc_manual_seed(7);
    cnnc_module *conv = cnnc_conv2d_new(
        32, 48, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1)));
    REQUIRE(conv);
    cnnc_module_eval(conv);
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, 32, 7, 7)), *w = NULL, *b = NULL;
    REQUIRE(x && cnnc_module_tensor(conv, "weight", &w) == CNNC_OK &&
            cnnc_module_tensor(conv, "bias", &b) == CNNC_OK);
    const bool grad = cnnc_set_grad_enabled(false);
    for (int round = 0; round < 2; round++) {
        cnnc_tensor *y = cnnc_module_forward(conv, x), *y2 = cnnc_module_forward(conv, x);
        cnnc_tensor *yr = cnnc_conv2d(x, w, b, CNNC_CONV2D(.padding = CNNC_INTS(1)));
        REQUIRE(y && y2 && yr);
        const int64_t n = cnnc_tensor_numel(y);
        CHECK(memcmp(cnnc_tensor_data_f32(y), cnnc_tensor_data_f32(y2), (size_t)n * 4) == 0);
        CHECK(max_rel(cnnc_tensor_data_f32(y), cnnc_tensor_data_f32(yr), n) < 4e-5);
        setenv("CNNC_WEIGHT_CACHE", "0", 1);
        cnnc_tensor *y3 = cnnc_module_forward(conv, x);
        unsetenv("CNNC_WEIGHT_CACHE");
        REQUIRE(y3);
        CHECK(memcmp(cnnc_tensor_data_f32(y3), cnnc_tensor_data_f32(yr), (size_t)n * 4) == 0);
        cnnc_tensor_data_f32(w)[5] *= -2.0f; /* no version bump: the comparison sees it */
        cnnc_tensor_release(y), cnnc_tensor_release(y2), cnnc_tensor_release(y3), cnnc_tensor_release(yr);
    }
    cnnc_set_grad_enabled(grad);
    cnnc_tensor_release(x);
    cnnc_module_release(conv);
}

/* y == the functional convolution of x with w, b (padding 1) */
static bool matches_functional(cnnc_tensor *y, cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b) {
    cnnc_tensor *yr = cnnc_conv2d(x, w, b, CNNC_CONV2D(.padding = CNNC_INTS(1)));
    if (!yr) return false;
    const bool ok = max_rel(cnnc__f32(y), cnnc__f32(yr), cnnc_tensor_numel(y)) < 4e-5;
    cnnc_tensor_release(yr);
    return ok;
}

/* The filters' storage vouches for them while no writable pointer was handed out: an
 * unchanged version skips the comparison (a write that bumps nothing is then not
 * seen: the proof that it was skipped), a bump (copy_) or another storage (a tensor
 * of its own, even at a freed one's address) rebuilds; reading through
 * cnnc_tensor_data_const exposes nothing, cnnc_tensor_data_f32 does. */
static void test_version_vouches(void) {
    cnnc_manual_seed(11);
    cnnc_module *conv = cnnc_conv2d_new(
        16, 24, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1)));
    REQUIRE(conv);
    cnnc_module_eval(conv);
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, 16, 9, 9)), *w = NULL, *b = NULL;
    REQUIRE(x && cnnc_module_tensor(conv, "weight", &w) == CNNC_OK &&
            cnnc_module_tensor(conv, "bias", &b) == CNNC_OK);
    const bool grad = cnnc_set_grad_enabled(false);
    cnnc_tensor *y1 = cnnc_module_forward(conv, x);
    REQUIRE(y1);
    CHECK(matches_functional(y1, x, w, b));
    CHECK(cnnc_tensor_data_const(w) == cnnc__f32(w) && !atomic_load(&w->storage->exposed));
    const float saved = cnnc__f32(w)[5];
    cnnc__f32(w)[5] = saved * -2.0f + 1.0f; /* bumps nothing, exposes nothing */
    cnnc_tensor *y2 = cnnc_module_forward(conv, x);
    REQUIRE(y2);
    CHECK(memcmp(cnnc__f32(y2), cnnc__f32(y1), (size_t)cnnc_tensor_numel(y1) * 4) == 0);
    cnnc_tensor *w2 = cnnc__tensor_copy(w); /* the changed filters, then copied in: a bump */
    REQUIRE(w2);
    cnnc__f32(w)[5] = saved;
    CHECK_OK(cnnc_tensor_copy_(w, w2));
    cnnc_tensor *y3 = cnnc_module_forward(conv, x);
    REQUIRE(y3);
    CHECK(memcmp(cnnc__f32(y3), cnnc__f32(y1), (size_t)cnnc_tensor_numel(y1) * 4) != 0);
    CHECK(matches_functional(y3, x, w, b));
    /* new storages, each at version 0 (and maybe at the last one's address), one cache */
    cnnc__conv_wcache cache = {0};
    const cnnc_conv_options o = CNNC_CONV2D(.padding = CNNC_INTS(1));
    for (int k = 0; k < 3; k++) {
        cnnc_tensor *wk = cnnc_randn(CNNC_SHAPE(24, 16, 3, 3));
        REQUIRE(wk);
        cnnc_tensor *yk = cnnc__op_conv_cached(x, wk, b, 2, &o, &cache);
        REQUIRE(yk);
        CHECK(matches_functional(yk, x, wk, b));
        cnnc_tensor_release(yk), cnnc_tensor_release(wk);
    }
    cnnc__conv_wcache_clear(&cache);
    float *p = cnnc_tensor_data_f32(w); /* exposed from now on: compared at every call */
    CHECK(atomic_load(&w->storage->exposed));
    p[7] += 0.25f;
    cnnc_tensor *y4 = cnnc_module_forward(conv, x);
    REQUIRE(y4);
    CHECK(matches_functional(y4, x, w, b));
    cnnc_set_grad_enabled(grad);
    cnnc_tensor_release(y1), cnnc_tensor_release(y2), cnnc_tensor_release(y3), cnnc_tensor_release(y4);
    cnnc_tensor_release(w2), cnnc_tensor_release(x);
    cnnc_module_release(conv);
}

/* A 1x1 stride-1 geometry (the GEMM paths that keep their packed filters). */
static cnnc__window pointwise(int64_t n, int64_t c, int64_t m, int64_t groups, int64_t h, int64_t w) {
    return (cnnc__window){.n = n, .c = c, .m = m, .groups = groups, .in = {1, h, w}, .out = {1, h, w},
                          .k = {1, 1, 1}, .stride = {1, 1, 1}, .pad = {0, 0, 0}, .dil = {1, 1, 1}};
}

/* yr = relu6(conv(x, w times s) + b), the reference loop on the folded filters. */
static void folded_ref(const cnnc__window *g, float *yr, const bufs *b, const float *s) {
    const int64_t per = b->nw / g->m;
    float *wf = malloc((size_t)b->nw * sizeof(float));
    for (int64_t i = 0; i < b->nw; i++) wf[i] = b->w[i] * s[i / per];
    cnnc__conv_ref_forward(yr, b->x, wf, b->b, g);
    for (int64_t i = 0; i < b->ny; i++) yr[i] = yr[i] < 0.0f ? 0.0f : yr[i] > 6.0f ? 6.0f : yr[i];
    free(wf);
}

/* The cached packing of scaled filters (a folded BatchNorm) with a bias and ReLU6: the
 * reference's values; the bits of the uncached driver (which folds a copy first) on a
 * hit, at 1 to 3 threads; a rebuild when a filter or a scale changes. */
static void pointwise_case(const cnnc__window *g, bool kept) {
    bufs s = bufs_new(g);
    s.nw = g->m * (g->c / g->groups); /* 1x1 filters (bufs_new drew 3x3 ones: more than enough) */
    float *sc = rand_buf(g->m); /* scales in [0.5, 1.5), a BatchNorm's */
    for (int64_t o = 0; o < g->m; o++) sc[o] = 1.0f + 0.5f * sc[o];
    const cnnc__conv_epilogue ep = {.bias = s.b, .act = true, .op = CNNC__ACT_HARDTANH, .p = {0.0f, 6.0f, 0.0f}};
    cnnc__conv_wcache cache = {0};
    folded_ref(g, s.yr, &s, sc);
    CHECK_OK(cnnc__conv_run_forward_ep(g, s.y, s.x, s.w, sc, &ep, false, &(cnnc__conv_wuse){&cache, 0, 0}));
    CHECK(max_rel(s.y, s.yr, s.ny) < 4e-5);
    CHECK(cached_any(&cache) || !kept);
    for (int threads = 1; threads <= 3; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
        CHECK_OK(cnnc__conv_run_forward_ep(g, s.y2, s.x, s.w, sc, &ep, false, &(cnnc__conv_wuse){&cache, 0, 0}));
        CHECK(memcmp(s.y2, s.y, (size_t)s.ny * 4) == 0);
        CHECK_OK(cnnc__conv_run_forward_ep(g, s.y2, s.x, s.w, sc, &ep, false, NULL));
        CHECK(memcmp(s.y2, s.y, (size_t)s.ny * 4) == 0);
    }
    CHECK_OK(cnnc_set_num_threads(1));
    for (int round = 0; round < 2; round++) {
        if (round == 0)
            s.w[s.nw - 1] += 0.5f; /* the last filter's last tap */
        else
            sc[0] *= -2.0f; /* the first channel's scale */
        folded_ref(g, s.yr, &s, sc);
        CHECK_OK(cnnc__conv_run_forward_ep(g, s.y2, s.x, s.w, sc, &ep, false, &(cnnc__conv_wuse){&cache, 0, 0}));
        CHECK(max_rel(s.y2, s.yr, s.ny) < 4e-5);
        CHECK(memcmp(s.y2, s.y, (size_t)s.ny * 4) != 0);
        memcpy(s.y, s.y2, (size_t)s.ny * 4);
    }
    cnnc__conv_wcache_clear(&cache);
    free(sc);
    bufs_free(&s);
}

static void test_cached_pointwise(void) {
    const struct {
        cnnc__window g;
        bool kept; /* the cache keeps a packing (at every level) */
    } cs[] = {
        {pointwise(8, 40, 96, 1, 7, 7), true},   /* column chunks across the images */
        {pointwise(3, 24, 18, 2, 5, 6), true},   /* column chunks, groups */
        {pointwise(2, 96, 276, 1, 14, 14), true}, /* a GEMM per image, part panels */
        {pointwise(2, 64, 96, 2, 10, 10), true},  /* groups */
        {pointwise(2, 64, 30, 2, 12, 12), false}, /* groups of 15 rows: small at SIMD levels */
        {pointwise(2, 64, 96, 1, 12, 12), false}, /* 96 rows of 144 columns: small at AVX-512 */
        {pointwise(1, 300, 40, 1, 9, 9), true},  /* two k blocks, one image */
        {pointwise(2, 16, 4, 1, 20, 20), false},  /* few rows: the same, a folded copy */
    };
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        REQUIRE(cnnc__isa_set_cap((cnnc__isa)l));
        printf("test_conv_wcache: 1x1, level %s\n", cnnc__isa_name((cnnc__isa)l));
        for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) pointwise_case(&cs[i].g, cs[i].kept);
    }
    CHECK(cnnc__isa_set_cap(saved));
}

int main(void) {
    (void)check_contains_; /* check.h's, for tests of error messages */
    RUN_TEST(test_cached_forward);
    RUN_TEST(test_cached_pointwise);
    RUN_TEST(test_rebuilt_for_another_level);
    RUN_TEST(test_batch_sizes_keep_both);
    RUN_TEST(test_module_forward);
    RUN_TEST(test_version_vouches);
    cnnc_thread_cleanup();
    return check_summary();
}
