/* Internal: the activation family's ops (activations, softmax, prelu, dropout) as
 * library code calls them: validated, recorded for autograd, new references NOT
 * given to a scope. relu/relu_ stay declared in ops/ops.h. With .inplace set in
 * the options, an op modifies x and returns a new reference to x. */
#ifndef CNNC_OPS_ACTIVATION_H
#define CNNC_OPS_ACTIVATION_H
#include "core/autograd.h"

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
