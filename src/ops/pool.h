/* Internal: pooling as other op families call them (interpolate's 'area' mode is
 * adaptive average pooling). Same conventions as ops/ops.h. */
#ifndef CNNC_OPS_POOL_H
#define CNNC_OPS_POOL_H
#include "ops/ops.h"

/* F.adaptive_avg_pool{nsp}d(x, output_size): x is [N, C, *spatial] or [C, *spatial]
 * with nsp spatial dims (1..3); output_size has nsp entries, each > 0 here (the
 * caller resolves None). Differentiable. */
cnnc_tensor *cnnc__op_adaptive_avg_pool(cnnc_tensor *x, int nsp, const int64_t *output_size);
#endif
