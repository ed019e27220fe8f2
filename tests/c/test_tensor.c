/* Tensors: creation, getters, refcounts and views, in-place ops, printing, errors,
 * random numbers, scopes and tensor lists. Expected values and messages are
 * PyTorch 1.13's. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static int all_f32(cnnc_tensor *t, float value) {
    float *d = cnnc_tensor_data_f32(t);
    int64_t n = cnnc_tensor_numel(t);
    if (!d && n > 0) return 0;
    for (int64_t i = 0; i < n; i++)
        if (d[i] != value) return 0;
    return 1;
}

static int all_i64(cnnc_tensor *t, int64_t value) {
    int64_t *d = cnnc_tensor_data_i64(t);
    int64_t n = cnnc_tensor_numel(t);
    if (!d && n > 0) return 0;
    for (int64_t i = 0; i < n; i++)
        if (d[i] != value) return 0;
    return 1;
}

static int shape_is(const cnnc_tensor *t, int ndim, const int64_t *shape) {
    if (cnnc_tensor_ndim(t) != ndim) return 0;
    const int64_t *s = cnnc_tensor_shape(t);
    for (int i = 0; i < ndim; i++)
        if (!s || s[i] != shape[i]) return 0;
    return 1;
}

/* Checks cnnc_tensor_to_string(t) against PyTorch's str(t). */
#define CHECK_TO_STRING(t, want)                 \
    do {                                         \
        char *check_s = cnnc_tensor_to_string(t); \
        CHECK_STR_EQ(check_s, want);             \
        cnnc_free(check_s);                      \
    } while (0)

/* A malloc wrapper counting live allocations, to see what a scope frees. */
static long live_allocs;
static void *counting_alloc(void *ctx, size_t size) {
    (void)ctx;
    void *p = malloc(size ? size : 1);
    if (p) live_allocs++;
    return p;
}
static void counting_free(void *ctx, void *ptr) {
    (void)ctx;
    if (ptr) live_allocs--;
    free(ptr);
}
static const cnnc_allocator counting_allocator = {counting_alloc, counting_free, NULL};

/* ---- creation ------------------------------------------------------------ */

static void test_empty_zeros_ones_full_f32(void) {
    cnnc_tensor *e = cnnc_empty(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    cnnc_tensor *z = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    cnnc_tensor *o = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    cnnc_tensor *f = cnnc_full(CNNC_SHAPE(3, 1, 2), 2.5, CNNC_FLOAT32);
    CHECK(e && z && o && f);
    if (e && z && o && f) {
        CHECK(shape_is(e, CNNC_SHAPE(2, 3)));
        CHECK(shape_is(z, CNNC_SHAPE(2, 3)));
        CHECK(shape_is(o, CNNC_SHAPE(4)));
        CHECK(shape_is(f, CNNC_SHAPE(3, 1, 2)));
        CHECK_EQ_INT(cnnc_tensor_numel(e), 6);
        CHECK_EQ_INT(cnnc_tensor_numel(f), 6);
        CHECK_EQ_INT(cnnc_tensor_dtype(z), CNNC_FLOAT32);
        CHECK(cnnc_tensor_data_f32(e) != NULL);
        CHECK(all_f32(z, 0.0f));
        CHECK(all_f32(o, 1.0f));
        CHECK(all_f32(f, 2.5f));
        CHECK(!cnnc_tensor_requires_grad(z));
        CHECK(cnnc_tensor_is_leaf(z));
        CHECK(cnnc_tensor_grad(z) == NULL);
        CHECK(cnnc_tensor_grad_fn_name(z) == NULL);
    }
    cnnc_tensor_release(e);
    cnnc_tensor_release(z);
    cnnc_tensor_release(o);
    cnnc_tensor_release(f);
}

static void test_empty_zeros_ones_full_i64(void) {
    cnnc_tensor *e = cnnc_empty(CNNC_SHAPE(5), CNNC_INT64);
    cnnc_tensor *z = cnnc_zeros(CNNC_SHAPE(2, 2), CNNC_INT64);
    cnnc_tensor *o = cnnc_ones(CNNC_SHAPE(3), CNNC_INT64);
    cnnc_tensor *f = cnnc_full(CNNC_SHAPE(2), -7, CNNC_INT64);
    CHECK(e && z && o && f);
    if (e && z && o && f) {
        CHECK_EQ_INT(cnnc_tensor_dtype(e), CNNC_INT64);
        CHECK(cnnc_tensor_data_i64(e) != NULL);
        CHECK(all_i64(z, 0));
        CHECK(all_i64(o, 1));
        CHECK(all_i64(f, -7));
        double v = 0;
        cnnc_tensor *one = cnnc_full(CNNC_SHAPE(1), 123456789012.0, CNNC_INT64);
        REQUIRE(one);
        CHECK_OK(cnnc_tensor_item(one, &v));
        CHECK_NEAR(v, 123456789012.0, 0);
        cnnc_tensor_release(one);
    }
    cnnc_tensor_release(e);
    cnnc_tensor_release(z);
    cnnc_tensor_release(o);
    cnnc_tensor_release(f);
}

static void test_from_data_copies(void) {
    float src[6] = {1, 2, 3, 4, 5, 6};
    int64_t isrc[3] = {-1, 0, INT64_MAX};
    cnnc_tensor *t = cnnc_from_data(CNNC_SHAPE(2, 3), CNNC_FLOAT32, src);
    cnnc_tensor *u = cnnc_from_data(CNNC_SHAPE(3), CNNC_INT64, isrc);
    REQUIRE(t && u);
    src[0] = 100; /* the tensor holds a copy */
    float want[6] = {1, 2, 3, 4, 5, 6};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(t), want, 6, 0);
    CHECK(cnnc_tensor_data_f32(t) != src);
    int64_t *ud = cnnc_tensor_data_i64(u);
    REQUIRE(ud);
    CHECK_EQ_INT(ud[0], -1);
    CHECK_EQ_INT(ud[2], INT64_MAX);
    CHECK(cnnc_tensor_data(u) == (void *)ud);
    cnnc_tensor_release(t);
    cnnc_tensor_release(u);

    /* NULL data is allowed only when there is nothing to copy. */
    cnnc_tensor *empty = cnnc_from_data(CNNC_SHAPE(0, 4), CNNC_FLOAT32, NULL);
    CHECK(empty != NULL);
    if (empty) CHECK_EQ_INT(cnnc_tensor_numel(empty), 0);
    cnnc_tensor_release(empty);
    CHECK_TENSOR_ERR(cnnc_from_data(CNNC_SHAPE(2), CNNC_FLOAT32, NULL));
}

static void test_arange_float(void) {
    cnnc_tensor *a = cnnc_arange(0, 5, 1, CNNC_FLOAT32);
    REQUIRE(a);
    float w1[5] = {0, 1, 2, 3, 4};
    CHECK(shape_is(a, CNNC_SHAPE(5)));
    CHECK_EQ_INT(cnnc_tensor_dtype(a), CNNC_FLOAT32);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(a), w1, 5, 0);
    cnnc_tensor_release(a);

    /* torch.arange(0, 1, 0.3) -> [0.0, 0.3, 0.6, 0.9] */
    a = cnnc_arange(0, 1, 0.3, CNNC_FLOAT32);
    REQUIRE(a);
    float w2[4] = {0.0f, 0.3f, 0.6f, 0.9f};
    CHECK_EQ_INT(cnnc_tensor_numel(a), 4);
    if (cnnc_tensor_numel(a) == 4) CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(a), w2, 4, 1e-6);
    cnnc_tensor_release(a);

    /* PyTorch's size rule ceil((end - start) / step) in double: (1.3 - 1) / 0.1 is
     * 3.0000000000000004, so torch.arange(1, 1.3, 0.1) has 4 elements. */
    a = cnnc_arange(1, 1.3, 0.1, CNNC_FLOAT32);
    REQUIRE(a);
    CHECK_EQ_INT(cnnc_tensor_numel(a), 4);
    float w3[4] = {1.0f, 1.1f, 1.2f, 1.3f};
    if (cnnc_tensor_numel(a) == 4) CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(a), w3, 4, 1e-6);
    cnnc_tensor_release(a);

    /* torch.arange(0., 1., 0.1) has 10 elements; negative steps count down. */
    a = cnnc_arange(0, 1, 0.1, CNNC_FLOAT32);
    REQUIRE(a);
    CHECK_EQ_INT(cnnc_tensor_numel(a), 10);
    cnnc_tensor_release(a);
    a = cnnc_arange(-1, 1, 0.5, CNNC_FLOAT32);
    REQUIRE(a);
    float w4[4] = {-1.0f, -0.5f, 0.0f, 0.5f};
    CHECK_EQ_INT(cnnc_tensor_numel(a), 4);
    if (cnnc_tensor_numel(a) == 4) CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(a), w4, 4, 0);
    cnnc_tensor_release(a);
}

static void test_arange_int64_and_empty(void) {
    cnnc_tensor *a = cnnc_arange(0, 10, 3, CNNC_INT64);
    REQUIRE(a);
    CHECK_EQ_INT(cnnc_tensor_dtype(a), CNNC_INT64);
    CHECK_EQ_INT(cnnc_tensor_numel(a), 4);
    int64_t *d = cnnc_tensor_data_i64(a);
    if (d && cnnc_tensor_numel(a) == 4) {
        CHECK_EQ_INT(d[0], 0);
        CHECK_EQ_INT(d[1], 3);
        CHECK_EQ_INT(d[2], 6);
        CHECK_EQ_INT(d[3], 9);
    }
    cnnc_tensor_release(a);

    a = cnnc_arange(5, 0, -1, CNNC_INT64); /* [5, 4, 3, 2, 1] */
    REQUIRE(a);
    CHECK_EQ_INT(cnnc_tensor_numel(a), 5);
    d = cnnc_tensor_data_i64(a);
    if (d && cnnc_tensor_numel(a) == 5) {
        CHECK_EQ_INT(d[0], 5);
        CHECK_EQ_INT(d[4], 1);
    }
    cnnc_tensor_release(a);

    a = cnnc_arange(0, 0, 1, CNNC_INT64); /* empty */
    REQUIRE(a);
    CHECK_EQ_INT(cnnc_tensor_ndim(a), 1);
    CHECK_EQ_INT(cnnc_tensor_numel(a), 0);
    cnnc_tensor_release(a);
}

static void test_arange_errors(void) {
    CHECK_TENSOR_ERR(cnnc_arange(0, 5, 0, CNNC_FLOAT32));
    CHECK_ERROR_CONTAINS("step must be nonzero");
    CHECK_TENSOR_ERR(cnnc_arange(0, 5, -1, CNNC_FLOAT32));
    CHECK_ERROR_CONTAINS("upper bound and larger bound inconsistent with step sign");
    CHECK_TENSOR_ERR(cnnc_arange(5, 0, 1, CNNC_INT64));
    CHECK_TENSOR_ERR(cnnc_arange(0, NAN, 1, CNNC_FLOAT32));
    CHECK_TENSOR_ERR(cnnc_arange(0, INFINITY, 1, CNNC_FLOAT32));
    CHECK_TENSOR_ERR(cnnc_arange(0, 1, 1, (cnnc_dtype)42));
}

static void test_zero_dim_tensor(void) {
    cnnc_tensor *s = cnnc_full(0, NULL, 3.5, CNNC_FLOAT32);
    REQUIRE(s);
    CHECK_EQ_INT(cnnc_tensor_ndim(s), 0);
    CHECK_EQ_INT(cnnc_tensor_numel(s), 1);
    double v = 0;
    CHECK_OK(cnnc_tensor_item(s, &v));
    CHECK_NEAR(v, 3.5, 0);
    CHECK_EQ_INT(cnnc_tensor_size(s, 0), -1); /* no dims at all */
    CHECK(cnnc_last_status() != CNNC_OK);
    char *ss = cnnc_tensor_shape_string(s);
    CHECK_STR_EQ(ss, "[]");
    cnnc_free(ss);
    CHECK_TO_STRING(s, "tensor(3.5000)");
    cnnc_tensor_release(s);

    cnnc_tensor *z = cnnc_zeros(0, NULL, CNNC_FLOAT32);
    REQUIRE(z);
    CHECK_TO_STRING(z, "tensor(0.)");
    cnnc_tensor *sum = cnnc_sum(z);
    CHECK(sum && cnnc_tensor_ndim(sum) == 0);
    cnnc_tensor_release(sum);
    cnnc_tensor_release(z);

    cnnc_tensor *r = cnnc_rand(0, NULL);
    CHECK(r && cnnc_tensor_numel(r) == 1);
    cnnc_tensor_release(r);
}

static void test_zero_size_tensor(void) {
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2, 0, 3), CNNC_FLOAT32);
    REQUIRE(t);
    CHECK_EQ_INT(cnnc_tensor_ndim(t), 3);
    CHECK_EQ_INT(cnnc_tensor_numel(t), 0);
    CHECK_EQ_INT(cnnc_tensor_size(t, 1), 0);
    CHECK_EQ_INT(cnnc_tensor_size(t, -1), 3);
    double v;
    CHECK_ERR(cnnc_tensor_item(t, &v)); /* not one element */
    CHECK_OK(cnnc_tensor_fill_(t, 1.0));
    CHECK_OK(cnnc_tensor_zero_(t));

    /* sum over an empty tensor is 0, as torch.zeros(2, 0, 3).sum() */
    cnnc_tensor *s = cnnc_sum(t);
    REQUIRE(s);
    CHECK_OK(cnnc_tensor_item(s, &v));
    CHECK_NEAR(v, 0.0, 0);
    cnnc_tensor_release(s);

    cnnc_tensor *r = cnnc_reshape(t, CNNC_SHAPE(0, 6));
    CHECK(r && cnnc_tensor_numel(r) == 0);
    cnnc_tensor_release(r);
    cnnc_tensor *c = cnnc_tensor_clone(t);
    CHECK(c && cnnc_tensor_numel(c) == 0);
    cnnc_tensor_release(c);

    cnnc_tensor *rn = cnnc_randn(CNNC_SHAPE(0));
    CHECK(rn && cnnc_tensor_numel(rn) == 0);
    cnnc_tensor_release(rn);
    cnnc_tensor_release(t);
}

/* ---- getters ------------------------------------------------------------- */

static void test_getters_and_negative_dims(void) {
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2, 3, 4), CNNC_FLOAT32);
    REQUIRE(t);
    CHECK_EQ_INT(cnnc_tensor_ndim(t), 3);
    const int64_t *s = cnnc_tensor_shape(t);
    REQUIRE(s);
    CHECK_EQ_INT(s[0], 2);
    CHECK_EQ_INT(s[1], 3);
    CHECK_EQ_INT(s[2], 4);
    CHECK_EQ_INT(cnnc_tensor_size(t, 0), 2);
    CHECK_EQ_INT(cnnc_tensor_size(t, 2), 4);
    CHECK_EQ_INT(cnnc_tensor_size(t, -1), 4);
    CHECK_EQ_INT(cnnc_tensor_size(t, -3), 2);
    CHECK_EQ_INT(cnnc_tensor_numel(t), 24);
    CHECK_EQ_INT(cnnc_tensor_dtype(t), CNNC_FLOAT32);
    CHECK_STR_EQ(cnnc_dtype_name(CNNC_FLOAT32), "float32");
    CHECK_STR_EQ(cnnc_dtype_name(CNNC_INT64), "int64");
    CHECK(cnnc_dtype_name((cnnc_dtype)99) != NULL); /* something printable, no crash */

    cnnc_clear_error();
    CHECK_EQ_INT(cnnc_tensor_size(t, 3), -1);
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_CONTAINS("Dimension out of range (expected to be in range of [-3, 2], but got 3)");
    cnnc_clear_error();
    CHECK_EQ_INT(cnnc_tensor_size(t, -4), -1);
    CHECK_ERROR_CONTAINS("but got -4");
    CHECK_EQ_INT(cnnc_tensor_size(t, 1000000), -1);
    cnnc_tensor_release(t);
}

static void test_error_state_api(void) {
    cnnc_clear_error();
    CHECK_EQ_INT(cnnc_last_status(), CNNC_OK);
    CHECK_STR_EQ(cnnc_last_error(), "");
    CHECK_STR_EQ(cnnc_status_name(CNNC_OK), "CNNC_OK");
    CHECK_STR_EQ(cnnc_status_name(CNNC_ERR_INVALID_ARGUMENT), "CNNC_ERR_INVALID_ARGUMENT");
    CHECK_STR_EQ(cnnc_status_name(CNNC_ERR_OUT_OF_MEMORY), "CNNC_ERR_OUT_OF_MEMORY");
    CHECK_STR_EQ(cnnc_status_name(CNNC_ERR_NOT_FOUND), "CNNC_ERR_NOT_FOUND");
    CHECK(cnnc_status_name((cnnc_status)1234) != NULL);
    CHECK_STR_EQ(cnnc_version(), CNNC_VERSION_STRING);
    CHECK_TENSOR_ERR(cnnc_zeros(CNNC_SHAPE(-1), CNNC_FLOAT32));
    CHECK(cnnc_last_status() != CNNC_OK);
    cnnc_clear_error();
    CHECK_EQ_INT(cnnc_last_status(), CNNC_OK);
    CHECK_STR_EQ(cnnc_last_error(), "");
}

static void test_data_getters_dtype_mismatch(void) {
    cnnc_tensor *f = cnnc_zeros(CNNC_SHAPE(2), CNNC_FLOAT32);
    cnnc_tensor *i = cnnc_zeros(CNNC_SHAPE(2), CNNC_INT64);
    REQUIRE(f && i);
    CHECK_NULL_ERR(cnnc_tensor_data_i64(f));
    CHECK_ERROR_CONTAINS("float32");
    CHECK_NULL_ERR(cnnc_tensor_data_f32(i));
    CHECK_ERROR_CONTAINS("int64");
    CHECK(cnnc_tensor_data(f) == (void *)cnnc_tensor_data_f32(f));
    CHECK(cnnc_tensor_data(i) == (void *)cnnc_tensor_data_i64(i));
    cnnc_tensor_release(f);
    cnnc_tensor_release(i);
}

/* ---- the block cache (core/alloc.h) ---------------------------------------- */

/* A step's worth of large tensors (MobileNetV2's training step frees ~150 over 256 KB)
 * freed, then made again at the same sizes: every storage comes from the cache (with
 * 64 cache slots the rest went back to the system, and every step re-faulted ~20 MB
 * of fresh pages: a fifth of the step on a VM). */
static void test_block_cache_holds_a_step(void) {
    enum { N = 200 };
    cnnc_tensor *t[N];
    float *old[N];
    for (int i = 0; i < N; i++) {
        t[i] = cnnc_empty(CNNC_SHAPE(65536 + 4096 * (i % 7)), CNNC_FLOAT32); /* 256-280 KB */
        CHECK(t[i] != NULL);
        old[i] = cnnc_tensor_data_f32(t[i]);
    }
    for (int i = 0; i < N; i++) cnnc_tensor_release(t[i]);
    int reused = 0;
    for (int i = 0; i < N; i++) {
        t[i] = cnnc_empty(CNNC_SHAPE(65536 + 4096 * (i % 7)), CNNC_FLOAT32);
        const float *p = cnnc_tensor_data_f32(t[i]);
        for (int k = 0; k < N; k++) reused += p == old[k];
    }
    CHECK(reused == N);
    for (int i = 0; i < N; i++) cnnc_tensor_release(t[i]);
}

/* ---- refcounts, views, detach, clone ------------------------------------ */

static void test_retain_release(void) {
    cnnc_tensor *t = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    REQUIRE(t);
    CHECK(cnnc_tensor_retain(t) == t);
    CHECK(cnnc_tensor_retain(t) == t);
    cnnc_tensor_release(t);
    cnnc_tensor_release(t);
    CHECK(all_f32(t, 1.0f)); /* one reference left */
    cnnc_tensor_release(t);
    cnnc_tensor_release(NULL); /* no-op */
}

static void test_views_share_storage(void) {
    cnnc_tensor *base = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    REQUIRE(base);
    cnnc_tensor *v = cnnc_view(base, CNNC_SHAPE(6));
    cnnc_tensor *r = cnnc_reshape(base, CNNC_SHAPE(3, -1));
    cnnc_tensor *fl = cnnc_flatten(base, 0, -1);
    REQUIRE(v && r && fl);
    CHECK(shape_is(r, CNNC_SHAPE(3, 2)));
    CHECK(shape_is(fl, CNNC_SHAPE(6)));
    cnnc_tensor_data_f32(base)[4] = 7.0f;
    CHECK(cnnc_tensor_data_f32(v)[4] == 7.0f);
    CHECK(cnnc_tensor_data_f32(r)[4] == 7.0f);
    CHECK(cnnc_tensor_data_f32(fl)[4] == 7.0f);

    /* the view keeps the storage alive after the base is gone */
    cnnc_tensor_release(base);
    cnnc_tensor_release(r);
    cnnc_tensor_release(fl);
    CHECK(cnnc_tensor_data_f32(v)[4] == 7.0f);
    CHECK_OK(cnnc_tensor_fill_(v, 2.0));
    CHECK(all_f32(v, 2.0f));
    cnnc_tensor_release(v);
}

static void test_view_errors(void) {
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    REQUIRE(t);
    CHECK_TENSOR_ERR(cnnc_view(t, CNNC_SHAPE(4)));
    CHECK_ERROR_CONTAINS("shape '[4]' is invalid for input of size 6");
    CHECK_TENSOR_ERR(cnnc_reshape(t, CNNC_SHAPE(-1, -1)));
    CHECK_ERROR_CONTAINS("only one dimension can be inferred");
    CHECK_TENSOR_ERR(cnnc_reshape(t, CNNC_SHAPE(-1, 4)));
    CHECK_TENSOR_ERR(cnnc_reshape(t, CNNC_SHAPE(-2, 3)));
    CHECK_TENSOR_ERR(cnnc_flatten(t, 1, 0));
    CHECK_TENSOR_ERR(cnnc_flatten(t, 0, 5));
    cnnc_tensor_release(t);
}

static void test_detach_shares_clone_copies(void) {
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    REQUIRE(x);
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    cnnc_tensor *d = cnnc_tensor_detach(x);
    cnnc_tensor *c = cnnc_tensor_clone(x);
    REQUIRE(d && c);
    CHECK(!cnnc_tensor_requires_grad(d));
    CHECK(cnnc_tensor_is_leaf(d));
    CHECK(cnnc_tensor_requires_grad(c));
    CHECK(!cnnc_tensor_is_leaf(c));
    CHECK(cnnc_tensor_data_f32(d) == cnnc_tensor_data_f32(x));
    CHECK(cnnc_tensor_data_f32(c) != cnnc_tensor_data_f32(x));
    CHECK(shape_is(c, CNNC_SHAPE(4)));

    /* detach shares the version counter too (it is the same storage) */
    uint64_t v0 = cnnc_tensor_version(x);
    CHECK_OK(cnnc_tensor_fill_(d, 3.0));
    CHECK(all_f32(x, 3.0f));
    CHECK(all_f32(c, 1.0f));
    CHECK(cnnc_tensor_version(x) > v0);
    CHECK(cnnc_tensor_version(x) == cnnc_tensor_version(d));

    cnnc_tensor_release(x); /* d and c outlive x */
    CHECK(all_f32(d, 3.0f));
    cnnc_tensor_release(d);
    cnnc_tensor_release(c);
}

/* ---- in-place ops and the version counter ------------------------------- */

static void test_fill_zero_copy_and_version(void) {
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    REQUIRE(t);
    CHECK_EQ_INT(cnnc_tensor_version(t), 0);
    CHECK_OK(cnnc_tensor_fill_(t, 1.5));
    CHECK(all_f32(t, 1.5f));
    CHECK_EQ_INT(cnnc_tensor_version(t), 1);
    cnnc_tensor *v = cnnc_view(t, CNNC_SHAPE(6));
    REQUIRE(v);
    CHECK_OK(cnnc_tensor_zero_(v));
    CHECK(all_f32(t, 0.0f));
    CHECK_EQ_INT(cnnc_tensor_version(t), 2); /* shared with the view, as torch */
    CHECK_EQ_INT(cnnc_tensor_version(v), 2);

    float src_data[6] = {1, 2, 3, 4, 5, 6};
    cnnc_tensor *src = cnnc_from_data(CNNC_SHAPE(3, 2), CNNC_FLOAT32, src_data);
    REQUIRE(src);
    CHECK_OK(cnnc_tensor_copy_(t, src)); /* equal numel, different shape */
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(t), src_data, 6, 0);
    CHECK_EQ_INT(cnnc_tensor_version(t), 3);
    CHECK_EQ_INT(cnnc_tensor_version(src), 0);
    CHECK(shape_is(t, CNNC_SHAPE(2, 3)));

    cnnc_tensor *small = cnnc_zeros(CNNC_SHAPE(4), CNNC_FLOAT32);
    cnnc_tensor *ints = cnnc_zeros(CNNC_SHAPE(6), CNNC_INT64);
    REQUIRE(small && ints);
    CHECK_ERR(cnnc_tensor_copy_(t, small));
    CHECK_ERR(cnnc_tensor_copy_(t, ints));
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(t), src_data, 6, 0); /* unchanged */
    CHECK_EQ_INT(cnnc_tensor_version(t), 3);

    cnnc_tensor *it = cnnc_zeros(CNNC_SHAPE(2), CNNC_INT64);
    REQUIRE(it);
    CHECK_OK(cnnc_tensor_fill_(it, 9));
    CHECK(all_i64(it, 9));
    cnnc_tensor_release(it);

    cnnc_tensor_release(small);
    cnnc_tensor_release(ints);
    cnnc_tensor_release(src);
    cnnc_tensor_release(v);
    cnnc_tensor_release(t);
}

/* ---- printing ------------------------------------------------------------ */

static void test_to_string_zero_dim(void) {
    cnnc_tensor *a = cnnc_full(0, NULL, 3.5, CNNC_FLOAT32);
    cnnc_tensor *b = cnnc_full(0, NULL, 7, CNNC_INT64);
    cnnc_tensor *c = cnnc_full(0, NULL, -2, CNNC_FLOAT32);
    REQUIRE(a && b && c);
    CHECK_TO_STRING(a, "tensor(3.5000)");
    CHECK_TO_STRING(b, "tensor(7)");
    CHECK_TO_STRING(c, "tensor(-2.)");
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);
}

static void test_to_string_1d(void) {
    float d1[3] = {-1.5f, 0.25f, 3.0f};
    float d2[3] = {1, 2, 3};
    float d3[2] = {100.0f, 1.5f};
    cnnc_tensor *a = cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, d1);
    cnnc_tensor *b = cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, d2);
    cnnc_tensor *c = cnnc_full(CNNC_SHAPE(2), 0.1, CNNC_FLOAT32);
    cnnc_tensor *e = cnnc_from_data(CNNC_SHAPE(2), CNNC_FLOAT32, d3);
    REQUIRE(a && b && c && e);
    CHECK_TO_STRING(a, "tensor([-1.5000,  0.2500,  3.0000])");
    CHECK_TO_STRING(b, "tensor([1., 2., 3.])");
    CHECK_TO_STRING(c, "tensor([0.1000, 0.1000])");
    CHECK_TO_STRING(e, "tensor([100.0000,   1.5000])");
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);
    cnnc_tensor_release(e);
}

static void test_to_string_2d_3d(void) {
    float d[4] = {1, -2, 3, 4.5f};
    cnnc_tensor *a = cnnc_from_data(CNNC_SHAPE(2, 2), CNNC_FLOAT32, d);
    cnnc_tensor *b = cnnc_ones(CNNC_SHAPE(2, 2, 2), CNNC_FLOAT32);
    cnnc_tensor *c = cnnc_zeros(CNNC_SHAPE(1, 1, 1, 1, 1), CNNC_FLOAT32);
    REQUIRE(a && b && c);
    CHECK_TO_STRING(a, "tensor([[ 1.0000, -2.0000],\n        [ 3.0000,  4.5000]])");
    CHECK_TO_STRING(b, "tensor([[[1., 1.],\n         [1., 1.]],\n\n        [[1., 1.],\n         [1., 1.]]])");
    CHECK_TO_STRING(c, "tensor([[[[[0.]]]]])");
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);
}

static void test_to_string_int64(void) {
    cnnc_tensor *a = cnnc_arange(0, 10, 1, CNNC_INT64);
    REQUIRE(a);
    cnnc_tensor *a2 = cnnc_reshape(a, CNNC_SHAPE(2, 5));
    cnnc_tensor *b = cnnc_arange(-5, 5, 1, CNNC_INT64);
    REQUIRE(a2 && b);
    cnnc_tensor *b2 = cnnc_reshape(b, CNNC_SHAPE(2, 5));
    cnnc_tensor *z = cnnc_zeros(CNNC_SHAPE(3), CNNC_INT64);
    REQUIRE(b2 && z);
    CHECK_TO_STRING(a2, "tensor([[0, 1, 2, 3, 4],\n        [5, 6, 7, 8, 9]])");
    CHECK_TO_STRING(b2, "tensor([[-5, -4, -3, -2, -1],\n        [ 0,  1,  2,  3,  4]])");
    CHECK_TO_STRING(z, "tensor([0, 0, 0])");
    cnnc_tensor_release(a);
    cnnc_tensor_release(a2);
    cnnc_tensor_release(b);
    cnnc_tensor_release(b2);
    cnnc_tensor_release(z);
}

static void test_to_string_empty(void) {
    cnnc_tensor *a = cnnc_zeros(CNNC_SHAPE(0), CNNC_FLOAT32);
    cnnc_tensor *b = cnnc_zeros(CNNC_SHAPE(2, 0), CNNC_FLOAT32);
    cnnc_tensor *c = cnnc_zeros(CNNC_SHAPE(0), CNNC_INT64);
    cnnc_tensor *d = cnnc_zeros(CNNC_SHAPE(0, 3), CNNC_INT64);
    REQUIRE(a && b && c && d);
    CHECK_TO_STRING(a, "tensor([])");
    CHECK_TO_STRING(b, "tensor([], size=(2, 0))");
    CHECK_TO_STRING(c, "tensor([], dtype=torch.int64)");
    CHECK_TO_STRING(d, "tensor([], size=(0, 3), dtype=torch.int64)");
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);
    cnnc_tensor_release(d);
}

static void test_to_string_large_summarised(void) {
    cnnc_tensor *a = cnnc_arange(0, 1001, 1, CNNC_INT64);
    cnnc_tensor *b = cnnc_ones(CNNC_SHAPE(1001), CNNC_FLOAT32);
    cnnc_tensor *c = cnnc_ones(CNNC_SHAPE(40, 30), CNNC_FLOAT32);
    REQUIRE(a && b && c);
    CHECK_TO_STRING(a, "tensor([   0,    1,    2,  ...,  998,  999, 1000])");
    CHECK_TO_STRING(b, "tensor([1., 1., 1.,  ..., 1., 1., 1.])");
    CHECK_TO_STRING(c,
                    "tensor([[1., 1., 1.,  ..., 1., 1., 1.],\n"
                    "        [1., 1., 1.,  ..., 1., 1., 1.],\n"
                    "        [1., 1., 1.,  ..., 1., 1., 1.],\n"
                    "        ...,\n"
                    "        [1., 1., 1.,  ..., 1., 1., 1.],\n"
                    "        [1., 1., 1.,  ..., 1., 1., 1.],\n"
                    "        [1., 1., 1.,  ..., 1., 1., 1.]])");

    /* a really large one stays short */
    cnnc_tensor *big = cnnc_zeros(CNNC_SHAPE(1000, 1000), CNNC_FLOAT32);
    REQUIRE(big);
    char *s = cnnc_tensor_to_string(big);
    CHECK(s != NULL);
    if (s) {
        CHECK(strlen(s) < 1000);
        CHECK_CONTAINS(s, "...");
    }
    cnnc_free(s);
    cnnc_tensor_release(big);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);
}

static void test_to_string_scientific_and_special(void) {
    float d1[2] = {1e-5f, 1.0f};
    float d2[3] = {NAN, INFINITY, 1.0f};
    float d3[2] = {-0.0f, -0.0f};
    cnnc_tensor *a = cnnc_from_data(CNNC_SHAPE(2), CNNC_FLOAT32, d1);
    cnnc_tensor *b = cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, d2);
    cnnc_tensor *c = cnnc_from_data(CNNC_SHAPE(2), CNNC_FLOAT32, d3);
    REQUIRE(a && b && c);
    CHECK_TO_STRING(a, "tensor([1.0000e-05, 1.0000e+00])");
    CHECK_TO_STRING(b, "tensor([nan, inf, 1.])");
    CHECK_TO_STRING(c, "tensor([-0., -0.])");
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);
}

static void test_to_string_requires_grad(void) {
    cnnc_tensor *a = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    REQUIRE(a);
    CHECK_OK(cnnc_tensor_set_requires_grad(a, true));
    CHECK_TO_STRING(a, "tensor([[0., 0., 0.],\n        [0., 0., 0.]], requires_grad=True)");
    cnnc_tensor_release(a);
}

static void test_print_writes_to_string(void) {
    float d[2] = {0.1f, 2.0f};
    cnnc_tensor *t = cnnc_from_data(CNNC_SHAPE(1, 2), CNNC_FLOAT32, d);
    REQUIRE(t);
    FILE *f = tmpfile();
    REQUIRE(f);
    CHECK_OK(cnnc_tensor_print(t, f));
    rewind(f);
    char buf[256] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    CHECK_STR_EQ(buf, "tensor([[0.1000, 2.0000]])\n");
    CHECK_ERR(cnnc_tensor_print(t, NULL));
    CHECK_ERR(cnnc_tensor_print(NULL, stdout));
    cnnc_tensor_release(t);
}

static void test_shape_string(void) {
    cnnc_tensor *a = cnnc_zeros(CNNC_SHAPE(1, 3, 14, 14), CNNC_FLOAT32);
    cnnc_tensor *b = cnnc_zeros(CNNC_SHAPE(5), CNNC_INT64);
    cnnc_tensor *c = cnnc_zeros(CNNC_SHAPE(2, 0), CNNC_FLOAT32);
    REQUIRE(a && b && c);
    char *s = cnnc_tensor_shape_string(a);
    CHECK_STR_EQ(s, "[1, 3, 14, 14]");
    cnnc_free(s);
    s = cnnc_tensor_shape_string(b);
    CHECK_STR_EQ(s, "[5]");
    cnnc_free(s);
    s = cnnc_tensor_shape_string(c);
    CHECK_STR_EQ(s, "[2, 0]");
    cnnc_free(s);
    cnnc_free(NULL);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);
}

/* ---- creation errors ----------------------------------------------------- */

static void test_negative_size_error(void) {
    CHECK_TENSOR_ERR(cnnc_zeros(CNNC_SHAPE(2, -1), CNNC_FLOAT32));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_CONTAINS("Trying to create tensor with negative dimension -1: [2, -1]");
    CHECK_TENSOR_ERR(cnnc_empty(CNNC_SHAPE(-3), CNNC_INT64));
    CHECK_TENSOR_ERR(cnnc_ones(CNNC_SHAPE(0, -1), CNNC_FLOAT32));
    CHECK_TENSOR_ERR(cnnc_full(CNNC_SHAPE(-1), 1.0, CNNC_FLOAT32));
    CHECK_TENSOR_ERR(cnnc_rand(CNNC_SHAPE(2, -2)));
    CHECK_TENSOR_ERR(cnnc_randn(CNNC_SHAPE(-2)));
    float d[1] = {0};
    CHECK_TENSOR_ERR(cnnc_from_data(CNNC_SHAPE(-1), CNNC_FLOAT32, d));
}

static void test_ndim_limits(void) {
    int64_t shape[CNNC_MAX_DIMS + 1];
    for (int i = 0; i <= CNNC_MAX_DIMS; i++) shape[i] = 1;
    cnnc_tensor *t = cnnc_zeros(CNNC_MAX_DIMS, shape, CNNC_FLOAT32);
    CHECK(t != NULL);
    if (t) CHECK_EQ_INT(cnnc_tensor_ndim(t), CNNC_MAX_DIMS);
    cnnc_tensor_release(t);
    CHECK_TENSOR_ERR(cnnc_zeros(CNNC_MAX_DIMS + 1, shape, CNNC_FLOAT32));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_TENSOR_ERR(cnnc_empty(CNNC_MAX_DIMS + 1, shape, CNNC_FLOAT32));
    CHECK_TENSOR_ERR(cnnc_rand(CNNC_MAX_DIMS + 1, shape));
    CHECK_TENSOR_ERR(cnnc_zeros(-1, shape, CNNC_FLOAT32));
    CHECK_TENSOR_ERR(cnnc_zeros(2, NULL, CNNC_FLOAT32)); /* ndim > 0 needs a shape */
    CHECK_TENSOR_ERR(cnnc_zeros(CNNC_SHAPE(2), (cnnc_dtype)7));
    CHECK_TENSOR_ERR(cnnc_zeros(CNNC_SHAPE(2), CNNC_DTYPE_COUNT));
    cnnc_tensor *one = cnnc_zeros(CNNC_SHAPE(1), CNNC_FLOAT32);
    REQUIRE(one);
    CHECK_TENSOR_ERR(cnnc_reshape(one, CNNC_MAX_DIMS + 1, shape));
    cnnc_tensor_release(one);
}

static void test_size_overflow_is_an_error(void) {
    /* numel overflows int64 */
    int64_t s1[2] = {INT64_C(1) << 62, 4};
    int64_t s2[3] = {INT64_C(1) << 40, INT64_C(1) << 30, 16};
    int64_t s3[2] = {INT64_MAX, INT64_MAX};
    /* numel fits int64 but the byte count overflows size_t (on 64-bit) */
    int64_t s4[2] = {INT64_C(1) << 31, INT64_C(1) << 31};
    const int64_t *shapes[] = {s1, s2, s3, s4};
    const int ndims[] = {2, 3, 2, 2};
    for (int i = 0; i < 4; i++) {
        for (int dt = 0; dt < 2; dt++) {
            CHECK_TENSOR_ERR(cnnc_empty(ndims[i], shapes[i], (cnnc_dtype)dt));
            cnnc_status st = cnnc_last_status();
            CHECK(st == CNNC_ERR_OUT_OF_MEMORY || st == CNNC_ERR_INVALID_ARGUMENT);
            CHECK_TENSOR_ERR(cnnc_zeros(ndims[i], shapes[i], (cnnc_dtype)dt));
            CHECK_TENSOR_ERR(cnnc_full(ndims[i], shapes[i], 1.0, (cnnc_dtype)dt));
        }
        CHECK_TENSOR_ERR(cnnc_rand(ndims[i], shapes[i]));
        CHECK_TENSOR_ERR(cnnc_randn(ndims[i], shapes[i]));
        float d[1] = {0};
        CHECK_TENSOR_ERR(cnnc_from_data(ndims[i], shapes[i], CNNC_FLOAT32, d));
    }
    /* a view whose shape product overflows */
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(4), CNNC_FLOAT32);
    REQUIRE(t);
    CHECK_TENSOR_ERR(cnnc_reshape(t, 2, s3));
    CHECK_TENSOR_ERR(cnnc_reshape(t, CNNC_SHAPE(INT64_C(1) << 62, 4, -1)));
    CHECK_TENSOR_ERR(cnnc_view(t, CNNC_SHAPE(INT64_C(1) << 62, 8)));
    cnnc_tensor_release(t);
    /* arange with more elements than memory */
    CHECK_TENSOR_ERR(cnnc_arange(0, 1e300, 1e-300, CNNC_FLOAT32));
    CHECK_TENSOR_ERR(cnnc_arange(0, 9.3e18, 1, CNNC_INT64));
}

/* ---- random numbers ----------------------------------------------------- */

static void test_rand_in_unit_interval(void) {
    cnnc_manual_seed(1);
    cnnc_tensor *r = cnnc_rand(CNNC_SHAPE(100000));
    REQUIRE(r);
    CHECK_EQ_INT(cnnc_tensor_dtype(r), CNNC_FLOAT32);
    const float *d = cnnc_tensor_data_f32(r);
    REQUIRE(d);
    double sum = 0;
    float lo = 1, hi = 0;
    int bad = 0;
    for (int i = 0; i < 100000; i++) {
        if (!(d[i] >= 0.0f && d[i] < 1.0f)) bad++;
        sum += d[i];
        lo = d[i] < lo ? d[i] : lo;
        hi = d[i] > hi ? d[i] : hi;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_NEAR(sum / 100000, 0.5, 0.01);
    CHECK(lo < 0.001f);
    CHECK(hi > 0.999f);
    cnnc_tensor_release(r);
}

static void test_randn_mean_and_std(void) {
    cnnc_manual_seed(2);
    cnnc_tensor *r = cnnc_randn(CNNC_SHAPE(100, 1000));
    REQUIRE(r);
    const float *d = cnnc_tensor_data_f32(r);
    REQUIRE(d);
    double sum = 0, sq = 0;
    int nonfinite = 0, beyond3 = 0;
    for (int i = 0; i < 100000; i++) {
        if (!isfinite(d[i])) nonfinite++;
        sum += d[i];
        sq += (double)d[i] * d[i];
        if (fabs(d[i]) > 3) beyond3++;
    }
    double mean = sum / 100000, std = sqrt(sq / 100000 - mean * mean);
    CHECK_EQ_INT(nonfinite, 0);
    CHECK_NEAR(mean, 0.0, 0.02);
    CHECK_NEAR(std, 1.0, 0.02);
    /* P(|z| > 3) = 0.27% -> about 270 of 1e5 */
    CHECK(beyond3 > 150 && beyond3 < 400);
    cnnc_tensor_release(r);
}

static int same_f32(cnnc_tensor *a, cnnc_tensor *b) {
    if (!a || !b || cnnc_tensor_numel(a) != cnnc_tensor_numel(b)) return 0;
    return memcmp(cnnc_tensor_data_f32(a), cnnc_tensor_data_f32(b),
                  (size_t)cnnc_tensor_numel(a) * sizeof(float)) == 0;
}

static void test_manual_seed_reproducible(void) {
    cnnc_manual_seed(42);
    cnnc_tensor *a1 = cnnc_rand(CNNC_SHAPE(257));
    cnnc_tensor *b1 = cnnc_randn(CNNC_SHAPE(3, 5));
    cnnc_manual_seed(42);
    cnnc_tensor *a2 = cnnc_rand(CNNC_SHAPE(257));
    cnnc_tensor *b2 = cnnc_randn(CNNC_SHAPE(3, 5));
    cnnc_tensor *a3 = cnnc_rand(CNNC_SHAPE(257)); /* the stream moves on */
    cnnc_manual_seed(43);
    cnnc_tensor *a4 = cnnc_rand(CNNC_SHAPE(257));
    REQUIRE(a1 && b1 && a2 && b2 && a3 && a4);
    CHECK(same_f32(a1, a2));
    CHECK(same_f32(b1, b2));
    CHECK(!same_f32(a1, a3));
    CHECK(!same_f32(a1, a4));
    cnnc_tensor_release(a1);
    cnnc_tensor_release(b1);
    cnnc_tensor_release(a2);
    cnnc_tensor_release(b2);
    cnnc_tensor_release(a3);
    cnnc_tensor_release(a4);
}

/* get_rng_state / set_rng_state: the numbers after a restored state are the same
 * as after the saved one; bad states are errors that change nothing. */
static void test_rng_state_round_trip(void) {
    cnnc_manual_seed(5);
    cnnc_tensor *skip = cnnc_rand(CNNC_SHAPE(3)); /* move off the seed */
    cnnc_tensor *st = cnnc_get_rng_state();
    REQUIRE(skip && st);
    CHECK_EQ_INT(cnnc_tensor_dtype(st), CNNC_INT64);
    CHECK_EQ_INT(cnnc_tensor_numel(st), 4);
    cnnc_tensor *a = cnnc_randn(CNNC_SHAPE(33));
    cnnc_manual_seed(99); /* elsewhere */
    CHECK_OK(cnnc_set_rng_state(st));
    cnnc_tensor *b = cnnc_randn(CNNC_SHAPE(33));
    CHECK(same_f32(a, b));
    cnnc_tensor *zero = cnnc_zeros(CNNC_SHAPE(4), CNNC_INT64);
    cnnc_tensor *wrong_shape = cnnc_ones(CNNC_SHAPE(5), CNNC_INT64);
    cnnc_tensor *wrong_dtype = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    CHECK_OK(cnnc_set_rng_state(st));
    CHECK(cnnc_set_rng_state(zero) == CNNC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnnc_last_error(), "all zeros") != NULL);
    CHECK(cnnc_set_rng_state(wrong_shape) == CNNC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnnc_last_error(), "shape [5]") != NULL);
    CHECK(cnnc_set_rng_state(wrong_dtype) == CNNC_ERR_INVALID_ARGUMENT);
    CHECK(cnnc_set_rng_state(NULL) == CNNC_ERR_INVALID_ARGUMENT);
    cnnc_tensor *c = cnnc_randn(CNNC_SHAPE(33)); /* the failed calls changed nothing */
    CHECK(same_f32(a, c));
    cnnc_tensor_release(skip);
    cnnc_tensor_release(st);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);
    cnnc_tensor_release(zero);
    cnnc_tensor_release(wrong_shape);
    cnnc_tensor_release(wrong_dtype);
}

static void test_random_independent_of_thread_count(void) {
    int old = cnnc_get_num_threads();
    CHECK_OK(cnnc_set_num_threads(1));
    cnnc_manual_seed(7);
    cnnc_tensor *a = cnnc_randn(CNNC_SHAPE(50000));
    CHECK_OK(cnnc_set_num_threads(4));
    cnnc_manual_seed(7);
    cnnc_tensor *b = cnnc_randn(CNNC_SHAPE(50000));
    CHECK_OK(cnnc_set_num_threads(old));
    REQUIRE(a && b);
    CHECK(same_f32(a, b));
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
}

/* ---- runtime settings ---------------------------------------------------- */

static void test_set_num_threads(void) {
    int old = cnnc_get_num_threads();
    CHECK(old >= 1);
    CHECK_ERR(cnnc_set_num_threads(0));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_ERR(cnnc_set_num_threads(-3));
    CHECK_EQ_INT(cnnc_get_num_threads(), old); /* unchanged by the errors */
    CHECK_OK(cnnc_set_num_threads(1));
    CHECK_EQ_INT(cnnc_get_num_threads(), 1);
    CHECK_OK(cnnc_set_num_threads(3));
    CHECK_EQ_INT(cnnc_get_num_threads(), 3);
    CHECK_OK(cnnc_set_num_threads(old));
    CHECK_EQ_INT(cnnc_get_num_threads(), old);
}

static void test_grad_mode_flag(void) {
    CHECK(cnnc_is_grad_enabled());
    CHECK(cnnc_set_grad_enabled(false) == true);
    CHECK(!cnnc_is_grad_enabled());
    CHECK(cnnc_set_grad_enabled(false) == false);
    CHECK(cnnc_set_grad_enabled(true) == false);
    CHECK(cnnc_is_grad_enabled());
}

/* ---- NULL arguments ------------------------------------------------------ */

static void test_null_arguments_tensor_api(void) {
    double v;
    CHECK(cnnc_tensor_retain(NULL) == NULL);
    CHECK_EQ_INT(cnnc_tensor_ndim(NULL), -1);
    CHECK(cnnc_tensor_shape(NULL) == NULL);
    CHECK_SETS_ERROR(cnnc_tensor_size(NULL, 0));
    CHECK_EQ_INT(cnnc_tensor_size(NULL, 0), -1);
    CHECK_EQ_INT(cnnc_tensor_numel(NULL), -1);
    CHECK(cnnc_tensor_dtype(NULL) >= CNNC_DTYPE_COUNT);
    CHECK_NULL_ERR(cnnc_tensor_data(NULL));
    CHECK_NULL_ERR(cnnc_tensor_data_f32(NULL));
    CHECK_NULL_ERR(cnnc_tensor_data_i64(NULL));
    CHECK_ERR(cnnc_tensor_item(NULL, &v));
    CHECK_ERR(cnnc_tensor_fill_(NULL, 1.0));
    CHECK_ERR(cnnc_tensor_zero_(NULL));
    CHECK_TENSOR_ERR(cnnc_tensor_detach(NULL));
    CHECK_TENSOR_ERR(cnnc_tensor_clone(NULL));
    CHECK_NULL_ERR(cnnc_tensor_shape_string(NULL));
    CHECK_NULL_ERR(cnnc_tensor_to_string(NULL));
    CHECK_ERR(cnnc_tensor_print(NULL, stdout));

    cnnc_tensor *t = cnnc_ones(CNNC_SHAPE(1), CNNC_FLOAT32);
    REQUIRE(t);
    CHECK_ERR(cnnc_tensor_item(t, NULL));
    CHECK_ERR(cnnc_tensor_copy_(t, NULL));
    CHECK_ERR(cnnc_tensor_copy_(NULL, t));
    CHECK(all_f32(t, 1.0f));
    cnnc_tensor_release(t);
}

static void test_null_arguments_autograd_api(void) {
    CHECK(!cnnc_tensor_requires_grad(NULL));
    CHECK_ERR(cnnc_tensor_set_requires_grad(NULL, true));
    CHECK(!cnnc_tensor_is_leaf(NULL));
    CHECK(cnnc_tensor_grad(NULL) == NULL);
    CHECK_ERR(cnnc_tensor_set_grad(NULL, NULL));
    CHECK(cnnc_tensor_grad_fn_name(NULL) == NULL);
    (void)cnnc_tensor_version(NULL);
    CHECK_ERR(cnnc_backward(NULL, NULL, false));
}

/* Getters cannot return a status, so for them "an error" is the thread-local
 * one: a NULL tensor is a caller's mistake that cnnc_last_error() should name,
 * as cnnc_tensor_size(NULL, 0) does (and as for every other public function). */
static void test_null_arguments_getters_set_error(void) {
    CHECK_SETS_ERROR(cnnc_tensor_ndim(NULL));
    CHECK_SETS_ERROR(cnnc_tensor_shape(NULL));
    CHECK_SETS_ERROR(cnnc_tensor_numel(NULL));
    CHECK_SETS_ERROR(cnnc_tensor_dtype(NULL));
    CHECK_SETS_ERROR(cnnc_tensor_requires_grad(NULL));
    CHECK_SETS_ERROR(cnnc_tensor_is_leaf(NULL));
    CHECK_SETS_ERROR(cnnc_tensor_grad(NULL));
    CHECK_SETS_ERROR(cnnc_tensor_grad_fn_name(NULL));
    CHECK_SETS_ERROR(cnnc_tensor_version(NULL));
    CHECK_SETS_ERROR(cnnc_tensor_list_size(NULL));
}

static void test_null_arguments_ops(void) {
    cnnc_tensor *t = cnnc_ones(CNNC_SHAPE(2, 2), CNNC_FLOAT32);
    REQUIRE(t);
    int dims[1] = {0};
    cnnc_tensor *pair[2] = {t, NULL};
    CHECK_TENSOR_ERR(cnnc_add(t, NULL));
    CHECK_TENSOR_ERR(cnnc_add(NULL, t));
    CHECK_TENSOR_ERR(cnnc_sub(NULL, t));
    CHECK_TENSOR_ERR(cnnc_mul(t, NULL));
    CHECK_TENSOR_ERR(cnnc_div(NULL, NULL));
    CHECK_TENSOR_ERR(cnnc_neg(NULL));
    CHECK_TENSOR_ERR(cnnc_add_scalar(NULL, 1));
    CHECK_TENSOR_ERR(cnnc_mul_scalar(NULL, 1));
    CHECK_TENSOR_ERR(cnnc_sum(NULL));
    CHECK_TENSOR_ERR(cnnc_sum_dims(NULL, 1, dims, false));
    CHECK_TENSOR_ERR(cnnc_sum_dims(t, 1, NULL, false));
    CHECK_TENSOR_ERR(cnnc_mean(NULL));
    CHECK_TENSOR_ERR(cnnc_mean_dims(NULL, 1, dims, true));
    CHECK_TENSOR_ERR(cnnc_mean_dims(t, 1, NULL, true));
    CHECK_TENSOR_ERR(cnnc_reshape(NULL, CNNC_SHAPE(4)));
    CHECK_TENSOR_ERR(cnnc_reshape(t, 1, NULL));
    CHECK_TENSOR_ERR(cnnc_view(NULL, CNNC_SHAPE(4)));
    CHECK_TENSOR_ERR(cnnc_flatten(NULL, 0, -1));
    CHECK_TENSOR_ERR(cnnc_transpose(NULL, 0, 1));
    CHECK_TENSOR_ERR(cnnc_permute(NULL, 2, (const int[]){1, 0}));
    CHECK_TENSOR_ERR(cnnc_permute(t, 2, NULL));
    CHECK_TENSOR_ERR(cnnc_cat(2, NULL, 0));
    CHECK_TENSOR_ERR(cnnc_cat(2, pair, 0));
    CHECK_TENSOR_ERR(cnnc_cat(0, pair, 0));
    CHECK_TENSOR_ERR(cnnc_matmul(NULL, t));
    CHECK_TENSOR_ERR(cnnc_matmul(t, NULL));
    CHECK_TENSOR_ERR(cnnc_relu(NULL));
    CHECK_ERR(cnnc_relu_(NULL));
    CHECK_TENSOR_ERR(cnnc_linear(NULL, t, NULL));
    CHECK_TENSOR_ERR(cnnc_linear(t, NULL, NULL));
    cnnc_tensor_release(t);
}

static void test_null_arguments_list_api(void) {
    cnnc_tensor_list_free(NULL);
    CHECK_ERR(cnnc_tensor_list_append(NULL, "a", NULL));
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    REQUIRE(l);
    CHECK_ERR(cnnc_tensor_list_append(l, NULL, NULL));
    CHECK_EQ_INT(cnnc_tensor_list_size(l), 0);
    CHECK_EQ_INT(cnnc_tensor_list_size(NULL), 0);
    CHECK_NULL_ERR(cnnc_tensor_list_name(NULL, 0));
    CHECK_NULL_ERR(cnnc_tensor_list_get(NULL, 0));
    CHECK_NULL_ERR(cnnc_tensor_list_find(NULL, "a"));
    CHECK_NULL_ERR(cnnc_tensor_list_find(l, NULL));
    cnnc_tensor_list_free(l);
}

/* ---- scopes -------------------------------------------------------------- */

static void test_scope_releases_new_tensors(void) {
    cnnc_set_allocator(&counting_allocator);
    live_allocs = 0;
    cnnc_tensor *outside = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    REQUIRE(outside);
    long before = live_allocs;
    cnnc_tensor *kept = NULL;

    CHECK_OK(cnnc_scope_begin());
    cnnc_tensor *a = cnnc_zeros(CNNC_SHAPE(3), CNNC_FLOAT32);
    cnnc_tensor *b = cnnc_add(a, outside);
    cnnc_tensor *c = cnnc_mul_scalar(b, 2.0);
    cnnc_tensor *v = cnnc_view(c, CNNC_SHAPE(1, 3));
    cnnc_tensor *s = cnnc_sum(v);
    CHECK(a && b && c && v && s);
    CHECK(live_allocs > before);
    if (c) kept = cnnc_tensor_retain(c);
    CHECK_OK(cnnc_scope_end());

    /* a, b, v and s are gone; c lives on through the extra reference */
    REQUIRE(kept);
    CHECK(all_f32(kept, 2.0f));
    CHECK(all_f32(outside, 1.0f));
    CHECK(live_allocs > before);
    cnnc_tensor_release(kept);
    CHECK_EQ_INT(live_allocs, before);
    cnnc_tensor_release(outside);
    CHECK_EQ_INT(live_allocs, 0);
    cnnc_set_allocator(NULL);
}

static void test_scopes_nest(void) {
    cnnc_set_allocator(&counting_allocator);
    live_allocs = 0;
    CHECK_OK(cnnc_scope_begin());
    cnnc_tensor *a = cnnc_ones(CNNC_SHAPE(2), CNNC_FLOAT32);
    REQUIRE(a);
    long after_a = live_allocs;
    CHECK_OK(cnnc_scope_begin());
    cnnc_tensor *b = cnnc_add(a, a);
    cnnc_tensor *c = cnnc_full(CNNC_SHAPE(100), 1.0, CNNC_FLOAT32);
    CHECK(b && c);
    CHECK(live_allocs > after_a);
    CHECK_OK(cnnc_scope_end()); /* inner: b and c */
    CHECK_EQ_INT(live_allocs, after_a);
    CHECK(all_f32(a, 1.0f)); /* a belongs to the outer scope, still alive */
    CHECK_OK(cnnc_scope_end()); /* outer: a */
    CHECK_EQ_INT(live_allocs, 0);
    cnnc_set_allocator(NULL);
}

static void test_scope_end_without_begin_is_an_error(void) {
    CHECK_ERR(cnnc_scope_end());
    CHECK_OK(cnnc_scope_begin());
    CHECK_OK(cnnc_scope_end());
    CHECK_ERR(cnnc_scope_end());
}

static void test_scope_with_failed_calls(void) {
    /* errors inside a scope add nothing to it */
    CHECK_OK(cnnc_scope_begin());
    cnnc_tensor *a = cnnc_ones(CNNC_SHAPE(2), CNNC_FLOAT32);
    cnnc_tensor *b = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    CHECK_TENSOR_ERR(cnnc_add(a, b));
    CHECK_TENSOR_ERR(cnnc_zeros(CNNC_SHAPE(-1), CNNC_FLOAT32));
    CHECK_OK(cnnc_scope_end());
}

/* ---- tensor lists -------------------------------------------------------- */

static void test_tensor_list_basics(void) {
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    REQUIRE(l);
    CHECK_EQ_INT(cnnc_tensor_list_size(l), 0);
    cnnc_tensor *a = cnnc_ones(CNNC_SHAPE(2), CNNC_FLOAT32);
    cnnc_tensor *b = cnnc_zeros(CNNC_SHAPE(3), CNNC_INT64);
    REQUIRE(a && b);
    char name[16];
    strcpy(name, "weight");
    CHECK_OK(cnnc_tensor_list_append(l, name, a));
    strcpy(name, "XXXXXX"); /* the list copied the name */
    CHECK_OK(cnnc_tensor_list_append(l, "bias", NULL));
    CHECK_OK(cnnc_tensor_list_append(l, "idx", b));
    CHECK(cnnc_tensor_list_get(l, 0) == a);
    CHECK(cnnc_tensor_list_get(l, 2) == b);
    CHECK(cnnc_tensor_list_find(l, "idx") == b);
    /* the list holds references */
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);

    CHECK_EQ_INT(cnnc_tensor_list_size(l), 3);
    CHECK_STR_EQ(cnnc_tensor_list_name(l, 0), "weight");
    CHECK_STR_EQ(cnnc_tensor_list_name(l, 1), "bias");
    CHECK_STR_EQ(cnnc_tensor_list_name(l, 2), "idx");
    CHECK(cnnc_tensor_list_get(l, 1) == NULL);
    CHECK(all_f32(cnnc_tensor_list_get(l, 0), 1.0f));
    CHECK(all_i64(cnnc_tensor_list_find(l, "idx"), 0));

    CHECK_NULL_ERR(cnnc_tensor_list_find(l, "nope"));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_NOT_FOUND);
    CHECK_NULL_ERR(cnnc_tensor_list_find(l, "weigh")); /* no prefix matching */
    /* out of range index: an error, not a crash */
    CHECK_NULL_ERR(cnnc_tensor_list_get(l, 3));
    CHECK_NULL_ERR(cnnc_tensor_list_name(l, 100));
    cnnc_tensor_list_free(l);
}

static void test_tensor_list_many(void) {
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    REQUIRE(l);
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(1), CNNC_FLOAT32);
    REQUIRE(t);
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "layer%d.weight", i);
        CHECK_OK(cnnc_tensor_list_append(l, name, t));
    }
    CHECK(cnnc_tensor_list_find(l, "layer500.weight") == t);
    cnnc_tensor_release(t);
    CHECK_EQ_INT(cnnc_tensor_list_size(l), 1000);
    CHECK_STR_EQ(cnnc_tensor_list_name(l, 999), "layer999.weight");
    cnnc_tensor_list_free(l);
}

static void test_tensor_list_metadata(void) {
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    REQUIRE(l);
    CHECK_EQ_INT(cnnc_tensor_list_meta_size(l), 0);
    CHECK_NULL_ERR(cnnc_tensor_list_meta(l, "format"));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_NOT_FOUND);
    CHECK_OK(cnnc_tensor_list_set_meta(l, "format", "pt"));
    CHECK_OK(cnnc_tensor_list_set_meta(l, "lr", "0.10000000000000001"));
    CHECK_OK(cnnc_tensor_list_set_meta(l, "format", "cnnc"));  /* replaced in place */
    CHECK_EQ_INT(cnnc_tensor_list_meta_size(l), 2);
    CHECK_STR_EQ(cnnc_tensor_list_meta(l, "format"), "cnnc");
    const char *k = NULL, *v = NULL;
    CHECK_OK(cnnc_tensor_list_meta_at(l, 1, &k, &v));
    CHECK_STR_EQ(k, "lr");
    CHECK_STR_EQ(v, "0.10000000000000001");
    CHECK_ERR(cnnc_tensor_list_meta_at(l, 2, &k, &v));
    CHECK_ERR(cnnc_tensor_list_set_meta(l, NULL, "x"));
    CHECK_ERR(cnnc_tensor_list_set_meta(l, "x", NULL));
    CHECK_ERR(cnnc_tensor_list_set_meta(NULL, "x", "y"));
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(cnnc_tensor_list_set_meta(l, key, key));
    }
    CHECK_EQ_INT(cnnc_tensor_list_meta_size(l), 102);
    CHECK_STR_EQ(cnnc_tensor_list_meta(l, "k57"), "k57");
    cnnc_tensor_list_free(l);
}

/* ---- ownership misuse (issue 9 item 13) ------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* Runs misuse(kind) in a child with stderr on a pipe: the child must stop abnormally
 * and (outside ASan, which reports the use after free itself) print `message`. */
static void expect_death(void (*misuse)(int), int kind, const char *message) {
    int fd[2];
    REQUIRE(pipe(fd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        misuse(kind);
        _exit(0); /* not reached when the misuse is caught */
    }
    close(fd[1]);
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof buf && (r = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
    buf[got] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    if (!UNDER_ASAN) {
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        CHECK_CONTAINS(buf, message);
    }
}

static void misuse(int kind) {
    /* nothing is allocated between the two calls, so the freed block is not handed out
     * again (a reused block would look alive: only ASan catches that case) */
    switch (kind) {
    case 0: { /* release once too often */
        cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
        cnnc_tensor_release(t);
        cnnc_tensor_release(t);
        break;
    }
    case 1: { /* retain after the last release */
        cnnc_tensor *t = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
        cnnc_tensor_release(t);
        cnnc_tensor_retain(t);
        break;
    }
    case 2: { /* a view released too often */
        cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
        cnnc_tensor *v = cnnc_reshape(t, 1, (const int64_t[]){6});
        cnnc_tensor_release(v);
        cnnc_tensor_release(v);
        break;
    }
    default: { /* a tensor list freed twice */
        cnnc_tensor_list *l = cnnc_tensor_list_new();
        cnnc_tensor_list_free(l);
        cnnc_tensor_list_free(l);
    }
    }
}

static void test_double_release_is_caught(void) {
    expect_death(misuse, 0, "cnnc_tensor_release(");
    expect_death(misuse, 0, "not a live tensor (released more often than retained?)");
    expect_death(misuse, 1, "cnnc_tensor_retain(");
    expect_death(misuse, 2, "not a live tensor");
    expect_death(misuse, 3, "not a live tensor list (freed twice?)");
}

int main(void) {
    RUN_TEST(test_empty_zeros_ones_full_f32);
    RUN_TEST(test_empty_zeros_ones_full_i64);
    RUN_TEST(test_from_data_copies);
    RUN_TEST(test_arange_float);
    RUN_TEST(test_arange_int64_and_empty);
    RUN_TEST(test_arange_errors);
    RUN_TEST(test_zero_dim_tensor);
    RUN_TEST(test_zero_size_tensor);
    RUN_TEST(test_getters_and_negative_dims);
    RUN_TEST(test_error_state_api);
    RUN_TEST(test_data_getters_dtype_mismatch);
    RUN_TEST(test_block_cache_holds_a_step);
    RUN_TEST(test_retain_release);
    RUN_TEST(test_views_share_storage);
    RUN_TEST(test_view_errors);
    RUN_TEST(test_detach_shares_clone_copies);
    RUN_TEST(test_fill_zero_copy_and_version);
    RUN_TEST(test_to_string_zero_dim);
    RUN_TEST(test_to_string_1d);
    RUN_TEST(test_to_string_2d_3d);
    RUN_TEST(test_to_string_int64);
    RUN_TEST(test_to_string_empty);
    RUN_TEST(test_to_string_large_summarised);
    RUN_TEST(test_to_string_scientific_and_special);
    RUN_TEST(test_to_string_requires_grad);
    RUN_TEST(test_print_writes_to_string);
    RUN_TEST(test_shape_string);
    RUN_TEST(test_negative_size_error);
    RUN_TEST(test_ndim_limits);
    RUN_TEST(test_size_overflow_is_an_error);
    RUN_TEST(test_rand_in_unit_interval);
    RUN_TEST(test_randn_mean_and_std);
    RUN_TEST(test_manual_seed_reproducible);
    RUN_TEST(test_rng_state_round_trip);
    RUN_TEST(test_random_independent_of_thread_count);
    RUN_TEST(test_set_num_threads);
    RUN_TEST(test_grad_mode_flag);
    RUN_TEST(test_null_arguments_tensor_api);
    RUN_TEST(test_null_arguments_autograd_api);
    RUN_TEST(test_null_arguments_getters_set_error);
    RUN_TEST(test_null_arguments_ops);
    RUN_TEST(test_null_arguments_list_api);
    RUN_TEST(test_scope_releases_new_tensors);
    RUN_TEST(test_scopes_nest);
    RUN_TEST(test_scope_end_without_begin_is_an_error);
    RUN_TEST(test_scope_with_failed_calls);
    RUN_TEST(test_tensor_list_basics);
    RUN_TEST(test_tensor_list_many);
    RUN_TEST(test_tensor_list_metadata);
    RUN_TEST(test_double_release_is_caught);
    return check_summary();
}
