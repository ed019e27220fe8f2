/* Internal: the forward of strided convolutions as the transposed implicit GEMM, the
 * output positions as its rows (conv_pospanel.c; the panels: kernels/conv_pospanel.h).
 * conv.c's forward driver calls it where cnnc__conv_pospanel_fits. Same contract as
 * cnnc__conv_run_forward (ops/conv.h) at the level isa, with the bits of the
 * phase-plane and implicit GEMMs; results do not depend on the thread count. */
#ifndef CNNC_OPS_CONV_POSPANEL_H
#define CNNC_OPS_CONV_POSPANEL_H
#include <stddef.h>

#include "cnnc.h"
#include "kernels/conv.h"

/* Floats of one group's filters packed as the GEMM's B (a multiple of 16). */
size_t cnnc__conv_pospanel_b_floats(cnnc__isa isa, const cnnc__window *g);

/* dst [groups, b_floats] = each group's filters w [m / groups, c / groups * k] packed
 * as B: the level's NR-column panels of all c / groups * k rows (64-byte aligned). */
void cnnc__conv_pospanel_pack_filters(cnnc__isa isa, const cnnc__window *g, const float *w,
                                      float *dst);

/* y [n, m, out] = act(conv(x, w) + bias), ep (kernels/conv.h; not NULL) applied to y's
 * rows. bpk: the filters as cnnc__conv_pospanel_pack_filters packs them (a cached
 * packing), or NULL: packed here from w. g must fit (cnnc__conv_pospanel_fits). */
cnnc_status cnnc__conv_pospanel_forward(cnnc__isa isa, const cnnc__window *g, float *y,
                                        const float *x, const float *w, const float *bpk,
                                        const cnnc__conv_epilogue *ep);
#endif
