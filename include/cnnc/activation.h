/* cnnc public API: the activation op family (pointwise activations, PReLU,
 * softmax / log_softmax, dropout). Included by cnnc.h; include <cnnc.h>, not this.
 *
 *     cnnc_tensor *y = cnnc_leaky_relu(x, CNNC_LEAKY_RELU(.negative_slope = 0.2));
 *     cnnc_tensor *p = cnnc_softmax(logits, CNNC_SOFTMAX(.dim = CNNC_INTS(-1)));
 *     cnnc_tensor *d = cnnc_dropout(h, CNNC_DROPOUT(.p = 0.1));  // training=True
 *     cnnc_module *act = cnnc_gelu_new(CNNC_GELU(.approximate = "tanh"));
 *
 * Common rules
 * - Inputs are float32 tensors of any shape (0-d and empty included); NULL or
 *   another dtype is an error naming the function and argument.
 * - Functionals return a new reference. With `.inplace = true` (PyTorch's
 *   inplace=True) the op overwrites x and returns a new reference to x itself.
 *   In-place forms (also the cnnc_<op>_ functions, returning a status) bump x's
 *   version, are refused on a leaf that requires grad, and are differentiable on
 *   other tensors: as PyTorch, leaky_relu and elu/selu/celu save the result
 *   (so changing it again in place makes backward fail), and hardtanh/relu6,
 *   silu, mish, hardsigmoid and hardswish save a copy of the input taken before
 *   it is overwritten. As PyTorch, backward through an in-place leaky_relu with a
 *   negative slope, or an in-place elu/celu with a negative alpha, is an error.
 * - Module constructors return a new module (release with cnnc_module_release);
 *   its settings read back as PyTorch's attributes (cnnc_module_attr) and
 *   cnnc_module_repr prints PyTorch's text. A module built with inplace returns
 *   a new reference to its (modified) input from cnnc_module_forward.
 * - NaN: results follow PyTorch's vectorized CPU loops (e.g. the gradient of
 *   hardtanh at NaN is 0, of elu and hardswish NaN).
 */
#ifndef CNNC_ACTIVATION_H
#define CNNC_ACTIVATION_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* ---- pointwise activations -------------------------------------------------- */

/* F.relu6(input, inplace=False) = hardtanh(input, 0, 6): the gradient is passed
 * only where 0 < x < 6. nn.ReLU6(inplace=False). */
typedef struct cnnc_relu6_options {
    bool inplace;
} cnnc_relu6_options;
#define CNNC_RELU6(...) ((cnnc_relu6_options){.inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_relu6(cnnc_tensor *x, cnnc_relu6_options options);
CNNC_API cnnc_module *cnnc_relu6_new(cnnc_relu6_options options);

/* F.hardtanh(input, min_val=-1., max_val=1., inplace=False) = clamp(x, min, max)
 * (min > max gives max everywhere, as PyTorch); gradient passed where
 * min < x < max. F.hardtanh_ is the in-place form. nn.Hardtanh(min_val, max_val,
 * inplace) additionally requires max_val > min_val (PyTorch asserts it). */
typedef struct cnnc_hardtanh_options {
    double min_val;
    double max_val;
    bool inplace;
} cnnc_hardtanh_options;
#define CNNC_HARDTANH(...) \
    ((cnnc_hardtanh_options){.min_val = -1.0, .max_val = 1.0, .inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_hardtanh(cnnc_tensor *x, cnnc_hardtanh_options options);
CNNC_API cnnc_status cnnc_hardtanh_(cnnc_tensor *x, cnnc_hardtanh_options options);
CNNC_API cnnc_module *cnnc_hardtanh_new(cnnc_hardtanh_options options);

/* F.leaky_relu(input, negative_slope=0.01, inplace=False): x > 0 ? x : slope * x
 * (the gradient at 0 is the slope). F.leaky_relu_ in place. nn.LeakyReLU. */
typedef struct cnnc_leaky_relu_options {
    double negative_slope;
    bool inplace;
} cnnc_leaky_relu_options;
#define CNNC_LEAKY_RELU(...) \
    ((cnnc_leaky_relu_options){.negative_slope = 0.01, .inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_leaky_relu(cnnc_tensor *x, cnnc_leaky_relu_options options);
CNNC_API cnnc_status cnnc_leaky_relu_(cnnc_tensor *x, cnnc_leaky_relu_options options);
CNNC_API cnnc_module *cnnc_leakyrelu_new(cnnc_leaky_relu_options options);

/* F.elu(input, alpha=1.0, inplace=False): x > 0 ? x : alpha (e^x - 1). F.elu_ in
 * place. nn.ELU. */
typedef struct cnnc_elu_options {
    double alpha;
    bool inplace;
} cnnc_elu_options;
#define CNNC_ELU(...) ((cnnc_elu_options){.alpha = 1.0, .inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_elu(cnnc_tensor *x, cnnc_elu_options options);
CNNC_API cnnc_status cnnc_elu_(cnnc_tensor *x, cnnc_elu_options options);
CNNC_API cnnc_module *cnnc_elu_new(cnnc_elu_options options);

/* F.selu(input, inplace=False): scale * elu(x, alpha) with PyTorch's constants.
 * F.selu_ in place. nn.SELU. */
typedef struct cnnc_selu_options {
    bool inplace;
} cnnc_selu_options;
#define CNNC_SELU(...) ((cnnc_selu_options){.inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_selu(cnnc_tensor *x, cnnc_selu_options options);
CNNC_API cnnc_status cnnc_selu_(cnnc_tensor *x);
CNNC_API cnnc_module *cnnc_selu_new(cnnc_selu_options options);

/* F.celu(input, alpha=1.0, inplace=False): x > 0 ? x : alpha (e^{x/alpha} - 1);
 * alpha 0 is an error ("ZeroDivisionError: alpha cannot be 0 for CELU", raised by
 * the call, also for the module's forward). F.celu_ in place. nn.CELU. */
typedef struct cnnc_celu_options {
    double alpha;
    bool inplace;
} cnnc_celu_options;
#define CNNC_CELU(...) ((cnnc_celu_options){.alpha = 1.0, .inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_celu(cnnc_tensor *x, cnnc_celu_options options);
CNNC_API cnnc_status cnnc_celu_(cnnc_tensor *x, cnnc_celu_options options);
CNNC_API cnnc_module *cnnc_celu_new(cnnc_celu_options options);

/* F.gelu(input, approximate='none'): x Phi(x) with erf ("none") or PyTorch's tanh
 * formula ("tanh"); any other string (or NULL) is an error ("approximate argument
 * must be either none or tanh."). nn.GELU(approximate) checks it when built. */
typedef struct cnnc_gelu_options {
    const char *approximate;
} cnnc_gelu_options;
#define CNNC_GELU(...) ((cnnc_gelu_options){.approximate = "none", __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_gelu(cnnc_tensor *x, cnnc_gelu_options options);
CNNC_API cnnc_module *cnnc_gelu_new(cnnc_gelu_options options);

/* F.silu(input, inplace=False) = x sigmoid(x); nn.SiLU. */
typedef struct cnnc_silu_options {
    bool inplace;
} cnnc_silu_options;
#define CNNC_SILU(...) ((cnnc_silu_options){.inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_silu(cnnc_tensor *x, cnnc_silu_options options);
CNNC_API cnnc_module *cnnc_silu_new(cnnc_silu_options options);

/* F.mish(input, inplace=False) = x tanh(softplus(x)); nn.Mish. */
typedef struct cnnc_mish_options {
    bool inplace;
} cnnc_mish_options;
#define CNNC_MISH(...) ((cnnc_mish_options){.inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_mish(cnnc_tensor *x, cnnc_mish_options options);
CNNC_API cnnc_module *cnnc_mish_new(cnnc_mish_options options);

/* torch.sigmoid / torch.tanh (backward from the result); nn.Sigmoid, nn.Tanh. */
CNNC_API cnnc_tensor *cnnc_sigmoid(cnnc_tensor *x);
CNNC_API cnnc_tensor *cnnc_tanh(cnnc_tensor *x);
CNNC_API cnnc_module *cnnc_sigmoid_new(void);
CNNC_API cnnc_module *cnnc_tanh_new(void);

/* F.hardsigmoid(input, inplace=False) = relu6(x + 3) / 6, gradient 1/6 where
 * -3 < x < 3; nn.Hardsigmoid. */
typedef struct cnnc_hardsigmoid_options {
    bool inplace;
} cnnc_hardsigmoid_options;
#define CNNC_HARDSIGMOID(...) ((cnnc_hardsigmoid_options){.inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_hardsigmoid(cnnc_tensor *x, cnnc_hardsigmoid_options options);
CNNC_API cnnc_module *cnnc_hardsigmoid_new(cnnc_hardsigmoid_options options);

/* F.hardswish(input, inplace=False) = x relu6(x + 3) / 6; gradient 0 below -3,
 * x/3 + 1/2 on [-3, 3), 1 from 3 on; nn.Hardswish. */
typedef struct cnnc_hardswish_options {
    bool inplace;
} cnnc_hardswish_options;
#define CNNC_HARDSWISH(...) ((cnnc_hardswish_options){.inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_hardswish(cnnc_tensor *x, cnnc_hardswish_options options);
CNNC_API cnnc_module *cnnc_hardswish_new(cnnc_hardswish_options options);

/* F.softplus(input, beta=1, threshold=20): x where x * beta > threshold, else
 * log(1 + e^{beta x}) / beta. nn.Softplus(beta, threshold). */
typedef struct cnnc_softplus_options {
    double beta;
    double threshold;
} cnnc_softplus_options;
#define CNNC_SOFTPLUS(...) ((cnnc_softplus_options){.beta = 1.0, .threshold = 20.0, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_softplus(cnnc_tensor *x, cnnc_softplus_options options);
CNNC_API cnnc_module *cnnc_softplus_new(cnnc_softplus_options options);

/* F.prelu(input, weight): x > 0 ? x : w * x, weight 0-d or 1-d with 1 element
 * (shared) or input.size(1) elements (per channel on dim 1; a 0-d or 1-d input
 * has 1 channel). Errors with PyTorch's messages. Both input and weight get
 * gradients. nn.PReLU(num_parameters=1, init=0.25): weight [num_parameters]
 * filled with init. */
CNNC_API cnnc_tensor *cnnc_prelu(cnnc_tensor *x, cnnc_tensor *weight);
typedef struct cnnc_prelu_options {
    int64_t num_parameters;
    double init;
} cnnc_prelu_options;
#define CNNC_PRELU(...) ((cnnc_prelu_options){.num_parameters = 1, .init = 0.25, __VA_ARGS__})
CNNC_API cnnc_module *cnnc_prelu_new(cnnc_prelu_options options);

/* ---- softmax ------------------------------------------------------------------ */

/* F.softmax(input, dim=None) / F.log_softmax(input, dim=None) over one dim (any
 * rank, negative dims allowed, 0-d as a 1-element dim). .dim is PyTorch's
 * `int | None`: CNNC_INTS(d), or left out for None, which picks PyTorch's legacy
 * implicit dim (0 for 0-d, 1-d and 3-d inputs, else 1); a tuple (CNNC_TUPLE(d) too) is an
 * error. Numerically stable (the max is subtracted, sums in double). nn.Softmax /
 * nn.LogSoftmax(dim=None). */
typedef struct cnnc_softmax_options {
    cnnc_ints dim;
} cnnc_softmax_options;
#define CNNC_SOFTMAX(...) ((cnnc_softmax_options){.dim = CNNC_INTS_NONE, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_softmax(cnnc_tensor *x, cnnc_softmax_options options);
CNNC_API cnnc_tensor *cnnc_log_softmax(cnnc_tensor *x, cnnc_softmax_options options);
CNNC_API cnnc_module *cnnc_softmax_new(cnnc_softmax_options options);
CNNC_API cnnc_module *cnnc_logsoftmax_new(cnnc_softmax_options options);

/* ---- dropout ------------------------------------------------------------------ */

/* F.dropout(input, p=0.5, training=True, inplace=False): in training, zeroes each
 * element with probability p and scales the others by 1/(1-p) (output = x * mask,
 * so NaN/inf inputs give NaN where dropped, as PyTorch). p must be in [0, 1]
 * ("dropout probability has to be between 0 and 1, but got 1.5"). p == 0, eval
 * (training false) or an empty input return x itself (a new reference, nothing
 * drawn); p == 1 gives x * 0. Masks come from cnnc's default generator
 * (cnnc_manual_seed makes them reproducible, whatever the thread count).
 * F.dropout2d: one draw per (n, c) of an input with >= 2 dims (a 3-d input is
 * [N, C, L], as PyTorch 1.13). F.dropout3d: per (n, c) of a 5-d input; other
 * inputs are taken as unbatched, one draw per index of dim 0 (PyTorch's
 * unsqueeze(0)). Fewer dims: "Feature dropout requires at least 2 dimensions in
 * the input". nn.Dropout/Dropout2d/Dropout3d(p=0.5, inplace=False) take the same
 * options (.training is ignored: the module's train/eval mode decides). */
typedef struct cnnc_dropout_options {
    double p;
    bool training;
    bool inplace;
} cnnc_dropout_options;
#define CNNC_DROPOUT(...) \
    ((cnnc_dropout_options){.p = 0.5, .training = true, .inplace = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_dropout(cnnc_tensor *x, cnnc_dropout_options options);
CNNC_API cnnc_tensor *cnnc_dropout2d(cnnc_tensor *x, cnnc_dropout_options options);
CNNC_API cnnc_tensor *cnnc_dropout3d(cnnc_tensor *x, cnnc_dropout_options options);
CNNC_API cnnc_module *cnnc_dropout_new(cnnc_dropout_options options);
CNNC_API cnnc_module *cnnc_dropout2d_new(cnnc_dropout_options options);
CNNC_API cnnc_module *cnnc_dropout3d_new(cnnc_dropout_options options);

/* torchvision.ops.stochastic_depth(input, p, mode, training): in training, x times
 * a noise of shape [N, 1, ...] (mode "row") or [1, ...] ("batch") whose entries are
 * 1 / (1 - p) with probability 1 - p and 0 otherwise; the input itself (a new
 * reference) when not training or p == 0. p in [0, 1]. Differentiable. */
CNNC_API cnnc_tensor *cnnc_stochastic_depth(cnnc_tensor *input, double p, const char *mode,
                                            bool training);
/* torchvision.ops.StochasticDepth(p, mode): the same, in training mode only. */
CNNC_API cnnc_module *cnnc_stochasticdepth_new(double p, const char *mode);

#ifdef __cplusplus
}
#endif
#endif
