/* Internal: the norm family's ops as library code (nn/norm.c) calls them. Same
 * conventions as ops/ops.h: validated, differentiable, new references not given
 * to a scope. */
#ifndef CNNC_OPS_NORM_H
#define CNNC_OPS_NORM_H
#include "ops/ops.h"

cnnc_tensor *cnnc__op_batch_norm(cnnc_tensor *x, cnnc_tensor *running_mean,
                                 cnnc_tensor *running_var, cnnc_tensor *weight, cnnc_tensor *bias,
                                 bool training, double momentum, double eps);
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
