/* Internal: the activation family's ops (activations, softmax, prelu, dropout) as
 * library code calls them: validated, recorded for autograd, new references NOT
 * given to a scope. relu/relu_ stay declared in ops/ops.h. With .inplace set in
 * the options, an op modifies x and returns a new reference to x. */
#ifndef CNNC_OPS_ACTIVATION_H
#define CNNC_OPS_ACTIVATION_H
#include "core/autograd.h"
#include "kernels/activation.h"
#include "kernels/elementwise.h"

cnnc_tensor *cnnc__op_relu6(cnnc_tensor *x, cnnc_relu6_options o);
cnnc_tensor *cnnc__op_hardtanh(cnnc_tensor *x, cnnc_hardtanh_options o);
cnnc_status cnnc__op_hardtanh_(cnnc_tensor *x, cnnc_hardtanh_options o);
cnnc_tensor *cnnc__op_leaky_relu(cnnc_tensor *x, cnnc_leaky_relu_options o);
cnnc_status cnnc__op_leaky_relu_(cnnc_tensor *x, cnnc_leaky_relu_options o);
cnnc_tensor *cnnc__op_elu(cnnc_tensor *x, cnnc_elu_options o);
cnnc_status cnnc__op_elu_(cnnc_tensor *x, cnnc_elu_options o);
cnnc_tensor *cnnc__op_selu(cnnc_tensor *x, cnnc_selu_options o);
cnnc_status cnnc__op_selu_(cnnc_tensor *x);
cnnc_tensor *cnnc__op_celu(cnnc_tensor *x, cnnc_celu_options o);
cnnc_status cnnc__op_celu_(cnnc_tensor *x, cnnc_celu_options o);
cnnc_tensor *cnnc__op_gelu(cnnc_tensor *x, cnnc_gelu_options o);
cnnc_tensor *cnnc__op_silu(cnnc_tensor *x, cnnc_silu_options o);
cnnc_tensor *cnnc__op_mish(cnnc_tensor *x, cnnc_mish_options o);
cnnc_tensor *cnnc__op_sigmoid(cnnc_tensor *x);
cnnc_tensor *cnnc__op_tanh(cnnc_tensor *x);
cnnc_tensor *cnnc__op_hardsigmoid(cnnc_tensor *x, cnnc_hardsigmoid_options o);
cnnc_tensor *cnnc__op_hardswish(cnnc_tensor *x, cnnc_hardswish_options o);
cnnc_tensor *cnnc__op_softplus(cnnc_tensor *x, cnnc_softplus_options o);
cnnc_tensor *cnnc__op_prelu(cnnc_tensor *x, cnnc_tensor *weight);

/* ---- inference epilogues (activation_infer.c) ---------------------------------------
 * A pointwise activation as its kernel runs it, for the model runtime's in-place and
 * fused passes at inference (src/graph/graph_infer.c). */
typedef struct cnnc__act_spec {
    cnnc__act op;
    cnnc__act_params p;
} cnnc__act_spec;
/* The spec of the functional activation `name` with PyTorch's arguments a and b
 * (hardtanh: min_val, max_val; leaky_relu: negative_slope; elu, celu: alpha;
 * softplus: beta, threshold; the others take none): "relu", "relu6", "hardtanh",
 * "leaky_relu", "elu", "selu", "celu", "gelu", "gelu_tanh" (gelu, approximate='tanh'),
 * "silu", "mish", "sigmoid", "tanh", "hardsigmoid", "hardswish", "softplus". The same
 * parameters as the op computes. False for other names and for arguments the op
 * refuses (celu's alpha 0). */
bool cnnc__act_spec_of(const char *name, double a, double b, cnnc__act_spec *s);
/* x = act(x), in place, recorded nowhere: inference only. x float32; an error when x
 * takes part in autograd (requires grad with grad mode on). Bumps x's version. The
 * values of the op, in place or not. */
cnnc_status cnnc__op_act_infer_(cnnc_tensor *x, const cnnc__act_spec *act);
/* out = act(a op b) in one pass (act NULL: a op b), out being a or b (or both); a and
 * b float32 of one shape (no broadcasting). Inference only, as above; the values of
 * cnnc__op_binary followed by the activation. */
cnnc_status cnnc__op_binary_act_infer_(cnnc__binop op, cnnc_tensor *out, cnnc_tensor *a, cnnc_tensor *b,
                                       const cnnc__act_spec *act);

/* softmax.c */
cnnc_tensor *cnnc__op_softmax(cnnc_tensor *x, cnnc_softmax_options o);
cnnc_tensor *cnnc__op_log_softmax(cnnc_tensor *x, cnnc_softmax_options o);

/* dropout.c */
cnnc_tensor *cnnc__op_dropout(cnnc_tensor *x, cnnc_dropout_options o);
cnnc_tensor *cnnc__op_dropout2d(cnnc_tensor *x, cnnc_dropout_options o);
cnnc_tensor *cnnc__op_dropout3d(cnnc_tensor *x, cnnc_dropout_options o);
cnnc_tensor *cnnc__op_stochastic_depth(cnnc_tensor *x, double p, const char *mode, bool training);
/* PyTorch's "dropout probability has to be between 0 and 1, but got 1.5". */
cnnc_status cnnc__check_dropout_p(double p);

#endif
