/* The forward convolution's epilogue (kernels/conv.h: bias and activation applied while
 * the output is in cache): every forward path (depthwise, Winograd F(4x4) and F(2x2),
 * column chunks, phase planes, the direct small-channel kernels, implicit GEMM, 1x1
 * GEMM run in parallel items and threaded inside, with the epilogue fused into the packed
 * GEMM's store where the level has one; at inference also with the packed weights cached) with every
 * epilogue must give the bits of the convolution followed by the separate activation
 * kernel, at every ISA level this CPU runs, with 1 and 2
 * threads; the op (cnnc__op_conv_act) must equal cnnc_conv2d followed by the public
 * activation function, refuse autograd inputs, and CNNC_TRACE's kernel must name the
 * epilogue. Inputs include values the activations treat specially (NaN, inf, -0). */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/conv_pospanel.h"
#include "kernels/isa.h"
#include "ops/activation.h"
#include "ops/conv.h"

static uint64_t rng_state = 0x13198A2E03707344u;

static float rndf(void) { /* [-1, 1) */
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* n floats in [-scale, scale), and when `specials` a NaN, infinities and -0 among them. */
static float *rand_buf(int64_t n, float scale, bool specials) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = scale * rndf();
    if (specials && n > 40) {
        p[3] = NAN;
        p[17] = INFINITY;
        p[29] = -INFINITY;
        p[37] = -0.0f;
    }
    return p;
}

/* The activations of the epilogue: their functional name and PyTorch arguments. */
static const struct {
    const char *name;
    double a, b;
} ACTS[] = {{"relu", 0, 0},       {"relu6", 0, 0},     {"hardtanh", -0.5, 0.75},
            {"leaky_relu", 0.2, 0}, {"silu", 0, 0},    {"hardswish", 0, 0},
            {"gelu", 0, 0},       {"sigmoid", 0, 0}};
enum { N_ACTS = sizeof ACTS / sizeof *ACTS };

static cnnc__conv_epilogue epilogue_of(int k, const float *bias) {
    cnnc__act_spec s;
    CHECK(cnnc__act_spec_of(ACTS[k].name, ACTS[k].a, ACTS[k].b, &s));
    return (cnnc__conv_epilogue){.bias = bias, .act = true, .op = s.op, .p = s.p};
}

/* A 2-d geometry (batch n, channels c -> m, groups, k x k kernel, stride, padding) of
 * an h x w input; the output size from PyTorch's formula. */
static cnnc__window geom2(int64_t n, int64_t c, int64_t m, int64_t groups, int64_t h, int64_t w,
                          int64_t k, int64_t stride, int64_t pad) {
    cnnc__window g = {.n = n, .c = c, .m = m, .groups = groups, .in = {1, h, w}, .k = {1, k, k},
                      .stride = {1, stride, stride}, .pad = {0, pad, pad}, .dil = {1, 1, 1}};
    g.out[0] = 1;
    g.out[1] = (h + 2 * pad - k) / stride + 1;
    g.out[2] = (w + 2 * pad - k) / stride + 1;
    return g;
}

/* A geometry and the path the forward driver takes for it (inference / training). */
typedef struct path_case {
    const char *what;
    cnnc__window g;
    const char *path_infer, *path_train;
    const char *path_cached; /* with the weights cached (NULL: not checked) */
} path_case;

static int cases(path_case *pc) {
    int n = 0;
    pc[n++] = (path_case){"depthwise 3x3", geom2(2, 8, 8, 8, 13, 17, 3, 1, 1), "depthwise",
                          "depthwise", NULL};
    pc[n++] = (path_case){"depthwise x2 stride 2", geom2(2, 6, 12, 6, 15, 14, 3, 2, 1), "depthwise",
                          "depthwise", NULL};
    pc[n++] = (path_case){"winograd", geom2(2, 16, 24, 1, 24, 26, 3, 1, 1), "winograd F(4x4",
                          "winograd F(2x2", NULL};
    pc[n++] = (path_case){"winograd, groups", geom2(1, 32, 32, 2, 34, 32, 3, 1, 1), "winograd F(4x4",
                          "winograd F(2x2", NULL};
    pc[n++] = (path_case){"column chunks", geom2(3, 40, 12, 2, 7, 9, 3, 1, 1), "column chunks",
                          "column chunks", NULL};
    /* 5x5 outputs: F(2x2)'s tiles would compute 36 */
    pc[n++] = (path_case){"small maps", geom2(2, 24, 16, 1, 5, 5, 3, 1, 1), "column chunks",
                          "column chunks", "winograd F(4x4,3x3), cached weights"};
    /* 3 images: 48 tiles of 2x2, where F(2x2) pays at AVX2 and AVX-512 (f2_forward_pays) */
    pc[n++] = (path_case){"winograd, small maps", geom2(3, 24, 16, 1, 8, 8, 3, 1, 1),
                          "winograd F(2x2", "winograd F(2x2", "winograd F(4x4,3x3), cached weights"};
    pc[n++] = (path_case){"phase planes", geom2(2, 20, 10, 1, 31, 29, 5, 2, 2), "phase planes",
                          "phase planes", "phase planes"};
    /* one image: no column chunks; F(4x4) has 4 tiles, F(2x2) 16 with its weights cached */
    pc[n++] = (path_case){"phase planes, one image", geom2(1, 20, 10, 1, 13, 12, 3, 2, 1),
                          "phase planes", "phase planes", "phase planes"};
    pc[n++] = (path_case){"winograd F(2x2) cached, one image", geom2(1, 24, 20, 1, 7, 7, 3, 1, 1),
                          "phase planes", "phase planes", "winograd F(2x2,3x3), cached weights"};
    pc[n++] = (path_case){"direct, stride 2", geom2(2, 6, 10, 1, 31, 29, 5, 2, 2), "direct",
                          "direct", NULL};
    pc[n++] = (path_case){"direct, groups", geom2(3, 8, 12, 2, 7, 9, 3, 1, 1), "direct", "direct",
                          NULL};
    /* AVX2: by output rows, the epilogue in registers (ReLU, Hardtanh) or after */
    pc[n++] = (path_case){"direct, a 7x7 / 2 stem", geom2(2, 3, 16, 1, 26, 26, 7, 2, 3), "direct",
                          "direct", NULL};
    pc[n++] = (path_case){"direct, a 3x3 / 2 stem", geom2(1, 3, 10, 1, 29, 30, 3, 2, 1), "direct",
                          "direct", NULL};
    pc[n++] = (path_case){"1x1 gemm, items", geom2(2, 16, 20, 1, 20, 21, 1, 1, 0), "gemm (1x1)",
                          "gemm (1x1)", NULL};
    pc[n++] = (path_case){"1x1 gemm, one item", geom2(1, 24, 40, 1, 19, 23, 1, 1, 0), "gemm (1x1)",
                          "gemm (1x1)", NULL};
    /* the packed GEMM's fused store (AVX2, scalar): edge tiles (41 and 38 rows: 6 x 6 + 5,
     * 6 x 6 + 2), masked columns (156 = 9 x 16 + 12, 132 = 8 x 16 + 4), two k blocks (300, 280 > 256),
     * groups (the bias from the group's first channel), rows split over 2 threads */
    pc[n++] = (path_case){"1x1 gemm, k blocks", geom2(2, 300, 41, 1, 12, 13, 1, 1, 0), "gemm (1x1)",
                          "gemm (1x1)", "gemm (1x1)"};
    pc[n++] = (path_case){"1x1 gemm, groups", geom2(2, 64, 76, 2, 12, 11, 1, 1, 0), "gemm (1x1)",
                          "gemm (1x1)", "gemm (1x1)"};
    pc[n++] = (path_case){"1x1 column chunks", geom2(3, 280, 38, 1, 7, 7, 1, 1, 0), "column chunks",
                          "column chunks", "column chunks"};
    pc[n++] = (path_case){"1x1 column chunks, groups", geom2(3, 80, 76, 2, 7, 7, 1, 1, 0),
                          "column chunks", "column chunks", "column chunks"};
    /* 3-d: no phase planes, one image: no column chunks */
    cnnc__window g3 = {.n = 1, .c = 4, .m = 6, .groups = 1, .in = {6, 7, 8}, .out = {4, 5, 6},
                       .k = {3, 3, 3}, .stride = {1, 1, 1}, .pad = {0, 0, 0}, .dil = {1, 1, 1}};
    pc[n++] = (path_case){"implicit gemm (3-d)", g3, "implicit gemm", "implicit gemm",
                          "implicit gemm"};
    return n;
}

static void report(bool same, const path_case *pc, int k, int with_bias, int threads, const char *mode,
                   cnnc__isa isa) {
    if (same) return;
    CHECK(!"fused != conv + separate activation");
    fprintf(stderr, "  %s, %s, bias %d, %d threads, %s at %s\n", pc->what,
            k < 0 ? "no activation" : ACTS[k].name, with_bias, threads, mode, cnnc__isa_name(isa));
}

/* Filters times per-channel scales (a folded BatchNorm), given as w and the scales:
 * the bits of the forward with the caller's products, with the cache (twice: built,
 * then hit; then rebuilt for changed scales) and without. */
static void compare_scaled(const path_case *pc, int threads, bool training, const float *x,
                           const float *w, const float *b, cnnc__conv_wcache *cache) {
    const cnnc__window *g = &pc->g;
    const int64_t ny = g->n * g->m * cnnc__window_out_size(g);
    const int64_t per = (g->c / g->groups) * cnnc__window_k_size(g);
    float *s = rand_buf(g->m, 2.0f, false), *wf = malloc((size_t)(g->m * per) * sizeof(float));
    float *y = malloc((size_t)ny * sizeof(float)), *yr = malloc((size_t)ny * sizeof(float));
    REQUIRE(s && wf && y && yr);
    const cnnc__conv_epilogue ep = {.bias = b};
    cnnc__conv_wcache ref_cache = {0}; /* the reference's, so that round 1 hits cache */
    for (int round = 0; round < 3; round++) {
        if (round == 2) s[g->m - 1] *= 0.5f; /* the cache must see a changed scale */
        for (int64_t o = 0; o < g->m; o++)
            for (int64_t i = 0; i < per; i++) wf[o * per + i] = w[o * per + i] * s[o];
        CHECK_OK(cnnc__conv_run_forward(g, yr, x, wf, b, training));
        CHECK_OK(cnnc__conv_run_forward_ep(g, y, x, w, s, &ep, training, NULL));
        report(memcmp(y, yr, (size_t)ny * sizeof(float)) == 0, pc, -1, 1, threads, "scaled filters",
               cnnc__isa_active());
        if (training) continue;
        CHECK_OK(cnnc__conv_run_forward_cached(g, yr, x, wf, b, &ref_cache));
        CHECK_OK(cnnc__conv_run_forward_ep(g, y, x, w, s, &ep, false, &(cnnc__conv_wuse){cache, 0, 0}));
        report(memcmp(y, yr, (size_t)ny * sizeof(float)) == 0, pc, -1, 1, threads,
               "scaled filters, cached weights", cnnc__isa_active());
    }
    cnnc__conv_wcache_clear(cache);
    cnnc__conv_wcache_clear(&ref_cache);
    free(s), free(wf), free(y), free(yr);
}

/* The path the driver takes at isa where a case names the phase planes: for a strided
 * geometry with more than one tap the position panels where the level packs them
 * (AVX-512), else the planes. */
static const char *expected(cnnc__isa isa, const cnnc__window *g, const char *path) {
    const bool strided = g->stride[1] > 1 || g->stride[2] > 1;
    const bool taps = cnnc__window_k_size(g) > 1;
    if (path && strstr(path, "phase planes") && strided && taps &&
        cnnc__conv_pospanel_fits(isa, g))
        return "position panels";
    return path;
}

/* Every epilogue on one geometry at one thread count and training flag: fused bits ==
 * conv + bias, then the activation kernel (inference: also with cached weights). */
static void compare_epilogues(cnnc__isa isa, const path_case *pc, int threads, bool training) {
    const cnnc__window *g = &pc->g;
    const int64_t nx = g->n * g->c * cnnc__window_in_size(g), ny = g->n * g->m * cnnc__window_out_size(g);
    const int64_t nw = g->m * (g->c / g->groups) * cnnc__window_k_size(g);
    float *x = rand_buf(nx, 3.0f, true), *w = rand_buf(nw, 1.0f, false), *b = rand_buf(g->m, 1.0f, false);
    float *y = malloc((size_t)ny * sizeof(float)), *yr = malloc((size_t)ny * sizeof(float));
    cnnc__conv_wcache cache = {0};
    CHECK_OK(cnnc_set_num_threads(threads));
    for (int with_bias = 0; with_bias < 2; with_bias++)
        for (int k = -1; k < N_ACTS; k++) { /* -1: the bias alone */
            const float *bias = with_bias ? b : NULL;
            cnnc__conv_epilogue ep = k < 0 ? (cnnc__conv_epilogue){.bias = bias} : epilogue_of(k, bias);
            CHECK_OK(cnnc__conv_run_forward(g, yr, x, w, bias, training));
            if (ep.act) cnnc__k_act_forward(isa, ep.op, &ep.p, yr, yr, ny);
            memset(y, 0xA5, (size_t)ny * sizeof(float));
            CHECK_OK(cnnc__conv_run_forward_ep(g, y, x, w, NULL, &ep, training, NULL));
            CHECK_CONTAINS(cnnc__conv_forward_path(),
                           expected(isa, g, training ? pc->path_train : pc->path_infer));
            report(memcmp(y, yr, (size_t)ny * sizeof(float)) == 0, pc, k, with_bias, threads,
                   training ? "training" : "inference", isa);
            if (training) continue;
            /* with the packed weights cached (Winograd from fewer tiles) */
            CHECK_OK(cnnc__conv_run_forward_cached(g, yr, x, w, bias, &cache));
            if (ep.act) cnnc__k_act_forward(isa, ep.op, &ep.p, yr, yr, ny);
            memset(y, 0xA5, (size_t)ny * sizeof(float));
            CHECK_OK(cnnc__conv_run_forward_ep(g, y, x, w, NULL, &ep, false, &(cnnc__conv_wuse){&cache, 0, 0}));
            if (pc->path_cached)
                CHECK_CONTAINS(cnnc__conv_forward_path(), expected(isa, g, pc->path_cached));
            report(memcmp(y, yr, (size_t)ny * sizeof(float)) == 0, pc, k, with_bias, threads,
                   "cached weights", isa);
        }
    cnnc__conv_wcache_clear(&cache);
    compare_scaled(pc, threads, training, x, w, b, &cache);
    free(x), free(w), free(b), free(y), free(yr);
}

/* The cached paths (other algorithms on the same geometry: Winograd from fewer tiles)
 * against the uncached forward: equal up to fp32 rounding, |diff| <= 1e-4 (|y| + 1). */
static void test_cached_close_to_uncached(void) {
    path_case pc[24];
    const int n = cases(pc);
    for (int i = 0; i < n; i++) {
        const cnnc__window *g = &pc[i].g;
        const int64_t nx = g->n * g->c * cnnc__window_in_size(g);
        const int64_t ny = g->n * g->m * cnnc__window_out_size(g);
        const int64_t nw = g->m * (g->c / g->groups) * cnnc__window_k_size(g);
        float *x = rand_buf(nx, 3.0f, false), *w = rand_buf(nw, 1.0f, false);
        float *b = rand_buf(g->m, 1.0f, false), *y = malloc((size_t)ny * sizeof(float));
        float *yc = malloc((size_t)ny * sizeof(float));
        cnnc__conv_wcache cache = {0};
        CHECK_OK(cnnc__conv_run_forward(g, y, x, w, b, false));
        CHECK_OK(cnnc__conv_run_forward_cached(g, yc, x, w, b, &cache));
        int64_t bad = 0;
        for (int64_t t = 0; t < ny; t++) bad += !(fabsf(yc[t] - y[t]) <= 1e-4f * (fabsf(y[t]) + 1.0f));
        if (bad) fprintf(stderr, "  %s: %lld outputs differ\n", pc[i].what, (long long)bad);
        CHECK(bad == 0);
        cnnc__conv_wcache_clear(&cache);
        free(x), free(w), free(b), free(y), free(yc);
    }
}

static void test_every_path_and_epilogue(void) {
    path_case pc[24];
    const int n = cases(pc);
    const cnnc__isa saved = cnnc__isa_active();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        const cnnc__isa isa = (cnnc__isa)l;
        REQUIRE(cnnc__isa_set_cap(isa));
        printf("test_conv_epilogue: level %s\n", cnnc__isa_name(isa));
        for (int i = 0; i < n; i++)
            for (int threads = 1; threads <= 2; threads++)
                for (int training = 0; training < 2; training++)
                    compare_epilogues(isa, &pc[i], threads, training);
    }
    CHECK(cnnc__isa_set_cap(saved));
    cnnc_set_num_threads(2);
}

/* y = the public activation function `name` of t (a new reference). */
static cnnc_tensor *separate_act(int k, cnnc_tensor *t) {
    const char *nm = ACTS[k].name;
    if (!strcmp(nm, "relu")) return cnnc_relu(t);
    if (!strcmp(nm, "relu6")) return cnnc_relu6(t, CNNC_RELU6());
    if (!strcmp(nm, "hardtanh"))
        return cnnc_hardtanh(t, CNNC_HARDTANH(.min_val = ACTS[k].a, .max_val = ACTS[k].b));
    if (!strcmp(nm, "leaky_relu")) return cnnc_leaky_relu(t, CNNC_LEAKY_RELU(.negative_slope = ACTS[k].a));
    if (!strcmp(nm, "silu")) return cnnc_silu(t, CNNC_SILU());
    if (!strcmp(nm, "hardswish")) return cnnc_hardswish(t, CNNC_HARDSWISH());
    if (!strcmp(nm, "gelu")) return cnnc_gelu(t, CNNC_GELU());
    return cnnc_sigmoid(t);
}

static void test_op_equals_conv_then_activation(void) {
    const int64_t xs[4] = {2, 5, 11, 9}, ws[4] = {7, 5, 3, 3}, bs[1] = {7};
    float *xd = rand_buf(2 * 5 * 11 * 9, 3.0f, true), *wd = rand_buf(7 * 5 * 9, 1.0f, false);
    float *bd = rand_buf(7, 1.0f, false);
    cnnc_tensor *x = cnnc_from_data(4, xs, CNNC_FLOAT32, xd), *w = cnnc_from_data(4, ws, CNNC_FLOAT32, wd);
    cnnc_tensor *b = cnnc_from_data(1, bs, CNNC_FLOAT32, bd);
    REQUIRE(x && w && b);
    const cnnc_conv_options o = CNNC_CONV2D(.stride = CNNC_INTS(1, 2), .padding = CNNC_INTS(1, 0));
    for (int k = 0; k < N_ACTS; k++) {
        cnnc__act_spec s;
        CHECK(cnnc__act_spec_of(ACTS[k].name, ACTS[k].a, ACTS[k].b, &s));
        cnnc_tensor *c = cnnc_conv2d(x, w, b, o), *r = c ? separate_act(k, c) : NULL;
        cnnc_tensor *f = cnnc__op_conv_act(x, w, NULL, b, 2, &o, NULL, &s);
        REQUIRE(r && f);
        CHECK_EQ_INT(cnnc_tensor_numel(f), cnnc_tensor_numel(r));
        CHECK(memcmp(cnnc_tensor_data(f), cnnc_tensor_data(r), (size_t)cnnc_tensor_numel(r) * 4) == 0);
        cnnc_tensor_release(c), cnnc_tensor_release(r), cnnc_tensor_release(f);
    }
    /* autograd inputs: refused, with the op's name */
    cnnc__act_spec s;
    CHECK(cnnc__act_spec_of("relu", 0, 0, &s));
    CHECK_OK(cnnc_tensor_set_requires_grad(w, true));
    CHECK_NULL_ERR(cnnc__op_conv_act(x, w, NULL, b, 2, &o, NULL, &s));
    CHECK_ERROR_CONTAINS("conv2d with an activation epilogue");
    const float scale[7] = {1, 2, 3, 4, 5, 6, 7};
    CHECK_NULL_ERR(cnnc__op_conv_act(x, w, scale, b, 2, &o, NULL, NULL));
    CHECK_ERROR_CONTAINS("conv2d with scaled filters");
    const bool old = cnnc_set_grad_enabled(false); /* no_grad: allowed */
    cnnc_tensor *f = cnnc__op_conv_act(x, w, NULL, b, 2, &o, NULL, &s);
    CHECK(f != NULL);
    cnnc_tensor_release(f);
    cnnc_set_grad_enabled(old);
    cnnc_tensor_release(x), cnnc_tensor_release(w), cnnc_tensor_release(b);
    free(xd), free(wd), free(bd);
}

int main(void) {
    RUN_TEST(test_every_path_and_epilogue);
    RUN_TEST(test_cached_close_to_uncached);
    RUN_TEST(test_op_equals_conv_then_activation);
    return check_summary();
}
