/* Internal: pooling as other op families call them (interpolate's 'area' mode is
 * adaptive average pooling). Same conventions as ops/ops.h. */
#ifndef CNNC_OPS_POOL_H
#define CNNC_OPS_POOL_H
#include "ops/ops.h"

/* F.adaptive_avg_pool{nsp}d(x, output_size): x is [N, C, *spatial] or [C, *spatial]
 * with nsp spatial dims (1..3); output_size has nsp entries, each > 0 here (the
 * caller resolves None). Differentiable. */
cnnc_tensor *cnnc__op_adaptive_avg_pool(cnnc_tensor *x, int nsp, const int64_t *output_size);

/* The functional ops behind the public cnnc_* pooling functions (nsp = 1, 2, 3).
 * indices: NULL for the forms without indices; otherwise receives a new int64
 * reference (NULL on error). */
cnnc_tensor *cnnc__op_max_pool(cnnc_tensor *x, int nsp, cnnc_max_pool_options o,
                               cnnc_tensor **indices);
cnnc_tensor *cnnc__op_avg_pool(cnnc_tensor *x, int nsp, const cnnc_ints *kernel,
                               const cnnc_ints *stride, const cnnc_ints *padding, bool ceil_mode,
                               bool count_include_pad, cnnc_optional_int divisor);
cnnc_tensor *cnnc__op_adaptive_avg(cnnc_tensor *x, int nsp, cnnc_ints output_size);
cnnc_tensor *cnnc__op_adaptive_max(cnnc_tensor *x, int nsp, cnnc_ints output_size,
                                   cnnc_tensor **indices);
cnnc_tensor *cnnc__op_max_unpool(cnnc_tensor *x, cnnc_tensor *indices, int nsp,
                                 cnnc_max_unpool_options o);
#endif
