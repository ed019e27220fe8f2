/* Channels-last copies and panels (kernels/conv_cl.h): the portable loops and the
 * AVX-512 and AVX2 variants (16 x 16 or 8 x 8 register transposes; one masked load per
 * run and position). */
#include "kernels/conv_cl.h"

#if CNNC__ISA_X86
#include <immintrin.h>

#include "kernels/transpose16_avx512.h"
#include "kernels/lanes_avx2.h"
#include "kernels/transpose8_avx2.h"
#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2")))
#endif

static void transpose_scalar(float *dst, int64_t ldd, const float *src, int64_t lds,
                             const int64_t *src_rows, int64_t rows, int64_t cols) {
    enum { B = 16 }; /* blocks: both sides stay in few pages */
    for (int64_t i0 = 0; i0 < rows; i0 += B)
        for (int64_t j0 = 0; j0 < cols; j0 += B) {
            const int64_t i1 = i0 + B < rows ? i0 + B : rows, j1 = j0 + B < cols ? j0 + B : cols;
            for (int64_t i = i0; i < i1; i++) {
                const float *s = src + (src_rows ? src_rows[i] : i) * lds;
                for (int64_t j = j0; j < j1; j++) dst[j * ldd + i] = s[j];
            }
        }
}

static void panel_scalar(float *dst, int64_t mr, int64_t kc, const float *src,
                         const int64_t *base, const int64_t *lane, const int64_t *off,
                         int64_t nruns) {
    const int64_t rows = lane[nruns];
    for (int64_t p = 0; p < kc; p++) {
        float *d = dst + p * mr;
        for (int64_t r = 0; r < nruns; r++) {
            const float *s = src + base[p] + off[r] - lane[r];
            for (int64_t i = lane[r]; i < lane[r + 1]; i++) d[i] = s[i];
        }
        for (int64_t i = rows; i < mr; i++) d[i] = 0.0f;
    }
}

#if CNNC__ISA_X86

/* One 16 x 16 tile (ni rows, nj columns of it inside the matrix); full tiles with
 * plain loads and stores (masked ones cost more on some cores). */
AVX512 static inline void tile16(float *dst, int64_t ldd, const float *const *rows, int64_t j0,
                                 int64_t ni, int64_t nj) {
    __m512 r[16];
    if (ni == 16 && nj == 16) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(rows[i] + j0);
        cnnc__transpose16_avx512(r);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) _mm512_storeu_ps(dst + j * ldd, r[j]);
        return;
    }
    const __mmask16 mi = (__mmask16)(0xFFFFu >> (16 - ni)), mj = (__mmask16)(0xFFFFu >> (16 - nj));
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = i < ni ? _mm512_maskz_loadu_ps(mj, rows[i] + j0) : _mm512_setzero_ps();
    cnnc__transpose16_avx512(r);
    for (int64_t j = 0; j < nj; j++) _mm512_mask_storeu_ps(dst + j * ldd, mi, r[j]);
}

/* In column bands of TR_BAND: down a band, the tiles write the same TR_BAND rows of
 * dst (few pages: large matrices with long rows thrashed the TLB going across). */
AVX512 static void transpose_avx512(float *dst, int64_t ldd, const float *src, int64_t lds,
                                    const int64_t *src_rows, int64_t rows, int64_t cols) {
    enum { TR_BAND = 64 };
    for (int64_t jb = 0; jb < cols; jb += TR_BAND) {
        const int64_t je = cols - jb < TR_BAND ? cols : jb + TR_BAND;
        for (int64_t i0 = 0; i0 < rows; i0 += 16) {
            const int64_t ni = rows - i0 < 16 ? rows - i0 : 16;
            const float *row[16];
            for (int64_t i = 0; i < 16; i++)
                row[i] = src + (i < ni ? (src_rows ? src_rows[i0 + i] : i0 + i) : 0) * lds;
            for (int64_t j0 = jb; j0 < je; j0 += 16)
                tile16(dst + j0 * ldd + i0, ldd, row, j0, ni, je - j0 < 16 ? je - j0 : 16);
        }
    }
}

/* The runs' loads merged into one vector, stored whole (lanes >= rows are zero; the
 * next position's store covers the lanes past mr) but for the last position. */
AVX512 static void panel_avx512(float *dst, int64_t mr, int64_t kc, const float *src,
                                const int64_t *base, const int64_t *lane, const int64_t *off,
                                int64_t nruns) {
    if (kc <= 0) return;
    __mmask16 m[16];
    const float *s[16];
    for (int64_t r = 0; r < nruns; r++) {
        m[r] = (__mmask16)((0xFFFFu >> (16 - lane[r + 1])) & ~(0xFFFFu >> (16 - lane[r])));
        s[r] = src + off[r] - lane[r];
    }
    const __mmask16 last = (__mmask16)(0xFFFFu >> (16 - mr));
    __m512 v;
    int64_t p = 0;
    if (nruns == 1 && lane[1] == mr) {
        for (; p < kc - 1; p++)
            _mm512_storeu_ps(dst + p * mr, _mm512_loadu_ps(s[0] + base[p]));
        v = _mm512_maskz_loadu_ps(m[0], s[0] + base[p]);
    } else if (nruns == 1) {
        for (; p < kc - 1; p++)
            _mm512_storeu_ps(dst + p * mr, _mm512_maskz_loadu_ps(m[0], s[0] + base[p]));
        v = _mm512_maskz_loadu_ps(m[0], s[0] + base[p]);
    } else if (nruns == 2) {
        for (; p < kc - 1; p++)
            _mm512_storeu_ps(dst + p * mr,
                             _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(m[0], s[0] + base[p]), m[1],
                                                  s[1] + base[p]));
        v = _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(m[0], s[0] + base[p]), m[1],
                                 s[1] + base[p]);
    } else {
        for (;; p++) {
            v = _mm512_setzero_ps();
            for (int64_t r = 0; r < nruns; r++) v = _mm512_mask_loadu_ps(v, m[r], s[r] + base[p]);
            if (p == kc - 1) break;
            _mm512_storeu_ps(dst + p * mr, v);
        }
    }
    _mm512_mask_storeu_ps(dst + p * mr, last, v);
}

/* ---- AVX2: 8 x 8 tiles and 8-lane panels ------------------------------------------ */

/* One 8 x 8 tile (ni rows, nj columns of it inside the matrix), as tile16. */
AVX2 static inline void tile8(float *dst, int64_t ldd, const float *const *rows, int64_t j0,
                              int64_t ni, int64_t nj) {
    __m256 r[8];
    if (ni == 8 && nj == 8) {
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(rows[i] + j0);
        cnnc__transpose8_avx2(r);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) _mm256_storeu_ps(dst + j * ldd, r[j]);
        return;
    }
    const __m256i mj = cnnc__lanes_avx2(nj);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        r[i] = i < ni ? _mm256_maskload_ps(rows[i] + j0, mj) : _mm256_setzero_ps();
    cnnc__transpose8_avx2(r);
    for (int64_t j = 0; j < nj; j++) cnnc__store_n_avx2(dst + j * ldd, r[j], ni);
}

/* As transpose_avx512, in 8 x 8 tiles. */
AVX2 static void transpose_avx2(float *dst, int64_t ldd, const float *src, int64_t lds,
                                const int64_t *src_rows, int64_t rows, int64_t cols) {
    enum { TR_BAND = 64 };
    for (int64_t jb = 0; jb < cols; jb += TR_BAND) {
        const int64_t je = cols - jb < TR_BAND ? cols : jb + TR_BAND;
        for (int64_t i0 = 0; i0 < rows; i0 += 8) {
            const int64_t ni = rows - i0 < 8 ? rows - i0 : 8;
            const float *row[8];
            for (int64_t i = 0; i < 8; i++)
                row[i] = src + (i < ni ? (src_rows ? src_rows[i0 + i] : i0 + i) : 0) * lds;
            for (int64_t j0 = jb; j0 < je; j0 += 8)
                tile8(dst + j0 * ldd + i0, ldd, row, j0, ni, je - j0 < 8 ? je - j0 : 8);
        }
    }
}

/* As panel_avx512 with one 8-lane vector a position (mr <= 8: the AVX2 GEMM's 6-row
 * panels; wider ones take the portable loop). */
AVX2 static void panel_avx2(float *dst, int64_t mr, int64_t kc, const float *src,
                            const int64_t *base, const int64_t *lane, const int64_t *off,
                            int64_t nruns) {
    if (mr > 8) {
        panel_scalar(dst, mr, kc, src, base, lane, off, nruns);
        return;
    }
    if (kc <= 0) return;
    __m256i m[8];
    const float *s[8];
    for (int64_t r = 0; r < nruns; r++) {
        m[r] = _mm256_andnot_si256(cnnc__lanes_avx2(lane[r]), cnnc__lanes_avx2(lane[r + 1]));
        s[r] = src + off[r] - lane[r];
    }
    __m256 v;
    int64_t p = 0;
    if (nruns == 1 && lane[1] == mr) {
        for (; p < kc - 1; p++) _mm256_storeu_ps(dst + p * mr, _mm256_loadu_ps(s[0] + base[p]));
        v = _mm256_maskload_ps(s[0] + base[p], m[0]);
    } else {
        for (;; p++) {
            v = _mm256_maskload_ps(s[0] + base[p], m[0]);
            for (int64_t r = 1; r < nruns; r++)
                v = _mm256_or_ps(v, _mm256_maskload_ps(s[r] + base[p], m[r]));
            if (p == kc - 1) break;
            _mm256_storeu_ps(dst + p * mr, v);
        }
    }
    cnnc__store_n_avx2(dst + p * mr, v, mr);
}
#endif

/* X-list, fastest first: (level, transpose, panel). */
#if CNNC__ISA_X86
#define CL_SIMD_VARIANTS(X) X(AVX512, transpose_avx512, panel_avx512) X(AVX2, transpose_avx2, panel_avx2)
#else
#define CL_SIMD_VARIANTS(X)
#endif
#define CL_VARIANTS(X) CL_SIMD_VARIANTS(X) X(SCALAR, transpose_scalar, panel_scalar)

typedef struct cl_variant {
    cnnc__isa isa;
    void (*transpose)(float *dst, int64_t ldd, const float *src, int64_t lds,
                      const int64_t *src_rows, int64_t rows, int64_t cols);
    void (*panel)(float *dst, int64_t mr, int64_t kc, const float *src, const int64_t *base,
                  const int64_t *lane, const int64_t *off, int64_t nruns);
} cl_variant;

static const cl_variant variants[] = {
#define CNNC__X(isa, transpose, panel) {CNNC__ISA_##isa, transpose, panel},
    CL_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, cl_variant, variants)

void cnnc__conv_cl_transpose(cnnc__isa isa, float *dst, int64_t ldd, const float *src,
                             int64_t lds, const int64_t *src_rows, int64_t rows, int64_t cols) {
    variant(isa)->transpose(dst, ldd, src, lds, src_rows, rows, cols);
}

void cnnc__conv_cl_panel(cnnc__isa isa, float *dst, int64_t mr, int64_t kc, const float *src,
                         const int64_t *base, const int64_t *lane, const int64_t *off,
                         int64_t nruns) {
    variant(isa)->panel(dst, mr, kc, src, base, lane, off, nruns);
}
