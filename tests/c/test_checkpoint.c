/* Checkpoints (include/cnnc/checkpoint.h): a run stopped half way, checkpointed, and
 * resumed into freshly built objects (initialised from another seed) ends with the
 * same bits as the run that never stopped: weights, running statistics, optimizer
 * state. The model has dropout (the random generator's state must come back) and
 * batch norm; the optimizers keep None entries (SGD's momentum buffer) and step
 * counts; the schedulers change the learning rate every step. Then the errors. */
#include <string.h>

#include "check.h"

enum { STEPS = 24, BATCH = 8, IMAGES = 40 }; /* 5 batches per epoch: resumes mid-epoch */

typedef struct setup {
    cnnc_module *model;
    cnnc_tensor_list *params;
    cnnc_optimizer *opt;
    cnnc_lr_scheduler *sched;
    cnnc_dataloader *loader;
    int64_t batches_done; /* in the loader's current epoch */
} setup;

static cnnc_module *tiny_net(void) {
    cnnc_module *layers[] = {
        cnnc_conv2d_new(1, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1))),
        cnnc_batchnorm2d_new(4, CNNC_BATCHNORM()),
        cnnc_relu_new(CNNC_RELU()),
        cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2))),
        cnnc_flatten_new(CNNC_FLATTEN()),
        cnnc_dropout_new(CNNC_DROPOUT(.p = 0.25)),
        cnnc_linear_new(4 * 4 * 4, 10, CNNC_LINEAR()),
    };
    return cnnc_sequential_new((int)(sizeof layers / sizeof *layers), layers);
}

/* config 0: SGD (momentum, nesterov, weight decay) + StepLR; 1: Adam (amsgrad) + OneCycleLR;
 * 2: RMSprop (centered, momentum) + CosineAnnealingLR. */
static bool build(setup *s, int config, uint64_t seed, cnnc_dataset *ds) {
    memset(s, 0, sizeof *s);
    cnnc_manual_seed(seed);
    s->model = tiny_net();
    s->params = s->model ? cnnc_module_named_parameters(s->model) : NULL;
    if (!s->params) return false;
    cnnc_params p = CNNC_PARAM_LIST(s->params);
    if (config == 0) {
        s->opt = cnnc_sgd_new(p, CNNC_SGD(.lr = 0.05, .momentum = 0.9, .nesterov = true,
                                          .weight_decay = 1e-3));
        s->sched = s->opt ? cnnc_steplr_new(s->opt, 5, CNNC_STEPLR(.gamma = 0.7)) : NULL;
    } else if (config == 1) {
        s->opt = cnnc_adam_new(p, CNNC_ADAM(.lr = 1e-3, .amsgrad = true));
        cnnc_onecyclelr_options o = CNNC_ONECYCLELR();
        o.total_steps = (cnnc_optional_int)CNNC_SOME(STEPS);
        s->sched = s->opt ? cnnc_onecyclelr_new(s->opt, CNNC_ALL_GROUPS(1e-2), o) : NULL;
    } else {
        s->opt = cnnc_rmsprop_new(p, CNNC_RMSPROP(.lr = 1e-3, .momentum = 0.9, .centered = true));
        s->sched = s->opt ? cnnc_cosineannealinglr_new(s->opt, 10, CNNC_COSINEANNEALINGLR()) : NULL;
    }
    s->loader = cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = BATCH, .shuffle = true,
                                                        .seed = 3, .horizontal_flip_p = 0.5));
    return s->opt && s->sched && s->loader;
}

static void release(setup *s) {
    cnnc_dataloader_free(s->loader);
    cnnc_lr_scheduler_release(s->sched);
    cnnc_optimizer_release(s->opt);
    cnnc_tensor_list_free(s->params);
    cnnc_module_release(s->model);
}

/* n training steps, the scheduler stepped after each; the loader wraps to new epochs. */
static bool train(setup *s, int n) {
    for (int i = 0; i < n; i++) {
        if (cnnc_scope_begin() != CNNC_OK) return false;
        cnnc_tensor *x = NULL, *y = NULL;
        bool ok = cnnc_dataloader_next(s->loader, &x, &y) == CNNC_OK;
        if (ok && !x) { /* end of an epoch: the next call starts the next one */
            s->batches_done = 0;
            ok = cnnc_dataloader_next(s->loader, &x, &y) == CNNC_OK && x;
        }
        cnnc_tensor *z = ok ? cnnc_module_forward(s->model, x) : NULL;
        cnnc_tensor *loss = z ? cnnc_cross_entropy(z, y, CNNC_CROSS_ENTROPY()) : NULL;
        ok = loss && cnnc_optimizer_zero_grad(s->opt, false) == CNNC_OK &&
             cnnc_backward(loss, NULL, false) == CNNC_OK && cnnc_optimizer_step(s->opt) == CNNC_OK &&
             cnnc_lr_scheduler_step(s->sched) == CNNC_OK;
        cnnc_scope_end();
        if (!ok) return false;
        s->batches_done++;
    }
    return true;
}

static bool same_bits(const cnnc_tensor_list *a, const cnnc_tensor_list *b) {
    if (cnnc_tensor_list_size(a) != cnnc_tensor_list_size(b)) return false;
    for (size_t i = 0; i < cnnc_tensor_list_size(a); i++) {
        cnnc_tensor *x = cnnc_tensor_list_get(a, i), *y = cnnc_tensor_list_find(b,
                                                           cnnc_tensor_list_name(a, i));
        if (!x != !y) return false;
        if (!x) continue;
        if (cnnc_tensor_numel(x) != cnnc_tensor_numel(y) ||
            cnnc_tensor_dtype(x) != cnnc_tensor_dtype(y))
            return false;
        size_t bytes = (size_t)cnnc_tensor_numel(x) * (cnnc_tensor_dtype(x) == CNNC_INT64 ? 8 : 4);
        if (memcmp(cnnc_tensor_data(x), cnnc_tensor_data(y), bytes) != 0) return false;
    }
    return true;
}

static void check_resume_bit_for_bit(int config) {
    cnnc_dataset *ds = cnnc_dataset_synthetic(true, IMAGES, CNNC_SYNTHETIC(.image_size = 8));
    REQUIRE(ds);
    setup straight, first, resumed;
    REQUIRE(build(&straight, config, 7, ds));
    REQUIRE(train(&straight, STEPS));

    REQUIRE(build(&first, config, 7, ds));
    REQUIRE(train(&first, STEPS / 2));
    cnnc_tensor_list *ck = cnnc_checkpoint_state(first.model, first.opt, first.sched);
    REQUIRE(ck);
    int64_t epoch = cnnc_dataloader_epoch(first.loader), done = first.batches_done;
    release(&first);

    REQUIRE(build(&resumed, config, 12345, ds)); /* other initial weights and generator */
    CHECK_OK(cnnc_checkpoint_load_state(ck, resumed.model, resumed.opt, resumed.sched));
    CHECK_OK(cnnc_dataloader_set_epoch(resumed.loader, epoch));
    for (int64_t i = 0; i < done; i++) { /* the batches done before the checkpoint */
        cnnc_scope_begin();
        cnnc_tensor *x, *y;
        CHECK_OK(cnnc_dataloader_next(resumed.loader, &x, &y));
        cnnc_scope_end();
    }
    resumed.batches_done = done;
    CHECK(train(&resumed, STEPS - STEPS / 2));

    cnnc_tensor_list *a = cnnc_module_state_dict(straight.model);
    cnnc_tensor_list *b = cnnc_module_state_dict(resumed.model);
    cnnc_tensor_list *oa = cnnc_optimizer_state_dict(straight.opt);
    cnnc_tensor_list *ob = cnnc_optimizer_state_dict(resumed.opt);
    REQUIRE(a && b && oa && ob);
    CHECK(same_bits(a, b));
    CHECK(same_bits(oa, ob));
    double la = 0, lb = 1;
    CHECK_OK(cnnc_optimizer_get_lr(straight.opt, 0, &la));
    CHECK_OK(cnnc_optimizer_get_lr(resumed.opt, 0, &lb));
    CHECK(la == lb);
    /* and the comparison can fail: the half-way weights (the checkpoint's) differ */
    cnnc_tensor *half = cnnc_tensor_list_find(ck, "model.6.weight");
    cnnc_tensor *end = cnnc_tensor_list_find(a, "6.weight");
    REQUIRE(half && end);
    CHECK(memcmp(cnnc_tensor_data(half), cnnc_tensor_data(end), 4 * 640) != 0);
    cnnc_tensor_list_free(a);
    cnnc_tensor_list_free(b);
    cnnc_tensor_list_free(oa);
    cnnc_tensor_list_free(ob);
    cnnc_tensor_list_free(ck);
    release(&straight);
    release(&resumed);
    cnnc_dataset_release(ds);
}

static void test_resume_sgd_steplr(void) { check_resume_bit_for_bit(0); }
static void test_resume_adam_onecycle(void) { check_resume_bit_for_bit(1); }
static void test_resume_rmsprop_cosine(void) { check_resume_bit_for_bit(2); }

/* Without the generator's state the dropout masks differ, so the runs part: the
 * resume test above depends on it. */
static void test_rng_state_is_in_the_checkpoint(void) {
    cnnc_module *m = tiny_net();
    REQUIRE(m);
    cnnc_manual_seed(1);
    cnnc_tensor_list *ck = cnnc_checkpoint_state(m, NULL, NULL);
    REQUIRE(ck);
    cnnc_tensor *r1 = cnnc_rand(CNNC_SHAPE(4));
    cnnc_manual_seed(2);
    CHECK_OK(cnnc_checkpoint_load_state(ck, m, NULL, NULL));
    cnnc_tensor *r2 = cnnc_rand(CNNC_SHAPE(4));
    REQUIRE(r1 && r2);
    CHECK(memcmp(cnnc_tensor_data(r1), cnnc_tensor_data(r2), 16) == 0);
    cnnc_tensor *rs = cnnc_tensor_list_find(ck, "rng_state");
    CHECK(rs && cnnc_tensor_dtype(rs) == CNNC_INT64 && cnnc_tensor_numel(rs) == 4);
    CHECK_STR_EQ(cnnc_tensor_list_meta(ck, "format"), "cnnc.checkpoint");
    CHECK(cnnc_tensor_list_find(ck, "model.0.weight") != NULL);
    cnnc_tensor_release(r1);
    cnnc_tensor_release(r2);
    cnnc_tensor_list_free(ck);
    cnnc_module_release(m);
}

/* The layout: prefixes, None entries named in the metadata, a snapshot (copies). */
static void test_layout(void) {
    cnnc_module *m = tiny_net();
    REQUIRE(m);
    cnnc_tensor_list *params = cnnc_module_named_parameters(m);
    cnnc_optimizer *opt = cnnc_sgd_new(CNNC_PARAM_LIST(params), CNNC_SGD(.lr = 0.1));
    cnnc_lr_scheduler *sched = opt ? cnnc_steplr_new(opt, 2, CNNC_STEPLR()) : NULL;
    REQUIRE(opt && sched);
    /* one step on parameter 0 only: without momentum its momentum_buffer is None */
    cnnc_tensor *w = cnnc_tensor_list_get(params, 0);
    cnnc_tensor *g = cnnc_ones(cnnc_tensor_ndim(w), cnnc_tensor_shape(w), CNNC_FLOAT32);
    CHECK_OK(cnnc_tensor_set_grad(w, g));
    CHECK_OK(cnnc_optimizer_step(opt));
    cnnc_tensor_list *ck = cnnc_checkpoint_state(m, opt, sched);
    REQUIRE(ck);
    CHECK(cnnc_tensor_list_find(ck, "optimizer.state.0.momentum_buffer") == NULL);
    CHECK_STR_EQ(cnnc_tensor_list_meta(ck, "none"), "optimizer.state.0.momentum_buffer");
    CHECK(cnnc_tensor_list_meta(ck, "optimizer.param_groups.0.lr") != NULL);
    CHECK_STR_EQ(cnnc_tensor_list_meta(ck, "scheduler.step_size"), "2");
    for (size_t i = 0; i < cnnc_tensor_list_size(ck); i++)
        CHECK(cnnc_tensor_list_get(ck, i) != NULL); /* every listed tensor can be written */
    /* a snapshot: changing the weights later does not change it */
    cnnc_tensor *saved = cnnc_tensor_list_find(ck, "model.0.weight");
    float before = cnnc_tensor_data_f32(saved)[0];
    cnnc_tensor_data_f32(w)[0] = before + 1.0f;
    CHECK(cnnc_tensor_data_f32(saved)[0] == before);
    /* restoring brings the None entries back as None (not as zeros) */
    CHECK_OK(cnnc_checkpoint_load_state(ck, m, opt, sched));
    cnnc_tensor_list *sd = cnnc_optimizer_state_dict(opt);
    REQUIRE(sd);
    bool found = false;
    for (size_t i = 0; i < cnnc_tensor_list_size(sd); i++)
        if (!strcmp(cnnc_tensor_list_name(sd, i), "state.0.momentum_buffer")) {
            found = true;
            CHECK(cnnc_tensor_list_get(sd, i) == NULL);
        }
    CHECK(found);
    CHECK(cnnc_tensor_data_f32(w)[0] == before);
    cnnc_tensor_list_free(sd);
    cnnc_tensor_release(g);
    cnnc_tensor_list_free(ck);
    cnnc_lr_scheduler_release(sched);
    cnnc_optimizer_release(opt);
    cnnc_tensor_list_free(params);
    cnnc_module_release(m);
}

static void test_errors(void) {
    cnnc_module *m = tiny_net();
    cnnc_module *other = cnnc_linear_new(3, 2, CNNC_LINEAR());
    REQUIRE(m && other);
    cnnc_tensor_list *params = cnnc_module_named_parameters(m);
    cnnc_optimizer *opt = cnnc_adam_new(CNNC_PARAM_LIST(params), CNNC_ADAM());
    REQUIRE(opt);
    cnnc_tensor_list *model_only = cnnc_checkpoint_state(m, NULL, NULL);
    REQUIRE(model_only);
    CHECK_NULL_ERR(cnnc_checkpoint_state(NULL, NULL, NULL));
    CHECK_ERR(cnnc_checkpoint_load_state(NULL, m, NULL, NULL));
    CHECK_ERR(cnnc_checkpoint_load_state(model_only, NULL, NULL, NULL));
    /* an optimizer asked for, none saved */
    CHECK_STATUS(cnnc_checkpoint_load_state(model_only, m, opt, NULL), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_CONTAINS("holds no optimizer state");
    /* another architecture: the model's load_state_dict error, and nothing changed */
    cnnc_tensor *ow = NULL;
    CHECK_OK(cnnc_module_tensor(other, "weight", &ow));
    float w0 = cnnc_tensor_data_f32(ow)[0];
    CHECK_ERR(cnnc_checkpoint_load_state(model_only, other, NULL, NULL));
    CHECK(cnnc_tensor_data_f32(ow)[0] == w0);
    /* not a checkpoint: a plain state_dict */
    cnnc_tensor_list *sd = cnnc_module_state_dict(m);
    CHECK_STATUS(cnnc_checkpoint_load_state(sd, m, NULL, NULL), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_CONTAINS("not a cnnc checkpoint");
    /* another format version, a missing generator state */
    CHECK_OK(cnnc_tensor_list_set_meta(model_only, "format_version", "99"));
    CHECK_ERR(cnnc_checkpoint_load_state(model_only, m, NULL, NULL));
    CHECK_ERROR_CONTAINS("format_version 99");
    CHECK_OK(cnnc_tensor_list_set_meta(sd, "format", "cnnc.checkpoint"));
    CHECK_OK(cnnc_tensor_list_set_meta(sd, "format_version", "1"));
    CHECK_OK(cnnc_tensor_list_set_meta(sd, "none", ""));
    CHECK_ERR(cnnc_checkpoint_load_state(sd, m, NULL, NULL));
    CHECK_ERROR_CONTAINS("rng_state");
    cnnc_tensor_list_free(sd);
    cnnc_tensor_list_free(model_only);
    cnnc_optimizer_release(opt);
    cnnc_tensor_list_free(params);
    cnnc_module_release(other);
    cnnc_module_release(m);
}

int main(void) {
    RUN_TEST(test_resume_sgd_steplr);
    RUN_TEST(test_resume_adam_onecycle);
    RUN_TEST(test_resume_rmsprop_cosine);
    RUN_TEST(test_rng_state_is_in_the_checkpoint);
    RUN_TEST(test_layout);
    RUN_TEST(test_errors);
    return check_summary();
}
