/* A 1x1 convolution fused with the depthwise convolution that alone reads its result
 * (ops/conv.h, cnnc__conv_run_forward_dw; the model runtime's inference plan,
 * graph_infer.c): on random geometries (odd sizes, stride 1 and 2, padding, 3x3 and 5x5,
 * channel counts off the block size, with and without bias, scaled filters and
 * activations) its bits must be those of the two forwards one after the other, at every
 * ISA level this CPU runs, with 1 and 2 threads; and a graph of conv -> BatchNorm ->
 * ReLU6 -> depthwise conv -> BatchNorm -> ReLU6 must run the pair fused, with the bits
 * of the unfused plan, which it keeps where the expansion's result has a second reader
 * or the first convolution is no 1x1. */
#include "check.h"

#include <cnnc.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "kernels/isa.h"
#include "ops/activation.h"
#include "ops/conv.h"
#include "ops/conv_internal.h"

static uint64_t rng_state = 0x243F6A8885A308D3u;

static int64_t rnd_int(int64_t lo, int64_t hi) { /* [lo, hi] */
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return lo + (int64_t)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

static float *rand_buf(int64_t n, float lo, float hi) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)rnd_int(0, 1 << 20) / (float)(1 << 20);
    return p;
}

/* The pair: A 1x1 (c -> m) on h x w, B depthwise k x k with stride s, padding p,
 * dilation d on A's output. */
static void pair_geoms(cnnc__window *ga, cnnc__window *gb, int64_t n, int64_t c, int64_t m, int64_t h,
                       int64_t w, int64_t k, int64_t s, int64_t p, int64_t d) {
    *ga = (cnnc__window){.n = n, .c = c, .m = m, .groups = 1, .in = {1, h, w}, .out = {1, h, w},
                         .k = {1, 1, 1}, .stride = {1, 1, 1}, .dil = {1, 1, 1}};
    *gb = (cnnc__window){.n = n, .c = m, .m = m, .groups = m, .in = {1, h, w}, .k = {1, k, k},
                         .stride = {1, s, s}, .pad = {0, p, p}, .dil = {1, d, d}};
    gb->out[0] = 1;
    gb->out[1] = (h + 2 * p - d * (k - 1) - 1) / s + 1;
    gb->out[2] = (w + 2 * p - d * (k - 1) - 1) / s + 1;
}

static cnnc__conv_epilogue epilogue(const char *act, const float *bias) {
    cnnc__conv_epilogue ep = {.bias = bias};
    cnnc__act_spec s;
    if (act && cnnc__act_spec_of(act, 0, 0, &s)) ep.act = true, ep.op = s.op, ep.p = s.p;
    return ep;
}

/* One pair at the current level and thread count, A's and B's activations act_a,
 * act_b: fused == A then B, bit for bit. */
static void compare_pair_acts(int round, const char *act_a, const char *act_b, int64_t n, int64_t c,
                              int64_t m, int64_t h, int64_t w, int64_t k, int64_t s, int64_t p,
                              int64_t d) {
    cnnc__window ga, gb;
    pair_geoms(&ga, &gb, n, c, m, h, w, k, s, p, d);
    REQUIRE(cnnc__conv_dw_fusable(&ga, &gb));
    const int64_t ne = n * m * h * w, ny = n * m * cnnc__window_out_size(&gb);
    float *x = rand_buf(n * c * h * w, -2, 2), *wa = rand_buf(m * c, -1, 1), *wb = rand_buf(m * k * k, -1, 1);
    float *ba = rand_buf(m, -1, 1), *bb = rand_buf(m, -1, 1), *sa = rand_buf(m, 0.5f, 2), *sb = rand_buf(m, 0.5f, 2);
    float *e = malloc((size_t)ne * sizeof(float)), *y = malloc((size_t)ny * sizeof(float));
    float *yr = malloc((size_t)ny * sizeof(float));
    REQUIRE(e && y && yr);
    const bool bias = round % 3 != 0, scaled = round % 2 == 0;
    const cnnc__conv_filters fa = {wa, scaled ? sa : NULL, epilogue(act_a, bias ? ba : NULL), {0}};
    const cnnc__conv_filters fb = {wb, scaled ? sb : NULL, epilogue(act_b, bias ? bb : NULL), {0}};
    CHECK_OK(cnnc__conv_run_forward_ep(&ga, e, x, fa.w, fa.wscale, &fa.ep, false, NULL));
    CHECK_OK(cnnc__conv_run_forward_ep(&gb, yr, e, fb.w, fb.wscale, &fb.ep, false, NULL));
    memset(y, 0xA5, (size_t)ny * sizeof(float));
    CHECK_OK(cnnc__conv_run_forward_dw(&ga, &gb, y, x, &fa, &fb));
    CHECK_CONTAINS(cnnc__conv_forward_path(), "then depthwise");
    if (memcmp(y, yr, (size_t)ny * sizeof(float)) != 0) {
        CHECK(!"fused != A then B");
        fprintf(stderr, "  n %lld, %lld -> %lld at %lldx%lld, %lldx%lld stride %lld pad %lld dil %lld, round %d at %s\n",
                (long long)n, (long long)c, (long long)m, (long long)h, (long long)w, (long long)k,
                (long long)k, (long long)s, (long long)p, (long long)d, round, cnnc__isa_name(cnnc__isa_active()));
    }
    free(x), free(wa), free(wb), free(ba), free(bb), free(sa), free(sb), free(e), free(y), free(yr);
}

/* The same, round picking the activations too. */
static void compare_pair(int round, int64_t n, int64_t c, int64_t m, int64_t h, int64_t w, int64_t k,
                         int64_t s, int64_t p, int64_t d) {
    static const char *const acts[] = {"relu6", "silu", NULL};
    compare_pair_acts(round, acts[round % 3], acts[(round + 1) % 3], n, c, m, h, w, k, s, p, d);
}

/* C (1x1, m -> mc) after the pair's B, with A before it or without (c 0), A's and B's
 * activations act_a, act_b: the chain (cnnc__conv_run_forward_chain) == A, B and C one
 * after the other, bit for bit. */
static void compare_chain_acts(int round, const char *act_a, const char *act_b, int64_t n,
                               int64_t c, int64_t m, int64_t mc, int64_t h, int64_t w, int64_t k,
                               int64_t s, int64_t p, int64_t d) {
    cnnc__window ga, gb, gc;
    pair_geoms(&ga, &gb, n, c ? c : m, m, h, w, k, s, p, d);
    const int64_t osz = cnnc__window_out_size(&gb);
    gc = (cnnc__window){.n = n, .c = m, .m = mc, .groups = 1, .in = {1, gb.out[1], gb.out[2]},
                        .out = {1, gb.out[1], gb.out[2]}, .k = {1, 1, 1}, .stride = {1, 1, 1}, .dil = {1, 1, 1}};
    const cnnc__window *pa = c ? &ga : NULL;
    REQUIRE(cnnc__conv_chain_fusable(pa, &gb, &gc));
    const int64_t nx = n * (c ? c : m) * h * w, ne = n * m * h * w, nd = n * m * osz, ny = n * mc * osz;
    float *x = rand_buf(nx, -2, 2), *wa = rand_buf(m * (c ? c : 1), -1, 1), *wb = rand_buf(m * k * k, -1, 1);
    float *wc = rand_buf(mc * m, -1, 1), *ba = rand_buf(m, -1, 1), *bb = rand_buf(m, -1, 1), *bc = rand_buf(mc, -1, 1);
    float *sa = rand_buf(m, 0.5f, 2), *sb = rand_buf(m, 0.5f, 2), *sc = rand_buf(mc, 0.5f, 2);
    float *e = malloc((size_t)ne * sizeof(float)), *dd = malloc((size_t)nd * sizeof(float));
    float *y = malloc((size_t)ny * sizeof(float)), *yr = malloc((size_t)ny * sizeof(float));
    REQUIRE(e && dd && y && yr);
    const bool bias = round % 3 != 0, scaled = round % 2 == 0;
    cnnc__conv_filters fa = {wa, scaled ? sa : NULL, epilogue(act_a, bias ? ba : NULL), {0}};
    cnnc__conv_filters fb = {wb, scaled ? sb : NULL, epilogue(act_b, bias ? bb : NULL), {0}};
    cnnc__conv_filters fc = {wc, scaled ? sc : NULL, epilogue(round % 4 == 1 ? "relu" : NULL, bias ? bc : NULL), {0}};
    if (c) CHECK_OK(cnnc__conv_run_forward_ep(&ga, e, x, fa.w, fa.wscale, &fa.ep, false, NULL));
    CHECK_OK(cnnc__conv_run_forward_ep(&gb, dd, c ? e : x, fb.w, fb.wscale, &fb.ep, false, NULL));
    CHECK_OK(cnnc__conv_run_forward_ep(&gc, yr, dd, fc.w, fc.wscale, &fc.ep, false, NULL));
    memset(y, 0xA5, (size_t)ny * sizeof(float));
    CHECK_OK(cnnc__conv_run_forward_chain(pa, &gb, &gc, y, x, &fa, &fb, &fc));
    CHECK_CONTAINS(cnnc__conv_forward_path(), "then gemm (1x1)");
    /* channels-last where it fits and the threads share out the images (else bands) */
    const int threads = cnnc_get_num_threads();
    const bool cl = cnnc__conv_chain_cl_fits(cnnc__isa_active(), pa, &gb, &gc, &fa.ep, &fb.ep) &&
                    (n % threads == 0 || n >= 4 * threads);
    CHECK(cl == (strstr(cnnc__conv_forward_path(), "channels-last") != NULL));
    if (memcmp(y, yr, (size_t)ny * sizeof(float)) != 0) {
        CHECK(!"chain != one after the other");
        fprintf(stderr, "  n %lld, %lld -> %lld -> %lld at %lldx%lld, %lldx%lld stride %lld pad %lld dil %lld, round %d at %s\n",
                (long long)n, (long long)c, (long long)m, (long long)mc, (long long)h, (long long)w, (long long)k,
                (long long)k, (long long)s, (long long)p, (long long)d, round, cnnc__isa_name(cnnc__isa_active()));
    }
    /* with the modules' caches: built, then hit, then rebuilt for a changed scale of C's
     * (B's output dd stays) */
    cnnc__conv_wcache cache[3] = {{{0}}, {{0}}, {{0}}};
    fa.use.cache = &cache[0], fb.use.cache = &cache[1], fc.use.cache = &cache[2];
    for (int call = 0; call < 3; call++) {
        if (call == 2 && scaled) {
            sc[mc - 1] *= 0.5f;
            CHECK_OK(cnnc__conv_run_forward_ep(&gc, yr, dd, fc.w, fc.wscale, &fc.ep, false, NULL));
        }
        memset(y, 0xA5, (size_t)ny * sizeof(float));
        CHECK_OK(cnnc__conv_run_forward_chain(pa, &gb, &gc, y, x, &fa, &fb, &fc));
        CHECK(memcmp(y, yr, (size_t)ny * sizeof(float)) == 0);
    }
    for (int k = 0; k < 3; k++) cnnc__conv_wcache_clear(&cache[k]);
    free(x), free(wa), free(wb), free(wc), free(ba), free(bb), free(bc), free(sa), free(sb), free(sc);
    free(e), free(dd), free(y), free(yr);
}

/* The same, round picking the activations too. */
static void compare_chain(int round, int64_t n, int64_t c, int64_t m, int64_t mc, int64_t h,
                          int64_t w, int64_t k, int64_t s, int64_t p, int64_t d) {
    static const char *const acts[] = {"relu6", "silu", NULL};
    compare_chain_acts(round, acts[round % 3], acts[(round + 1) % 3], n, c, m, mc, h, w, k, s, p,
                       d);
}

/* The activations of A and B the split runs below take turns with: B's a clamp or none. */
static const char *const split_acts[][2] = {{"relu6", "relu6"}, {NULL, "relu6"}, {"silu", NULL},
                                            {"relu6", NULL}};

/* f(round, i, a) for the cases i < ncases and the activations a of split_acts, at every
 * level and 1 and 2 threads. */
static void split_runs(size_t ncases, void (*f)(int round, size_t i, const char *const act[2])) {
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        REQUIRE(cnnc__isa_set_cap((cnnc__isa)l));
        for (int threads = 1; threads <= 2; threads++) {
            CHECK_OK(cnnc_set_num_threads(threads));
            for (size_t i = 0; i < ncases; i++)
                for (int a = 0; a < 4; a++) f((int)i + a, i, split_acts[a]);
        }
    }
    CHECK(cnnc__isa_set_cap(saved));
    CHECK_OK(cnnc_set_num_threads(1));
}

static const int64_t chain_split_cases[][8] = { /* n, c, m, mc, h, w, k, pad */
    {2, 16, 96, 24, 20, 112, 3, 1}, {1, 5, 40, 7, 17, 47, 3, 1},  {2, 3, 24, 5, 15, 50, 3, 0},
    {3, 4, 20, 6, 13, 49, 5, 2},    {3, 8, 33, 9, 21, 19, 5, 1},  {2, 5, 30, 6, 11, 46, 3, 2},
    {1, 6, 300, 7, 9, 60, 3, 1},    {2, 7, 18, 4, 16, 17, 5, 0}, {2, 4, 16, 5, 9, 13, 3, 1}};

static void chain_split_case(int round, size_t i, const char *const act[2]) {
    const int64_t *q = chain_split_cases[i];
    compare_chain_acts(round, act[0], act[1], q[0], q[1], q[2], q[3], q[4], q[5], q[6], 2, q[7], 1);
}

/* Stride 2 with A and B's activation a clamp or none, at AVX2 on outputs 24 or more wide
 * or a multiple of 8 (cnnc__dwconv_split_fits):
 * A writes E split for B (ops/conv.c, dw_splits), A's epilogue fused into its GEMM
 * (ReLU6) or a pass (SiLU), the padding's columns zeroed after it. Widths odd and even,
 * padding 0 .. K - 1 (the padded row's lead column even or odd), 3x3 and 5x5, bands of
 * one output row (E's kept rows moved up every band), images split over 2 threads, and
 * outputs of 7 (not split). */
static void test_chain_split(void) {
    split_runs(sizeof chain_split_cases / sizeof chain_split_cases[0], chain_split_case);
}

static const int64_t pair_split_cases[][7] = { /* n, c, m, h, w, k, pad */
    {2, 24, 144, 56, 56, 3, 1}, {1, 5, 40, 17, 47, 3, 1},  {3, 3, 24, 15, 50, 3, 0},
    {3, 4, 20, 13, 49, 5, 2},   {2, 8, 33, 21, 51, 5, 1},  {2, 5, 30, 11, 46, 3, 2},
    {1, 6, 16, 301, 60, 3, 1},  {2, 7, 18, 16, 17, 5, 0},  {3, 4, 27, 150, 47, 3, 1},
    {2, 4, 16, 9, 13, 3, 1}};

static void pair_split_case(int round, size_t i, const char *const act[2]) {
    const int64_t *q = pair_split_cases[i];
    compare_pair_acts(round, act[0], act[1], q[0], q[1], q[2], q[3], q[4], q[5], 2, q[6], 1);
}

/* The pair at stride 2 with B's activation a clamp or none, at AVX2 on outputs 24 or
 * more wide or a multiple of 8 (cnnc__dwconv_split_fits): A writes E split for B
 * (ops/conv.c, dw_splits) from its input rows split once per band for all the channel
 * blocks, with the band's padding rows zero rows of E, A's epilogue (ReLU6, SiLU) a
 * pass over E after its GEMM, the padding's columns zeroed after it. MobileNetV2's
 * 24 -> 144 at 56x56 (a plane in one band); widths odd and even, padding 0 .. K - 1,
 * 3x3 and 5x5, channels off the block size (blocks of 13 and 14), several bands a
 * plane (rows so tall that E holds a part of them; the last band's padding rows
 * below), the tiles split over 2 threads (a chunk starting inside an image's band
 * splits its rows itself), and outputs of 7 (not split). */
static void test_pair_split(void) {
    split_runs(sizeof pair_split_cases / sizeof pair_split_cases[0], pair_split_case);
}

static void test_chain_equals_unfused(void) {
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        REQUIRE(cnnc__isa_set_cap((cnnc__isa)l));
        for (int threads = 1; threads <= 2; threads++) {
            CHECK_OK(cnnc_set_num_threads(threads));
            for (int round = 0; round < 24; round++) { /* random geometries, with A or without */
                const int64_t k = rnd_int(0, 3) ? 3 : 5, s = rnd_int(1, 2), d = round % 7 == 3 ? 2 : 1;
                const int64_t p = rnd_int(0, k - 1), least = d * (k - 1) + 1 - 2 * p > 1 ? d * (k - 1) + 1 - 2 * p : 1;
                compare_chain(round, rnd_int(1, 3), round % 2 ? rnd_int(1, 40) : 0, rnd_int(2, 75),
                              rnd_int(1, 40), rnd_int(least, 70), rnd_int(least, 90), k, s, p, d);
            }
            /* bands of one row (E holds three: the kept rows move up every band) */
            compare_chain(0, 1, 5, 300, 7, 9, 60, 3, 1, 1, 1);
            compare_chain(1, 2, 3, 250, 5, 11, 70, 3, 2, 1, 1);
            /* MobileNetV2's first block (no expansion) and an expansion at 112x112 */
            compare_chain(2, 1, 0, 32, 16, 112, 112, 3, 1, 1, 1);
            compare_chain(3, 1, 16, 96, 24, 112, 112, 3, 2, 1, 1);
            /* its blocks at 28x28 and 14x14 (AVX2: channels-last inside) */
            compare_chain(4, 2, 32, 192, 32, 28, 28, 3, 1, 1, 1);
            compare_chain(5, 2, 32, 192, 64, 28, 28, 3, 2, 1, 1);
            compare_chain(6, 3, 96, 576, 96, 14, 14, 3, 1, 1, 1);
            compare_chain(7, 1, 64, 384, 64, 14, 14, 3, 1, 1, 1);
            for (int round = 0; round < 20; round++) { /* channels-last: 8 m, 3x3, rows 14 on */
                const int64_t s = rnd_int(1, 2), p = rnd_int(0, 2), h = rnd_int(14 * s, 28 * s);
                compare_chain(round, rnd_int(1, 3), rnd_int(1, 40), 8 * rnd_int(1, 12),
                              rnd_int(1, 40), h, rnd_int(14 * s + 2 - 2 * p, 784 / (h / s) * s), 3,
                              s, p, 1);
            }
        }
    }
    CHECK(cnnc__isa_set_cap(saved));
    /* not a chain: C 3x3, C grouped, B with a depthwise multiplier */
    cnnc__window ga, gb, gc;
    pair_geoms(&ga, &gb, 2, 16, 32, 20, 20, 3, 1, 1, 1);
    gc = (cnnc__window){.n = 2, .c = 32, .m = 8, .groups = 1, .in = {1, 20, 20}, .out = {1, 20, 20},
                        .k = {1, 1, 1}, .stride = {1, 1, 1}, .dil = {1, 1, 1}};
    CHECK(cnnc__conv_chain_fusable(&ga, &gb, &gc) && cnnc__conv_chain_fusable(NULL, &gb, &gc));
    gc.k[1] = gc.k[2] = 3, gc.pad[1] = gc.pad[2] = 1;
    CHECK(!cnnc__conv_chain_fusable(NULL, &gb, &gc));
    gc.k[1] = gc.k[2] = 1, gc.pad[1] = gc.pad[2] = 0, gc.groups = 2;
    CHECK(!cnnc__conv_chain_fusable(NULL, &gb, &gc));
    gc.groups = 1, gb.m = 64, gc.c = 64;
    CHECK(!cnnc__conv_chain_fusable(NULL, &gb, &gc));
    /* the rule (AVX2): B's output of an image past 1 MB (MobileNetV2's first blocks), or
     * small planes channels-last (its blocks at 28x28 and 14x14, not 7x7) */
    static const struct {
        int64_t c, m, mc, h, s;
        bool pays;
    } rule[] = {{0, 32, 16, 112, 1, true},  {16, 96, 24, 112, 2, true}, {24, 144, 24, 56, 1, true},
                {24, 144, 32, 56, 2, false}, {32, 192, 32, 28, 1, true}, {32, 192, 64, 28, 2, true},
                {96, 576, 96, 14, 1, true},   {96, 576, 160, 14, 2, false}, {160, 960, 160, 7, 1, false}};
    for (size_t i = 0; i < sizeof rule / sizeof *rule && cnnc__isa_active() == CNNC__ISA_AVX2; i++) {
        const int64_t h = rule[i].h, ho = (h - 1) / rule[i].s + 1;
        pair_geoms(&ga, &gb, 8, rule[i].c ? rule[i].c : rule[i].m, rule[i].m, h, h, 3, rule[i].s, 1, 1);
        gc = (cnnc__window){.n = 8, .c = rule[i].m, .m = rule[i].mc, .groups = 1, .in = {1, ho, ho},
                            .out = {1, ho, ho}, .k = {1, 1, 1}, .stride = {1, 1, 1}, .dil = {1, 1, 1}};
        CHECK(cnnc__conv_chain_pays(rule[i].c ? &ga : NULL, &gb, &gc) == rule[i].pays);
    }
    /* batch 1: the band runs at 1 and 2 threads (2: each a part of the image's bands),
     * the channels-last one only where the threads share out the images (1 thread) */
    pair_geoms(&ga, &gb, 1, 32, 32, 112, 112, 3, 1, 1, 1);
    gc = (cnnc__window){.n = 1, .c = 32, .m = 16, .groups = 1, .in = {1, 112, 112}, .out = {1, 112, 112},
                        .k = {1, 1, 1}, .stride = {1, 1, 1}, .dil = {1, 1, 1}};
    cnnc__window gcl = gc;
    pair_geoms(&ga, &gcl, 1, 32, 192, 28, 28, 3, 1, 1, 1);
    const cnnc__window gcc = {.n = 1, .c = 192, .m = 32, .groups = 1, .in = {1, 28, 28}, .out = {1, 28, 28},
                              .k = {1, 1, 1}, .stride = {1, 1, 1}, .dil = {1, 1, 1}};
    const bool avx2 = cnnc__isa_active() == CNNC__ISA_AVX2;
    for (int threads = 1; threads <= 2; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
        CHECK(cnnc__conv_chain_pays(NULL, &gb, &gc) == avx2);
        CHECK(cnnc__conv_chain_pays(&ga, &gcl, &gcc) == (avx2 && threads == 1));
    }
    cnnc_set_num_threads(2);
}

static void test_fused_equals_unfused(void) {
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        REQUIRE(cnnc__isa_set_cap((cnnc__isa)l));
        for (int threads = 1; threads <= 2; threads++) {
            CHECK_OK(cnnc_set_num_threads(threads));
            for (int round = 0; round < 24; round++) { /* random geometries */
                const int64_t k = rnd_int(0, 3) ? 3 : 5, s = rnd_int(1, 2), d = round % 7 == 3 ? 2 : 1;
                const int64_t p = rnd_int(0, k - 1), least = d * (k - 1) + 1 - 2 * p > 1 ? d * (k - 1) + 1 - 2 * p : 1;
                compare_pair(round, rnd_int(1, 3), rnd_int(1, 40), rnd_int(2, 75), rnd_int(least, 70),
                             rnd_int(least, 90), k, s, p, d);
            }
            /* rows so wide that a tile holds fewer channels than a block (8; 2 of 3: a block of 1) */
            compare_pair(0, 1, 5, 37, 6, 1500, 5, 2, 2, 1);
            compare_pair(1, 1, 2, 3, 4, 8000, 3, 1, 1, 1);
            /* MobileNetV2's expansions the rule fuses, and the nearest it does not take */
            compare_pair(2, 1, 16, 96, 112, 112, 3, 2, 1, 1);
            for (int64_t s = 1; s <= 2; s++) {
                compare_pair((int)s, 1, 24, 144, 56, 56, 3, s, 1, 1);
                compare_pair((int)s + 1, 2, 32, 192, 28, 28, 3, s, 1, 1);
            }
        }
    }
    CHECK(cnnc__isa_set_cap(saved));
    /* what the fused run does not take: a 3x3 first convolution, a depthwise multiplier */
    cnnc__window ga, gb;
    pair_geoms(&ga, &gb, 2, 16, 32, 200, 200, 3, 2, 1, 1);
    CHECK(cnnc__conv_dw_fusable(&ga, &gb));
    ga.k[1] = ga.k[2] = 3, ga.pad[1] = ga.pad[2] = 1;
    CHECK(!cnnc__conv_dw_fusable(&ga, &gb));
    pair_geoms(&ga, &gb, 2, 16, 32, 200, 200, 3, 2, 1, 1);
    gb.m = 64;
    CHECK(!cnnc__conv_dw_fusable(&ga, &gb));
    /* the rule: 24 -> 144 at 56x56 pays, 32 -> 192 at 28x28 and 16 -> 96 at 28x28 not */
    pair_geoms(&ga, &gb, 8, 24, 144, 56, 56, 3, 1, 1, 1);
    CHECK(cnnc__conv_dw_fuse_pays(&ga, &gb));
    pair_geoms(&ga, &gb, 8, 32, 192, 28, 28, 3, 2, 1, 1);
    CHECK(!cnnc__conv_dw_fuse_pays(&ga, &gb));
    pair_geoms(&ga, &gb, 8, 16, 96, 28, 28, 3, 1, 1, 1);
    CHECK(!cnnc__conv_dw_fuse_pays(&ga, &gb));
    cnnc_set_num_threads(2);
}

/* BatchNorm statistics and affine settings of a trained network's scale in g. */
static void set_running_stats(cnnc_module *g) {
    cnnc_tensor_list *sd = cnnc_module_state_dict(g);
    for (size_t i = 0; i < cnnc_tensor_list_size(sd); i++) {
        const char *name = cnnc_tensor_list_name(sd, i);
        cnnc_tensor *t = cnnc_tensor_list_get(sd, i);
        if (!strstr(name, "running_") && !strstr(name, "bn_")) continue;
        if (cnnc_tensor_dtype(t) != CNNC_FLOAT32) continue;
        float *v = cnnc_tensor_data_f32(t);
        for (int64_t j = 0; j < cnnc_tensor_numel(t); j++)
            v[j] = strstr(name, "var") ? 0.5f + (float)rnd_int(0, 100) / 100.0f : (float)rnd_int(-50, 50) / 100.0f;
    }
    cnnc_tensor_list_free(sd);
}

/* x -> a -> bn_a -> relu6 -> b (depthwise 3x3, stride 2) -> bn_b -> relu6, and with
 * `second` also relu6's result as a second output (then nothing fuses); ka: a's kernel. */
static cnnc_module *build_pair(int64_t c, int64_t m, int64_t ka, bool second) {
    cnnc_module *g = cnnc__graph_new("Pair");
    if (!g) return NULL;
    cnnc_status st = cnnc__graph_add_module(
        g, "a", cnnc_conv2d_new(c, m, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(ka), .padding = CNNC_INTS(ka / 2), .bias = false)));
    if (!st) st = cnnc__graph_add_module(g, "bn_a", cnnc_batchnorm2d_new(m, CNNC_BATCHNORM()));
    if (!st) st = cnnc__graph_add_module(g, "act", cnnc_relu6_new(CNNC_RELU6()));
    if (!st) st = cnnc__graph_add_module(
                 g, "b", cnnc_conv2d_new(m, m, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(2),
                                                                 .padding = CNNC_INTS(1), .groups = m)));
    if (!st) st = cnnc__graph_add_module(g, "bn_b", cnnc_batchnorm2d_new(m, CNNC_BATCHNORM()));
    CHECK_OK(st);
    int x = cnnc__graph_add_node(g, "x", CNNC__GNODE_INPUT, NULL, 0, NULL);
    int a = cnnc__graph_add_node(g, "a", CNNC__GNODE_MODULE, "a", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(x, 0)}));
    int na = cnnc__graph_add_node(g, "bn_a", CNNC__GNODE_MODULE, "bn_a", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(a, 0)}));
    int ra = cnnc__graph_add_node(g, "act_a", CNNC__GNODE_MODULE, "act", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(na, 0)}));
    int b = cnnc__graph_add_node(g, "b", CNNC__GNODE_MODULE, "b", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(ra, 0)}));
    int nb = cnnc__graph_add_node(g, "bn_b", CNNC__GNODE_MODULE, "bn_b", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(b, 0)}));
    int rb = cnnc__graph_add_node(g, "act_b", CNNC__GNODE_OP, "relu6", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(nb, 0)}));
    CHECK(rb >= 0);
    cnnc__garg outs[2] = {cnnc__garg_ref(rb, 0), cnnc__garg_ref(ra, 0)};
    CHECK_OK(cnnc__graph_set_outputs(g, second ? 2 : 1, cnnc__gargs(second ? 2 : 1, outs)));
    CHECK_OK(cnnc__graph_finish(g));
    set_running_stats(g);
    cnnc_module_train(g, false);
    return g;
}

/* The pair's output of graph g on x without gradients (a new reference), and the path
 * of the last convolution forward. */
static cnnc_tensor *run_infer(cnnc_module *g, cnnc_tensor *x, const char **path) {
    const bool old = cnnc_set_grad_enabled(false);
    cnnc_tensor *outs[CNNC_MAX_OUTPUTS];
    const int k = cnnc_module_forward_n(g, 1, &x, outs);
    cnnc_set_grad_enabled(old);
    *path = cnnc__conv_forward_path();
    for (int i = 1; i < k; i++) cnnc_tensor_release(outs[i]);
    return k > 0 ? outs[0] : NULL;
}

/* Graph fused on x without gradients, then ref (graph's state loaded into it, which
 * keeps its convolutions apart), at 1 and 2 threads: fused's last convolution forward
 * takes path, ref's fuses nothing, and their numel outputs hold the same bits; fused
 * with gradients (its modules as they are) agrees. */
static void compare_graphs(cnnc_module *fused, cnnc_module *ref, cnnc_tensor *x, const char *path,
                           int64_t numel) {
    cnnc_tensor_list *sd = cnnc_module_state_dict(fused);
    CHECK_OK(cnnc_module_load_state_dict(ref, sd, true));
    cnnc_tensor_list_free(sd);
    for (int threads = 1; threads <= 2; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
        const char *pf, *pr;
        cnnc_tensor *yf = run_infer(fused, x, &pf);
        CHECK_CONTAINS(pf, path); /* (before ref's run: a fused run's path is rewritten) */
        cnnc_tensor *yr = run_infer(ref, x, &pr);
        REQUIRE(yf && yr);
        CHECK(strstr(pr, "fused") == NULL);
        CHECK_EQ_INT(cnnc_tensor_numel(yf), numel);
        CHECK_EQ_INT(cnnc_tensor_numel(yr), numel);
        CHECK(memcmp(cnnc_tensor_data(yf), cnnc_tensor_data(yr), (size_t)numel * 4) == 0);
        cnnc_tensor_release(yf), cnnc_tensor_release(yr);
    }
    cnnc_tensor *yg = cnnc_module_forward(fused, x);
    const char *pf;
    cnnc_tensor *yf = run_infer(fused, x, &pf);
    REQUIRE(yg && yf);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(yg), cnnc_tensor_data_f32(yf), cnnc_tensor_numel(yf), 1e-4);
    cnnc_tensor_release(yg), cnnc_tensor_release(yf);
    cnnc_set_num_threads(2);
}

static void test_graph_fuses_the_pair(void) {
    /* big enough to pay: 24 planes of 211 x 213 (4.3 MB an image) */
    const int64_t c = 8, m = 24, xs[4] = {2, c, 211, 213};
    cnnc_manual_seed(11);
    cnnc_module *fused = build_pair(c, m, 1, false), *ref = build_pair(c, m, 1, true);
    cnnc_module *wide = build_pair(c, m, 3, false); /* a 3x3 first convolution: not fused */
    REQUIRE(fused && ref && wide);
    float *xd = rand_buf(xs[0] * xs[1] * xs[2] * xs[3], -2, 2);
    cnnc_tensor *x = cnnc_from_data(4, xs, CNNC_FLOAT32, xd);
    REQUIRE(x);
    compare_graphs(fused, ref, x, "gemm (1x1) + hardtanh(0,6), then depthwise + hardtanh(0,6), fused",
                   xs[0] * m * 106 * 107);
    const char *pw;
    cnnc_tensor *yw = run_infer(wide, x, &pw);
    REQUIRE(yw);
    CHECK(strstr(pw, "fused") == NULL);
    cnnc_tensor_release(yw), cnnc_tensor_release(x);
    free(xd);
    cnnc_module_release(fused), cnnc_module_release(ref), cnnc_module_release(wide);
}

/* x [-> a (1x1, cin -> m) -> bn_a -> relu6] -> b (depthwise 3x3) -> bn_b -> relu6 -> c
 * (1x1, m -> mc) -> bn_c (cin 0: no a), and with `second` also b's relu6 result as a second
 * output (then the chain does not fuse). */
static cnnc_module *build_chain(int64_t cin, int64_t m, int64_t mc, bool second) {
    cnnc_module *g = cnnc__graph_new("Chain");
    if (!g) return NULL;
    cnnc_status st = CNNC_OK;
    if (cin) st = cnnc__graph_add_module(g, "a", cnnc_conv2d_new(cin, m, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(1), .bias = false)));
    if (!st && cin) st = cnnc__graph_add_module(g, "bn_a", cnnc_batchnorm2d_new(m, CNNC_BATCHNORM()));
    if (!st && cin) st = cnnc__graph_add_module(g, "act_a", cnnc_relu6_new(CNNC_RELU6()));
    if (!st) st = cnnc__graph_add_module(
                 g, "b", cnnc_conv2d_new(m, m, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1),
                                                                 .groups = m, .bias = false)));
    if (!st) st = cnnc__graph_add_module(g, "bn_b", cnnc_batchnorm2d_new(m, CNNC_BATCHNORM()));
    if (!st) st = cnnc__graph_add_module(g, "act", cnnc_relu6_new(CNNC_RELU6()));
    if (!st) st = cnnc__graph_add_module(g, "c", cnnc_conv2d_new(m, mc, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(1), .bias = false)));
    if (!st) st = cnnc__graph_add_module(g, "bn_c", cnnc_batchnorm2d_new(mc, CNNC_BATCHNORM()));
    CHECK_OK(st);
    int x = cnnc__graph_add_node(g, "x", CNNC__GNODE_INPUT, NULL, 0, NULL);
    if (cin) {
        int a = cnnc__graph_add_node(g, "a", CNNC__GNODE_MODULE, "a", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(x, 0)}));
        int na = cnnc__graph_add_node(g, "bn_a", CNNC__GNODE_MODULE, "bn_a", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(a, 0)}));
        x = cnnc__graph_add_node(g, "act_a", CNNC__GNODE_MODULE, "act_a", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(na, 0)}));
    }
    int b = cnnc__graph_add_node(g, "b", CNNC__GNODE_MODULE, "b", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(x, 0)}));
    int nb = cnnc__graph_add_node(g, "bn_b", CNNC__GNODE_MODULE, "bn_b", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(b, 0)}));
    int rb = cnnc__graph_add_node(g, "act_b", CNNC__GNODE_MODULE, "act", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(nb, 0)}));
    int c = cnnc__graph_add_node(g, "c", CNNC__GNODE_MODULE, "c", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(rb, 0)}));
    int nc = cnnc__graph_add_node(g, "bn_c", CNNC__GNODE_MODULE, "bn_c", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(c, 0)}));
    CHECK(nc >= 0);
    cnnc__garg outs[2] = {cnnc__garg_ref(nc, 0), cnnc__garg_ref(rb, 0)};
    CHECK_OK(cnnc__graph_set_outputs(g, second ? 2 : 1, cnnc__gargs(second ? 2 : 1, outs)));
    CHECK_OK(cnnc__graph_finish(g));
    set_running_stats(g);
    cnnc_module_train(g, false);
    return g;
}

/* A block of MobileNetV2 (c 0: no expansion) at hw x hw: the convolutions as one run
 * (path), with the bits of the unfused plan. */
static void graph_chain_case(int64_t c, int64_t m, int64_t mc, int64_t hw, const char *path) {
    const int64_t xs[4] = {2, c ? c : m, hw, hw};
    cnnc_module *fused = build_chain(c, m, mc, false), *ref = build_chain(c, m, mc, true);
    REQUIRE(fused && ref);
    float *xd = rand_buf(xs[0] * xs[1] * xs[2] * xs[3], -2, 2);
    cnnc_tensor *x = cnnc_from_data(4, xs, CNNC_FLOAT32, xd);
    REQUIRE(x);
    compare_graphs(fused, ref, x, path, xs[0] * mc * hw * hw);
    cnnc_tensor_release(x);
    free(xd);
    cnnc_module_release(fused), cnnc_module_release(ref);
}

static void test_graph_fuses_the_chain(void) {
    if (cnnc__isa_active() != CNNC__ISA_AVX2) return; /* the rule takes chains at AVX2 only */
    cnnc_manual_seed(12);
    graph_chain_case(0, 32, 16, 112, "depthwise + hardtanh(0,6), then gemm (1x1), fused");
    graph_chain_case(24, 144, 24, 56, "gemm (1x1) + hardtanh(0,6), then depthwise + hardtanh(0,6), then gemm (1x1), fused");
    /* and its 96 -> 576 -> 96 block at 14x14, channels-last inside */
    graph_chain_case(96, 576, 96, 14, "gemm (1x1) + hardtanh(0,6), then depthwise + hardtanh(0,6), then gemm (1x1), fused, channels-last");
}

int main(void) {
    RUN_TEST(test_fused_equals_unfused);
    RUN_TEST(test_chain_equals_unfused);
    RUN_TEST(test_chain_split);
    RUN_TEST(test_pair_split);
    RUN_TEST(test_graph_fuses_the_pair);
    RUN_TEST(test_graph_fuses_the_chain);
    return check_summary();
}
