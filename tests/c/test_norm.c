/* Norm family: the fast kernels, at every ISA level this CPU runs, against the plain
 * references on randomized shapes (fixed seed, including large means), results
 * independent of the thread count, error paths of the functional ops and modules,
 * and a module train/eval cycle with gradients, without leaks (run under ASan+UBSan
 * too). */
#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/isa.h"
#include "kernels/norm.h"

static uint64_t rng_state = 0x243F6A8885A308D3u;
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}
static double uniform(double lo, double hi) {
    return lo + (hi - lo) * (double)(rng_next() >> 11) / 9007199254740992.0;
}
static int64_t irand(int64_t lo, int64_t hi) { return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1)); }
static float *randv(int64_t n, double mean, double spread) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = (float)(mean + uniform(-spread, spread));
    return v;
}

/* Runs body(level) at every ISA level this CPU runs, best first, with the same random
 * cases (the generator restarted at `seed`), saying which variant each level runs. */
static void each_level(void (*body)(cnnc__isa), uint64_t seed) {
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        printf("test_norm: level %s runs %s\n", cnnc__isa_name((cnnc__isa)l),
               cnnc__k_norm_variant_name((cnnc__isa)l));
        fflush(stdout);
        rng_state = seed;
        body((cnnc__isa)l);
    }
}

static void stats_kernel(cnnc__isa isa) {
    for (int trial = 0; trial < 60; trial++) {
        int64_t nseg = irand(1, 6), len = irand(1, trial < 50 ? 300 : 9000);
        int64_t stride = len + irand(0, 17);
        double mean0 = trial % 3 == 0 ? 1e4 : uniform(-3, 3);
        float *x = randv(nseg * stride, mean0, 1.0);
        double m1, q1, m2, q2;
        cnnc__k_norm_stats(isa, &m1, &q1, x, nseg, stride, len);
        cnnc__k_norm_stats_ref(&m2, &q2, x, nseg, stride, len);
        CHECK_NEAR(m1, m2, 1e-12 * (fabs(m2) + 1.0));
        CHECK_NEAR(q1, q2, 1e-9 * (q2 + 1e-6));
        free(x);
    }
}

static void test_stats_kernel(void) { each_level(stats_kernel, 0x243F6A8885A308D3u); }

static void grad_kernels(cnnc__isa isa) {
    for (int trial = 0; trial < 40; trial++) {
        int64_t n = irand(1, 3000);
        float *g = randv(n, 0, 1), *x = randv(n, trial % 2 ? 1e4 : 0.5, 2), *w = randv(n, 0, 1);
        float *out = malloc((size_t)n * sizeof(float));
        double mean = trial % 2 ? 1e4 + 0.25 : 0.3;
        float hi, lo;
        cnnc__k_norm_split(mean, &hi, &lo);
        CHECK_NEAR((double)hi + lo, mean, 1e-9);
        const float *wp = trial % 4 < 2 ? w : NULL;
        double a1 = 0, b1 = 0, a2 = 0, b2 = 0;
        cnnc__k_norm_grad_sums(isa, &a1, &b1, g, x, n, hi, lo, wp);
        cnnc__k_norm_grad_sums_ref(&a2, &b2, g, x, n, hi, lo, wp);
        CHECK_NEAR(a1, a2, 1e-6 * (fabs(a2) + 1));
        CHECK_NEAR(b1, b2, 1e-5 * (fabs(b2) + 1));
        /* apply kernels against the formula in double */
        cnnc__k_norm_apply(isa, out, x, n, hi, lo, 0.7f, -0.2f);
        for (int64_t i = 0; i < n; i++) CHECK_NEAR(out[i], ((double)x[i] - mean) * 0.7 - 0.2, 1e-5 + 1e-6 * fabs(out[i]));
        cnnc__k_norm_apply_vec(isa, out, x, n, hi, lo, 1.5f, wp, wp ? g : NULL);
        for (int64_t i = 0; i < n; i++) {
            double want = ((double)x[i] - mean) * 1.5 * (wp ? wp[i] : 1.0) + (wp ? g[i] : 0.0);
            CHECK_NEAR(out[i], want, 1e-4 + 1e-6 * fabs(want));
        }
        cnnc__k_norm_grad_apply(isa, out, g, x, n, hi, lo, wp, 0.5f, 0.25f, -1.0f);
        for (int64_t i = 0; i < n; i++) {
            double want = g[i] * (wp ? wp[i] : 1.0) * 0.5 + ((double)x[i] - mean) * 0.25 - 1.0;
            CHECK_NEAR(out[i], want, 1e-4 + 1e-6 * fabs(want));
        }
        double *c1 = calloc((size_t)(2 * n), sizeof(double)), *c2 = calloc((size_t)(2 * n), sizeof(double));
        cnnc__k_norm_col_sums(isa, c1, c1 + n, g, x, n, hi, lo, 0.8f);
        cnnc__k_norm_col_sums_ref(c2, c2 + n, g, x, n, hi, lo, 0.8f);
        for (int64_t i = 0; i < 2 * n; i++) CHECK_NEAR(c1[i], c2[i], 1e-5 * (fabs(c2[i]) + 1));
        free(c1), free(c2);
        free(g), free(x), free(w), free(out);
    }
}

static void test_grad_kernels(void) { each_level(grad_kernels, 0x13198A2E03707344u); }

static void test_lrn_kernels(void) {
    for (int trial = 0; trial < 30; trial++) {
        cnnc__lrn_params p = {irand(1, 12), irand(1, trial < 25 ? 40 : 700), irand(1, 9),
                              uniform(1e-4, 1.0), trial % 3 ? 0.75 : uniform(0.2, 2.0), uniform(0.5, 2)};
        int64_t n = p.C * p.S;
        float *x = randv(n, 0, 2), *g = randv(n, 0, 1), *t = malloc((size_t)n * sizeof(float));
        float *y1 = malloc((size_t)n * sizeof(float)), *y2 = malloc((size_t)n * sizeof(float));
        cnnc__k_lrn_forward(y1, x, &p, 0, p.S);
        cnnc__k_lrn_forward_ref(y2, x, &p);
        CHECK_FLOATS_NEAR(y1, y2, n, 1e-5);
        int64_t mid = p.S / 2; /* two ranges, as two threads would run them */
        cnnc__k_lrn_backward_t(t, g, x, &p, 0, mid);
        cnnc__k_lrn_backward_t(t, g, x, &p, mid, p.S);
        cnnc__k_lrn_backward_gx(y1, g, x, t, &p, 0, mid);
        cnnc__k_lrn_backward_gx(y1, g, x, t, &p, mid, p.S);
        cnnc__k_lrn_backward_ref(y2, g, x, &p);
        CHECK_FLOATS_NEAR(y1, y2, n, 1e-4);
        free(x), free(g), free(t), free(y1), free(y2);
    }
}

/* The whole op gives the same bits whatever the thread count. */
static void test_thread_independence(void) {
    cnnc_manual_seed(3);
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(4, 8, 33, 31));
    cnnc_tensor *w = cnnc_randn(CNNC_SHAPE(8));
    REQUIRE(cnnc_tensor_set_requires_grad(x, true) == CNNC_OK);
    REQUIRE(cnnc_tensor_set_requires_grad(w, true) == CNNC_OK);
    int old = cnnc_get_num_threads();
    float *ref[4] = {0};
    int64_t n = cnnc_tensor_numel(x);
    for (int pass = 0; pass < 2; pass++) {
        CHECK_OK(cnnc_set_num_threads(pass ? 2 : 1));
        cnnc_tensor *ys[4] = {
            cnnc_batch_norm(x, NULL, NULL, w, NULL, CNNC_BATCH_NORM(.training = true)),
            cnnc_group_norm(x, 4, w, NULL, CNNC_GROUP_NORM()),
            cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS(33, 31), NULL, NULL, CNNC_LAYER_NORM()),
            cnnc_local_response_norm(x, 3, CNNC_LOCAL_RESPONSE_NORM())};
        for (int i = 0; i < 4; i++) {
            REQUIRE(ys[i]);
            CHECK_OK(cnnc_backward(cnnc_sum(ys[i]), NULL, false));
            const float *d = cnnc_tensor_data_f32(ys[i]);
            const float *gx = cnnc_tensor_data_f32(cnnc_tensor_grad(x));
            if (!pass) {
                ref[i] = malloc((size_t)(2 * n) * sizeof(float));
                memcpy(ref[i], d, (size_t)n * sizeof(float));
                memcpy(ref[i] + n, gx, (size_t)n * sizeof(float));
            } else {
                CHECK(memcmp(ref[i], d, (size_t)n * sizeof(float)) == 0);
                CHECK(memcmp(ref[i] + n, gx, (size_t)n * sizeof(float)) == 0);
            }
            CHECK_OK(cnnc_tensor_set_grad(x, NULL));
        }
    }
    for (int i = 0; i < 4; i++) free(ref[i]);
    cnnc_set_num_threads(old);
    cnnc_scope_end();
}

/* Training batch norm's gradients (input, weight, bias) against float64 formulas, on
 * shapes whose channels the backward takes in blocks of several (small maps: the last
 * block short) or one at a time (large maps), at every level and 1 and 2 threads. */
static void bn_backward_case(int64_t N, int64_t C, int64_t H, int64_t W) {
    const int64_t S = H * W, M = N * S, n = N * C * S;
    float *xv = randv(n, 0.5, 2.0), *gv = randv(n, 0.0, 1.0), *wv = randv(C, 1.0, 0.5);
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_from_data(4, (int64_t[]){N, C, H, W}, CNNC_FLOAT32, xv);
    cnnc_tensor *w = cnnc_from_data(1, (int64_t[]){C}, CNNC_FLOAT32, wv);
    cnnc_tensor *b = cnnc_zeros(1, (int64_t[]){C}, CNNC_FLOAT32);
    cnnc_tensor *g = cnnc_from_data(4, (int64_t[]){N, C, H, W}, CNNC_FLOAT32, gv);
    REQUIRE(x && w && b && g);
    REQUIRE(cnnc_tensor_set_requires_grad(x, true) == CNNC_OK);
    REQUIRE(cnnc_tensor_set_requires_grad(w, true) == CNNC_OK);
    REQUIRE(cnnc_tensor_set_requires_grad(b, true) == CNNC_OK);
    cnnc_tensor *y = cnnc_batch_norm(x, NULL, NULL, w, b, CNNC_BATCH_NORM(.training = true));
    REQUIRE(y);
    CHECK_OK(cnnc_backward(y, g, false));
    const float *gx = cnnc_tensor_data_f32(cnnc_tensor_grad(x));
    const float *gw = cnnc_tensor_data_f32(cnnc_tensor_grad(w));
    const float *gb = cnnc_tensor_data_f32(cnnc_tensor_grad(b));
    double worst = 0.0;
    for (int64_t c = 0; c < C; c++) {
        double m = 0.0, v = 0.0, sg = 0.0, sgh = 0.0;
        for (int64_t i = 0; i < N; i++)
            for (int64_t p = 0; p < S; p++) m += xv[(i * C + c) * S + p];
        m /= (double)M;
        for (int64_t i = 0; i < N; i++)
            for (int64_t p = 0; p < S; p++) v += pow(xv[(i * C + c) * S + p] - m, 2);
        const double inv = 1.0 / sqrt(v / (double)M + 1e-5);
        for (int64_t i = 0; i < N; i++)
            for (int64_t p = 0; p < S; p++) {
                const int64_t o = (i * C + c) * S + p;
                sg += gv[o];
                sgh += gv[o] * (xv[o] - m) * inv;
            }
        CHECK_NEAR(gb[c], sg, 1e-4 * (1.0 + fabs(sg)));
        CHECK_NEAR(gw[c], sgh, 1e-4 * (1.0 + fabs(sgh)));
        for (int64_t i = 0; i < N; i++)
            for (int64_t p = 0; p < S; p++) {
                const int64_t o = (i * C + c) * S + p;
                const double want = wv[c] * inv * (gv[o] - sg / M - (xv[o] - m) * inv * sgh / M);
                const double err = fabs(gx[o] - want) / (1.0 + fabs(want));
                worst = err > worst ? err : worst;
            }
    }
    CHECK(worst < 1e-4);
    cnnc_scope_end();
    free(xv), free(gv), free(wv);
}

static void test_batch_norm_backward_blocks(void) {
    static const int64_t SHAPES[][4] = {{3, 37, 5, 7}, {2, 300, 1, 1}, {2, 9, 50, 50},
                                        {1, 5, 200, 200}, {4, 130, 2, 3}};
    const cnnc__isa saved = cnnc__isa_active();
    const int old = cnnc_get_num_threads();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        REQUIRE(cnnc__isa_set_cap((cnnc__isa)l));
        for (int threads = 1; threads <= 2; threads++) {
            CHECK_OK(cnnc_set_num_threads(threads));
            rng_state = 0x3F84D5B5B5470917u;
            for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
                bn_backward_case(SHAPES[i][0], SHAPES[i][1], SHAPES[i][2], SHAPES[i][3]);
        }
    }
    CHECK(cnnc__isa_set_cap(saved));
    cnnc_set_num_threads(old);
}

static void test_functional_errors(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(2, 3, 4), CNNC_FLOAT32);
    cnnc_tensor *c3 = cnnc_zeros(CNNC_SHAPE(3), CNNC_FLOAT32), *c4 = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    cnnc_tensor *i3 = cnnc_zeros(CNNC_SHAPE(3), CNNC_INT64);
    CHECK_TENSOR_ERR(cnnc_batch_norm(NULL, c3, c3, NULL, NULL, CNNC_BATCH_NORM()));
    CHECK_TENSOR_ERR(cnnc_batch_norm(x, NULL, NULL, NULL, NULL, CNNC_BATCH_NORM()));
    CHECK_ERROR_CONTAINS("running_mean must be defined in evaluation mode");
    CHECK_TENSOR_ERR(cnnc_batch_norm(x, c4, c3, NULL, NULL, CNNC_BATCH_NORM()));
    CHECK_ERROR_CONTAINS("running_mean should contain 3 elements not 4");
    CHECK_TENSOR_ERR(cnnc_batch_norm(x, i3, c3, NULL, NULL, CNNC_BATCH_NORM()));
    CHECK_TENSOR_ERR(cnnc_batch_norm(cnnc_zeros(CNNC_SHAPE(1, 3), CNNC_FLOAT32), NULL, NULL, NULL, NULL,
                                     CNNC_BATCH_NORM(.training = true)));
    CHECK_ERROR_CONTAINS("torch.Size([1, 3])");
    CHECK_TENSOR_ERR(cnnc_instance_norm(x, NULL, NULL, NULL, NULL, CNNC_INSTANCE_NORM(.use_input_stats = false)));
    CHECK_TENSOR_ERR(cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS_NONE, NULL, NULL, CNNC_LAYER_NORM()));
    CHECK_TENSOR_ERR(cnnc_layer_norm(x, (cnnc_ints){.n = 99}, NULL, NULL, CNNC_LAYER_NORM()));
    CHECK_TENSOR_ERR(cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS(3), NULL, NULL, CNNC_LAYER_NORM()));
    CHECK_ERROR_CONTAINS("expected input with shape [*, 3]");
    CHECK_TENSOR_ERR(cnnc_group_norm(x, 2, NULL, NULL, CNNC_GROUP_NORM()));
    CHECK_TENSOR_ERR(cnnc_group_norm(x, 0, NULL, NULL, CNNC_GROUP_NORM()));
    CHECK_TENSOR_ERR(cnnc_group_norm(x, 3, c4, NULL, CNNC_GROUP_NORM()));
    CHECK_TENSOR_ERR(cnnc_local_response_norm(c3, 2, CNNC_LOCAL_RESPONSE_NORM()));
    CHECK_TENSOR_ERR(cnnc_local_response_norm(x, 0, CNNC_LOCAL_RESPONSE_NORM()));
    CHECK_TENSOR_ERR(cnnc_local_response_norm(NULL, 2, CNNC_LOCAL_RESPONSE_NORM()));
    CHECK_NULL_ERR(cnnc_batchnorm2d_new(-1, CNNC_BATCHNORM()));
    CHECK_NULL_ERR(cnnc_groupnorm_new(2, 3, CNNC_GROUPNORM()));
    CHECK_NULL_ERR(cnnc_groupnorm_new(0, 3, CNNC_GROUPNORM()));
    CHECK_NULL_ERR(cnnc_layernorm_new((cnnc_ints)CNNC_INTS(2, -1), CNNC_LAYERNORM()));
    cnnc_scope_end();
}

static void test_module_cycle(void) {
    cnnc_manual_seed(1);
    cnnc_module *bn = cnnc_batchnorm2d_new(16, CNNC_BATCHNORM(.momentum = CNNC_NONE));
    REQUIRE(bn);
    char *r = cnnc_module_repr(bn);
    CHECK_STR_EQ(r, "BatchNorm2d(16, eps=1e-05, momentum=None, affine=True, track_running_stats=True)");
    cnnc_free(r);
    cnnc_value v;
    CHECK_OK(cnnc_module_attr(bn, "momentum", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_NONE);
    cnnc_scope_begin();
    for (int i = 0; i < 3; i++) {
        cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, 16, 7, 7));
        cnnc_tensor *y = cnnc_module_forward(bn, x);
        REQUIRE(y);
        CHECK_OK(cnnc_backward(cnnc_sum(y), NULL, false));
    }
    cnnc_tensor *nbt = NULL, *w = NULL;
    CHECK_OK(cnnc_module_tensor(bn, "num_batches_tracked", &nbt));
    CHECK_EQ_INT(cnnc_tensor_data_i64(nbt)[0], 3);
    CHECK_OK(cnnc_module_tensor(bn, "weight", &w));
    CHECK(cnnc_tensor_grad(w) != NULL);
    cnnc_module_eval(bn);
    CHECK(cnnc_module_forward(bn, cnnc_randn(CNNC_SHAPE(1, 16, 7, 7))) != NULL);
    CHECK_TENSOR_ERR(cnnc_module_forward(bn, cnnc_randn(CNNC_SHAPE(16, 7, 7))));
    cnnc_scope_end();
    cnnc_module_release(bn);

    cnnc_module *mods[5] = {cnnc_instancenorm1d_new(3, CNNC_INSTANCENORM(.affine = true)),
                            cnnc_layernorm_new((cnnc_ints)CNNC_INTS(4), CNNC_LAYERNORM()),
                            cnnc_groupnorm_new(3, 3, CNNC_GROUPNORM()),
                            cnnc_localresponsenorm_new(2, CNNC_LOCALRESPONSENORM()),
                            cnnc_instancenorm1d_new(3, CNNC_INSTANCENORM(.momentum = CNNC_NONE))};
    cnnc_scope_begin();
    for (int i = 0; i < 5; i++) {
        REQUIRE(mods[i]);
        cnnc_tensor *y = cnnc_module_forward(mods[i], cnnc_randn(CNNC_SHAPE(2, 3, 4)));
        if (i == 4) {
            CHECK(y == NULL);
            CHECK_ERROR_CONTAINS("must be float, not NoneType");
        } else {
            CHECK(y != NULL);
        }
        cnnc_module_release(mods[i]);
    }
    cnnc_scope_end();
}

int main(void) {
    RUN_TEST(test_stats_kernel);
    RUN_TEST(test_grad_kernels);
    RUN_TEST(test_lrn_kernels);
    RUN_TEST(test_thread_independence);
    RUN_TEST(test_batch_norm_backward_blocks);
    RUN_TEST(test_functional_errors);
    RUN_TEST(test_module_cycle);
    return check_summary();
}
