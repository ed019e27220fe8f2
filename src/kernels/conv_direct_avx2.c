/* The direct small-channel convolution kernels compiled for AVX2 + FMA (the AVX2 level
 * of conv_direct.c): conv_direct_body.h on 8-float vectors. 16 registers: forward
 * tiles of up to 4 channels x 3 column vectors (12 accumulators, 3 inputs, a weight),
 * weight-gradient tiles of up to 4 channels x 2 taps. */
#include "kernels/conv_direct.h"

#if CNNC__ISA_X86
CNNC__ISA_TARGET_BEGIN("avx2,fma")
CNNC__ISA_CONTRACT
#define DC_SUFFIX avx2
#define DC_W 8
#define DC_MO_MAX 4
#define DC_TILES(X) X(4, 3) X(3, 3) X(2, 5) X(1, 8)
#define DC_WMO_MAX 4
#define DC_WTILES(X) X(4, 2) X(3, 3) X(2, 5) X(1, 8)
#define DC_CV_P 6
#define DC_CV_TILES(X) X(6) X(5) X(4) X(3) X(2) X(1)
#include "kernels/conv_direct_body.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__conv_direct_avx2_unused; /* ISO C: a translation unit is not empty */
#endif
