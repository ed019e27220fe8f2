/* Internal: the position panels of strided convolutions' transposed implicit GEMM
 * (conv_pospanel.c), for ops/conv_pospanel.c.
 *
 * The forward of a strided convolution as the product
 *
 *     Y^T [positions, m] = A [positions, kdim] W^T [kdim, m]
 *
 * takes the output positions as the GEMM's rows, so that an MR-row A panel is MR
 * consecutive positions of the batch: on 14-wide maps (ResNet's 3x3 stride-2 layers at
 * 28x28 -> 14x14) one output row, and each of its depths (channel, tap) one stride-2 run
 * of an input row. A panel is packed from the input itself, an input row window of 32
 * floats loaded once per (channel, kernel row) and permuted into every tap's lanes: no
 * stride-phase planes, no im2col, and the filters are the GEMM's B, packed once.
 * Only the AVX-512 level has the packing (its 14 x 32 micro-kernel). */
#ifndef CNNC_KERNELS_CONV_POSPANEL_H
#define CNNC_KERNELS_CONV_POSPANEL_H
#include <stdbool.h>
#include <stdint.h>

#include "kernels/isa.h"
#include "kernels/window.h"

/* Whether the level packs position panels for g: 1-d / 2-d (in[0] = out[0] = k[0] =
 * 1, no padding there), and each panel's run in an output row (at most MR = 14
 * positions) with every tap within one 32-float window of its input row:
 * (min(14, out[2]) - 1) stride[2] + (k[2] - 1) dil[2] < 32. */
bool cnnc__conv_pospanel_fits(cnnc__isa isa, const cnnc__window *g);

/* The panel rows of the level's GEMM tile (14 at AVX-512). */
int64_t cnnc__conv_pospanel_mr(cnnc__isa isa);

/* Packs positions [q0, q0 + npos) of the batch (q = image osz + oh out[2] + ow) at
 * depths [k0, k0 + kc) (depth = (channel - c0) k[1] k[2] + kh k[2] + kw, channels of
 * the group starting at c0) into MR-row panels: panel t (positions q0 + t MR ..) at
 * dst + t kc MR, its depth p the MR floats at + p MR; positions past npos zero. dst
 * holds ceil(npos / MR) kc MR floats.
 * x: the batch's input [n, c, in]. g must fit (cnnc__conv_pospanel_fits). */
void cnnc__conv_pack_positions(cnnc__isa isa, float *dst, const float *x, const cnnc__window *g,
                               int64_t c0, int64_t q0, int64_t npos, int64_t k0, int64_t kc);
#endif
