/* Internal: the norm family's ops as library code (nn/norm.c) calls them. Same
 * conventions as ops/ops.h: validated, differentiable, new references not given
 * to a scope. */
#ifndef CNNC_OPS_NORM_H
#define CNNC_OPS_NORM_H
#include "kernels/norm.h"
#include "ops/ops.h"

cnnc_tensor *cnnc__op_batch_norm(cnnc_tensor *x, cnnc_tensor *running_mean,
                                 cnnc_tensor *running_var, cnnc_tensor *weight, cnnc_tensor *bias,
                                 bool training, double momentum, double eps);
/* batch_norm in training (batch statistics, running statistics updated) followed by
 * the activation act (kernels/norm.h: ReLU, or Hardtanh(lo, hi) with lo < hi; else an
 * error) in one pass, for the model runtime's BatchNorm-activation pairs (graph_train.c):
 * the values, gradients and running statistics of cnnc__op_batch_norm then the
 * activation, bit for bit, without the normalized values in between. One autograd
 * node (named as the activation's: "ReluBackward0", "HardtanhBackward0") saving x (with
 * its version: changing x in place before the backward is an error) and one bit per
 * element of where the gradient passes the activation (as relu6_ keeps), not the
 * result: changing the result in place later leaves the gradient right. Backwards run
 * without gradients in cnnc, so it is differentiable once (as every op). */
cnnc_tensor *cnnc__op_batch_norm_act(cnnc_tensor *x, cnnc_tensor *running_mean, cnnc_tensor *running_var,
                                     cnnc_tensor *weight, cnnc_tensor *bias, double momentum, double eps,
                                     const cnnc__norm_act *act);
cnnc_tensor *cnnc__op_instance_norm(cnnc_tensor *x, cnnc_tensor *running_mean,
                                    cnnc_tensor *running_var, cnnc_tensor *weight,
                                    cnnc_tensor *bias, bool use_input_stats, double momentum,
                                    double eps);
cnnc_tensor *cnnc__op_layer_norm(cnnc_tensor *x, int nd, const int64_t *normalized_shape,
                                 cnnc_tensor *weight, cnnc_tensor *bias, double eps);
cnnc_tensor *cnnc__op_group_norm(cnnc_tensor *x, int64_t num_groups, cnnc_tensor *weight,
                                 cnnc_tensor *bias, double eps);
cnnc_tensor *cnnc__op_local_response_norm(cnnc_tensor *x, int64_t size, double alpha,
                                          double beta, double k);
#endif
