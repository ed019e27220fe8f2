/* Internal: convolution drivers over column chunks crossing image boundaries
 * (conv_cols.c): one GEMM covers several images' output positions. conv.c's drivers
 * call them for small maps (forward, backward-data) and for every weight gradient
 * that is neither depthwise nor Winograd's (declared here too, with the channels-last
 * one). Same contracts as the cnnc__conv_run_* drivers of ops/conv.h at the level isa;
 * results do not depend on the thread count. */
#ifndef CNNC_OPS_CONV_COLS_H
#define CNNC_OPS_CONV_COLS_H
#include <stdbool.h>

#include "cnnc.h"
#include "kernels/conv.h"

/* Whether the forward and backward-data of g run here: small maps, several images. */
bool cnnc__conv_cols_pays(const cnnc__window *g);

/* y [n, m, out] = act(conv(x, w) + bias): the epilogue ep (kernels/conv.h) applied to
 * each chunk's rows as they are scattered into y. apk: the filters as
 * cnnc__sgemm_pack_a_full packs each group's [m / groups, c / groups * k] at the level
 * isa, one group after the other cnnc__sgemm_packed_a_floats apart (a cached packing),
 * or NULL: packed here from w. */
cnnc_status cnnc__conv_cols_forward(cnnc__isa isa, const cnnc__window *g, float *y,
                                    const float *x, const float *w, const float *apk,
                                    const cnnc__conv_epilogue *ep);
/* dx [n, c, in] = the input gradient of dy (overwrites dx). */
cnnc_status cnnc__conv_cols_backward_data(cnnc__isa isa, const cnnc__window *g, float *dx,
                                          const float *dy, const float *w);
/* dw [m, c / groups, k] = the weight gradient summed over the batch (overwrites dw). */
cnnc_status cnnc__conv_cols_backward_weight(cnnc__isa isa, const cnnc__window *g, float *dw,
                                            const float *dy, const float *x);

/* The weight gradient from channels-last copies of the input and dY (conv_wgrad.c):
 * whether g suits it (its padded copies stay within a few times the input), and the
 * same contract as cnnc__conv_cols_backward_weight. */
bool cnnc__conv_wgrad_cl_fits(const cnnc__window *g);
cnnc_status cnnc__conv_wgrad_cl(cnnc__isa isa, const cnnc__window *g, float *dw, const float *dy,
                                const float *x);

/* The weight gradient by Winograd F(2x2, 3x3) (conv_wgrad_wino.c): whether it pays for
 * g (3x3, stride 1, dilation 1, enough channels and tiles; measured), and the same
 * contract as cnnc__conv_cols_backward_weight. */
bool cnnc__conv_wgrad_winograd_pays(cnnc__isa isa, const cnnc__window *g);
cnnc_status cnnc__conv_wgrad_winograd(cnnc__isa isa, const cnnc__window *g, float *dw,
                                      const float *dy, const float *x);
#endif
