/* The direct small-channel convolution kernels compiled for AVX2 + FMA (the AVX2 level
 * of conv_direct.c): conv_direct_body.h on 8-float vectors. 16 registers: forward
 * tiles of up to 4 channels x 3 column vectors (12 accumulators, 3 inputs, a weight;
 * by output rows too: per tap 3 loads and 4 broadcasts from L1 for 12 FMAs, which ran
 * at the FMA peak of a Zen 3 core, 100 GFLOP/s, in a loop on data in L1), weight-gradient
 * tiles of up to 4 channels x 2 taps. */
#include "kernels/conv_direct.h"

#if CNNC__ISA_X86
#include <immintrin.h>

#include "kernels/lanes_avx2.h"

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
#define DC_ROW_R 3
#define DC_ROW_TILES(X) X(4) X(3) X(2) X(1)
/* x86's max(a, b) is a > b ? a : b: max(lo, v) keeps a NaN v, as hardtanh does (the
 * compare-and-blend form of the select took 4 instructions a vector) */
#define DC_CLAMP(v, lo, hi) _mm256_min_ps(hi, _mm256_max_ps(lo, v))
/* by whole 128-, 64- and 32-bit stores (vmaskmovps to memory is microcoded on AMD) */
#define DC_STORE_N(p, v, n) cnnc__store_n_avx2(p, v, n)
#include "kernels/conv_direct_body.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__conv_direct_avx2_unused; /* ISO C: a translation unit is not empty */
#endif
