/* Internal: the input gradient of strided 1-d / 2-d convolutions by input phases, by
 * GEMMs (conv_phase_data.c) or, with few channels, by shifted sums (conv_phase_sum.c).
 * conv.c's backward-data driver (and so the transposed convolution's forward) calls
 * them where they fit. Same contract as
 * cnnc__conv_run_backward_data (ops/conv.h) at the level isa; results do not depend on
 * the thread count. */
#ifndef CNNC_OPS_CONV_PHASE_H
#define CNNC_OPS_CONV_PHASE_H
#include <stdbool.h>

#include "cnnc.h"
#include "kernels/conv.h"

/* Whether g's input gradient runs here: 1-d / 2-d (in[0] = out[0] = k[0] = 1, no
 * padding there), a stride above 1, more than one tap (1x1 kernels: three phases in
 * four read nothing, and the GEMM + strided scatter is faster), at least 8 input
 * channels a group and at most twice as many output channels (the GEMMs' rows, and
 * the B rows a column packs for them: measured), not depthwise, at most
 * 8 phases and 16 taps a dim, sizes within bounds (no plane arithmetic can overflow),
 * at least one output. */
bool cnnc__conv_phase_data_fits(const cnnc__window *g);

/* dx [n, c, in] = the input gradient of dy [n, m, out] for w [m, c / groups, k]
 * (overwrites dx); g must fit (cnnc__conv_phase_data_fits). */
cnnc_status cnnc__conv_phase_backward_data(cnnc__isa isa, const cnnc__window *g, float *dx,
                                           const float *dy, const float *w);

/* Whether g's input gradient may run by shifted sums (conv_phase_sum.c): 1-d / 2-d, not
 * depthwise, at most 6 output channels a group (the GEMM's depth: so shallow a product
 * leaves its tiles nearly empty) and 7 input channels (from 8 the phase path above is
 * faster: measured), more kernel taps than stride phases (with one tap a phase at most,
 * 1x1 kernels among them, the GEMM is faster: measured), sizes within bounds. */
bool cnnc__conv_phase_sum_fits(const cnnc__window *g);

/* dx [n, c, in] = the input gradient of dy [n, m, out] for w [m, c / groups, k]
 * (overwrites dx) when every weight is finite (the sums add w * 0 past dy's rows):
 * true with the status in *st, or false (nothing done). g must fit
 * (cnnc__conv_phase_sum_fits). The same bits at every level and thread count. */
bool cnnc__conv_phase_sum_backward_data(cnnc__isa isa, const cnnc__window *g, float *dx,
                                        const float *dy, const float *w, cnnc_status *st);
#endif
