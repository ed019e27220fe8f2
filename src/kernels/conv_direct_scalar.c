/* The direct small-channel convolution kernels for the baseline ISA (the SCALAR level
 * of conv_direct.c): conv_direct_body.h on 4-float vectors (SSE2 on x86-64), no fused
 * multiply-adds. 16 vector registers: forward tiles of up to 4 channels x 2-4 column
 * vectors, weight-gradient tiles of up to 4 channels x 2-6 taps. */
#include "kernels/conv_direct.h"

#define DC_SUFFIX scalar
#define DC_W 4
#define DC_MO_MAX 4
#define DC_TILES(X) X(4, 2) X(3, 3) X(2, 4) X(1, 6)
#define DC_WMO_MAX 4
#define DC_WTILES(X) X(4, 2) X(3, 3) X(2, 4) X(1, 6)
#define DC_CV_P 6
#define DC_CV_TILES(X) X(6) X(5) X(4) X(3) X(2) X(1)
#include "kernels/conv_direct_body.h"
