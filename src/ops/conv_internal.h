/* Internal to the convolution drivers: what conv.c (the drivers and the entry points)
 * shares with conv_fused.c (a 1x1 convolution and the depthwise convolutions around it
 * run as one op). */
#ifndef CNNC_OPS_CONV_INTERNAL_H
#define CNNC_OPS_CONV_INTERNAL_H
#include <stdint.h>

#include "cnnc.h"

#include "kernels/conv.h"
#include "kernels/isa.h"

/* The path the calling thread's convolution took, as CNNC_TRACE names it (a string
 * that outlives the call: a literal or the thread's own buffer). */
void cnnc__conv_set_path(const char *path);
/* CNNC_TRACE's line for a convolution op started at t0 (cnnc__trace_begin): its
 * geometry, the path set last and ep's activation (NULL: none). */
void cnnc__conv_trace(double t0, const char *op, const cnnc__window *g,
                      const cnnc__conv_epilogue *ep);
/* ep over the rows [0, mg) of group grp's output yg (ld floats apart, ncol each; row r
 * is output channel grp mg + r): nothing where ep has no bias and no activation. */
void cnnc__conv_epilogue_rows(cnnc__isa isa, const cnnc__conv_epilogue *ep, float *yg, int64_t ld,
                              int64_t grp, int64_t mg, int64_t ncol);
/* w [m, per] times wscale [m], or w itself (wscale NULL); *owned the copy to free
 * (NULL when none was made). NULL when memory runs out. */
const float *cnnc__conv_folded_or_own(const float *w, const float *wscale, int64_t m, int64_t per,
                                      float **owned);
/* Does conv_fused_cl.c take the chain A (ga, not NULL), B, C at isa with A's and B's
 * epilogues epa, epb (each a bias and a clamp at most; NULL: not asked)? AVX2, B 3x3
 * on small planes (see there). */
bool cnnc__conv_chain_cl_fits(cnnc__isa isa, const cnnc__window *ga, const cnnc__window *gb,
                              const cnnc__window *gc, const cnnc__conv_epilogue *epa,
                              const cnnc__conv_epilogue *epb);
/* y = C(B(A(x))) there, channels-last inside, with the filters folded already (wa [ma,
 * ca], wb [mb, 9], wc [mc, cc]): the bits of the three one after the other. */
cnnc_status cnnc__conv_run_chain_cl(const cnnc__window *ga, const cnnc__window *gb,
                                    const cnnc__window *gc, float *y, const float *x,
                                    const float *wa, const float *wb, const float *wc,
                                    const cnnc__conv_epilogue *epa,
                                    const cnnc__conv_epilogue *epb,
                                    const cnnc__conv_epilogue *epc);
#endif
