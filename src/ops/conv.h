/* Internal: convolution ops as library code (nn/conv.c) calls them, and the
 * multithreaded drivers behind them (exposed for the C tests). Same conventions as
 * ops/ops.h: new references not registered in a scope. */
#ifndef CNNC_OPS_CONV_H
#define CNNC_OPS_CONV_H
#include "kernels/conv.h"
#include "ops/ops.h"

/* F.conv{dim}d / F.conv_transpose{dim}d with every PyTorch check. */
cnnc_tensor *cnnc__op_conv(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, int dim,
                           const cnnc_conv_options *o);
cnnc_tensor *cnnc__op_conv_transpose(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, int dim,
                                     const cnnc_conv_transpose_options *o);

/* ---- drivers: the fast paths over a whole batch -----------------------------------
 * Each picks the depthwise direct kernels (one input channel per group), plain GEMM
 * (1x1 kernel, stride 1, no padding) or im2col + GEMM over column tiles; threads over
 * (image, group, column tile) items, or inside the GEMM when there are fewer items
 * than threads. Results never depend on the thread count. Each reads the thread count
 * once and sizes its per-chunk scratch (in the calling thread's cnnc__workspace) from
 * its parallel plans. Return CNNC_OK or an error (workspace allocation). */

/* y [n, m, out] = conv(x [n, c, in], w) + bias (bias [m] or NULL). */
cnnc_status cnnc__conv_run_forward(const cnnc__conv_geom *g, float *y, const float *x,
                                   const float *w, const float *bias);
/* dx [n, c, in] = input gradient of dy [n, m, out] (overwrites dx). */
cnnc_status cnnc__conv_run_backward_data(const cnnc__conv_geom *g, float *dx, const float *dy,
                                         const float *w);
/* dw [m, c / groups, k] = weight gradient, summed over the batch (overwrites dw). */
cnnc_status cnnc__conv_run_backward_weight(const cnnc__conv_geom *g, float *dw, const float *dy,
                                           const float *x);
/* db [m] = sum of dy [n, m, osz] over the batch and positions (overwrites db). */
cnnc_status cnnc__conv_run_bias_grad(float *db, const float *dy, int64_t n, int64_t m,
                                     int64_t osz);
#endif
