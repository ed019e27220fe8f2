/* The fast norm kernels compiled for AVX-512 (the AVX512 level of norm_internal.h):
 * norm_body.h on 16-float and 8-double vectors. */
#include "kernels/norm_internal.h"

#if CNNC__ISA_X86
#if defined(__clang__)
CNNC__ISA_TARGET_BEGIN("avx512f,fma")
#else
CNNC__ISA_TARGET_BEGIN("avx512f,fma,prefer-vector-width=512")
#endif
#define NORM_SUFFIX avx512
#define NB_W 16
#include <immintrin.h>
/* a lane is set when all its bits are (it is negative then) */
#define NB_MOVEMASK(m) ((uint32_t)_mm512_cmplt_epi32_mask((__m512i)(m), _mm512_setzero_si512()))
/* 8 floats widened in one instruction (GCC's generic widening of the vector type
 * took five), and the same with the lanes whose bit of b is clear read as +0 */
#define NB_LOADD(p) ((nb_vd)_mm512_cvtps_pd(_mm256_loadu_ps(p)))
#define NB_LOADD_GATED(p, b) ((nb_vd)_mm512_maskz_cvtps_pd((__mmask8)(b), _mm256_loadu_ps(p)))
#include "kernels/norm_body.h"
CNNC__ISA_TARGET_END
#else
typedef int cnnc__norm_avx512_unused; /* ISO C: a translation unit must not be empty */
#endif
