/* Internal: channels-last copies and the panels built from them (conv_cl.c), for the
 * weight gradient of dense convolutions (ops/conv_wgrad.c).
 *
 * The weight gradient's GEMM, dW^T [kdim, m] = col [kdim, J] dY^T [J, m], wants its
 * A operand in MR-row panels: for each of the J output positions, MR consecutive
 * col rows. With the rows ordered (tap, channel) and the input stored channels last
 * (zero padding included), those MR rows of one position are a few contiguous runs of
 * the copy, so a panel is built with one or two loads per position, no im2col and no
 * transposition in between.
 *
 * Each routine takes the ISA level first and runs that level's variant (AVX-512, or
 * the portable one); every variant writes the same values. */
#ifndef CNNC_KERNELS_CONV_CL_H
#define CNNC_KERNELS_CONV_CL_H
#include <stdint.h>

#include "kernels/isa.h"

/* dst[j * ldd + i] = src[row(i) * lds + j] for i < rows, j < cols, where row(i) is
 * src_rows[i] (src_rows NULL: i). dst and src do not overlap. */
void cnnc__conv_cl_transpose(cnnc__isa isa, float *dst, int64_t ldd, const float *src,
                             int64_t lds, const int64_t *src_rows, int64_t rows, int64_t cols);

/* One MR-row panel of kc positions: dst[p * mr + i] (p < kc, i < mr) is
 * src[base[p] + off[r] + i - lane[r]] for lane[r] <= i < lane[r + 1] (r < nruns,
 * lane[0] = 0, lane[nruns] = rows <= mr), and 0 for i >= rows. The runs' lanes
 * increase and off[r] >= lane[r]. mr <= 16. */
void cnnc__conv_cl_panel(cnnc__isa isa, float *dst, int64_t mr, int64_t kc, const float *src,
                         const int64_t *base, const int64_t *lane, const int64_t *off,
                         int64_t nruns);

#endif
