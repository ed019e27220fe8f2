/* The graph runtime (src/graph) built through its internal API: a small network
 * with module calls, ops, several results and attributes, against the same
 * computation written out; the checks that reject bad graphs; the module factory
 * (cnnc_module_create) and its inverse. */
#include "check.h"
#include "graph/graph.h"
#include "nn/factory.h"

/* x -> conv -> bn -> block.act(relu) -> + conv -> * scale -> chunk(2, dim 1) ->
 * cat([second, first]) -> flatten -> fc */
static cnnc_module *build_net(void) {
    cnnc_module *g = cnnc__graph_new("Net");
    if (!g) return NULL;
    cnnc_status st = cnnc__graph_add_module(g, "conv", cnnc_conv2d_new(2, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1))));
    if (!st) st = cnnc__graph_add_module(g, "bn", cnnc_batchnorm2d_new(4, CNNC_BATCHNORM()));
    if (!st) st = cnnc__graph_add_module(g, "block", cnnc__holder_new("Block", "width=4"));
    if (!st) st = cnnc__graph_add_module(g, "block.act", cnnc_relu_new(CNNC_RELU()));
    if (!st) st = cnnc__graph_add_module(g, "fc", cnnc_linear_new(4 * 3 * 3, 5, CNNC_LINEAR()));
    cnnc_tensor *scale = cnnc_full(0, NULL, 0.5, CNNC_FLOAT32);
    if (!st) st = cnnc_module_register_buffer(g, "scale", scale, true);
    cnnc_tensor_release(scale);
    CHECK_OK(st);
    int x = cnnc__graph_add_node(g, "x", CNNC__GNODE_INPUT, NULL, 0, NULL);
    int c1 = cnnc__graph_add_node(g, "conv", CNNC__GNODE_MODULE, "conv", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(x, 0)}));
    int b1 = cnnc__graph_add_node(g, "bn", CNNC__GNODE_MODULE, "bn", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(c1, 0)}));
    int r1 = cnnc__graph_add_node(g, "act", CNNC__GNODE_MODULE, "block.act", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(b1, 0)}));
    int s = cnnc__graph_add_node(g, "add", CNNC__GNODE_OP, "add", 2, cnnc__gargs(2, (cnnc__garg[]){cnnc__garg_ref(r1, 0), cnnc__garg_ref(c1, 0)}));
    int k = cnnc__graph_add_node(g, "scale", CNNC__GNODE_ATTR, "scale", 0, NULL);
    int m = cnnc__graph_add_node(g, "mul", CNNC__GNODE_OP, "mul", 2, cnnc__gargs(2, (cnnc__garg[]){cnnc__garg_ref(s, 0), cnnc__garg_ref(k, 0)}));
    int ch = cnnc__graph_add_node(g, "chunk", CNNC__GNODE_OP, "chunk", 3, cnnc__gargs(3, (cnnc__garg[]){cnnc__garg_ref(m, 0), cnnc__garg_int(2), cnnc__garg_int(1)}));
    int g1 = cnnc__graph_add_node(g, "second", CNNC__GNODE_OP, "getitem", 2, cnnc__gargs(2, (cnnc__garg[]){cnnc__garg_ref(ch, -1), cnnc__garg_int(-1)}));
    cnnc__garg parts[2] = {cnnc__garg_ref(g1, 0), cnnc__garg_ref(ch, 0)};
    int cat = cnnc__graph_add_node(g, "cat", CNNC__GNODE_OP, "cat", 2, cnnc__gargs(2, (cnnc__garg[]){cnnc__garg_list(2, parts), cnnc__garg_int(1)}));
    int fl = cnnc__graph_add_node(g, "flatten", CNNC__GNODE_OP, "flatten", 2, cnnc__gargs(2, (cnnc__garg[]){cnnc__garg_ref(cat, 0), cnnc__garg_int(1)}));
    int out = cnnc__graph_add_node(g, "fc", CNNC__GNODE_MODULE, "fc", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(fl, 0)}));
    CHECK(out >= 0);
    CHECK_OK(cnnc__graph_set_outputs(g, 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(out, 0)})));
    CHECK_OK(cnnc__graph_finish(g));
    return g;
}

/* the same computation, written out with the graph's own modules */
static cnnc_tensor *by_hand(cnnc_module *g, cnnc_tensor *x) {
    cnnc_tensor *c1 = cnnc_module_forward(cnnc_module_get_submodule(g, "conv"), x);
    cnnc_tensor *b1 = cnnc_module_forward(cnnc_module_get_submodule(g, "bn"), c1);
    cnnc_tensor *s = cnnc_mul_scalar(cnnc_add(cnnc_relu(b1), c1), 0.5);
    cnnc_tensor *parts[2];
    if (cnnc_chunk(s, 2, 1, 2, parts) != 2) return NULL;
    cnnc_tensor *cat = cnnc_cat(2, (cnnc_tensor *[]){parts[1], parts[0]}, 1);
    return cnnc_module_forward(cnnc_module_get_submodule(g, "fc"), cnnc_flatten(cat, 1, -1));
}

static void test_graph_runs_like_the_code(void) {
    cnnc_manual_seed(3);
    cnnc_module *g = build_net();
    REQUIRE(g);
    CHECK_STR_EQ(cnnc_module_type(g), "Net");
    char *r = cnnc_module_repr(g);
    CHECK_CONTAINS(r, "(block): Block(\n    width=4\n    (act): ReLU()\n  )");
    cnnc_free(r);
    cnnc_tensor_list *sd = cnnc_module_state_dict(g);
    CHECK_STR_EQ(cnnc_tensor_list_name(sd, 0), "scale");
    CHECK_STR_EQ(cnnc_tensor_list_name(sd, 1), "conv.weight");
    cnnc_tensor_list_free(sd);
    for (int mode = 0; mode < 2; mode++) {
        cnnc_module_train(g, mode == 0);
        cnnc_scope_begin();
        cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, 2, 3, 3));
        cnnc_tensor_set_requires_grad(x, true);
        cnnc_tensor *y = cnnc_module_forward(g, x);
        REQUIRE(y);
        CHECK_OK(cnnc_backward(cnnc_sum(y), NULL, false));
        cnnc_tensor *gx = cnnc_tensor_clone(cnnc_tensor_grad(x));
        cnnc_tensor_set_grad(x, NULL);
        cnnc_module_train(g, mode == 0); /* the same batch statistics again in training */
        cnnc_tensor *want = by_hand(g, x);
        REQUIRE(want);
        CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), cnnc_tensor_data_f32(want), 10, 1e-6);
        CHECK_OK(cnnc_backward(cnnc_sum(want), NULL, false));
        CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(gx), cnnc_tensor_data_f32(cnnc_tensor_grad(x)), 36, 1e-6);
        cnnc_scope_end();
    }
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(2, 2, 3, 3), CNNC_FLOAT32);
    cnnc_tensor *outs[CNNC_MAX_OUTPUTS];
    CHECK_EQ_INT(cnnc_module_forward_n(g, 2, (cnnc_tensor *[]){x, x}, outs), -1);
    CHECK_ERROR_CONTAINS("Net.forward() takes 1 inputs, got 2");
    cnnc_scope_begin();
    CHECK_NULL_ERR(cnnc_module_forward(g, cnnc_ones(CNNC_SHAPE(2, 3, 3, 3), CNNC_FLOAT32)));
    CHECK_ERROR_CONTAINS("expected input[2, 3, 3, 3] to have 2 channels");
    cnnc_scope_end();
    cnnc_tensor_release(x);
    cnnc_module_release(g);
}

static void test_graph_checks(void) {
    cnnc_module *g = cnnc__graph_new("Bad");
    REQUIRE(g);
    CHECK_OK(cnnc__graph_add_module(g, "fc", cnnc_linear_new(2, 2, CNNC_LINEAR())));
    CHECK_ERR(cnnc__graph_add_module(g, "missing.fc", cnnc_linear_new(2, 2, CNNC_LINEAR())));
    CHECK_ERROR_CONTAINS("its parent 'missing' is not defined");
    int x = cnnc__graph_add_node(g, "x", CNNC__GNODE_INPUT, NULL, 0, NULL);
    CHECK_EQ_INT(cnnc__graph_add_node(g, "x", CNNC__GNODE_INPUT, NULL, 0, NULL), -1);
    CHECK_ERROR_CONTAINS("two nodes are named 'x'");
    int a = cnnc__graph_add_node(g, "a", CNNC__GNODE_OP, "relu", 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(x + 5, 0)}));
    CHECK_OK(cnnc__graph_set_outputs(g, 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(a, 0)})));
    CHECK_ERR(cnnc__graph_finish(g));
    CHECK_ERROR_CONTAINS("a refers to a node that does not come before it");
    cnnc_module_release(g);

    const struct { const char *target; cnnc__gnode_kind kind; int nargs; const char *msg; } bad[] = {
        {"frobnicate", CNNC__GNODE_OP, 1, "unknown op 'frobnicate'"},
        {"relu", CNNC__GNODE_OP, 3, "relu takes 1 to 2 arguments, got 3"},
        {"conv9", CNNC__GNODE_MODULE, 1, "calls module 'conv9', which is not defined"},
        {"fc.bias.x", CNNC__GNODE_ATTR, 0, "reads 'fc.bias.x', which is no parameter or buffer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        g = cnnc__graph_new("Bad");
        CHECK_OK(cnnc__graph_add_module(g, "fc", cnnc_linear_new(2, 2, CNNC_LINEAR())));
        x = cnnc__graph_add_node(g, "x", CNNC__GNODE_INPUT, NULL, 0, NULL);
        cnnc__garg args[3] = {cnnc__garg_ref(x, 0), cnnc__garg_int(1), cnnc__garg_int(2)};
        a = cnnc__graph_add_node(g, "a", bad[i].kind, bad[i].target, bad[i].nargs, cnnc__gargs(bad[i].nargs, args));
        CHECK_OK(cnnc__graph_set_outputs(g, 1, cnnc__gargs(1, (cnnc__garg[]){cnnc__garg_ref(a, 0)})));
        CHECK_ERR(cnnc__graph_finish(g));
        CHECK_ERROR_CONTAINS(bad[i].msg);
        cnnc_scope_begin();
        CHECK_NULL_ERR(cnnc_module_forward(g, cnnc_ones(CNNC_SHAPE(1, 2), CNNC_FLOAT32)));
        cnnc_scope_end();
        cnnc_module_release(g);
    }
    g = cnnc__graph_new("NoOutputs");
    CHECK_ERR(cnnc__graph_finish(g));
    CHECK_ERROR_CONTAINS("0 outputs");
    cnnc_module_release(g);
}

/* ---- the factory ---------------------------------------------------------------------------- */

#define KW(...) (const char *const[]){__VA_ARGS__}
static cnnc_value vint(int64_t v) { return (cnnc_value){.kind = CNNC_VALUE_INT, .n = 1, .ints = {v}}; }
static cnnc_value vbool(bool v) { return (cnnc_value){.kind = CNNC_VALUE_BOOL, .n = 1, .ints = {v}}; }
static cnnc_value vstr(const char *s) { return (cnnc_value){.kind = CNNC_VALUE_STRING, .s = s}; }
static cnnc_value vfloat(double f) { return (cnnc_value){.kind = CNNC_VALUE_FLOAT, .f = f}; }

/* create -> ctor args -> create again: the same repr and settings */
static void check_round_trip(cnnc_module *m) {
    REQUIRE(m);
    const char *names[64];
    cnnc_value values[64];
    int n = cnnc__module_ctor_args(m, names, values, 64);
    CHECK(n >= 0);
    cnnc_module *again = cnnc_module_create(cnnc_module_type(m), (size_t)n, names, values);
    REQUIRE(again);
    char *a = cnnc_module_repr(m), *b = cnnc_module_repr(again);
    CHECK_STR_EQ(b, a);
    cnnc_free(a);
    cnnc_free(b);
    a = cnnc_module_vars(m);
    b = cnnc_module_vars(again);
    CHECK_STR_EQ(b, a);
    cnnc_free(a);
    cnnc_free(b);
    cnnc_module_release(again);
    cnnc_module_release(m);
}

static void test_factory(void) {
    check_round_trip(cnnc_module_create("Conv2d", 6, KW("in_channels", "out_channels", "kernel_size", "padding", "groups", "bias"),
                                        (cnnc_value[]){vint(4), vint(8), vint(3), vstr("same"), vint(2), vbool(false)}));
    check_round_trip(cnnc_module_create("ConvTranspose2d", 5, KW("in_channels", "out_channels", "kernel_size", "stride", "output_padding"),
                                        (cnnc_value[]){vint(4), vint(2), vint(3), vint(2), vint(1)}));
    check_round_trip(cnnc_module_create("BatchNorm2d", 3, KW("num_features", "momentum", "eps"),
                                        (cnnc_value[]){vint(4), {.kind = CNNC_VALUE_NONE}, vfloat(1e-3)}));
    check_round_trip(cnnc_module_create("MaxPool2d", 3, KW("kernel_size", "stride", "ceil_mode"),
                                        (cnnc_value[]){vint(3), vint(2), vbool(true)}));
    check_round_trip(cnnc_module_create("AdaptiveAvgPool2d", 1, KW("output_size"),
                                        (cnnc_value[]){{.kind = CNNC_VALUE_INTS, .n = 2, .ints = {CNNC_POOL_KEEP, 7}}}));
    check_round_trip(cnnc_module_create("Upsample", 2, KW("scale_factor", "mode"), (cnnc_value[]){vfloat(2.0), vstr("bilinear")}));
    check_round_trip(cnnc_module_create("ReLU6", 1, KW("inplace"), (cnnc_value[]){vbool(true)}));
    check_round_trip(cnnc_module_create("Hardswish", 0, NULL, NULL));
    check_round_trip(cnnc_module_create("Linear", 3, KW("in_features", "out_features", "bias"),
                                        (cnnc_value[]){vint(3), vint(2), vbool(false)}));
    check_round_trip(cnnc_module_create("LayerNorm", 2, KW("normalized_shape", "eps"),
                                        (cnnc_value[]){{.kind = CNNC_VALUE_INTS, .n = 1, .ints = {96}}, vfloat(1e-6)}));
    check_round_trip(cnnc_module_create("StochasticDepth", 2, KW("p", "mode"), (cnnc_value[]){vfloat(0.1), vstr("row")}));
    check_round_trip(cnnc_module_create("Identity", 1, KW("anything"), (cnnc_value[]){vint(1)}));
    CHECK_NULL_ERR(cnnc_module_create("Conv5d", 0, NULL, NULL));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_NOT_FOUND);
    CHECK_NULL_ERR(cnnc_module_create("Conv2d", 2, KW("in_channels", "out_channels"), (cnnc_value[]){vint(1), vint(2)}));
    CHECK_ERROR_CONTAINS("Conv2d.__init__() missing 1 required positional argument: 'kernel_size'");
    CHECK_NULL_ERR(cnnc_module_create("ReLU", 1, KW("inplac"), (cnnc_value[]){vbool(true)}));
    CHECK_ERROR_CONTAINS("ReLU.__init__() got an unexpected keyword argument 'inplac'");
    CHECK_NULL_ERR(cnnc_module_create("Linear", 2, KW("in_features", "out_features"), (cnnc_value[]){vint(2), vfloat(1.5)}));
    CHECK_ERROR_CONTAINS("argument 'out_features' must be int, not float");
    CHECK_NULL_ERR(cnnc_module_create("Linear", 2, KW("in_features", "in_features"), (cnnc_value[]){vint(2), vint(2)}));
    CHECK_ERROR_CONTAINS("got multiple values for argument 'in_features'");
    CHECK_NULL_ERR(cnnc_module_create(NULL, 0, NULL, NULL));
    /* a user-defined module has no constructor arguments */
    cnnc_module *u = cnnc_module_new(&(cnnc_module_def){.type_name = "Mine"}, NULL);
    const char *names[4];
    cnnc_value values[4];
    CHECK_EQ_INT(cnnc__module_ctor_args(u, names, values, 4), -1);
    cnnc_module_release(u);
}

static void test_slices(void) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_reshape(cnnc_arange(0, 10, 1, CNNC_FLOAT32), CNNC_SHAPE(2, 5));
    cnnc_tensor_set_requires_grad(x, false);
    cnnc_tensor *p[8];
    CHECK_EQ_INT(cnnc_chunk(x, 2, 1, 8, p), 2);
    CHECK_EQ_INT(cnnc_tensor_size(p[0], 1), 3);
    CHECK_EQ_INT(cnnc_tensor_size(p[1], 1), 2);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(p[1]), ((float[]){3, 4, 8, 9}), 4, 0);
    CHECK_EQ_INT(cnnc_split(x, 2, (const int64_t[]){1, 4}, -1, 8, p), 2);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(p[0]), ((float[]){0, 5}), 2, 0);
    CHECK_EQ_INT(cnnc_split(x, 2, (const int64_t[]){2, 2}, 1, 8, p), -1);
    CHECK_ERROR_CONTAINS("split_with_sizes expects split_sizes to sum exactly to 5");
    CHECK_EQ_INT(cnnc_chunk(x, 0, 1, 8, p), -1);
    CHECK_NULL_ERR(cnnc_narrow(x, 1, 3, 3));
    CHECK_ERROR_CONTAINS("start (3) + length (3) exceeds dimension size (5).");
    cnnc_tensor *w = cnnc_randn(CNNC_SHAPE(2, 5));
    cnnc_tensor_set_requires_grad(w, true);
    cnnc_tensor *n = cnnc_narrow(w, 1, -3, 2);
    CHECK_STR_EQ(cnnc_tensor_grad_fn_name(n), "SliceBackward0");
    CHECK_OK(cnnc_backward(cnnc_sum(n), NULL, false));
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(cnnc_tensor_grad(w)), ((float[]){0, 0, 1, 1, 0, 0, 0, 1, 1, 0}), 10, 0);
    cnnc_scope_end();
}

int main(void) {
    RUN_TEST(test_graph_runs_like_the_code);
    RUN_TEST(test_graph_checks);
    RUN_TEST(test_factory);
    RUN_TEST(test_slices);
    return check_summary();
}
