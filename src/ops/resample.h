/* Internal: padding and interpolation as other op families call them (conv's
 * padding_mode uses cnnc__op_pad). Same conventions as ops/ops.h. */
#ifndef CNNC_OPS_RESAMPLE_H
#define CNNC_OPS_RESAMPLE_H
#include <stddef.h>

#include "ops/ops.h"

/* F.pad(x, pad, mode, value): pad has npad entries (even), pairs (left, right)
 * starting from the last dim and moving forward; negative entries crop.
 * Differentiable. */
cnnc_tensor *cnnc__op_pad(cnnc_tensor *x, int npad, const int64_t *pad, cnnc_pad_mode mode,
                          double value);

/* F.interpolate (see cnnc_interpolate in cnnc/resample.h). Differentiable. */
cnnc_tensor *cnnc__op_interpolate(cnnc_tensor *x, const cnnc_interpolate_options *options);

/* The static canonical name of an interpolate mode ("bilinear"), or NULL if unknown. */
const char *cnnc__interp_mode_canonical(const char *mode);

#endif
