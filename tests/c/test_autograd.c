/* Autograd: requires_grad rules, gradient accumulation, broadcasting, the gradients
 * of the basic ops (hand-computed and finite differences), backward's errors,
 * no-grad mode, the version counter, grad_fn names, long graphs. Expected values
 * and messages are PyTorch 1.13's. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/autograd.h" /* a node whose backward returns a wrong gradient */

/* ---- helpers ------------------------------------------------------------- */

/* A float tensor from data; a leaf that requires grad if rg. */
static cnnc_tensor *make(int ndim, const int64_t *shape, const float *data, bool rg) {
    cnnc_tensor *t = cnnc_from_data(ndim, shape, CNNC_FLOAT32, data);
    if (t && rg && cnnc_tensor_set_requires_grad(t, true) != CNNC_OK) {
        cnnc_tensor_release(t);
        return NULL;
    }
    return t;
}

/* A leaf of shape with values start, start + step, ... that requires grad. */
static cnnc_tensor *ramp(int ndim, const int64_t *shape, float start, float step) {
    cnnc_tensor *t = cnnc_empty(ndim, shape, CNNC_FLOAT32);
    if (!t) return NULL;
    float *d = cnnc_tensor_data_f32(t);
    for (int64_t i = 0; i < cnnc_tensor_numel(t); i++) d[i] = start + step * (float)i;
    if (cnnc_tensor_set_requires_grad(t, true) != CNNC_OK) {
        cnnc_tensor_release(t);
        return NULL;
    }
    return t;
}

/* The gradient's data (borrowed), or NULL. */
static const float *grad_data(cnnc_tensor *t) {
    cnnc_tensor *g = cnnc_tensor_grad(t);
    return g ? cnnc_tensor_data_f32(g) : NULL;
}

static int shape_is(const cnnc_tensor *t, int ndim, const int64_t *shape) {
    if (!t || cnnc_tensor_ndim(t) != ndim) return 0;
    const int64_t *s = cnnc_tensor_shape(t);
    for (int i = 0; i < ndim; i++)
        if (s[i] != shape[i]) return 0;
    return 1;
}

static double item(cnnc_tensor *t) {
    double v = NAN;
    if (t) cnnc_tensor_item(t, &v);
    return v;
}

/* Backward of sum(y) (releasing the sum). */
static cnnc_status backward_sum(cnnc_tensor *y) {
    cnnc_tensor *s = cnnc_sum(y);
    if (!s) return cnnc_last_status();
    cnnc_status st = cnnc_backward(s, NULL, false);
    cnnc_tensor_release(s);
    return st;
}

/* Finite-difference check. f maps the inputs to an output of any shape; the loss
 * is sum(f(x) * w) with fixed random w, so every output element gets its own
 * weight. Analytic gradients (backward) are compared with central differences
 * for every element of every input that requires grad. */
typedef cnnc_tensor *(*graph_fn)(cnnc_tensor **x);

static double fd_loss(graph_fn f, cnnc_tensor **x, cnnc_tensor *w) {
    cnnc_tensor *y = f(x);
    cnnc_tensor *p = y ? cnnc_mul(y, w) : NULL;
    cnnc_tensor *s = p ? cnnc_sum(p) : NULL;
    double v = item(s);
    cnnc_tensor_release(y);
    cnnc_tensor_release(p);
    cnnc_tensor_release(s);
    return v;
}

static void check_gradients_fd(const char *what, graph_fn f, int n, cnnc_tensor **x,
                               double eps, double tol) {
    cnnc_tensor *y = f(x);
    CHECK(y != NULL);
    if (!y) return;
    cnnc_manual_seed(1234);
    cnnc_tensor *w = cnnc_randn(cnnc_tensor_ndim(y), cnnc_tensor_shape(y));
    cnnc_tensor *p = w ? cnnc_mul(y, w) : NULL;
    cnnc_tensor *s = p ? cnnc_sum(p) : NULL;
    CHECK(s != NULL);
    if (s) CHECK_OK(cnnc_backward(s, NULL, false));
    cnnc_tensor_release(y);
    cnnc_tensor_release(p);
    cnnc_tensor_release(s);

    bool old = cnnc_set_grad_enabled(false);
    for (int i = 0; i < n && w; i++) {
        if (!cnnc_tensor_requires_grad(x[i])) continue;
        const float *g = grad_data(x[i]);
        CHECK(g != NULL);
        if (!g) continue;
        float *d = cnnc_tensor_data_f32(x[i]);
        for (int64_t j = 0; j < cnnc_tensor_numel(x[i]); j++) {
            float keep = d[j];
            d[j] = keep + (float)eps;
            double lp = fd_loss(f, x, w);
            d[j] = keep - (float)eps;
            double lm = fd_loss(f, x, w);
            d[j] = keep;
            double num = (lp - lm) / (2 * eps);
            if (!(fabs(num - g[j]) <= tol * (1 + fabs(num)))) {
                check_fail_(__FILE__, __LINE__, "%s: d loss / d x%d[%lld] = %.6g by backward, %.6g by finite differences",
                            what, i, (long long)j, (double)g[j], num);
                break;
            }
        }
    }
    cnnc_set_grad_enabled(old);
    cnnc_tensor_release(w);
}

/* ---- requires_grad and leaves ------------------------------------------- */

static void test_requires_grad_rules(void) {
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    cnnc_tensor *i = cnnc_ones(CNNC_SHAPE(3), CNNC_INT64);
    REQUIRE(x && i);
    CHECK(!cnnc_tensor_requires_grad(x));
    CHECK(cnnc_tensor_is_leaf(x));
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    CHECK(cnnc_tensor_requires_grad(x));
    CHECK(cnnc_tensor_is_leaf(x));

    CHECK_ERR(cnnc_tensor_set_requires_grad(i, true));
    CHECK_ERROR_CONTAINS("only Tensors of floating point");
    CHECK(!cnnc_tensor_requires_grad(i));
    CHECK_OK(cnnc_tensor_set_requires_grad(i, false)); /* harmless */

    cnnc_tensor *y = cnnc_mul_scalar(x, 2);
    REQUIRE(y);
    CHECK(cnnc_tensor_requires_grad(y));
    CHECK(!cnnc_tensor_is_leaf(y));
    CHECK_ERR(cnnc_tensor_set_requires_grad(y, false));
    CHECK_ERROR_CONTAINS("you can only change requires_grad flags of leaf variables");
    CHECK(cnnc_tensor_requires_grad(y));

    /* an op on tensors that need no grad makes a leaf */
    cnnc_tensor *c = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    REQUIRE(c);
    cnnc_tensor *z = cnnc_add(c, c);
    REQUIRE(z);
    CHECK(cnnc_tensor_is_leaf(z));
    CHECK(!cnnc_tensor_requires_grad(z));
    CHECK_OK(cnnc_tensor_set_requires_grad(z, true));

    /* requires_grad can be switched off again on a leaf */
    CHECK_OK(cnnc_tensor_set_requires_grad(x, false));
    CHECK(!cnnc_tensor_requires_grad(x));
    cnnc_tensor_release(x);
    cnnc_tensor_release(i);
    cnnc_tensor_release(y);
    cnnc_tensor_release(c);
    cnnc_tensor_release(z);
}

static void test_leaf_grad_accumulates_over_two_backwards(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(3), (const float[]){1, 2, 3}, true);
    REQUIRE(x);
    CHECK(cnnc_tensor_grad(x) == NULL);
    for (int round = 1; round <= 2; round++) {
        cnnc_tensor *y = cnnc_mul(x, x);
        REQUIRE(y);
        CHECK_OK(backward_sum(y));
        cnnc_tensor_release(y);
        const float want[3] = {2.0f * round, 4.0f * round, 6.0f * round};
        CHECK_FLOATS_NEAR(grad_data(x), want, 3, 1e-6);
        CHECK(shape_is(cnnc_tensor_grad(x), CNNC_SHAPE(3)));
        CHECK(!cnnc_tensor_requires_grad(cnnc_tensor_grad(x)));
    }
    cnnc_tensor_release(x);
}

/* A leaf's first gradient that the caller still holds (x + b's gradient for x is the
 * upstream one) is stored as a copy, made over the threads for a large one: the same
 * values, and writing the caller's tensor afterwards leaves .grad as it was. */
static void test_first_grad_is_a_copy_of_a_held_gradient(void) {
    const int64_t n = 3 * 200000; /* enough bytes for the copy to split over threads */
    const int threads = cnnc_get_num_threads();
    REQUIRE(cnnc_set_num_threads(2) == CNNC_OK);
    cnnc_tensor *x = ramp(CNNC_SHAPE(3, n / 3), 0, 1e-3f), *b = ramp(CNNC_SHAPE(1), 5, 0);
    cnnc_tensor *u = cnnc_empty(CNNC_SHAPE(3, n / 3), CNNC_FLOAT32);
    REQUIRE(x && b && u);
    float *ud = cnnc_tensor_data_f32(u);
    for (int64_t i = 0; i < n; i++) ud[i] = (float)(i % 1000) - 499.5f;
    cnnc_tensor *y = cnnc_add(x, b);
    REQUIRE(y);
    CHECK_OK(cnnc_backward(y, u, false));
    cnnc_tensor *gx = cnnc_tensor_grad(x);
    REQUIRE(gx && shape_is(gx, CNNC_SHAPE(3, n / 3)));
    const float *g = cnnc_tensor_data_f32(gx);
    CHECK(g != ud);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += g[i] != ud[i];
    CHECK_EQ_INT(bad, 0);
    ud[0] = 1e6f, ud[n - 1] = -1e6f;
    CHECK_NEAR(g[0], -499.5, 0);
    CHECK_NEAR(g[n - 1], (double)((n - 1) % 1000) - 499.5, 0);
    CHECK_NEAR(grad_data(b)[0], 0, 0); /* 600 rounds of -499.5 .. 499.5 */
    cnnc_tensor_release(y);
    cnnc_tensor_release(u);
    cnnc_tensor_release(x);
    cnnc_tensor_release(b);
    CHECK(cnnc_set_num_threads(threads) == CNNC_OK);
}

static void test_fan_out_grad(void) {
    /* y = x*x + x: dy/dx = 2x + 1 */
    cnnc_tensor *x = make(CNNC_SHAPE(4), (const float[]){-1, 0, 0.5f, 3}, true);
    REQUIRE(x);
    cnnc_tensor *xx = cnnc_mul(x, x);
    cnnc_tensor *y = xx ? cnnc_add(xx, x) : NULL;
    REQUIRE(y);
    CHECK_OK(backward_sum(y));
    const float want[4] = {-1, 1, 2, 7};
    CHECK_FLOATS_NEAR(grad_data(x), want, 4, 1e-6);
    cnnc_tensor_release(xx);
    cnnc_tensor_release(y);

    /* the same tensor twice as both operands: d(x*x)/dx = 2x */
    cnnc_tensor *x2 = make(CNNC_SHAPE(2), (const float[]){3, -2}, true);
    REQUIRE(x2);
    cnnc_tensor *sq = cnnc_mul(x2, x2);
    cnnc_tensor *s = sq ? cnnc_add(sq, sq) : NULL; /* 2x^2 -> 4x */
    REQUIRE(s);
    CHECK_OK(backward_sum(s));
    const float want2[2] = {12, -8};
    CHECK_FLOATS_NEAR(grad_data(x2), want2, 2, 1e-6);
    cnnc_tensor_release(sq);
    cnnc_tensor_release(s);
    cnnc_tensor_release(x);
    cnnc_tensor_release(x2);
}

static void test_broadcast_add_grad_reduces(void) {
    cnnc_tensor *a = ramp(CNNC_SHAPE(3, 1), 1, 1);
    cnnc_tensor *b = ramp(CNNC_SHAPE(1, 4), 10, 1);
    REQUIRE(a && b);
    cnnc_tensor *c = cnnc_add(a, b);
    REQUIRE(c);
    CHECK(shape_is(c, CNNC_SHAPE(3, 4)));
    CHECK_NEAR(cnnc_tensor_data_f32(c)[1 * 4 + 2], 2 + 12, 0); /* a[1] + b[2] */
    CHECK_OK(backward_sum(c));
    CHECK(shape_is(cnnc_tensor_grad(a), CNNC_SHAPE(3, 1)));
    CHECK(shape_is(cnnc_tensor_grad(b), CNNC_SHAPE(1, 4)));
    const float ga[3] = {4, 4, 4}, gb[4] = {3, 3, 3, 3};
    CHECK_FLOATS_NEAR(grad_data(a), ga, 3, 0);
    CHECK_FLOATS_NEAR(grad_data(b), gb, 4, 0);
    cnnc_tensor_release(c);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
}

static void test_broadcast_mul_grad_reduces(void) {
    /* c[i][j] = a[i] * b[j] (a [3,1], b [4]): da[i] = sum_j b[j], db[j] = sum_i a[i] */
    cnnc_tensor *a = make(CNNC_SHAPE(3, 1), (const float[]){1, 2, 3}, true);
    cnnc_tensor *b = make(CNNC_SHAPE(4), (const float[]){1, -1, 2, 0.5f}, true);
    REQUIRE(a && b);
    cnnc_tensor *c = cnnc_mul(a, b);
    REQUIRE(c);
    CHECK(shape_is(c, CNNC_SHAPE(3, 4)));
    CHECK_OK(backward_sum(c));
    const float ga[3] = {2.5f, 2.5f, 2.5f}, gb[4] = {6, 6, 6, 6};
    CHECK(shape_is(cnnc_tensor_grad(a), CNNC_SHAPE(3, 1)));
    CHECK(shape_is(cnnc_tensor_grad(b), CNNC_SHAPE(4)));
    CHECK_FLOATS_NEAR(grad_data(a), ga, 3, 1e-6);
    CHECK_FLOATS_NEAR(grad_data(b), gb, 4, 1e-6);
    cnnc_tensor_release(c);

    /* a 0-d operand broadcasts to everything */
    cnnc_tensor *s = make(0, NULL, (const float[]){2}, true);
    REQUIRE(s);
    cnnc_tensor *d = cnnc_mul(b, s);
    REQUIRE(d);
    CHECK_OK(backward_sum(d));
    CHECK_EQ_INT(cnnc_tensor_ndim(cnnc_tensor_grad(s)), 0);
    CHECK_NEAR(grad_data(s)[0], 2.5, 1e-6);
    cnnc_tensor_release(d);
    cnnc_tensor_release(s);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
}

static void test_broadcast_shape_error(void) {
    cnnc_tensor *a = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    cnnc_tensor *b = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    REQUIRE(a && b);
    CHECK_TENSOR_ERR(cnnc_add(a, b));
    CHECK_ERROR_CONTAINS("The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0");
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
}

/* ---- reductions and shape ops ------------------------------------------- */

static void test_sum_and_mean_grads(void) {
    cnnc_tensor *x = ramp(CNNC_SHAPE(2, 3), 0, 1);
    REQUIRE(x);
    cnnc_tensor *m = cnnc_mean(x);
    REQUIRE(m);
    CHECK_NEAR(item(m), 2.5, 1e-6);
    CHECK_OK(cnnc_backward(m, NULL, false));
    for (int i = 0; i < 6; i++) CHECK_NEAR(grad_data(x)[i], 1.0 / 6, 1e-7);
    cnnc_tensor_release(m);
    CHECK_OK(cnnc_tensor_set_grad(x, NULL));

    /* sum over dim 1 keepdim: [2,1]; backward with gradient g -> grad[i][j] = g[i] */
    cnnc_tensor *s = cnnc_sum_dims(x, 1, (const int[]){1}, true);
    REQUIRE(s);
    CHECK(shape_is(s, CNNC_SHAPE(2, 1)));
    CHECK_NEAR(cnnc_tensor_data_f32(s)[1], 12, 0);
    cnnc_tensor *g = make(CNNC_SHAPE(2, 1), (const float[]){2, -1}, false);
    REQUIRE(g);
    CHECK_OK(cnnc_backward(s, g, false));
    const float want_s[6] = {2, 2, 2, -1, -1, -1};
    CHECK_FLOATS_NEAR(grad_data(x), want_s, 6, 0);
    cnnc_tensor_release(s);
    cnnc_tensor_release(g);
    CHECK_OK(cnnc_tensor_set_grad(x, NULL));

    /* mean over dim -2 (no keepdim): [3]; grad = g[j] / 2 */
    cnnc_tensor *mm = cnnc_mean_dims(x, 1, (const int[]){-2}, false);
    REQUIRE(mm);
    CHECK(shape_is(mm, CNNC_SHAPE(3)));
    const float want_mm[3] = {1.5f, 2.5f, 3.5f};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(mm), want_mm, 3, 1e-6);
    g = make(CNNC_SHAPE(3), (const float[]){1, 2, 4}, false);
    REQUIRE(g);
    CHECK_OK(cnnc_backward(mm, g, false));
    const float want_m[6] = {0.5f, 1, 2, 0.5f, 1, 2};
    CHECK_FLOATS_NEAR(grad_data(x), want_m, 6, 1e-7);
    cnnc_tensor_release(mm);
    cnnc_tensor_release(g);
    CHECK_OK(cnnc_tensor_set_grad(x, NULL));

    /* ndims 0 reduces over everything, as dim=[] */
    cnnc_tensor *all = cnnc_sum_dims(x, 0, (const int[]){0}, false);
    REQUIRE(all);
    CHECK_EQ_INT(cnnc_tensor_ndim(all), 0);
    CHECK_NEAR(item(all), 15, 0);
    cnnc_tensor_release(all);

    /* bad dims */
    CHECK_TENSOR_ERR(cnnc_sum_dims(x, 1, (const int[]){2}, false));
    CHECK_ERROR_CONTAINS("Dimension out of range");
    CHECK_TENSOR_ERR(cnnc_sum_dims(x, 2, (const int[]){1, -1}, false));
    CHECK_ERROR_CONTAINS("appears multiple times");
    CHECK_TENSOR_ERR(cnnc_mean_dims(x, 1, (const int[]){-3}, false));
    cnnc_tensor_release(x);
}

static void test_reshape_grad(void) {
    cnnc_tensor *x = ramp(CNNC_SHAPE(2, 3), 0, 1);
    REQUIRE(x);
    cnnc_tensor *r = cnnc_reshape(x, CNNC_SHAPE(3, 2));
    REQUIRE(r);
    CHECK(cnnc_tensor_grad_fn_name(r) != NULL);
    const float gd[6] = {1, 2, 3, 4, 5, 6};
    cnnc_tensor *g = make(CNNC_SHAPE(3, 2), gd, false);
    REQUIRE(g);
    CHECK_OK(cnnc_backward(r, g, false));
    CHECK(shape_is(cnnc_tensor_grad(x), CNNC_SHAPE(2, 3)));
    CHECK_FLOATS_NEAR(grad_data(x), gd, 6, 0);
    cnnc_tensor_release(r);
    cnnc_tensor_release(g);

    /* view and flatten too */
    CHECK_OK(cnnc_tensor_set_grad(x, NULL));
    cnnc_tensor *v = cnnc_view(x, CNNC_SHAPE(6));
    cnnc_tensor *f = cnnc_flatten(x, 0, 1);
    REQUIRE(v && f);
    cnnc_tensor *vf = cnnc_mul(v, f); /* x^2 flattened -> 2x */
    REQUIRE(vf);
    CHECK_OK(backward_sum(vf));
    const float want[6] = {0, 2, 4, 6, 8, 10};
    CHECK_FLOATS_NEAR(grad_data(x), want, 6, 0);
    cnnc_tensor_release(vf);
    cnnc_tensor_release(v);
    cnnc_tensor_release(f);
    cnnc_tensor_release(x);
}

static void test_transpose_grad(void) {
    cnnc_tensor *x = ramp(CNNC_SHAPE(2, 3), 0, 1);
    REQUIRE(x);
    cnnc_tensor *t = cnnc_transpose(x, 0, -1);
    REQUIRE(t);
    CHECK(shape_is(t, CNNC_SHAPE(3, 2)));
    const float tv[6] = {0, 3, 1, 4, 2, 5};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(t), tv, 6, 0);
    cnnc_tensor *g = make(CNNC_SHAPE(3, 2), (const float[]){1, 2, 3, 4, 5, 6}, false);
    REQUIRE(g);
    CHECK_OK(cnnc_backward(t, g, false));
    const float want[6] = {1, 3, 5, 2, 4, 6}; /* g^T */
    CHECK_FLOATS_NEAR(grad_data(x), want, 6, 0);
    cnnc_tensor_release(t);
    cnnc_tensor_release(g);
    CHECK_TENSOR_ERR(cnnc_transpose(x, 0, 2));
    cnnc_tensor_release(x);
}

static void test_permute_grad(void) {
    /* x [2,3,4], y = x.permute(2, 0, 1) [4,2,3]: y[k][i][j] = x[i][j][k] */
    cnnc_tensor *x = ramp(CNNC_SHAPE(2, 3, 4), 0, 1);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_permute(x, 3, (const int[]){2, 0, 1});
    REQUIRE(y);
    CHECK(shape_is(y, CNNC_SHAPE(4, 2, 3)));
    const float *yd = cnnc_tensor_data_f32(y);
    int ok = 1;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                if (yd[(k * 2 + i) * 3 + j] != (float)((i * 3 + j) * 4 + k)) ok = 0;
    CHECK(ok);
    float gd[24];
    for (int i = 0; i < 24; i++) gd[i] = (float)(100 + i);
    cnnc_tensor *g = make(CNNC_SHAPE(4, 2, 3), gd, false);
    REQUIRE(g);
    CHECK_OK(cnnc_backward(y, g, false));
    const float *xg = grad_data(x);
    REQUIRE(xg);
    ok = 1;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                if (xg[(i * 3 + j) * 4 + k] != gd[(k * 2 + i) * 3 + j]) ok = 0;
    CHECK(ok);
    cnnc_tensor_release(y);
    cnnc_tensor_release(g);
    CHECK_TENSOR_ERR(cnnc_permute(x, 3, (const int[]){0, 0, 1}));
    CHECK_TENSOR_ERR(cnnc_permute(x, 2, (const int[]){0, 1}));
    CHECK_TENSOR_ERR(cnnc_permute(x, 3, (const int[]){0, 1, 3}));
    cnnc_tensor_release(x);
}

static void test_cat_grad(void) {
    cnnc_tensor *a = ramp(CNNC_SHAPE(2, 2), 0, 1);
    cnnc_tensor *b = ramp(CNNC_SHAPE(2, 3), 10, 1);
    REQUIRE(a && b);
    cnnc_tensor *c = cnnc_cat(2, (cnnc_tensor *[]){a, b}, -1);
    REQUIRE(c);
    CHECK(shape_is(c, CNNC_SHAPE(2, 5)));
    const float cv[10] = {0, 1, 10, 11, 12, 2, 3, 13, 14, 15};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(c), cv, 10, 0);
    float gd[10];
    for (int i = 0; i < 10; i++) gd[i] = (float)i;
    cnnc_tensor *g = make(CNNC_SHAPE(2, 5), gd, false);
    REQUIRE(g);
    CHECK_OK(cnnc_backward(c, g, false));
    const float ga[4] = {0, 1, 5, 6}, gb[6] = {2, 3, 4, 7, 8, 9};
    CHECK_FLOATS_NEAR(grad_data(a), ga, 4, 0);
    CHECK_FLOATS_NEAR(grad_data(b), gb, 6, 0);
    cnnc_tensor_release(c);
    cnnc_tensor_release(g);

    /* dim 0, one input without grad */
    cnnc_tensor *k = cnnc_ones(CNNC_SHAPE(1, 2), CNNC_FLOAT32);
    REQUIRE(k);
    CHECK_OK(cnnc_tensor_set_grad(a, NULL));
    cnnc_tensor *d = cnnc_cat(3, (cnnc_tensor *[]){k, a, a}, 0);
    REQUIRE(d);
    CHECK(shape_is(d, CNNC_SHAPE(5, 2)));
    CHECK_OK(backward_sum(d));
    const float ga2[4] = {2, 2, 2, 2};
    CHECK_FLOATS_NEAR(grad_data(a), ga2, 4, 0);
    CHECK(cnnc_tensor_grad(k) == NULL);
    cnnc_tensor_release(d);

    CHECK_TENSOR_ERR(cnnc_cat(2, (cnnc_tensor *[]){a, b}, 0));
    CHECK_ERROR_CONTAINS("Sizes of tensors must match except in dimension 0");
    CHECK_TENSOR_ERR(cnnc_cat(2, (cnnc_tensor *[]){a, b}, 2));
    cnnc_tensor *i64 = cnnc_zeros(CNNC_SHAPE(2, 2), CNNC_INT64);
    REQUIRE(i64);
    CHECK_TENSOR_ERR(cnnc_cat(2, (cnnc_tensor *[]){a, i64}, 0));
    cnnc_tensor_release(i64);
    cnnc_tensor_release(k);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
}

static void test_matmul_grad_2d(void) {
    /* C = A B, A [2,3], B [3,4]; dA = G B^T, dB = A^T G */
    float ad[6], bd[12], gd[8];
    for (int i = 0; i < 6; i++) ad[i] = (float)(i - 2) * 0.5f;
    for (int i = 0; i < 12; i++) bd[i] = (float)((i * 7) % 5) - 2.0f;
    for (int i = 0; i < 8; i++) gd[i] = (float)(i % 3) + 0.25f;
    cnnc_tensor *a = make(CNNC_SHAPE(2, 3), ad, true);
    cnnc_tensor *b = make(CNNC_SHAPE(3, 4), bd, true);
    cnnc_tensor *g = make(CNNC_SHAPE(2, 4), gd, false);
    REQUIRE(a && b && g);
    cnnc_tensor *c = cnnc_matmul(a, b);
    REQUIRE(c);
    CHECK(shape_is(c, CNNC_SHAPE(2, 4)));
    float cw[8], gaw[6], gbw[12];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += (double)ad[i * 3 + k] * bd[k * 4 + j];
            cw[i * 4 + j] = (float)s;
        }
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++) {
            double s = 0;
            for (int j = 0; j < 4; j++) s += (double)gd[i * 4 + j] * bd[k * 4 + j];
            gaw[i * 3 + k] = (float)s;
        }
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int i = 0; i < 2; i++) s += (double)ad[i * 3 + k] * gd[i * 4 + j];
            gbw[k * 4 + j] = (float)s;
        }
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(c), cw, 8, 1e-5);
    CHECK_OK(cnnc_backward(c, g, false));
    CHECK(shape_is(cnnc_tensor_grad(a), CNNC_SHAPE(2, 3)));
    CHECK(shape_is(cnnc_tensor_grad(b), CNNC_SHAPE(3, 4)));
    CHECK_FLOATS_NEAR(grad_data(a), gaw, 6, 1e-5);
    CHECK_FLOATS_NEAR(grad_data(b), gbw, 12, 1e-5);
    cnnc_tensor_release(c);

    cnnc_tensor *bad = cnnc_matmul(a, a);
    CHECK(bad == NULL);
    cnnc_tensor_release(bad);
    CHECK_ERROR_CONTAINS("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)");
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(g);
}

static cnnc_tensor *f_matmul(cnnc_tensor **x) { return cnnc_matmul(x[0], x[1]); }

static void test_matmul_grad_batched_broadcast_fd(void) {
    /* [2,1,2,3] @ [3,3,2] -> [2,3,2,2]: b's grad sums over the broadcast batch */
    cnnc_manual_seed(5);
    cnnc_tensor *x[2] = {cnnc_randn(CNNC_SHAPE(2, 1, 2, 3)), cnnc_randn(CNNC_SHAPE(3, 3, 2))};
    REQUIRE(x[0] && x[1]);
    CHECK_OK(cnnc_tensor_set_requires_grad(x[0], true));
    CHECK_OK(cnnc_tensor_set_requires_grad(x[1], true));
    cnnc_tensor *y = f_matmul(x);
    CHECK(shape_is(y, CNNC_SHAPE(2, 3, 2, 2)));
    cnnc_tensor_release(y);
    check_gradients_fd("batched matmul", f_matmul, 2, x, 1e-2, 2e-3);
    CHECK(shape_is(cnnc_tensor_grad(x[0]), CNNC_SHAPE(2, 1, 2, 3)));
    CHECK(shape_is(cnnc_tensor_grad(x[1]), CNNC_SHAPE(3, 3, 2)));
    cnnc_tensor_release(x[0]);
    cnnc_tensor_release(x[1]);
}

static void test_matmul_grad_1d_fd(void) {
    cnnc_manual_seed(6);
    /* vector @ matrix, matrix @ vector, vector @ vector */
    const int64_t shapes[3][2][2] = {{{3, 0}, {3, 4}}, {{4, 3}, {3, 0}}, {{5, 0}, {5, 0}}};
    const int nd[3][2] = {{1, 2}, {2, 1}, {1, 1}};
    const int out_nd[3] = {1, 1, 0};
    for (int c = 0; c < 3; c++) {
        cnnc_tensor *x[2] = {cnnc_randn(nd[c][0], shapes[c][0]), cnnc_randn(nd[c][1], shapes[c][1])};
        REQUIRE(x[0] && x[1]);
        CHECK_OK(cnnc_tensor_set_requires_grad(x[0], true));
        CHECK_OK(cnnc_tensor_set_requires_grad(x[1], true));
        cnnc_tensor *y = f_matmul(x);
        CHECK(y && cnnc_tensor_ndim(y) == out_nd[c]);
        cnnc_tensor_release(y);
        check_gradients_fd("1-d matmul", f_matmul, 2, x, 1e-2, 2e-3);
        cnnc_tensor_release(x[0]);
        cnnc_tensor_release(x[1]);
    }
}

static cnnc_tensor *f_arith(cnnc_tensor **x) {
    /* (a - b) / (b*b + 1) * -a + a*3 + 0.5 */
    cnnc_tensor *d = cnnc_sub(x[0], x[1]);
    cnnc_tensor *bb = cnnc_mul(x[1], x[1]);
    cnnc_tensor *den = bb ? cnnc_add_scalar(bb, 1) : NULL;
    cnnc_tensor *q = d && den ? cnnc_div(d, den) : NULL;
    cnnc_tensor *na = cnnc_neg(x[0]);
    cnnc_tensor *p = q && na ? cnnc_mul(q, na) : NULL;
    cnnc_tensor *a3 = cnnc_mul_scalar(x[0], 3);
    cnnc_tensor *s = p && a3 ? cnnc_add(p, a3) : NULL;
    cnnc_tensor *out = s ? cnnc_add_scalar(s, 0.5) : NULL;
    cnnc_tensor *tmp[] = {d, bb, den, q, na, p, a3, s};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) cnnc_tensor_release(tmp[i]);
    return out;
}

static void test_elementwise_grads_fd(void) {
    cnnc_manual_seed(7);
    cnnc_tensor *x[2] = {cnnc_randn(CNNC_SHAPE(2, 3)), cnnc_randn(CNNC_SHAPE(3))};
    REQUIRE(x[0] && x[1]);
    CHECK_OK(cnnc_tensor_set_requires_grad(x[0], true));
    CHECK_OK(cnnc_tensor_set_requires_grad(x[1], true));
    check_gradients_fd("sub/div/neg/mul/add", f_arith, 2, x, 1e-3, 5e-3);
    cnnc_tensor_release(x[0]);
    cnnc_tensor_release(x[1]);
}

static cnnc_tensor *f_shapes(cnnc_tensor **x) {
    /* mean over dim 1 of cat([permute(x0), transpose(x1)]) reshaped, times itself */
    cnnc_tensor *p = cnnc_permute(x[0], 3, (const int[]){1, 2, 0}); /* [2,3,4] -> [3,4,2] */
    cnnc_tensor *t = cnnc_transpose(x[1], 0, 2);                      /* [2,4,3] -> [3,4,2] */
    cnnc_tensor *c = p && t ? cnnc_cat(2, (cnnc_tensor *[]){p, t}, 2) : NULL; /* [3,4,4] */
    cnnc_tensor *r = c ? cnnc_reshape(c, CNNC_SHAPE(12, -1)) : NULL;
    cnnc_tensor *m = r ? cnnc_mean_dims(r, 1, (const int[]){1}, true) : NULL; /* [12,1] */
    cnnc_tensor *out = m && r ? cnnc_mul(r, m) : NULL;
    cnnc_tensor *tmp[] = {p, t, c, r, m};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) cnnc_tensor_release(tmp[i]);
    return out;
}

static void test_shape_op_grads_fd(void) {
    cnnc_manual_seed(8);
    cnnc_tensor *x[2] = {cnnc_randn(CNNC_SHAPE(2, 3, 4)), cnnc_randn(CNNC_SHAPE(2, 4, 3))};
    REQUIRE(x[0] && x[1]);
    CHECK_OK(cnnc_tensor_set_requires_grad(x[0], true));
    CHECK_OK(cnnc_tensor_set_requires_grad(x[1], true));
    check_gradients_fd("permute/transpose/cat/reshape/mean", f_shapes, 2, x, 1e-2, 2e-3);
    cnnc_tensor_release(x[0]);
    cnnc_tensor_release(x[1]);
}

static cnnc_tensor *f_linear(cnnc_tensor **x) { return cnnc_linear(x[0], x[1], x[2]); }
static cnnc_tensor *f_linear_nobias(cnnc_tensor **x) { return cnnc_linear(x[0], x[1], NULL); }

static void test_linear_grad(void) {
    /* hand-computed: y = x W^T + b with x [1,2], W [2,2] */
    cnnc_tensor *x = make(CNNC_SHAPE(1, 2), (const float[]){1, 2}, true);
    cnnc_tensor *w = make(CNNC_SHAPE(2, 2), (const float[]){1, 0, -1, 3}, true);
    cnnc_tensor *b = make(CNNC_SHAPE(2), (const float[]){0.5f, -0.5f}, true);
    REQUIRE(x && w && b);
    cnnc_tensor *y = cnnc_linear(x, w, b);
    REQUIRE(y);
    const float yw[2] = {1.5f, 4.5f};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), yw, 2, 1e-6);
    cnnc_tensor *g = make(CNNC_SHAPE(1, 2), (const float[]){1, 2}, false);
    REQUIRE(g);
    CHECK_OK(cnnc_backward(y, g, false));
    const float gx[2] = {-1, 6}, gw[4] = {1, 2, 2, 4}, gb[2] = {1, 2};
    CHECK_FLOATS_NEAR(grad_data(x), gx, 2, 1e-6);
    CHECK_FLOATS_NEAR(grad_data(w), gw, 4, 1e-6);
    CHECK_FLOATS_NEAR(grad_data(b), gb, 2, 1e-6);
    cnnc_tensor_release(y);
    cnnc_tensor_release(g);
    cnnc_tensor_release(x);
    cnnc_tensor_release(w);
    cnnc_tensor_release(b);

    /* finite differences on a 3-d input, with and without bias */
    cnnc_manual_seed(9);
    cnnc_tensor *xs[3] = {cnnc_randn(CNNC_SHAPE(2, 3, 4)), cnnc_randn(CNNC_SHAPE(5, 4)),
                          cnnc_randn(CNNC_SHAPE(5))};
    REQUIRE(xs[0] && xs[1] && xs[2]);
    for (int i = 0; i < 3; i++) CHECK_OK(cnnc_tensor_set_requires_grad(xs[i], true));
    check_gradients_fd("linear", f_linear, 3, xs, 1e-2, 2e-3);
    for (int i = 0; i < 3; i++) CHECK_OK(cnnc_tensor_set_grad(xs[i], NULL));
    check_gradients_fd("linear without bias", f_linear_nobias, 2, xs, 1e-2, 2e-3);
    for (int i = 0; i < 3; i++) cnnc_tensor_release(xs[i]);
}

static void test_relu_grad(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(5), (const float[]){-2, -0.5f, 0, 0.5f, 3}, true);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_relu(x);
    REQUIRE(y);
    const float yv[5] = {0, 0, 0, 0.5f, 3};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), yv, 5, 0);
    CHECK_OK(backward_sum(y));
    const float gw[5] = {0, 0, 0, 1, 1}; /* PyTorch: relu'(0) = 0 */
    CHECK_FLOATS_NEAR(grad_data(x), gw, 5, 0);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
}

static void test_inplace_relu_on_nonleaf_grad(void) {
    /* y = x * 2; relu_(y): y's grad_fn becomes ReluBackward0 and grads flow */
    cnnc_tensor *x = make(CNNC_SHAPE(4), (const float[]){-1, 1, -2, 2}, true);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_mul_scalar(x, 2);
    REQUIRE(y);
    uint64_t v = cnnc_tensor_version(y);
    CHECK_OK(cnnc_relu_(y));
    CHECK(cnnc_tensor_version(y) == v + 1);
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(y), "ReluBackward0");
    const float yv[4] = {0, 2, 0, 4};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), yv, 4, 0);
    CHECK_OK(backward_sum(y));
    const float gw[4] = {0, 2, 0, 2};
    CHECK_FLOATS_NEAR(grad_data(x), gw, 4, 0);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
}

static void test_detach_stops_gradient(void) {
    /* y = detach(x * 3) * x: dy/dx = 3x (the detached factor is a constant) */
    cnnc_tensor *x = make(CNNC_SHAPE(2), (const float[]){1, -2}, true);
    REQUIRE(x);
    cnnc_tensor *x3 = cnnc_mul_scalar(x, 3);
    cnnc_tensor *d = x3 ? cnnc_tensor_detach(x3) : NULL;
    cnnc_tensor *y = d ? cnnc_mul(d, x) : NULL;
    REQUIRE(y);
    CHECK(!cnnc_tensor_requires_grad(d));
    CHECK(cnnc_tensor_grad_fn_name(d) == NULL);
    CHECK_OK(backward_sum(y));
    const float gw[2] = {3, -6};
    CHECK_FLOATS_NEAR(grad_data(x), gw, 2, 0);
    cnnc_tensor_release(x3);
    cnnc_tensor_release(d);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
}

static void test_clone_grad(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(2), (const float[]){1, 2}, true);
    REQUIRE(x);
    cnnc_tensor *c = cnnc_tensor_clone(x);
    REQUIRE(c);
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(c), "CloneBackward0");
    cnnc_tensor *y = cnnc_mul(c, c);
    REQUIRE(y);
    CHECK_OK(backward_sum(y));
    const float gw[2] = {2, 4};
    CHECK_FLOATS_NEAR(grad_data(x), gw, 2, 0);
    cnnc_tensor_release(y);
    cnnc_tensor_release(c);
    cnnc_tensor_release(x);
}

/* ---- backward: arguments and errors -------------------------------------- */

static void test_backward_explicit_gradient(void) {
    cnnc_tensor *x = ramp(CNNC_SHAPE(2, 2), 1, 1);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_mul_scalar(x, 3);
    cnnc_tensor *g = make(CNNC_SHAPE(2, 2), (const float[]){1, 0, -1, 0.5f}, false);
    REQUIRE(y && g);
    CHECK_OK(cnnc_backward(y, g, false));
    const float want[4] = {3, 0, -3, 1.5f};
    CHECK_FLOATS_NEAR(grad_data(x), want, 4, 0);
    const float gv[4] = {1, 0, -1, 0.5f};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(g), gv, 4, 0); /* gradient not modified */
    cnnc_tensor_release(y);
    cnnc_tensor_release(g);

    /* one-element non-scalar output: gradient may be NULL */
    CHECK_OK(cnnc_tensor_set_grad(x, NULL));
    cnnc_tensor *s = cnnc_sum_dims(x, 2, (const int[]){0, 1}, true); /* [1,1] */
    REQUIRE(s);
    CHECK_OK(cnnc_backward(s, NULL, false));
    const float ones[4] = {1, 1, 1, 1};
    CHECK_FLOATS_NEAR(grad_data(x), ones, 4, 0);
    cnnc_tensor_release(s);

    /* backward on the leaf itself */
    CHECK_OK(cnnc_tensor_set_grad(x, NULL));
    g = make(CNNC_SHAPE(2, 2), (const float[]){4, 3, 2, 1}, false);
    REQUIRE(g);
    CHECK_OK(cnnc_backward(x, g, false));
    CHECK_FLOATS_NEAR(grad_data(x), cnnc_tensor_data_f32(g), 4, 0);
    cnnc_tensor_release(g);
    cnnc_tensor_release(x);
}

static void test_backward_nonscalar_without_gradient_is_an_error(void) {
    cnnc_tensor *x = ramp(CNNC_SHAPE(3), 1, 1);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_mul_scalar(x, 2);
    REQUIRE(y);
    CHECK_ERR(cnnc_backward(y, NULL, false));
    CHECK_ERROR_CONTAINS("grad can be implicitly created only for scalar outputs");
    CHECK(cnnc_tensor_grad(x) == NULL);
    /* the graph was not consumed by the failed call */
    CHECK_OK(backward_sum(y));
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
}

static void test_backward_gradient_shape_mismatch_is_an_error(void) {
    cnnc_tensor *x = ramp(CNNC_SHAPE(2, 2), 1, 1);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_mul_scalar(x, 2);
    cnnc_tensor *g = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    cnnc_tensor *gi = cnnc_ones(CNNC_SHAPE(2, 2), CNNC_INT64);
    REQUIRE(y && g && gi);
    CHECK_ERR(cnnc_backward(y, g, false));
    CHECK_ERROR_CONTAINS("Mismatch in shape");
    CHECK_ERR(cnnc_backward(y, gi, false));
    CHECK(cnnc_tensor_grad(x) == NULL);
    cnnc_tensor_release(y);
    cnnc_tensor_release(g);
    cnnc_tensor_release(gi);
    cnnc_tensor_release(x);
}

static void test_backward_without_grad_is_an_error(void) {
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    REQUIRE(x);
    cnnc_tensor *s = cnnc_sum(x);
    REQUIRE(s);
    CHECK_ERR(cnnc_backward(s, NULL, false));
    CHECK_ERROR_CONTAINS("element 0 of tensors does not require grad and does not have a grad_fn");
    cnnc_tensor_release(s);
    cnnc_tensor_release(x);
}

static void test_backward_twice_needs_retain_graph(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(2), (const float[]){1, 2}, true);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_mul(x, x);
    cnnc_tensor *s = y ? cnnc_sum(y) : NULL;
    REQUIRE(s);
    CHECK_OK(cnnc_backward(s, NULL, true));
    CHECK_OK(cnnc_backward(s, NULL, false)); /* retained: works, accumulates */
    const float want[2] = {4, 8};
    CHECK_FLOATS_NEAR(grad_data(x), want, 2, 0);
    CHECK_ERR(cnnc_backward(s, NULL, false)); /* freed now */
    CHECK_ERROR_CONTAINS("Trying to backward through the graph a second time");
    CHECK_ERR(cnnc_backward(s, NULL, true));
    CHECK_FLOATS_NEAR(grad_data(x), want, 2, 0); /* untouched by the failures */
    cnnc_tensor_release(s);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
}

/* ---- grad mode and in-place rules --------------------------------------- */

static void test_no_grad_mode(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(3), (const float[]){1, -2, 3}, true);
    REQUIRE(x);
    bool old = cnnc_set_grad_enabled(false);
    CHECK(old == true);
    CHECK(!cnnc_is_grad_enabled());
    cnnc_tensor *y = cnnc_mul_scalar(x, 2);
    cnnc_tensor *z = y ? cnnc_relu(y) : NULL;
    cnnc_tensor *w = cnnc_matmul(x, x);
    REQUIRE(y && z && w);
    CHECK(!cnnc_tensor_requires_grad(y));
    CHECK(!cnnc_tensor_requires_grad(z));
    CHECK(!cnnc_tensor_requires_grad(w));
    CHECK(cnnc_tensor_grad_fn_name(y) == NULL);
    CHECK(cnnc_tensor_grad_fn_name(z) == NULL);
    CHECK(cnnc_tensor_is_leaf(y));
    CHECK_NEAR(item(w), 14, 0);
    /* in-place on a leaf that requires grad is allowed without grad mode */
    CHECK_OK(cnnc_tensor_fill_(x, 2.0));
    CHECK_OK(cnnc_relu_(x));
    CHECK(cnnc_set_grad_enabled(old) == false);
    CHECK(cnnc_is_grad_enabled());
    CHECK_ERR(backward_sum(z));

    cnnc_tensor *u = cnnc_mul_scalar(x, 2);
    REQUIRE(u);
    CHECK(cnnc_tensor_requires_grad(u));
    CHECK_OK(backward_sum(u));
    const float want[3] = {2, 2, 2};
    CHECK_FLOATS_NEAR(grad_data(x), want, 3, 0);
    cnnc_tensor_release(u);
    cnnc_tensor_release(y);
    cnnc_tensor_release(z);
    cnnc_tensor_release(w);
    cnnc_tensor_release(x);
}

static void test_inplace_on_saved_tensor_fails_backward(void) {
    /* b = a*2; c = b*b saves b; relu_(b) bumps b's version; backward must fail */
    cnnc_tensor *a = make(CNNC_SHAPE(3), (const float[]){1, 2, 3}, true);
    REQUIRE(a);
    cnnc_tensor *b = cnnc_mul_scalar(a, 2);
    cnnc_tensor *c = b ? cnnc_mul(b, b) : NULL;
    REQUIRE(c);
    CHECK_EQ_INT(cnnc_tensor_version(b), 0);
    CHECK_OK(cnnc_relu_(b));
    CHECK_EQ_INT(cnnc_tensor_version(b), 1);
    CHECK_ERR(backward_sum(c));
    CHECK_ERROR_CONTAINS("modified by an inplace operation");
    CHECK(cnnc_tensor_grad(a) == NULL);
    cnnc_tensor_release(c);
    cnnc_tensor_release(b);

    /* the same through fill_ on a view of the saved tensor */
    cnnc_tensor *d = cnnc_mul_scalar(a, 1);
    cnnc_tensor *e = d ? cnnc_mul(d, a) : NULL;
    cnnc_tensor *dv = d ? cnnc_tensor_detach(d) : NULL;
    REQUIRE(e && dv);
    CHECK_OK(cnnc_tensor_fill_(dv, 5.0));
    CHECK_ERR(backward_sum(e));
    CHECK_ERROR_CONTAINS("modified by an inplace operation");
    cnnc_tensor_release(dv);
    cnnc_tensor_release(e);
    cnnc_tensor_release(d);

    /* an in-place change to a tensor no node saved is fine (add saves nothing) */
    cnnc_tensor *f = cnnc_mul_scalar(a, 1);
    cnnc_tensor *h = f ? cnnc_add(f, a) : NULL;
    REQUIRE(h);
    CHECK_OK(cnnc_relu_(f));
    CHECK_OK(backward_sum(h));
    const float want[3] = {2, 2, 2};
    CHECK_FLOATS_NEAR(grad_data(a), want, 3, 0);
    cnnc_tensor_release(f);
    cnnc_tensor_release(h);
    cnnc_tensor_release(a);
}

static void test_inplace_on_leaf_requiring_grad_is_refused(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(3), (const float[]){-1, 0, 1}, true);
    cnnc_tensor *src = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    REQUIRE(x && src);
    CHECK_ERR(cnnc_relu_(x));
    CHECK_ERROR_CONTAINS("a leaf Variable that requires grad is being used in an in-place operation.");
    CHECK_ERR(cnnc_tensor_fill_(x, 0));
    CHECK_ERR(cnnc_tensor_zero_(x));
    CHECK_ERR(cnnc_tensor_copy_(x, src));
    const float want[3] = {-1, 0, 1};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(x), want, 3, 0);
    CHECK_EQ_INT(cnnc_tensor_version(x), 0);
    cnnc_tensor_release(src);
    cnnc_tensor_release(x);
}

/* ---- names and printing ------------------------------------------------- */

#define CHECK_GRAD_FN(expr, name)                                  \
    do {                                                           \
        cnnc_tensor *gf_t = (expr);                                \
        CHECK(gf_t != NULL);                                       \
        if (gf_t) CHECK_STR_EQ(cnnc_tensor_grad_fn_name(gf_t), name); \
        cnnc_tensor_release(gf_t);                                 \
    } while (0)

#define CHECK_HAS_GRAD_FN(expr)                                                  \
    do {                                                                         \
        cnnc_tensor *gf_t = (expr);                                              \
        CHECK(gf_t != NULL);                                                     \
        if (gf_t) CHECK_CONTAINS(cnnc_tensor_grad_fn_name(gf_t), "Backward");     \
        cnnc_tensor_release(gf_t);                                               \
    } while (0)

static void test_grad_fn_names(void) {
    cnnc_tensor *m = ramp(CNNC_SHAPE(2, 3), 1, 1);
    cnnc_tensor *w = ramp(CNNC_SHAPE(4, 3), 1, 1);
    cnnc_tensor *b = ramp(CNNC_SHAPE(4), 1, 1);
    REQUIRE(m && w && b);
    CHECK(cnnc_tensor_grad_fn_name(m) == NULL); /* leaf */
    /* PyTorch 1.13's names */
    CHECK_GRAD_FN(cnnc_add(m, m), "AddBackward0");
    CHECK_GRAD_FN(cnnc_sub(m, m), "SubBackward0");
    CHECK_GRAD_FN(cnnc_mul(m, m), "MulBackward0");
    CHECK_GRAD_FN(cnnc_div(m, m), "DivBackward0");
    CHECK_GRAD_FN(cnnc_neg(m), "NegBackward0");
    CHECK_GRAD_FN(cnnc_add_scalar(m, 1), "AddBackward0");
    CHECK_GRAD_FN(cnnc_mul_scalar(m, 2), "MulBackward0");
    CHECK_GRAD_FN(cnnc_sum(m), "SumBackward0");
    CHECK_GRAD_FN(cnnc_sum_dims(m, 1, (const int[]){1}, false), "SumBackward1");
    CHECK_GRAD_FN(cnnc_mean(m), "MeanBackward0");
    CHECK_GRAD_FN(cnnc_mean_dims(m, 1, (const int[]){1}, false), "MeanBackward1");
    CHECK_GRAD_FN(cnnc_view(m, CNNC_SHAPE(6)), "ViewBackward0");
    CHECK_GRAD_FN(cnnc_transpose(m, 0, 1), "TransposeBackward0");
    CHECK_GRAD_FN(cnnc_permute(m, 2, (const int[]){1, 0}), "PermuteBackward0");
    CHECK_GRAD_FN(cnnc_cat(2, (cnnc_tensor *[]){m, m}, 0), "CatBackward0");
    CHECK_GRAD_FN(cnnc_relu(m), "ReluBackward0");
    CHECK_GRAD_FN(cnnc_tensor_clone(m), "CloneBackward0");
    CHECK_GRAD_FN(cnnc_linear(m, w, b), "AddmmBackward0");
    cnnc_tensor *mt = cnnc_transpose(w, 0, 1); /* [3,4] */
    REQUIRE(mt);
    CHECK_GRAD_FN(cnnc_matmul(m, mt), "MmBackward0");
    /* these differ between PyTorch versions and paths; any Backward name will do */
    CHECK_HAS_GRAD_FN(cnnc_reshape(m, CNNC_SHAPE(3, 2)));
    CHECK_HAS_GRAD_FN(cnnc_flatten(m, 0, -1));
    CHECK_HAS_GRAD_FN(cnnc_linear(m, w, NULL));
    CHECK_HAS_GRAD_FN(cnnc_matmul(b, b));
    cnnc_tensor_release(mt);
    cnnc_tensor_release(m);
    cnnc_tensor_release(w);
    cnnc_tensor_release(b);
}

static void test_nonleaf_has_no_grad(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(2), (const float[]){1, 2}, true);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_mul_scalar(x, 2);
    cnnc_tensor *z = y ? cnnc_mul(y, y) : NULL;
    REQUIRE(z);
    CHECK_OK(backward_sum(z));
    CHECK(cnnc_tensor_grad(y) == NULL); /* PyTorch keeps .grad only for leaves */
    CHECK(cnnc_tensor_grad(x) != NULL);
    cnnc_tensor_release(z);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
}

static void test_to_string_shows_grad_fn(void) {
    cnnc_tensor *x = make(0, NULL, (const float[]){2}, true);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_mul_scalar(x, 2);
    REQUIRE(y);
    char *s = cnnc_tensor_to_string(y);
    CHECK_STR_EQ(s, "tensor(4., grad_fn=<MulBackward0>)");
    cnnc_free(s);
    s = cnnc_tensor_to_string(x);
    CHECK_STR_EQ(s, "tensor(2., requires_grad=True)");
    cnnc_free(s);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
}

/* ---- graph lifetime ----------------------------------------------------- */

static void test_intermediates_released_before_backward(void) {
    /* the graph keeps what it needs: releasing every intermediate is fine */
    cnnc_tensor *x = make(CNNC_SHAPE(3), (const float[]){1, 2, 3}, true);
    REQUIRE(x);
    cnnc_tensor *a = cnnc_mul(x, x);
    cnnc_tensor *b = a ? cnnc_mul(a, x) : NULL; /* x^3 */
    cnnc_tensor *s = b ? cnnc_sum(b) : NULL;
    REQUIRE(s);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    CHECK_OK(cnnc_backward(s, NULL, false));
    const float want[3] = {3, 12, 27};
    CHECK_FLOATS_NEAR(grad_data(x), want, 3, 1e-5);
    cnnc_tensor_release(s);
    /* and the leaf may go before the graph */
    cnnc_tensor *y = cnnc_mul(x, x);
    REQUIRE(y);
    cnnc_tensor_release(x);
    CHECK(cnnc_tensor_requires_grad(y));
    cnnc_tensor_release(y);
}

#define CHAIN 100000

static void test_long_chain_backward_and_release(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(1), (const float[]){0.5f}, true);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_tensor_retain(x);
    for (int i = 0; i < CHAIN && y; i++) {
        cnnc_tensor *next = cnnc_add(y, x);
        cnnc_tensor_release(y);
        y = next;
    }
    REQUIRE(y);
    CHECK_NEAR(item(y), 0.5 * (CHAIN + 1), 1e-3 * CHAIN);
    CHECK_OK(cnnc_backward(y, NULL, false)); /* one element: gradient 1 */
    CHECK_NEAR(grad_data(x)[0], CHAIN + 1, 0);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
}

static void test_long_chain_release_without_backward(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(2), (const float[]){1, 2}, true);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_mul_scalar(x, 1);
    for (int i = 0; i < CHAIN && y; i++) {
        cnnc_tensor *next = cnnc_mul_scalar(y, 1.0);
        cnnc_tensor_release(y);
        y = next;
    }
    REQUIRE(y);
    cnnc_tensor_release(x);
    cnnc_tensor_release(y); /* the whole chain goes here: must not recurse deeply */
}

static void test_long_chain_with_retain_graph(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(1), (const float[]){1}, true);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_tensor_retain(x);
    for (int i = 0; i < CHAIN / 2 && y; i++) {
        cnnc_tensor *next = cnnc_relu(y);
        cnnc_tensor_release(y);
        y = next;
    }
    REQUIRE(y);
    CHECK_OK(cnnc_backward(y, NULL, true));
    CHECK_OK(cnnc_backward(y, NULL, false));
    CHECK_NEAR(grad_data(x)[0], 2, 0);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
}

/* ---- set_grad ------------------------------------------------------------ */

/* Issue 9 item 11: a .grad cycle (t.grad = g, g.grad = t, or a grad computed from t) is
 * refused, so both tensors are freed (LSan/valgrind check the releases below). */
static void test_set_grad_cycle_refused(void) {
    cnnc_tensor *t = make(CNNC_SHAPE(2), (const float[]){1, 2}, true);
    cnnc_tensor *g = make(CNNC_SHAPE(2), (const float[]){5, 6}, false);
    cnnc_tensor *h = make(CNNC_SHAPE(2), (const float[]){7, 8}, false);
    REQUIRE(t && g && h);
    CHECK_OK(cnnc_tensor_set_grad(t, g));
    CHECK_STATUS(cnnc_tensor_set_grad(g, t), CNNC_ERR_RUNTIME);
    CHECK_ERROR_CONTAINS("reference cycle");
    CHECK(cnnc_tensor_grad(g) == NULL);
    CHECK_OK(cnnc_tensor_set_grad(g, h)); /* a chain is fine: t -> g -> h */
    CHECK_STATUS(cnnc_tensor_set_grad(h, t), CNNC_ERR_RUNTIME); /* t -> g -> h -> t */
    CHECK_OK(cnnc_tensor_set_grad(h, NULL));
    /* a grad computed from t holds t through its graph */
    cnnc_tensor *y = cnnc_mul_scalar(t, 2);
    REQUIRE(y);
    CHECK_STATUS(cnnc_tensor_set_grad(t, y), CNNC_ERR_RUNTIME);
    cnnc_tensor *d = cnnc_tensor_detach(y);
    REQUIRE(d);
    CHECK_OK(cnnc_tensor_set_grad(t, d)); /* detached: no reference back */
    CHECK(cnnc_tensor_grad(t) == d);
    cnnc_tensor_release(d);
    cnnc_tensor_release(y);
    cnnc_tensor_release(h);
    cnnc_tensor_release(g);
    cnnc_tensor_release(t);
}

static void test_set_grad(void) {
    cnnc_tensor *x = make(CNNC_SHAPE(2), (const float[]){1, 2}, true);
    cnnc_tensor *g = make(CNNC_SHAPE(2), (const float[]){5, 6}, false);
    REQUIRE(x && g);
    CHECK_OK(cnnc_tensor_set_grad(x, g));
    cnnc_tensor_release(g); /* x holds its own reference */
    const float want[2] = {5, 6};
    CHECK_FLOATS_NEAR(grad_data(x), want, 2, 0);

    /* backward accumulates into the grad that was set */
    cnnc_tensor *y = cnnc_mul_scalar(x, 1);
    REQUIRE(y);
    CHECK_OK(backward_sum(y));
    const float want2[2] = {6, 7};
    CHECK_FLOATS_NEAR(grad_data(x), want2, 2, 0);
    cnnc_tensor_release(y);

    cnnc_tensor *wrong = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    cnnc_tensor *wrong_dt = cnnc_ones(CNNC_SHAPE(2), CNNC_INT64);
    REQUIRE(wrong && wrong_dt);
    CHECK_ERR(cnnc_tensor_set_grad(x, wrong));
    CHECK_ERR(cnnc_tensor_set_grad(x, wrong_dt));
    CHECK_FLOATS_NEAR(grad_data(x), want2, 2, 0); /* unchanged */
    cnnc_tensor_release(wrong);
    cnnc_tensor_release(wrong_dt);

    CHECK_OK(cnnc_tensor_set_grad(x, NULL));
    CHECK(cnnc_tensor_grad(x) == NULL);
    CHECK_OK(cnnc_tensor_set_grad(x, NULL));
    cnnc_tensor_release(x);
}

/* A backward that returns a gradient of the wrong shape is an internal error the
 * engine reports; it never broadcasts the gradient nor reads past it. */
static int64_t wrong_grad_shape[2];
static int wrong_grad_ndim;

static cnnc_status wrong_shape_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    (void)n;
    (void)g;
    gi[0] = cnnc__tensor_zeros(CNNC_FLOAT32, wrong_grad_ndim, wrong_grad_shape);
    return gi[0] ? CNNC_OK : cnnc_last_status();
}

/* out = a node over `input` (a leaf or not) with the wrong backward. */
static cnnc_tensor *wrong_node(cnnc_tensor *input) {
    cnnc_tensor *out = cnnc__tensor_zeros(CNNC_FLOAT32, 2, (const int64_t[]){2, 3});
    if (out && cnnc__record(out, "WrongBackward0", wrong_shape_backward, 1, &input, 0, NULL, 0,
                            NULL) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

static void test_wrong_gradient_shape_is_an_internal_error(void) {
    static const struct { int ndim; int64_t shape[2]; const char *got; } cases[] = {
        {1, {6}, "got float32 [6] but expected float32 of shape [2, 3]"},
        {2, {1, 3}, "got float32 [1, 3] but expected float32 of shape [2, 3]"}, /* broadcastable */
        {2, {3, 2}, "got float32 [3, 2] but expected float32 of shape [2, 3]"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        wrong_grad_ndim = cases[c].ndim;
        memcpy(wrong_grad_shape, cases[c].shape, sizeof wrong_grad_shape);
        for (int leaf = 0; leaf < 2; leaf++) {
            cnnc_tensor *x = ramp(CNNC_SHAPE(2, 3), 1.0f, 1.0f);
            cnnc_tensor *in = leaf ? cnnc_tensor_retain(x) : cnnc_mul_scalar(x, 2.0);
            cnnc_tensor *out = in ? wrong_node(in) : NULL;
            cnnc_tensor *seed = cnnc_ones(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
            REQUIRE(out && seed);
            CHECK_STATUS(cnnc_backward(out, seed, false), CNNC_ERR_RUNTIME);
            CHECK_ERROR_CONTAINS("Function WrongBackward0 returned an invalid gradient at index 0");
            CHECK_ERROR_CONTAINS(cases[c].got);
            CHECK(cnnc_tensor_grad(x) == NULL);
            cnnc_tensor_release(seed);
            cnnc_tensor_release(out);
            cnnc_tensor_release(in);
            cnnc_tensor_release(x);
        }
    }
}

int main(void) {
    RUN_TEST(test_requires_grad_rules);
    RUN_TEST(test_leaf_grad_accumulates_over_two_backwards);
    RUN_TEST(test_first_grad_is_a_copy_of_a_held_gradient);
    RUN_TEST(test_fan_out_grad);
    RUN_TEST(test_broadcast_add_grad_reduces);
    RUN_TEST(test_broadcast_mul_grad_reduces);
    RUN_TEST(test_broadcast_shape_error);
    RUN_TEST(test_sum_and_mean_grads);
    RUN_TEST(test_reshape_grad);
    RUN_TEST(test_transpose_grad);
    RUN_TEST(test_permute_grad);
    RUN_TEST(test_cat_grad);
    RUN_TEST(test_matmul_grad_2d);
    RUN_TEST(test_matmul_grad_batched_broadcast_fd);
    RUN_TEST(test_matmul_grad_1d_fd);
    RUN_TEST(test_elementwise_grads_fd);
    RUN_TEST(test_shape_op_grads_fd);
    RUN_TEST(test_linear_grad);
    RUN_TEST(test_relu_grad);
    RUN_TEST(test_inplace_relu_on_nonleaf_grad);
    RUN_TEST(test_detach_stops_gradient);
    RUN_TEST(test_clone_grad);
    RUN_TEST(test_backward_explicit_gradient);
    RUN_TEST(test_backward_nonscalar_without_gradient_is_an_error);
    RUN_TEST(test_backward_gradient_shape_mismatch_is_an_error);
    RUN_TEST(test_backward_without_grad_is_an_error);
    RUN_TEST(test_backward_twice_needs_retain_graph);
    RUN_TEST(test_no_grad_mode);
    RUN_TEST(test_inplace_on_saved_tensor_fails_backward);
    RUN_TEST(test_inplace_on_leaf_requiring_grad_is_refused);
    RUN_TEST(test_grad_fn_names);
    RUN_TEST(test_nonleaf_has_no_grad);
    RUN_TEST(test_to_string_shows_grad_fn);
    RUN_TEST(test_intermediates_released_before_backward);
    RUN_TEST(test_long_chain_backward_and_release);
    RUN_TEST(test_long_chain_release_without_backward);
    RUN_TEST(test_long_chain_with_retain_graph);
    RUN_TEST(test_set_grad);
    RUN_TEST(test_set_grad_cycle_refused);
    RUN_TEST(test_wrong_gradient_shape_is_an_internal_error);
    return check_summary();
}
