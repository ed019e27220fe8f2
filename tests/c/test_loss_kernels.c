/* The loss kernels (kernels/loss.h): every fast variant (one build per ISA level this
 * CPU runs) against the libm reference on randomized sizes and values with the edge
 * cases (huge |x|, 0 and 1 probabilities, subnormals, NaN, infinities, ignored
 * targets, weights, pos_weight, empty ranges); then the fused cross_entropy op
 * against log_softmax + nll_loss through the API at every level, 1 and 2 threads
 * (same bits at both), and binary_cross_entropy's input check on every reduction. */
#include "check.h"

#include "kernels/isa.h"
#include "kernels/loss.h"

static uint64_t lcg_state = 777;
static double urand(void) { /* [0, 1) */
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) * 0x1.0p-53;
}

/* |a - b| <= 2e-5 |b| + tol_abs, NaN matching NaN, infinities equal */
static int close_to(float a, float b, double tol_abs) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs((double)a - (double)b) <= 2e-5 * fabs((double)b) + tol_abs;
}

static double finite_or_0(double v) { return isfinite(v) ? v : 0.0; }

/* the first i < n where a[i] and b[i] differ by more than tol (NaN matching NaN), or -1 */
static int64_t first_mismatch(const float *a, const float *b, int64_t n, double tol) {
    for (int64_t i = 0; i < n; i++)
        if (!close_to(a[i], b[i], tol)) return i;
    return -1;
}

/* ---- pointwise losses -------------------------------------------------------------- */

/* a value for op's input (probabilities for binary_cross_entropy) */
static float pw_input(cnnc__pwl op) {
    static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 100.0f, -100.0f, 1e4f, -1e4f,
                                    1e-30f, -1e-30f, 88.0f, -104.0f};
    static const float prob[] = {0.0f, 1.0f, 1e-40f, 1e-30f, 1e-7f, 0.5f, 0.99999994f, 0.9999f};
    double u = urand();
    if (op == CNNC__PWL_BCE) {
        if (u < 0.15) return prob[(int)(urand() * 8)];
        if (u < 0.17) return urand() < 0.5 ? NAN : 1.5f; /* invalid: NaN losses in both */
        return (float)urand();
    }
    if (u < 0.02) return NAN;
    if (u < 0.04) return urand() < 0.5 ? INFINITY : -INFINITY;
    if (u < 0.15) return special[(int)(urand() * 12)];
    return (float)((urand() * 2 - 1) * (urand() < 0.5 ? 3.0 : 30.0));
}

/* a target: probabilities with their ends for the BCEs and kl_div, else like the input */
static float pw_target(cnnc__pwl op) {
    if (op == CNNC__PWL_BCE || op == CNNC__PWL_BCE_LOGITS || op == CNNC__PWL_KL_DIV) {
        double u = urand();
        return u < 0.1 ? 0.0f : u < 0.2 ? 1.0f : (float)urand();
    }
    return pw_input(op);
}

/* the magnitude of the terms an element's formula rounds (fused multiply-adds may
 * round them once less than the reference) */
static double pw_mag(const cnnc__pwl_args *a, int64_t i, float g) {
    double m = (fabs(a->x[i]) + 1) * (fabs(a->y[i]) + 1) * (fabs(g) + 1) * 100.0;
    if (a->w) m *= fabs(a->w[i]) + 1;
    if (a->pw) m *= fabs(a->pw[i]) + 1;
    return isfinite(m) ? m : 0.0;
}

typedef struct pw_bufs {
    float *x, *y, *w, *pw, *g, *fa, *fb, *ga, *gb, *ya, *yb;
} pw_bufs;

static void pw_compare(cnnc__isa isa, cnnc__pwl op, const cnnc__pwl_args *a, const pw_bufs *b,
                       int64_t n, bool use_g) {
    const float g0 = 0.75f;
    const float *g = use_g ? b->g : NULL;
    int64_t lo = n > 3 ? n / 3 : 0; /* a range that does not start at 0 */
    cnnc__k_pwl_forward(isa, op, a, b->fa, lo, n);
    cnnc__k_pwl_forward_ref(op, a, b->fb, lo, n);
    for (int64_t i = lo; i < n; i++)
        if (!close_to(b->fa[i - lo], b->fb[i - lo], 1e-7 * pw_mag(a, i, 1.0f) + 1e-6)) {
            CHECK(close_to(b->fa[i - lo], b->fb[i - lo], 1e-7 * pw_mag(a, i, 1.0f) + 1e-6));
            fprintf(stderr, "  %s %s forward x=%.9g y=%.9g fast=%.9g ref=%.9g\n",
                    cnnc__k_loss_variant_name(isa), cnnc__pwl_name(op), a->x[i], a->y[i],
                    b->fa[i - lo], b->fb[i - lo]);
            break;
        }
    cnnc__k_pwl_backward(isa, op, a, b->ga, b->ya, g, g0, lo, n);
    cnnc__k_pwl_backward_ref(op, a, b->gb, b->yb, g, g0, lo, n);
    for (int64_t i = lo; i < n; i++) {
        const double tol = 1e-7 * pw_mag(a, i, g ? g[i] : g0) + 1e-6;
        if (!close_to(b->ga[i], b->gb[i], tol) || !close_to(b->ya[i], b->yb[i], tol)) {
            CHECK(close_to(b->ga[i], b->gb[i], tol) && close_to(b->ya[i], b->yb[i], tol));
            fprintf(stderr, "  %s %s backward x=%.9g y=%.9g gx %.9g/%.9g gy %.9g/%.9g\n",
                    cnnc__k_loss_variant_name(isa), cnnc__pwl_name(op), a->x[i], a->y[i],
                    b->ga[i], b->gb[i], b->ya[i], b->yb[i]);
            break;
        }
    }
}

static void pw_fast_vs_reference(cnnc__isa isa) {
    enum { MAXN = 3000 };
    pw_bufs b;
    float **all[] = {&b.x, &b.y, &b.w, &b.pw, &b.g, &b.fa, &b.fb, &b.ga, &b.gb, &b.ya, &b.yb};
    bool ok = true;
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) ok &= (*all[k] = malloc(MAXN * sizeof(float))) != NULL;
    REQUIRE(ok);
    for (int op = 0; op < CNNC__PWL_COUNT; op++)
        for (int trial = 0; trial < 24; trial++) {
            int64_t n = trial == 0 ? 0 : (int64_t)(urand() * MAXN);
            for (int64_t i = 0; i < n; i++) {
                b.x[i] = pw_input((cnnc__pwl)op);
                b.y[i] = pw_target((cnnc__pwl)op);
                b.w[i] = urand() < 0.1 ? 0.0f : (float)(urand() * 3);
                b.pw[i] = (float)(urand() * 4);
                b.g[i] = (float)(urand() * 4 - 2);
            }
            static const float params[] = {0.0f, 0.5f, 1.0f, 2.0f};
            bool weighted = op >= CNNC__PWL_BCE && trial % 2, pos = op == CNNC__PWL_BCE_LOGITS && trial % 4 >= 2;
            cnnc__pwl_args a = {b.x, b.y, weighted ? b.w : NULL, pos ? b.pw : NULL,
                                params[trial % 4] + (op == CNNC__PWL_HUBER ? 0.25f : 0.0f),
                                trial % 3 == 0, trial % 5 == 0 ? 1.0 : 1.0 / (double)(n + 1)};
            pw_compare(isa, (cnnc__pwl)op, &a, &b, n, trial % 2 == 0);
        }
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(*all[k]);
}

/* ---- cross entropy ----------------------------------------------------------------- */

typedef struct ce_case {
    int64_t n, c, inner;
    float *x, *w, *g1, *g2, *stat1, *stat2, *nll1, *nll2, *sm1, *sm2, *coef;
    int64_t *t;
} ce_case;

static void ce_fill(ce_case *k, bool weighted, bool specials) {
    const int64_t positions = k->n * k->inner, numel = positions * k->c;
    const double scale = urand() < 0.3 ? 30.0 : 3.0, offset = urand() < 0.2 ? 1e4 : 0.0;
    for (int64_t i = 0; i < numel; i++) {
        double u = specials ? urand() : 1.0;
        k->x[i] = u < 0.0005 ? NAN : u < 0.01 ? -INFINITY : (float)(offset + (urand() * 2 - 1) * scale);
    }
    for (int64_t c = 0; c < k->c; c++) k->w[c] = urand() < 0.2 ? 0.0f : (float)(urand() * 2);
    for (int64_t p = 0; p < positions; p++) {
        k->t[p] = urand() < 0.2 ? -100 : (int64_t)(urand() * (double)k->c);
        k->coef[2 * p] = urand() < 0.1 ? 0.0f : (float)(urand() * 2 - 1);
        k->coef[2 * p + 1] = weighted && urand() < 0.5 ? 0.0f : (float)(urand() * 0.1);
    }
}

/* runs [s0, s1) of each batch as the op layer splits them, through fast (isa) or ref */
static void ce_run(cnnc__isa isa, bool ref, const cnnc__ce_args *a, const ce_case *k, float *stat,
                   float *nll, float *sm, float *gx, float wsum) {
    const int64_t split = k->inner > 2 ? k->inner / 3 : k->inner;
    for (int64_t nb = 0; nb < k->n; nb++)
        for (int64_t s0 = 0; s0 < k->inner; s0 = s0 < split ? split : k->inner) {
            int64_t s1 = s0 < split ? split : k->inner, p0 = nb * k->inner + s0;
            if (ref) {
                cnnc__k_ce_forward_ref(a, stat + 2 * p0, nll + p0, sm + p0, nb, s0, s1);
                cnnc__k_ce_backward_ref(a, gx, stat + 2 * p0, k->coef + 2 * p0, wsum, nb, s0, s1);
            } else {
                cnnc__k_ce_forward(isa, a, stat + 2 * p0, nll + p0, sm + p0, nb, s0, s1);
                cnnc__k_ce_backward(isa, a, gx, stat + 2 * p0, k->coef + 2 * p0, wsum, nb, s0, s1);
            }
        }
}

static void ce_fast_vs_reference(cnnc__isa isa) {
    enum { MAXV = 40000, MAXP = 3000 };
    ce_case k = {0};
    float **fl[] = {&k.x, &k.g1, &k.g2};
    float **pos[] = {&k.stat1, &k.stat2, &k.nll1, &k.nll2, &k.sm1, &k.sm2, &k.coef};
    bool ok = (k.w = malloc(1200 * sizeof(float))) && (k.t = malloc(MAXP * sizeof(int64_t)));
    for (size_t i = 0; i < 3; i++) ok &= (*fl[i] = malloc(MAXV * sizeof(float))) != NULL;
    for (size_t i = 0; i < 7; i++) ok &= (*pos[i] = malloc(2 * MAXP * sizeof(float))) != NULL;
    REQUIRE(ok);
    static const int64_t classes[] = {1, 2, 5, 21, 33, 100, 1000};
    for (int trial = 0; trial < 60; trial++) {
        k.c = classes[trial % 7];
        k.inner = trial % 3 == 0 ? 1 : 1 + (int64_t)(urand() * 150);
        int64_t max_n = MAXV / (k.c * k.inner);
        k.n = max_n < 1 ? 0 : 1 + (int64_t)(urand() * (double)(max_n < 4 ? max_n : 4));
        if (k.n * k.inner > MAXP) k.n = MAXP / k.inner;
        if (trial == 1) k.n = 0; /* empty */
        bool weighted = trial % 4 >= 2, smooth = trial % 2;
        ce_fill(&k, weighted, trial % 3 == 2);
        cnnc__ce_args a = {k.x, k.t, weighted ? k.w : NULL, k.c, k.inner, -100, smooth};
        float wsum = 0.0f;
        for (int64_t c = 0; c < k.c; c++) wsum += weighted ? k.w[c] : 1.0f;
        ce_run(isa, false, &a, &k, k.stat1, k.nll1, k.sm1, k.g1, wsum);
        ce_run(isa, true, &a, &k, k.stat2, k.nll2, k.sm2, k.g2, wsum);
        const int64_t positions = k.n * k.inner;
        int bad = 0;
        for (int64_t p = 0; p < positions && !bad; p++) {
            const float m = k.stat2[2 * p], lse = k.stat2[2 * p + 1];
            const double mag = finite_or_0(fabs(m) + fabs(lse)) + 1.0, row = mag * 4.0 * (double)k.c;
            bad = !close_to(k.stat1[2 * p], m, 0.0) || !close_to(k.stat1[2 * p + 1], lse, 1e-6 * mag) ||
                  !close_to(k.nll1[p], k.nll2[p], 4e-7 * mag * 3.0) ||
                  !close_to(k.sm1[p], k.sm2[p], 4e-7 * row * 3.0);
            if (bad)
                fprintf(stderr, "  %s ce forward c=%lld inner=%lld p=%lld: m %.9g/%.9g lse %.9g/%.9g "
                        "nll %.9g/%.9g smooth %.9g/%.9g\n", cnnc__k_loss_variant_name(isa),
                        (long long)k.c, (long long)k.inner, (long long)p, k.stat1[2 * p], m,
                        k.stat1[2 * p + 1], lse, k.nll1[p], k.nll2[p], k.sm1[p], k.sm2[p]);
        }
        for (int64_t i = 0; i < positions * k.c && !bad; i++) {
            const int64_t p = (i / (k.c * k.inner)) * k.inner + i % k.inner;
            const double tol = 1e-6 * (fabs(k.coef[2 * p]) + fabs(k.coef[2 * p + 1]) * (wsum + 2.0) + 1e-3);
            bad = !close_to(k.g1[i], k.g2[i], tol);
            if (bad)
                fprintf(stderr, "  %s ce backward c=%lld inner=%lld i=%lld: %.9g vs %.9g\n",
                        cnnc__k_loss_variant_name(isa), (long long)k.c, (long long)k.inner,
                        (long long)i, k.g1[i], k.g2[i]);
        }
        CHECK(!bad);
    }
    for (size_t i = 0; i < 3; i++) free(*fl[i]);
    for (size_t i = 0; i < 7; i++) free(*pos[i]);
    free(k.w);
    free(k.t);
}

static void test_kernels_every_level(void) {
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        printf("test_loss_kernels: level %s runs %s\n", cnnc__isa_name((cnnc__isa)l),
               cnnc__k_loss_variant_name((cnnc__isa)l));
        fflush(stdout);
        pw_fast_vs_reference((cnnc__isa)l);
        ce_fast_vs_reference((cnnc__isa)l);
    }
}

/* ---- the ops ----------------------------------------------------------------------- */

/* cross_entropy (fused) against nll_loss(log_softmax(x)) with the same options:
 * values and input gradients, for every reduction; *sum_out, *grad_out: the mean
 * result's value and gradient (for the thread comparison) */
static void ce_vs_composition(int ndim, const int64_t *shape, const float *xv, const int64_t *tv,
                              const float *wv, int64_t ignore, float *sum_out, float *grad_out) {
    int64_t tshape[5], classes = shape[1];
    for (int d = 0, k = 0; d < ndim; d++)
        if (d != 1) tshape[k++] = shape[d];
    static const char *reds[] = {"mean", "sum", "none"};
    for (int r = 0; r < 3; r++) {
        cnnc_scope_begin();
        cnnc_tensor *x1 = cnnc_from_data(ndim, shape, CNNC_FLOAT32, xv);
        cnnc_tensor *x2 = cnnc_from_data(ndim, shape, CNNC_FLOAT32, xv);
        cnnc_tensor *t = cnnc_from_data(ndim - 1, tshape, CNNC_INT64, tv);
        cnnc_tensor *w = wv ? cnnc_from_data(1, &classes, CNNC_FLOAT32, wv) : NULL;
        REQUIRE(x1 && x2 && t && (w || !wv));
        CHECK_OK(cnnc_tensor_set_requires_grad(x1, true));
        CHECK_OK(cnnc_tensor_set_requires_grad(x2, true));
        cnnc_tensor *l1 = cnnc_cross_entropy(
            x1, t, CNNC_CROSS_ENTROPY(.weight = w, .ignore_index = ignore, .reduction = reds[r]));
        cnnc_tensor *lp = cnnc_log_softmax(x2, CNNC_SOFTMAX(.dim = CNNC_INTS(1)));
        cnnc_tensor *l2 = lp ? cnnc_nll_loss(lp, t, CNNC_NLL_LOSS(.weight = w, .ignore_index = ignore,
                                                                   .reduction = reds[r]))
                             : NULL;
        REQUIRE(l1 && l2);
        CHECK_EQ_INT(cnnc_tensor_numel(l1), cnnc_tensor_numel(l2));
        CHECK_EQ_INT(first_mismatch(cnnc_tensor_data_f32(l1), cnnc_tensor_data_f32(l2),
                                    cnnc_tensor_numel(l2), 2e-5), -1);
        cnnc_tensor *s1 = cnnc_sum(l1), *s2 = cnnc_sum(l2);
        REQUIRE(s1 && s2);
        CHECK_OK(cnnc_backward(s1, NULL, false));
        CHECK_OK(cnnc_backward(s2, NULL, false));
        cnnc_tensor *g1 = cnnc_tensor_grad(x1), *g2 = cnnc_tensor_grad(x2);
        REQUIRE(g1 && g2);
        CHECK_EQ_INT(first_mismatch(cnnc_tensor_data_f32(g1), cnnc_tensor_data_f32(g2),
                                    cnnc_tensor_numel(g2), 2e-6), -1);
        if (r == 0) {
            *sum_out = cnnc_tensor_data_f32(l1)[0];
            memcpy(grad_out, cnnc_tensor_data_f32(g1), (size_t)cnnc_tensor_numel(g1) * sizeof(float));
        }
        CHECK_OK(cnnc_scope_end());
    }
}

static void test_cross_entropy_fused_vs_composition(void) {
    static const int64_t shapes[][4] = {{64, 1000, 1, 1}, {3, 21, 37, 1}, {2, 5, 4, 300},
                                        {0, 4, 1, 1},     {2, 3, 0, 1},   {7, 1, 1, 1}};
    static const int ndims[] = {2, 3, 4, 2, 3, 2};
    enum { MAXV = 64000 };
    float *x = malloc(MAXV * sizeof *x), *w = malloc(1000 * sizeof *w);
    float *g[2] = {malloc(MAXV * sizeof(float)), malloc(MAXV * sizeof(float))};
    int64_t *t = malloc(MAXV * sizeof *t);
    REQUIRE(x && w && g[0] && g[1] && t);
    char old_isa[16];
    snprintf(old_isa, sizeof old_isa, "%s", cnnc_get_isa());
    int old_threads = cnnc_get_num_threads();
    for (size_t s = 0; s < sizeof ndims / sizeof ndims[0]; s++) {
        const int64_t *shape = shapes[s], c = shape[1];
        int64_t numel = 1;
        for (int d = 0; d < ndims[s]; d++) numel *= shape[d];
        for (int64_t i = 0; i < numel; i++) x[i] = (float)((urand() * 2 - 1) * 4);
        for (int64_t i = 0; i < numel / c; i++) t[i] = urand() < 0.2 ? c - 1 : (int64_t)(urand() * (double)c);
        for (int64_t i = 0; i < c; i++) w[i] = (float)(0.5 + urand());
        for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
            CHECK_OK(cnnc_set_isa(cnnc__isa_name((cnnc__isa)l)));
            float sum[2] = {0, 0};
            for (int th = 1; th <= 2; th++) {
                CHECK_OK(cnnc_set_num_threads(th));
                ce_vs_composition(ndims[s], shape, x, t, s % 2 ? w : NULL, s % 3 ? c - 1 : -100,
                                  &sum[th - 1], g[th - 1]);
            }
            /* the same bits at 1 and 2 threads */
            CHECK(memcmp(&sum[0], &sum[1], sizeof(float)) == 0 || (isnan(sum[0]) && isnan(sum[1])));
            CHECK(memcmp(g[0], g[1], (size_t)numel * sizeof(float)) == 0);
        }
    }
    CHECK_OK(cnnc_set_isa(old_isa));
    CHECK_OK(cnnc_set_num_threads(old_threads));
    free(x), free(w), free(g[0]), free(g[1]), free(t);
}

/* binary_cross_entropy refuses an input outside [0, 1] (or NaN) on every reduction,
 * and a NaN that comes from the target alone is a value, not an error */
static void test_bce_input_check(void) {
    static const char *reds[] = {"mean", "sum", "none"};
    static const float bad[] = {1.5f, -0.25f, NAN, INFINITY};
    cnnc_scope_begin();
    for (int r = 0; r < 3; r++) {
        for (int b = 0; b < 4; b++) {
            float xv[5] = {0.0f, 0.25f, 1.0f, 0.5f, 0.75f};
            xv[(b + r) % 5] = bad[b];
            cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(5), CNNC_FLOAT32, xv);
            cnnc_tensor *y = cnnc_full(CNNC_SHAPE(5), 0.5, CNNC_FLOAT32);
            REQUIRE(x && y);
            CHECK_TENSOR_ERR(cnnc_binary_cross_entropy(x, y, CNNC_BINARY_CROSS_ENTROPY(.reduction = reds[r])));
            CHECK_ERROR_CONTAINS("all elements of input should be between 0 and 1");
        }
        const float xv[3] = {0.0f, 0.5f, 1.0f}, yv[3] = {INFINITY, 0.5f, 0.5f};
        cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, xv);
        cnnc_tensor *y = cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, yv);
        REQUIRE(x && y);
        cnnc_tensor *l = cnnc_binary_cross_entropy(x, y, CNNC_BINARY_CROSS_ENTROPY(.reduction = reds[r]));
        REQUIRE(l);
        CHECK(isnan(cnnc_tensor_data_f32(l)[0]));
    }
    CHECK_OK(cnnc_scope_end());
}

int main(void) {
    RUN_TEST(test_kernels_every_level);
    RUN_TEST(test_cross_entropy_fused_vs_composition);
    RUN_TEST(test_bce_input_check);
    return check_summary();
}
