/* The distributed part under mpirun (2 and 4 processes; see CMakeLists.txt).
 *
 * Equivalence: K SGD steps of a small CNN (conv, BatchNorm2d, linear, BatchNorm1d)
 * wrapped in DistributedDataParallel on N ranks, each holding its shard of a global
 * batch B, against one process:
 *   - with SyncBatchNorm: one process training on the whole batch with plain BatchNorm
 *     (same losses, weights, running statistics);
 *   - with plain BatchNorm: PyTorch's DDP semantics, emulated in one process (each
 *     shard normalised with its own statistics, gradients averaged, rank 0's buffers
 *     broadcast at each forward).
 * Shards are even, uneven, and (SyncBatchNorm) empty on one rank; a no_sync micro-batch
 * accumulates before a synced one. Each rank's local losses are scaled by W / B so that
 * DDP's average is the gradient of the global mean loss. Every rank also checks that
 * all ranks hold bit-identical parameters. Rank 0 prints the worst relative
 * differences (max |a - b| / max |b| per tensor). */
#include <cnnc.h>
#include <cnnc/distributed.h>

#include "check.h"

/* Under ASan the leak check runs before MPI_Finalize: Open MPI unloads its components
 * there, and what they leak would then show without a module name to suppress it by
 * (tests/dist/lsan.supp names Open MPI's libraries). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_leak_check()
#else
#define LEAK_CHECK() ((void)0)
#endif

enum { K_STEPS = 3, MAX_RANKS = 16 };
static const double LR = 0.1, TOL = 1e-5;
static int W = 1, R = 0;
static double worst_sync = 0.0, worst_local = 0.0, worst_nosync = 0.0;

static cnnc_module *make_net(uint64_t seed) {
    cnnc_manual_seed(seed);
    cnnc_module *layers[] = {
        cnnc_conv2d_new(3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1))),
        cnnc_batchnorm2d_new(4, CNNC_BATCHNORM()),
        cnnc_relu_new(CNNC_RELU()),
        cnnc_flatten_new(CNNC_FLATTEN()),
        cnnc_linear_new(64, 6, CNNC_LINEAR()),
        cnnc_batchnorm1d_new(6, CNNC_BATCHNORM(.momentum = CNNC_NONE)),
        cnnc_linear_new(6, 2, CNNC_LINEAR()),
    };
    return cnnc_sequential_new(7, layers);
}

/* The global batch of (step, micro): x [B, 3, 4, 4], target [B, 2]. */
static void batch(int step, int micro, int64_t B, cnnc_tensor **x, cnnc_tensor **t) {
    cnnc_manual_seed(1000 + 10 * (uint64_t)step + (uint64_t)micro);
    *x = cnnc_randn(CNNC_SHAPE(B, 3, 4, 4));
    *t = cnnc_randn(CNNC_SHAPE(B, 2));
}

static int64_t start_of(const int64_t *counts, int r) {
    int64_t s = 0;
    for (int i = 0; i < r; i++) s += counts[i];
    return s;
}

/* sum((net(x) - t)^2) * scale, and its value. */
static cnnc_tensor *loss_of(cnnc_module *net, cnnc_tensor *x, cnnc_tensor *t, double scale) {
    cnnc_tensor *y = cnnc_module_forward(net, x);
    if (!y) return NULL;
    return cnnc_mul_scalar(cnnc_mse_loss(y, t, CNNC_MSE_LOSS(.reduction = "sum")), scale);
}

static void sgd_step(cnnc_module *net) {
    cnnc_tensor_list *ps = cnnc_module_named_parameters(net);
    bool old = cnnc_set_grad_enabled(false);
    for (size_t i = 0; i < cnnc_tensor_list_size(ps); i++) {
        cnnc_tensor *p = cnnc_tensor_list_get(ps, i), *g = cnnc_tensor_grad(p);
        if (!g) continue;
        float *pd = cnnc_tensor_data_f32(p), *gd = cnnc_tensor_data_f32(g);
        for (int64_t k = 0; k < cnnc_tensor_numel(p); k++) pd[k] -= (float)(LR * gd[k]);
    }
    cnnc_set_grad_enabled(old);
    cnnc_tensor_list_free(ps);
    cnnc_module_zero_grad(net, false);
}

static double value(cnnc_tensor *t) {
    double v = NAN;
    cnnc_tensor_item(t, &v);
    return v;
}

static double as_double(cnnc_tensor *t, int64_t k) {
    return cnnc_tensor_dtype(t) == CNNC_INT64 ? (double)cnnc_tensor_data_i64(t)[k]
                                              : (double)cnnc_tensor_data_f32(t)[k];
}

/* max |a - b| / max |b| */
static double rel_diff(cnnc_tensor *a, cnnc_tensor *b) {
    double num = 0.0, den = 0.0;
    if (cnnc_tensor_numel(a) != cnnc_tensor_numel(b)) return INFINITY;
    for (int64_t k = 0; k < cnnc_tensor_numel(a); k++) {
        double x = as_double(a, k), y = as_double(b, k);
        if (fabs(x - y) > num || x != x) num = x != x ? INFINITY : fabs(x - y);
        if (fabs(y) > den) den = fabs(y);
    }
    return den > 0 ? num / den : num;
}

/* Worst relative difference over the state_dicts (weights and running statistics). */
static double compare_states(cnnc_module *a, cnnc_module *b) {
    cnnc_tensor_list *sa = cnnc_module_state_dict(a), *sb = cnnc_module_state_dict(b);
    double worst = 0.0;
    CHECK_EQ_INT((long long)cnnc_tensor_list_size(sa), (long long)cnnc_tensor_list_size(sb));
    for (size_t i = 0; i < cnnc_tensor_list_size(sa) && i < cnnc_tensor_list_size(sb); i++) {
        double d = rel_diff(cnnc_tensor_list_get(sa, i), cnnc_tensor_list_get(sb, i));
        if (d > TOL) fprintf(stderr, "rank %d: %s differs by %.3g\n", R, cnnc_tensor_list_name(sa, i), d);
        if (d > worst) worst = d;
    }
    cnnc_tensor_list_free(sa);
    cnnc_tensor_list_free(sb);
    return worst;
}

/* Whether every rank holds exactly rank 0's parameters and buffers. */
static bool identical_across_ranks(cnnc_module *net) {
    cnnc_tensor_list *sd = cnnc_module_state_dict(net);
    int same = 1;
    for (size_t i = 0; i < cnnc_tensor_list_size(sd); i++) {
        cnnc_tensor *t = cnnc_tensor_list_get(sd, i), *c = cnnc_tensor_clone(t);
        cnnc_dist_broadcast(c, 0);
        size_t bytes = (size_t)cnnc_tensor_numel(t) * (cnnc_tensor_dtype(t) == CNNC_INT64 ? 8 : 4);
        if (memcmp(cnnc_tensor_data(t), cnnc_tensor_data(c), bytes) != 0) same = 0;
        cnnc_tensor_release(c);
    }
    cnnc_tensor_list_free(sd);
    cnnc_tensor *s = cnnc_from_data(CNNC_SHAPE(1), CNNC_INT64, &(int64_t){same});
    cnnc_dist_all_reduce(s, CNNC_REDUCE_MIN);
    bool all = cnnc_tensor_data_i64(s)[0] == 1;
    cnnc_tensor_release(s);
    return all;
}

/* Copies of a module's buffers / restoring them (the DDP emulation's per-shard stats).
 * Called inside a scope, which owns the copies. */
static cnnc_tensor_list *save_buffers(cnnc_module *m) {
    cnnc_tensor_list *b = cnnc_module_named_buffers(m), *c = cnnc_tensor_list_new();
    for (size_t i = 0; i < cnnc_tensor_list_size(b); i++) {
        cnnc_tensor *t = cnnc_tensor_clone(cnnc_tensor_list_get(b, i));
        cnnc_tensor_list_append(c, cnnc_tensor_list_name(b, i), t);
    }
    cnnc_tensor_list_free(b);
    return c;
}
static void load_buffers(cnnc_module *m, const cnnc_tensor_list *saved) {
    CHECK_OK(cnnc_module_load_state_dict(m, saved, false));
}

typedef enum { SYNC, LOCAL } bn_mode;

/* The one-process reference: the losses of each step (and micro-batch) in ref_loss. */
static cnnc_module *reference(bn_mode mode, const int64_t *counts, int64_t B, int micro,
                              double *ref_loss) {
    cnnc_module *net = make_net(1);
    for (int step = 0; step < K_STEPS; step++) {
        for (int mb = 0; mb < micro; mb++) {
            cnnc_scope_begin();
            cnnc_tensor *x, *t;
            batch(step, mb, B, &x, &t);
            double total = 0.0;
            if (mode == SYNC) {
                cnnc_tensor *l = loss_of(net, x, t, 1.0 / (double)B);
                CHECK_OK(cnnc_backward(l, NULL, false));
                total = value(l);
            } else { /* each shard with its own statistics from rank 0's buffers */
                cnnc_tensor_list *prev = save_buffers(net), *mine = NULL, *first = NULL;
                for (int r = 0; r < W; r++) {
                    load_buffers(net, prev);
                    int64_t s = start_of(counts, r);
                    cnnc_tensor *l = loss_of(net, cnnc_narrow(x, 0, s, counts[r]),
                                             cnnc_narrow(t, 0, s, counts[r]), 1.0 / (double)B);
                    CHECK_OK(cnnc_backward(l, NULL, false));
                    total += value(l);
                    if (r == 0) first = save_buffers(net);
                    if (r == R) mine = save_buffers(net);
                }
                /* the next step starts from rank 0's; after the last, this rank's own */
                load_buffers(net, step == K_STEPS - 1 ? mine : first);
                cnnc_tensor_list_free(prev);
                cnnc_tensor_list_free(mine);
                cnnc_tensor_list_free(first);
            }
            ref_loss[step * micro + mb] = total;
            cnnc_scope_end();
        }
        sgd_step(net);
    }
    return net;
}

/* K steps data-parallel; returns the worst relative difference against the reference. */
static double run_case(const char *label, bn_mode mode, const int64_t *counts, int micro) {
    int64_t B = start_of(counts, W);
    double ref_loss[K_STEPS * 2], worst = 0.0;
    cnnc_module *ref = reference(mode, counts, B, micro, ref_loss);
    cnnc_module *net = make_net(1 + (uint64_t)R); /* DDP must broadcast rank 0's */
    if (mode == SYNC) cnnc_module_release(cnnc_convert_sync_batchnorm(net));
    cnnc_module *ddp = cnnc_ddp_new(net, CNNC_DDP(.bucket_cap_mb = 0.0005)); /* ~3 buckets */
    if (!ddp) {
        CHECK(ddp);
        cnnc_module_release(net);
        cnnc_module_release(ref);
        return INFINITY;
    }
    CHECK(cnnc_ddp_num_buckets(ddp) >= 2);
    int64_t s = start_of(counts, R);
    for (int step = 0; step < K_STEPS; step++) {
        for (int mb = 0; mb < micro; mb++) {
            cnnc_scope_begin();
            bool sync = mb == micro - 1;
            CHECK_OK(cnnc_ddp_set_require_sync(ddp, sync));
            cnnc_tensor *x, *t;
            batch(step, mb, B, &x, &t);
            cnnc_tensor *l = loss_of(ddp, cnnc_narrow(x, 0, s, counts[R]),
                                     cnnc_narrow(t, 0, s, counts[R]), (double)W / (double)B);
            CHECK(l != NULL);
            if (!l) {
                cnnc_scope_end();
                continue;
            }
            CHECK_OK(cnnc_backward(l, NULL, false));
            cnnc_tensor *g = cnnc_from_data(CNNC_SHAPE(1), CNNC_FLOAT32, &(float){(float)(value(l) / W)});
            CHECK_OK(cnnc_dist_all_reduce(g, CNNC_REDUCE_SUM));
            double d = fabs(value(g) - ref_loss[step * micro + mb]) / fabs(ref_loss[step * micro + mb]);
            if (d > worst) worst = d;
            if (!sync && W > 1) { /* no_sync: the gradients stayed local (they differ) */
                cnnc_tensor *w0 = NULL;
                cnnc_module_tensor(net, "0.weight", &w0);
                cnnc_tensor *gw = cnnc_tensor_clone(cnnc_tensor_grad(w0));
                cnnc_tensor *g0 = cnnc_tensor_clone(gw);
                cnnc_dist_broadcast(g0, 0);
                double gd = rel_diff(gw, g0);
                cnnc_tensor *mx = cnnc_from_data(CNNC_SHAPE(1), CNNC_FLOAT32, &(float){(float)gd});
                cnnc_dist_all_reduce(mx, CNNC_REDUCE_MAX);
                CHECK(value(mx) > 1e-3);
            }
            cnnc_scope_end();
        }
        sgd_step(net);
    }
    double sd = compare_states(net, ref);
    if (sd > worst) worst = sd;
    /* with plain BatchNorm each rank keeps its own last running statistics */
    if (mode == SYNC) CHECK(identical_across_ranks(net));
    cnnc_tensor *mx = cnnc_from_data(CNNC_SHAPE(1), CNNC_FLOAT32, &(float){(float)worst});
    CHECK_OK(cnnc_dist_all_reduce(mx, CNNC_REDUCE_MAX));
    worst = value(mx);
    cnnc_tensor_release(mx);
    if (R == 0)
        printf("  %-38s W=%d B=%-3lld worst rel diff %.2e\n", label, W, (long long)B, worst);
    CHECK(worst < TOL);
    cnnc_module_release(ddp);
    cnnc_module_release(net);
    cnnc_module_release(ref);
    return worst;
}

static void counts_for(int kind, int64_t *c) {
    static const int64_t uneven[MAX_RANKS] = {6, 4, 5, 3, 4, 6, 3, 5, 3, 4, 5, 3, 5, 4, 6, 3};
    static const int64_t empty[MAX_RANKS] = {3, 0, 4, 1, 2, 0, 3, 2, 1, 4, 2, 3, 5, 1, 2, 3};
    for (int r = 0; r < W; r++) c[r] = kind == 0 ? 4 : kind == 1 ? uneven[r] : empty[r];
}

static void test_syncbn_equivalence(void) {
    int64_t c[MAX_RANKS];
    const char *names[3] = {"SyncBatchNorm, even shards", "SyncBatchNorm, uneven shards",
                            "SyncBatchNorm, one rank empty"};
    for (int k = 0; k < 3; k++) {
        counts_for(k, c);
        double d = run_case(names[k], SYNC, c, 1);
        if (d > worst_sync) worst_sync = d;
    }
}

static void test_ddp_local_bn_equivalence(void) {
    int64_t c[MAX_RANKS];
    const char *names[2] = {"BatchNorm (DDP semantics), even", "BatchNorm (DDP semantics), uneven"};
    for (int k = 0; k < 2; k++) {
        counts_for(k, c);
        double d = run_case(names[k], LOCAL, c, 1);
        if (d > worst_local) worst_local = d;
    }
}

static void test_no_sync(void) {
    int64_t c[MAX_RANKS];
    counts_for(1, c);
    worst_nosync = run_case("SyncBatchNorm, no_sync + synced micro", SYNC, c, 2);
}

/* One step of the global batch on `net` (a DDP on this rank's shard, or a plain module
 * on the whole batch). */
static void train_step(cnnc_module *net, bool ddp, int step, const int64_t *counts) {
    cnnc_scope_begin();
    int64_t B = start_of(counts, W), s = start_of(counts, R);
    cnnc_tensor *x, *t;
    batch(step, 0, B, &x, &t);
    cnnc_tensor *l = ddp ? loss_of(net, cnnc_narrow(x, 0, s, counts[R]),
                                   cnnc_narrow(t, 0, s, counts[R]), (double)W / (double)B)
                         : loss_of(net, x, t, 1.0 / (double)B);
    CHECK(l != NULL);
    if (l) CHECK_OK(cnnc_backward(l, NULL, false));
    cnnc_scope_end();
    sgd_step(net);
}

/* A checkpoint moves between world sizes: W ranks -> 1 process, and 1 process -> W
 * ranks (each resumed run matches the run that never stopped). */
static void test_resume_other_world_size(void) {
    int64_t c[MAX_RANKS];
    counts_for(1, c);
    /* the uninterrupted W-rank run: 3 steps */
    cnnc_module *net = make_net(1 + (uint64_t)R);
    cnnc_module_release(cnnc_convert_sync_batchnorm(net));
    cnnc_module *ddp = cnnc_ddp_new(net, CNNC_DDP());
    REQUIRE(ddp);
    for (int step = 0; step < 2; step++) train_step(ddp, true, step, c);
    /* what rank 0 would save (state_dict values alias the module: load them now) */
    cnnc_tensor_list *ckpt = cnnc_module_state_dict(net);
    cnnc_module *one = make_net(99); /* resumed in one process: plain BatchNorm, whole batch */
    CHECK_OK(cnnc_module_load_state_dict(one, ckpt, true));
    train_step(ddp, true, 2, c);
    train_step(one, false, 2, c);
    double d1 = compare_states(one, net);
    /* the reverse: a one-process checkpoint after 2 steps, resumed on W ranks */
    cnnc_module *solo = make_net(1);
    for (int step = 0; step < 2; step++) train_step(solo, false, step, c);
    cnnc_tensor_list *ckpt1 = cnnc_module_state_dict(solo);
    cnnc_module *net2 = make_net(50 + (uint64_t)R);
    if (R == 0) CHECK_OK(cnnc_module_load_state_dict(net2, ckpt1, true)); /* DDP broadcasts it */
    train_step(solo, false, 2, c);
    cnnc_module_release(cnnc_convert_sync_batchnorm(net2));
    cnnc_module *ddp2 = cnnc_ddp_new(net2, CNNC_DDP());
    REQUIRE(ddp2);
    train_step(ddp2, true, 2, c);
    double d2 = compare_states(net2, solo);
    cnnc_tensor *mx = cnnc_from_data(CNNC_SHAPE(2), CNNC_FLOAT32, (float[]){(float)d1, (float)d2});
    CHECK_OK(cnnc_dist_all_reduce(mx, CNNC_REDUCE_MAX));
    if (R == 0)
        printf("  resume W=%d -> 1: %.2e, 1 -> W=%d: %.2e\n", W, cnnc_tensor_data_f32(mx)[0], W,
               cnnc_tensor_data_f32(mx)[1]);
    CHECK(cnnc_tensor_data_f32(mx)[0] < TOL);
    CHECK(cnnc_tensor_data_f32(mx)[1] < TOL);
    cnnc_tensor_release(mx);
    cnnc_tensor_list_free(ckpt);
    cnnc_tensor_list_free(ckpt1);
    cnnc_module_release(ddp);
    cnnc_module_release(ddp2);
    cnnc_module_release(net);
    cnnc_module_release(net2);
    cnnc_module_release(one);
    cnnc_module_release(solo);
}

static void test_collectives(void) {
    cnnc_scope_begin();
    float v[3] = {(float)R, 1.0f, -(float)R};
    cnnc_tensor *t = cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, v);
    CHECK_OK(cnnc_dist_all_reduce(t, CNNC_REDUCE_SUM));
    CHECK_NEAR(cnnc_tensor_data_f32(t)[0], W * (W - 1) / 2.0, 0);
    CHECK_NEAR(cnnc_tensor_data_f32(t)[1], W, 0);
    cnnc_tensor *a = cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, v);
    CHECK_OK(cnnc_dist_all_reduce(a, CNNC_REDUCE_AVG));
    CHECK_NEAR(cnnc_tensor_data_f32(a)[0], (W - 1) / 2.0, 1e-6);
    cnnc_tensor *i = cnnc_from_data(CNNC_SHAPE(1), CNNC_INT64, &(int64_t){R});
    CHECK_OK(cnnc_dist_all_reduce(i, CNNC_REDUCE_MAX));
    CHECK_EQ_INT(cnnc_tensor_data_i64(i)[0], W - 1);
    CHECK_ERR(cnnc_dist_all_reduce(i, CNNC_REDUCE_AVG));
    CHECK_ERROR_CONTAINS("float32");
    CHECK_ERR(cnnc_dist_all_reduce(i, CNNC_REDUCE_OP_COUNT));
    CHECK_ERR(cnnc_dist_all_reduce(NULL, CNNC_REDUCE_SUM));
    cnnc_tensor *b = cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, v);
    CHECK_OK(cnnc_dist_broadcast(b, W - 1));
    CHECK_NEAR(cnnc_tensor_data_f32(b)[0], W - 1, 0);
    CHECK_ERR(cnnc_dist_broadcast(b, W));
    CHECK_ERROR_CONTAINS("Invalid rank");
    cnnc_tensor *g = cnnc_dist_all_gather(b);
    REQUIRE(g);
    CHECK_EQ_INT(cnnc_tensor_ndim(g), 2);
    CHECK_EQ_INT(cnnc_tensor_shape(g)[0], W);
    cnnc_tensor *own = cnnc_from_data(CNNC_SHAPE(1), CNNC_FLOAT32, &(float){(float)R});
    cnnc_tensor *ga = cnnc_dist_all_gather(own);
    for (int r = 0; ga && r < W; r++) CHECK_NEAR(cnnc_tensor_data_f32(ga)[r], r, 0);
    CHECK_OK(cnnc_dist_barrier());
    CHECK(cnnc_dist_is_main_process() == (R == 0));
    CHECK_EQ_INT(cnnc_dist_printf("%s", ""), 0);
    CHECK_ERR(cnnc_dist_init());
    CHECK_ERROR_CONTAINS("twice");
    cnnc_scope_end();
}

/* A wrong input on one rank fails SyncBatchNorm on every rank (no rank left waiting). */
static void test_error_agreement(void) {
    cnnc_scope_begin();
    cnnc_module *bn = cnnc_syncbatchnorm_new(3, CNNC_BATCHNORM());
    REQUIRE(bn);
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, R == W - 1 ? 4 : 3, 2));
    cnnc_tensor *y = cnnc_module_forward(bn, x);
    CHECK(y == NULL);
    if (R == W - 1)
        CHECK_ERROR_CONTAINS("expected input with 3 channels");
    else
        CHECK_ERROR_CONTAINS("failed (its error is reported there)");
    /* and the group still works afterwards */
    cnnc_tensor *ok = cnnc_module_forward(bn, cnnc_randn(CNNC_SHAPE(2, 3, 2)));
    CHECK(ok != NULL);
    CHECK_TENSOR_ERR(cnnc_module_forward(bn, cnnc_randn(CNNC_SHAPE(3))));
    cnnc_module_release(bn);
    cnnc_scope_end();
}

/* Eval mode is BatchNorm with the running statistics; convert keeps the settings. */
static void test_syncbn_module(void) {
    cnnc_scope_begin();
    cnnc_module *net = make_net(7), *plain = make_net(7);
    cnnc_module *conv = cnnc_convert_sync_batchnorm(net);
    REQUIRE(conv == net);
    cnnc_module_release(conv);
    CHECK_STR_EQ(cnnc_module_type(cnnc_module_get_submodule(net, "1")), "SyncBatchNorm");
    CHECK_STR_EQ(cnnc_module_type(cnnc_module_get_submodule(net, "5")), "SyncBatchNorm");
    char *repr = cnnc_module_repr(cnnc_module_get_submodule(net, "5"));
    CHECK_STR_EQ(repr, "SyncBatchNorm(6, eps=1e-05, momentum=None, affine=True, track_running_stats=True)");
    cnnc_free(repr);
    cnnc_module_eval(net);
    cnnc_module_eval(plain);
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(3 + R, 3, 4, 4));
    cnnc_tensor *a = cnnc_module_forward(net, x), *b = cnnc_module_forward(plain, x);
    REQUIRE(a && b);
    CHECK(rel_diff(a, b) == 0.0);
    cnnc_module *made = cnnc_module_create("SyncBatchNorm", 2, (const char *[]){"num_features", "eps"},
                                           (cnnc_value[]){{.kind = CNNC_VALUE_INT, .ints = {5}},
                                                          {.kind = CNNC_VALUE_FLOAT, .f = 1e-3}});
    REQUIRE(made);
    repr = cnnc_module_repr(made);
    CHECK_STR_EQ(repr, "SyncBatchNorm(5, eps=0.001, momentum=0.1, affine=True, track_running_stats=True)");
    cnnc_free(repr);
    cnnc_module *relu = cnnc_relu_new(CNNC_RELU());
    CHECK(cnnc_ddp_new(relu, CNNC_DDP()) == NULL);
    cnnc_module_release(relu);
    CHECK_ERROR_CONTAINS("doesn't have any parameter");
    CHECK(cnnc_ddp_new(net, CNNC_DDP(.bucket_cap_mb = 0)) == NULL);
    CHECK_ERR(cnnc_ddp_set_require_sync(net, false));
    CHECK_ERROR_CONTAINS("expected a DistributedDataParallel");
    cnnc_module_release(made);
    cnnc_module_release(net);
    cnnc_module_release(plain);
    cnnc_scope_end();
}

int main(void) {
    if (cnnc_dist_init() != CNNC_OK) {
        fprintf(stderr, "dist_test: %s\n", cnnc_last_error());
        return 1;
    }
    W = cnnc_dist_world_size();
    R = cnnc_dist_rank();
    cnnc_set_num_threads(1); /* the ranks share this machine's cores */
    if (W > MAX_RANKS) {
        cnnc_dist_printf("dist_test: at most %d ranks\n", MAX_RANKS);
        cnnc_dist_finalize();
        return 1;
    }
    cnnc_dist_printf("dist_test: %d ranks\n", W);
    RUN_TEST(test_collectives);
    RUN_TEST(test_error_agreement);
    RUN_TEST(test_syncbn_module);
    RUN_TEST(test_syncbn_equivalence);
    RUN_TEST(test_ddp_local_bn_equivalence);
    RUN_TEST(test_no_sync);
    RUN_TEST(test_resume_other_world_size);
    cnnc_dist_printf("equivalence over %d steps: SyncBatchNorm %.2e, BatchNorm/DDP %.2e, "
                     "no_sync %.2e (tolerance %.0e)\n",
                     K_STEPS, worst_sync, worst_local, worst_nosync, TOL);
    int failed = check_tests_failed_;
    cnnc_tensor *f = cnnc_from_data(CNNC_SHAPE(1), CNNC_INT64, &(int64_t){failed});
    cnnc_dist_all_reduce(f, CNNC_REDUCE_SUM);
    int64_t total_failed = cnnc_tensor_data_i64(f)[0];
    cnnc_tensor_release(f);
    if (R == 0) check_summary();
    cnnc_thread_cleanup();
    LEAK_CHECK();
    cnnc_dist_finalize();
    return total_failed ? 1 : 0;
}
