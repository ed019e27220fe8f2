/* Internal: the drivers of the direct small-channel convolution (kernels/conv_direct.h)
 * for conv.c: forward (with the epilogue) and weight gradient, 2-d and 1-d geometries
 * whose input planes stay small. Same contracts as the cnnc__conv_run_* drivers of
 * ops/conv.h at the level isa; results do not depend on the thread count. The
 * environment variable CNNC_CONV_DIRECT=0 (read per call) turns the path off, for
 * A/B timings. */
#ifndef CNNC_OPS_CONV_DIRECT_H
#define CNNC_OPS_CONV_DIRECT_H
#include <stdbool.h>

#include "cnnc.h"
#include "kernels/conv.h"

/* Does the direct forward pay for g at level isa (measured rules, conv_direct.c)? */
bool cnnc__conv_direct_forward_pays(cnnc__isa isa, const cnnc__window *g);
/* The forward's path name for conv.c's trace: "direct", or "direct by rows" where it
 * tiles the output rows (kernels/conv_direct.h). */
const char *cnnc__conv_direct_forward_path(cnnc__isa isa, const cnnc__window *g);
/* Does it pay for t, the transposed geometry of a stride-1 convolution whose input
 * gradient conv.c runs as the forward of t with the filters flipped? */
bool cnnc__conv_direct_flipped_pays(cnnc__isa isa, const cnnc__window *t);
/* y [n, m, out] = act(conv(x, w) + bias) (the epilogue ep, kernels/conv.h). */
cnnc_status cnnc__conv_direct_run_forward(cnnc__isa isa, const cnnc__window *g, float *y,
                                          const float *x, const float *w,
                                          const cnnc__conv_epilogue *ep);

/* Does the direct weight gradient pay for g at level isa (measured rule)? */
bool cnnc__conv_direct_wgrad_pays(cnnc__isa isa, const cnnc__window *g);
/* dw [m, c / groups, k] = the weight gradient summed over the batch (overwrites dw), and
 * *done = true; or, when x holds an inf or NaN, *done = false and nothing done (the
 * dropped wide columns would multiply it by a zero gradient, making NaN of a sum that
 * excludes it): the caller runs another path. */
cnnc_status cnnc__conv_direct_run_backward_weight(cnnc__isa isa, const cnnc__window *g,
                                                  float *dw, const float *dy, const float *x,
                                                  bool *done);
#endif
