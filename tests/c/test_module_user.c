/* User-defined modules, forward_n, ModuleList / ModuleDict, shared children, nesting
 * limits, the release-too-many check, and nn.init. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* ---- a two-layer net as a user-defined module ------------------------------------ */

typedef struct mlp {
    cnnc_module *fc1, *fc2; /* borrowed: the module owns them */
    int *freed;             /* set when free_data runs */
} mlp;

static cnnc_tensor *mlp_forward(cnnc_module *self, cnnc_tensor *x) {
    mlp *n = cnnc_module_data(self);
    cnnc_tensor *h = cnnc_module_forward(n->fc1, x);
    return h ? cnnc_module_forward(n->fc2, cnnc_relu(h)) : NULL; /* no releases: the scope does */
}

static void mlp_repr(const cnnc_module *self, char *buf, size_t cap) {
    (void)self;
    snprintf(buf, cap, "hidden=8");
}

static void mlp_free(void *data) {
    mlp *n = data;
    if (n->freed) *n->freed += 1;
    free(n);
}

static cnnc_module *mlp_new(int *freed) {
    mlp *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->freed = freed;
    cnnc_module *m = cnnc_module_new(&(cnnc_module_def){.type_name = "MLP", .forward = mlp_forward,
                                                        .extra_repr = mlp_repr, .free_data = mlp_free},
                                     n);
    if (!m) {
        free(n);
        return NULL;
    }
    n->fc1 = cnnc_linear_new(4, 8, CNNC_LINEAR());
    n->fc2 = cnnc_linear_new(8, 2, CNNC_LINEAR(.bias = false));
    if (cnnc_module_register_module(m, "fc1", n->fc1) != CNNC_OK ||
        cnnc_module_register_module(m, "fc2", n->fc2) != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

static void test_user_module_basics(void) {
    int freed = 0;
    cnnc_module *m = mlp_new(&freed);
    REQUIRE(m);
    CHECK_STR_EQ(cnnc_module_type(m), "MLP");
    char *r = cnnc_module_repr(m);
    CHECK_STR_EQ(r, "MLP(\n  hidden=8\n  (fc1): Linear(in_features=4, out_features=8, bias=True)\n"
                    "  (fc2): Linear(in_features=8, out_features=2, bias=False)\n)");
    cnnc_free(r);
    cnnc_tensor_list *sd = cnnc_module_state_dict(m);
    REQUIRE(sd);
    CHECK_EQ_INT(cnnc_tensor_list_size(sd), 3);
    CHECK_STR_EQ(cnnc_tensor_list_name(sd, 0), "fc1.weight");
    CHECK_STR_EQ(cnnc_tensor_list_name(sd, 2), "fc2.weight");
    cnnc_tensor_list_free(sd);
    CHECK(cnnc_module_get_submodule(m, "fc2") != NULL);
    CHECK(cnnc_module_get_submodule(m, "") == m);
    CHECK_NULL_ERR(cnnc_module_get_submodule(m, "fc3"));
    CHECK(cnnc_module_data(cnnc_module_get_submodule(m, "fc1")) == NULL); /* built-in */

    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(5, 4));
    cnnc_tensor *y = cnnc_module_forward(m, x);
    REQUIRE(y);
    CHECK_EQ_INT(cnnc_tensor_size(y, 1), 2);
    CHECK_OK(cnnc_backward(cnnc_sum(y), NULL, false));
    cnnc_tensor *w = NULL;
    CHECK_OK(cnnc_module_tensor(m, "fc1.weight", &w));
    CHECK(cnnc_tensor_grad(w) != NULL);
    /* a wrong input is the inner module's error, passed through */
    CHECK_NULL_ERR(cnnc_module_forward(m, cnnc_ones(CNNC_SHAPE(5, 3), CNNC_FLOAT32)));
    CHECK_ERROR_CONTAINS("mat1 and mat2 shapes cannot be multiplied");
    cnnc_scope_end();

    cnnc_module_eval(m);
    CHECK(!cnnc_module_is_training(cnnc_module_get_submodule(m, "fc2")));
    cnnc_module_zero_grad(m, true);
    CHECK(cnnc_tensor_grad(w) == NULL);
    cnnc_module_release(m);
    CHECK_EQ_INT(freed, 1);
}

/* forward_n: (a, b) -> (a + b, a * b) */
static int pair_forward(cnnc_module *self, int n, cnnc_tensor *const *in, cnnc_tensor **out) {
    (void)self;
    if (n != 2) return -1;
    out[0] = cnnc_add(in[0], in[1]);
    out[1] = cnnc_mul(in[0], in[1]);
    return out[0] && out[1] ? 2 : -1;
}

static void test_forward_n(void) {
    cnnc_module *m = cnnc_module_new(&(cnnc_module_def){.type_name = "Pair", .forward_n = pair_forward}, NULL);
    REQUIRE(m);
    cnnc_scope_begin();
    cnnc_tensor *a = cnnc_full(CNNC_SHAPE(3), 2.0, CNNC_FLOAT32), *b = cnnc_full(CNNC_SHAPE(3), 5.0, CNNC_FLOAT32);
    cnnc_tensor *out[CNNC_MAX_OUTPUTS];
    CHECK_EQ_INT(cnnc_module_forward_n(m, 2, (cnnc_tensor *[]){a, b}, out), 2);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(out[0]), ((float[]){7, 7, 7}), 3, 0);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(out[1]), ((float[]){10, 10, 10}), 3, 0);
    /* one input: the callback fails without a message; the library names it */
    CHECK_EQ_INT(cnnc_module_forward_n(m, 1, &a, out), -1);
    CHECK_ERROR_CONTAINS("Pair.forward() failed");
    CHECK_NULL_ERR(cnnc_module_forward(m, a));
    CHECK_EQ_INT(cnnc_module_forward_n(m, CNNC_MAX_INPUTS + 1, (cnnc_tensor *[CNNC_MAX_INPUTS + 1]){a}, out), -1);
    /* a built-in one-input module given two inputs: PyTorch's TypeError wording */
    cnnc_module *relu = cnnc_relu_new(CNNC_RELU());
    CHECK_EQ_INT(cnnc_module_forward_n(relu, 2, (cnnc_tensor *[]){a, b}, out), -1);
    CHECK_ERROR_CONTAINS("forward() takes 2 positional arguments but 3 were given");
    CHECK_EQ_INT(cnnc_module_forward_n(relu, 1, &a, out), 1);
    /* MaxPool with return_indices gives two results */
    cnnc_module *mp = cnnc_maxpool1d_new(CNNC_MAX_POOL1D(.kernel_size = CNNC_INTS(2), .return_indices = true));
    cnnc_tensor *x = cnnc_reshape(cnnc_arange(0, 8, 1, CNNC_FLOAT32), CNNC_SHAPE(1, 1, 8));
    CHECK_EQ_INT(cnnc_module_forward_n(mp, 1, &x, out), 2);
    CHECK_EQ_INT(cnnc_tensor_dtype(out[1]), CNNC_INT64);
    CHECK_EQ_INT(cnnc_tensor_data_i64(out[1])[3], 7);
    CHECK_NULL_ERR(cnnc_module_forward(mp, x));
    CHECK_ERROR_CONTAINS("cnnc_module_forward_n");
    cnnc_scope_end();
    cnnc_module_release(mp);
    cnnc_module_release(relu);
    cnnc_module_release(m);
}

static void test_missing_forward_and_registration_errors(void) {
    cnnc_module *m = cnnc_module_new(&(cnnc_module_def){.type_name = "Empty"}, NULL);
    REQUIRE(m);
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(2), CNNC_FLOAT32);
    CHECK_NULL_ERR(cnnc_module_forward(m, x));
    CHECK_ERROR_CONTAINS("Module [Empty] is missing the required \"forward\" function");
    CHECK_NULL_ERR(cnnc_module_new(&(cnnc_module_def){.type_name = ""}, NULL));
    CHECK_NULL_ERR(cnnc_module_new(NULL, NULL));

    cnnc_tensor *p = cnnc_zeros(CNNC_SHAPE(3), CNNC_FLOAT32);
    CHECK_OK(cnnc_module_register_parameter(m, "p", p));
    CHECK(cnnc_tensor_requires_grad(p)); /* nn.Parameter */
    CHECK_ERR(cnnc_module_register_parameter(m, "p", p));
    CHECK_ERROR_CONTAINS("attribute 'p' already exists");
    CHECK_ERR(cnnc_module_register_parameter(m, "a.b", p));
    CHECK_ERROR_CONTAINS("can't contain \".\"");
    CHECK_ERR(cnnc_module_register_parameter(m, "", p));
    CHECK_ERR(cnnc_module_register_buffer(m, NULL, p, true));
    cnnc_tensor *nonleaf = cnnc_mul_scalar(p, 2.0);
    CHECK_ERR(cnnc_module_register_parameter(m, "q", nonleaf));
    CHECK_ERROR_CONTAINS("Cannot assign non-leaf Tensor to parameter 'q'");
    cnnc_tensor *i64 = cnnc_zeros(CNNC_SHAPE(2), CNNC_INT64);
    CHECK_ERR(cnnc_module_register_parameter(m, "q", i64));
    CHECK_OK(cnnc_module_register_parameter(m, "none", NULL));
    CHECK_OK(cnnc_module_register_buffer(m, "count", i64, true));
    CHECK_OK(cnnc_module_register_buffer(m, "scratch", x, false));
    cnnc_tensor_list *sd = cnnc_module_state_dict(m);
    CHECK_EQ_INT(cnnc_tensor_list_size(sd), 2); /* p, count: None and non-persistent left out */
    cnnc_tensor_list_free(sd);
    CHECK_ERR(cnnc_module_register_module(m, "p", cnnc_relu_new(CNNC_RELU())));
    CHECK_ERR(cnnc_module_register_module(m, "self", cnnc_module_retain(m)));
    CHECK_ERROR_CONTAINS("cannot be its own child");
    cnnc_tensor_release(nonleaf);
    cnnc_tensor_release(i64);
    cnnc_tensor_release(p);
    cnnc_tensor_release(x);
    cnnc_module_release(m);
}

static void test_containers(void) {
    cnnc_module *list = cnnc_modulelist_new(2, (cnnc_module *[]){cnnc_relu_new(CNNC_RELU()), cnnc_tanh_new()});
    REQUIRE(list);
    CHECK_OK(cnnc_modulelist_append(list, cnnc_sigmoid_new()));
    CHECK_EQ_INT(cnnc_module_num_children(list), 3);
    const char *name = NULL;
    CHECK_STR_EQ(cnnc_module_type(cnnc_module_child(list, 2, &name)), "Sigmoid");
    CHECK_STR_EQ(name, "2");
    cnnc_tensor *x = cnnc_ones(CNNC_SHAPE(2), CNNC_FLOAT32);
    CHECK_NULL_ERR(cnnc_module_forward(list, x));
    CHECK_ERROR_CONTAINS("Module [ModuleList] is missing the required \"forward\" function");
    CHECK_ERR(cnnc_sequential_append(list, cnnc_relu_new(CNNC_RELU())));

    cnnc_module *dict = cnnc_moduledict_new();
    REQUIRE(dict);
    CHECK_OK(cnnc_moduledict_set(dict, "act", cnnc_relu_new(CNNC_RELU())));
    CHECK_OK(cnnc_moduledict_set(dict, "fc", cnnc_linear_new(2, 3, CNNC_LINEAR())));
    CHECK_OK(cnnc_moduledict_set(dict, "act", cnnc_tanh_new())); /* replaced in place */
    CHECK_EQ_INT(cnnc_module_num_children(dict), 2);
    CHECK_STR_EQ(cnnc_module_type(cnnc_module_get_submodule(dict, "act")), "Tanh");
    CHECK_OK(cnnc_module_register_module(dict, "list", list)); /* takes our reference */
    cnnc_tensor *w = NULL;
    CHECK_OK(cnnc_module_tensor(dict, "fc.weight", &w));
    char *r = cnnc_module_repr(dict);
    CHECK_CONTAINS(r, "(list): ModuleList(\n    (0): ReLU()");
    cnnc_free(r);
    CHECK_ERR(cnnc_moduledict_set(list, "x", cnnc_relu_new(CNNC_RELU())));
    cnnc_tensor_release(x);
    cnnc_module_release(dict);
}

/* nn.Sequential(r, r): legal, parameters listed once, state_dict under both names */
static void test_shared_children(void) {
    cnnc_module *fc = cnnc_linear_new(3, 3, CNNC_LINEAR());
    REQUIRE(fc);
    cnnc_module *seq = cnnc_sequential_new(2, (cnnc_module *[]){fc, fc});
    REQUIRE(seq);
    cnnc_tensor_list *p = cnnc_module_named_parameters(seq);
    CHECK_EQ_INT(cnnc_tensor_list_size(p), 2);
    cnnc_tensor_list_free(p);
    cnnc_tensor_list *sd = cnnc_module_state_dict(seq);
    CHECK_EQ_INT(cnnc_tensor_list_size(sd), 4);
    CHECK_STR_EQ(cnnc_tensor_list_name(sd, 2), "1.weight");
    cnnc_tensor_list_free(sd);
    CHECK_OK(cnnc_sequential_append(seq, fc)); /* a third slot, still one reference */
    cnnc_module *holder = cnnc_moduledict_new();
    CHECK_OK(cnnc_moduledict_set(holder, "a", cnnc_module_retain(fc)));
    CHECK_OK(cnnc_moduledict_set(holder, "b", fc));        /* shared: nothing taken */
    CHECK_OK(cnnc_moduledict_set(holder, "a", cnnc_relu_new(CNNC_RELU()))); /* "b" keeps fc */
    CHECK_STR_EQ(cnnc_module_type(cnnc_module_get_submodule(holder, "b")), "Linear");
    cnnc_module_release(holder);
    cnnc_scope_begin();
    CHECK(cnnc_module_forward(seq, cnnc_randn(CNNC_SHAPE(2, 3))) != NULL);
    cnnc_scope_end();
    cnnc_module_release(seq); /* frees fc once */
    /* a failed constructor releases each distinct module once */
    cnnc_module *r = cnnc_relu_new(CNNC_RELU());
    CHECK_NULL_ERR(cnnc_sequential_new(3, (cnnc_module *[]){r, NULL, r}));
}

static void test_nesting_limits(void) {
    cnnc_module *m = cnnc_identity_new();
    int depth = 1;
    while (depth < 1100) {
        cnnc_module *outer = cnnc_sequential_new(1, &m);
        if (!outer) break; /* m was released */
        m = outer;
        depth++;
    }
    CHECK_EQ_INT(depth, 1024);
    CHECK_ERROR_CONTAINS("more than 1024 levels deep");
    /* m is gone: the last Sequential failed and released it; build again shallower */
    m = cnnc_identity_new();
    for (int i = 0; i < 1000; i++) m = cnnc_sequential_new(1, &m);
    REQUIRE(m);
    char *r = cnnc_module_repr(m);
    CHECK(r != NULL);
    cnnc_free(r);
    cnnc_tensor_list *sd = cnnc_module_state_dict(m);
    CHECK(sd != NULL);
    cnnc_tensor_list_free(sd);
    cnnc_module_release(m);
}

/* Releasing a module once too often stops the process with a message (in a child). */
static void test_release_too_many(void) {
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        cnnc_module *m = cnnc_relu_new(CNNC_RELU());
        cnnc_module *keep = cnnc_relu_new(CNNC_RELU()); /* keeps the freed block from reuse */
        cnnc_module_release(m);
        cnnc_module_release(m);
        (void)keep;
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

/* ---- nn.init ---------------------------------------------------------------------------- */

static void test_init(void) {
    double g;
    CHECK_OK(cnnc_init_calculate_gain("relu", (cnnc_optional_double)CNNC_NONE, &g));
    CHECK_NEAR(g, sqrt(2.0), 1e-15);
    CHECK_OK(cnnc_init_calculate_gain("leaky_relu", (cnnc_optional_double)CNNC_SOME(0.2), &g));
    CHECK_NEAR(g, 1.3867504905630728, 1e-15);
    CHECK_OK(cnnc_init_calculate_gain("tanh", (cnnc_optional_double)CNNC_NONE, &g));
    CHECK_NEAR(g, 5.0 / 3.0, 1e-15);
    CHECK_ERR(cnnc_init_calculate_gain("foo", (cnnc_optional_double)CNNC_NONE, &g));
    CHECK_ERROR_CONTAINS("Unsupported nonlinearity foo");

    cnnc_manual_seed(1);
    cnnc_tensor *w = cnnc_empty(CNNC_SHAPE(64, 32, 3, 3), CNNC_FLOAT32);
    int64_t fi, fo;
    CHECK_OK(cnnc_init_calculate_fan(w, &fi, &fo));
    CHECK_EQ_INT(fi, 288);
    CHECK_EQ_INT(fo, 576);
    CHECK_OK(cnnc_init_kaiming_uniform_(w, CNNC_KAIMING(.nonlinearity = "relu")));
    const float *d = cnnc_tensor_data_f32(w);
    double bound = sqrt(3.0) * sqrt(2.0) / sqrt(288.0), mx = 0;
    for (int64_t i = 0; i < cnnc_tensor_numel(w); i++) mx = fmax(mx, fabs(d[i]));
    CHECK(mx <= bound && mx > 0.99 * bound);
    CHECK_OK(cnnc_init_kaiming_normal_(w, CNNC_KAIMING(.mode = "FAN_OUT", .nonlinearity = "relu")));
    double ss = 0;
    for (int64_t i = 0; i < cnnc_tensor_numel(w); i++) ss += (double)d[i] * d[i];
    CHECK_NEAR(sqrt(ss / (double)cnnc_tensor_numel(w)), sqrt(2.0 / 576.0), 0.02 * sqrt(2.0 / 576.0));
    CHECK_OK(cnnc_init_xavier_uniform_(w, 2.0));
    mx = 0;
    for (int64_t i = 0; i < cnnc_tensor_numel(w); i++) mx = fmax(mx, fabs(d[i]));
    bound = 2.0 * sqrt(6.0 / (288.0 + 576.0));
    CHECK(mx <= bound && mx > 0.99 * bound);
    CHECK_ERR(cnnc_init_kaiming_uniform_(w, CNNC_KAIMING(.mode = "fan_x")));
    CHECK_ERROR_CONTAINS("Mode fan_x not supported, please use one of ['fan_in', 'fan_out']");
    CHECK_OK(cnnc_init_constant_(w, 0.5));
    CHECK(d[100] == 0.5f);
    CHECK_OK(cnnc_init_zeros_(w));
    CHECK(d[7] == 0.0f);
    CHECK_ERR(cnnc_init_uniform_(w, 2, 1));
    CHECK_ERROR_CONTAINS("uniform_ expects to return a [from, to) range, but found from=2 > to=1");
    CHECK_ERR(cnnc_init_normal_(w, 0, -1));
    CHECK_ERROR_CONTAINS("normal expects std >= 0.0, but found std -1");
    cnnc_tensor *v = cnnc_empty(CNNC_SHAPE(3), CNNC_FLOAT32);
    CHECK_ERR(cnnc_init_xavier_normal_(v, 1.0));
    CHECK_ERROR_CONTAINS("fewer than 2 dimensions");
    cnnc_tensor *empty = cnnc_empty(CNNC_SHAPE(0, 4), CNNC_FLOAT32);
    CHECK_OK(cnnc_init_kaiming_uniform_(empty, CNNC_KAIMING(.mode = "bad"))); /* a no-op first */
    cnnc_tensor *i64 = cnnc_zeros(CNNC_SHAPE(2, 2), CNNC_INT64);
    CHECK_ERR(cnnc_init_ones_(i64));
    CHECK_ERR(cnnc_init_ones_(NULL));
    cnnc_tensor_release(i64);
    cnnc_tensor_release(empty);
    cnnc_tensor_release(v);
    cnnc_tensor_release(w);
}

int main(void) {
    RUN_TEST(test_user_module_basics);
    RUN_TEST(test_forward_n);
    RUN_TEST(test_missing_forward_and_registration_errors);
    RUN_TEST(test_containers);
    RUN_TEST(test_shared_children);
    RUN_TEST(test_nesting_limits);
    RUN_TEST(test_release_too_many);
    RUN_TEST(test_init);
    return check_summary();
}
