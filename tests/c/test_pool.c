/* Pooling: each fast kernel against the reference kernel on randomized shapes
 * (fixed seed), the public functions and modules on small hand-checked cases,
 * gradients, error paths (NULL, dtype, bad options, bad indices), no leaks. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/pool.h"
#include "kernels/pool_internal.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static int64_t rand_in(int64_t lo, int64_t hi) { return lo + (int64_t)(next_u32() % (uint32_t)(hi - lo + 1)); }
static float rand_f(void) { return (float)(next_u32() % 2000) / 100.0f - 10.0f; }

/* PyTorch's output size rule (checked elsewhere against torch). */
static int64_t out_size(int64_t in, int64_t k, int64_t p, int64_t s, int64_t d, bool ceil) {
    int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
    int64_t o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
    if (ceil && (o - 1) * s >= in + p) o--;
    return o;
}

/* A quiet NaN with some payload bits (which one a max pool keeps is part of its result). */
static float nan_with_payload(uint32_t r) {
    uint32_t bits = 0x7fc00000u | (r & 0x003fffffu) | (r & 0x80000000u);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* A random 2-d geometry with a valid output (D = 1). */
static bool random_geom(cnnc__window *g, bool dilated) {
    g->n = rand_in(1, 5);
    g->in[0] = g->out[0] = g->k[0] = g->stride[0] = g->dil[0] = 1;
    g->pad[0] = 0;
    bool ceil = next_u32() & 1;
    for (int i = 1; i < 3; i++) {
        g->in[i] = i == 2 && next_u32() % 8 == 0 ? rand_in(4000, 4200) : rand_in(1, 40); /* > row buffer */
        g->k[i] = rand_in(1, 5);
        g->stride[i] = rand_in(1, 4);
        g->pad[i] = rand_in(0, g->k[i] / 2);
        g->dil[i] = dilated ? rand_in(1, 3) : 1;
        g->out[i] = out_size(g->in[i], g->k[i], g->pad[i], g->stride[i], g->dil[i], ceil);
        if (g->out[i] < 1) return false;
    }
    return true;
}

static void test_max_fast_matches_ref(void) {
    int tested = 0;
    for (int it = 0; it < 400; it++) {
        cnnc__window g;
        if (!random_geom(&g, false)) continue;
        int64_t isz = g.n * cnnc__window_in_size(&g), osz = g.n * cnnc__window_out_size(&g);
        float *x = malloc((size_t)isz * sizeof(float));
        float *o1 = malloc((size_t)osz * sizeof(float)), *o2 = malloc((size_t)osz * sizeof(float));
        int64_t *i1 = malloc((size_t)osz * sizeof(int64_t)), *i2 = malloc((size_t)osz * sizeof(int64_t));
        REQUIRE(x && o1 && o2 && i1 && i2);
        for (int64_t i = 0; i < isz; i++) {
            x[i] = (float)(next_u32() % 5); /* ties, and zeros of both signs */
            if (x[i] == 0.0f && next_u32() % 2) x[i] = -0.0f;
            if (next_u32() % 17 == 0) x[i] = nan_with_payload(next_u32());
            if (next_u32() % 19 == 0) x[i] = -INFINITY;
        }
        cnnc__k_max_pool_ref(o1, i1, x, &g, 0, g.n);
        bool same = true;
        for (int l = 0; l < CNNC__ISA_COUNT; l++) { /* every variant this CPU runs */
            if (!cnnc__isa_supported((cnnc__isa)l)) continue;
            memset(i2, 0xff, (size_t)osz * sizeof(int64_t));
            CHECK(cnnc__k_max_pool2d_fast((cnnc__isa)l, o2, i2, x, &g, 0, g.n));
            for (int64_t i = 0; i < osz; i++)
                same &= i1[i] == i2[i] && memcmp(&o1[i], &o2[i], sizeof(float)) == 0; /* bits */
        }
        CHECK(same);
        /* the values-only path (no indices; where the vector kernel declines, a
         * column-first loop runs: the same values, maybe another zero's sign or NaN) */
        for (int l = 0; l < CNNC__ISA_COUNT; l++) {
            if (!cnnc__isa_supported((cnnc__isa)l)) continue;
            CHECK(cnnc__k_max_pool2d_fast((cnnc__isa)l, o2, NULL, x, &g, 0, g.n));
            for (int64_t i = 0; i < osz; i++) same &= (isnan(o1[i]) && isnan(o2[i])) || o1[i] == o2[i];
        }
        CHECK(same);
        /* the vector kernels' own values-only path, where they take the geometry: bits */
#define VALUES_BITS(isa, sfx)                                                                  \
        if (cnnc__isa_supported(CNNC__ISA_##isa) && cnnc__k_max_pool2d_idx_##sfx(o2, NULL, x, &g, 0, g.n)) \
            same &= memcmp(o1, o2, (size_t)osz * sizeof(float)) == 0;
        CNNC__POOL_VARIANTS(VALUES_BITS)
#undef VALUES_BITS
        CHECK(same);
        free(x), free(o1), free(o2), free(i1), free(i2);
        tested++;
    }
    CHECK(tested > 100);
    cnnc__window g;
    while (!random_geom(&g, true) || (g.dil[1] == 1 && g.dil[2] == 1)) {
    }
    CHECK(!cnnc__k_max_pool2d_fast(cnnc__isa_cpu(), NULL, NULL, NULL, &g, 0, 0)); /* declines dilation */
}

static void test_avg_fast_matches_ref(void) {
    int tested = 0;
    for (int it = 0; it < 400; it++) {
        cnnc__window g;
        if (!random_geom(&g, false)) continue;
        if (next_u32() % 4 == 0) g.in[2] = 1500 + rand_in(0, 800); /* wider than the row buffer */
        for (int i = 1; i < 3; i++) g.out[i] = out_size(g.in[i], g.k[i], g.pad[i], g.stride[i], 1, false);
        cnnc__avg_opts o = {next_u32() & 1, next_u32() % 3 == 0, rand_in(-3, 9)};
        if (o.divisor == 0) o.divisor = 5;
        int64_t isz = g.n * cnnc__window_in_size(&g), osz = g.n * cnnc__window_out_size(&g);
        float *x = malloc((size_t)isz * sizeof(float));
        float *o1 = malloc((size_t)osz * sizeof(float)), *o2 = malloc((size_t)osz * sizeof(float));
        REQUIRE(x && o1 && o2);
        for (int64_t i = 0; i < isz; i++) x[i] = rand_f();
        cnnc__k_avg_pool_ref(o1, x, &g, &o, 0, g.n);
        CHECK(cnnc__k_avg_pool2d_fast(o2, x, &g, &o, 0, g.n));
        CHECK_FLOATS_NEAR(o2, o1, osz, 1e-4);
        free(x), free(o1), free(o2);
        tested++;
    }
    CHECK(tested > 100);
}

/* The 2x2, stride 2 windows (a loop of their own): the general loop's sums, bit for bit, with
 * -0.0 sums giving +0.0 as its loop starting from 0 does; odd sizes drop the last row
 * and column; a divisor_override. */
static void test_avg_2x2(void) {
    cnnc__window g = {.n = 3, .in = {1, 7, 9}, .out = {1, 3, 4}, .k = {1, 2, 2},
                      .stride = {1, 2, 2}, .dil = {1, 1, 1}};
    enum { ISZ = 3 * 7 * 9, OSZ = 3 * 3 * 4 };
    float x[ISZ], y[OSZ];
    for (int i = 0; i < ISZ; i++) x[i] = i % 5 == 0 ? -0.0f : rand_f();
    for (int div = 0; div < 2; div++) {
        const cnnc__avg_opts o = {false, div == 1, 3};
        CHECK(cnnc__k_avg_pool2d_fast(y, x, &g, &o, 0, g.n));
        for (int p = 0; p < 3; p++)
            for (int oh = 0; oh < 3; oh++)
                for (int ow = 0; ow < 4; ow++) {
                    const float *r = x + (p * 7 + 2 * oh) * 9 + 2 * ow;
                    float sum = 0.0f;
                    sum += r[0] + r[9];
                    sum += r[1] + r[10];
                    const float want = sum / (div ? 3.0f : 4.0f), got = y[(p * 3 + oh) * 4 + ow];
                    CHECK(memcmp(&got, &want, sizeof got) == 0);
                }
    }
}

/* The backward row by row where windows do not overlap or at stride 1: the
 * reference's bits (each input 0 + its windows' shares in the reference's order, -0.0
 * shares giving +0.0), over random geometries (padding, ceil mode, strides past the
 * kernel, 2x2 / 2 with odd sizes, stride 1), all the divisor options; other
 * overlapping windows and 3-d ones are declined. */
static void test_avg_backward_fast_matches_ref(void) {
    int tested = 0, declined = 0;
    for (int it = 0; it < 600; it++) {
        cnnc__window g;
        if (!random_geom(&g, false)) continue;
        if (it % 3 == 0) { /* 2x2 windows at stride 2, sizes odd or even */
            bool ceil = next_u32() & 1;
            for (int i = 1; i < 3; i++) {
                g.k[i] = g.stride[i] = 2;
                g.pad[i] = next_u32() % 4 == 0;
                g.out[i] = out_size(g.in[i], 2, g.pad[i], 2, 1, ceil);
            }
            if (g.out[1] < 1 || g.out[2] < 1) continue;
        } else if (it % 3 == 1) { /* stride 1: overlapping windows */
            for (int i = 1; i < 3; i++) {
                g.stride[i] = 1;
                g.out[i] = out_size(g.in[i], g.k[i], g.pad[i], 1, 1, false);
            }
        }
        const cnnc__avg_opts o = {next_u32() & 1, next_u32() % 3 == 0, rand_in(1, 9)};
        const int64_t isz = g.n * cnnc__window_in_size(&g), osz = g.n * cnnc__window_out_size(&g);
        float *gy = malloc((size_t)osz * sizeof(float));
        float *g1 = malloc((size_t)isz * sizeof(float)), *g2 = malloc((size_t)isz * sizeof(float));
        REQUIRE(gy && g1 && g2);
        for (int64_t i = 0; i < osz; i++) gy[i] = i % 7 == 0 ? -0.0f : rand_f();
        for (int64_t i = 0; i < isz; i++) g2[i] = nan_with_payload(next_u32()); /* all written */
        cnnc__k_avg_pool_backward_ref(g1, gy, &g, &o, 0, g.n);
        const bool overlap = g.stride[1] < g.k[1] || g.stride[2] < g.k[2];
        const bool s1 = g.stride[1] == 1 && g.stride[2] == 1;
        const bool ran = cnnc__k_avg_pool2d_backward_fast(g2, gy, &g, &o, 0, g.n);
        if (!overlap || (s1 && g.in[2] <= 1000)) CHECK(ran); /* wider rows may decline */
        if (overlap && !s1) CHECK(!ran);
        if (ran) {
            CHECK(memcmp(g1, g2, (size_t)isz * sizeof(float)) == 0);
            tested++;
        } else
            declined++;
        free(gy), free(g1), free(g2);
    }
    CHECK(tested > 250 && declined > 30);
    cnnc__window g3 = {.n = 1, .in = {2, 4, 4}, .out = {1, 2, 2}, .k = {2, 2, 2},
                       .stride = {2, 2, 2}, .dil = {1, 1, 1}};
    const cnnc__avg_opts o = {true, false, 0};
    CHECK(!cnnc__k_avg_pool2d_backward_fast(NULL, NULL, &g3, &o, 0, 0)); /* 3-d */
}

static void test_global_avg_matches_ref(void) {
    for (int it = 0; it < 50; it++) {
        cnnc__window g = {.n = rand_in(1, 9), .in = {rand_in(1, 4), rand_in(1, 9), rand_in(1, 30)},
                             .out = {1, 1, 1}};
        int64_t isz = g.n * cnnc__window_in_size(&g);
        float *x = malloc((size_t)isz * sizeof(float)), o1[9], o2[9];
        REQUIRE(x);
        for (int64_t i = 0; i < isz; i++) x[i] = rand_f();
        cnnc__k_adaptive_avg_ref(o1, x, &g, 0, g.n);
        CHECK(cnnc__k_adaptive_avg_global(o2, x, &g, 0, g.n));
        CHECK_FLOATS_NEAR(o2, o1, g.n, 1e-4);
        free(x);
    }
    cnnc__window g = {.n = 1, .in = {1, 4, 4}, .out = {1, 2, 2}};
    CHECK(!cnnc__k_adaptive_avg_global(NULL, NULL, &g, 0, 1));
}

/* The tabulated kernel: the ref's bits, random 1-3 d geometries (windows that overlap,
 * outputs larger than the input), and declines past its table. */
static void test_adaptive_avg_tab_matches_ref(void) {
    for (int it = 0; it < 200; it++) {
        cnnc__window g = {.n = rand_in(1, 5)};
        for (int d = 0; d < 3; d++) {
            g.in[d] = d == 0 && it % 2 ? 1 : rand_in(1, 12);
            g.out[d] = d == 0 && it % 2 ? 1 : rand_in(1, 12);
        }
        int64_t isz = g.n * cnnc__window_in_size(&g), osz = g.n * cnnc__window_out_size(&g);
        float *x = malloc((size_t)isz * sizeof(float)), *o1 = malloc((size_t)osz * sizeof(float)),
              *o2 = malloc((size_t)osz * sizeof(float));
        REQUIRE(x && o1 && o2);
        for (int64_t i = 0; i < isz; i++) x[i] = rand_f();
        cnnc__k_adaptive_avg_ref(o1, x, &g, 0, g.n);
        CHECK(cnnc__k_adaptive_avg_tab(o2, x, &g, 0, g.n));
        CHECK(memcmp(o1, o2, (size_t)osz * sizeof(float)) == 0);
        free(x), free(o1), free(o2);
    }
    cnnc__window g = {.n = 1, .in = {1, 4, 4}, .out = {1, 2, 257}};
    CHECK(!cnnc__k_adaptive_avg_tab(NULL, NULL, &g, 0, 1));
}

static void test_adaptive_windows(void) {
    /* [floor(o*I/O), ceil((o+1)*I/O)) */
    CHECK_EQ_INT(cnnc__adaptive_start(1, 3, 10), 3);
    CHECK_EQ_INT(cnnc__adaptive_end(1, 3, 10), 7);
    CHECK_EQ_INT(cnnc__adaptive_start(4, 5, 2), 1);
    CHECK_EQ_INT(cnnc__adaptive_end(4, 5, 2), 2);
}

/* ---- public API --------------------------------------------------------------- */

static void test_max_pool2d_values_and_grad(void) {
    cnnc_scope_begin();
    float data[16];
    for (int i = 0; i < 16; i++) data[i] = (float)((i * 7) % 16);
    cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(1, 1, 4, 4), CNNC_FLOAT32, data);
    REQUIRE(x);
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    cnnc_tensor *idx = NULL;
    cnnc_tensor *y = cnnc_max_pool2d_with_indices(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2)), &idx);
    REQUIRE(y && idx);
    const float *yd = cnnc_tensor_data_f32(y);
    const int64_t *id = cnnc_tensor_data_i64(idx);
    /* data: 0 7 14 5 / 12 3 10 1 / 8 15 6 13 / 4 11 2 9 */
    float want[4] = {12, 14, 15, 13};
    int64_t want_i[4] = {4, 2, 9, 11};
    CHECK_FLOATS_NEAR(yd, want, 4, 0);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(id[i], want_i[i]);
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(y), "MaxPool2DWithIndicesBackward0");
    CHECK_OK(cnnc_backward(cnnc_sum(y), NULL, false));
    const float *gd = cnnc_tensor_data_f32(cnnc_tensor_grad(x));
    REQUIRE(gd);
    float gsum = 0;
    for (int i = 0; i < 16; i++) gsum += gd[i];
    CHECK_NEAR(gsum, 4, 0);
    CHECK_NEAR(gd[4], 1, 0);
    /* unpool back */
    cnnc_tensor *u = cnnc_max_unpool2d(y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2)));
    REQUIRE(u);
    CHECK_EQ_INT(cnnc_tensor_numel(u), 16);
    CHECK_NEAR(cnnc_tensor_data_f32(u)[9], 15, 0);
    CHECK_OK(cnnc_scope_end());
}

static void test_avg_and_adaptive(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(2, 3, 5, 5), CNNC_FLOAT32);
    cnnc_tensor *a = cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(2),
                                                        .padding = CNNC_INTS(1), .count_include_pad = false));
    REQUIRE(a);
    CHECK_EQ_INT(cnnc_tensor_size(a, 3), 3);
    CHECK_NEAR(cnnc_tensor_data_f32(a)[0], 1.0, 1e-6);
    cnnc_tensor *b = cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(2),
                                                        .padding = CNNC_INTS(1)));
    REQUIRE(b);
    CHECK_NEAR(cnnc_tensor_data_f32(b)[0], 4.0 / 9.0, 1e-6);
    cnnc_tensor *c = cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .divisor_override = CNNC_SOME(8)));
    REQUIRE(c);
    CHECK_NEAR(cnnc_tensor_data_f32(c)[0], 0.5, 1e-6);
    cnnc_tensor *g = cnnc_adaptive_avg_pool2d(x, (cnnc_ints)CNNC_INTS(CNNC_POOL_KEEP, 2));
    REQUIRE(g);
    CHECK_EQ_INT(cnnc_tensor_size(g, 2), 5);
    CHECK_EQ_INT(cnnc_tensor_size(g, 3), 2);
    cnnc_tensor *idx = NULL;
    cnnc_tensor *m = cnnc_adaptive_max_pool1d_with_indices(cnnc_arange(0, 10, 1, CNNC_FLOAT32) ? cnnc_reshape(cnnc_arange(0, 10, 1, CNNC_FLOAT32), CNNC_SHAPE(1, 10)) : NULL,
                                                           (cnnc_ints)CNNC_INTS(3), &idx);
    REQUIRE(m && idx);
    CHECK_EQ_INT(cnnc_tensor_data_i64(idx)[1], 6);
    CHECK_OK(cnnc_scope_end());
}

static void test_errors(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(2, 3, 10, 10), CNNC_FLOAT32);
    cnnc_tensor *xi = cnnc_zeros(CNNC_SHAPE(2, 3, 10, 10), CNNC_INT64);
    cnnc_tensor *idx = x;
    CHECK_TENSOR_ERR(cnnc_max_pool2d(NULL, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2))));
    CHECK_TENSOR_ERR(cnnc_max_pool2d(xi, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2))));
    CHECK_ERROR_CONTAINS("float32");
    CHECK_TENSOR_ERR(cnnc_max_pool2d(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(2))));
    CHECK_ERROR_CONTAINS("pad should be at most half of kernel size, but got pad=2 and kernel_size=3");
    CHECK_TENSOR_ERR(cnnc_max_pool2d(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .return_indices = true)));
    CHECK_TENSOR_ERR(cnnc_max_pool2d_with_indices(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2)), NULL));
    CHECK_TENSOR_ERR(cnnc_max_pool2d_with_indices(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(11)), &idx));
    CHECK(idx == NULL);
    CHECK_ERROR_CONTAINS("Output size is too small");
    CHECK_TENSOR_ERR(cnnc_max_pool2d(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(1LL << 40))));
    CHECK_ERROR_CONTAINS("integer out of range");
    CHECK_TENSOR_ERR(cnnc_max_pool2d(x, CNNC_MAX_POOL2D()));
    CHECK_TENSOR_ERR(cnnc_avg_pool3d(cnnc_zeros(CNNC_SHAPE(2, 3, 10), CNNC_FLOAT32), CNNC_AVG_POOL3D(.kernel_size = CNNC_INTS(2))));
    CHECK_ERROR_CONTAINS("non-empty 4D or 5D (batch mode) tensor expected for input");
    CHECK_TENSOR_ERR(cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .divisor_override = CNNC_SOME(0))));
    CHECK_TENSOR_ERR(cnnc_adaptive_avg_pool2d(x, (cnnc_ints)CNNC_INTS(CNNC_POOL_KEEP)));
    CHECK_TENSOR_ERR(cnnc_adaptive_max_pool2d(x, (cnnc_ints){.n = -3}));
    cnnc_tensor *bad = cnnc_full(CNNC_SHAPE(2, 3, 5, 5), 100, CNNC_INT64);
    CHECK_TENSOR_ERR(cnnc_max_unpool2d(cnnc_zeros(CNNC_SHAPE(2, 3, 5, 5), CNNC_FLOAT32), bad,
                                       CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2))));
    CHECK_ERROR_CONTAINS("Found an invalid max index: 100 (output volumes are of size 10x10");
    CHECK_TENSOR_ERR(cnnc_max_unpool2d(x, NULL, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2))));
    CHECK_OK(cnnc_scope_end());
}

static void test_modules(void) {
    cnnc_module *m = cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .stride = CNNC_INTS(2)));
    REQUIRE(m);
    char *r = cnnc_module_repr(m);
    CHECK_STR_EQ(r, "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
    cnnc_free(r);
    cnnc_module *a = cnnc_adaptiveavgpool2d_new((cnnc_ints)CNNC_INTS(CNNC_POOL_KEEP, 7));
    REQUIRE(a);
    r = cnnc_module_repr(a);
    CHECK_STR_EQ(r, "AdaptiveAvgPool2d(output_size=(None, 7))");
    cnnc_free(r);
    cnnc_module *ri = cnnc_maxpool1d_new(CNNC_MAX_POOL1D(.kernel_size = CNNC_INTS(2), .return_indices = true));
    cnnc_module *u = cnnc_maxunpool1d_new(CNNC_MAX_UNPOOL1D(.kernel_size = CNNC_INTS(2)));
    REQUIRE(ri && u);
    r = cnnc_module_repr(u);
    CHECK_STR_EQ(r, "MaxUnpool1d(kernel_size=(2,), stride=(2,), padding=(0,))");
    cnnc_free(r);
    cnnc_value v;
    CHECK_OK(cnnc_module_attr(ri, "return_indices", &v));
    CHECK_EQ_INT(v.ints[0], 1);
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(1, 16, 14, 14));
    cnnc_tensor *y = cnnc_module_forward(m, x);
    REQUIRE(y);
    CHECK_EQ_INT(cnnc_tensor_size(y, 2), 7);
    cnnc_tensor *x1 = cnnc_randn(CNNC_SHAPE(2, 6));
    CHECK_TENSOR_ERR(cnnc_module_forward(ri, x1));
    cnnc_tensor *idx = NULL;
    cnnc_tensor *y1 = cnnc_pool_module_forward_with_indices(ri, x1, &idx);
    REQUIRE(y1 && idx);
    CHECK_TENSOR_ERR(cnnc_module_forward(u, y1));
    cnnc_tensor *z = cnnc_maxunpool_module_forward(u, y1, idx, (cnnc_ints)CNNC_INTS_NONE);
    REQUIRE(z);
    CHECK_EQ_INT(cnnc_tensor_size(z, 1), 6);
    CHECK_TENSOR_ERR(cnnc_pool_module_forward_with_indices(a, x, &idx));
    CHECK(idx == NULL);
    CHECK_NULL_ERR(cnnc_maxpool2d_new(CNNC_MAX_POOL2D()));
    CHECK_OK(cnnc_scope_end());
    cnnc_module_release(m);
    cnnc_module_release(a);
    cnnc_module_release(ri);
    cnnc_module_release(u);
}

static void test_thread_count_independent(void) {
    cnnc_scope_begin();
    cnnc_manual_seed(3);
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(4, 16, 33, 29));
    int old = cnnc_get_num_threads();
    cnnc_tensor *r[2];
    for (int t = 0; t < 2; t++) {
        CHECK_OK(cnnc_set_num_threads(t ? 3 : 1));
        r[t] = cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(2),
                                                  .padding = CNNC_INTS(1), .ceil_mode = true));
        REQUIRE(r[t]);
    }
    CHECK(memcmp(cnnc_tensor_data(r[0]), cnnc_tensor_data(r[1]), (size_t)cnnc_tensor_numel(r[0]) * 4) == 0);
    CHECK_OK(cnnc_set_num_threads(old));
    CHECK_OK(cnnc_scope_end());
}

int main(void) {
    RUN_TEST(test_max_fast_matches_ref);
    RUN_TEST(test_avg_fast_matches_ref);
    RUN_TEST(test_avg_2x2);
    RUN_TEST(test_avg_backward_fast_matches_ref);
    RUN_TEST(test_global_avg_matches_ref);
    RUN_TEST(test_adaptive_avg_tab_matches_ref);
    RUN_TEST(test_adaptive_windows);
    RUN_TEST(test_max_pool2d_values_and_grad);
    RUN_TEST(test_avg_and_adaptive);
    RUN_TEST(test_errors);
    RUN_TEST(test_modules);
    RUN_TEST(test_thread_count_independent);
    return check_summary();
}
