/* Optimizers, schedulers and gradient clipping through the C API: hand-computed
 * updates, every argument error and NULL, parameter groups and their entries,
 * state_dict round trips (bit for bit, nothing changed by a failed load), the
 * scheduler calls, and allocation-failure injection over a whole training step
 * (optimizers, schedulers, state_dicts, clipping). Numbers against PyTorch are
 * the conformance suite's (tests/conformance/test_optim.py & co). */
#include "check.h"

#include <cnnc.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h" /* cnnc__workspace, kept by design */

/* A leaf [n] tensor with values v and a gradient g (g may be NULL). */
static cnnc_tensor *param(int64_t n, const float *v, const float *g) {
    cnnc_tensor *p = cnnc_from_data(CNNC_SHAPE(n), CNNC_FLOAT32, v);
    if (!p || cnnc_tensor_set_requires_grad(p, true) != CNNC_OK) return p;
    if (g) {
        cnnc_tensor *gt = cnnc_from_data(CNNC_SHAPE(n), CNNC_FLOAT32, g);
        if (!gt || cnnc_tensor_set_grad(p, gt) != CNNC_OK) {
            cnnc_tensor_release(gt);
            cnnc_tensor_release(p);
            return NULL;
        }
        cnnc_tensor_release(gt);
    }
    return p;
}

static float at(cnnc_tensor *t, int64_t i) { return cnnc_tensor_data_f32(t)[i]; }

/* ---- updates by hand ---------------------------------------------------------------- */

static void test_sgd_by_hand(void) {
    cnnc_tensor *p = param(2, (float[]){1.0f, -2.0f}, (float[]){0.5f, 0.25f});
    REQUIRE(p);
    cnnc_optimizer *opt = cnnc_sgd_new(CNNC_PARAMS(p), CNNC_SGD(.lr = 0.1, .momentum = 0.9,
                                                                 .weight_decay = 0.01));
    REQUIRE(opt);
    uint64_t v0 = cnnc_tensor_version(p);
    CHECK_OK(cnnc_optimizer_step(opt));
    CHECK(cnnc_tensor_version(p) > v0);
    /* d = g + wd * p (fused), buf = d, p = p - lr * buf (fused), in float */
    float d0 = fmaf(0.01f, 1.0f, 0.5f), d1 = fmaf(0.01f, -2.0f, 0.25f);
    CHECK(at(p, 0) == fmaf(-0.1f, d0, 1.0f) && at(p, 1) == fmaf(-0.1f, d1, -2.0f));
    float p0 = at(p, 0);
    CHECK_OK(cnnc_optimizer_step(opt)); /* buf = 0.9 * buf + d */
    float e0 = fmaf(0.01f, p0, 0.5f), b0 = fmaf(1.0f, e0, d0 * 0.9f);
    CHECK(at(p, 0) == fmaf(-0.1f, b0, p0));
    cnnc_tensor_list *st = cnnc_optimizer_param_state(opt, p);
    REQUIRE(st);
    CHECK_EQ_INT(cnnc_tensor_list_size(st), 1);
    CHECK_STR_EQ(cnnc_tensor_list_name(st, 0), "momentum_buffer");
    CHECK(at(cnnc_tensor_list_get(st, 0), 0) == b0);
    cnnc_tensor_list_free(st);
    cnnc_optimizer_release(opt);
    cnnc_tensor_release(p);
}

static void test_adam_first_step(void) {
    cnnc_tensor *p = param(1, (float[]){1.0f}, (float[]){2.0f});
    REQUIRE(p);
    cnnc_optimizer *opt = cnnc_adam_new(CNNC_PARAMS(p), CNNC_ADAM(.lr = 0.01));
    REQUIRE(opt);
    CHECK_STR_EQ(cnnc_optimizer_type(opt), "Adam");
    CHECK_OK(cnnc_optimizer_step(opt));
    CHECK_NEAR(at(p, 0), 1.0 - 0.01, 1e-6); /* the first step moves by lr */
    cnnc_tensor_list *st = cnnc_optimizer_param_state(opt, p);
    REQUIRE(st);
    CHECK_EQ_INT(cnnc_tensor_list_size(st), 3); /* step, exp_avg, exp_avg_sq */
    cnnc_tensor *step = cnnc_tensor_list_find(st, "step");
    REQUIRE(step);
    CHECK_EQ_INT(cnnc_tensor_ndim(step), 0);
    CHECK_EQ_INT(cnnc_tensor_dtype(step), CNNC_FLOAT32);
    CHECK(at(step, 0) == 1.0f);
    cnnc_tensor_list_free(st);
    cnnc_optimizer_release(opt);
    cnnc_tensor_release(p);
}

static void test_skips_params_without_grad(void) {
    cnnc_tensor *a = param(2, (float[]){1, 2}, NULL), *b = param(2, (float[]){3, 4}, (float[]){1, 1});
    REQUIRE(a && b);
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    REQUIRE(l);
    CHECK_OK(cnnc_tensor_list_append(l, "a", a));
    CHECK_OK(cnnc_tensor_list_append(l, "b", b));
    for (int kind = 0; kind < 5; kind++) {
        cnnc_optimizer *opt = kind == 0   ? cnnc_sgd_new(CNNC_PARAM_LIST(l), CNNC_SGD(.lr = 1))
                              : kind == 1 ? cnnc_adam_new(CNNC_PARAM_LIST(l), CNNC_ADAM())
                              : kind == 2 ? cnnc_adamw_new(CNNC_PARAM_LIST(l), CNNC_ADAMW())
                              : kind == 3 ? cnnc_rmsprop_new(CNNC_PARAM_LIST(l), CNNC_RMSPROP())
                                          : cnnc_adagrad_new(CNNC_PARAM_LIST(l), CNNC_ADAGRAD());
        REQUIRE(opt);
        uint64_t va = cnnc_tensor_version(a);
        float b0 = at(b, 0);
        CHECK_OK(cnnc_optimizer_step(opt));
        CHECK(at(a, 0) == 1 && at(a, 1) == 2 && cnnc_tensor_version(a) == va);
        CHECK(at(b, 0) != b0);
        cnnc_tensor_list *st = cnnc_optimizer_param_state(opt, a);
        REQUIRE(st);
        CHECK_EQ_INT(cnnc_tensor_list_size(st), kind == 4 ? 2 : 0); /* Adagrad: from the start */
        cnnc_tensor_list_free(st);
        cnnc_optimizer_release(opt);
    }
    cnnc_tensor_list_free(l);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_constructor_errors(void) {
    cnnc_tensor *p = param(2, (float[]){1, 2}, NULL);
    REQUIRE(p);
    CHECK_NULL_ERR(cnnc_sgd_new(CNNC_PARAMS(p), CNNC_SGD(.lr = -1)));
    CHECK_STR_EQ(cnnc_last_error(), "Invalid learning rate: -1");
    CHECK_NULL_ERR(cnnc_sgd_new(CNNC_PARAMS(p), CNNC_SGD(.lr = 0.1, .nesterov = true)));
    CHECK_STR_EQ(cnnc_last_error(), "Nesterov momentum requires a momentum and zero dampening");
    CHECK_NULL_ERR(cnnc_sgd_new(CNNC_PARAMS(p), CNNC_SGD()));
    CHECK_STR_EQ(cnnc_last_error(),
                 "parameter group didn't specify a value of required optimization parameter lr");
    CHECK_NULL_ERR(cnnc_adam_new(CNNC_PARAMS(p), CNNC_ADAM(.betas = {0.9, 1.0})));
    CHECK_STR_EQ(cnnc_last_error(), "Invalid beta parameter at index 1: 1.0");
    CHECK_NULL_ERR(cnnc_adamw_new(CNNC_PARAMS(p), CNNC_ADAMW(.eps = -1e-8)));
    CHECK_STR_EQ(cnnc_last_error(), "Invalid epsilon value: -1e-08");
    CHECK_NULL_ERR(cnnc_rmsprop_new(CNNC_PARAMS(p), CNNC_RMSPROP(.alpha = -0.5)));
    CHECK_STR_EQ(cnnc_last_error(), "Invalid alpha value: -0.5");
    CHECK_NULL_ERR(cnnc_adagrad_new(CNNC_PARAMS(p), CNNC_ADAGRAD(.lr_decay = -1)));
    CHECK_STR_EQ(cnnc_last_error(), "Invalid lr_decay value: -1");
    /* parameters */
    CHECK_NULL_ERR(cnnc_sgd_new(CNNC_PARAM_LIST(NULL), CNNC_SGD(.lr = 1)));
    CHECK_STR_EQ(cnnc_last_error(), "optimizer got an empty parameter list");
    CHECK_NULL_ERR(cnnc_sgd_new(CNNC_PARAM_ARRAY(0, NULL), CNNC_SGD(.lr = 1)));
    CHECK_NULL_ERR(cnnc_sgd_new(CNNC_PARAM_ARRAY(2, NULL), CNNC_SGD(.lr = 1)));
    CHECK_ERROR_CONTAINS("NULL array");
    CHECK_NULL_ERR(cnnc_sgd_new(CNNC_PARAMS(p, NULL), CNNC_SGD(.lr = 1)));
    CHECK_STR_EQ(cnnc_last_error(),
                 "optimizer can only optimize Tensors, but one of the params is NoneType");
    CHECK_NULL_ERR(cnnc_sgd_new(CNNC_PARAMS(p, p), CNNC_SGD(.lr = 1)));
    CHECK_ERROR_CONTAINS("duplicate parameters");
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    REQUIRE(l);
    CHECK_OK(cnnc_tensor_list_append(l, "p", p));
    cnnc_params both = {.list = l, .n = 1, .tensors = (cnnc_tensor *[]){p}};
    CHECK_NULL_ERR(cnnc_sgd_new(both, CNNC_SGD(.lr = 1)));
    CHECK_ERROR_CONTAINS("not both");
    cnnc_tensor *y = cnnc_mul_scalar(p, 2.0);
    REQUIRE(y);
    CHECK_NULL_ERR(cnnc_sgd_new(CNNC_PARAMS(y), CNNC_SGD(.lr = 1)));
    CHECK_STR_EQ(cnnc_last_error(), "can't optimize a non-leaf Tensor");
    cnnc_tensor_release(y);
    /* groups */
    cnnc_param_group two[] = {{.params = CNNC_PARAM_LIST(l)}, {.params = CNNC_PARAMS(p)}};
    CHECK_NULL_ERR(cnnc_sgd_new_groups(2, two, CNNC_SGD(.lr = 1)));
    CHECK_STR_EQ(cnnc_last_error(), "some parameters appear in more than one parameter group");
    CHECK_NULL_ERR(cnnc_sgd_new_groups(0, NULL, CNNC_SGD(.lr = 1)));
    CHECK_STR_EQ(cnnc_last_error(), "optimizer got an empty parameter list");
    CHECK_NULL_ERR(cnnc_sgd_new_groups(1, NULL, CNNC_SGD(.lr = 1)));
    cnnc_param_group bad_hp[] = {{.params = CNNC_PARAMS(p), CNNC_HPARAMS(CNNC_HPARAM_BOOL("lr", true))}};
    CHECK_NULL_ERR(cnnc_sgd_new_groups(1, bad_hp, CNNC_SGD(.lr = 1)));
    CHECK_ERROR_CONTAINS("'lr' must be a number");
    cnnc_param_group own_lr[] = {{.params = CNNC_PARAMS(p), CNNC_HPARAMS(CNNC_HPARAM("lr", 0.5))}};
    cnnc_optimizer *opt = cnnc_sgd_new_groups(1, own_lr, CNNC_SGD()); /* no default lr needed */
    REQUIRE(opt);
    double lr = 0;
    CHECK_OK(cnnc_optimizer_get_lr(opt, 0, &lr));
    CHECK(lr == 0.5);
    cnnc_optimizer_release(opt);
    cnnc_tensor_list_free(l);
    cnnc_tensor_release(p);
}

static void test_nulls(void) {
    CHECK_ERR(cnnc_optimizer_step(NULL));
    CHECK_ERR(cnnc_optimizer_zero_grad(NULL, false));
    CHECK_ERR(cnnc_optimizer_add_param_group(NULL, (cnnc_param_group){.n_hparams = 0}));
    CHECK_SETS_ERROR(cnnc_optimizer_num_param_groups(NULL));
    CHECK_NULL_ERR(cnnc_optimizer_param_group_params(NULL, 0));
    CHECK_SETS_ERROR(cnnc_optimizer_num_hparams(NULL, 0));
    CHECK_ERR(cnnc_optimizer_hparam_at(NULL, 0, 0, NULL, NULL));
    CHECK_ERR(cnnc_optimizer_hparam(NULL, 0, "lr", NULL));
    CHECK_ERR(cnnc_optimizer_set_hparam(NULL, 0, CNNC_HPARAM("lr", 1)));
    CHECK_ERR(cnnc_optimizer_get_lr(NULL, 0, NULL));
    CHECK_ERR(cnnc_optimizer_set_lr(NULL, 0, 1));
    CHECK_NULL_ERR(cnnc_optimizer_param_state(NULL, NULL));
    CHECK_NULL_ERR(cnnc_optimizer_state_dict(NULL));
    CHECK_ERR(cnnc_optimizer_load_state_dict(NULL, NULL));
    CHECK_NULL_ERR(cnnc_optimizer_repr(NULL));
    CHECK_NULL_ERR(cnnc_optimizer_type(NULL));
    cnnc_optimizer_release(NULL);
    CHECK(cnnc_optimizer_retain(NULL) == NULL);
    CHECK_NULL_ERR(cnnc_steplr_new(NULL, 1, CNNC_STEPLR()));
    CHECK_NULL_ERR(cnnc_multisteplr_new(NULL, 0, NULL, CNNC_MULTISTEPLR()));
    CHECK_NULL_ERR(cnnc_exponentiallr_new(NULL, 0.5, CNNC_EXPONENTIALLR()));
    CHECK_NULL_ERR(cnnc_cosineannealinglr_new(NULL, 5, CNNC_COSINEANNEALINGLR()));
    CHECK_NULL_ERR(cnnc_linearlr_new(NULL, CNNC_LINEARLR()));
    CHECK_NULL_ERR(cnnc_onecyclelr_new(NULL, CNNC_ALL_GROUPS(0.1), CNNC_ONECYCLELR()));
    CHECK_NULL_ERR(cnnc_reducelronplateau_new(NULL, CNNC_REDUCELRONPLATEAU()));
    CHECK_NULL_ERR(cnnc_lambdalr_new(NULL, NULL, NULL, CNNC_LAMBDALR()));
    CHECK_NULL_ERR(cnnc_lambdalr_new_per_group(NULL, 0, NULL, NULL, CNNC_LAMBDALR()));
    CHECK_NULL_ERR(cnnc_sequentiallr_new(NULL, 0, NULL, 0, NULL, CNNC_SEQUENTIALLR()));
    CHECK_ERR(cnnc_lr_scheduler_step(NULL));
    CHECK_ERR(cnnc_lr_scheduler_step_epoch(NULL, 1));
    CHECK_ERR(cnnc_lr_scheduler_step_metric(NULL, 1));
    CHECK_SETS_ERROR(cnnc_lr_scheduler_get_last_lr(NULL, NULL, 0));
    CHECK_SETS_ERROR(cnnc_lr_scheduler_last_epoch(NULL));
    CHECK_ERR(cnnc_lr_scheduler_set_last_epoch(NULL, 0));
    CHECK_NULL_ERR(cnnc_lr_scheduler_state_dict(NULL));
    CHECK_ERR(cnnc_lr_scheduler_load_state_dict(NULL, NULL));
    CHECK_NULL_ERR(cnnc_lr_scheduler_type(NULL));
    CHECK_NULL_ERR(cnnc_lr_scheduler_optimizer(NULL));
    cnnc_lr_scheduler_release(NULL);
    CHECK_ERR(cnnc_clip_grad_value_(CNNC_PARAM_ARRAY(3, NULL), 1.0));
    CHECK_TENSOR_ERR(cnnc_clip_grad_norm_(CNNC_PARAMS(NULL), 1.0, CNNC_CLIP_GRAD_NORM()));
}

/* ---- groups and their entries ------------------------------------------------------------ */

static void test_hparams(void) {
    cnnc_tensor *a = param(2, (float[]){1, 2}, (float[]){1, 1}), *b = param(1, (float[]){3}, NULL);
    REQUIRE(a && b);
    cnnc_optimizer *opt = cnnc_adam_new(CNNC_PARAMS(a), CNNC_ADAM(.lr = 0.5));
    REQUIRE(opt);
    CHECK_EQ_INT(cnnc_optimizer_num_param_groups(opt), 1);
    CHECK_EQ_INT(cnnc_optimizer_num_hparams(opt, 0), 10);
    const char *name;
    cnnc_value v;
    CHECK_OK(cnnc_optimizer_hparam_at(opt, 0, 1, &name, &v));
    CHECK_STR_EQ(name, "betas");
    CHECK(v.kind == CNNC_VALUE_FLOATS && v.n == 2 && v.fs[0] == 0.9 && v.fs[1] == 0.999);
    CHECK_ERR(cnnc_optimizer_hparam_at(opt, 0, 10, &name, &v));
    CHECK_ERR(cnnc_optimizer_hparam_at(opt, 1, 0, &name, &v));
    CHECK_ERROR_CONTAINS("out of range");
    CHECK_STATUS(cnnc_optimizer_hparam(opt, 0, "max_lr", &v), CNNC_ERR_NOT_FOUND);
    CHECK_STR_EQ(cnnc_last_error(), "KeyError: 'max_lr'");
    /* set: kinds checked; new keys added; unsupported modes refused */
    CHECK_OK(cnnc_optimizer_set_hparam(opt, 0, CNNC_HPARAM("lr", 0.25)));
    CHECK_OK(cnnc_optimizer_set_hparam(opt, 0, (cnnc_hparam){"eps", {.kind = CNNC_VALUE_INT, .ints = {1}}}));
    CHECK_OK(cnnc_optimizer_hparam(opt, 0, "eps", &v));
    CHECK(v.kind == CNNC_VALUE_FLOAT && v.f == 1.0);
    CHECK_ERR(cnnc_optimizer_set_hparam(opt, 0, CNNC_HPARAM_BOOL("eps", true)));
    CHECK_ERR(cnnc_optimizer_set_hparam(opt, 0, CNNC_HPARAM_BOOL("fused", true)));
    CHECK_ERROR_CONTAINS("fused=True is not supported");
    CHECK_OK(cnnc_optimizer_set_hparam(opt, 0, CNNC_HPARAM_BOOL("fused", false)));
    CHECK_ERR(cnnc_optimizer_set_hparam(opt, 0, CNNC_HPARAM("params", 1)));
    CHECK_ERR(cnnc_optimizer_set_hparam(opt, 0, (cnnc_hparam){NULL, {0}}));
    CHECK_ERR(cnnc_optimizer_set_hparam(opt, 0, (cnnc_hparam){"x", {.kind = CNNC_VALUE_STRING}}));
    CHECK_OK(cnnc_optimizer_set_hparam(opt, 0, (cnnc_hparam){"name", {.kind = CNNC_VALUE_STRING,
                                                                      .s = "head"}}));
    CHECK_OK(cnnc_optimizer_set_hparam(opt, 0, CNNC_HPARAM_BETAS(0.5, 0.6)));
    CHECK_OK(cnnc_optimizer_hparam(opt, 0, "name", &v));
    CHECK_STR_EQ(v.s, "head");
    CHECK_EQ_INT(cnnc_optimizer_num_hparams(opt, 0), 11);
    /* a second group */
    cnnc_param_group g = {.params = CNNC_PARAMS(b), CNNC_HPARAMS(CNNC_HPARAM("weight_decay", 0.5),
                                                        CNNC_HPARAM("custom", 7))};
    CHECK_OK(cnnc_optimizer_add_param_group(opt, g));
    CHECK_ERR(cnnc_optimizer_add_param_group(opt, g));
    CHECK_STR_EQ(cnnc_last_error(), "some parameters appear in more than one parameter group");
    CHECK_EQ_INT(cnnc_optimizer_num_param_groups(opt), 2);
    double lr;
    CHECK_OK(cnnc_optimizer_get_lr(opt, 1, &lr));
    CHECK(lr == 0.5); /* the constructor's default, not group 0's changed value */
    CHECK_OK(cnnc_optimizer_hparam_at(opt, 1, 10, &name, &v)); /* extras after the 10 keys */
    CHECK_STR_EQ(name, "custom");
    cnnc_tensor_list *ps = cnnc_optimizer_param_group_params(opt, 1);
    REQUIRE(ps);
    CHECK(cnnc_tensor_list_size(ps) == 1 && cnnc_tensor_list_get(ps, 0) == b);
    cnnc_tensor_list_free(ps);
    char *repr = cnnc_optimizer_repr(opt);
    REQUIRE(repr);
    CHECK_CONTAINS(repr, "Adam (\nParameter Group 0\n    amsgrad: False\n    betas: (0.5, 0.6)\n");
    CHECK_CONTAINS(repr, "    name: head\n");
    CHECK_CONTAINS(repr, "Parameter Group 1\n    amsgrad: False\n    betas: (0.9, 0.999)\n"
                         "    capturable: False\n    custom: 7.0\n");
    cnnc_free(repr);
    cnnc_tensor *other = param(1, (float[]){0}, NULL);
    REQUIRE(other);
    CHECK_NULL_ERR(cnnc_optimizer_param_state(opt, other));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_NOT_FOUND);
    cnnc_tensor_release(other);
    cnnc_optimizer_release(opt);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
}

static void test_zero_grad(void) {
    cnnc_tensor *a = param(2, (float[]){1, 2}, (float[]){3, 4}), *b = param(1, (float[]){3}, NULL);
    REQUIRE(a && b);
    cnnc_optimizer *opt = cnnc_rmsprop_new(CNNC_PARAMS(a, b), CNNC_RMSPROP());
    REQUIRE(opt);
    cnnc_tensor *g = cnnc_tensor_grad(a);
    uint64_t vg = cnnc_tensor_version(g);
    CHECK_OK(cnnc_optimizer_zero_grad(opt, false));
    CHECK(cnnc_tensor_grad(a) == g && at(g, 0) == 0 && at(g, 1) == 0);
    CHECK(cnnc_tensor_version(g) > vg);
    CHECK(cnnc_tensor_grad(b) == NULL);
    CHECK_OK(cnnc_optimizer_zero_grad(opt, true));
    CHECK(cnnc_tensor_grad(a) == NULL);
    cnnc_optimizer_release(opt);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
}

/* ---- state_dict -------------------------------------------------------------------------- */

static const float P0[] = {0.5f, -1.5f, 2.0f}, Q0[] = {0.25f};

/* Two params with grads, `steps` steps of the optimizer made by make(). */
typedef cnnc_optimizer *(*make_fn)(cnnc_tensor *p, cnnc_tensor *q);

static cnnc_optimizer *make_adam(cnnc_tensor *p, cnnc_tensor *q) {
    cnnc_param_group g[] = {{.params = CNNC_PARAMS(p)},
                            {.params = CNNC_PARAMS(q), CNNC_HPARAMS(CNNC_HPARAM("lr", 0.3))}};
    return cnnc_adam_new_groups(2, g, CNNC_ADAM(.lr = 0.1, .amsgrad = true));
}
static cnnc_optimizer *make_sgd(cnnc_tensor *p, cnnc_tensor *q) {
    return cnnc_sgd_new(CNNC_PARAMS(p, q), CNNC_SGD(.lr = 0.1, .momentum = 0.9, .nesterov = true));
}
static cnnc_optimizer *make_rmsprop(cnnc_tensor *p, cnnc_tensor *q) {
    return cnnc_rmsprop_new(CNNC_PARAMS(p, q), CNNC_RMSPROP(.centered = true, .momentum = 0.5));
}
static cnnc_optimizer *make_adagrad(cnnc_tensor *p, cnnc_tensor *q) {
    return cnnc_adagrad_new(CNNC_PARAMS(p, q), CNNC_ADAGRAD(.lr_decay = 0.1));
}

static void set_grads(cnnc_tensor *p, cnnc_tensor *q, int step) {
    float gp[3] = {0.1f * (float)step, -0.7f, 1.0f / (float)(step + 1)}, gq[1] = {(float)step - 1.5f};
    memcpy(cnnc_tensor_data_f32(cnnc_tensor_grad(p)), gp, sizeof gp);
    memcpy(cnnc_tensor_data_f32(cnnc_tensor_grad(q)), gq, sizeof gq);
}

static void test_state_dict_round_trip(void) {
    make_fn makers[] = {make_adam, make_sgd, make_rmsprop, make_adagrad};
    for (size_t m = 0; m < sizeof makers / sizeof *makers; m++) {
        cnnc_tensor *p = param(3, P0, P0), *q = param(1, Q0, Q0);
        REQUIRE(p && q);
        cnnc_optimizer *opt = makers[m](p, q);
        REQUIRE(opt);
        for (int s = 0; s < 3; s++) {
            set_grads(p, q, s);
            CHECK_OK(cnnc_optimizer_step(opt));
        }
        cnnc_tensor_list *sd = cnnc_optimizer_state_dict(opt);
        REQUIRE(sd);
        /* a fresh optimizer on copies of the parameters */
        cnnc_tensor *p2 = param(3, cnnc_tensor_data_f32(p), P0), *q2 = param(1, cnnc_tensor_data_f32(q), Q0);
        REQUIRE(p2 && q2);
        cnnc_optimizer *opt2 = makers[m](p2, q2);
        REQUIRE(opt2);
        CHECK_OK(cnnc_optimizer_set_lr(opt2, 0, 99.0));
        CHECK_OK(cnnc_optimizer_load_state_dict(opt2, sd));
        for (int s = 3; s < 6; s++) {
            set_grads(p, q, s);
            set_grads(p2, q2, s);
            CHECK_OK(cnnc_optimizer_step(opt));
            CHECK_OK(cnnc_optimizer_step(opt2));
            CHECK(memcmp(cnnc_tensor_data_f32(p), cnnc_tensor_data_f32(p2), 3 * sizeof(float)) == 0);
            CHECK(memcmp(cnnc_tensor_data_f32(q), cnnc_tensor_data_f32(q2), sizeof(float)) == 0);
        }
        cnnc_tensor_list_free(sd);
        cnnc_optimizer_release(opt2);
        cnnc_optimizer_release(opt);
        cnnc_tensor_release(p2);
        cnnc_tensor_release(q2);
        cnnc_tensor_release(p);
        cnnc_tensor_release(q);
    }
}

static void test_state_dict_layout(void) {
    cnnc_tensor *p = param(3, P0, P0), *q = param(1, Q0, Q0);
    REQUIRE(p && q);
    cnnc_optimizer *opt = make_adam(p, q);
    REQUIRE(opt);
    CHECK_OK(cnnc_optimizer_step(opt));
    cnnc_tensor_list *sd = cnnc_optimizer_state_dict(opt);
    REQUIRE(sd);
    CHECK_EQ_INT(cnnc_tensor_list_size(sd), 8);
    CHECK_STR_EQ(cnnc_tensor_list_name(sd, 0), "state.0.step");
    CHECK_STR_EQ(cnnc_tensor_list_name(sd, 7), "state.1.max_exp_avg_sq");
    CHECK_STR_EQ(cnnc_tensor_list_meta(sd, "param_groups.0.lr"), "0.1");
    CHECK_STR_EQ(cnnc_tensor_list_meta(sd, "param_groups.1.lr"), "0.3");
    CHECK_STR_EQ(cnnc_tensor_list_meta(sd, "param_groups.0.betas"), "(0.9, 0.999)");
    CHECK_STR_EQ(cnnc_tensor_list_meta(sd, "param_groups.0.eps"), "1e-08");
    CHECK_STR_EQ(cnnc_tensor_list_meta(sd, "param_groups.0.amsgrad"), "True");
    CHECK_STR_EQ(cnnc_tensor_list_meta(sd, "param_groups.0.foreach"), "None");
    CHECK_STR_EQ(cnnc_tensor_list_meta(sd, "param_groups.0.params"), "[0]");
    CHECK_STR_EQ(cnnc_tensor_list_meta(sd, "param_groups.1.params"), "[1]");
    cnnc_tensor_list_free(sd);
    /* doubles round-trip exactly */
    CHECK_OK(cnnc_optimizer_set_lr(opt, 0, 0.1 + 0.2));
    sd = cnnc_optimizer_state_dict(opt);
    REQUIRE(sd);
    CHECK_STR_EQ(cnnc_tensor_list_meta(sd, "param_groups.0.lr"), "0.30000000000000004");
    cnnc_tensor_list_free(sd);
    cnnc_optimizer_release(opt);
    cnnc_tensor_release(p);
    cnnc_tensor_release(q);
}

/* Copies sd, then applies one change: a metadata key set (value NULL: removed by
 * rebuilding without it) or a tensor renamed/replaced. */
static cnnc_tensor_list *edited(const cnnc_tensor_list *sd, const char *key, const char *value,
                                const char *tensor_name, cnnc_tensor *tensor) {
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    if (!l) return NULL;
    for (size_t i = 0; i < cnnc_tensor_list_size(sd); i++) {
        const char *n = cnnc_tensor_list_name(sd, i);
        bool replace = tensor_name && strcmp(n, tensor_name) == 0;
        cnnc_tensor_list_append(l, replace && !tensor ? "state.0.bogus" : n,
                                replace && tensor ? tensor : cnnc_tensor_list_get(sd, i));
    }
    for (size_t i = 0; i < cnnc_tensor_list_meta_size(sd); i++) {
        const char *k, *v;
        cnnc_tensor_list_meta_at(sd, i, &k, &v);
        if (key && strcmp(k, key) == 0 && !value) continue;
        cnnc_tensor_list_set_meta(l, k, v);
    }
    if (key && value) cnnc_tensor_list_set_meta(l, key, value);
    return l;
}

static void test_load_state_dict_errors(void) {
    cnnc_tensor *p = param(3, P0, P0), *q = param(1, Q0, Q0);
    REQUIRE(p && q);
    cnnc_optimizer *opt = make_adam(p, q);
    REQUIRE(opt);
    CHECK_OK(cnnc_optimizer_step(opt));
    cnnc_tensor_list *sd = cnnc_optimizer_state_dict(opt);
    REQUIRE(sd);
    char *before = cnnc_optimizer_repr(opt);
    cnnc_tensor *wrong = cnnc_zeros(CNNC_SHAPE(2), CNNC_FLOAT32);
    REQUIRE(before && wrong);
    struct {
        const char *key, *value, *tensor;
        cnnc_tensor *t;
        const char *msg;
    } cases[] = {
        {"param_groups.2.lr", "0.1", NULL, NULL, "loaded state dict has a different number of parameter groups"},
        {"param_groups.1.params", "[1, 2]", NULL, NULL, "doesn't match the size of optimizer's group"},
        {"param_groups.0.params", "[0.5]", NULL, NULL, "not a list of ints"},
        {"param_groups.0.params", NULL, NULL, NULL, "has no 'params'"},
        {"param_groups.0.lr", NULL, NULL, NULL, "param_groups[0] has no 'lr'"},
        {"param_groups.0.lr", "'fast'", NULL, NULL, "'lr' must be a number"},
        {"param_groups.0.lr", "1.0.0", NULL, NULL, "is not a value cnnc reads"},
        {"param_groups.0.betas", "(0.9,)", NULL, NULL, "'betas' must be a pair of numbers"},
        {"param_groups.0.capturable", "True", NULL, NULL, "capturable=True is not supported"},
        {"param_groups.x.lr", "1", NULL, NULL, "malformed key 'param_groups.x.lr'"},
        {NULL, NULL, "state.0.exp_avg", wrong, "is a float32 tensor of shape [2] but parameter 0"},
        {NULL, NULL, "state.0.exp_avg", NULL, "Adam has no state 'bogus'"},
        {"param_groups.0.params", "[5]", NULL, NULL, "no parameter has index 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cnnc_tensor_list *l = edited(sd, cases[i].key, cases[i].value, cases[i].tensor, cases[i].t);
        REQUIRE(l);
        CHECK_ERR(cnnc_optimizer_load_state_dict(opt, l));
        CHECK_ERROR_CONTAINS(cases[i].msg);
        cnnc_tensor_list_free(l);
    }
    cnnc_tensor_list *l = edited(sd, NULL, NULL, NULL, NULL);
    REQUIRE(l);
    CHECK_OK(cnnc_tensor_list_append(l, "weight", wrong));
    CHECK_ERR(cnnc_optimizer_load_state_dict(opt, l));
    CHECK_ERROR_CONTAINS("unexpected tensor 'weight'");
    cnnc_tensor_list_free(l);
    char *after = cnnc_optimizer_repr(opt);
    CHECK_STR_EQ(after, before); /* nothing changed */
    cnnc_free(after);
    cnnc_free(before);
    cnnc_tensor_release(wrong);
    cnnc_tensor_list_free(sd);
    cnnc_optimizer_release(opt);
    cnnc_tensor_release(p);
    cnnc_tensor_release(q);
}

/* ---- schedulers --------------------------------------------------------------------------- */

static cnnc_status half_every_other(void *ctx, int64_t epoch, double *factor) {
    int *calls = ctx;
    (*calls)++;
    if (epoch == 7) return CNNC_ERR_RUNTIME;
    *factor = epoch % 2 ? 0.5 : 1.0;
    return CNNC_OK;
}

static void test_scheduler_api(void) {
    cnnc_tensor *p = param(3, P0, P0);
    REQUIRE(p);
    cnnc_optimizer *opt = cnnc_sgd_new(CNNC_PARAMS(p), CNNC_SGD(.lr = 0.1, .momentum = 0.9));
    REQUIRE(opt);
    cnnc_lr_scheduler *s = cnnc_steplr_new(opt, 2, CNNC_STEPLR(.gamma = 0.5));
    REQUIRE(s);
    CHECK_STR_EQ(cnnc_lr_scheduler_type(s), "StepLR");
    CHECK(cnnc_lr_scheduler_optimizer(s) == opt);
    CHECK_EQ_INT(cnnc_lr_scheduler_last_epoch(s), 0);
    double lrs[2] = {0};
    CHECK_EQ_INT(cnnc_lr_scheduler_get_last_lr(s, lrs, 2), 1);
    CHECK(lrs[0] == 0.1);
    CHECK_OK(cnnc_lr_scheduler_step(s));
    CHECK_OK(cnnc_lr_scheduler_step(s));
    CHECK_EQ_INT(cnnc_lr_scheduler_get_last_lr(s, lrs, 1), 1);
    CHECK(lrs[0] == 0.05);
    CHECK_OK(cnnc_lr_scheduler_step_epoch(s, 6)); /* closed form: 0.1 * 0.5 ** 3 */
    CHECK(cnnc_lr_scheduler_get_last_lr(s, lrs, 1) == 1 && lrs[0] == 0.1 * 0.125);
    CHECK_ERR(cnnc_lr_scheduler_step_metric(s, 1.0));
    CHECK_SETS_ERROR(cnnc_lr_scheduler_get_last_lr(s, NULL, 1));
    CHECK_OK(cnnc_lr_scheduler_set_last_epoch(s, 100));
    CHECK_EQ_INT(cnnc_lr_scheduler_last_epoch(s), 100);
    /* the scheduler keeps the optimizer alive */
    cnnc_optimizer_release(opt);
    CHECK_OK(cnnc_lr_scheduler_step(s));
    opt = cnnc_optimizer_retain(cnnc_lr_scheduler_optimizer(s));
    cnnc_lr_scheduler_release(s);

    /* plateau: no last lr before a step; step needs a metric */
    s = cnnc_reducelronplateau_new(opt, CNNC_REDUCELRONPLATEAU(.patience = 0, .mode = "max"));
    REQUIRE(s);
    CHECK_SETS_ERROR(cnnc_lr_scheduler_get_last_lr(s, lrs, 1));
    CHECK_ERROR_CONTAINS("_last_lr");
    CHECK_ERR(cnnc_lr_scheduler_step(s));
    CHECK_ERROR_CONTAINS("metrics");
    CHECK_ERR(cnnc_lr_scheduler_step_epoch(s, 3));
    CHECK_OK(cnnc_lr_scheduler_step_metric(s, 1.0));
    CHECK_OK(cnnc_lr_scheduler_step_metric(s, 0.5)); /* worse: reduce */
    CHECK(cnnc_lr_scheduler_get_last_lr(s, lrs, 1) == 1);
    CHECK_NEAR(lrs[0], 0.1 * 0.125 * 0.1, 1e-12);
    cnnc_lr_scheduler_release(s);
    CHECK_NULL_ERR(cnnc_reducelronplateau_new(opt, CNNC_REDUCELRONPLATEAU(.mode = "avg")));
    CHECK_STR_EQ(cnnc_last_error(), "mode avg is unknown!");

    /* LambdaLR: a failing callback fails the step, naming the epoch */
    int calls = 0;
    CHECK_OK(cnnc_optimizer_set_lr(opt, 0, 1.0));
    CHECK_OK(cnnc_optimizer_set_hparam(opt, 0, CNNC_HPARAM("initial_lr", 1.0)));
    s = cnnc_lambdalr_new(opt, half_every_other, &calls, CNNC_LAMBDALR(.last_epoch = 4));
    REQUIRE(s);
    CHECK_OK(cnnc_lr_scheduler_step(s));
    CHECK(cnnc_lr_scheduler_get_last_lr(s, lrs, 1) == 1 && lrs[0] == 1.0);
    CHECK_ERR(cnnc_lr_scheduler_step(s));
    CHECK_STR_EQ(cnnc_last_error(), "LambdaLR: lr_lambda of group 0 failed at epoch 7");
    CHECK_EQ_INT(calls, 3);
    cnnc_lr_lambda fns[2] = {half_every_other, half_every_other};
    CHECK_NULL_ERR(cnnc_lambdalr_new_per_group(opt, 2, fns, NULL, CNNC_LAMBDALR()));
    CHECK_STR_EQ(cnnc_last_error(), "Expected 1 lr_lambdas, but got 2");

    /* SequentialLR refuses plateau, other optimizers, wrong milestone counts */
    cnnc_lr_scheduler *plateau = cnnc_reducelronplateau_new(opt, CNNC_REDUCELRONPLATEAU());
    REQUIRE(plateau);
    CHECK_NULL_ERR(cnnc_sequentiallr_new(opt, 2, (cnnc_lr_scheduler *[]){s, plateau}, 1,
                                         (int64_t[]){3}, CNNC_SEQUENTIALLR()));
    CHECK_ERROR_CONTAINS("ReduceLROnPlateau");
    CHECK_NULL_ERR(cnnc_sequentiallr_new(opt, 1, (cnnc_lr_scheduler *[]){s}, 1, (int64_t[]){3},
                                         CNNC_SEQUENTIALLR()));
    CHECK_ERROR_CONTAINS("number of schedulers 1 and the number of milestones to be equal to 1");
    CHECK_NULL_ERR(cnnc_sequentiallr_new(opt, 2, (cnnc_lr_scheduler *[]){s, NULL}, 1,
                                         (int64_t[]){3}, CNNC_SEQUENTIALLR()));
    cnnc_lr_scheduler_release(plateau);
    cnnc_lr_scheduler_release(s);

    /* OneCycleLR: argument errors, and the end of the schedule */
    CHECK_NULL_ERR(cnnc_onecyclelr_new(opt, CNNC_ALL_GROUPS(0.1), CNNC_ONECYCLELR()));
    CHECK_STR_EQ(cnnc_last_error(), "You must define either total_steps OR (epochs AND steps_per_epoch)");
    CHECK_NULL_ERR(cnnc_onecyclelr_new(opt, CNNC_ALL_GROUPS(0.1),
                                       CNNC_ONECYCLELR(.epochs = CNNC_SOME(3))));
    CHECK_STR_EQ(cnnc_last_error(), "Expected positive integer steps_per_epoch, but got None");
    CHECK_NULL_ERR(cnnc_onecyclelr_new(opt, CNNC_PER_GROUP(0.1, 0.2),
                                       CNNC_ONECYCLELR(.total_steps = CNNC_SOME(3))));
    CHECK_STR_EQ(cnnc_last_error(), "expected 1 values for max_lr, got 2");
    s = cnnc_onecyclelr_new(opt, CNNC_ALL_GROUPS(0.1),
                            CNNC_ONECYCLELR(.total_steps = CNNC_SOME(3), .anneal_strategy = NULL));
    REQUIRE(s);
    for (int i = 0; i < 3; i++) CHECK_OK(cnnc_lr_scheduler_step(s));
    CHECK_ERR(cnnc_lr_scheduler_step(s));
    CHECK_STR_EQ(cnnc_last_error(), "Tried to step 5 times. The specified number of total steps is 3");
    cnnc_value v;
    CHECK_OK(cnnc_optimizer_hparam(opt, 0, "max_momentum", &v));
    CHECK(v.kind == CNNC_VALUE_FLOAT && v.f == 0.95);
    cnnc_lr_scheduler_release(s);
    cnnc_optimizer_release(opt);
    cnnc_tensor_release(p);
}

/* Every kind: state_dict, a new scheduler of other settings loads it, both
 * continue with the same lrs. */
typedef cnnc_lr_scheduler *(*sched_fn)(cnnc_optimizer *opt, int variant);

static cnnc_lr_scheduler *make_sched(cnnc_optimizer *opt, int kind, int v) {
    switch (kind) {
    case 0: return cnnc_steplr_new(opt, 2 + v, CNNC_STEPLR(.gamma = 0.5));
    case 1: return cnnc_multisteplr_new(opt, 3, (int64_t[]){2, 2 + v, 6}, CNNC_MULTISTEPLR());
    case 2: return cnnc_exponentiallr_new(opt, 0.9 - 0.1 * v, CNNC_EXPONENTIALLR());
    case 3: return cnnc_cosineannealinglr_new(opt, 5 + v, CNNC_COSINEANNEALINGLR(.eta_min = 1e-3));
    case 4: return cnnc_linearlr_new(opt, CNNC_LINEARLR(.total_iters = 4 + v));
    case 5:
        return cnnc_onecyclelr_new(opt, CNNC_ALL_GROUPS(0.5 + v),
                                   CNNC_ONECYCLELR(.total_steps = CNNC_SOME(20 + v),
                                                   .three_phase = v == 0));
    case 6: return cnnc_reducelronplateau_new(opt, CNNC_REDUCELRONPLATEAU(.patience = 1 + v,
                                                                         .cooldown = 1));
    default: {
        cnnc_lr_scheduler *a = cnnc_linearlr_new(opt, CNNC_LINEARLR(.total_iters = 3));
        cnnc_lr_scheduler *b = cnnc_cosineannealinglr_new(opt, 4 + v, CNNC_COSINEANNEALINGLR());
        cnnc_lr_scheduler *s = a && b ? cnnc_sequentiallr_new(opt, 2, (cnnc_lr_scheduler *[]){a, b}, 1,
                                                              (int64_t[]){3 + v}, CNNC_SEQUENTIALLR())
                                      : NULL;
        cnnc_lr_scheduler_release(a);
        cnnc_lr_scheduler_release(b);
        return s;
    }
    }
}

static cnnc_status sched_step(cnnc_lr_scheduler *s, int kind, int i) {
    return kind == 6 ? cnnc_lr_scheduler_step_metric(s, i % 4 ? 1.0 : 0.5)
                     : cnnc_lr_scheduler_step(s);
}

static void test_scheduler_state_dict(void) {
    for (int kind = 0; kind < 8; kind++) {
        cnnc_tensor *p = param(3, P0, P0), *q = param(3, P0, P0);
        REQUIRE(p && q);
        cnnc_optimizer *o1 = cnnc_sgd_new(CNNC_PARAMS(p), CNNC_SGD(.lr = 0.1, .momentum = 0.9));
        cnnc_optimizer *o2 = cnnc_sgd_new(CNNC_PARAMS(q), CNNC_SGD(.lr = 0.1, .momentum = 0.9));
        REQUIRE(o1 && o2);
        cnnc_lr_scheduler *s1 = make_sched(o1, kind, 0), *s2 = make_sched(o2, kind, 1);
        REQUIRE(s1 && s2);
        for (int i = 0; i < 5; i++) CHECK_OK(sched_step(s1, kind, i));
        cnnc_tensor_list *sd = cnnc_lr_scheduler_state_dict(s1);
        cnnc_tensor_list *osd = cnnc_optimizer_state_dict(o1);
        REQUIRE(sd && osd);
        CHECK_EQ_INT(cnnc_tensor_list_size(sd), 0);
        CHECK_OK(cnnc_optimizer_load_state_dict(o2, osd));
        CHECK_OK(cnnc_lr_scheduler_load_state_dict(s2, sd));
        for (int i = 5; i < 15; i++) {
            CHECK_OK(sched_step(s1, kind, i));
            CHECK_OK(sched_step(s2, kind, i));
            double a = -1, b = -2;
            CHECK_OK(cnnc_optimizer_get_lr(o1, 0, &a));
            CHECK_OK(cnnc_optimizer_get_lr(o2, 0, &b));
            CHECK(a == b);
            CHECK_EQ_INT(cnnc_lr_scheduler_last_epoch(s1), cnnc_lr_scheduler_last_epoch(s2));
        }
        /* a broken dict changes nothing */
        cnnc_tensor_list *bad = edited(sd, "last_epoch", "'x'", NULL, NULL);
        REQUIRE(bad);
        cnnc_tensor_list *before = cnnc_lr_scheduler_state_dict(s2);
        REQUIRE(before);
        CHECK_ERR(cnnc_lr_scheduler_load_state_dict(s2, bad));
        cnnc_tensor_list *after = cnnc_lr_scheduler_state_dict(s2);
        REQUIRE(after);
        CHECK_EQ_INT(cnnc_tensor_list_meta_size(after), cnnc_tensor_list_meta_size(before));
        for (size_t i = 0; i < cnnc_tensor_list_meta_size(before); i++) {
            const char *k, *v;
            cnnc_tensor_list_meta_at(before, i, &k, &v);
            CHECK_STR_EQ(cnnc_tensor_list_meta(after, k), v);
        }
        cnnc_tensor_list *extra = edited(sd, "surprise", "1", NULL, NULL);
        REQUIRE(extra);
        CHECK_ERR(cnnc_lr_scheduler_load_state_dict(s2, extra));
        CHECK_ERROR_CONTAINS("unexpected key 'surprise'");
        cnnc_tensor_list_free(extra);
        cnnc_tensor_list_free(after);
        cnnc_tensor_list_free(before);
        cnnc_tensor_list_free(bad);
        cnnc_tensor_list_free(sd);
        cnnc_tensor_list_free(osd);
        cnnc_lr_scheduler_release(s1);
        cnnc_lr_scheduler_release(s2);
        cnnc_optimizer_release(o1);
        cnnc_optimizer_release(o2);
        cnnc_tensor_release(p);
        cnnc_tensor_release(q);
    }
}

/* ---- clipping ---------------------------------------------------------------------------- */

static void test_clip(void) {
    cnnc_tensor *a = param(2, (float[]){0, 0}, (float[]){3, 0}), *b = param(1, (float[]){0}, (float[]){4});
    cnnc_tensor *c = param(1, (float[]){0}, NULL);
    REQUIRE(a && b && c);
    cnnc_tensor *n = cnnc_clip_grad_norm_(CNNC_PARAMS(a, b, c), 1.0, CNNC_CLIP_GRAD_NORM());
    REQUIRE(n);
    CHECK_EQ_INT(cnnc_tensor_ndim(n), 0);
    CHECK(at(n, 0) == 5.0f);
    float coef = (1.0f / (5.0f + (float)1e-6)) * 1.0f;
    CHECK(at(cnnc_tensor_grad(a), 0) == 3.0f * coef && at(cnnc_tensor_grad(b), 0) == 4.0f * coef);
    cnnc_tensor_release(n);
    n = cnnc_clip_grad_norm_(CNNC_PARAMS(a, b), 1.0, CNNC_CLIP_GRAD_NORM(.norm_type = INFINITY));
    REQUIRE(n);
    CHECK_NEAR(at(n, 0), 0.8, 1e-6);
    cnnc_tensor_release(n);
    cnnc_tensor_data_f32(cnnc_tensor_grad(a))[1] = NAN;
    CHECK_TENSOR_ERR(cnnc_clip_grad_norm_(CNNC_PARAMS(a, b), 1.0,
                                          CNNC_CLIP_GRAD_NORM(.error_if_nonfinite = true)));
    CHECK_ERROR_CONTAINS("The total norm of order 2.0 for gradients from `parameters` is non-finite");
    CHECK_OK(cnnc_clip_grad_value_(CNNC_PARAMS(a, b, c), 0.5));
    CHECK(at(cnnc_tensor_grad(a), 0) == 0.5f && isnan(at(cnnc_tensor_grad(a), 1)));
    CHECK(at(cnnc_tensor_grad(b), 0) == 0.5f);
    n = cnnc_clip_grad_norm_(CNNC_PARAMS(c), 1.0, CNNC_CLIP_GRAD_NORM()); /* no grads: 0 */
    REQUIRE(n);
    CHECK(at(n, 0) == 0.0f);
    cnnc_tensor_release(n);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(c);
}

/* ---- allocation-failure injection ------------------------------------------------------------ */

typedef struct alloc_state {
    long fail_at, count, injected;
    bool persistent;
    long live;
} alloc_state;
static alloc_state A;

static void *tracking_alloc(void *ctx, size_t size) {
    (void)ctx;
    A.count++;
    if (A.fail_at > 0 && (A.count == A.fail_at || (A.persistent && A.count > A.fail_at))) {
        A.injected++;
        return NULL;
    }
    void *p = malloc(size);
    if (p) A.live++;
    return p;
}

static void tracking_free(void *ctx, void *ptr) {
    (void)ctx;
    if (ptr) A.live--;
    free(ptr);
}

/* One training step of everything: Adam + SGD, three schedulers, clipping,
 * state_dicts loaded into fresh objects. Final values in out[8]. */
static bool scenario(float *out) {
    bool ok = false;
    cnnc_tensor *p = NULL, *q = NULL, *n = NULL;
    cnnc_optimizer *adam = NULL, *sgd = NULL, *adam2 = NULL;
    cnnc_lr_scheduler *oc = NULL, *lin = NULL, *cos = NULL, *seq = NULL, *seq2 = NULL;
    cnnc_tensor_list *sd = NULL, *ssd = NULL;
    char *repr = NULL;
    if (!(p = param(3, P0, P0)) || !(q = param(1, Q0, Q0))) goto done;
    cnnc_param_group g[] = {{.params = CNNC_PARAMS(p)},
                            {.params = CNNC_PARAMS(q), CNNC_HPARAMS(CNNC_HPARAM("lr", 0.3))}};
    if (!(adam = cnnc_adam_new_groups(2, g, CNNC_ADAM(.amsgrad = true)))) goto done;
    if (!(sgd = cnnc_sgd_new(CNNC_PARAMS(q), CNNC_SGD(.lr = 0.1, .momentum = 0.9)))) goto done;
    if (!(oc = cnnc_onecyclelr_new(adam, CNNC_PER_GROUP(0.1, 0.2),
                                   CNNC_ONECYCLELR(.total_steps = CNNC_SOME(10))))) goto done;
    if (!(lin = cnnc_linearlr_new(sgd, CNNC_LINEARLR())) ||
        !(cos = cnnc_cosineannealinglr_new(sgd, 3, CNNC_COSINEANNEALINGLR())) ||
        !(seq = cnnc_sequentiallr_new(sgd, 2, (cnnc_lr_scheduler *[]){lin, cos}, 1,
                                      (int64_t[]){2}, CNNC_SEQUENTIALLR()))) goto done;
    for (int s = 0; s < 3; s++) {
        set_grads(p, q, s);
        cnnc_tensor_release(n);
        if (!(n = cnnc_clip_grad_norm_(CNNC_PARAMS(p, q), 1.0, CNNC_CLIP_GRAD_NORM()))) goto done;
        if (cnnc_clip_grad_value_(CNNC_PARAMS(p, q), 0.5) != CNNC_OK) goto done;
        if (cnnc_optimizer_step(adam) != CNNC_OK || cnnc_optimizer_step(sgd) != CNNC_OK) goto done;
        if (cnnc_lr_scheduler_step(oc) != CNNC_OK || cnnc_lr_scheduler_step(seq) != CNNC_OK) goto done;
    }
    if (!(sd = cnnc_optimizer_state_dict(adam)) || !(ssd = cnnc_lr_scheduler_state_dict(seq)))
        goto done;
    if (!(adam2 = cnnc_adam_new(CNNC_PARAMS(p, q), CNNC_ADAM()))) goto done;
    if (cnnc_optimizer_load_state_dict(adam2, sd) == CNNC_OK) goto done; /* 1 group, not 2 */
    if (cnnc_last_status() == CNNC_ERR_OUT_OF_MEMORY) goto done;
    cnnc_optimizer_release(adam2);
    if (!(adam2 = cnnc_adam_new_groups(2, g, CNNC_ADAM()))) goto done;
    if (cnnc_optimizer_load_state_dict(adam2, sd) != CNNC_OK) goto done;
    if (!(seq2 = cnnc_sequentiallr_new(sgd, 2, (cnnc_lr_scheduler *[]){lin, cos}, 1,
                                       (int64_t[]){2}, CNNC_SEQUENTIALLR()))) goto done;
    if (cnnc_lr_scheduler_load_state_dict(seq2, ssd) != CNNC_OK) goto done;
    set_grads(p, q, 4);
    if (cnnc_optimizer_step(adam2) != CNNC_OK || cnnc_lr_scheduler_step(seq2) != CNNC_OK) goto done;
    if (!(repr = cnnc_optimizer_repr(adam2))) goto done;
    memcpy(out, cnnc_tensor_data_f32(p), 3 * sizeof(float));
    out[3] = at(q, 0);
    out[4] = at(n, 0);
    if (cnnc_optimizer_get_lr(sgd, 0, (double[]){0}) != CNNC_OK) goto done;
    double lrs[2];
    if (cnnc_lr_scheduler_get_last_lr(oc, lrs, 2) != 2) goto done;
    out[5] = (float)lrs[0];
    out[6] = (float)lrs[1];
    out[7] = (float)strlen(repr);
    ok = true;
done:
    cnnc_free(repr);
    cnnc_tensor_list_free(sd);
    cnnc_tensor_list_free(ssd);
    cnnc_lr_scheduler_release(seq2);
    cnnc_lr_scheduler_release(seq);
    cnnc_lr_scheduler_release(cos);
    cnnc_lr_scheduler_release(lin);
    cnnc_lr_scheduler_release(oc);
    cnnc_optimizer_release(adam2);
    cnnc_optimizer_release(sgd);
    cnnc_optimizer_release(adam);
    cnnc_tensor_release(n);
    cnnc_tensor_release(p);
    cnnc_tensor_release(q);
    return ok;
}

static void test_allocation_failures(void) {
    static const cnnc_allocator tracking = {tracking_alloc, tracking_free, NULL};
    float ref[8], got[8];
    REQUIRE(scenario(ref)); /* with the default allocator */
    cnnc_thread_cleanup();
    cnnc_set_allocator(&tracking);
    A = (alloc_state){0};
    REQUIRE(scenario(got));
    CHECK(memcmp(got, ref, sizeof ref) == 0);
    cnnc_thread_cleanup();
    long total = A.count, points = 0, recovered = 0;
    CHECK(total > 50);
    CHECK_EQ_INT(A.live, 0);
    for (int persistent = 0; persistent < 2; persistent++) {
        for (long n = 1; n <= total; n++) {
            A = (alloc_state){.fail_at = n, .persistent = persistent};
            cnnc_clear_error();
            bool ok = scenario(got);
            cnnc_thread_cleanup();
            long live = A.live;
            points++;
            if (ok) {
                recovered++;
                CHECK(memcmp(got, ref, sizeof ref) == 0);
            } else {
                CHECK(A.injected > 0);
                if (cnnc_last_status() != CNNC_ERR_OUT_OF_MEMORY ||
                    !check_contains_(cnnc_last_error(), "out of memory")) {
                    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_OUT_OF_MEMORY);
                    fprintf(stderr, "    N=%ld %s: %s\n", n, persistent ? "persistent" : "transient",
                            cnnc_last_error());
                }
            }
            if (live != 0) {
                CHECK_EQ_INT(live, 0);
                fprintf(stderr, "    N=%ld %s leaks %ld blocks\n", n,
                        persistent ? "persistent" : "transient", live);
            }
        }
    }
    cnnc_set_allocator(NULL);
    printf("  %ld allocations per run, %ld failure points run, %ld recovered\n", total, points,
           recovered);
}

int main(void) {
    RUN_TEST(test_sgd_by_hand);
    RUN_TEST(test_adam_first_step);
    RUN_TEST(test_skips_params_without_grad);
    RUN_TEST(test_constructor_errors);
    RUN_TEST(test_nulls);
    RUN_TEST(test_hparams);
    RUN_TEST(test_zero_grad);
    RUN_TEST(test_state_dict_round_trip);
    RUN_TEST(test_state_dict_layout);
    RUN_TEST(test_load_state_dict_errors);
    RUN_TEST(test_scheduler_api);
    RUN_TEST(test_scheduler_state_dict);
    RUN_TEST(test_clip);
    RUN_TEST(test_allocation_failures);
    return check_summary();
}
