/* Internal to the depthwise kernels (conv_dw.c): the register-tiled square kernels of
 * conv_dw_avx512.c and conv_dw_avx2.c, one plane at a time. Each returns false (and
 * touches nothing) when it declines a geometry. */
#ifndef CNNC_KERNELS_CONV_DW_INTERNAL_H
#define CNNC_KERNELS_CONV_DW_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

#include "kernels/conv.h"

/* Floats a plane may hold for the flat kernels (conv_dw_flat_avx512.c). */
#define CNNC__DW_FLAT_MAX 256

/* Touches the cache lines of n floats `ahead` bytes past p (the next planes, or past
 * the buffer: a prefetch never faults). Small planes that come from memory or L3 (a
 * run follows other work that evicted them) wait on it without: AVX-512, 1 thread,
 * batch 8, each call after a PyTorch one, ms: 576x14x14 forward 1.0 -> 0.48, 384x14x14
 * 0.88 -> 0.49; AVX2 960x7x7 forward 0.54 -> 0.45. */
static inline void cnnc__dw_prefetch_ahead(const float *p, int64_t n, int64_t ahead,
                                           bool write) {
    const char *a = (const char *)p + ahead;
    for (int64_t i = 0; i < n * (int64_t)sizeof(float); i += 64) {
        if (write)
            __builtin_prefetch(a + i, 1, 3);
        else
            __builtin_prefetch(a + i, 0, 3);
    }
}

#if CNNC__ISA_X86
/* The flat kernels of conv_dw_flat_avx512.c, on n consecutive planes with their own
 * filters (w [n, k]): small planes, stride 1, "same" padding (cnnc__dw_flat_fits). */
bool cnnc__dw_flat_fits(const cnnc__window *g);
/* y [n, out] = conv(x [n, in], w) + bias [n] (NULL: none), written completely. */
bool cnnc__dw_flat_forward_avx512(float *y, const float *x, const float *w, const float *bias,
                                  int64_t n, const cnnc__window *g);
/* dx [n, in] = the input gradient of dy [n, out], written completely. */
bool cnnc__dw_flat_backward_data_avx512(float *dx, const float *dy, const float *w, int64_t n,
                                        const cnnc__window *g);
/* dw [n, k] += per plane the sum of dy * shifted x over the images im (one vector
 * accumulator per tap over all of them, reduced once). */
bool cnnc__dw_flat_backward_weight_avx512(float *dw, const float *dy, const float *x, int64_t n,
                                          cnnc__dw_images im, const cnnc__window *g);

/* Stride 2 backward-data by dx's four phases (conv_dw_flat_avx512.c): square 3x3 / 5x5,
 * padding (k - 1) / 2, input twice the output, output rows up to 16 floats. dx [n, in]
 * written completely. */
bool cnnc__dw_phase_fits(const cnnc__window *g);
bool cnnc__dw_phase_backward_data_avx512(float *dx, const float *dy, const float *w, int64_t n,
                                         const cnnc__window *g);

/* y [out] = conv(x, w) + bias (written completely). */
bool cnnc__dw_sq_forward_avx512(float *y, const float *x, const float *w, float bias,
                                const cnnc__window *g);
/* dx [in] (+)= the input gradient of dy [out]: accumulate false writes dx completely. */
bool cnnc__dw_sq_backward_data_avx512(float *dx, const float *dy, const float *w,
                                      const cnnc__window *g, bool accumulate);
/* dw [k] += sum over the plane of dy * shifted x. */
bool cnnc__dw_sq_backward_weight_avx512(float *dw, const float *dy, const float *x,
                                        const cnnc__window *g);

/* The three on n consecutive planes with their own filters (w [n, k], bias [n] or
 * NULL), the tables built once; backward-data writes dx completely. */
bool cnnc__dw_sq_forward_planes_avx512(float *y, const float *x, const float *w,
                                       const float *bias, int64_t n, const cnnc__window *g);
bool cnnc__dw_sq_backward_data_planes_avx512(float *dx, const float *dy, const float *w,
                                             int64_t n, const cnnc__window *g);
bool cnnc__dw_sq_backward_weight_planes_avx512(float *dw, const float *dy, const float *x,
                                               int64_t n, const cnnc__window *g);

/* The same three for AVX2 + FMA (3x3 and 5x5; backward-weight 3x3 only). */
bool cnnc__dw_sq_forward_avx2(float *y, const float *x, const float *w, float bias,
                              const cnnc__window *g);
bool cnnc__dw_sq_backward_data_avx2(float *dx, const float *dy, const float *w,
                                    const cnnc__window *g, bool accumulate);
bool cnnc__dw_sq_backward_weight_avx2(float *dw, const float *dy, const float *x,
                                      const cnnc__window *g);

/* AVX2 + FMA on n consecutive planes by padded bands (conv_dw_band_avx2.c): square
 * 3x3 / 5x5, the same stride 1 or 2 in H and W, dilation 1, padding up to K - 1
 * (backward-weight 3x3; the 5x5 forward and backward-weight: output rows up to 32
 * floats).
 * Contracts as the flat kernels'; the forward's ep as cnnc__dwconv_forward_band's (NULL:
 * none, planes consecutive). */
bool cnnc__dw_band_forward_avx2(float *y, const float *x, const float *w, const float *bias,
                                int64_t n, const cnnc__window *g, const cnnc__dw_fwd_ep *ep);
/* AVX2 + FMA on the first n - n % 8 of n consecutive planes, 8 channels a vector
 * (conv_dw_cl_avx2.c): square 3x3, the same stride 1 or 2 in H and W, dilation 1,
 * padding up to 2, planes small enough to gain (see there), ep NULL or with no input
 * epilogue, planes consecutive and x's rows not split (xsplit). Returns the planes
 * written (0: declined, nothing written), with the bits of cnnc__dw_band_forward_avx2's
 * buffered path. */
int64_t cnnc__dw_cl_forward_avx2(float *y, const float *x, const float *w, const float *bias,
                                 int64_t n, const cnnc__window *g, const cnnc__dw_fwd_ep *ep);
/* The channels-last groups on channels-last planes (cnnc__dwconv_forward_cl), where
 * cnnc__dw_cl_nhwc_fits(g). */
bool cnnc__dw_cl_nhwc_fits(const cnnc__window *g);
bool cnnc__dw_cl_nhwc_forward_avx2(float *y, int64_t pstride, const float *x, int64_t xld,
                                   int64_t xblk, const float *xbias,
                                   const cnnc__conv_clamp *xclamp, const float *w,
                                   const float *bias, int64_t n, const cnnc__window *g,
                                   const cnnc__conv_clamp *clamp);
bool cnnc__dw_band_backward_data_avx2(float *dx, const float *dy, const float *w, int64_t n,
                                      const cnnc__window *g);
bool cnnc__dw_band_backward_weight_avx2(float *dw, const float *dy, const float *x, int64_t n,
                                        cnnc__dw_images im, const cnnc__window *g);
#endif

#endif
