/* Internal to the depthwise kernels (conv_dw.c): the register-tiled square kernels of
 * conv_dw_avx512.c and conv_dw_avx2.c, one plane at a time. Each returns false (and
 * touches nothing) when it declines a geometry. */
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

/* The same three for AVX2 + FMA (3x3 and 5x5; backward-weight 3x3 only). */
bool cnnc__dw_sq_forward_avx2(float *y, const float *x, const float *w, float bias,
                              const cnnc__window *g);
bool cnnc__dw_sq_backward_data_avx2(float *dx, const float *dy, const float *w,
                                    const cnnc__window *g, bool accumulate);
bool cnnc__dw_sq_backward_weight_avx2(float *dw, const float *dy, const float *x,
                                      const cnnc__window *g);
#endif

#endif
