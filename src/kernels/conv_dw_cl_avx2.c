/* Depthwise 3x3 forward, AVX2 + FMA, on runs of planes 8 channels at a time: each
 * group of 8 consecutive planes is transposed into a zero-bordered channels-last
 * buffer [padded rows][ld][8] (a band of rows at a time), so that one vector holds
 * a pixel's 8 channels and every tap is one FMA with the 8 channels' weights (no
 * broadcasts, no lanes lost to a plane's short rows, no per-plane set-up); blocks of
 * CL_BLOCK outputs along a row load each input vector once for all the outputs that
 * read it; the sums, clamped, go to a channels-last band of outputs that is
 * transposed back into the 8 planes. The same stride 1 or 2 in H and W, padding 0..2,
 * dilation 1.
 * Each output is bias, then the taps in (q1, q2) order fused-multiply-added, a tap
 * reading padding adding w * 0 (the bits of conv_dw_band_avx2.c's buffered path),
 * then the clamp.
 * Channels-last planes (cnnc__dw_cl_nhwc_forward_avx2, ops/conv_fused_cl.c's chain) go
 * the same way without the transposes: a pixel's 8 channels are one load into the
 * buffer (through the source's own epilogue), and the outputs go out, transposed, as
 * rows of the GEMM's packed B that reads them. */
#include "kernels/conv_dw_internal.h"

#if CNNC__ISA_X86
#include <immintrin.h>
#include <stdint.h>

#include "kernels/lanes_avx2.h"
#include "kernels/transpose8_avx2.h"

CNNC__ISA_TARGET_BEGIN("avx2,fma")

/* CL_IN: the input band's floats; CL_OUT: the output band's; CL_BLOCK: outputs per
 * register block along a row. */
enum { CL_IN = 4096, CL_OUT = 4096, CL_BLOCK = 7 };

#define CL_INLINE static inline __attribute__((always_inline))

/* A pass: source planes [ih, iw], destination [oh, ow]; the buffer's padded rows of ld
 * pixels, source pixel (r, c) at padded (r + ph, c + pw); rows x cols of the source
 * are read (the rest never reaches an output); band output rows per fill. */
typedef struct cl_geom {
    int64_t ih, iw, oh, ow, ph, pw;
    int64_t rows, cols, ld, band;
} cl_geom;

/* A group's taps [9] and bias, each the 8 channels' values; the output clamp. */
typedef struct cl_taps {
    __m256 wv[9], bias, lo, hi;
} cl_taps;

/* Group's weights w [8, 9] as 9 vectors of the 8 channels' tap q. */
CL_INLINE void taps_of(cl_taps *tp, const float *w, const float *bias) {
    __m256 r[8];
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++) r[c] = _mm256_loadu_ps(w + 9 * c); /* taps 0..7 */
    cnnc__transpose8_avx2(r);
#pragma GCC unroll 8
    for (int q = 0; q < 8; q++) tp->wv[q] = r[q];
    tp->wv[8] = _mm256_i32gather_ps(w + 8, _mm256_setr_epi32(0, 9, 18, 27, 36, 45, 54, 63), 4);
    tp->bias = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
}

/* Source row r of the group's 8 planes (x, isz apart) into buffer row dst [ld][8] from
 * padded column pw: 8 columns at a time through the transpose. The lanes past the row
 * load as zeros (plain loads running into the next row, masked ones on a plane's last
 * row), so every chunk stores 8 pixels: those past the row land on the right padding
 * (zeros) or past what the taps read. */
CL_INLINE void fill_row(float *dst, const float *x, int64_t isz, int64_t r, const cl_geom *b) {
    const float *src = x + r * b->iw;
    const int64_t left = (b->ih - r) * b->iw; /* floats readable from src in each plane */
    for (int64_t c = 0; c < b->cols; c += 8) {
        const int64_t n = b->cols - c;
        __m256 v[8];
        if (n >= 8) {
#pragma GCC unroll 8
            for (int ch = 0; ch < 8; ch++) v[ch] = _mm256_loadu_ps(src + ch * isz + c);
        } else if (left - c >= 8) {
            const __m256 m = _mm256_castsi256_ps(cnnc__lanes_avx2(n));
#pragma GCC unroll 8
            for (int ch = 0; ch < 8; ch++)
                v[ch] = _mm256_and_ps(_mm256_loadu_ps(src + ch * isz + c), m);
        } else {
            const __m256i m = cnnc__lanes_avx2(n);
#pragma GCC unroll 8
            for (int ch = 0; ch < 8; ch++) v[ch] = _mm256_maskload_ps(src + ch * isz + c, m);
        }
        cnnc__transpose8_avx2(v);
        float *d = dst + (b->pw + c) * 8;
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) _mm256_store_ps(d + 8 * k, v[k]);
    }
}

/* Channels-last planes (cnnc__dw_cl_nhwc_forward_avx2): the source in blocks of 16
 * channels blk floats apart, its pixels ld floats apart in a block, read through its
 * own epilogue: + bias [channels] (NULL: none), then clamp (NULL: none); the
 * destination as a GEMM's packed B (kernels/gemm.h), channels its rows, pixels its
 * columns: panels of 16 pixels pstride floats apart, a channel's 16 floats in a row. */
typedef struct cl_nhwc {
    int64_t ld, blk;
    const float *bias;
    const cnnc__conv_clamp *clamp;
    int64_t pstride;
} cl_nhwc;

/* A group's 8 channels of a channels-last source as fill_row_cl reads them. */
typedef struct cl_pre {
    int64_t ld;
    __m256 bias, lo, hi;
    bool add, clamp;
} cl_pre;

CL_INLINE cl_pre pre_of(const cl_nhwc *src, int64_t c0) {
    cl_pre p = {.ld = src->ld, .add = src->bias != NULL, .clamp = src->clamp != NULL};
    p.bias = p.add ? _mm256_loadu_ps(src->bias + c0) : _mm256_setzero_ps();
    p.lo = _mm256_set1_ps(p.clamp ? src->clamp->lo : 0.0f);
    p.hi = _mm256_set1_ps(p.clamp ? src->clamp->hi : 0.0f);
    return p;
}

/* Source row r of a channels-last source into buffer row dst [ld][8] from padded column
 * pw: a load per pixel, v + bias when add, then clamped when clamp (the bits of the
 * GEMM's fused epilogue, cnnc__conv_epilogue_row); the padding columns stay zero. */
CL_INLINE void fill_pixels(const bool ADD, const bool CLAMP, float *d, const float *p,
                           int64_t n, const cl_pre *src) {
    const __m256 bias = src->bias, lo = src->lo, hi = src->hi;
    for (int64_t c = 0; c < n; c++) {
        __m256 v = _mm256_loadu_ps(p + c * src->ld);
        if (ADD) v = _mm256_add_ps(v, bias);
        if (CLAMP) v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
        _mm256_store_ps(d + 8 * c, v);
    }
}

CL_INLINE void fill_row_cl(float *dst, const float *x, int64_t r, const cl_geom *b,
                           const cl_pre *src) {
    const float *p = x + r * b->iw * src->ld;
    float *d = dst + b->pw * 8;
    if (src->add && src->clamp)
        fill_pixels(true, true, d, p, b->cols, src);
    else if (src->add)
        fill_pixels(true, false, d, p, b->cols, src);
    else if (src->clamp)
        fill_pixels(false, true, d, p, b->cols, src);
    else
        fill_pixels(false, false, d, p, b->cols, src);
}

/* Buffer rows t < nrows from padded rows p0 + t: source rows filled (src: from a
 * channels-last source, else from the planes), padding rows zeroed unless zero[t]
 * says they hold zeros already (they stay put from group to group). The padding
 * columns are zeroed once per call (cl_forward). */
CL_INLINE void fill_band(float *buf, bool *zero, const float *x, int64_t isz, int64_t p0,
                         int64_t nrows, const cl_geom *b, const cl_pre *src) {
    for (int64_t t = 0; t < nrows; t++) {
        const int64_t r = p0 + t - b->ph;
        float *row = buf + t * b->ld * 8;
        if (r >= 0 && r < b->rows) {
            if (src)
                fill_row_cl(row, x, r, b, src);
            else
                fill_row(row, x, isz, r, b);
            zero[t] = false;
        } else if (!zero[t]) {
            for (int64_t c = 0; c < b->ld; c++) _mm256_store_ps(row + 8 * c, _mm256_setzero_ps());
            zero[t] = true;
        }
    }
}

/* NB outputs of a row at dst [NB][8] from the buffer at src (the first tap's pixel):
 * bias, then per tap row every input vector loaded once and fused-multiply-added into
 * each output whose taps read it (t ascending: each output's q2 ascending). */
CL_INLINE void block(const int S, const bool CL, const int NB, float *dst, const float *src,
                     int64_t ld, const cl_taps *tp) {
    __m256 acc[CL_BLOCK];
    /* (the taps loaded in the block, as FMA operands: hoisted out of the row loop,
     * nine registers of them spilled the accumulators) */
    const __m256 *wv = tp->wv;
    __asm__("" : "+r"(wv));
#pragma GCC unroll 8
    for (int a = 0; a < NB; a++) acc[a] = tp->bias;
#pragma GCC unroll 3
    for (int q1 = 0; q1 < 3; q1++) {
        const float *row = src + q1 * ld * 8;
        /* (opaque: else GCC keeps every tap's address as its own induction variable,
         * spilled, and reloads them around the FMAs) */
        __asm__("" : "+r"(row));
#pragma GCC unroll 16
        for (int t = 0; t < (NB - 1) * S + 3; t++) {
            const __m256 xv = _mm256_load_ps(row + 8 * t);
#pragma GCC unroll 8
            for (int a = 0; a < NB; a++) {
                const int q2 = t - a * S;
                if (q2 >= 0 && q2 < 3) acc[a] = _mm256_fmadd_ps(wv[q1 * 3 + q2], xv, acc[a]);
            }
        }
    }
#pragma GCC unroll 8
    for (int a = 0; a < NB; a++) {
        __m256 o = acc[a];
        if (CL) o = _mm256_min_ps(tp->hi, _mm256_max_ps(tp->lo, o)); /* as the band kernels */
        _mm256_store_ps(dst + 8 * a, o);
    }
}

/* An output row of ow >= NB pixels: blocks of NB, the last moved back to end at the
 * row's end (recomputing a few outputs). */
CL_INLINE void out_row(const int S, const bool CL, const int NB, float *dst, const float *src,
                       const cl_geom *b, const cl_taps *tp) {
    int64_t j = 0;
    for (; j + NB <= b->ow; j += NB) block(S, CL, NB, dst + 8 * j, src + 8 * S * j, b->ld, tp);
    if (j < b->ow) {
        j = b->ow - NB;
        block(S, CL, NB, dst + 8 * j, src + 8 * S * j, b->ld, tp);
    }
}

/* The band's np output pixels out [np][8] into the group's 8 planes at y (osz apart),
 * 8 pixels at a time through the transpose; out holds 8-rounded np pixels. Every
 * other chunk touches the lines the next group (8 planes on) writes there, for
 * writing: eight streams of a few lines each, the hardware prefetcher leaves them
 * cold, and in MobileNetV2 the outputs come from memory (1 thread, batch 8, CNNC_TRACE
 * medians, two alternations, ms without -> with: 960x7x7 x3 0.73-0.74 -> 0.67-0.68,
 * stride 2 576x14x14 0.39-0.41 -> 0.33-0.37, 192x28x28 0.51-0.58 -> 0.43-0.45). */
CL_INLINE void store_band(float *y, int64_t osz, const float *out, int64_t np) {
    for (int64_t p = 0; p < np; p += 8) {
        __m256 v[8];
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) v[k] = _mm256_load_ps(out + 8 * (p + k));
        cnnc__transpose8_avx2(v);
        if ((p & 8) == 0) {
#pragma GCC unroll 8
            for (int ch = 0; ch < 8; ch++) __builtin_prefetch(y + (8 + ch) * osz + p, 1, 3);
        }
        if (np - p >= 8) {
#pragma GCC unroll 8
            for (int ch = 0; ch < 8; ch++) _mm256_storeu_ps(y + ch * osz + p, v[ch]);
        } else {
#pragma GCC unroll 8
            for (int ch = 0; ch < 8; ch++) cnnc__store_n_avx2(y + ch * osz + p, v[ch], np - p);
        }
    }
}

/* The band's np output pixels out [np][8] from pixel q0 (a multiple of 8) into the
 * packed panels at y (the group's first channel row), 8 pixels at a time through the
 * transpose: rows of 8 channels. The lanes past np are set to zero first (the last
 * panel's columns past the plane must be finite; elsewhere the next band writes them
 * after). */
CL_INLINE void store_band_panels(float *y, int64_t pstride, float *out, int64_t q0,
                                 int64_t np) {
    for (int64_t p = np; p % 8; p++) _mm256_store_ps(out + 8 * p, _mm256_setzero_ps());
    for (int64_t p = 0; p < np; p += 8) {
        __m256 v[8];
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) v[k] = _mm256_load_ps(out + 8 * (p + k));
        cnnc__transpose8_avx2(v);
        const int64_t at = q0 + p;
        float *d = y + at / 16 * pstride + at % 16;
#pragma GCC unroll 8
        for (int ch = 0; ch < 8; ch++) _mm256_storeu_ps(d + 16 * ch, v[ch]);
    }
}

/* n (a multiple of 8) planes: y [n, oh, ow] from x [n, ih, iw], w [n, 9], bias [n]
 * (NULL: zeros), clamped by clamp when CL. T: x and y channels-last instead (src's). */
CL_INLINE void cl_planes(const int S, const bool CL, const int NB, const bool T, float *y,
                         const float *x, const float *w, const float *bias, int64_t n,
                         const cl_geom *b, const cnnc__conv_clamp *clamp, const cl_nhwc *src) {
    _Alignas(32) float in[CL_IN];   /* [band rows][ld][8] */
    _Alignas(32) float out[CL_OUT]; /* [8-rounded band pixels][8] */
    bool zero[CL_IN / 8];           /* per buffer row */
    const int64_t isz = b->ih * b->iw, osz = b->oh * b->ow, nrows_max = (b->band - 1) * S + 3;
    for (int64_t i = 0; i < nrows_max * b->ld * 8; i += 8)
        _mm256_store_ps(in + i, _mm256_setzero_ps());
    for (int64_t t = 0; t < nrows_max; t++) zero[t] = true;
    cl_taps tp;
    if (CL) {
        tp.lo = _mm256_set1_ps(clamp->lo);
        tp.hi = _mm256_set1_ps(clamp->hi);
    }
    for (int64_t c0 = 0; c0 < n; c0 += 8) {
        taps_of(&tp, w + 9 * c0, bias ? bias + c0 : NULL);
        const float *xg = T ? x + c0 / 16 * src->blk + c0 % 16 : x + c0 * isz;
        float *yg = T ? y + 16 * c0 : y + c0 * osz;
        const cl_pre pre = T ? pre_of(src, c0) : (cl_pre){0};
        if (!T) cnnc__dw_prefetch_ahead(xg, 8 * isz, 8 * isz * (int64_t)sizeof(float), false);
        for (int64_t r0 = 0; r0 < b->oh; r0 += b->band) {
            const int64_t nb = b->oh - r0 < b->band ? b->oh - r0 : b->band;
            fill_band(in, zero, xg, isz, r0 * S, (nb - 1) * S + 3, b, T ? &pre : NULL);
            for (int64_t o = 0; o < nb; o++)
                out_row(S, CL, NB, out + o * b->ow * 8, in + o * S * b->ld * 8, b, &tp);
            if (T)
                store_band_panels(yg, src->pstride, out, r0 * b->ow, nb * b->ow);
            else
                store_band(yg + r0 * b->ow, osz, out, nb * b->ow);
        }
    }
}

typedef void (*cl_fn)(float *y, const float *x, const float *w, const float *bias, int64_t n,
                      const cl_geom *b, const cnnc__conv_clamp *clamp, const cl_nhwc *src);
#define CL_FWD(S, CL, NB, T)                                                                 \
    static void cl_##S##_##CL##_##NB##_##T(float *y, const float *x, const float *w,         \
                                           const float *bias, int64_t n, const cl_geom *b,  \
                                           const cnnc__conv_clamp *clamp,                   \
                                           const cl_nhwc *src) {                              \
        cl_planes(S, CL, NB, T, y, x, w, bias, n, b, clamp, src);                           \
    }
#define CL_FWD_NB(S, CL, T) \
    CL_FWD(S, CL, 1, T)     \
    CL_FWD(S, CL, 2, T)     \
    CL_FWD(S, CL, 3, T)     \
    CL_FWD(S, CL, 4, T)     \
    CL_FWD(S, CL, 5, T)     \
    CL_FWD(S, CL, 6, T)     \
    CL_FWD(S, CL, 7, T)
CL_FWD_NB(1, 0, 0)
CL_FWD_NB(1, 1, 0)
CL_FWD_NB(2, 0, 0)
CL_FWD_NB(2, 1, 0)
CL_FWD(1, 0, 7, 1)
CL_FWD(1, 1, 7, 1)
CL_FWD(2, 0, 7, 1)
CL_FWD(2, 1, 7, 1)
#undef CL_FWD_NB
#undef CL_FWD
#define CL_ROW(S, CL) \
    {cl_##S##_##CL##_1_0, cl_##S##_##CL##_2_0, cl_##S##_##CL##_3_0, cl_##S##_##CL##_4_0, \
     cl_##S##_##CL##_5_0, cl_##S##_##CL##_6_0, cl_##S##_##CL##_7_0}
static const cl_fn cl_fns[2][2][CL_BLOCK] = {{CL_ROW(1, 0), CL_ROW(1, 1)},
                                             {CL_ROW(2, 0), CL_ROW(2, 1)}};
#undef CL_ROW
/* channels-last, rows of CL_BLOCK outputs or more: [stride - 1][clamp] */
static const cl_fn cl_nhwc_fns[2][2] = {{cl_1_0_7_1, cl_1_1_7_1}, {cl_2_0_7_1, cl_2_1_7_1}};

/* Square 3x3, the same stride 1 or 2 in H and W, dilation 1, padding 0..2, bands of at
 * least one output row in both buffers; false otherwise. */
static bool cl_geom_of(cl_geom *b, const cnnc__window *g) {
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (g->k[1] != 3 || g->k[2] != 3 || g->stride[1] != g->stride[2]) return false;
    const int64_t s = g->stride[1];
    if (s != 1 && s != 2) return false;
    for (int d = 1; d < 3; d++)
        if (g->dil[d] != 1 || g->pad[d] < 0 || g->pad[d] > 2 || g->in[d] < 1 || g->out[d] < 1)
            return false;
    *b = (cl_geom){.ih = g->in[1], .iw = g->in[2], .oh = g->out[1], .ow = g->out[2],
                   .ph = g->pad[1], .pw = g->pad[2]};
    const int64_t hp = (b->oh - 1) * s + 3, wp = (b->ow - 1) * s + 3; /* padded extent read */
    b->rows = b->ih < hp - b->ph ? b->ih : hp - b->ph;
    b->cols = b->iw < wp - b->pw ? b->iw : wp - b->pw;
    const int64_t wr = b->pw + (b->cols + 7) / 8 * 8; /* the fills' stores */
    b->ld = wp > wr ? wp : wr;
    const int64_t by_in = (CL_IN / (8 * b->ld) - 3) / s + 1;
    const int64_t by_out = (CL_OUT / 8 - 7) / b->ow; /* (the last chunk's 8-rounding) */
    if (CL_IN / (8 * b->ld) < 3 || by_out < 1) return false;
    b->band = by_in < by_out ? by_in : by_out;
    if (b->band > b->oh) b->band = b->oh;
    return true;
}

/* Where the channels-last groups beat the bands: outputs up to CL_MAX_W[stride - 1]
 * wide. Alone (1 thread, batch 8, bias + ReLU6, min of 21, the two alternating in one
 * process, the planes in L2/L3 from the previous call; 3x3, padding 1; ms bands ->
 * groups) they won wider planes too: 384x14x14 0.40 -> 0.28-0.30, 576x14x14 0.61 ->
 * 0.54, 576x10x10 0.71 -> 0.39, stride 2 576x14x14 0.47 -> 0.23, 192x28x28 0.42 ->
 * 0.29, 144x56x56 2.33 -> 2.02 (and lost from 20x20 on at stride 1: 384x20x20 1.42 ->
 * 1.57, 192x28x28 0.78 -> 0.90, 144x56x56 3.06 -> 3.42). In MobileNetV2, where the
 * outputs come from memory (batch 8, 1 thread, CNNC_TRACE medians, alternating runs,
 * ms over the layers, with store_band's touch of the next group's lines), 7x7 and
 * stride 2 gained: 960x7x7 x3 0.83-0.93 -> 0.65-0.68, stride 2 576x14x14 0.50-0.84 ->
 * 0.33-0.46, 192x28x28 0.48-0.51 -> 0.43-0.54; 14x14 at stride 1 did not: 576x14x14 x2
 * 1.35-1.44 -> 1.71-1.73, 384x14x14 x4 1.73-1.75 -> 1.56-1.70. In L2 the groups' sums
 * alone ran at 70-75 GFLOP/s (256x14x14), the two transposes about half of the time. */
static const int64_t CL_MAX_W[2] = {8, 16};

int64_t cnnc__dw_cl_forward_avx2(float *y, const float *x, const float *w, const float *bias,
                                 int64_t n, const cnnc__window *g, const cnnc__dw_fwd_ep *ep) {
    cl_geom b;
    const int64_t n8 = n / 8 * 8;
    if (n8 == 0 || !cl_geom_of(&b, g) || b.ow > CL_MAX_W[g->stride[1] - 1]) return 0;
    if (ep && ((ep->xstep && ep->xstep != b.ih * b.iw) || ep->ystep != b.oh * b.ow || ep->xbias ||
               ep->xclamp || ep->xsplit))
        return 0;
    const bool cl = ep && ep->clamp;
    const int64_t nb = b.ow < CL_BLOCK ? b.ow : CL_BLOCK;
    cl_fns[g->stride[1] - 1][cl][nb - 1](y, x, w, bias, n8, &b, cl ? ep->clamp : NULL, NULL);
    return n8;
}

/* The channels-last planes' geometry: cl_geom_of's, rows of CL_BLOCK outputs or more,
 * bands of whole 8-pixel chunks (a multiple of 8 / gcd(ow, 8) rows, or all of them). */
static bool nhwc_geom(cl_geom *b, const cnnc__window *g) {
    if (!cl_geom_of(b, g) || b->ow < CL_BLOCK) return false;
    const int64_t unit = b->ow % 8 == 0 ? 1 : b->ow % 4 == 0 ? 2 : b->ow % 2 == 0 ? 4 : 8;
    if (b->band < b->oh) b->band = b->band / unit * unit;
    return b->band >= 1;
}

bool cnnc__dw_cl_nhwc_fits(const cnnc__window *g) {
    cl_geom b;
    return nhwc_geom(&b, g);
}

bool cnnc__dw_cl_nhwc_forward_avx2(float *y, int64_t pstride, const float *x, int64_t xld,
                                   int64_t xblk, const float *xbias,
                                   const cnnc__conv_clamp *xclamp, const float *w,
                                   const float *bias, int64_t n, const cnnc__window *g,
                                   const cnnc__conv_clamp *clamp) {
    cl_geom b;
    if (n % 8 || !nhwc_geom(&b, g)) return false;
    const cl_nhwc src = {xld, xblk, xbias, xclamp, pstride};
    cl_nhwc_fns[g->stride[1] - 1][clamp != NULL](y, x, w, bias, n, &b, clamp, &src);
    return true;
}

CNNC__ISA_TARGET_END
#else
typedef int cnnc__dw_cl_avx2_unused; /* ISO C: a translation unit is not empty */
#endif
