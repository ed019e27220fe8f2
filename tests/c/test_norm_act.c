/* BatchNorm fused with the ReLU / ReLU6 / Hardtanh that alone reads it (the model
 * runtime's training plan, src/graph/graph_train.c): the fused kernels against the
 * unfused ones at every ISA level (the same bits: forward, the gradient mask, the
 * backward's double sums and input gradient), with values at exactly 0 and 6, the
 * bounds, NaN and infinities; the op against batch_norm followed by the activation
 * (out of place and in place) at every level and 1 and 2 threads (outputs, every
 * gradient, running statistics: the same bits); its errors and the version check on
 * its input; a training graph (conv -> bn -> relu6 module, bn -> relu op,
 * bn -> hardtanh op) against the modules called one by one. */
#include "check.h"
#include "graph/graph.h"
#include "kernels/activation.h"
#include "kernels/isa.h"
#include "kernels/norm.h"
#include "ops/norm.h"

static uint64_t rng_state = 0x243F6A8885A308D3u;
static float rndf(void) { /* [-1, 1) */
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (float)((double)(rng_state >> 11) / 4503599627370496.0 - 1.0);
}

/* ReLU, ReLU6, Hardtanh(-1, 2) as the fused kernels and as the activation kernels take them */
static const struct {
    const char *name;
    cnnc__norm_act fused;
    cnnc__act op;
    cnnc__act_params p;
} ACTS[] = {{"relu", {false, 0.0f, 0.0f}, CNNC__ACT_RELU, {0, 0, 0}},
            {"relu6", {true, 0.0f, 6.0f}, CNNC__ACT_HARDTANH, {0.0f, 6.0f, 0}},
            {"hardtanh(-1, 2)", {true, -1.0f, 2.0f}, CNNC__ACT_HARDTANH, {-1.0f, 2.0f, 0}}};
enum { N_ACTS = 3 };

/* n values of z (the norm's output, with mhi = mlo = 0, a = 1, b = 0) or of x: random
 * around the activation's range, with exact 0, -0, lo, hi, 6, NaN, +-Inf mixed in */
static void fill(float *v, int64_t n, int special) {
    static const float SPECIAL[] = {0.0f, -0.0f, 6.0f, -1.0f, 2.0f, NAN, INFINITY, -INFINITY, 1e-40f, 5.9999995f};
    for (int64_t i = 0; i < n; i++) {
        v[i] = 5.0f * rndf() + 2.0f;
        if (special && (i % 5 == 0 || i % 7 == 3)) v[i] = SPECIAL[(i / 5 + i) % 10];
    }
}

static bool same(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }
/* the same bits, or both NaN: a NaN's sign and payload follow the operand order of a
 * NaN + NaN (x86 keeps the first operand's), which the compiler may commute */
static bool same_f32(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(isnan(a[i]) && isnan(b[i])) && !same(&a[i], &b[i], 4)) return false;
    return true;
}
static bool same_f64(double a, double b) { return (isnan(a) && isnan(b)) || same(&a, &b, 8); }

/* one row of n: fused apply / sums / input gradient against apply + activation kernel +
 * activation backward + the unfused sums and input gradient, all at level isa */
static void compare_row(cnnc__isa isa, int k, int64_t n, int special, float mhi, float mlo, float a, float b) {
    const int64_t words = (n + 31) / 32;
    float *x = calloc((size_t)n, 4), *g = calloc((size_t)n, 4), *z = malloc((size_t)n * 4);
    float *y = malloc((size_t)n * 4), *yr = malloc((size_t)n * 4), *dz = malloc((size_t)n * 4);
    float *gx = malloc((size_t)n * 4), *gxr = malloc((size_t)n * 4);
    uint32_t *bits = malloc((size_t)words * 4), *bref = malloc((size_t)words * 4);
    fill(x, n, special);
    fill(g, n, 0);
    cnnc__k_norm_apply(isa, z, x, n, mhi, mlo, a, b);
    cnnc__k_norm_act_apply(isa, y, bits, x, n, mhi, mlo, a, b, &ACTS[k].fused);
    if (ACTS[k].op == CNNC__ACT_RELU) {
        cnnc__k_act_forward(isa, CNNC__ACT_RELU, &ACTS[k].p, yr, z, n);
        cnnc__k_act_backward(isa, CNNC__ACT_RELU, &ACTS[k].p, true, dz, g, yr, n); /* from the result */
        for (int64_t w = 0; w < words; w++) bref[w] = 0;
        for (int64_t i = 0; i < n; i++) bref[i / 32] |= (uint32_t)!(yr[i] <= 0.0f) << (i % 32);
    } else {
        cnnc__k_hardtanh_mask_forward(isa, &ACTS[k].p, yr, bref, z, n);
        cnnc__k_act_backward(isa, CNNC__ACT_HARDTANH, &ACTS[k].p, false, dz, g, z, n); /* from the input */
    }
    bool ok = same_f32(y, yr, n) && same(bits, bref, (size_t)words * 4);
    double s1 = 0.5, t1 = -0.25, s2 = 0.5, t2 = -0.25; /* added into, as per row of a channel */
    cnnc__k_norm_masked_grad_sums(isa, &s1, &t1, g, bits, x, n, mhi, mlo);
    cnnc__k_norm_grad_sums(isa, &s2, &t2, dz, x, n, mhi, mlo, NULL);
    ok = ok && same_f64(s1, s2) && same_f64(t1, t2);
    cnnc__k_norm_masked_grad_apply(isa, gx, g, bits, x, n, mhi, mlo, 0.75f, -0.125f, 0.0625f);
    cnnc__k_norm_grad_apply(isa, gxr, dz, x, n, mhi, mlo, NULL, 0.75f, -0.125f, 0.0625f);
    ok = ok && same_f32(gx, gxr, n);
    if (!ok) {
        printf("  %s, level %s, n %lld, special %d: fused kernels differ\n", ACTS[k].name, cnnc__isa_name(isa),
               (long long)n, special);
        CHECK(!"fused kernels == unfused kernels");
    }
    free(x), free(g), free(z), free(y), free(yr), free(dz), free(gx), free(gxr), free(bits), free(bref);
}

static void test_kernels_every_level(void) {
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--)
        for (int k = 0; k < N_ACTS; k++)
            for (int64_t n = 1; n <= 1100; n += n < 80 ? 1 : 61) {
                compare_row((cnnc__isa)l, k, n, 1, 0.0f, 0.0f, 1.0f, 0.0f); /* z = x: the specials exactly */
                compare_row((cnnc__isa)l, k, n, n % 2, 0.3f, 1e-8f, 1.7f, 0.9f);
            }
}

/* ---- the op ------------------------------------------------------------------------- */

typedef struct {
    float *y, *gx, *gw, *gb, *rm, *rv;
} result;

static float *copy_of(cnnc_tensor *t) {
    if (!t) return NULL;
    size_t bytes = (size_t)cnnc_tensor_numel(t) * 4;
    float *c = malloc(bytes ? bytes : 1);
    memcpy(c, cnnc_tensor_data_f32(t), bytes);
    return c;
}

/* batch_norm (training, running stats) + the activation, fused (mode 2) or not (mode 1:
 * the activation's in-place form), forward and backward with gradient g; every result
 * copied */
static result run_pair(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, cnnc_tensor *g, int k, int mode) {
    cnnc_scope_begin();
    int64_t C = cnnc_tensor_shape(x)[1];
    cnnc_tensor *rm = cnnc_zeros(CNNC_SHAPE(C), CNNC_FLOAT32), *rv = cnnc_ones(CNNC_SHAPE(C), CNNC_FLOAT32);
    cnnc_tensor *y;
    if (mode == 2) {
        y = cnnc__op_batch_norm_act(x, rm, rv, w, b, 0.1, 1e-5, &ACTS[k].fused);
    } else {
        y = cnnc__op_batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
        cnnc_hardtanh_options o = CNNC_HARDTANH(.min_val = ACTS[k].p.a, .max_val = ACTS[k].p.b);
        if (mode == 1) {
            CHECK_OK(k == 0 ? cnnc_relu_(y) : cnnc_hardtanh_(y, o));
        } else {
            cnnc_tensor *z = y;
            y = k == 0 ? cnnc_relu(z) : cnnc_hardtanh(z, o);
            cnnc_tensor_release(z);
        }
    }
    result r = {0};
    if (!y) {
        CHECK(y != NULL);
        cnnc_scope_end();
        return r;
    }
    CHECK_OK(cnnc_backward(y, g, false));
    r = (result){copy_of(y), copy_of(cnnc_tensor_grad(x)), copy_of(cnnc_tensor_grad(w)),
                 copy_of(cnnc_tensor_grad(b)), copy_of(rm), copy_of(rv)};
    cnnc_tensor_set_grad(x, NULL), cnnc_tensor_set_grad(w, NULL), cnnc_tensor_set_grad(b, NULL);
    if (mode != 0) cnnc_tensor_release(y); /* the ops' own (cnnc_relu's belongs to the scope) */
    cnnc_scope_end();
    return r;
}

static void result_free(result *r) { free(r->y), free(r->gx), free(r->gw), free(r->gb), free(r->rm), free(r->rv); }

static bool same_result(const result *a, const result *b, int64_t n, int64_t C) {
    return a->y && b->y && same_f32(a->y, b->y, n) && same_f32(a->gx, b->gx, n) && same_f32(a->gw, b->gw, C) &&
           same_f32(a->gb, b->gb, C) && same_f32(a->rm, b->rm, C) && same_f32(a->rv, b->rv, C);
}

/* x [N, C, H, W]: random, channel 1 constant (z = b exactly), channel 2 with a NaN; w, b
 * with channel 0 scaled to reach 6, channel 1 b = 0 (z exactly 0) and channel 3 b = 6,
 * w = 0 (z exactly 6) */
static void make_inputs(int64_t N, int64_t C, int64_t H, int64_t W, cnnc_tensor **x, cnnc_tensor **w,
                        cnnc_tensor **b, cnnc_tensor **g) {
    *x = cnnc_randn(CNNC_SHAPE(N, C, H, W));
    *w = cnnc_randn(CNNC_SHAPE(C));
    *b = cnnc_randn(CNNC_SHAPE(C));
    *g = cnnc_randn(CNNC_SHAPE(N, C, H, W));
    float *xd = cnnc_tensor_data_f32(*x), *wd = cnnc_tensor_data_f32(*w), *bd = cnnc_tensor_data_f32(*b);
    const int64_t S = H * W;
    wd[0] = 4.0f;
    for (int64_t n = 0; n < N && C > 3; n++)
        for (int64_t s = 0; s < S; s++) xd[(n * C + 1) * S + s] = 0.75f;
    if (C > 3) {
        bd[1] = 0.0f, bd[3] = 6.0f, wd[3] = 0.0f;
        xd[2 * S + S / 2] = NAN;
    }
    for (int i = 0; i < 3; i++) cnnc_tensor_set_requires_grad(i == 0 ? *x : i == 1 ? *w : *b, true);
}

static void test_op_equals_pair(void) {
    static const int64_t SHAPES[][4] = {{3, 5, 7, 7}, {2, 4, 16, 16}, {4, 6, 5, 3}, {2, 4, 1, 33}};
    const cnnc__isa saved = cnnc__isa_active();
    const int old = cnnc_get_num_threads();
    cnnc_manual_seed(11);
    for (int si = 0; si < 4; si++) {
        const int64_t *sh = SHAPES[si], n = sh[0] * sh[1] * sh[2] * sh[3];
        cnnc_tensor *x, *w, *b, *g;
        make_inputs(sh[0], sh[1], sh[2], sh[3], &x, &w, &b, &g);
        for (int l = (int)cnnc__isa_cpu(); l >= 0; l--)
            for (int threads = 1; threads <= 2; threads++)
                for (int k = 0; k < N_ACTS; k++) {
                    CHECK(cnnc__isa_set_cap((cnnc__isa)l));
                    CHECK_OK(cnnc_set_num_threads(threads));
                    result fused = run_pair(x, w, b, g, k, 2);
                    for (int mode = 0; mode < 2; mode++) {
                        result r = run_pair(x, w, b, g, k, mode);
                        if (!same_result(&fused, &r, n, sh[1])) {
                            printf("  %s, level %s, %d threads, shape %d, %s: fused != batch_norm + activation\n",
                                   ACTS[k].name, cnnc__isa_name((cnnc__isa)l), threads, si,
                                   mode ? "in place" : "out of place");
                            CHECK(!"same bits");
                        }
                        result_free(&r);
                    }
                    result_free(&fused);
                }
        cnnc_tensor_release(x), cnnc_tensor_release(w), cnnc_tensor_release(b), cnnc_tensor_release(g);
    }
    CHECK(cnnc__isa_set_cap(saved));
    cnnc_set_num_threads(old);
}

static void test_op_errors_and_versions(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, 3, 4, 4));
    cnnc_tensor_set_requires_grad(x, true);
    cnnc_tensor *xx = cnnc_mul_scalar(x, 2.0); /* not a leaf: may change in place */
    const cnnc__norm_act bad = {true, 6.0f, 6.0f}, relu = {false, 0.0f, 0.0f};
    CHECK_NULL_ERR(cnnc__op_batch_norm_act(xx, NULL, NULL, NULL, NULL, 0.1, 1e-5, &bad));
    CHECK_ERROR_CONTAINS("Hardtanh(min_val=6, max_val=6)");
    CHECK_NULL_ERR(cnnc__op_batch_norm_act(xx, NULL, NULL, NULL, NULL, 0.1, 1e-5, NULL));
    /* batch_norm's own checks come first, with its messages */
    cnnc_tensor *one = cnnc_randn(CNNC_SHAPE(1, 3));
    CHECK_NULL_ERR(cnnc__op_batch_norm_act(one, NULL, NULL, NULL, NULL, 0.1, 1e-5, &relu));
    CHECK_ERROR_CONTAINS("Expected more than 1 value per channel when training");
    cnnc_tensor *y = cnnc__op_batch_norm_act(xx, NULL, NULL, NULL, NULL, 0.1, 1e-5, &relu);
    REQUIRE(y);
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(y), "ReluBackward0");
    CHECK_OK(cnnc_relu_(xx)); /* the saved input changed: backward refuses */
    CHECK_ERR(cnnc_backward(cnnc_sum(y), NULL, false));
    CHECK_ERROR_CONTAINS("modified by an inplace operation");
    cnnc_tensor_release(y);
    /* the result is not saved (bits are): changing it in place later leaves the gradient
     * right, where relu (saving its result) would refuse */
    cnnc_tensor *x2 = cnnc_mul_scalar(x, 2.0);
    y = cnnc__op_batch_norm_act(x2, NULL, NULL, NULL, NULL, 0.1, 1e-5, &relu);
    REQUIRE(y);
    CHECK_OK(cnnc_backward(y, cnnc_ones(CNNC_SHAPE(2, 3, 4, 4), CNNC_FLOAT32), true));
    cnnc_tensor *gref = cnnc_tensor_clone(cnnc_tensor_grad(x));
    cnnc_tensor_set_grad(x, NULL);
    cnnc_tensor_release(y);
    y = cnnc__op_batch_norm_act(x2, NULL, NULL, NULL, NULL, 0.1, 1e-5, &relu);
    REQUIRE(y);
    CHECK_OK(cnnc_relu_(y)); /* the same values, a new version and node */
    CHECK_OK(cnnc_backward(y, cnnc_ones(CNNC_SHAPE(2, 3, 4, 4), CNNC_FLOAT32), false));
    CHECK(same_f32(cnnc_tensor_data_f32(gref), cnnc_tensor_data_f32(cnnc_tensor_grad(x)), 2 * 3 * 4 * 4));
    cnnc_tensor_release(y);
    /* nothing requires grad: no node, the same values */
    cnnc_tensor *c = cnnc_tensor_detach(x);
    y = cnnc__op_batch_norm_act(c, NULL, NULL, NULL, NULL, 0.1, 1e-5, &ACTS[1].fused);
    cnnc_tensor *z = cnnc_batch_norm(c, NULL, NULL, NULL, NULL, CNNC_BATCH_NORM(.training = true));
    cnnc_tensor *r = cnnc_relu6(z, CNNC_RELU6());
    REQUIRE(y && r);
    CHECK(cnnc_tensor_grad_fn_name(y) == NULL);
    CHECK(same(cnnc_tensor_data_f32(y), cnnc_tensor_data_f32(r), 32 * 3 * 4));
    cnnc_tensor_release(y);
    cnnc_scope_end();
}

/* ---- the model runtime ------------------------------------------------------------------ */

/* x -> conv -> bn1 -> relu6 (module, in place) -> conv2 -> bn2 -> relu (op) -> bn3 ->
 * hardtanh(-1, 2) (op) -> output */
static cnnc_module *build_graph(void) {
    cnnc_module *g = cnnc__graph_new("Net");
    if (!g) return NULL;
    cnnc_conv_module_options co = CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1));
    cnnc_status st = cnnc__graph_add_module(g, "conv", cnnc_conv2d_new(3, 4, co));
    if (!st) st = cnnc__graph_add_module(g, "bn1", cnnc_batchnorm2d_new(4, CNNC_BATCHNORM()));
    if (!st) st = cnnc__graph_add_module(g, "act", cnnc_relu6_new(CNNC_RELU6(.inplace = true)));
    if (!st) st = cnnc__graph_add_module(g, "conv2", cnnc_conv2d_new(4, 5, co));
    if (!st) st = cnnc__graph_add_module(g, "bn2", cnnc_batchnorm2d_new(5, CNNC_BATCHNORM(.momentum = CNNC_NONE)));
    if (!st) st = cnnc__graph_add_module(g, "bn3", cnnc_batchnorm2d_new(5, CNNC_BATCHNORM(.affine = false)));
    CHECK_OK(st);
    int x = cnnc__graph_add_node(g, "x", CNNC__GNODE_INPUT, NULL, 0, NULL);
#define REF1(i) cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(i, 0)})
    int c1 = cnnc__graph_add_node(g, "conv", CNNC__GNODE_MODULE, "conv", 1, REF1(x));
    int b1 = cnnc__graph_add_node(g, "bn1", CNNC__GNODE_MODULE, "bn1", 1, REF1(c1));
    int a1 = cnnc__graph_add_node(g, "act", CNNC__GNODE_MODULE, "act", 1, REF1(b1));
    int c2 = cnnc__graph_add_node(g, "conv2", CNNC__GNODE_MODULE, "conv2", 1, REF1(a1));
    int b2 = cnnc__graph_add_node(g, "bn2", CNNC__GNODE_MODULE, "bn2", 1, REF1(c2));
    int a2 = cnnc__graph_add_node(g, "relu", CNNC__GNODE_OP, "relu", 1, REF1(b2));
    int b3 = cnnc__graph_add_node(g, "bn3", CNNC__GNODE_MODULE, "bn3", 1, REF1(a2));
    int a3 = cnnc__graph_add_node(g, "ht", CNNC__GNODE_OP, "hardtanh", 3,
                                  cnnc__gargs(3, (cnnc__garg[]){cnnc__garg_ref(b3, 0), cnnc__garg_float(-1.0),
                                                                cnnc__garg_float(2.0)}));
#undef REF1
    CHECK_OK(cnnc__graph_set_outputs(g, 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(a3, 0)})));
    CHECK_OK(cnnc__graph_finish(g));
    return g;
}

/* the same computation with the graph's modules and functional ops, one by one */
static cnnc_tensor *by_hand(cnnc_module *g, cnnc_tensor *x) {
    cnnc_tensor *t = cnnc_module_forward(cnnc_module_get_submodule(g, "conv"), x);
    t = cnnc_module_forward(cnnc_module_get_submodule(g, "bn1"), t);
    t = cnnc_module_forward(cnnc_module_get_submodule(g, "act"), t);
    t = cnnc_module_forward(cnnc_module_get_submodule(g, "conv2"), t);
    t = cnnc_relu(cnnc_module_forward(cnnc_module_get_submodule(g, "bn2"), t));
    t = cnnc_module_forward(cnnc_module_get_submodule(g, "bn3"), t);
    return cnnc_hardtanh(t, CNNC_HARDTANH(.min_val = -1.0, .max_val = 2.0));
}

/* every parameter's gradient and every buffer of g, after its state */
static float *snapshot(cnnc_module *g, int64_t *n) {
    cnnc_tensor_list *sd = cnnc_module_state_dict(g);
    int64_t total = 0;
    for (size_t i = 0; i < cnnc_tensor_list_size(sd); i++) total += cnnc_tensor_numel(cnnc_tensor_list_get(sd, i));
    cnnc_tensor_list *ps = cnnc_module_named_parameters(g);
    for (size_t i = 0; i < cnnc_tensor_list_size(ps); i++) total += cnnc_tensor_numel(cnnc_tensor_list_get(ps, i));
    float *out = calloc((size_t)total + 1, 4), *p = out;
    for (size_t i = 0; i < cnnc_tensor_list_size(sd); i++) {
        cnnc_tensor *t = cnnc_tensor_list_get(sd, i);
        if (cnnc_tensor_dtype(t) == CNNC_FLOAT32) memcpy(p, cnnc_tensor_data_f32(t), (size_t)cnnc_tensor_numel(t) * 4);
        else *p = (float)*(int64_t *)cnnc_tensor_data(t);
        p += cnnc_tensor_numel(t);
    }
    for (size_t i = 0; i < cnnc_tensor_list_size(ps); i++) {
        cnnc_tensor *gr = cnnc_tensor_grad(cnnc_tensor_list_get(ps, i));
        if (gr) memcpy(p, cnnc_tensor_data_f32(gr), (size_t)cnnc_tensor_numel(gr) * 4);
        p += cnnc_tensor_numel(cnnc_tensor_list_get(ps, i));
    }
    cnnc_tensor_list_free(sd);
    cnnc_tensor_list_free(ps);
    *n = total;
    return out;
}

static void train_twice(cnnc_module *g, cnnc_tensor *x, bool graph, float **y, float **state, int64_t *n) {
    for (int step = 0; step < 2; step++) {
        cnnc_scope_begin();
        cnnc_module_zero_grad(g, true);
        cnnc_tensor *out = graph ? cnnc_module_forward(g, x) : by_hand(g, x);
        REQUIRE(out);
        CHECK_OK(cnnc_backward(cnnc_sum(cnnc_mul(out, out)), NULL, false));
        if (step == 1) *y = copy_of(out);
        cnnc_scope_end();
    }
    *state = snapshot(g, n);
}

static void test_graph_training(void) {
    const int old = cnnc_get_num_threads();
    for (int threads = 1; threads <= 2; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
        cnnc_manual_seed(5);
        cnnc_module *g = build_graph(), *h = build_graph();
        cnnc_tensor_list *sd = cnnc_module_state_dict(g);
        CHECK_OK(cnnc_module_load_state_dict(h, sd, true));
        cnnc_tensor_list_free(sd);
        cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(3, 3, 9, 7));
        cnnc_tensor_set_requires_grad(x, true);
        float *y1, *y2, *s1, *s2;
        int64_t n1, n2;
        train_twice(g, x, true, &y1, &s1, &n1);
        train_twice(h, x, false, &y2, &s2, &n2);
        CHECK_EQ_INT(n1, n2);
        CHECK(same(y1, y2, 3 * 5 * 9 * 7 * 4));
        CHECK(same(s1, s2, (size_t)n1 * 4)); /* gradients, running statistics, batch counts */
        /* eval mode with gradients: the plain modules */
        cnnc_module_train(g, false), cnnc_module_train(h, false);
        cnnc_scope_begin();
        cnnc_tensor *e1 = cnnc_module_forward(g, x), *e2 = by_hand(h, x);
        REQUIRE(e1 && e2);
        CHECK(same(cnnc_tensor_data_f32(e1), cnnc_tensor_data_f32(e2), 3 * 5 * 9 * 7 * 4));
        cnnc_scope_end();
        free(y1), free(y2), free(s1), free(s2);
        cnnc_module_release(g), cnnc_module_release(h);
        cnnc_tensor_release(x);
    }
    cnnc_set_num_threads(old);
}

/* x -> bn -> relu (op) -> output: the runtime fuses them (the output then has no saved
 * copy: relu_ on it leaves the backward possible, where the unfused relu refuses), in
 * training with gradients only */
static void test_graph_fuses(void) {
    cnnc_module *g = cnnc__graph_new("Net");
    REQUIRE(g);
    CHECK_OK(cnnc__graph_add_module(g, "bn", cnnc_batchnorm2d_new(3, CNNC_BATCHNORM())));
    int x = cnnc__graph_add_node(g, "x", CNNC__GNODE_INPUT, NULL, 0, NULL);
    int b = cnnc__graph_add_node(g, "bn", CNNC__GNODE_MODULE, "bn", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(x, 0)}));
    int r = cnnc__graph_add_node(g, "relu", CNNC__GNODE_OP, "relu", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(b, 0)}));
    CHECK_OK(cnnc__graph_set_outputs(g, 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(r, 0)})));
    CHECK_OK(cnnc__graph_finish(g));
    cnnc_scope_begin();
    cnnc_tensor *in = cnnc_randn(CNNC_SHAPE(2, 3, 5, 5));
    CHECK_OK(cnnc_tensor_set_requires_grad(in, true));
    for (int training = 1; training >= 0; training--) {
        cnnc_module_train(g, training);
        cnnc_tensor *y = cnnc_module_forward(g, in);
        REQUIRE(y);
        CHECK_OK(cnnc_relu_(y)); /* the same values, a new version */
        cnnc_status st = cnnc_backward(cnnc_sum(y), NULL, false);
        if (training) CHECK_OK(st);
        else CHECK_ERROR_CONTAINS("modified by an inplace operation"); /* eval: relu's own node */
    }
    cnnc_scope_end();
    cnnc_module_release(g);
}

int main(void) {
    RUN_TEST(test_kernels_every_level);
    RUN_TEST(test_op_equals_pair);
    RUN_TEST(test_op_errors_and_versions);
    RUN_TEST(test_graph_training);
    RUN_TEST(test_graph_fuses);
    return check_summary();
}
