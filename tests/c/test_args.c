/* Argument rules: the three forms of cnnc_ints / cnnc_doubles (None, the int, a
 * tuple), the shared expansion and text helpers (core/args.h), the window's
 * output-size rules (kernels/window.h) against a brute-force count, and the forms
 * through the public API (ops, modules, field listings). */
#include "check.h"

#include <cnnc.h>

#include <stdint.h>
#include <string.h>

#include "core/args.h"
#include "kernels/window.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t next_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static int64_t rand_in(int64_t lo, int64_t hi) { return lo + (int64_t)(next_u32() % (uint32_t)(hi - lo + 1)); }

static void test_forms(void) {
    cnnc_ints none = CNNC_INTS_NONE, zero = {0}, k = CNNC_INTS(3), t1 = CNNC_TUPLE(3),
              t2 = CNNC_INTS(3, 5), empty = CNNC_EMPTY_TUPLE, manual = {.n = 2, .v = {1, 2}};
    CHECK(cnnc__ints_is_none(&none) && cnnc__ints_is_none(&zero));
    CHECK(cnnc__ints_is_int(&k) && !cnnc__ints_is_tuple(&k));
    CHECK(cnnc__ints_is_tuple(&t1) && !cnnc__ints_is_int(&t1) && t1.n == 1 && t1.v[0] == 3);
    CHECK(cnnc__ints_is_tuple(&t2) && cnnc__ints_is_tuple(&manual)); /* n > 1: a tuple */
    CHECK(cnnc__ints_is_tuple(&empty) && !cnnc__ints_is_none(&empty) && empty.n == 0);
    cnnc_doubles dn = CNNC_DOUBLES_NONE, df = CNNC_DOUBLES(2.0), dt = CNNC_FLOAT_TUPLE(2.0),
                 de = CNNC_EMPTY_FLOAT_TUPLE;
    CHECK(cnnc__doubles_is_none(&dn) && !cnnc__doubles_is_tuple(&df) && !cnnc__doubles_is_none(&df));
    CHECK(cnnc__doubles_is_tuple(&dt) && cnnc__doubles_is_tuple(&de) && !cnnc__doubles_is_none(&de));
    /* counts outside 0..CNNC_MAX_DIMS and None where a value is required */
    cnnc_ints bad = {.n = CNNC_MAX_DIMS + 1};
    CHECK_ERR(cnnc__check_ints("f", "x", &bad));
    CHECK_ERROR_CONTAINS("f(): argument 'x' holds 9 values");
    CHECK_OK(cnnc__check_ints("f", "x", &t2));
    CHECK_ERR(cnnc__check_given("conv2d", "stride", &none));
    CHECK_ERROR_CONTAINS("conv2d(): argument 'stride' must be tuple of ints, not NoneType");
    CHECK_OK(cnnc__check_given("conv2d", "stride", &empty));
}

static void test_expansion(void) {
    cnnc_ints k = CNNC_INTS(3), t1 = CNNC_TUPLE(3), t3 = CNNC_INTS(1, 2, 3), none = CNNC_INTS_NONE,
              empty = CNNC_EMPTY_TUPLE;
    cnnc_ints r = cnnc__ntuple(k, 2); /* _pair(3) */
    CHECK(r.tuple && r.n == 2 && r.v[0] == 3 && r.v[1] == 3);
    r = cnnc__ntuple(t3, 2); /* _pair((1, 2, 3)) keeps the tuple */
    CHECK(r.n == 3 && r.v[2] == 3);
    r = cnnc__ntuple(t1, 2);
    CHECK(r.tuple && r.n == 1);
    r = cnnc__ntuple(none, 2);
    CHECK(cnnc__ints_is_none(&r));
    int64_t out[CNNC_MAX_DIMS] = {0};
    CHECK_EQ_INT(cnnc__int_list(&k, 3, out), 3);
    CHECK(out[0] == 3 && out[2] == 3);
    CHECK_EQ_INT(cnnc__int_list(&t1, 3, out), 1);
    CHECK_EQ_INT(cnnc__int_list(&empty, 3, out), 0);
    CHECK_EQ_INT(cnnc__int_list(&none, 3, out), 0);
    cnnc_ints huge = {.n = 99};
    CHECK_EQ_INT(cnnc__int_list(&huge, 2, out), CNNC_MAX_DIMS); /* never read past v */
    int64_t e[3] = {-1, -1, -1};
    CHECK(cnnc__expand_ints(&t1, 2, 2, e) && e[0] == 3 && e[1] == 3); /* broadcast */
    CHECK(cnnc__expand_ints(&k, 2, 2, e));
    e[0] = -7;
    CHECK(!cnnc__expand_ints(&t3, 2, 2, e) && e[0] == -7); /* untouched */
    CHECK(!cnnc__expand_ints(&empty, 2, 2, e));
    CHECK(!cnnc__expand_ints(&k, 3, 2, e)); /* conv: the int is 3 values, the weight 2 dims */
}

static void test_text(void) {
    char b[CNNC__ARGS_STR_CAP];
    const int64_t v[3] = {1, -2, 3}, keep[2] = {CNNC_POOL_KEEP, 7};
    cnnc__tuple_str(b, sizeof b, 2, v);
    CHECK_STR_EQ(b, "(1, -2)");
    cnnc__tuple_str(b, sizeof b, 1, v);
    CHECK_STR_EQ(b, "(1,)");
    cnnc__tuple_str(b, sizeof b, 0, v);
    CHECK_STR_EQ(b, "()");
    cnnc__tuple_str(b, sizeof b, 2, keep);
    CHECK_STR_EQ(b, "(None, 7)");
    cnnc__list_str(b, sizeof b, 3, v, "[", ", ", "]");
    CHECK_STR_EQ(b, "[1, -2, 3]");
    cnnc__list_str(b, sizeof b, 3, v, "", " x ", "");
    CHECK_STR_EQ(b, "1 x -2 x 3");
    cnnc__list_str(b, sizeof b, 2, keep, "{", ", ", "}"); /* a list prints the number */
    CHECK_CONTAINS(b, "-9223372036854775808");
    const double f[2] = {2.0, 0.1};
    cnnc__float_tuple_str(b, sizeof b, 1, f);
    CHECK_STR_EQ(b, "(2.0,)");
    cnnc__float_tuple_str(b, sizeof b, 2, f);
    CHECK_STR_EQ(b, "(2.0, 0.1)");
    char small[5];
    cnnc__tuple_str(small, sizeof small, 3, v); /* truncated, terminated */
    CHECK_STR_EQ(small, "(1, ");
}

/* PyTorch's rule counted window by window: the windows that fit the padded input
 * (starts 0, s, 2s... in it), and with ceil_mode one more when padded elements are
 * left after the last of them and it starts inside the input or the left padding. */
static int64_t count_windows(int64_t in, int64_t k, int64_t s, int64_t pl, int64_t pr, int64_t d,
                             bool ceil) {
    const int64_t reach = d * (k - 1) + 1, padded = in + pl + pr;
    int64_t n = 0, last = 0;
    for (int64_t start = 0; start + reach <= padded; start += s) {
        n++;
        last = start;
    }
    if (ceil && last + reach < padded && last + s < in + pl) n++;
    return n;
}

static void test_window_rules(void) {
    int tested = 0;
    for (int it = 0; it < 3000; it++) {
        int64_t in = rand_in(0, 40), k = rand_in(1, 6), s = rand_in(1, 5), d = rand_in(1, 3);
        int64_t pl = rand_in(0, k / 2), pr = next_u32() % 3 ? pl : rand_in(0, k);
        bool ceil = (next_u32() & 1) && pr == pl && in > 0; /* pooling: symmetric padding */
        int64_t out;
        REQUIRE(cnnc__window_out_len(in, k, s, pl, pr, d, ceil, &out));
        if (in + pl + pr < d * (k - 1) + 1) { /* no window fits */
            CHECK(ceil || out <= 0); /* floor: the ops' "too small" errors */
            continue;
        }
        if (out != count_windows(in, k, s, pl, pr, d, ceil))
            CHECK_EQ_INT(out, count_windows(in, k, s, pl, pr, d, ceil));
        tested++;
        int64_t back; /* a transposed window maps the output size back to at least the input */
        REQUIRE(cnnc__window_transposed_len(out, k, s, pl, pr, d, 0, &back));
        CHECK_EQ_INT(back, (out - 1) * s - pl - pr + d * (k - 1) + 1);
    }
    CHECK(tested > 1500);
    int64_t out = -1;
    CHECK(!cnnc__window_out_len(INT64_MAX, 3, 1, 1, 1, 1, false, &out) && out == -1); /* overflow */
    CHECK(!cnnc__window_out_len(10, INT64_MAX, 1, 0, 0, 2, false, &out));
    CHECK(!cnnc__window_transposed_len(INT64_MAX, 3, 2, 0, 0, 1, 0, &out));
    CHECK(cnnc__window_out_len(5, 2, -2, 0, 0, 1, false, &out)); /* PyTorch's rounding, any sign */
    CHECK_EQ_INT(out, -1);
    cnnc__window g;
    const int64_t in2[2] = {5, 6}, out2[2] = {3, 4}, k2[2] = {2, 3};
    cnnc__window_fill(&g, 2, 7, in2, out2, k2, NULL, NULL, NULL);
    CHECK(g.n == 7 && g.c == 1 && g.m == 1 && g.groups == 1);
    CHECK(g.in[0] == 1 && g.in[1] == 5 && g.out[2] == 4 && g.k[0] == 1 && g.k[2] == 3);
    CHECK(g.stride[1] == 1 && g.pad[2] == 0 && g.dil[1] == 1);
    CHECK_EQ_INT(cnnc__window_in_size(&g), 30);
    CHECK_EQ_INT(cnnc__window_k_size(&g), 6);
}

/* The forms through the public API. */
static void test_ops(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(1, 2, 8, 8));
    cnnc_tensor *y = cnnc_adaptive_avg_pool2d(x, (cnnc_ints)CNNC_INTS(4));
    CHECK(y && cnnc_tensor_shape(y)[3] == 4);
    CHECK_TENSOR_ERR(cnnc_adaptive_avg_pool2d(x, (cnnc_ints)CNNC_TUPLE(4)));
    CHECK_ERROR_CONTAINS("adaptive_avg_pool2d: output_size must be 2");
    CHECK_TENSOR_ERR(cnnc_adaptive_max_pool3d(cnnc_randn(CNNC_SHAPE(1, 1, 4, 4, 4)),
                                              (cnnc_ints)CNNC_EMPTY_TUPLE));
    CHECK_ERROR_CONTAINS("output_size.size() must be 3");
    CHECK_TENSOR_ERR(cnnc_adaptive_avg_pool2d(x, (cnnc_ints)CNNC_INTS_NONE));
    CHECK_ERROR_CONTAINS("must be tuple of ints, not NoneType");
    /* max pooling takes a one-value tuple as the int, and () as no stride */
    y = cnnc_max_pool2d(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_TUPLE(2), .stride = CNNC_EMPTY_TUPLE));
    CHECK(y && cnnc_tensor_shape(y)[2] == 4);
    CHECK_TENSOR_ERR(cnnc_max_pool2d(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2, 2, 2))));
    CHECK_ERROR_CONTAINS("max_pool2d: kernel_size must either be a single int, or a tuple of two ints");
    /* interpolate: () is a size of the wrong length, not None */
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_EMPTY_TUPLE)));
    CHECK_ERROR_CONTAINS("output size of ()");
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.scale_factor = CNNC_FLOAT_TUPLE(2.0))));
    CHECK_ERROR_CONTAINS("scale_factor of shape (2.0,)");
    y = cnnc_interpolate(x, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(2.0)));
    CHECK(y && cnnc_tensor_shape(y)[2] == 16);
    /* max_unpool: output_size () is a sequence of length 0; a short stride is indexed */
    cnnc_tensor *idx = NULL;
    cnnc_tensor *p = cnnc_max_pool2d_with_indices(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2)), &idx);
    REQUIRE(p && idx);
    CHECK_TENSOR_ERR(cnnc_max_unpool2d(p, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2),
                                                                 .output_size = CNNC_EMPTY_TUPLE)));
    CHECK_ERROR_CONTAINS("output_size should be a sequence containing 2 or 4 elements, but it has a "
                         "length of '0'");
    CHECK_TENSOR_ERR(cnnc_max_unpool2d(p, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2),
                                                                 .stride = CNNC_TUPLE(2))));
    CHECK_ERROR_CONTAINS("tuple index out of range");
    CHECK(cnnc_max_unpool2d(p, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2),
                                                      .stride = CNNC_INTS(2, 2, 2)))); /* extra ignored */
    /* conv: a 1-tuple broadcasts (ATen), () does not */
    cnnc_tensor *w = cnnc_randn(CNNC_SHAPE(3, 2, 3, 3));
    CHECK(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.stride = CNNC_TUPLE(2))));
    CHECK_TENSOR_ERR(cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.stride = CNNC_EMPTY_TUPLE)));
    CHECK_ERROR_CONTAINS("but got stride=[]");
    /* layer_norm: the int k is (k,); softmax: a tuple dim is an error */
    CHECK(cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS(8), NULL, NULL, CNNC_LAYER_NORM()));
    CHECK_TENSOR_ERR(cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS_NONE, NULL, NULL, CNNC_LAYER_NORM()));
    CHECK_TENSOR_ERR(cnnc_softmax(x, CNNC_SOFTMAX(.dim = CNNC_TUPLE(1))));
    CHECK(cnnc_softmax(x, CNNC_SOFTMAX(.dim = CNNC_INTS(1))));
    cnnc_scope_end();
}

static void check_attr(cnnc_module *m, const char *name, cnnc_value_kind kind, int n, const char *text) {
    cnnc_value v;
    CHECK_OK(cnnc_module_attr(m, name, &v));
    CHECK_EQ_INT(v.kind, kind);
    if (kind == CNNC_VALUE_INTS || kind == CNNC_VALUE_FLOATS) CHECK_EQ_INT(v.n, n);
    char *vars = cnnc_module_vars(m), *repr = cnnc_module_repr(m);
    CHECK_CONTAINS(repr, text);
    cnnc_free(vars);
    cnnc_free(repr);
}

/* Modules keep the forms as PyTorch's do, and list 1-tuples as tuples. */
static void test_modules(void) {
    cnnc_scope_begin();
    cnnc_module *m = cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_TUPLE(3)));
    REQUIRE(m);
    check_attr(m, "kernel_size", CNNC_VALUE_INTS, 1, "kernel_size=(3,), stride=(3,), padding=0");
    cnnc_module_release(m);
    m = cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(3), .stride = CNNC_EMPTY_TUPLE));
    REQUIRE(m);
    check_attr(m, "stride", CNNC_VALUE_INTS, 0, "stride=()");
    cnnc_module_release(m);
    m = cnnc_adaptiveavgpool2d_new((cnnc_ints)CNNC_TUPLE(4));
    REQUIRE(m);
    check_attr(m, "output_size", CNNC_VALUE_INTS, 1, "output_size=(4,)");
    CHECK_TENSOR_ERR(cnnc_module_forward(m, cnnc_randn(CNNC_SHAPE(1, 1, 8, 8))));
    cnnc_module_release(m);
    m = cnnc_zeropad2d_new((cnnc_ints)CNNC_TUPLE(1));
    REQUIRE(m);
    check_attr(m, "padding", CNNC_VALUE_INTS, 1, "ZeroPad2d((1,))");
    cnnc_module_release(m);
    m = cnnc_layernorm_new((cnnc_ints)CNNC_INTS(5), CNNC_LAYERNORM());
    REQUIRE(m);
    check_attr(m, "normalized_shape", CNNC_VALUE_INTS, 1, "LayerNorm((5,), eps=1e-05");
    cnnc_module_release(m);
    m = cnnc_upsample_new(CNNC_UPSAMPLE(.scale_factor = CNNC_FLOAT_TUPLE(2.0)));
    REQUIRE(m);
    check_attr(m, "scale_factor", CNNC_VALUE_FLOATS, 1, "scale_factor=(2.0,)");
    cnnc_module_release(m);
    m = cnnc_conv2d_new(2, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_TUPLE(3)));
    REQUIRE(m);
    check_attr(m, "kernel_size", CNNC_VALUE_INTS, 1, "Conv2d(2, 3, kernel_size=(3,), stride=(1, 1))");
    cnnc_tensor *w = NULL;
    CHECK_OK(cnnc_module_tensor(m, "weight", &w));
    CHECK(w && cnnc_tensor_ndim(w) == 3); /* one weight dim per kernel_size entry */
    CHECK_TENSOR_ERR(cnnc_module_forward(m, cnnc_randn(CNNC_SHAPE(1, 2, 5, 5))));
    CHECK_ERROR_CONTAINS("expected stride to be a single integer value or a list of 1 values");
    cnnc_module_release(m);
    CHECK_NULL_ERR(cnnc_conv2d_new(2, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(1, 1, 1, 1, 1, 1, 1))));
    cnnc_scope_end();
}

int main(void) {
    RUN_TEST(test_forms);
    RUN_TEST(test_expansion);
    RUN_TEST(test_text);
    RUN_TEST(test_window_rules);
    RUN_TEST(test_ops);
    RUN_TEST(test_modules);
    return check_summary();
}
