/* Modules: Linear, ReLU, Flatten, Identity, Sequential; train/eval, parameter and
 * state_dict names, load_state_dict, zero_grad, repr/vars text, attributes,
 * set_tensor, refcounts. Expected text and messages are PyTorch 1.13's. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

static int shape_is(const cnnc_tensor *t, int ndim, const int64_t *shape) {
    if (!t || cnnc_tensor_ndim(t) != ndim) return 0;
    const int64_t *s = cnnc_tensor_shape(t);
    for (int i = 0; i < ndim; i++)
        if (s[i] != shape[i]) return 0;
    return 1;
}

/* Borrowed tensor by dotted name, NULL if absent or None. */
static cnnc_tensor *get(cnnc_module *m, const char *name) {
    cnnc_tensor *t = NULL;
    if (cnnc_module_tensor(m, name, &t) != CNNC_OK) return NULL;
    return t;
}

#define CHECK_REPR(m, want)                \
    do {                                   \
        char *check_r = cnnc_module_repr(m); \
        CHECK_STR_EQ(check_r, want);       \
        cnnc_free(check_r);                \
    } while (0)

/* Checks the names of a list in order; frees the list. */
static void check_names_(const char *file, int line, cnnc_tensor_list *l, int n,
                         const char *const *names) {
    check_checks_run_++;
    if (!l) {
        check_fail_(file, line, "list is NULL");
        return;
    }
    if ((int)cnnc_tensor_list_size(l) != n) {
        check_fail_(file, line, "list has %d entries, expected %d", (int)cnnc_tensor_list_size(l), n);
    } else {
        for (int i = 0; i < n; i++) {
            const char *got = cnnc_tensor_list_name(l, (size_t)i);
            if (!got || strcmp(got, names[i]) != 0) {
                check_fail_(file, line, "entry %d is \"%s\", expected \"%s\"", i,
                            got ? got : "(null)", names[i]);
                break;
            }
        }
    }
    cnnc_tensor_list_free(l);
}
#define CHECK_NO_NAMES(list) check_names_(__FILE__, __LINE__, (list), 0, NULL)
#define CHECK_NAMES(list, ...)                                                          \
    check_names_(__FILE__, __LINE__, (list),                                            \
                 (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),   \
                 (const char *[]){__VA_ARGS__})

/* Sequential(Linear(2,3), ReLU(), Sequential(Linear(3,4), ReLU(inplace=True))) */
static cnnc_module *make_nested(void) {
    cnnc_module *inner = cnnc_sequential_new(2, (cnnc_module *[]){
        cnnc_linear_new(3, 4, CNNC_LINEAR()), cnnc_relu_new(CNNC_RELU(.inplace = true))});
    if (!inner) return NULL;
    return cnnc_sequential_new(3, (cnnc_module *[]){
        cnnc_linear_new(2, 3, CNNC_LINEAR()), cnnc_relu_new(CNNC_RELU()), inner});
}

/* ---- Linear -------------------------------------------------------------- */

static void test_linear_parameters_and_init(void) {
    cnnc_manual_seed(0);
    cnnc_module *l = cnnc_linear_new(3, 4, CNNC_LINEAR());
    REQUIRE(l);
    CHECK_STR_EQ(cnnc_module_type(l), "Linear");
    cnnc_tensor *w = get(l, "weight"), *b = get(l, "bias");
    REQUIRE(w && b);
    CHECK(shape_is(w, CNNC_SHAPE(4, 3)));
    CHECK(shape_is(b, CNNC_SHAPE(4)));
    CHECK(cnnc_tensor_requires_grad(w));
    CHECK(cnnc_tensor_requires_grad(b));
    CHECK(cnnc_tensor_is_leaf(w));
    CHECK(cnnc_tensor_grad(w) == NULL);
    cnnc_module_release(l);

    /* U(-1/sqrt(in), 1/sqrt(in)) for both, filling the range */
    l = cnnc_linear_new(100, 50, CNNC_LINEAR());
    REQUIRE(l);
    w = get(l, "weight");
    b = get(l, "bias");
    REQUIRE(w && b);
    const float bound = 0.1f;
    const float *wd = cnnc_tensor_data_f32(w), *bd = cnnc_tensor_data_f32(b);
    float wmin = 1, wmax = -1, bmin = 1, bmax = -1;
    double wsum = 0;
    for (int i = 0; i < 5000; i++) {
        wmin = fminf(wmin, wd[i]);
        wmax = fmaxf(wmax, wd[i]);
        wsum += wd[i];
    }
    for (int i = 0; i < 50; i++) {
        bmin = fminf(bmin, bd[i]);
        bmax = fmaxf(bmax, bd[i]);
    }
    CHECK(wmin >= -bound && wmax <= bound);
    CHECK(bmin >= -bound && bmax <= bound);
    CHECK(wmin < -0.095f && wmax > 0.095f);
    CHECK(bmin < -0.05f && bmax > 0.05f);
    CHECK_NEAR(wsum / 5000, 0.0, 0.005);
    cnnc_module_release(l);

    /* manual_seed makes initialisation reproducible */
    cnnc_manual_seed(3);
    cnnc_module *a = cnnc_linear_new(5, 6, CNNC_LINEAR());
    cnnc_manual_seed(3);
    cnnc_module *c = cnnc_linear_new(5, 6, CNNC_LINEAR());
    REQUIRE(a && c);
    CHECK(memcmp(cnnc_tensor_data_f32(get(a, "weight")), cnnc_tensor_data_f32(get(c, "weight")),
                 30 * sizeof(float)) == 0);
    CHECK(memcmp(cnnc_tensor_data_f32(get(a, "bias")), cnnc_tensor_data_f32(get(c, "bias")),
                 6 * sizeof(float)) == 0);
    cnnc_module_release(a);
    cnnc_module_release(c);
}

static void test_linear_without_bias(void) {
    cnnc_module *l = cnnc_linear_new(3, 2, CNNC_LINEAR(.bias = false));
    REQUIRE(l);
    cnnc_tensor *b = (cnnc_tensor *)1;
    CHECK_OK(cnnc_module_tensor(l, "bias", &b));
    CHECK(b == NULL); /* None */
    CHECK(get(l, "weight") != NULL);
    CHECK_NAMES(cnnc_module_named_parameters(l), "weight");
    CHECK_NAMES(cnnc_module_state_dict(l), "weight");
    CHECK_REPR(l, "Linear(in_features=3, out_features=2, bias=False)");
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_module_forward(l, x);
    REQUIRE(y);
    /* y = x W^T: each row is the row sums of W */
    const float *w = cnnc_tensor_data_f32(get(l, "weight"));
    const float want[4] = {w[0] + w[1] + w[2], w[3] + w[4] + w[5], w[0] + w[1] + w[2],
                           w[3] + w[4] + w[5]};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), want, 4, 1e-6);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
    cnnc_module_release(l);
}

static void test_linear_forward_shapes_and_values(void) {
    cnnc_module *l = cnnc_linear_new(3, 2, CNNC_LINEAR());
    REQUIRE(l);
    /* set known weights through the data pointers (no grad mode needed) */
    float *w = cnnc_tensor_data_f32(get(l, "weight")), *b = cnnc_tensor_data_f32(get(l, "bias"));
    REQUIRE(w && b);
    const float wv[6] = {1, 2, 3, -1, 0, 1}, bv[2] = {0.5f, -0.5f};
    memcpy(w, wv, sizeof wv);
    memcpy(b, bv, sizeof bv);

    cnnc_tensor *x1 = cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, (const float[]){1, 1, 1});
    cnnc_tensor *x2 = cnnc_ones(CNNC_SHAPE(4, 3), CNNC_FLOAT32);
    cnnc_tensor *x3 = cnnc_ones(CNNC_SHAPE(2, 5, 3), CNNC_FLOAT32);
    REQUIRE(x1 && x2 && x3);
    cnnc_tensor *y1 = cnnc_module_forward(l, x1);
    cnnc_tensor *y2 = cnnc_module_forward(l, x2);
    cnnc_tensor *y3 = cnnc_module_forward(l, x3);
    REQUIRE(y1 && y2 && y3);
    CHECK(shape_is(y1, CNNC_SHAPE(2)));
    CHECK(shape_is(y2, CNNC_SHAPE(4, 2)));
    CHECK(shape_is(y3, CNNC_SHAPE(2, 5, 2)));
    const float want[2] = {6.5f, -0.5f};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y1), want, 2, 1e-6);
    const float *d3 = cnnc_tensor_data_f32(y3);
    CHECK_NEAR(d3[18], 6.5, 1e-6);
    CHECK_NEAR(d3[19], -0.5, 1e-6);
    CHECK(cnnc_tensor_requires_grad(y2));
    cnnc_tensor_release(y1);
    cnnc_tensor_release(y2);
    cnnc_tensor_release(y3);

    /* wrong feature size: PyTorch's message */
    cnnc_tensor *bad = cnnc_ones(CNNC_SHAPE(2, 5), CNNC_FLOAT32);
    REQUIRE(bad);
    CHECK_TENSOR_ERR(cnnc_module_forward(l, bad));
    CHECK_ERROR_CONTAINS("mat1 and mat2 shapes cannot be multiplied (2x5 and 3x2)");
    cnnc_tensor *bad0 = cnnc_ones(0, NULL, CNNC_FLOAT32);
    cnnc_tensor *bad_dt = cnnc_ones(CNNC_SHAPE(2, 3), CNNC_INT64);
    REQUIRE(bad0 && bad_dt);
    CHECK_TENSOR_ERR(cnnc_module_forward(l, bad0));
    CHECK_TENSOR_ERR(cnnc_module_forward(l, bad_dt));
    cnnc_tensor_release(bad);
    cnnc_tensor_release(bad0);
    cnnc_tensor_release(bad_dt);
    cnnc_tensor_release(x1);
    cnnc_tensor_release(x2);
    cnnc_tensor_release(x3);
    cnnc_module_release(l);
}

static void test_linear_invalid_sizes(void) {
    cnnc_module *m = cnnc_linear_new(-1, 3, CNNC_LINEAR());
    CHECK(m == NULL);
    cnnc_module_release(m);
    CHECK(cnnc_last_status() != CNNC_OK);
    m = cnnc_linear_new(3, -2, CNNC_LINEAR());
    CHECK(m == NULL);
    cnnc_module_release(m);
    m = cnnc_linear_new(INT64_C(1) << 40, INT64_C(1) << 40, CNNC_LINEAR());
    CHECK(m == NULL);
    cnnc_module_release(m);
    /* zero features are legal in PyTorch */
    m = cnnc_linear_new(0, 2, CNNC_LINEAR());
    CHECK(m != NULL);
    cnnc_module_release(m);
}

/* ---- ReLU, Flatten, Identity -------------------------------------------- */

static void test_relu_module(void) {
    cnnc_module *r = cnnc_relu_new(CNNC_RELU());
    cnnc_module *ri = cnnc_relu_new(CNNC_RELU(.inplace = true));
    REQUIRE(r && ri);
    CHECK_STR_EQ(cnnc_module_type(r), "ReLU");
    CHECK_REPR(r, "ReLU()");
    CHECK_REPR(ri, "ReLU(inplace=True)");
    cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(4), CNNC_FLOAT32, (const float[]){-1, 2, -3, 4});
    REQUIRE(x);
    const float pos[4] = {0, 2, 0, 4}, orig[4] = {-1, 2, -3, 4};

    cnnc_tensor *y = cnnc_module_forward(r, x);
    REQUIRE(y);
    CHECK(y != x);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), pos, 4, 0);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(x), orig, 4, 0);
    cnnc_tensor_release(y);

    uint64_t v = cnnc_tensor_version(x);
    y = cnnc_module_forward(ri, x);
    REQUIRE(y);
    CHECK(y == x); /* a new reference to its input */
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(x), pos, 4, 0);
    CHECK(cnnc_tensor_version(x) == v + 1);
    cnnc_tensor_release(y);
    CHECK_EQ_INT(cnnc_module_num_children(r), 0);
    CHECK_NO_NAMES(cnnc_module_named_parameters(r));
    CHECK_NO_NAMES(cnnc_module_state_dict(r));

    /* in place on a leaf that requires grad: PyTorch's error */
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    CHECK_TENSOR_ERR(cnnc_module_forward(ri, x));
    CHECK_ERROR_CONTAINS("a leaf Variable that requires grad is being used in an in-place operation.");
    cnnc_tensor_release(x);
    cnnc_module_release(r);
    cnnc_module_release(ri);
}

static void test_flatten_and_identity(void) {
    cnnc_module *f = cnnc_flatten_new(CNNC_FLATTEN());
    cnnc_module *f0 = cnnc_flatten_new(CNNC_FLATTEN(.start_dim = 0, .end_dim = 2));
    cnnc_module *id = cnnc_identity_new();
    REQUIRE(f && f0 && id);
    CHECK_STR_EQ(cnnc_module_type(f), "Flatten");
    CHECK_STR_EQ(cnnc_module_type(id), "Identity");
    CHECK_REPR(f, "Flatten(start_dim=1, end_dim=-1)");
    CHECK_REPR(f0, "Flatten(start_dim=0, end_dim=2)");
    CHECK_REPR(id, "Identity()");

    cnnc_tensor *x = cnnc_arange(0, 120, 1, CNNC_FLOAT32);
    cnnc_tensor *x4 = x ? cnnc_reshape(x, CNNC_SHAPE(2, 3, 4, 5)) : NULL;
    REQUIRE(x4);
    cnnc_tensor *a = cnnc_module_forward(f, x4);
    cnnc_tensor *b = cnnc_module_forward(f0, x4);
    cnnc_tensor *c = cnnc_module_forward(id, x4);
    REQUIRE(a && b && c);
    CHECK(shape_is(a, CNNC_SHAPE(2, 60)));
    CHECK(shape_is(b, CNNC_SHAPE(24, 5)));
    CHECK(shape_is(c, CNNC_SHAPE(2, 3, 4, 5)));
    CHECK(cnnc_tensor_data_f32(a)[77] == 77.0f);
    CHECK(cnnc_tensor_data_f32(c)[119] == 119.0f);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);

    /* a 1-d input has no dim 1 to flatten from: PyTorch's error */
    cnnc_tensor_release(x4);
    CHECK_TENSOR_ERR(cnnc_module_forward(f0, x));
    cnnc_tensor_release(x);
    cnnc_module_release(f);
    cnnc_module_release(f0);
    cnnc_module_release(id);
}

/* ---- Sequential ---------------------------------------------------------- */

static void test_sequential_children_and_names(void) {
    cnnc_module *s = make_nested();
    REQUIRE(s);
    CHECK_STR_EQ(cnnc_module_type(s), "Sequential");
    CHECK_EQ_INT(cnnc_module_num_children(s), 3);
    const char *name = NULL;
    cnnc_module *c0 = cnnc_module_child(s, 0, &name);
    CHECK_STR_EQ(name, "0");
    CHECK_STR_EQ(c0 ? cnnc_module_type(c0) : NULL, "Linear");
    cnnc_module *c2 = cnnc_module_child(s, 2, &name);
    CHECK_STR_EQ(name, "2");
    REQUIRE(c2);
    CHECK_STR_EQ(cnnc_module_type(c2), "Sequential");
    CHECK_EQ_INT(cnnc_module_num_children(c2), 2);
    CHECK(cnnc_module_child(s, 0, NULL) == c0); /* name is optional */
    CHECK_NULL_ERR(cnnc_module_child(s, 3, &name));

    CHECK_NAMES(cnnc_module_named_parameters(s), "0.weight", "0.bias", "2.0.weight", "2.0.bias");
    CHECK_NO_NAMES(cnnc_module_named_buffers(s));
    CHECK_NAMES(cnnc_module_state_dict(s), "0.weight", "0.bias", "2.0.weight", "2.0.bias");

    /* dotted lookup reaches the same tensors as the child */
    cnnc_tensor *w = get(s, "2.0.weight");
    cnnc_tensor *w2 = get(cnnc_module_child(c2, 0, NULL), "weight");
    CHECK(w != NULL && w == w2);
    CHECK(shape_is(w, CNNC_SHAPE(4, 3)));
    cnnc_tensor *t = NULL;
    CHECK_STATUS(cnnc_module_tensor(s, "2.1.weight", &t), CNNC_ERR_NOT_FOUND);
    CHECK_STATUS(cnnc_module_tensor(s, "3.weight", &t), CNNC_ERR_NOT_FOUND);
    CHECK_STATUS(cnnc_module_tensor(s, "0.weight.x", &t), CNNC_ERR_NOT_FOUND);
    CHECK_STATUS(cnnc_module_tensor(s, "", &t), CNNC_ERR_NOT_FOUND);
    CHECK_STATUS(cnnc_module_tensor(s, "weight", &t), CNNC_ERR_NOT_FOUND);
    cnnc_module_release(s);
}

static void test_sequential_forward(void) {
    cnnc_manual_seed(1);
    cnnc_module *s = make_nested();
    REQUIRE(s);
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(5, 2));
    REQUIRE(x);
    cnnc_tensor *y = cnnc_module_forward(s, x);
    REQUIRE(y);
    CHECK(shape_is(y, CNNC_SHAPE(5, 4)));
    /* the same computed by hand with the functional ops */
    cnnc_tensor *h = cnnc_linear(x, get(s, "0.weight"), get(s, "0.bias"));
    cnnc_tensor *hr = h ? cnnc_relu(h) : NULL;
    cnnc_tensor *o = hr ? cnnc_linear(hr, get(s, "2.0.weight"), get(s, "2.0.bias")) : NULL;
    cnnc_tensor *orr = o ? cnnc_relu(o) : NULL;
    REQUIRE(orr);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), cnnc_tensor_data_f32(orr), 20, 1e-6);
    float mn = 0;
    for (int i = 0; i < 20; i++) mn = fminf(mn, cnnc_tensor_data_f32(y)[i]);
    CHECK(mn >= 0);
    cnnc_tensor_release(h);
    cnnc_tensor_release(hr);
    cnnc_tensor_release(o);
    cnnc_tensor_release(orr);
    cnnc_tensor_release(y);

    /* wrong input: the error of the failing layer */
    cnnc_tensor *bad = cnnc_ones(CNNC_SHAPE(5, 3), CNNC_FLOAT32);
    REQUIRE(bad);
    CHECK_TENSOR_ERR(cnnc_module_forward(s, bad));
    CHECK_ERROR_CONTAINS("mat1 and mat2 shapes cannot be multiplied (5x3 and 2x3)");
    cnnc_tensor_release(bad);
    cnnc_tensor_release(x);
    cnnc_module_release(s);
}

static void test_sequential_empty_and_append(void) {
    cnnc_module *s = cnnc_sequential_new(0, NULL);
    REQUIRE(s);
    CHECK_REPR(s, "Sequential()");
    CHECK_EQ_INT(cnnc_module_num_children(s), 0);
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(2, 4), CNNC_FLOAT32);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_module_forward(s, x); /* empty Sequential returns its input */
    CHECK(y != NULL);
    if (y) CHECK(shape_is(y, CNNC_SHAPE(2, 4)));
    cnnc_tensor_release(y);

    CHECK_OK(cnnc_sequential_append(s, cnnc_linear_new(4, 3, CNNC_LINEAR())));
    CHECK_OK(cnnc_sequential_append(s, cnnc_relu_new(CNNC_RELU())));
    CHECK_EQ_INT(cnnc_module_num_children(s), 2);
    const char *name = NULL;
    cnnc_module_child(s, 1, &name);
    CHECK_STR_EQ(name, "1");
    y = cnnc_module_forward(s, x);
    CHECK(shape_is(y, CNNC_SHAPE(2, 3)));
    cnnc_tensor_release(y);

    /* appending NULL fails; appending to a non-Sequential fails and releases the child */
    CHECK_ERR(cnnc_sequential_append(s, NULL));
    cnnc_module *lin = cnnc_linear_new(1, 1, CNNC_LINEAR());
    REQUIRE(lin);
    CHECK_ERR(cnnc_sequential_append(lin, cnnc_relu_new(CNNC_RELU())));
    CHECK_ERR(cnnc_sequential_append(NULL, cnnc_relu_new(CNNC_RELU())));
    CHECK_EQ_INT(cnnc_module_num_children(lin), 0);
    cnnc_module_release(lin);
    cnnc_tensor_release(x);
    cnnc_module_release(s);
}

static void test_sequential_null_entry_fails(void) {
    /* takes ownership of every reference, also on failure (leak-checked) */
    cnnc_module *s = cnnc_sequential_new(3, (cnnc_module *[]){
        cnnc_linear_new(2, 2, CNNC_LINEAR()), NULL, cnnc_relu_new(CNNC_RELU())});
    CHECK(s == NULL);
    CHECK(cnnc_last_status() != CNNC_OK);
    cnnc_module_release(s);
    CHECK_NULL_ERR(cnnc_sequential_new(-1, NULL));
    CHECK_NULL_ERR(cnnc_sequential_new(2, NULL));
}

static void test_train_eval_recursion(void) {
    cnnc_module *s = make_nested();
    REQUIRE(s);
    cnnc_module *c2 = cnnc_module_child(s, 2, NULL);
    REQUIRE(c2);
    cnnc_module *c20 = cnnc_module_child(c2, 0, NULL);
    REQUIRE(c20);
    CHECK(cnnc_module_is_training(s));
    CHECK(cnnc_module_is_training(c20));
    cnnc_module_eval(s);
    CHECK(!cnnc_module_is_training(s));
    CHECK(!cnnc_module_is_training(c2));
    CHECK(!cnnc_module_is_training(c20));
    CHECK(!cnnc_module_is_training(cnnc_module_child(s, 1, NULL)));
    cnnc_module_train(c2, true); /* only the subtree */
    CHECK(!cnnc_module_is_training(s));
    CHECK(cnnc_module_is_training(c2));
    CHECK(cnnc_module_is_training(c20));
    cnnc_module_train(s, true);
    CHECK(cnnc_module_is_training(cnnc_module_child(s, 0, NULL)));
    cnnc_module_train(s, false);
    CHECK(!cnnc_module_is_training(c20));
    cnnc_module_release(s);
}

/* ---- state_dict ---------------------------------------------------------- */

static void test_state_dict_aliases_module_tensors(void) {
    cnnc_module *s = make_nested();
    REQUIRE(s);
    cnnc_tensor_list *sd = cnnc_module_state_dict(s);
    REQUIRE(sd);
    cnnc_tensor *w = cnnc_tensor_list_find(sd, "0.weight");
    REQUIRE(w);
    CHECK(!cnnc_tensor_requires_grad(w)); /* detached */
    CHECK(shape_is(w, CNNC_SHAPE(3, 2)));
    /* shares storage with the parameter */
    CHECK(cnnc_tensor_data_f32(w) == cnnc_tensor_data_f32(get(s, "0.weight")));
    CHECK_OK(cnnc_tensor_fill_(w, 0.25));
    CHECK(cnnc_tensor_data_f32(get(s, "0.weight"))[5] == 0.25f);
    /* the list keeps the tensors alive after the module is gone */
    cnnc_module_release(s);
    CHECK(cnnc_tensor_data_f32(w)[0] == 0.25f);
    cnnc_tensor_list_free(sd);

    /* named_parameters gives the parameters themselves */
    s = make_nested();
    REQUIRE(s);
    cnnc_tensor_list *p = cnnc_module_named_parameters(s);
    REQUIRE(p);
    CHECK(cnnc_tensor_list_get(p, 2) == get(s, "2.0.weight"));
    CHECK(cnnc_tensor_requires_grad(cnnc_tensor_list_get(p, 2)));
    cnnc_tensor_list_free(p);
    cnnc_module_release(s);
}

static void test_shared_module_listed_once(void) {
    /* the same Linear twice: parameters() lists each tensor once (PyTorch's
     * remove_duplicate), state_dict() lists both names; nn.Sequential(l, l) takes
     * one reference for the module given twice */
    cnnc_module *l = cnnc_linear_new(2, 2, CNNC_LINEAR());
    REQUIRE(l);
    cnnc_module *s = cnnc_sequential_new(2, (cnnc_module *[]){l, l});
    REQUIRE(s);
    CHECK_NAMES(cnnc_module_named_parameters(s), "0.weight", "0.bias");
    CHECK_NAMES(cnnc_module_state_dict(s), "0.weight", "0.bias", "1.weight", "1.bias");
    CHECK_REPR(s, "Sequential(\n"
                  "  (0): Linear(in_features=2, out_features=2, bias=True)\n"
                  "  (1): Linear(in_features=2, out_features=2, bias=True)\n"
                  ")");
    cnnc_module_release(s);
}

static int same_values(cnnc_tensor *a, cnnc_tensor *b) {
    if (!a || !b || cnnc_tensor_numel(a) != cnnc_tensor_numel(b)) return 0;
    return memcmp(cnnc_tensor_data_f32(a), cnnc_tensor_data_f32(b),
                  (size_t)cnnc_tensor_numel(a) * sizeof(float)) == 0;
}

static void test_load_state_dict_copies_values(void) {
    cnnc_manual_seed(10);
    cnnc_module *a = make_nested();
    cnnc_module *b = make_nested();
    REQUIRE(a && b);
    CHECK(!same_values(get(a, "0.weight"), get(b, "0.weight")));
    cnnc_tensor_list *sd = cnnc_module_state_dict(a);
    REQUIRE(sd);
    cnnc_tensor *bw = get(b, "0.weight");
    CHECK_OK(cnnc_module_load_state_dict(b, sd, true));
    CHECK(get(b, "0.weight") == bw); /* values copied, tensors kept */
    CHECK(cnnc_tensor_data_f32(bw) != cnnc_tensor_data_f32(get(a, "0.weight")));
    CHECK(cnnc_tensor_requires_grad(bw));
    const char *names[] = {"0.weight", "0.bias", "2.0.weight", "2.0.bias"};
    for (int i = 0; i < 4; i++) CHECK(same_values(get(a, names[i]), get(b, names[i])));
    cnnc_tensor_list_free(sd);

    /* a hand-made list works as well, in any order */
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    REQUIRE(l);
    cnnc_tensor *t[4];
    const int64_t shapes[4][2] = {{4, 3}, {4, 0}, {3, 2}, {3, 0}};
    const char *order[4] = {"2.0.weight", "2.0.bias", "0.weight", "0.bias"};
    for (int i = 0; i < 4; i++) {
        t[i] = cnnc_full(shapes[i][1] ? 2 : 1, shapes[i], i + 1.0, CNNC_FLOAT32);
        REQUIRE(t[i]);
        CHECK_OK(cnnc_tensor_list_append(l, order[i], t[i]));
        cnnc_tensor_release(t[i]);
    }
    CHECK_OK(cnnc_module_load_state_dict(b, l, true));
    CHECK(cnnc_tensor_data_f32(get(b, "2.0.weight"))[11] == 1.0f);
    CHECK(cnnc_tensor_data_f32(get(b, "0.bias"))[2] == 4.0f);
    cnnc_tensor_list_free(l);
    cnnc_module_release(a);
    cnnc_module_release(b);
}

/* A state_dict of m with every value set to v (fresh tensors). */
static cnnc_tensor_list *filled_state_dict(cnnc_module *m, double v) {
    cnnc_tensor_list *sd = cnnc_module_state_dict(m);
    cnnc_tensor_list *out = cnnc_tensor_list_new();
    if (!sd || !out) {
        cnnc_tensor_list_free(sd);
        cnnc_tensor_list_free(out);
        return NULL;
    }
    for (size_t i = 0; i < cnnc_tensor_list_size(sd); i++) {
        cnnc_tensor *src = cnnc_tensor_list_get(sd, i);
        cnnc_tensor *t = cnnc_full(cnnc_tensor_ndim(src), cnnc_tensor_shape(src), v, CNNC_FLOAT32);
        cnnc_tensor_list_append(out, cnnc_tensor_list_name(sd, i), t);
        cnnc_tensor_release(t);
    }
    cnnc_tensor_list_free(sd);
    return out;
}

/* A copy of list without entry `drop` (or with it replaced by t when t != NULL). */
static cnnc_tensor_list *edited(cnnc_tensor_list *l, const char *drop, cnnc_tensor *t) {
    cnnc_tensor_list *out = cnnc_tensor_list_new();
    for (size_t i = 0; out && i < cnnc_tensor_list_size(l); i++) {
        const char *n = cnnc_tensor_list_name(l, i);
        if (strcmp(n, drop) == 0) {
            if (t) cnnc_tensor_list_append(out, n, t);
        } else {
            cnnc_tensor_list_append(out, n, cnnc_tensor_list_get(l, i));
        }
    }
    return out;
}

static int all_equal(cnnc_tensor *t, float v) {
    const float *d = cnnc_tensor_data_f32(t);
    for (int64_t i = 0; d && i < cnnc_tensor_numel(t); i++)
        if (d[i] != v) return 0;
    return d != NULL;
}

static void test_load_state_dict_errors_change_nothing(void) {
    cnnc_module *m = make_nested();
    REQUIRE(m);
    cnnc_tensor_list *zero = filled_state_dict(m, 0.0);
    cnnc_tensor_list *ones = filled_state_dict(m, 1.0);
    REQUIRE(zero && ones);
    CHECK_OK(cnnc_module_load_state_dict(m, zero, true));
    CHECK(all_equal(get(m, "0.weight"), 0.0f));

    /* size mismatch: an error with or without strict; nothing copied */
    cnnc_tensor *wrong = cnnc_ones(CNNC_SHAPE(4, 2), CNNC_FLOAT32);
    REQUIRE(wrong);
    cnnc_tensor_list *bad = edited(ones, "0.weight", wrong);
    REQUIRE(bad);
    CHECK_ERR(cnnc_module_load_state_dict(m, bad, true));
    CHECK_ERROR_CONTAINS("Error(s) in loading state_dict for Sequential");
    CHECK_ERROR_CONTAINS("size mismatch for 0.weight: copying a param with shape torch.Size([4, 2]) from checkpoint, the shape in current model is torch.Size([3, 2]).");
    CHECK_ERR(cnnc_module_load_state_dict(m, bad, false));
    CHECK_ERROR_CONTAINS("size mismatch for 0.weight");
    CHECK(all_equal(get(m, "0.bias"), 0.0f));
    CHECK(all_equal(get(m, "2.0.weight"), 0.0f));
    cnnc_tensor_list_free(bad);
    cnnc_tensor_release(wrong);

    /* missing key */
    cnnc_tensor_list *missing = edited(ones, "0.bias", NULL);
    REQUIRE(missing);
    CHECK_ERR(cnnc_module_load_state_dict(m, missing, true));
    CHECK_ERROR_CONTAINS("Missing key(s) in state_dict: \"0.bias\".");
    CHECK(all_equal(get(m, "0.weight"), 0.0f));
    CHECK(all_equal(get(m, "2.0.bias"), 0.0f));
    CHECK_OK(cnnc_module_load_state_dict(m, missing, false));
    CHECK(all_equal(get(m, "0.weight"), 1.0f));
    CHECK(all_equal(get(m, "0.bias"), 0.0f)); /* the missing one is untouched */
    cnnc_tensor_list_free(missing);
    CHECK_OK(cnnc_module_load_state_dict(m, zero, true));

    /* unexpected key */
    cnnc_tensor_list *extra = edited(ones, "", NULL);
    cnnc_tensor *foo = cnnc_zeros(CNNC_SHAPE(1), CNNC_FLOAT32);
    REQUIRE(extra && foo);
    CHECK_OK(cnnc_tensor_list_append(extra, "foo", foo));
    cnnc_tensor_release(foo);
    CHECK_ERR(cnnc_module_load_state_dict(m, extra, true));
    CHECK_ERROR_CONTAINS("Unexpected key(s) in state_dict: \"foo\".");
    CHECK(all_equal(get(m, "0.weight"), 0.0f));
    CHECK_OK(cnnc_module_load_state_dict(m, extra, false));
    CHECK(all_equal(get(m, "2.0.bias"), 1.0f));
    cnnc_tensor_list_free(extra);

    /* dtype mismatch, and a None value for a tensor that exists */
    cnnc_tensor *iw = cnnc_zeros(CNNC_SHAPE(3, 2), CNNC_INT64);
    REQUIRE(iw);
    cnnc_tensor_list *idt = edited(zero, "0.weight", iw);
    REQUIRE(idt);
    cnnc_status st = cnnc_module_load_state_dict(m, idt, true);
    if (st == CNNC_OK) {
        CHECK(all_equal(get(m, "0.weight"), 0.0f)); /* PyTorch converts int64 -> float */
    } else {
        CHECK(all_equal(get(m, "0.bias"), 1.0f)); /* or refuses, changing nothing */
    }
    cnnc_tensor_list_free(idt);
    cnnc_tensor_release(iw);

    CHECK_ERR(cnnc_module_load_state_dict(m, NULL, true));
    CHECK_ERR(cnnc_module_load_state_dict(NULL, zero, true));
    cnnc_tensor_list_free(zero);
    cnnc_tensor_list_free(ones);
    cnnc_module_release(m);
}

/* ---- gradients ----------------------------------------------------------- */

static void test_zero_grad_both_ways(void) {
    cnnc_module *s = make_nested();
    REQUIRE(s);
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(2, 2), CNNC_FLOAT32);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_module_forward(s, x);
    cnnc_tensor *sum = y ? cnnc_sum(y) : NULL;
    REQUIRE(sum);
    CHECK_OK(cnnc_backward(sum, NULL, false));
    cnnc_tensor *w = get(s, "0.weight");
    REQUIRE(cnnc_tensor_grad(w));
    CHECK(shape_is(cnnc_tensor_grad(w), CNNC_SHAPE(3, 2)));
    CHECK(cnnc_tensor_grad(get(s, "2.0.bias")) != NULL);
    /* the last bias gets d sum / d b = 1 where the ReLU passes */
    cnnc_module_zero_grad(s, false);
    const char *names[] = {"0.weight", "0.bias", "2.0.weight", "2.0.bias"};
    for (int i = 0; i < 4; i++) {
        cnnc_tensor *g = cnnc_tensor_grad(get(s, names[i]));
        CHECK(g != NULL);
        if (g) CHECK(all_equal(g, 0.0f));
    }
    cnnc_module_zero_grad(s, true);
    for (int i = 0; i < 4; i++) CHECK(cnnc_tensor_grad(get(s, names[i])) == NULL);
    cnnc_module_zero_grad(s, true); /* nothing to drop: fine */
    cnnc_module_zero_grad(NULL, false);
    cnnc_tensor_release(sum);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
    cnnc_module_release(s);
}

/* ---- repr, vars, attributes --------------------------------------------- */

static void test_repr_matches_torch(void) {
    cnnc_module *l = cnnc_linear_new(3, 4, CNNC_LINEAR());
    REQUIRE(l);
    CHECK_REPR(l, "Linear(in_features=3, out_features=4, bias=True)");
    cnnc_module_release(l);

    cnnc_module *s = make_nested();
    REQUIRE(s);
    CHECK_OK(cnnc_sequential_append(s, cnnc_flatten_new(CNNC_FLATTEN())));
    CHECK_OK(cnnc_sequential_append(s, cnnc_identity_new()));
    CHECK_OK(cnnc_sequential_append(s, cnnc_linear_new(4, 1, CNNC_LINEAR(.bias = false))));
    CHECK_REPR(s, "Sequential(\n"
                  "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                  "  (1): ReLU()\n"
                  "  (2): Sequential(\n"
                  "    (0): Linear(in_features=3, out_features=4, bias=True)\n"
                  "    (1): ReLU(inplace=True)\n"
                  "  )\n"
                  "  (3): Flatten(start_dim=1, end_dim=-1)\n"
                  "  (4): Identity()\n"
                  "  (5): Linear(in_features=4, out_features=1, bias=False)\n"
                  ")");
    cnnc_module_release(s);
}

static void test_vars_listing(void) {
    cnnc_module *l = cnnc_linear_new(3, 4, CNNC_LINEAR());
    REQUIRE(l);
    char *v = cnnc_module_vars(l);
    REQUIRE(v);
    CHECK_CONTAINS(v, "training");
    CHECK_CONTAINS(v, "True");
    CHECK_CONTAINS(v, "weight");
    CHECK_CONTAINS(v, "[4, 3]");
    CHECK_CONTAINS(v, "bias");
    CHECK_CONTAINS(v, "[4]");
    CHECK_CONTAINS(v, "in_features");
    CHECK_CONTAINS(v, "out_features");
    cnnc_free(v);
    cnnc_module_eval(l);
    v = cnnc_module_vars(l);
    REQUIRE(v);
    CHECK_CONTAINS(v, "False");
    cnnc_free(v);
    cnnc_module_release(l);
}

static void test_module_attrs(void) {
    cnnc_module *l = cnnc_linear_new(3, 4, CNNC_LINEAR());
    cnnc_module *r = cnnc_relu_new(CNNC_RELU(.inplace = true));
    cnnc_module *f = cnnc_flatten_new(CNNC_FLATTEN());
    REQUIRE(l && r && f);
    cnnc_value v;
    memset(&v, 0, sizeof v);
    CHECK_OK(cnnc_module_attr(l, "in_features", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_INT);
    CHECK_EQ_INT(v.ints[0], 3);
    CHECK_OK(cnnc_module_attr(l, "out_features", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_INT);
    CHECK_EQ_INT(v.ints[0], 4);
    CHECK_STATUS(cnnc_module_attr(l, "kernel_size", &v), CNNC_ERR_NOT_FOUND);
    CHECK_ERR(cnnc_module_attr(l, NULL, &v));
    CHECK_ERR(cnnc_module_attr(l, "in_features", NULL));

    /* the indexed listing has the same entries */
    size_t n = cnnc_module_num_attrs(l);
    CHECK(n >= 2);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        CHECK_OK(cnnc_module_attr_at(l, i, &name, &v));
        if (name && strcmp(name, "in_features") == 0 && v.ints[0] == 3) seen |= 1;
        if (name && strcmp(name, "out_features") == 0 && v.ints[0] == 4) seen |= 2;
    }
    CHECK_EQ_INT(seen, 3);
    const char *name = NULL;
    CHECK_ERR(cnnc_module_attr_at(l, n, &name, &v));

    CHECK_OK(cnnc_module_attr(r, "inplace", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_BOOL);
    CHECK_EQ_INT(v.ints[0], 1);
    CHECK_OK(cnnc_module_attr(f, "start_dim", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_INT);
    CHECK_EQ_INT(v.ints[0], 1);
    CHECK_OK(cnnc_module_attr(f, "end_dim", &v));
    CHECK_EQ_INT(v.ints[0], -1);
    cnnc_module_release(l);
    cnnc_module_release(r);
    cnnc_module_release(f);
}

/* ---- set_tensor ---------------------------------------------------------- */

static void test_set_tensor_replaces_weight_and_bias(void) {
    cnnc_module *l = cnnc_linear_new(2, 2, CNNC_LINEAR());
    REQUIRE(l);
    cnnc_tensor *w = cnnc_from_data(CNNC_SHAPE(2, 2), CNNC_FLOAT32, (const float[]){1, 2, 3, 4});
    REQUIRE(w);
    CHECK_OK(cnnc_tensor_set_requires_grad(w, true));
    CHECK_OK(cnnc_module_set_tensor(l, "weight", w));
    cnnc_tensor_release(w); /* the module holds its own reference */
    CHECK(get(l, "weight") == w);

    CHECK_OK(cnnc_module_set_tensor(l, "bias", NULL)); /* m.bias = None */
    cnnc_tensor *b = (cnnc_tensor *)1;
    CHECK_OK(cnnc_module_tensor(l, "bias", &b));
    CHECK(b == NULL);
    CHECK_REPR(l, "Linear(in_features=2, out_features=2, bias=False)");
    CHECK_NAMES(cnnc_module_named_parameters(l), "weight");
    CHECK_NAMES(cnnc_module_state_dict(l), "weight");

    cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(1, 2), CNNC_FLOAT32, (const float[]){1, 1});
    REQUIRE(x);
    cnnc_tensor *y = cnnc_module_forward(l, x);
    REQUIRE(y);
    const float want[2] = {3, 7};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), want, 2, 0);
    cnnc_tensor_release(y);

    /* a bias again */
    cnnc_tensor *nb = cnnc_from_data(CNNC_SHAPE(2), CNNC_FLOAT32, (const float[]){10, 20});
    REQUIRE(nb);
    CHECK_OK(cnnc_module_set_tensor(l, "bias", nb));
    cnnc_tensor_release(nb);
    y = cnnc_module_forward(l, x);
    REQUIRE(y);
    const float want2[2] = {13, 27};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), want2, 2, 0);
    cnnc_tensor_release(y);
    CHECK_NAMES(cnnc_module_named_parameters(l), "weight", "bias");

    CHECK_STATUS(cnnc_module_set_tensor(l, "nope", x), CNNC_ERR_NOT_FOUND);
    CHECK_ERR(cnnc_module_set_tensor(l, NULL, x));
    cnnc_tensor_release(x);
    cnnc_module_release(l);

    /* through a dotted name in a container */
    cnnc_module *s = make_nested();
    REQUIRE(s);
    cnnc_tensor *z = cnnc_zeros(CNNC_SHAPE(4), CNNC_FLOAT32);
    REQUIRE(z);
    CHECK_OK(cnnc_module_set_tensor(s, "2.0.bias", z));
    CHECK(get(cnnc_module_child(cnnc_module_child(s, 2, NULL), 0, NULL), "bias") == z);
    cnnc_tensor_release(z);
    cnnc_module_release(s);
}

/* ---- refcounts ----------------------------------------------------------- */

static void test_module_refcounts(void) {
    cnnc_module *s = make_nested();
    REQUIRE(s);
    cnnc_module *inner = cnnc_module_retain(cnnc_module_child(s, 2, NULL));
    REQUIRE(inner);
    cnnc_tensor *w = cnnc_tensor_retain(get(s, "0.weight"));
    REQUIRE(w);
    CHECK(cnnc_module_retain(s) == s);
    cnnc_module_release(s);
    cnnc_module_release(s); /* gone; the child and the tensor live on */

    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(1, 3), CNNC_FLOAT32);
    REQUIRE(x);
    cnnc_tensor *y = cnnc_module_forward(inner, x);
    CHECK(shape_is(y, CNNC_SHAPE(1, 4)));
    cnnc_tensor_release(y);
    CHECK(shape_is(w, CNNC_SHAPE(3, 2)));
    cnnc_tensor_release(w);
    cnnc_tensor_release(x);
    cnnc_module_release(inner);
    cnnc_module_release(NULL);
    CHECK(cnnc_module_retain(NULL) == NULL);
}

static void test_module_outputs_outlive_module(void) {
    /* the graph keeps the parameters alive: backward after the module is gone */
    cnnc_module *l = cnnc_linear_new(3, 2, CNNC_LINEAR());
    REQUIRE(l);
    cnnc_tensor *w = cnnc_tensor_retain(get(l, "weight"));
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(4, 3), CNNC_FLOAT32);
    REQUIRE(w && x);
    cnnc_tensor *y = cnnc_module_forward(l, x);
    cnnc_tensor *s = y ? cnnc_sum(y) : NULL;
    REQUIRE(s);
    cnnc_module_release(l);
    CHECK_OK(cnnc_backward(s, NULL, false));
    const float want[6] = {4, 4, 4, 4, 4, 4};
    CHECK_FLOATS_NEAR(cnnc_tensor_grad(w) ? cnnc_tensor_data_f32(cnnc_tensor_grad(w)) : NULL,
                      want, 6, 0);
    cnnc_tensor_release(s);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
    cnnc_tensor_release(w);
}

static void test_module_in_scope(void) {
    cnnc_module *s = make_nested();
    REQUIRE(s);
    for (int step = 0; step < 3; step++) {
        CHECK_OK(cnnc_scope_begin());
        cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(4, 2));
        cnnc_tensor *y = cnnc_module_forward(s, x);
        cnnc_tensor *l = y ? cnnc_mean(y) : NULL;
        CHECK(l != NULL);
        if (l) CHECK_OK(cnnc_backward(l, NULL, false));
        cnnc_tensor_list *p = cnnc_module_named_parameters(s); /* not a tensor: not scoped */
        CHECK(p && cnnc_tensor_list_size(p) == 4);
        cnnc_tensor_list_free(p);
        CHECK_OK(cnnc_scope_end());
        cnnc_module_zero_grad(s, true);
    }
    CHECK(get(s, "0.weight") != NULL); /* parameters are not owned by the scope */
    cnnc_module_release(s);
}

/* ---- NULL arguments ------------------------------------------------------ */

static void test_module_null_arguments(void) {
    cnnc_tensor *t = NULL;
    cnnc_value v;
    const char *name;
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(2), CNNC_FLOAT32);
    cnnc_module *l = cnnc_linear_new(2, 2, CNNC_LINEAR());
    REQUIRE(x && l);
    CHECK_TENSOR_ERR(cnnc_module_forward(NULL, x));
    CHECK_TENSOR_ERR(cnnc_module_forward(l, NULL));
    CHECK_NULL_ERR(cnnc_module_type(NULL));
    cnnc_module_train(NULL, true);
    cnnc_module_eval(NULL);
    CHECK_SETS_ERROR(cnnc_module_is_training(NULL));
    CHECK_ERR(cnnc_module_tensor(NULL, "weight", &t));
    CHECK_ERR(cnnc_module_tensor(l, NULL, &t));
    CHECK_ERR(cnnc_module_tensor(l, "weight", NULL));
    CHECK_ERR(cnnc_module_set_tensor(NULL, "weight", x));
    CHECK_SETS_ERROR(cnnc_module_num_children(NULL));
    CHECK_NULL_ERR(cnnc_module_child(NULL, 0, &name));
    CHECK_NULL_ERR(cnnc_module_named_parameters(NULL));
    CHECK_NULL_ERR(cnnc_module_named_buffers(NULL));
    CHECK_NULL_ERR(cnnc_module_state_dict(NULL));
    CHECK_NULL_ERR(cnnc_module_repr(NULL));
    CHECK_NULL_ERR(cnnc_module_vars(NULL));
    CHECK_SETS_ERROR(cnnc_module_num_attrs(NULL));
    CHECK_ERR(cnnc_module_attr_at(NULL, 0, &name, &v));
    CHECK_OK(cnnc_module_attr_at(l, 0, NULL, NULL)); /* the outputs are optional */
    CHECK_ERR(cnnc_module_attr(NULL, "in_features", &v));
    cnnc_module_zero_grad(NULL, true);
    cnnc_tensor_release(x);
    cnnc_module_release(l);
}

int main(void) {
    RUN_TEST(test_linear_parameters_and_init);
    RUN_TEST(test_linear_without_bias);
    RUN_TEST(test_linear_forward_shapes_and_values);
    RUN_TEST(test_linear_invalid_sizes);
    RUN_TEST(test_relu_module);
    RUN_TEST(test_flatten_and_identity);
    RUN_TEST(test_sequential_children_and_names);
    RUN_TEST(test_sequential_forward);
    RUN_TEST(test_sequential_empty_and_append);
    RUN_TEST(test_sequential_null_entry_fails);
    RUN_TEST(test_train_eval_recursion);
    RUN_TEST(test_state_dict_aliases_module_tensors);
    RUN_TEST(test_shared_module_listed_once);
    RUN_TEST(test_load_state_dict_copies_values);
    RUN_TEST(test_load_state_dict_errors_change_nothing);
    RUN_TEST(test_zero_grad_both_ways);
    RUN_TEST(test_repr_matches_torch);
    RUN_TEST(test_vars_listing);
    RUN_TEST(test_module_attrs);
    RUN_TEST(test_set_tensor_replaces_weight_and_bias);
    RUN_TEST(test_module_refcounts);
    RUN_TEST(test_module_outputs_outlive_module);
    RUN_TEST(test_module_in_scope);
    RUN_TEST(test_module_null_arguments);
    return check_summary();
}
