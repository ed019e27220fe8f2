/* cnnc — the command-line program.
 *
 *     cnnc demo [SECTION...]   a guided tour of the library (the main job)
 *     cnnc version             library and header versions
 *     cnnc help [COMMAND]      usage
 *
 * main() is a dispatch table (`commands` below): a new subcommand is one function
 * and one row. The demo is a list of sections (`demo_sections`): a new section is
 * one function and one row. Every library call is checked; on an unexpected error
 * the program prints cnnc_last_error() and exits with status 1. Only the public
 * header is used, as any other program would.
 */
#include "commands.h"
#include "demo.h"
#include "train.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ------------------------------------------------------------------------ */
/* Demo sections                                                            */
/* ------------------------------------------------------------------------ */
/* Each section runs inside its own scope (opened and closed by run_section), so
 * the tensors it gets back from the library need no release; modules, lists and
 * strings are released explicitly. */

static void demo_tensors(void)
{
    say("A tensor is a dense, row-major float32 (or int64) array of up to %d dims.\n",
        CNNC_MAX_DIMS);
    say("From C data (torch.tensor([[1, 2, 3], [4, 5, 6]])):\n");
    const float data[] = {1, 2, 3, 4, 5, 6};
    cnnc_tensor *a = NN(cnnc_from_data(CNNC_SHAPE(2, 3), CNNC_FLOAT32, data));
    show("a", a);
    show_shape("a", a);
    say("  a.ndim = %d, a.numel() = %" PRId64 ", a.dtype = %s, a.size(-1) = %" PRId64 "\n",
        cnnc_tensor_ndim(a), cnnc_tensor_numel(a), cnnc_dtype_name(cnnc_tensor_dtype(a)),
        cnnc_tensor_size(a, -1));

    say("\nFactories (zeros, ones, full, arange, randn with manual_seed(0)):\n");
    show("zeros(2, 2)", NN(cnnc_zeros(CNNC_SHAPE(2, 2), CNNC_FLOAT32)));
    show("ones(3)", NN(cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32)));
    show("full((2,), 7.5)", NN(cnnc_full(CNNC_SHAPE(2), 7.5, CNNC_FLOAT32)));
    show("arange(0, 10, 3)", NN(cnnc_arange(0, 10, 3, CNNC_INT64)));
    show("randn(2, 3)", NN(cnnc_randn(CNNC_SHAPE(2, 3))));

    say("\nA 0-d tensor (a scalar) has shape [] and one element:\n");
    cnnc_tensor *s = NN(cnnc_full(0, NULL, 3.5, CNNC_FLOAT32));
    show("s", s);
    show_shape("s", s);
    say("  s.ndim = %d, s.numel() = %" PRId64 ", s.item() = %g\n", cnnc_tensor_ndim(s),
        cnnc_tensor_numel(s), item(s));

    say("\nreshape and view share storage with their base (one -1 is inferred):\n");
    cnnc_tensor *r = NN(cnnc_arange(0, 12, 1, CNNC_FLOAT32));
    cnnc_tensor *r34 = NN(cnnc_reshape(r, CNNC_SHAPE(3, 4)));
    cnnc_tensor *r2x = NN(cnnc_view(r, CNNC_SHAPE(2, -1)));
    show("r", r);
    show("r.reshape(3, 4)", r34);
    show("r.view(2, -1)", r2x);
    float *rd = NN(cnnc_tensor_data_f32(r));
    rd[0] = 100.0f;
    say("  after r[0] = 100 (written through cnnc_tensor_data_f32):\n");
    show("r.reshape(3, 4)", r34);
    show("flatten(r.reshape(3, 4))", NN(cnnc_flatten(r34, 0, -1)));
    show("r.reshape(3, 4).transpose(0, 1)", NN(cnnc_transpose(r34, 0, 1)));

    say("\nElementwise ops broadcast as in PyTorch: [2, 3] + [3] -> [2, 3]:\n");
    const float row[] = {10, 20, 30};
    cnnc_tensor *b = NN(cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, row));
    show("a + b", NN(cnnc_add(a, b)));
    show("a * b", NN(cnnc_mul(a, b)));
    show("a * 0.5 + 1", NN(cnnc_add_scalar(NN(cnnc_mul_scalar(a, 0.5)), 1.0)));

    say("\nReductions:\n");
    show("a.sum()", NN(cnnc_sum(a)));
    show("a.mean()", NN(cnnc_mean(a)));
    show("a.sum(dim=0)", NN(cnnc_sum_dims(a, 1, (const int[]){0}, false)));
    show("a.mean(dim=1, keepdim=True)", NN(cnnc_mean_dims(a, 1, (const int[]){1}, true)));

    say("\nmatmul: [2, 3] @ [3, 2] -> [2, 2], and batched [2, 2, 3] @ [3, 1] -> [2, 2, 1]:\n");
    const float m[] = {1, 0, 0, 1, 1, 1};
    cnnc_tensor *mm = NN(cnnc_from_data(CNNC_SHAPE(3, 2), CNNC_FLOAT32, m));
    show("m", mm);
    show("a @ m", NN(cnnc_matmul(a, mm)));
    cnnc_tensor *batch = NN(cnnc_reshape(NN(cnnc_arange(0, 12, 1, CNNC_FLOAT32)),
                                         CNNC_SHAPE(2, 2, 3)));
    cnnc_tensor *col = NN(cnnc_ones(CNNC_SHAPE(3, 1), CNNC_FLOAT32));
    cnnc_tensor *bm = NN(cnnc_matmul(batch, col));
    show("batch", batch);
    show("batch @ ones(3, 1)", bm);
    show_shape("(batch @ ones(3, 1))", bm);

    say("\nBad input is an error with PyTorch's message, never a crash:\n");
    say("  a @ a  (shapes [2, 3] and [2, 3])\n");
    EXPECT_NULL(cnnc_matmul(a, a));
    say("  a.view(4, 2)\n");
    EXPECT_NULL(cnnc_view(a, CNNC_SHAPE(4, 2)));
}

static void demo_autograd(void)
{
    say("Tensors that require grad record the ops applied to them; backward() walks\n"
        "that graph in reverse and accumulates d(output)/d(leaf) into each leaf's .grad.\n");
    const float xv[] = {1, 2, 3}, wv[] = {0.5f, -1, 2};
    cnnc_tensor *x = NN(cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, xv));
    cnnc_tensor *w = NN(cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, wv));
    OK(cnnc_tensor_set_requires_grad(x, true));
    OK(cnnc_tensor_set_requires_grad(w, true));
    show("x", x);
    show("w", w);

    say("\nz = (x * x + w * x).sum():\n");
    cnnc_tensor *xx = NN(cnnc_mul(x, x));
    cnnc_tensor *wx = NN(cnnc_mul(w, x));
    cnnc_tensor *y = NN(cnnc_add(xx, wx));
    cnnc_tensor *z = NN(cnnc_sum(y));
    show("y = x * x + w * x", y);
    show("z", z);
    say("  x.is_leaf = %s, y.is_leaf = %s, y.grad_fn = %s, z.grad_fn = %s\n",
        yes_no(cnnc_tensor_is_leaf(x)), yes_no(cnnc_tensor_is_leaf(y)), grad_fn(y), grad_fn(z));

    say("\nz.backward():\n");
    OK(cnnc_backward(z, NULL, false));
    show("x.grad", NN(cnnc_tensor_grad(x)));
    show("w.grad", NN(cnnc_tensor_grad(w)));
    say("  dz/dx = 2x + w = [2*1+0.5, 2*2-1, 2*3+2] = [2.5, 3, 8]: x is used twice in\n"
        "  x * x and once in w * x, and the three contributions add up.\n"
        "  dz/dw = x = [1, 2, 3].\n");

    say("\nThe graph is freed by backward (unless retain_graph), so a second z.backward()\n"
        "is an error:\n");
    EXPECT_FAIL(cnnc_backward(z, NULL, false));

    say("\nA non-scalar output needs an explicit gradient:\n");
    say("  y.backward()\n");
    EXPECT_FAIL(cnnc_backward(NN(cnnc_mul(x, w)), NULL, false));

    say("\nGradients accumulate: a new forward and backward adds to .grad.\n");
    OK(cnnc_backward(NN(cnnc_sum(NN(cnnc_add(NN(cnnc_mul(x, x)), NN(cnnc_mul(w, x)))))), NULL,
                     false));
    show("x.grad", NN(cnnc_tensor_grad(x)));
    show("w.grad", NN(cnnc_tensor_grad(w)));
    say("  so a training loop zeroes them between steps:\n");
    OK(cnnc_tensor_zero_(NN(cnnc_tensor_grad(x))));
    OK(cnnc_tensor_set_grad(w, NULL));
    show("x.grad after x.grad.zero_()", NN(cnnc_tensor_grad(x)));
    say("  after w.grad = None, w.grad is %s\n", cnnc_tensor_grad(w) ? "a tensor" : "None");

    say("\nWith a gradient argument, backward computes a vector-Jacobian product:\n");
    const float gv[] = {1, 10, 100};
    cnnc_tensor *v = NN(cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, gv));
    OK(cnnc_backward(NN(cnnc_mul(x, w)), v, false));
    say("  (x * w).backward(v) with v = [1, 10, 100]: x.grad += v * w\n");
    show("x.grad", NN(cnnc_tensor_grad(x)));

    say("\nno_grad: with grad mode off nothing is recorded.\n");
    bool old = cnnc_set_grad_enabled(false);
    cnnc_tensor *n = NN(cnnc_mul_scalar(x, 2.0));
    say("  with torch.no_grad(): n = x * 2  ->  n.requires_grad = %s, n.grad_fn = %s\n",
        yes_no(cnnc_tensor_requires_grad(n)), grad_fn(n));
    cnnc_set_grad_enabled(old);
    cnnc_tensor *g = NN(cnnc_mul_scalar(x, 2.0));
    say("  outside it:           g = x * 2  ->  g.requires_grad = %s, g.grad_fn = %s\n",
        yes_no(cnnc_tensor_requires_grad(g)), grad_fn(g));
    cnnc_tensor *d = NN(cnnc_tensor_detach(g));
    say("  g.detach()                       ->  requires_grad = %s, shares g's storage\n",
        yes_no(cnnc_tensor_requires_grad(d)));

    say("\nIn-place changes to a leaf that requires grad are refused while grad mode is on:\n");
    say("  x.fill_(0)\n");
    EXPECT_FAIL(cnnc_tensor_fill_(x, 0.0));
}

static void demo_relu(void)
{
    const float v[] = {-2, -1, 0, 1, 2};
    cnnc_tensor *x = NN(cnnc_from_data(CNNC_SHAPE(5), CNNC_FLOAT32, v));
    show("x", x);

    say("\nFunctional: F.relu(x) returns a new tensor, F.relu_(x) changes x in place:\n");
    show("F.relu(x)", NN(cnnc_relu(x)));
    cnnc_tensor *x2 = NN(cnnc_tensor_clone(x));
    OK(cnnc_relu_(x2));
    show("x2 = x.clone(); F.relu_(x2); x2", x2);

    say("\nModule: nn.ReLU() and nn.ReLU(inplace=True):\n");
    cnnc_module *relu = NN(cnnc_relu_new(CNNC_RELU()));
    cnnc_module *relu_inplace = NN(cnnc_relu_new(CNNC_RELU(.inplace = true)));
    show_module(relu);
    show_module(relu_inplace);
    show("ReLU()(x)", NN(cnnc_module_forward(relu, x)));
    show("x (unchanged)", x);
    cnnc_tensor *x3 = NN(cnnc_tensor_clone(x));
    cnnc_tensor *out = NN(cnnc_module_forward(relu_inplace, x3));
    show("ReLU(inplace=True)(x3)", out);
    show("x3 (changed in place)", x3);

    say("\nGradient: 1 where x > 0, else 0 (PyTorch's choice at exactly 0 too):\n");
    cnnc_tensor *xg = NN(cnnc_from_data(CNNC_SHAPE(5), CNNC_FLOAT32, v));
    OK(cnnc_tensor_set_requires_grad(xg, true));
    cnnc_tensor *r = NN(cnnc_relu(xg));
    say("  F.relu(x).grad_fn = %s\n", grad_fn(r));
    OK(cnnc_backward(NN(cnnc_sum(r)), NULL, false));
    show("x.grad", NN(cnnc_tensor_grad(xg)));

    cnnc_module_release(relu);
    cnnc_module_release(relu_inplace);
}

static void demo_linear(void)
{
    say("nn.Linear(4, 3): y = x W^T + b, W is [out_features, in_features], initialised\n"
        "U(-1/sqrt(in), 1/sqrt(in)) like PyTorch (from cnnc_manual_seed(0)):\n");
    cnnc_module *lin = NN(cnnc_linear_new(4, 3, CNNC_LINEAR()));
    show_module(lin);
    cnnc_tensor *w = NULL, *b = NULL;
    OK(cnnc_module_tensor(lin, "weight", &w));
    OK(cnnc_module_tensor(lin, "bias", &b));
    NN(w);
    NN(b);
    show_shape("weight", w);
    show_shape("bias", b);
    show("weight", w);
    show("bias", b);
    say("  weight.requires_grad = %s (a parameter)\n", yes_no(cnnc_tensor_requires_grad(w)));

    cnnc_value in = {0}, out = {0};
    OK(cnnc_module_attr(lin, "in_features", &in));
    OK(cnnc_module_attr(lin, "out_features", &out));
    say("  in_features = %" PRId64 ", out_features = %" PRId64 "\n", in.ints[0], out.ints[0]);

    say("\nForward of a batch of 2: [2, 4] -> [2, 3]:\n");
    const float xv[] = {1, 0, 0, 0, 0, 1, 2, 3};
    cnnc_tensor *x = NN(cnnc_from_data(CNNC_SHAPE(2, 4), CNNC_FLOAT32, xv));
    show("x", x);
    cnnc_tensor *y = NN(cnnc_module_forward(lin, x));
    show_shape("y", y);
    show("y = linear(x)", y);
    say("  row 0 is weight[:, 0] + bias, since x[0] = [1, 0, 0, 0].\n");
    show("F.linear(x, weight, bias)", NN(cnnc_linear(x, w, b)));

    say("\nA batch can have any leading dims: [2, 5, 4] -> [2, 5, 3]:\n");
    show_shape("linear(randn(2, 5, 4))",
               NN(cnnc_module_forward(lin, NN(cnnc_randn(CNNC_SHAPE(2, 5, 4))))));

    say("\nnn.Linear(4, 3, bias=False) has bias None:\n");
    cnnc_module *nobias = NN(cnnc_linear_new(4, 3, CNNC_LINEAR(.bias = false)));
    show_module(nobias);
    cnnc_tensor *nb = w;
    OK(cnnc_module_tensor(nobias, "bias", &nb));
    say("  bias = %s\n", nb ? "a tensor" : "None");

    say("\nThe wrong number of input features is an error:\n");
    say("  linear(ones(2, 5))\n");
    EXPECT_NULL(cnnc_module_forward(lin, NN(cnnc_ones(CNNC_SHAPE(2, 5), CNNC_FLOAT32))));

    cnnc_module_release(nobias);
    cnnc_module_release(lin);
}

/* Sequential(Linear(4, 8), ReLU(), Linear(8, 2)), as `net` in demo_sequential. */
static cnnc_module *small_mlp(int64_t in, int64_t hidden, int64_t out)
{
    cnnc_module *layers[] = {
        NN(cnnc_linear_new(in, hidden, CNNC_LINEAR())),
        NN(cnnc_relu_new(CNNC_RELU())),
        NN(cnnc_linear_new(hidden, out, CNNC_LINEAR())),
    };
    return NN(cnnc_sequential_new((int)ARRAY_LEN(layers), layers));
}

static void print_training_flags(const cnnc_module *net)
{
    say("  net.training = %s;", yes_no(cnnc_module_is_training(net)));
    size_t n = cnnc_module_num_children(net);
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        cnnc_module *c = NN(cnnc_module_child(net, i, &name));
        say(" %s: %s", name, yes_no(cnnc_module_is_training(c)));
    }
    say("\n");
}

static void demo_sequential(void)
{
    say("nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)); print(net):\n");
    cnnc_module *net = small_mlp(4, 8, 2);
    show_module(net);

    say("\nnet.named_parameters():\n");
    cnnc_tensor_list *params = NN(cnnc_module_named_parameters(net));
    int64_t count = 0;
    for (size_t i = 0; i < cnnc_tensor_list_size(params); i++) {
        cnnc_tensor *p = NN(cnnc_tensor_list_get(params, i));
        char *shape = NN(cnnc_tensor_shape_string(p));
        say("  %-10s %-8s requires_grad=%s\n", cnnc_tensor_list_name(params, i), shape,
            yes_no(cnnc_tensor_requires_grad(p)));
        cnnc_free(shape);
        count += cnnc_tensor_numel(p);
    }
    say("  %zu tensors, %" PRId64 " parameters (4*8 + 8 + 8*2 + 2 = 58)\n",
        cnnc_tensor_list_size(params), count);
    cnnc_tensor_list_free(params);

    say("\nChildren are named \"0\", \"1\", \"2\"; a parameter is reached by its dotted name:\n");
    for (size_t i = 0; i < cnnc_module_num_children(net); i++) {
        const char *name = NULL;
        cnnc_module *c = NN(cnnc_module_child(net, i, &name));
        say("  net[%s] is %s\n", name, cnnc_module_type(c));
    }
    cnnc_tensor *w2 = NULL;
    OK(cnnc_module_tensor(net, "2.weight", &w2));
    show_shape("net.get_parameter(\"2.weight\")", NN(w2));

    say("\ntrain() and eval() set the flag on the module and all its children:\n");
    print_training_flags(net);
    cnnc_module_eval(net);
    say("  net.eval()\n");
    print_training_flags(net);
    cnnc_module_train(net, true);
    say("  net.train()\n");
    print_training_flags(net);

    say("\nThe module listing (cnnc_module_vars: flag, parameters, buffers, settings):\n");
    show_vars(net);
    const char *first_name = NULL;
    cnnc_module *first = NN(cnnc_module_child(net, 0, &first_name));
    say("and of its first child, net[%s]:\n", first_name);
    show_vars(first);

    say("\nnet.state_dict() keys (the same keys PyTorch saves):\n");
    cnnc_tensor_list *sd = NN(cnnc_module_state_dict(net));
    for (size_t i = 0; i < cnnc_tensor_list_size(sd); i++) {
        char *shape = NN(cnnc_tensor_shape_string(NN(cnnc_tensor_list_get(sd, i))));
        say("  %-10s %s\n", cnnc_tensor_list_name(sd, i), shape);
        cnnc_free(shape);
    }
    cnnc_tensor_list_free(sd);

    say("\nForward of a batch of 3: [3, 4] -> [3, 2]:\n");
    cnnc_tensor *y = NN(cnnc_module_forward(net, NN(cnnc_randn(CNNC_SHAPE(3, 4)))));
    show("net(randn(3, 4))", y);
    cnnc_module_release(net);
}

/* y = |x0| - 0.5 x1 + 0.25, a target a line cannot fit but a ReLU network can. */
static float target_fn(float x0, float x1)
{
    return (x0 < 0 ? -x0 : x0) - 0.5f * x1 + 0.25f;
}

static void demo_training(void)
{
    enum { N = 64, STEPS = 300, PRINT_EVERY = 30 };
    const float lr = 0.2f;
    say("Fit y = |x0| - 0.5*x1 + 0.25 on %d points in [-1, 1]^2 with\n"
        "Sequential(Linear(2, 16), ReLU(), Linear(16, 1)), MSE loss and plain SGD\n"
        "(lr %.1f) written by hand: under no_grad, p -= lr * p.grad through\n"
        "cnnc_tensor_data_f32, then zero_grad(). Each step runs in its own scope, so\n"
        "the step's tensors are released together at its end. (PyTorch, started from\n"
        "the same weights and points, prints the same losses.)\n\n",
        N, (double)lr);
    cnnc_tensor *x = NN(cnnc_add_scalar(NN(cnnc_mul_scalar(NN(cnnc_rand(CNNC_SHAPE(N, 2))), 2.0)),
                                        -1.0));
    const float *xd = NN(cnnc_tensor_data_f32(x));
    float yv[N];
    for (int i = 0; i < N; i++)
        yv[i] = target_fn(xd[2 * i], xd[2 * i + 1]);
    cnnc_tensor *y = NN(cnnc_from_data(CNNC_SHAPE(N, 1), CNNC_FLOAT32, yv));

    cnnc_module *net = small_mlp(2, 16, 1);
    cnnc_tensor_list *params = NN(cnnc_module_named_parameters(net));
    double first = 0.0, last = 0.0;
    for (int step = 0; step <= STEPS; step++) {
        OK(cnnc_scope_begin());
        cnnc_tensor *pred = NN(cnnc_module_forward(net, x));
        cnnc_tensor *diff = NN(cnnc_sub(pred, y));
        cnnc_tensor *loss = NN(cnnc_mean(NN(cnnc_mul(diff, diff))));
        last = item(loss);
        if (step == 0)
            first = last;
        if (step % PRINT_EVERY == 0)
            say("  step %3d  loss %.6f\n", step, last);
        if (step < STEPS) {
            OK(cnnc_backward(loss, NULL, false));
            bool old = cnnc_set_grad_enabled(false);
            for (size_t i = 0; i < cnnc_tensor_list_size(params); i++) {
                cnnc_tensor *p = NN(cnnc_tensor_list_get(params, i));
                float *pd = NN(cnnc_tensor_data_f32(p));
                const float *gd = NN(cnnc_tensor_data_f32(NN(cnnc_tensor_grad(p))));
                for (int64_t j = 0, n = cnnc_tensor_numel(p); j < n; j++)
                    pd[j] -= lr * gd[j];
            }
            cnnc_set_grad_enabled(old);
            cnnc_module_zero_grad(net, false);
        }
        OK(cnnc_scope_end());
    }
    say("  loss went from %.6f to %.6f\n", first, last);
    if (!(last < first)) {
        fprintf(stderr, "cnnc: the training loss did not go down\n");
        exit(1);
    }

    say("\nThe fitted network in eval mode, on a few points:\n");
    cnnc_module_eval(net);
    const float probe[] = {-1.0f, 0.0f, 0.0f, 0.0f, 0.5f, 0.5f, 1.0f, -1.0f};
    cnnc_tensor *px = NN(cnnc_from_data(CNNC_SHAPE(4, 2), CNNC_FLOAT32, probe));
    bool old = cnnc_set_grad_enabled(false);
    cnnc_tensor *py = NN(cnnc_module_forward(net, px));
    cnnc_set_grad_enabled(old);
    const float *pyd = NN(cnnc_tensor_data_f32(py));
    for (int i = 0; i < 4; i++)
        say("  x = (%5.2f, %5.2f)  net(x) = %7.4f  target %7.4f\n", (double)probe[2 * i],
            (double)probe[2 * i + 1], (double)pyd[i],
            (double)target_fn(probe[2 * i], probe[2 * i + 1]));
    cnnc_tensor_list_free(params);
    cnnc_module_release(net);
}

typedef struct demo_section {
    const char *name;
    const char *title;
    void (*run)(void);
} demo_section;

/* The tour, in order. Add a section here (convolution, pooling, normalization...). */
static const demo_section demo_sections[] = {
    {"tensors", "Tensors: creation, shapes, printing, 0-d, reshape, broadcasting, matmul",
     demo_tensors},
    {"autograd", "Autograd: requires_grad, backward, accumulation, zero_grad, no_grad",
     demo_autograd},
    {"relu", "ReLU: functional, in place, and as a module", demo_relu},
    {"linear", "Linear: parameters, their shapes, forward of a batch", demo_linear},
    {"sequential", "Sequential: print(net), named parameters, train/eval, state_dict",
     demo_sequential},
    {"training", "Training: a small regression fitted with SGD", demo_training},
    {"convolution", "Convolution: Conv2d, F.conv2d, output shapes, groups, transposed",
     demo_conv},
    {"pooling", "Pooling: max, average, adaptive, indices and unpooling", demo_pool},
    {"resample", "Upsampling and padding: F.interpolate in every mode, F.pad", demo_resample},
    {"activations", "Activations, softmax and dropout", demo_activation},
    {"norm", "Normalization: BatchNorm running stats, the module listing, "
             "LayerNorm/InstanceNorm means, train vs eval", demo_norm},
    {"train-cnn", "Training a CNN: synthetic shapes, Adam, cross-entropy, to 95% test accuracy",
     demo_train_cnn},
};

static void run_section(size_t index)
{
    const demo_section *s = &demo_sections[index];
    say("== %zu. %s\n\n", index + 1, s->title);
    cnnc_manual_seed(0); /* each section is reproducible on its own */
    OK(cnnc_scope_begin());
    s->run();
    OK(cnnc_scope_end());
    say("\n");
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

static int cmd_help(int argc, char **argv);

static int cmd_demo(int argc, char **argv)
{
    bool selected[ARRAY_LEN(demo_sections)] = {false};
    bool any = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--list")) {
            for (size_t k = 0; k < ARRAY_LEN(demo_sections); k++)
                printf("%-12s %s\n", demo_sections[k].name, demo_sections[k].title);
            return 0;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return cmd_help(2, (char *[]){"help", "demo", NULL});
        size_t k = 0;
        while (k < ARRAY_LEN(demo_sections) && strcmp(argv[i], demo_sections[k].name))
            k++;
        if (k == ARRAY_LEN(demo_sections)) {
            fprintf(stderr, "cnnc demo: unknown section '%s' (cnnc demo --list shows them)\n",
                    argv[i]);
            return 2;
        }
        selected[k] = any = true;
    }
    say("cnnc %s: PyTorch's CNN layers in C11. A guided tour; each line shows the\n"
        "PyTorch spelling of what the C code does (see tools/cnnc.c for the C).\n\n",
        cnnc_version());
    for (size_t k = 0; k < ARRAY_LEN(demo_sections); k++)
        if (!any || selected[k])
            run_section(k);
    say("Done.\n");
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "cnnc version: takes no arguments\n");
        return 2;
    }
    printf("cnnc %s (library), header %s, %d threads\n", cnnc_version(), CNNC_VERSION_STRING,
           cnnc_get_num_threads());
    return 0;
}

typedef struct command {
    const char *name;
    const char *args;
    const char *summary;
    const char *details;
    int (*run)(int argc, char **argv);
} command;

/* Subcommands: add a row (train, convert, ...). */
static const command commands[] = {
    {"demo", "[--list] [SECTION...]", "a guided tour of the library, printing each step",
     "Runs every section of the tour in order, or only the named SECTIONs.\n"
     "--list prints the section names. The output is reproducible (fixed seed).\n",
     cmd_demo},
    {"run", "MODEL (--input X.npy | --image FILE) [options]", "run a model file on an array or an image",
     "Loads MODEL (a cnnc model file, e.g. written by python3 -m cnnc.export) and runs it in eval\n"
     "mode (--train: training mode) without gradients, on:\n"
     "  --input X.npy        a float32/float64 NumPy array of the model's input shape, or\n"
     "  --image FILE         a PNG/JPEG/BMP image as [1, 3, H, W] in [0, 1], then\n"
     "    --size N | H,W     resized (bilinear; antialiased when shrinking),\n"
     "    --mean R,G,B       minus mean and\n"
     "    --std R,G,B        over std (ImageNet: --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225).\n"
     "It prints the output's shape and then the output itself, or with\n"
     "  --output Y.npy       writes it as .npy;\n"
     "  --top K [--labels F] prints each row's K most likely classes (softmax), named by\n"
     "                       line of F (one label per line) when given.\n",
     cmd_run},
    {"info", "FILE", "list a safetensors file's tensors and metadata, and describe a model",
     "Prints each tensor (name, dtype as loaded, shape) and the metadata; for a cnnc model\n"
     "file also print(model), the parameter count and the multiply-accumulates of one\n"
     "forward on the input shape the exporter recorded.\n",
     cmd_info},
    {"train", cmd_train_args, "train a CNN (lenet, cnn-small, resnet-small) on images",
     cmd_train_details, cmd_train},
    {"eval", cmd_eval_args, "evaluate a trained model on a test set", cmd_eval_details,
     cmd_eval},
    {"version", "", "print the library version",
     "Prints the linked library's version, the header's, and the thread count.\n",
     cmd_version},
    {"help", "[COMMAND]", "show this help, or a command's", "", cmd_help},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: cnnc <command> [arguments]\n\n"
                 "cnnc %s: PyTorch's convolutional-network building blocks in C11.\n\n"
                 "commands:\n",
            cnnc_version());
    for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
        char head[64];
        snprintf(head, sizeof head, "%s%s%s", commands[i].name, *commands[i].args ? " " : "",
                 commands[i].args);
        fprintf(out, "  %-30s %s\n", head, commands[i].summary);
    }
    fprintf(out, "\n'cnnc help COMMAND' describes one command; 'cnnc demo --list' lists the "
                 "tour's sections.\n");
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    if (argc > 2) {
        fprintf(stderr, "cnnc help: takes at most one command name\n");
        return 2;
    }
    const command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "cnnc help: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    printf("usage: cnnc %s%s%s\n\n%s.\n", c->name, *c->args ? " " : "", c->args, c->summary);
    if (*c->details)
        printf("\n%s", c->details);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h"))
        name = "help";
    else if (!strcmp(name, "--version"))
        name = "version";
    const command *c = find_command(name);
    if (!c) {
        fprintf(stderr, "cnnc: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return c->run(argc - 1, argv + 1);
}
