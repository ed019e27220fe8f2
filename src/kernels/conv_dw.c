/* Depthwise convolution (one input channel per group): direct kernels on one
 * plane at a time. The square 3x3 / 5x5 2-d planes go to the register-tiled kernels
 * of conv_dw_avx512.c and conv_dw_avx2.c; everything else (and what they decline) to
 * the rows variant: per output row and kernel tap, the W positions that read inside
 * the input are computed once; with W stride 1 the tap is then one SIMD axpy (or
 * dot) over the row, otherwise a strided scalar loop. The _ref versions are the
 * plain loops the tests compare against. */
#include <stdint.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/conv_dw_internal.h"

static inline int64_t first_inside(int64_t off, int64_t s) {
    return off >= 0 ? 0 : (-off + s - 1) / s;
}

static inline int64_t end_inside(int64_t off, int64_t s, int64_t in, int64_t out) {
    int64_t t = in - 1 - off;
    if (t < 0) return 0;
    int64_t e = t / s + 1;
    return e < out ? e : out;
}

/* For every output row (p0, p1) and every tap (q0, q1) that reads a row inside the
 * input: BODY with yrow (offset of the output row), xrow (offset of the input row)
 * and wq (offset of the tap row in the filter). */
#define DW_ROWS(g, BODY)                                                                     \
    do {                                                                                     \
        for (int64_t p0 = 0; p0 < (g)->out[0]; p0++)                                         \
            for (int64_t p1 = 0; p1 < (g)->out[1]; p1++) {                                   \
                const int64_t yrow = (p0 * (g)->out[1] + p1) * (g)->out[2];                  \
                for (int64_t q0 = 0; q0 < (g)->k[0]; q0++) {                                 \
                    const int64_t i0 = p0 * (g)->stride[0] - (g)->pad[0] + q0 * (g)->dil[0]; \
                    if (i0 < 0 || i0 >= (g)->in[0]) continue;                                \
                    for (int64_t q1 = 0; q1 < (g)->k[1]; q1++) {                             \
                        const int64_t i1 =                                                   \
                            p1 * (g)->stride[1] - (g)->pad[1] + q1 * (g)->dil[1];            \
                        if (i1 < 0 || i1 >= (g)->in[1]) continue;                            \
                        const int64_t xrow = (i0 * (g)->in[1] + i1) * (g)->in[2];            \
                        const int64_t wq = (q0 * (g)->k[1] + q1) * (g)->k[2];                \
                        BODY;                                                                \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
    } while (0)

/* Per W tap q2: off (input index of output position p is p * s2 + off) and the
 * range [lo, hi) of positions inside. */
#define DW_TAP(g, q2, off, lo, hi)                                        \
    const int64_t off = (q2) * (g)->dil[2] - (g)->pad[2];                 \
    const int64_t lo = first_inside(off, (g)->stride[2]);                 \
    int64_t hi = end_inside(off, (g)->stride[2], (g)->in[2], (g)->out[2]); \
    if (hi < lo) hi = lo

/* The rows variant: every level, the taps as the level's row primitives. */
static bool dw_forward_rows(cnnc__isa isa, float *y, const float *x, const float *w, float bias,
                            const cnnc__window *g) {
    const int64_t osz = cnnc__window_out_size(g), s2 = g->stride[2];
    const cnnc__conv_axpy_fn axpy = cnnc__conv_rows_of(isa)->axpy;
    memset(y, 0, (size_t)osz * sizeof(float));
    DW_ROWS(g, {
        float *yr = y + yrow;
        const float *xr = x + xrow;
        for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
            DW_TAP(g, q2, off, lo, hi);
            if (hi <= lo) continue;
            const float wv = w[wq + q2];
            if (s2 == 1) {
                axpy(yr + lo, xr + lo + off, wv, hi - lo);
            } else {
                for (int64_t p = lo; p < hi; p++) yr[p] += wv * xr[p * s2 + off];
            }
        }
    });
    if (bias != 0.0f)
        for (int64_t p = 0; p < osz; p++) y[p] += bias;
    return true;
}

static bool dw_backward_data_rows(cnnc__isa isa, float *dx, const float *dy, const float *w,
                                  const cnnc__window *g, bool accumulate) {
    const int64_t s2 = g->stride[2];
    if (!accumulate) memset(dx, 0, (size_t)cnnc__window_in_size(g) * sizeof(float));
    const cnnc__conv_axpy_fn axpy = cnnc__conv_rows_of(isa)->axpy;
    DW_ROWS(g, {
        const float *yr = dy + yrow;
        float *xr = dx + xrow;
        for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
            DW_TAP(g, q2, off, lo, hi);
            if (hi <= lo) continue;
            const float wv = w[wq + q2];
            if (s2 == 1) {
                axpy(xr + lo + off, yr + lo, wv, hi - lo);
            } else {
                for (int64_t p = lo; p < hi; p++) xr[p * s2 + off] += wv * yr[p];
            }
        }
    });
    return true;
}

static bool dw_backward_weight_rows(cnnc__isa isa, float *dw, const float *dy, const float *x,
                                    const cnnc__window *g) {
    const int64_t s2 = g->stride[2];
    const cnnc__conv_dot_fn dot = cnnc__conv_rows_of(isa)->dot;
    DW_ROWS(g, {
        const float *yr = dy + yrow;
        const float *xr = x + xrow;
        for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
            DW_TAP(g, q2, off, lo, hi);
            if (hi <= lo) continue;
            if (s2 == 1) {
                dw[wq + q2] += dot(yr + lo, xr + lo + off, hi - lo);
            } else {
                float s = 0.0f;
                for (int64_t p = lo; p < hi; p++) s += yr[p] * xr[p * s2 + off];
                dw[wq + q2] += s;
            }
        }
    });
    return true;
}

/* ---- AVX-512, W stride 1: 16 outputs per register, every tap accumulated in it ---- */

#if CNNC__ISA_X86
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))
enum { DW_MAX_ROWS = 64, DW_MAX_TAPS = 25 };

/* Lanes [lo, hi) of a 16-float chunk. */
static inline __mmask16 lanes(int64_t lo, int64_t hi) {
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* The 16 floats at row[off .. off + 16) under mask m (lanes outside it read as
 * zeros and are never touched): the address is formed as an integer, since row + off
 * may lie before the row (a masked load does not fault on lanes it skips). */
static inline AVX512 __m512 load_masked(const float *row, int64_t off, __mmask16 m) {
    const float *p = (const float *)((uintptr_t)row + (uintptr_t)(off * (int64_t)sizeof(float)));
    return _mm512_maskz_loadu_ps(m, p);
}

/* The input rows (and filter tap rows) an output row reads: up to DW_MAX_ROWS. */
static int dw_taps_of_row(const cnnc__window *g, int64_t p0, int64_t p1, int64_t *xrows,
                          int64_t *wrows) {
    int n = 0;
    for (int64_t q0 = 0; q0 < g->k[0]; q0++) {
        const int64_t i0 = p0 * g->stride[0] - g->pad[0] + q0 * g->dil[0];
        if (i0 < 0 || i0 >= g->in[0]) continue;
        for (int64_t q1 = 0; q1 < g->k[1]; q1++) {
            const int64_t i1 = p1 * g->stride[1] - g->pad[1] + q1 * g->dil[1];
            if (i1 < 0 || i1 >= g->in[1]) continue;
            xrows[n] = (i0 * g->in[1] + i1) * g->in[2];
            wrows[n] = (q0 * g->k[1] + q1) * g->k[2];
            n++;
        }
    }
    return n;
}

/* For a group of four 16-lane chunks starting at p (output positions p + j, j < 64,
 * of which nout - p exist) and each tap offset offs[q]: the source offset p + 16 c +
 * offs[q] and the mask of lanes that exist and read inside [0, len). */
static void group_masks(int64_t p, int64_t nout, int64_t len, const int64_t *offs, int64_t k2,
                        int64_t off[][4], __mmask16 mask[][4]) {
    for (int64_t q = 0; q < k2; q++)
        _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
            const int64_t pc = p + 16 * c;
            int64_t n = nout - pc;
            n = n < 0 ? 0 : (n > 16 ? 16 : n);
            const int64_t o = pc + offs[q];
            int64_t lo = o < 0 ? -o : 0, hi = len - o < n ? len - o : n;
            if (lo > 16) lo = 16;
            if (hi < lo) hi = lo;
            off[q][c] = o;
            mask[q][c] = lanes(lo, hi);
        }
}

static inline AVX512 void store4(float *row, int64_t p, int64_t nout, const __m512 acc[4]) {
    _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
        const int64_t pc = p + 16 * c;
        const int64_t n = nout - pc < 16 ? nout - pc : 16;
        if (n <= 0) break;
        _mm512_mask_storeu_ps(row + pc, lanes(0, n), acc[c]);
    }
}

/* y[p] = bias + sum over taps of w * x[p + q2 d2 - pad2] along each row; four
 * independent 16-lane accumulators keep the FMA pipeline full. */
static AVX512 void dw_forward_avx512(float *y, const float *x, const float *w, float bias,
                                     const cnnc__window *g) {
    int64_t xrows[DW_MAX_ROWS], wrows[DW_MAX_ROWS], offs[DW_MAX_TAPS], off[DW_MAX_TAPS][4];
    __mmask16 mask[DW_MAX_TAPS][4];
    const int64_t in2 = g->in[2], out2 = g->out[2], k2 = g->k[2];
    for (int64_t q2 = 0; q2 < k2; q2++) offs[q2] = q2 * g->dil[2] - g->pad[2];
    for (int64_t p = 0; p < out2; p += 64) {
        group_masks(p, out2, in2, offs, k2, off, mask);
        for (int64_t p0 = 0; p0 < g->out[0]; p0++)
            for (int64_t p1 = 0; p1 < g->out[1]; p1++) {
                const int nr = dw_taps_of_row(g, p0, p1, xrows, wrows);
                __m512 acc[4];
                _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) acc[c] = _mm512_set1_ps(bias);
                for (int r = 0; r < nr; r++) {
                    const float *xr = x + xrows[r];
                    for (int64_t q2 = 0; q2 < k2; q2++) {
                        const __m512 wv = _mm512_set1_ps(w[wrows[r] + q2]);
                        _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++)
                            acc[c] = _mm512_fmadd_ps(wv, load_masked(xr, off[q2][c], mask[q2][c]),
                                                     acc[c]);
                    }
                }
                store4(y + (p0 * g->out[1] + p1) * out2, p, out2, acc);
            }
    }
}

/* Stride 1 everywhere: dx[i] += sum over taps of w * dy[i - q d + pad] (a gather, so
 * every input chunk is written once). */
static AVX512 void dw_backward_data_avx512(float *dx, const float *dy, const float *w,
                                           const cnnc__window *g) {
    int64_t offs[DW_MAX_TAPS], off[DW_MAX_TAPS][4];
    __mmask16 mask[DW_MAX_TAPS][4];
    const int64_t in2 = g->in[2], out2 = g->out[2], k2 = g->k[2];
    for (int64_t q2 = 0; q2 < k2; q2++) offs[q2] = g->pad[2] - q2 * g->dil[2];
    for (int64_t i = 0; i < in2; i += 64) {
        group_masks(i, in2, out2, offs, k2, off, mask);
        for (int64_t i0 = 0; i0 < g->in[0]; i0++)
            for (int64_t i1 = 0; i1 < g->in[1]; i1++) {
                float *xr = dx + (i0 * g->in[1] + i1) * in2;
                __m512 acc[4];
                _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
                    const int64_t n = in2 - (i + 16 * c);
                    acc[c] = n > 0 ? _mm512_maskz_loadu_ps(lanes(0, n < 16 ? n : 16), xr + i + 16 * c)
                                   : _mm512_setzero_ps();
                }
                for (int64_t q0 = 0; q0 < g->k[0]; q0++) {
                    const int64_t p0 = i0 + g->pad[0] - q0 * g->dil[0];
                    if (p0 < 0 || p0 >= g->out[0]) continue;
                    for (int64_t q1 = 0; q1 < g->k[1]; q1++) {
                        const int64_t p1 = i1 + g->pad[1] - q1 * g->dil[1];
                        if (p1 < 0 || p1 >= g->out[1]) continue;
                        const float *yr = dy + (p0 * g->out[1] + p1) * out2;
                        const float *wr = w + (q0 * g->k[1] + q1) * k2;
                        for (int64_t q2 = 0; q2 < k2; q2++) {
                            const __m512 wv = _mm512_set1_ps(wr[q2]);
                            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++)
                                acc[c] = _mm512_fmadd_ps(
                                    wv, load_masked(yr, off[q2][c], mask[q2][c]), acc[c]);
                        }
                    }
                }
                store4(xr, i, in2, acc);
            }
    }
}

/* dw[q] += sum_p dy[p] x[p + q2 d2 - pad2]: one vector accumulator per tap over the
 * whole plane, reduced once at the end. */
static AVX512 void dw_backward_weight_avx512(float *dw, const float *dy, const float *x,
                                             const cnnc__window *g) {
    int64_t xrows[DW_MAX_ROWS], wrows[DW_MAX_ROWS], offs[DW_MAX_TAPS], off[DW_MAX_TAPS][4];
    __mmask16 mask[DW_MAX_TAPS][4];
    __m512 acc[DW_MAX_TAPS];
    const int64_t ksz = cnnc__window_k_size(g), in2 = g->in[2], out2 = g->out[2], k2 = g->k[2];
    for (int64_t q2 = 0; q2 < k2; q2++) offs[q2] = q2 * g->dil[2] - g->pad[2];
    for (int64_t q = 0; q < ksz; q++) acc[q] = _mm512_setzero_ps();
    for (int64_t p = 0; p < out2; p += 64) {
        group_masks(p, out2, in2, offs, k2, off, mask);
        for (int64_t p0 = 0; p0 < g->out[0]; p0++)
            for (int64_t p1 = 0; p1 < g->out[1]; p1++) {
                const int nr = dw_taps_of_row(g, p0, p1, xrows, wrows);
                const float *yr = dy + (p0 * g->out[1] + p1) * out2;
                __m512 vy[4];
                _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
                    const int64_t n = out2 - (p + 16 * c);
                    vy[c] = n > 0 ? _mm512_maskz_loadu_ps(lanes(0, n < 16 ? n : 16), yr + p + 16 * c)
                                  : _mm512_setzero_ps();
                }
                for (int r = 0; r < nr; r++) {
                    const float *xr = x + xrows[r];
                    __m512 *a = acc + wrows[r];
                    for (int64_t q2 = 0; q2 < k2; q2++) {
                        __m512 t = _mm512_mul_ps(vy[0], load_masked(xr, off[q2][0], mask[q2][0]));
                        t = _mm512_fmadd_ps(vy[1], load_masked(xr, off[q2][1], mask[q2][1]), t);
                        t = _mm512_fmadd_ps(vy[2], load_masked(xr, off[q2][2], mask[q2][2]), t);
                        t = _mm512_fmadd_ps(vy[3], load_masked(xr, off[q2][3], mask[q2][3]), t);
                        a[q2] = _mm512_add_ps(a[q2], t);
                    }
                }
            }
    }
    for (int64_t q = 0; q < ksz; q++) dw[q] += _mm512_reduce_add_ps(acc[q]);
}

/* The variant's entry points: decline (false) geometries the kernels do not cover
 * (W stride other than 1, more taps than they keep in registers). The square kernels
 * of conv_dw_avx512.c go first at every width: with their row blocks they beat the
 * AVX2 ones (row buffers split into even and odd phases) also on wide W-stride-2
 * planes, which those won before (1 thread, 3x3 stride 2, 1024 planes of 56x56,
 * ns per plane: forward 1050 -> 568, backward-data 1038 -> 790, backward-weight
 * 1056 -> 579; 256 planes of 112x112: 2563 -> 1593, 3145 -> 2810, 2605 -> 1845). */
static bool dw_forward_avx512_try(cnnc__isa isa, float *y, const float *x, const float *w,
                                  float bias, const cnnc__window *g) {
    (void)isa;
    if (cnnc__dw_sq_forward_avx512(y, x, w, bias, g)) return true;
    if (g->stride[2] != 1 || g->k[0] * g->k[1] > DW_MAX_ROWS || g->k[2] > DW_MAX_TAPS)
        return false;
    dw_forward_avx512(y, x, w, bias, g);
    return true;
}

static bool dw_backward_data_avx512_try(cnnc__isa isa, float *dx, const float *dy,
                                        const float *w, const cnnc__window *g, bool accumulate) {
    (void)isa;
    if (cnnc__dw_sq_backward_data_avx512(dx, dy, w, g, accumulate)) return true;
    if (g->stride[0] != 1 || g->stride[1] != 1 || g->stride[2] != 1 || g->k[2] > DW_MAX_TAPS)
        return false;
    if (!accumulate) memset(dx, 0, (size_t)cnnc__window_in_size(g) * sizeof(float));
    dw_backward_data_avx512(dx, dy, w, g);
    return true;
}

static bool dw_backward_weight_avx512_try(cnnc__isa isa, float *dw, const float *dy,
                                          const float *x, const cnnc__window *g) {
    (void)isa;
    if (cnnc__dw_sq_backward_weight_avx512(dw, dy, x, g)) return true;
    if (g->stride[2] != 1 || cnnc__window_k_size(g) > DW_MAX_TAPS ||
        g->k[0] * g->k[1] > DW_MAX_ROWS)
        return false;
    dw_backward_weight_avx512(dw, dy, x, g);
    return true;
}

/* Runs of planes: the flat kernels, the square ones, or decline (plane by plane then). */
static bool dw_forward_planes_avx512(float *y, const float *x, const float *w, const float *bias,
                                     int64_t n, const cnnc__window *g) {
    return cnnc__dw_flat_forward_avx512(y, x, w, bias, n, g) ||
           cnnc__dw_sq_forward_planes_avx512(y, x, w, bias, n, g);
}

static bool dw_backward_data_planes_avx512(float *dx, const float *dy, const float *w, int64_t n,
                                           const cnnc__window *g) {
    return cnnc__dw_flat_backward_data_avx512(dx, dy, w, n, g) ||
           cnnc__dw_phase_backward_data_avx512(dx, dy, w, n, g) ||
           cnnc__dw_sq_backward_data_planes_avx512(dx, dy, w, n, g);
}

static bool dw_backward_weight_planes_avx512(float *dw, const float *dy, const float *x,
                                             int64_t n, cnnc__dw_images im,
                                             const cnnc__window *g) {
    if (cnnc__dw_flat_backward_weight_avx512(dw, dy, x, n, im, g)) return true;
    if (!cnnc__dw_sq_backward_weight_planes_avx512(dw, dy, x, n, g)) return false;
    for (int64_t b = 1; b < im.n; b++)
        cnnc__dw_sq_backward_weight_planes_avx512(dw, dy + b * im.dy_step, x + b * im.x_step, n, g);
    return true;
}

/* AVX2: the square kernels, or decline (the rows variant at the AVX2 level runs). */
static bool dw_forward_avx2_try(cnnc__isa isa, float *y, const float *x, const float *w,
                                float bias, const cnnc__window *g) {
    (void)isa;
    return cnnc__dw_sq_forward_avx2(y, x, w, bias, g);
}

static bool dw_backward_data_avx2_try(cnnc__isa isa, float *dx, const float *dy, const float *w,
                                      const cnnc__window *g, bool accumulate) {
    (void)isa;
    return cnnc__dw_sq_backward_data_avx2(dx, dy, w, g, accumulate);
}

static bool dw_backward_weight_avx2_try(cnnc__isa isa, float *dw, const float *dy,
                                        const float *x, const cnnc__window *g) {
    (void)isa;
    return cnnc__dw_sq_backward_weight_avx2(dw, dy, x, g);
}

static bool dw_band_forward_planes_avx2(float *y, const float *x, const float *w,
                                        const float *bias, int64_t n, const cnnc__window *g) {
    return cnnc__dw_band_forward_avx2(y, x, w, bias, n, g, NULL);
}
#endif

/* X-list, fastest first: (level, name, forward, backward data, backward weight, the
 * three on runs of planes, and the forward on runs with an epilogue
 * (cnnc__dwconv_forward_band); NULL: none). A variant may decline a geometry (false):
 * a run of planes then goes plane by plane, and a plane to the rows variant at the
 * same level (its axpy and dot are the level's row primitives). */
#if CNNC__ISA_X86
#define DW_SIMD_VARIANTS(X)                                                                  \
    X(AVX512, f32_dwconv__avx512, dw_forward_avx512_try, dw_backward_data_avx512_try,        \
      dw_backward_weight_avx512_try, dw_forward_planes_avx512, dw_backward_data_planes_avx512, \
      dw_backward_weight_planes_avx512, NULL)                                               \
    X(AVX2, f32_dwconv__avx2, dw_forward_avx2_try, dw_backward_data_avx2_try,                 \
      dw_backward_weight_avx2_try, dw_band_forward_planes_avx2,                               \
      cnnc__dw_band_backward_data_avx2, cnnc__dw_band_backward_weight_avx2,                   \
      cnnc__dw_band_forward_avx2)
#else
#define DW_SIMD_VARIANTS(X)
#endif
#define DW_VARIANTS(X)                                                                         \
    DW_SIMD_VARIANTS(X)                                                                        \
    X(SCALAR, f32_dwconv__rows, dw_forward_rows, dw_backward_data_rows, dw_backward_weight_rows, \
      NULL, NULL, NULL, NULL)

typedef struct dw_variant {
    cnnc__isa isa;
    const char *name;
    bool (*forward)(cnnc__isa isa, float *y, const float *x, const float *w, float bias,
                    const cnnc__window *g);
    bool (*backward_data)(cnnc__isa isa, float *dx, const float *dy, const float *w,
                          const cnnc__window *g, bool accumulate);
    bool (*backward_weight)(cnnc__isa isa, float *dw, const float *dy, const float *x,
                            const cnnc__window *g);
    bool (*forward_planes)(float *y, const float *x, const float *w, const float *bias, int64_t n,
                           const cnnc__window *g);
    bool (*backward_data_planes)(float *dx, const float *dy, const float *w, int64_t n,
                                 const cnnc__window *g);
    bool (*backward_weight_planes)(float *dw, const float *dy, const float *x, int64_t n,
                                   cnnc__dw_images im, const cnnc__window *g);
    bool (*forward_band)(float *y, const float *x, const float *w, const float *bias, int64_t n,
                         const cnnc__window *g, const cnnc__dw_fwd_ep *ep);
} dw_variant;

static const dw_variant variants[] = {
#define CNNC__X(isa, name, fwd, bwd_data, bwd_weight, fwd_n, bwd_data_n, bwd_weight_n, fwd_ep) \
    {CNNC__ISA_##isa, #name, fwd, bwd_data, bwd_weight, fwd_n, bwd_data_n, bwd_weight_n, fwd_ep},
    DW_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, dw_variant, variants)

const char *cnnc__dwconv_variant(cnnc__isa isa) { return variant(isa)->name; }

void cnnc__dwconv_forward_plane(cnnc__isa isa, float *y, const float *x, const float *w,
                                float bias, const cnnc__window *g) {
    if (!variant(isa)->forward(isa, y, x, w, bias, g)) dw_forward_rows(isa, y, x, w, bias, g);
}

void cnnc__dwconv_backward_data_plane(cnnc__isa isa, float *dx, const float *dy, const float *w,
                                      const cnnc__window *g, bool accumulate) {
    if (!variant(isa)->backward_data(isa, dx, dy, w, g, accumulate))
        dw_backward_data_rows(isa, dx, dy, w, g, accumulate);
}

void cnnc__dwconv_backward_weight_plane(cnnc__isa isa, float *dw, const float *dy,
                                        const float *x, const cnnc__window *g) {
    if (!variant(isa)->backward_weight(isa, dw, dy, x, g))
        dw_backward_weight_rows(isa, dw, dy, x, g);
}

void cnnc__dwconv_forward_planes(cnnc__isa isa, float *y, const float *x, const float *w,
                                 const float *bias, int64_t n, const cnnc__window *g) {
    const dw_variant *v = variant(isa);
    if (v->forward_planes && v->forward_planes(y, x, w, bias, n, g)) return;
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    const int64_t ksz = cnnc__window_k_size(g);
    for (int64_t i = 0; i < n; i++)
        cnnc__dwconv_forward_plane(isa, y + i * osz, x + i * isz, w + i * ksz,
                                   bias ? bias[i] : 0.0f, g);
}

bool cnnc__dwconv_forward_band(cnnc__isa isa, float *y, const float *x, const float *w,
                               const float *bias, int64_t n, const cnnc__window *g,
                               const cnnc__dw_fwd_ep *ep) {
    const dw_variant *v = variant(isa);
    return v->forward_band && v->forward_band(y, x, w, bias, n, g, ep);
}

bool cnnc__dwconv_cl_fits(cnnc__isa isa, const cnnc__window *g) {
#if CNNC__ISA_X86
    if (isa == CNNC__ISA_AVX2) return cnnc__dw_cl_nhwc_fits(g);
#endif
    (void)isa, (void)g;
    return false;
}

bool cnnc__dwconv_forward_cl(cnnc__isa isa, float *y, int64_t pstride, const float *x,
                             int64_t xld, int64_t xblk, const float *xbias,
                             const cnnc__conv_clamp *xclamp, const float *w, const float *bias,
                             int64_t n, const cnnc__window *g, const cnnc__conv_clamp *clamp) {
#if CNNC__ISA_X86
    if (isa == CNNC__ISA_AVX2)
        return cnnc__dw_cl_nhwc_forward_avx2(y, pstride, x, xld, xblk, xbias, xclamp, w, bias, n,
                                             g, clamp);
#endif
    (void)isa, (void)y, (void)pstride, (void)x, (void)xld, (void)xblk, (void)xbias, (void)xclamp;
    (void)w, (void)bias, (void)n, (void)g, (void)clamp;
    return false;
}

/* Planes gathered for one pass of an activation the kernels do not apply (in L1: a 7x7
 * plane alone would be a short loop and its tail). */
enum { DW_ACT_FLOATS = 4096 };

void cnnc__dwconv_forward_planes_act(cnnc__isa isa, float *y, const float *x, const float *w,
                                     const float *bias, int64_t n, const cnnc__window *g,
                                     const cnnc__conv_epilogue *act) {
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    const int64_t ksz = cnnc__window_k_size(g);
    cnnc__conv_clamp c;
    const bool clamp = act && cnnc__conv_epilogue_clamp(act, &c);
    const cnnc__dw_fwd_ep ep = {.ystep = osz, .clamp = &c};
    if (clamp && cnnc__dwconv_forward_band(isa, y, x, w, bias, n, g, &ep)) return;
    if (!act || !act->act) {
        cnnc__dwconv_forward_planes(isa, y, x, w, bias, n, g);
        return;
    }
    const int64_t run = osz < DW_ACT_FLOATS ? DW_ACT_FLOATS / osz : 1;
    for (int64_t i = 0, k; i < n; i += k) {
        k = n - i < run ? n - i : run;
        cnnc__dwconv_forward_planes(isa, y + i * osz, x + i * isz, w + i * ksz,
                                    bias ? bias + i : NULL, k, g);
        cnnc__conv_epilogue_act(isa, act, y + i * osz, k * osz);
    }
}

void cnnc__dwconv_backward_data_planes(cnnc__isa isa, float *dx, const float *dy, const float *w,
                                       int64_t n, const cnnc__window *g) {
    const dw_variant *v = variant(isa);
    if (v->backward_data_planes && v->backward_data_planes(dx, dy, w, n, g)) return;
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    const int64_t ksz = cnnc__window_k_size(g);
    for (int64_t i = 0; i < n; i++)
        cnnc__dwconv_backward_data_plane(isa, dx + i * isz, dy + i * osz, w + i * ksz, g, false);
}

void cnnc__dwconv_backward_weight_planes(cnnc__isa isa, float *dw, const float *dy,
                                         const float *x, int64_t n, cnnc__dw_images im,
                                         const cnnc__window *g) {
    const dw_variant *v = variant(isa);
    if (v->backward_weight_planes && v->backward_weight_planes(dw, dy, x, n, im, g)) return;
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    const int64_t ksz = cnnc__window_k_size(g);
    for (int64_t b = 0; b < im.n; b++)
        for (int64_t i = 0; i < n; i++)
            cnnc__dwconv_backward_weight_plane(isa, dw + i * ksz, dy + b * im.dy_step + i * osz,
                                               x + b * im.x_step + i * isz, g);
}

/* ---- plain versions --------------------------------------------------------------- */

void cnnc__dwconv_forward_plane_ref(float *y, const float *x, const float *w, float bias,
                                    const cnnc__window *g) {
    const int64_t osz = cnnc__window_out_size(g);
    for (int64_t p = 0; p < osz; p++) y[p] = 0.0f;
    DW_ROWS(g, {
        for (int64_t p2 = 0; p2 < g->out[2]; p2++)
            for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
                int64_t i2 = p2 * g->stride[2] - g->pad[2] + q2 * g->dil[2];
                if (i2 >= 0 && i2 < g->in[2]) y[yrow + p2] += w[wq + q2] * x[xrow + i2];
            }
    });
    for (int64_t p = 0; p < osz; p++) y[p] += bias;
}

void cnnc__dwconv_backward_data_plane_ref(float *dx, const float *dy, const float *w,
                                          const cnnc__window *g) {
    DW_ROWS(g, {
        for (int64_t p2 = 0; p2 < g->out[2]; p2++)
            for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
                int64_t i2 = p2 * g->stride[2] - g->pad[2] + q2 * g->dil[2];
                if (i2 >= 0 && i2 < g->in[2]) dx[xrow + i2] += w[wq + q2] * dy[yrow + p2];
            }
    });
}

void cnnc__dwconv_backward_weight_plane_ref(float *dw, const float *dy, const float *x,
                                            const cnnc__window *g) {
    DW_ROWS(g, {
        for (int64_t p2 = 0; p2 < g->out[2]; p2++)
            for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
                int64_t i2 = p2 * g->stride[2] - g->pad[2] + q2 * g->dil[2];
                if (i2 >= 0 && i2 < g->in[2]) dw[wq + q2] += dy[yrow + p2] * x[xrow + i2];
            }
    });
}
