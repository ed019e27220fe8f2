/* Internal to the depthwise kernels (conv_dw.c): the AVX-512 register-tiled square
 * kernels of conv_dw_avx512.c, for the geometries cnnc__dw_sq_fits accepts, one plane
 * at a time. Each returns false (and touches nothing) when it declines. */
#ifndef CNNC_KERNELS_CONV_DW_INTERNAL_H
#define CNNC_KERNELS_CONV_DW_INTERNAL_H
#include <stdbool.h>

#include "kernels/conv.h"

#if CNNC__ISA_X86
/* y [out] = conv(x, w) + bias (written completely). */
bool cnnc__dw_sq_forward_avx512(float *y, const float *x, const float *w, float bias,
                                const cnnc__window *g);
/* dx [in] (+)= the input gradient of dy [out]: accumulate false writes dx completely. */
bool cnnc__dw_sq_backward_data_avx512(float *dx, const float *dy, const float *w,
                                      const cnnc__window *g, bool accumulate);
/* dw [k] += sum over the plane of dy * shifted x. */
bool cnnc__dw_sq_backward_weight_avx512(float *dw, const float *dy, const float *x,
                                        const cnnc__window *g);
#endif

#endif
