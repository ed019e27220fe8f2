/* The direct small-channel convolution kernels compiled for AVX-512 (the AVX512 level
 * of conv_direct.c): conv_direct_body.h on 16-float vectors. 32 registers: forward
 * tiles of up to 8 channels x 3 column vectors (24 accumulators) and wider ones for
 * fewer channels; weight-gradient tiles of up to 6 channels x 4 taps (4 x 5, ...). */
#include "kernels/conv_direct.h"

#if CNNC__ISA_X86
#include <immintrin.h>

/* GCC's generic tuning prefers 256-bit vectors even with AVX-512 (see activation_avx512.c) */
#if defined(__clang__)
CNNC__ISA_TARGET_BEGIN("avx512f,fma")
#else
CNNC__ISA_TARGET_BEGIN("avx512f,fma,prefer-vector-width=512")
#endif
CNNC__ISA_CONTRACT
#define DC_SUFFIX avx512
#define DC_W 16
#define DC_MO_MAX 8
#define DC_TILES(X) X(8, 3) X(7, 3) X(6, 4) X(5, 4) X(4, 5) X(3, 7) X(2, 8) X(1, 8)
#define DC_WMO_MAX 6
#define DC_WTILES(X) X(6, 4) X(5, 4) X(4, 5) X(3, 7) X(2, 10) X(1, 16)
#define DC_CV_P 12
#define DC_CV_TILES(X) X(12) X(11) X(10) X(9) X(8) X(7) X(6) X(5) X(4) X(3) X(2) X(1)
/* as AVX2's (conv_direct_avx2.c): max(lo, v) keeps a NaN v */
#define DC_CLAMP(v, lo, hi) _mm512_min_ps(hi, _mm512_max_ps(lo, v))
#define DC_STORE_N(p, v, n) _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1u), v)
#include "kernels/conv_direct_body.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__conv_direct_avx512_unused; /* ISO C: a translation unit is not empty */
#endif
