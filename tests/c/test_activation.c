/* The activation family: fast kernels (vectorizable approximations, one build per
 * ISA level) against the libm reference kernels on randomized sizes and values, at
 * every level this CPU runs; softmax fast vs reference, PReLU and dropout kernels,
 * the public ops' errors, in-place rules and module reprs. Runs clean under ASan +
 * UBSan. */
#include "check.h"

#include "kernels/activation.h"
#include "kernels/activation_math.h"
#include "kernels/isa.h"

static uint64_t lcg_state = 12345;
static double urand(void) { /* [0, 1) */
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) * 0x1.0p-53;
}

/* |a - b| <= 2e-5 |b| + 2e-6, NaN matching NaN, infinities equal */
static int close_enough(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs((double)a - (double)b) <= 2e-5 * fabs((double)b) + 2e-6;
}

static float special_value(void) {
    static const float v[] = {0.0f, -0.0f, 3.0f, -3.0f, 1.0f, -1.0f, 6.0f, 20.0f, 88.7f, -88.7f,
                              -104.0f, 120.0f, 1e-30f, -1e-30f, 0.625f, 0.9f, 3.92f, 4.0f,
                              13.19f, -13.2f}; /* 13.19: gelu's backward e^{-x^2/2} at -87 */
    int n = (int)(sizeof v / sizeof v[0]);
    if (urand() < 0.05) return NAN;
    if (urand() < 0.05) return urand() < 0.5 ? INFINITY : -INFINITY;
    return v[(int)(urand() * n)];
}

static void fill(float *x, int64_t n, double scale) {
    for (int64_t i = 0; i < n; i++)
        x[i] = urand() < 0.1 ? special_value() : (float)((urand() * 2 - 1) * scale);
}

static cnnc__act_params random_params(cnnc__act op) {
    cnnc__act_params p = {0, 0, 0};
    switch (op) {
    case CNNC__ACT_HARDTANH: p.a = (float)(urand() * 4 - 3); p.b = (float)(urand() * 4 - 1); break;
    case CNNC__ACT_LEAKY_RELU: p.a = (float)(urand() * 2 - 0.5); break;
    case CNNC__ACT_ELU: {
        float alpha = (float)(urand() * 4 - 1), scale = (float)(urand() * 2), in = (float)(urand() * 2);
        p.a = alpha * scale; p.b = scale; p.c = in;
        break;
    }
    case CNNC__ACT_SOFTPLUS: p.a = (float)(urand() * 4 - 1); p.b = (float)(urand() * 30 - 5); break;
    default: break;
    }
    return p;
}

/* Every ISA level this CPU runs, best first: for (int l = first_level(); l >= 0; l--). */
static int first_level(void) { return (int)cnnc__isa_cpu(); }

static void say_variant(cnnc__isa isa) {
    printf("test_activation: level %s runs %s\n", cnnc__isa_name(isa),
           cnnc__k_act_variant_name(isa));
    fflush(stdout);
}

static void act_fast_vs_reference(cnnc__isa isa) {
    enum { MAXN = 5000 };
    float *x = malloc(MAXN * sizeof *x), *g = malloc(MAXN * sizeof *g);
    float *a = malloc(MAXN * sizeof *a), *b = malloc(MAXN * sizeof *b);
    REQUIRE(x && g && a && b);
    for (int op = 0; op < CNNC__ACT_COUNT; op++) {
        for (int trial = 0; trial < 20; trial++) {
            int64_t n = (int64_t)(urand() * MAXN);
            double scale = trial % 3 == 0 ? 100.0 : trial % 3 == 1 ? 10.0 : 2.0;
            fill(x, n, scale);
            fill(g, n, 2.0);
            for (int64_t i = 0; i < n; i++)
                if (isnan(g[i]) || isinf(g[i])) g[i] = 1.0f;
            cnnc__act_params p = random_params((cnnc__act)op);
            cnnc__k_act_forward(isa, (cnnc__act)op, &p, a, x, n);
            cnnc__k_act_forward_ref((cnnc__act)op, &p, b, x, n);
            for (int64_t i = 0; i < n; i++)
                if (!close_enough(a[i], b[i])) {
                    CHECK(close_enough(a[i], b[i]));
                    fprintf(stderr, "  %s %s forward x=%.9g fast=%.9g ref=%.9g (a=%g b=%g c=%g)\n",
                            cnnc__k_act_variant_name(isa), cnnc__act_name((cnnc__act)op), x[i],
                            a[i], b[i], p.a, p.b, p.c);
                    break;
                }
            for (int from_result = 0; from_result < 2; from_result++) {
                /* s: the input, or (ELU's in-place form) the reference result */
                const float *s = from_result ? b : x;
                float *ga = malloc(MAXN * sizeof *ga), *gb = malloc(MAXN * sizeof *gb);
                REQUIRE(ga && gb);
                cnnc__k_act_backward(isa, (cnnc__act)op, &p, from_result, ga, g, s, n);
                cnnc__k_act_backward_ref((cnnc__act)op, &p, from_result, gb, g, s, n);
                for (int64_t i = 0; i < n; i++)
                    if (!close_enough(ga[i], gb[i])) {
                        /* gelu's derivative cancels near x = -0.75 (cdf + x pdf ~ 0):
                         * compare absolutely there */
                        if (fabs((double)ga[i] - gb[i]) <= 1e-6 * (fabs(g[i]) + 1)) continue;
                        CHECK(close_enough(ga[i], gb[i]));
                        fprintf(stderr, "  %s %s backward x=%.9g g=%.9g fast=%.9g ref=%.9g\n",
                                cnnc__k_act_variant_name(isa), cnnc__act_name((cnnc__act)op),
                                s[i], g[i], ga[i], gb[i]);
                        break;
                    }
                free(ga);
                free(gb);
            }
        }
    }
    free(x);
    free(g);
    free(a);
    free(b);
}

static void test_act_fast_vs_reference(void) {
    for (int l = first_level(); l >= 0; l--) {
        say_variant((cnnc__isa)l);
        lcg_state = 12345; /* the same cases at every level */
        act_fast_vs_reference((cnnc__isa)l);
    }
}

/* The Tanh activation's rational against double tanh on a stride through every float
 * (the full sweep measured 6.4 ulp at most with FMA, 5.1 without): within 7 ulp of
 * the rounded result, odd, exactly +-1 from 9 on, NaN and the infinities as libm. */
static void test_tanh_rational_ulp(void) {
    double worst = 0.0;
    for (uint32_t u = 0; u < 0x7f800000u; u += 1021) {
        float x;
        memcpy(&x, &u, sizeof x);
        const float y = cm_tanh_rational(x), yn = cm_tanh_rational(-x);
        CHECK(memcmp(&(float){-y}, &yn, sizeof yn) == 0);
        const double r = tanh((double)x);
        const float rf = (float)r;
        const double ulp = rf == 0.0f   ? 0x1p-149
                           : rf == 1.0f ? 0x1p-24
                                        : (double)nextafterf(rf, 2.0f) - (double)rf;
        const double e = fabs((double)y - r) / ulp;
        worst = e > worst ? e : worst;
    }
    CHECK(worst <= 7.0);
    CHECK(cm_tanh_rational(9.0f) == 1.0f && cm_tanh_rational(-1e30f) == -1.0f);
    CHECK(cm_tanh_rational(INFINITY) == 1.0f && cm_tanh_rational(-INFINITY) == -1.0f);
    CHECK(isnan(cm_tanh_rational(NAN)));
}

/* in-place (out == x) gives the same bits as out of place */
static void test_act_in_place_aliasing(void) {
    enum { N = 1000 };
    float x[N], y[N], z[N];
    fill(x, N, 5.0);
    for (int l = first_level(); l >= 0; l--)
        for (int op = 0; op < CNNC__ACT_COUNT; op++) {
            cnnc__act_params p = random_params((cnnc__act)op);
            memcpy(z, x, sizeof x);
            cnnc__k_act_forward((cnnc__isa)l, (cnnc__act)op, &p, y, x, N);
            cnnc__k_act_forward((cnnc__isa)l, (cnnc__act)op, &p, z, z, N);
            CHECK(memcmp(y, z, sizeof y) == 0);
        }
}

/* hardtanh with its gradient mask: the same values and gradients as the reference
 * (NaN, +-0, infinities and the bounds themselves included), whole and tail words,
 * in place and not, and the mask's bits past n clear. */
static void test_hardtanh_mask_vs_reference(void) {
    enum { N = 1100 };
    static const int64_t sizes[] = {1, 5, 31, 32, 33, 64, 95, 257, N};
    static float x[N], y[N], z[N], g[N], ga[N], gb[N];
    static uint32_t bits[N / 32 + 1];
    for (int l = first_level(); l >= 0; l--) {
        printf("test_activation: level %s runs %s\n", cnnc__isa_name((cnnc__isa)l),
               cnnc__k_hardtanh_mask_variant_name((cnnc__isa)l));
        for (int t = 0; t < 3; t++)
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                const int64_t n = sizes[k], words = (n + 31) / 32;
                cnnc__act_params p = t == 0 ? (cnnc__act_params){0.0f, 6.0f, 0.0f}
                                            : (cnnc__act_params){-1.0f, 1.0f, 0.0f};
                if (t == 2) p = (cnnc__act_params){0.625f, 0.625f, 0.0f}; /* empty range */
                fill(x, n, 8.0);
                fill(g, n, 1.0);
                memset(bits, 0xA5, sizeof bits);
                cnnc__k_hardtanh_mask_forward((cnnc__isa)l, &p, y, bits, x, n);
                cnnc__k_act_forward_ref(CNNC__ACT_HARDTANH, &p, z, x, n);
                CHECK(memcmp(y, z, (size_t)n * sizeof *y) == 0);
                if (n % 32) CHECK((bits[words - 1] >> (n % 32)) == 0);
                cnnc__k_hardtanh_mask_backward((cnnc__isa)l, ga, g, bits, n);
                cnnc__k_act_backward_ref(CNNC__ACT_HARDTANH, &p, false, gb, g, x, n);
                CHECK(memcmp(ga, gb, (size_t)n * sizeof *ga) == 0);
                memcpy(z, x, (size_t)n * sizeof *z); /* in place: the same bits */
                cnnc__k_hardtanh_mask_forward((cnnc__isa)l, &p, z, bits, z, n);
                CHECK(memcmp(y, z, (size_t)n * sizeof *y) == 0);
            }
    }
}

static void softmax_fast_vs_reference(cnnc__isa isa) {
    for (int trial = 0; trial < 60; trial++) {
        int64_t outer = 1 + (int64_t)(urand() * 4), dim = 1 + (int64_t)(urand() * 300);
        int64_t inner = trial % 3 == 0 ? 1 : 1 + (int64_t)(urand() * 150);
        int64_t n = outer * dim * inner;
        float *x = malloc((size_t)n * sizeof *x), *a = malloc((size_t)n * sizeof *a);
        float *b = malloc((size_t)n * sizeof *b), *g = malloc((size_t)n * sizeof *g);
        REQUIRE(x && a && b && g);
        for (int64_t i = 0; i < n; i++) {
            x[i] = (float)((urand() * 2 - 1) * (trial % 2 ? 30.0 : 3.0));
            g[i] = (float)(urand() * 2 - 1);
        }
        for (int log = 0; log < 2; log++) {
            cnnc__k_softmax(isa, log, a, x, dim, inner, 0, outer, 0, inner);
            cnnc__k_softmax_ref(log, b, x, dim, inner, 0, outer, 0, inner);
            int bad = 0;
            for (int64_t i = 0; i < n && !bad; i++) bad = !close_enough(a[i], b[i]);
            CHECK(!bad);
            /* backward from the reference result */
            cnnc__k_softmax_backward(isa, log, a, g, b, dim, inner, 0, outer, 0, inner);
            float *c = malloc((size_t)n * sizeof *c);
            REQUIRE(c);
            cnnc__k_softmax_backward_ref(log, c, g, b, dim, inner, 0, outer, 0, inner);
            bad = 0;
            for (int64_t i = 0; i < n && !bad; i++)
                bad = !(fabs((double)a[i] - c[i]) <= 2e-5 * fabs((double)c[i]) + 2e-6);
            CHECK(!bad);
            free(c);
            /* splitting the columns (as threads do) gives the same bits */
            if (inner > 1) {
                float *d = malloc((size_t)n * sizeof *d);
                REQUIRE(d);
                int64_t mid = inner / 2;
                cnnc__k_softmax(isa, log, a, x, dim, inner, 0, outer, 0, inner);
                cnnc__k_softmax(isa, log, d, x, dim, inner, 0, outer, 0, mid);
                cnnc__k_softmax(isa, log, d, x, dim, inner, 0, outer, mid, inner);
                CHECK(memcmp(a, d, (size_t)n * sizeof *d) == 0);
                free(d);
            }
        }
        free(x);
        free(a);
        free(b);
        free(g);
    }
}

/* The streaming relu / leaky_relu kernels give the table kernels' bits (NaN, -0,
 * infinities), from every output alignment and length, forward and backward. */
static void test_act_stream(void) {
    enum { N = 300 };
    float x[N + 16], g[N + 16], want[N + 16], got[N + 16];
    int ran = 0;
    for (int i = 0; i < N + 16; i++) {
        x[i] = urand() < 0.5 ? special_value() : (float)(urand() * 4.0 - 2.0);
        g[i] = urand() < 0.1 ? special_value() : (float)(urand() * 4.0 - 2.0);
    }
    const cnnc__act ops[2] = {CNNC__ACT_RELU, CNNC__ACT_LEAKY_RELU};
    const cnnc__act_params p = {0.01f, 0.0f, 0.0f};
    for (int l = 0; l < CNNC__ISA_COUNT; l++) {
        if (!cnnc__isa_supported((cnnc__isa)l)) continue;
        for (int q = 0; q < 2; q++)
            for (int off = 0; off < 16; off += 3)
                for (int n = 0; n <= N; n += 37)
                    for (int bwd = 0; bwd < 2; bwd++) {
                        if (bwd) cnnc__k_act_backward_ref(ops[q], &p, q == 0, want, g, x, n);
                        else cnnc__k_act_forward_ref(ops[q], &p, want, x, n);
                        if (!cnnc__k_act_stream((cnnc__isa)l, ops[q], &p, bwd, got + off,
                                                bwd ? g : x, x, n))
                            continue;
                        ran++;
                        CHECK(memcmp(got + off, want, (size_t)n * sizeof(float)) == 0);
                    }
    }
    CHECK(ran > 0 || !cnnc__isa_supported(CNNC__ISA_AVX2));
    CHECK(!cnnc__k_act_stream(CNNC__ISA_SCALAR, CNNC__ACT_RELU, &p, false, got, x, NULL, 4));
    CHECK(!cnnc__k_act_stream(cnnc__isa_cpu(), CNNC__ACT_GELU, &p, false, got, x, NULL, 4));
}

static void test_softmax_fast_vs_reference(void) {
    for (int l = first_level(); l >= 0; l--) {
        say_variant((cnnc__isa)l);
        lcg_state = 777; /* the same cases at every level */
        softmax_fast_vs_reference((cnnc__isa)l);
    }
}

static void test_prelu_kernels(void) {
    enum { O = 3, C = 4, I = 17 };
    float x[O * C * I], w[C], y[O * C * I], g[O * C * I], gx[O * C * I];
    double gw[C];
    fill(x, O * C * I, 3.0);
    for (int i = 0; i < O * C * I; i++) {
        if (isnan(x[i]) || isinf(x[i])) x[i] = 0.5f;
        g[i] = (float)(urand() * 2 - 1);
    }
    for (int c = 0; c < C; c++) w[c] = (float)(urand() - 0.5);
    cnnc__k_prelu(y, x, w, C, I, 0, O * C);
    cnnc__k_prelu_backward_input(gx, g, x, w, C, I, 0, O * C);
    cnnc__k_prelu_backward_weight(gw, g, x, O, C, I, 0, C);
    for (int c = 0; c < C; c++) {
        double want = 0;
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++) {
                int k = (o * C + c) * I + i;
                CHECK(y[k] == (x[k] > 0 ? x[k] : w[c] * x[k]));
                CHECK(gx[k] == (x[k] > 0 ? g[k] : w[c] * g[k]));
                if (!(x[k] > 0)) want += (double)(x[k] * g[k]);
            }
        CHECK_NEAR(gw[c], want, 1e-9);
    }
}

static void test_dropout_kernel(void) {
    enum { N = 100000 };
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    REQUIRE(a && b);
    uint32_t keep_q = (uint32_t)(0.7 * 16777216.0);
    cnnc__k_dropout(a, NULL, 0x123456789abcdefULL, keep_q, 2.0f, 1, 0, N);
    /* the same mask, computed in two halves */
    cnnc__k_dropout(b, NULL, 0x123456789abcdefULL, keep_q, 2.0f, 1, 0, N / 3);
    cnnc__k_dropout(b, NULL, 0x123456789abcdefULL, keep_q, 2.0f, 1, N / 3, N);
    CHECK(memcmp(a, b, N * sizeof *a) == 0);
    long kept = 0;
    for (int i = 0; i < N; i++) {
        CHECK(a[i] == 0.0f || a[i] == 2.0f);
        kept += a[i] != 0.0f;
        CHECK((a[i] != 0.0f) == cnnc__k_dropout_keep(0x123456789abcdefULL, keep_q, i));
    }
    CHECK(fabs((double)kept / N - 0.7) < 0.01);
    /* rows of 10: constant within a row */
    cnnc__k_dropout(a, NULL, 99, keep_q, 3.0f, 10, 5, N);
    for (int i = 10; i < N; i++) CHECK(a[i] == a[i - i % 10]);
    /* indices beyond 2^32 (the high word is mixed in) draw differently */
    int same = 0;
    for (int64_t i = 0; i < 1000; i++)
        same += cnnc__k_dropout_keep(5, 1u << 23, i) == cnnc__k_dropout_keep(5, 1u << 23, i + (1LL << 32));
    CHECK(same < 600);
    free(a);
    free(b);
}

/* ---- the public ops --------------------------------------------------------------- */

static void test_errors(void) {
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    cnnc_tensor *xi = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_INT64);
    REQUIRE(x && xi);
    CHECK_TENSOR_ERR(cnnc_relu6(NULL, CNNC_RELU6()));
    CHECK_TENSOR_ERR(cnnc_gelu(xi, CNNC_GELU()));
    CHECK_ERROR_CONTAINS("float32");
    CHECK_TENSOR_ERR(cnnc_gelu(x, CNNC_GELU(.approximate = "fast")));
    CHECK_ERROR_CONTAINS("approximate argument must be either none or tanh.");
    CHECK_TENSOR_ERR(cnnc_gelu(x, CNNC_GELU(.approximate = NULL)));
    CHECK_TENSOR_ERR(cnnc_celu(x, CNNC_CELU(.alpha = 0.0)));
    CHECK_ERROR_CONTAINS("ZeroDivisionError: alpha cannot be 0 for CELU");
    CHECK_ERR(cnnc_elu_(NULL, CNNC_ELU()));
    CHECK_TENSOR_ERR(cnnc_softmax(x, CNNC_SOFTMAX(.dim = CNNC_INTS(2))));
    CHECK_ERROR_CONTAINS("Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    CHECK_TENSOR_ERR(cnnc_log_softmax(x, CNNC_SOFTMAX(.dim = CNNC_INTS(1, 0))));
    CHECK_TENSOR_ERR(cnnc_softmax(x, CNNC_SOFTMAX(.dim = CNNC_INTS(INT64_MAX))));
    CHECK_TENSOR_ERR(cnnc_dropout(x, CNNC_DROPOUT(.p = 1.5)));
    CHECK_ERROR_CONTAINS("dropout probability has to be between 0 and 1, but got 1.5");
    CHECK_TENSOR_ERR(cnnc_dropout(x, CNNC_DROPOUT(.p = NAN)));
    CHECK_ERROR_CONTAINS("but got nan");
    cnnc_tensor *v = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    CHECK_TENSOR_ERR(cnnc_dropout2d(v, CNNC_DROPOUT()));
    CHECK_ERROR_CONTAINS("Feature dropout requires at least 2 dimensions in the input");
    cnnc_tensor *w = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    CHECK_TENSOR_ERR(cnnc_prelu(x, w));
    CHECK_ERROR_CONTAINS("Found parameter numbers = 4 and channel size = 3.");
    CHECK_TENSOR_ERR(cnnc_prelu(x, NULL));
    CHECK_NULL_ERR(cnnc_hardtanh_new(CNNC_HARDTANH(.min_val = 1.0, .max_val = 1.0)));
    CHECK_NULL_ERR(cnnc_dropout_new(CNNC_DROPOUT(.p = -0.5)));
    CHECK_ERROR_CONTAINS("but got -0.5");
    CHECK_NULL_ERR(cnnc_gelu_new(CNNC_GELU(.approximate = "exact")));
    CHECK_NULL_ERR(cnnc_prelu_new(CNNC_PRELU(.num_parameters = -2)));
    CHECK_NULL_ERR(cnnc_softmax_new(CNNC_SOFTMAX(.dim = CNNC_INTS(0, 1))));
    cnnc_tensor_release(x);
    cnnc_tensor_release(xi);
    cnnc_tensor_release(v);
    cnnc_tensor_release(w);
}

static void test_inplace_rules(void) {
    cnnc_tensor *leaf = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    REQUIRE(leaf);
    cnnc_scope_begin();
    CHECK_OK(cnnc_tensor_set_requires_grad(leaf, true));
    CHECK_ERR(cnnc_leaky_relu_(leaf, CNNC_LEAKY_RELU()));
    CHECK_ERROR_CONTAINS("leaf Variable that requires grad");
    CHECK_TENSOR_ERR(cnnc_silu(leaf, CNNC_SILU(.inplace = true)));
    /* dropout in eval on a leaf: returned untouched, no error (as PyTorch) */
    cnnc_tensor *same = cnnc_dropout(leaf, CNNC_DROPOUT(.training = false, .inplace = true));
    CHECK(same == leaf);
    /* a non-leaf: in place, version bumped, differentiable */
    cnnc_tensor *y = cnnc_mul_scalar(leaf, -2.0);
    uint64_t v0 = cnnc_tensor_version(y);
    cnnc_tensor *r = cnnc_elu(y, CNNC_ELU(.alpha = 0.5, .inplace = true));
    CHECK(r == y);
    CHECK(cnnc_tensor_version(y) > v0);
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(y), "EluBackward1");
    CHECK_OK(cnnc_backward(cnnc_sum(y), NULL, false));
    cnnc_tensor *g = cnnc_tensor_grad(leaf);
    REQUIRE(g);
    /* d/dleaf elu(-2 leaf) at leaf = 1: -2 * 0.5 * e^-2 */
    CHECK_NEAR(cnnc_tensor_data_f32(g)[0], -2.0 * 0.5 * exp(-2.0), 1e-6);
    /* in-place leaky_relu with a negative slope: backward is refused */
    cnnc_tensor *z = cnnc_mul_scalar(leaf, 1.0);
    CHECK_OK(cnnc_leaky_relu_(z, CNNC_LEAKY_RELU(.negative_slope = -0.1)));
    CHECK_ERR(cnnc_backward(cnnc_sum(z), NULL, false));
    CHECK_ERROR_CONTAINS("In-place leakyReLu backward calculation is triggered with a negative slope");
    cnnc_scope_end();
    cnnc_tensor_release(leaf);
}

static void test_softmax_values_and_grad(void) {
    cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(2, 3), CNNC_FLOAT32,
                                    (const float[]){1000, 1001, 1002, -1, 0, 1});
    REQUIRE(x);
    cnnc_scope_begin();
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    cnnc_tensor *y = cnnc_softmax(x, CNNC_SOFTMAX(.dim = CNNC_INTS(-1)));
    REQUIRE(y);
    const float *d = cnnc_tensor_data_f32(y);
    double e1 = exp(-1.0), e2 = exp(-2.0), s = 1 + e1 + e2;
    CHECK_NEAR(d[0], e2 / s, 1e-6);
    CHECK_NEAR(d[2], 1 / s, 1e-6);
    CHECK_NEAR(d[3], e2 / s, 1e-6);
    cnnc_tensor *ly = cnnc_log_softmax(x, CNNC_SOFTMAX()); /* implicit dim 1 for 2-d */
    REQUIRE(ly);
    CHECK_NEAR(cnnc_tensor_data_f32(ly)[2], -log(s), 1e-5);
    CHECK_OK(cnnc_backward(cnnc_sum(y), NULL, false)); /* rows sum to 1: gradient 0 */
    const float *g = cnnc_tensor_data_f32(cnnc_tensor_grad(x));
    for (int i = 0; i < 6; i++) CHECK_NEAR(g[i], 0.0, 1e-6);
    cnnc_scope_end();
    cnnc_tensor_release(x);
}

static void test_dropout_ops(void) {
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(64, 32, 4, 4), CNNC_FLOAT32);
    REQUIRE(x);
    cnnc_scope_begin();
    cnnc_manual_seed(3);
    cnnc_tensor *a = cnnc_dropout2d(x, CNNC_DROPOUT(.p = 0.25));
    cnnc_manual_seed(3);
    cnnc_tensor *b = cnnc_dropout2d(x, CNNC_DROPOUT(.p = 0.25));
    REQUIRE(a && b);
    const float *da = cnnc_tensor_data_f32(a), *db = cnnc_tensor_data_f32(b);
    long zero_planes = 0;
    float scale = 1.0f / 0.75f;
    for (int plane = 0; plane < 64 * 32; plane++) {
        float first = da[plane * 16];
        CHECK(first == 0.0f || first == scale);
        zero_planes += first == 0.0f;
        for (int i = 1; i < 16; i++) CHECK(da[plane * 16 + i] == first);
    }
    CHECK(memcmp(da, db, (size_t)cnnc_tensor_numel(a) * sizeof(float)) == 0);
    CHECK(fabs(zero_planes / 2048.0 - 0.25) < 0.06);
    cnnc_tensor *p1 = cnnc_dropout(x, CNNC_DROPOUT(.p = 1.0));
    REQUIRE(p1);
    CHECK(cnnc_tensor_data_f32(p1)[0] == 0.0f);
    cnnc_tensor *ev = cnnc_dropout3d(x, CNNC_DROPOUT(.training = false));
    CHECK(ev == x);
    cnnc_scope_end();
    cnnc_tensor_release(x);
}

static void test_module_reprs(void) {
    struct {
        cnnc_module *m;
        const char *want;
    } cases[] = {
        {cnnc_relu6_new(CNNC_RELU6()), "ReLU6()"},
        {cnnc_leakyrelu_new(CNNC_LEAKY_RELU(.negative_slope = 1e-5, .inplace = true)),
         "LeakyReLU(negative_slope=1e-05, inplace=True)"},
        {cnnc_elu_new(CNNC_ELU()), "ELU(alpha=1.0)"},
        {cnnc_celu_new(CNNC_CELU(.alpha = 123456789.0)), "CELU(alpha=123456789.0)"},
        {cnnc_hardtanh_new(CNNC_HARDTANH()), "Hardtanh(min_val=-1.0, max_val=1.0)"},
        {cnnc_gelu_new(CNNC_GELU(.approximate = "tanh")), "GELU(approximate='tanh')"},
        {cnnc_softplus_new(CNNC_SOFTPLUS()), "Softplus(beta=1, threshold=20)"},
        {cnnc_softplus_new(CNNC_SOFTPLUS(.beta = 0.5, .threshold = 1e20)),
         "Softplus(beta=0.5, threshold=1e+20)"},
        {cnnc_prelu_new(CNNC_PRELU(.num_parameters = 3)), "PReLU(num_parameters=3)"},
        {cnnc_softmax_new(CNNC_SOFTMAX()), "Softmax(dim=None)"},
        {cnnc_logsoftmax_new(CNNC_SOFTMAX(.dim = CNNC_INTS(-1))), "LogSoftmax(dim=-1)"},
        {cnnc_dropout_new(CNNC_DROPOUT(.p = 0.1)), "Dropout(p=0.1, inplace=False)"},
        {cnnc_dropout3d_new(CNNC_DROPOUT(.inplace = true)), "Dropout3d(p=0.5, inplace=True)"},
        {cnnc_hardswish_new(CNNC_HARDSWISH(.inplace = true)), "Hardswish()"},
        {cnnc_tanh_new(), "Tanh()"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        REQUIRE(cases[i].m);
        char *s = cnnc_module_repr(cases[i].m);
        CHECK_STR_EQ(s, cases[i].want);
        cnnc_free(s);
        cnnc_module_release(cases[i].m);
    }
}

int main(void) {
    RUN_TEST(test_act_fast_vs_reference);
    RUN_TEST(test_tanh_rational_ulp);
    RUN_TEST(test_act_in_place_aliasing);
    RUN_TEST(test_act_stream);
    RUN_TEST(test_hardtanh_mask_vs_reference);
    RUN_TEST(test_softmax_fast_vs_reference);
    RUN_TEST(test_prelu_kernels);
    RUN_TEST(test_dropout_kernel);
    RUN_TEST(test_errors);
    RUN_TEST(test_inplace_rules);
    RUN_TEST(test_softmax_values_and_grad);
    RUN_TEST(test_dropout_ops);
    RUN_TEST(test_module_reprs);
    return check_summary();
}
