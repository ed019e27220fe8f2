/* The loss family through the C API: values and gradients on hand-computed cases,
 * argument errors (NULLs, dtypes, shapes, reductions), the modules (attributes,
 * buffers, state_dict, forward_n), and allocation-failure injection over every
 * loss's forward and backward. (Parity with PyTorch is the conformance suite's
 * job: tests/conformance/test_loss*.py.) */
#include "check.h"

#include <cnnc.h>

#include "nn/factory.h" /* cnnc__module_ctor_args: the arguments a model file stores */

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static cnnc_tensor *f32(int ndim, const int64_t *shape, const float *v) {
    return cnnc_from_data(ndim, shape, CNNC_FLOAT32, v);
}
static cnnc_tensor *i64(int ndim, const int64_t *shape, const int64_t *v) {
    return cnnc_from_data(ndim, shape, CNNC_INT64, v);
}
static double item(const cnnc_tensor *t) {
    double v = NAN;
    if (!t || cnnc_tensor_item(t, &v) != CNNC_OK) return NAN;
    return v;
}

/* ---- values and gradients ------------------------------------------------------------ */

static void test_cross_entropy_values(void) {
    cnnc_scope_begin();
    /* logits [[0, 0], [ln 3, 0]], targets [0, 1]: losses ln 2 and ln 4 */
    cnnc_tensor *x = f32(CNNC_SHAPE(2, 2), (const float[]){0.0f, 0.0f, logf(3.0f), 0.0f});
    cnnc_tensor *t = i64(CNNC_SHAPE(2), (const int64_t[]){0, 1});
    REQUIRE(x && t);
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    cnnc_tensor *none = cnnc_cross_entropy(x, t, CNNC_CROSS_ENTROPY(.reduction = "none"));
    REQUIRE(none);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(none), ((const float[]){logf(2.0f), logf(4.0f)}), 2, 1e-6);
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(none), "NllLossBackward0");
    cnnc_tensor *mean = cnnc_cross_entropy(x, t, CNNC_CROSS_ENTROPY());
    CHECK_NEAR(item(mean), (log(2.0) + log(4.0)) / 2, 1e-6);
    /* weights [1, 3]: (1 ln 2 + 3 ln 4) / 4 */
    cnnc_tensor *w = f32(CNNC_SHAPE(2), (const float[]){1.0f, 3.0f});
    CHECK_NEAR(item(cnnc_cross_entropy(x, t, CNNC_CROSS_ENTROPY(.weight = w))),
               (log(2.0) + 3 * log(4.0)) / 4, 1e-6);
    /* ignore the second target: ln 2; ignore both: NaN */
    CHECK_NEAR(item(cnnc_cross_entropy(x, t, CNNC_CROSS_ENTROPY(.ignore_index = 1))), log(2.0), 1e-6);
    cnnc_tensor *all = i64(CNNC_SHAPE(2), (const int64_t[]){5, 5});
    CHECK(isnan(item(cnnc_cross_entropy(x, all, CNNC_CROSS_ENTROPY(.ignore_index = 5)))));
    CHECK_NEAR(item(cnnc_cross_entropy(x, all, CNNC_CROSS_ENTROPY(.ignore_index = 5, .reduction = "sum"))),
               0.0, 0.0);
    /* label smoothing 1: the uniform target; row 0: ln 2, row 1: (ln 4 + ln 4/3) / 2 */
    CHECK_NEAR(item(cnnc_cross_entropy(x, t, CNNC_CROSS_ENTROPY(.label_smoothing = 1.0))),
               (log(2.0) + (log(4.0) + log(4.0 / 3.0)) / 2) / 2, 1e-6);
    /* gradient of the mean: (softmax - onehot) / 2 */
    CHECK_OK(cnnc_backward(mean, NULL, false));
    cnnc_tensor *g = cnnc_tensor_grad(x);
    REQUIRE(g);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(g), ((const float[]){-0.25f, 0.25f, 0.375f, -0.375f}), 4, 1e-6);
    cnnc_scope_end();
}

static void test_cross_entropy_probabilities_and_kdim(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = f32(CNNC_SHAPE(1, 2), (const float[]){0.0f, 0.0f});
    cnnc_tensor *q = f32(CNNC_SHAPE(1, 2), (const float[]){0.25f, 0.75f});
    REQUIRE(x && q);
    CHECK_OK(cnnc_tensor_set_requires_grad(q, true));
    cnnc_tensor *l = cnnc_cross_entropy(x, q, CNNC_CROSS_ENTROPY());
    CHECK_NEAR(item(l), log(2.0), 1e-6);
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(l), "DivBackward1");
    CHECK_OK(cnnc_backward(l, NULL, false)); /* d/dq = -log p = ln 2 */
    REQUIRE(cnnc_tensor_grad(q));
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(cnnc_tensor_grad(q)), ((const float[]){logf(2), logf(2)}), 2, 1e-6);
    /* K-dim: [1, 2, 3] logits, [1, 3] targets, "none" keeps [1, 3] */
    cnnc_tensor *xk = cnnc_zeros(CNNC_SHAPE(1, 2, 3), CNNC_FLOAT32);
    cnnc_tensor *tk = i64(CNNC_SHAPE(1, 3), (const int64_t[]){0, 1, -100});
    cnnc_tensor *lk = cnnc_cross_entropy(xk, tk, CNNC_CROSS_ENTROPY(.reduction = "none"));
    REQUIRE(lk);
    CHECK_EQ_INT(cnnc_tensor_ndim(lk), 2);
    CHECK_EQ_INT(cnnc_tensor_size(lk, 1), 3);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(lk), ((const float[]){logf(2), logf(2), 0.0f}), 3, 1e-6);
    /* unbatched: [C] and a 0-d target give a 0-d loss */
    cnnc_tensor *xu = cnnc_zeros(CNNC_SHAPE(4), CNNC_FLOAT32);
    cnnc_tensor *tu = i64(0, NULL, (const int64_t[]){3});
    cnnc_tensor *lu = cnnc_cross_entropy(xu, tu, CNNC_CROSS_ENTROPY(.reduction = "none"));
    REQUIRE(lu);
    CHECK_EQ_INT(cnnc_tensor_ndim(lu), 0);
    CHECK_NEAR(item(lu), log(4.0), 1e-6);
    cnnc_scope_end();
}

static void test_pointwise_values(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = f32(CNNC_SHAPE(4), (const float[]){0.0f, 1.0f, -2.0f, 0.5f});
    cnnc_tensor *y = f32(CNNC_SHAPE(1), (const float[]){0.5f}); /* broadcast */
    REQUIRE(x && y);
    CHECK_NEAR(item(cnnc_mse_loss(x, y, CNNC_MSE_LOSS(.reduction = "sum"))), 0.25 + 0.25 + 6.25, 1e-6);
    CHECK_NEAR(item(cnnc_l1_loss(x, y, CNNC_L1_LOSS())), (0.5 + 0.5 + 2.5) / 4, 1e-6);
    CHECK_NEAR(item(cnnc_smooth_l1_loss(x, y, CNNC_SMOOTH_L1_LOSS(.reduction = "sum", .beta = 1.0))),
               0.125 + 0.125 + 2.0, 1e-6);
    CHECK_NEAR(item(cnnc_huber_loss(x, y, CNNC_HUBER_LOSS(.reduction = "sum", .delta = 2.0))),
               0.125 + 0.125 + 2.0 * (2.5 - 1.0), 1e-6);
    cnnc_tensor *t = i64(CNNC_SHAPE(4), (const int64_t[]){0, 1, -2, 1}); /* promoted */
    CHECK_NEAR(item(cnnc_mse_loss(x, t, CNNC_MSE_LOSS())), 0.25 / 4, 1e-7);
    /* binary cross entropy: probabilities 0 and 1 are clamped to -100 */
    cnnc_tensor *p = f32(CNNC_SHAPE(2), (const float[]){0.0f, 1.0f});
    cnnc_tensor *q = f32(CNNC_SHAPE(2), (const float[]){1.0f, 0.0f});
    cnnc_tensor *b = cnnc_binary_cross_entropy(p, q, CNNC_BCE_LOSS(.reduction = "none"));
    REQUIRE(b);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(b), ((const float[]){100.0f, 100.0f}), 2, 0);
    /* with logits: x = 0 is ln 2 whatever the target; pos_weight 3 on y = 1: 3 ln 2 */
    cnnc_tensor *z = cnnc_zeros(CNNC_SHAPE(2), CNNC_FLOAT32);
    cnnc_tensor *pw = f32(CNNC_SHAPE(1), (const float[]){3.0f});
    CHECK_NEAR(item(cnnc_binary_cross_entropy_with_logits(z, q, CNNC_BCE_WITH_LOGITS_LOSS(.pos_weight = pw,
                                                                                       .reduction = "sum"))),
               4 * log(2.0), 1e-6);
    /* kl_div: y (log y - x) with 0 log 0 = 0; batchmean divides by size(0) */
    cnnc_tensor *lx = f32(CNNC_SHAPE(2, 2), (const float[]){-1.0f, -1.0f, -1.0f, -1.0f});
    cnnc_tensor *ly = f32(CNNC_SHAPE(2, 2), (const float[]){0.0f, 1.0f, 0.5f, 0.5f});
    CHECK_NEAR(item(cnnc_kl_div(lx, ly, CNNC_KL_DIV(.reduction = "batchmean"))),
               (1.0 + 2 * 0.5 * (log(0.5) + 1.0)) / 2, 1e-6);
    cnnc_scope_end();
}

static void test_pointwise_gradients(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = f32(CNNC_SHAPE(2, 2), (const float[]){1.0f, 2.0f, 3.0f, 4.0f});
    cnnc_tensor *y = f32(CNNC_SHAPE(2), (const float[]){0.0f, 1.0f}); /* broadcast over rows */
    REQUIRE(x && y);
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    CHECK_OK(cnnc_tensor_set_requires_grad(y, true));
    cnnc_tensor *l = cnnc_mse_loss(x, y, CNNC_MSE_LOSS());
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(l), "MseLossBackward0");
    CHECK_OK(cnnc_backward(l, NULL, false));
    /* d/dx = 2 (x - y) / 4; d/dy sums the column: -(2 (x - y) / 4) */
    REQUIRE(cnnc_tensor_grad(x) && cnnc_tensor_grad(y));
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(cnnc_tensor_grad(x)), ((const float[]){0.5f, 0.5f, 1.5f, 1.5f}), 4, 1e-6);
    CHECK_EQ_INT(cnnc_tensor_ndim(cnnc_tensor_grad(y)), 1);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(cnnc_tensor_grad(y)), ((const float[]){-2.0f, -2.0f}), 2, 1e-6);
    /* no grad mode: nothing recorded */
    bool old = cnnc_set_grad_enabled(false);
    cnnc_tensor *n = cnnc_l1_loss(x, y, CNNC_L1_LOSS());
    CHECK(n && !cnnc_tensor_requires_grad(n) && !cnnc_tensor_grad_fn_name(n));
    cnnc_set_grad_enabled(old);
    cnnc_scope_end();
}

/* ---- errors --------------------------------------------------------------------------- */

static void test_null_and_dtype_errors(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2), CNNC_INT64);
    cnnc_tensor *xi = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_INT64);
    REQUIRE(x && t && xi);
    CHECK_TENSOR_ERR(cnnc_cross_entropy(NULL, t, CNNC_CROSS_ENTROPY()));
    CHECK_STR_EQ(cnnc_last_error(), "cross_entropy(): argument 'input' is NULL");
    CHECK_TENSOR_ERR(cnnc_cross_entropy(x, NULL, CNNC_CROSS_ENTROPY()));
    CHECK_STR_EQ(cnnc_last_error(), "cross_entropy(): argument 'target' is NULL");
    CHECK_TENSOR_ERR(cnnc_nll_loss(NULL, t, CNNC_NLL_LOSS()));
    CHECK_TENSOR_ERR(cnnc_nll_loss(xi, t, CNNC_NLL_LOSS()));
    CHECK_ERROR_CONTAINS("dtype float32");
    CHECK_TENSOR_ERR(cnnc_mse_loss(x, NULL, CNNC_MSE_LOSS()));
    CHECK_TENSOR_ERR(cnnc_l1_loss(NULL, x, CNNC_L1_LOSS()));
    CHECK_TENSOR_ERR(cnnc_smooth_l1_loss(xi, x, CNNC_SMOOTH_L1_LOSS()));
    CHECK_TENSOR_ERR(cnnc_huber_loss(x, NULL, CNNC_HUBER_LOSS()));
    CHECK_TENSOR_ERR(cnnc_binary_cross_entropy(NULL, x, CNNC_BCE_LOSS()));
    CHECK_TENSOR_ERR(cnnc_binary_cross_entropy_with_logits(x, NULL, CNNC_BCE_WITH_LOGITS_LOSS()));
    CHECK_TENSOR_ERR(cnnc_kl_div(NULL, x, CNNC_KL_DIV()));
    CHECK_TENSOR_ERR(cnnc_kl_div(x, xi, CNNC_KL_DIV()));
    CHECK_STR_EQ(cnnc_last_error(), "kl_div: Integral inputs not supported.");
    CHECK_TENSOR_ERR(cnnc_binary_cross_entropy(x, xi, CNNC_BCE_LOSS()));
    CHECK_STR_EQ(cnnc_last_error(), "Found dtype Long but expected Float");
    cnnc_scope_end();
}

static void test_reduction_errors(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2), CNNC_INT64);
    REQUIRE(x && t);
    CHECK_TENSOR_ERR(cnnc_cross_entropy(x, t, CNNC_CROSS_ENTROPY(.reduction = "avg")));
    CHECK_STR_EQ(cnnc_last_error(), "avg is not a valid value for reduction");
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_TENSOR_ERR(cnnc_mse_loss(x, x, CNNC_MSE_LOSS(.reduction = NULL)));
    CHECK_STR_EQ(cnnc_last_error(), "None is not a valid value for reduction");
    CHECK_TENSOR_ERR(cnnc_mse_loss(x, x, CNNC_MSE_LOSS(.reduction = "batchmean")));
    CHECK_STR_EQ(cnnc_last_error(), "batchmean is not a valid value for reduction");
    cnnc_tensor *ok = cnnc_kl_div(x, x, CNNC_KL_DIV(.reduction = "batchmean"));
    CHECK(ok != NULL);
    cnnc_tensor *em = cnnc_mse_loss(x, x, CNNC_MSE_LOSS(.reduction = "elementwise_mean"));
    CHECK(em && cnnc_tensor_ndim(em) == 0);
    cnnc_scope_end();
}

static void test_shape_and_value_errors(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(3, 5), CNNC_FLOAT32);
    cnnc_tensor *t = i64(CNNC_SHAPE(3), (const int64_t[]){1, 0, 5});
    cnnc_tensor *w4 = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    REQUIRE(x && t && w4);
    CHECK_TENSOR_ERR(cnnc_cross_entropy(x, t, CNNC_CROSS_ENTROPY()));
    CHECK_STR_EQ(cnnc_last_error(), "Target 5 is out of bounds.");
    CHECK_TENSOR_ERR(cnnc_nll_loss(x, t, CNNC_NLL_LOSS(.weight = w4)));
    CHECK_STR_EQ(cnnc_last_error(), "weight tensor should be defined either for all 5 classes or no "
                                    "classes but got weight tensor of shape: [4]");
    CHECK_TENSOR_ERR(cnnc_cross_entropy(x, t, CNNC_CROSS_ENTROPY(.label_smoothing = 2.0)));
    CHECK_STR_EQ(cnnc_last_error(), "label_smoothing must be between 0.0 and 1.0. Got: 2");
    cnnc_tensor *t2 = cnnc_zeros(CNNC_SHAPE(2), CNNC_INT64);
    CHECK_TENSOR_ERR(cnnc_nll_loss(x, t2, CNNC_NLL_LOSS()));
    CHECK_STR_EQ(cnnc_last_error(), "Expected input batch_size (3) to match target batch_size (2).");
    cnnc_tensor *y = cnnc_zeros(CNNC_SHAPE(2, 5), CNNC_FLOAT32);
    CHECK_TENSOR_ERR(cnnc_mse_loss(x, y, CNNC_MSE_LOSS()));
    CHECK_STR_EQ(cnnc_last_error(),
                 "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0");
    CHECK_TENSOR_ERR(cnnc_smooth_l1_loss(x, x, CNNC_SMOOTH_L1_LOSS(.beta = -1)));
    CHECK_TENSOR_ERR(cnnc_huber_loss(x, x, CNNC_HUBER_LOSS(.delta = 0)));
    cnnc_tensor *big = cnnc_full(CNNC_SHAPE(3, 5), 1.5, CNNC_FLOAT32);
    CHECK_TENSOR_ERR(cnnc_binary_cross_entropy(big, x, CNNC_BCE_LOSS()));
    CHECK_STR_EQ(cnnc_last_error(), "all elements of input should be between 0 and 1");
    CHECK_TENSOR_ERR(cnnc_binary_cross_entropy_with_logits(x, y, CNNC_BCE_WITH_LOGITS_LOSS()));
    CHECK_STR_EQ(cnnc_last_error(), "Target size (torch.Size([2, 5])) must be the same as input size "
                                    "(torch.Size([3, 5]))");
    cnnc_tensor *wg = cnnc_ones(CNNC_SHAPE(5), CNNC_FLOAT32);
    CHECK_OK(cnnc_tensor_set_requires_grad(wg, true));
    CHECK_TENSOR_ERR(cnnc_binary_cross_entropy(x, x, CNNC_BCE_LOSS(.weight = wg)));
    CHECK_ERROR_CONTAINS("'binary_cross_entropy' is not differentiable with respect to argument 'weight'");
    cnnc_scope_end();
}

/* ---- modules -------------------------------------------------------------------------- */

static void test_modules(void) {
    cnnc_tensor *w = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    REQUIRE(w);
    cnnc_module *ms[9] = {
        cnnc_crossentropyloss_new(CNNC_CROSS_ENTROPY_LOSS(.weight = w, .label_smoothing = 0.1)),
        cnnc_nllloss_new(CNNC_NLL_LOSS(.ignore_index = 2)),
        cnnc_mseloss_new(CNNC_MSE_LOSS(.reduction = "sum")),
        cnnc_l1loss_new(CNNC_L1_LOSS()),
        cnnc_smoothl1loss_new(CNNC_SMOOTH_L1_LOSS(.beta = 0.5)),
        cnnc_huberloss_new(CNNC_HUBER_LOSS(.delta = 2.0)),
        cnnc_bceloss_new(CNNC_BCE_LOSS(.weight = w)),
        cnnc_bcewithlogitsloss_new(CNNC_BCE_WITH_LOGITS_LOSS(.pos_weight = w)),
        cnnc_kldivloss_new(CNNC_KL_DIV_LOSS(.reduction = "batchmean", .log_target = true)),
    };
    static const char *const types[9] = {"CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss",
                                         "SmoothL1Loss", "HuberLoss", "BCELoss",
                                         "BCEWithLogitsLoss", "KLDivLoss"};
    static const size_t n_sd[9] = {1, 0, 0, 0, 0, 0, 1, 1, 0};
    for (int i = 0; i < 9; i++) {
        REQUIRE(ms[i]);
        CHECK_STR_EQ(cnnc_module_type(ms[i]), types[i]);
        char *repr = cnnc_module_repr(ms[i]);
        char want[64];
        snprintf(want, sizeof want, "%s()", types[i]);
        CHECK_STR_EQ(repr, want);
        cnnc_free(repr);
        cnnc_tensor_list *sd = cnnc_module_state_dict(ms[i]);
        CHECK(sd && cnnc_tensor_list_size(sd) == n_sd[i]);
        cnnc_tensor_list_free(sd);
    }
    cnnc_value v;
    CHECK_OK(cnnc_module_attr(ms[0], "reduction", &v));
    CHECK(v.kind == CNNC_VALUE_STRING && strcmp(v.s, "mean") == 0);
    CHECK_OK(cnnc_module_attr(ms[0], "label_smoothing", &v));
    CHECK(v.kind == CNNC_VALUE_FLOAT && v.f == 0.1);
    CHECK_OK(cnnc_module_attr(ms[1], "ignore_index", &v));
    CHECK(v.kind == CNNC_VALUE_INT && v.ints[0] == 2);
    CHECK_OK(cnnc_module_attr(ms[2], "reduction", &v));
    CHECK(strcmp(v.s, "sum") == 0);
    CHECK_OK(cnnc_module_attr(ms[4], "beta", &v));
    CHECK(v.f == 0.5);
    CHECK_OK(cnnc_module_attr(ms[5], "delta", &v));
    CHECK(v.f == 2.0);
    CHECK_OK(cnnc_module_attr(ms[8], "log_target", &v));
    CHECK(v.kind == CNNC_VALUE_BOOL && v.ints[0] == 1);
    cnnc_tensor *buf = NULL;
    CHECK_OK(cnnc_module_tensor(ms[0], "weight", &buf));
    CHECK(buf == w); /* the caller's tensor, retained (PyTorch keeps the object) */
    CHECK_OK(cnnc_module_tensor(ms[7], "weight", &buf));
    CHECK(buf == NULL);
    CHECK_OK(cnnc_module_tensor(ms[7], "pos_weight", &buf));
    CHECK(buf == w);

    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
    cnnc_tensor *t = i64(CNNC_SHAPE(2), (const int64_t[]){0, 2});
    cnnc_tensor *out[CNNC_MAX_OUTPUTS];
    CHECK_EQ_INT(cnnc_module_forward_n(ms[0], 2, (cnnc_tensor *[]){x, t}, out), 1);
    CHECK_NEAR(item(out[0]), log(3.0), 1e-6);
    CHECK_EQ_INT(cnnc_module_forward_n(ms[1], 2, (cnnc_tensor *[]){x, t}, out), 1); /* 2 ignored */
    CHECK_NEAR(item(out[0]), log(3.0) * 0 + 0.0, 1e-6);                           /* lp is 0 */
    CHECK_EQ_INT(cnnc_module_forward_n(ms[0], 1, &x, out), -1);
    CHECK_STR_EQ(cnnc_last_error(), "CrossEntropyLoss.forward() missing 1 required positional "
                                    "argument: 'target'");
    CHECK_EQ_INT(cnnc_module_forward_n(ms[2], 3, (cnnc_tensor *[]){x, x, x}, out), -1);
    CHECK_STR_EQ(cnnc_last_error(), "MSELoss.forward() takes 3 positional arguments but 4 were given");
    CHECK_TENSOR_ERR(cnnc_module_forward(ms[3], x));
    cnnc_scope_end();
    for (int i = 0; i < 9; i++) cnnc_module_release(ms[i]);
    cnnc_tensor_release(w);

    /* an invalid reduction is kept and reported by forward, as PyTorch */
    cnnc_module *bad = cnnc_mseloss_new(CNNC_MSE_LOSS(.reduction = "foo"));
    cnnc_module *none = cnnc_l1loss_new(CNNC_L1_LOSS(.reduction = NULL));
    REQUIRE(bad && none);
    CHECK_OK(cnnc_module_attr(none, "reduction", &v));
    CHECK(v.kind == CNNC_VALUE_NONE);
    cnnc_tensor *z = cnnc_zeros(CNNC_SHAPE(2), CNNC_FLOAT32);
    cnnc_tensor *o[CNNC_MAX_OUTPUTS];
    CHECK_EQ_INT(cnnc_module_forward_n(bad, 2, (cnnc_tensor *[]){z, z}, o), -1);
    CHECK_STR_EQ(cnnc_last_error(), "foo is not a valid value for reduction");
    CHECK_EQ_INT(cnnc_module_forward_n(none, 2, (cnnc_tensor *[]){z, z}, o), -1);
    CHECK_STR_EQ(cnnc_last_error(), "None is not a valid value for reduction");
    cnnc_tensor_release(z);
    cnnc_module_release(bad);
    cnnc_module_release(none);
}

/* ---- cnnc_module_create -------------------------------------------------------------- */

#define KW(...) (const char *const[]){__VA_ARGS__}
static cnnc_value vint(int64_t v) { return (cnnc_value){.kind = CNNC_VALUE_INT, .n = 1, .ints = {v}}; }
static cnnc_value vbool(bool v) { return (cnnc_value){.kind = CNNC_VALUE_BOOL, .n = 1, .ints = {v}}; }
static cnnc_value vstr(const char *s) { return (cnnc_value){.kind = CNNC_VALUE_STRING, .s = s}; }
static cnnc_value vfloat(double f) { return (cnnc_value){.kind = CNNC_VALUE_FLOAT, .f = f}; }
static const cnnc_value vnone = {.kind = CNNC_VALUE_NONE};

/* created by name -> its constructor arguments -> created again: the same settings */
static void check_created(cnnc_module *m, const char *type) {
    REQUIRE(m);
    CHECK_STR_EQ(cnnc_module_type(m), type);
    const char *names[16];
    cnnc_value values[16];
    int n = cnnc__module_ctor_args(m, names, values, 16);
    CHECK(n >= 1);
    cnnc_module *again = cnnc_module_create(type, (size_t)n, names, values);
    REQUIRE(again);
    char *a = cnnc_module_vars(m), *b = cnnc_module_vars(again);
    CHECK_STR_EQ(b, a);
    cnnc_free(a);
    cnnc_free(b);
    cnnc_module_release(again);
    cnnc_module_release(m);
}

static void test_module_create(void) {
    check_created(cnnc_module_create("CrossEntropyLoss", 4, KW("weight", "ignore_index", "reduction", "label_smoothing"),
                                     (cnnc_value[]){vnone, vint(3), vstr("sum"), vfloat(0.2)}),
                  "CrossEntropyLoss");
    check_created(cnnc_module_create("NLLLoss", 1, KW("ignore_index"), (cnnc_value[]){vint(0)}), "NLLLoss");
    check_created(cnnc_module_create("MSELoss", 0, NULL, NULL), "MSELoss");
    check_created(cnnc_module_create("L1Loss", 1, KW("reduction"), (cnnc_value[]){vstr("none")}), "L1Loss");
    check_created(cnnc_module_create("SmoothL1Loss", 1, KW("beta"), (cnnc_value[]){vint(2)}), "SmoothL1Loss");
    check_created(cnnc_module_create("HuberLoss", 1, KW("delta"), (cnnc_value[]){vfloat(0.5)}), "HuberLoss");
    check_created(cnnc_module_create("BCELoss", 1, KW("weight"), (cnnc_value[]){vnone}), "BCELoss");
    check_created(cnnc_module_create("BCEWithLogitsLoss", 2, KW("weight", "pos_weight"), (cnnc_value[]){vnone, vnone}),
                  "BCEWithLogitsLoss");
    check_created(cnnc_module_create("KLDivLoss", 2, KW("reduction", "log_target"),
                                     (cnnc_value[]){vstr("batchmean"), vbool(true)}),
                  "KLDivLoss");
    cnnc_module *m = cnnc_module_create("CrossEntropyLoss", 1, KW("label_smoothing"), (cnnc_value[]){vfloat(0.3)});
    REQUIRE(m);
    cnnc_value v;
    CHECK_OK(cnnc_module_attr(m, "label_smoothing", &v));
    CHECK(v.f == 0.3);
    cnnc_module_release(m);
    CHECK_NULL_ERR(cnnc_module_create("CrossEntropyLoss", 1, KW("weight"), (cnnc_value[]){vint(1)}));
    CHECK_ERROR_CONTAINS("argument 'weight' is a tensor");
    CHECK_NULL_ERR(cnnc_module_create("MSELoss", 1, KW("beta"), (cnnc_value[]){vfloat(1.0)}));
    CHECK_STR_EQ(cnnc_last_error(), "MSELoss.__init__() got an unexpected keyword argument 'beta'");
    CHECK_NULL_ERR(cnnc_module_create("MSELoss", 1, KW("size_average"), (cnnc_value[]){vbool(true)}));
}

/* ---- allocation failures -------------------------------------------------------------- */

static struct {
    long fail_at, count, injected, live;
    bool persistent; /* every allocation from the fail_at-th on fails, else that one only */
} A;

static void *failing_alloc(void *ctx, size_t size) {
    (void)ctx;
    if (A.fail_at > 0 && (++A.count == A.fail_at || (A.persistent && A.count > A.fail_at))) {
        A.injected++;
        return NULL;
    }
    void *p = malloc(size);
    if (p) A.live++;
    return p;
}
static void failing_free(void *ctx, void *p) {
    (void)ctx;
    if (p) A.live--;
    free(p);
}

/* Every loss forward and backward, and a module's life; true when all succeeded.
 * Any failure must be out of memory. */
static bool losses_once(void) {
    if (cnnc_scope_begin() != CNNC_OK) {
        CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_OUT_OF_MEMORY);
        return false;
    }
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(3, 4, 5));
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(3, 5), CNNC_INT64);
    cnnc_tensor *w = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    cnnc_tensor *p = cnnc_rand(CNNC_SHAPE(3, 4, 5));
    cnnc_tensor *row = cnnc_rand(CNNC_SHAPE(5));
    bool ok = x && t && w && p && row && cnnc_tensor_set_requires_grad(x, true) == CNNC_OK &&
         cnnc_tensor_set_requires_grad(p, true) == CNNC_OK;
    cnnc_tensor *ls[9] = {NULL};
    if (ok) {
        ls[0] = cnnc_cross_entropy(x, t, CNNC_CROSS_ENTROPY(.weight = w, .label_smoothing = 0.2));
        ls[1] = cnnc_cross_entropy(x, p, CNNC_CROSS_ENTROPY(.reduction = "sum"));
        ls[2] = cnnc_nll_loss(x, t, CNNC_NLL_LOSS(.reduction = "none"));
        ls[3] = cnnc_mse_loss(x, row, CNNC_MSE_LOSS());
        ls[4] = cnnc_smooth_l1_loss(x, p, CNNC_SMOOTH_L1_LOSS(.reduction = "none"));
        ls[5] = cnnc_binary_cross_entropy(p, p, CNNC_BCE_LOSS(.weight = row, .reduction = "sum"));
        ls[6] = cnnc_binary_cross_entropy_with_logits(x, p, CNNC_BCE_WITH_LOGITS_LOSS(.pos_weight = row));
        ls[7] = cnnc_kl_div(x, p, CNNC_KL_DIV(.reduction = "batchmean"));
        ls[8] = cnnc_huber_loss(x, p, CNNC_HUBER_LOSS());
    }
    for (int i = 0; ok && i < 9; i++) {
        cnnc_tensor *s = ls[i] ? cnnc_sum(ls[i]) : NULL;
        ok = s && cnnc_backward(s, NULL, false) == CNNC_OK;
    }
    cnnc_module *m = ok ? cnnc_crossentropyloss_new(CNNC_CROSS_ENTROPY_LOSS(.weight = w)) : NULL;
    cnnc_tensor *out[CNNC_MAX_OUTPUTS];
    ok = m && cnnc_module_forward_n(m, 2, (cnnc_tensor *[]){x, t}, out) == 1;
    cnnc_tensor_list *sd = ok ? cnnc_module_state_dict(m) : NULL;
    ok = sd && cnnc_module_load_state_dict(m, sd, true) == CNNC_OK;
    cnnc_tensor_list_free(sd);
    cnnc_module_release(m);
    if (cnnc_scope_end() != CNNC_OK) ok = false;
    if (!ok) {
        CHECK(A.injected > 0);
        CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_OUT_OF_MEMORY);
    }
    return ok;
}

static void allocation_sweep(bool persistent) {
    static const cnnc_allocator failing = {failing_alloc, failing_free, NULL};
    cnnc_set_allocator(&failing);
    A.persistent = persistent;
    A.fail_at = 0;
    cnnc_manual_seed(1);
    CHECK(losses_once()); /* warm-up: the thread's workspace reaches its size */
    long baseline = A.live;
    long n;
    for (n = 1; n < 100000; n++) {
        A.fail_at = n;
        A.count = A.injected = 0;
        cnnc_manual_seed(1);
        bool ok = losses_once();
        long injected = A.injected;
        A.fail_at = 0;
        check_checks_run_++;
        if (A.live != baseline) {
            check_fail_(__FILE__, __LINE__, "N=%ld: %ld allocations alive, expected %ld", n, A.live,
                        baseline);
            baseline = A.live;
        }
        if (!injected) {
            CHECK(ok);
            break;
        }
    }
    printf("  %ld allocation points failed in turn (%s)\n", n - 1, persistent ? "persistent" : "once");
    CHECK(n > 20);
    cnnc_set_allocator(NULL);
}

static void test_allocation_failures(void) { allocation_sweep(true); }
static void test_allocation_failure_once(void) { allocation_sweep(false); }

int main(void) {
    /* one thread: allocations happen in a deterministic order on this thread */
    if (cnnc_set_num_threads(1) != CNNC_OK) return 1;
    RUN_TEST(test_cross_entropy_values);
    RUN_TEST(test_cross_entropy_probabilities_and_kdim);
    RUN_TEST(test_pointwise_values);
    RUN_TEST(test_pointwise_gradients);
    RUN_TEST(test_null_and_dtype_errors);
    RUN_TEST(test_reduction_errors);
    RUN_TEST(test_shape_and_value_errors);
    RUN_TEST(test_modules);
    RUN_TEST(test_module_create);
    RUN_TEST(test_allocation_failures);
    RUN_TEST(test_allocation_failure_once);
    return check_summary();
}
