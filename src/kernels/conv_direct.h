/* Internal: direct convolution kernels for few input channels (first layers: 1-16
 * input channels), on the stride-phase planes of kernels/conv.h (cnnc__conv_phase_split)
 * and their "wide" columns: column j = p1 * wph + p2 is output position (p1, p2) for
 * p2 < out[2] (the other columns are computed and dropped). Tap t = ci * ksz + q of the
 * group's filter reads the planes at off[t] + j, so every tap is a contiguous run and
 * no column matrix is built. The kernels are vectorised over the wide columns, with a
 * register tile of output channels x column vectors (forward) or output channels x
 * taps (weight gradient); one source (conv_direct_body.h) compiled per ISA level. The
 * forward's tiles store their kept columns straight into y's rows, the epilogue
 * applied in registers. The AVX2 level also runs the forward by output rows: the same
 * sums over the rows' own positions only.
 *
 * Layouts:
 *   ph  the planes of one image's group (cnnc__conv_phase_split, channels [0, cg)),
 *       followed by CNNC__CONV_DIRECT_SLACK readable floats (tiles overrun the planes);
 *   off [kdim], kdim = cg * ksz: cnnc__conv_direct_offsets;
 *   wp  [m * kdim]: the weights w [m, kdim] packed by cnnc__conv_direct_pack (blocks of
 *       the level's channel tile, tap-major inside a block).
 * Results depend on the level only (never on threads or on how columns are split). */
#ifndef CNNC_KERNELS_CONV_DIRECT_H
#define CNNC_KERNELS_CONV_DIRECT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/conv.h"

/* Floats past the planes' end (and past the last image's dy rows) that the tiles read:
 * the widest tile's columns plus one vector. */
enum { CNNC__CONV_DIRECT_SLACK = 256, CNNC__CONV_DIRECT_COLS = 16 };

/* off[t] for t < kdim (2-d or 1-d geometries: in[0] = out[0] = k[0] = 1): the offset in
 * the planes of tap t's input for wide column 0. */
void cnnc__conv_direct_offsets(int64_t *off, const cnnc__window *g);

/* wp [m * kdim] = w [m, kdim] in the level's channel blocks (see above). */
void cnnc__conv_direct_pack(cnnc__isa isa, float *wp, const float *w, int64_t m, int64_t kdim);

/* The forward's epilogue: y = clamp(sum + bias[o]), where clamp is hardtanh(lo, hi)'s
 * formula (v < lo ? lo : v, then > hi ? hi :; NaN stays NaN; ReLU is (0, inf)), with
 * bias [m] or NULL (none) and clamp false for none. */
typedef struct cnnc__conv_direct_ep {
    const float *bias;
    bool clamp;
    float lo, hi;
} cnnc__conv_direct_ep;

/* y[o][r ldr + p] (channels ldc apart) for r < nrows, p < ncol = ep(the convolution's
 * wide column r xr + p), from the planes (row r at x + r xr): sum_t w[o][t] x[off[t] +
 * r xr + p], summed over t in order, then the epilogue in registers. The wide tiles run
 * over all the rows' columns (the dropped ones too, never stored); ncol <= xr. With
 * nrows 1 and ldr = xr = ncol: the plain wide sums of ncol columns. Reads x up to
 * max(off) + nrows xr + CNNC__CONV_DIRECT_SLACK. */
void cnnc__conv_direct_forward(cnnc__isa isa, float *y, int64_t ldc, int64_t ldr, const float *x,
                               int64_t xr, const int64_t *off, int64_t kdim, const float *wp,
                               int64_t m, int64_t nrows, int64_t ncol,
                               const cnnc__conv_direct_ep *ep);

/* ---- forward with the output channels in the vector lanes --------------------------
 * For m a multiple of cnnc__conv_direct_lanes(isa) (16 at AVX-512): tiles of that many
 * channels x 2 output rows x up to a dozen positions, written straight into y (no
 * dropped columns); the same bits as cnnc__conv_direct_forward. */
int64_t cnnc__conv_direct_lanes(cnnc__isa isa);
/* wc [m * kdim] = w [m, kdim] in blocks of lanes channels, tap-major inside a block. */
void cnnc__conv_direct_pack_lanes(cnnc__isa isa, float *wc, const float *w, int64_t m,
                                  int64_t kdim);
/* y[o][r ldr + p] (channels ldc apart) for r < nrows, p < ncol = the output row r's
 * positions [0, ncol) from the planes (row r at x + r xr): y = sum_t w[o][t]
 * x[off[t] + r xr + p]. Reads x up to max(off) + nrows xr + ncol + DC slack. */
void cnnc__conv_direct_forward_lanes(cnnc__isa isa, float *y, int64_t ldc, int64_t ldr,
                                     const float *x, int64_t xr, const int64_t *off,
                                     int64_t kdim, const float *wc, int64_t m, int64_t nrows,
                                     int64_t ncol);

/* ---- forward by output rows ---------------------------------------------------------
 * Does the level have it (AVX2)? Then y[o][r ldr + p] (channels ldc apart) for r < nrows,
 * p < ncol = ep(the convolution): the wide tiles' sums (the same bits) over each output
 * row's own positions, from the planes (row r at x + r xr), wp packed by
 * cnnc__conv_direct_pack, the epilogue applied in registers and y written in place.
 * Reads x up to max(off) + nrows xr + ncol + CNNC__CONV_DIRECT_SLACK. */
bool cnnc__conv_direct_has_rows(cnnc__isa isa);
void cnnc__conv_direct_forward_rows(cnnc__isa isa, float *y, int64_t ldc, int64_t ldr,
                                    const float *x, int64_t xr, const int64_t *off,
                                    int64_t kdim, const float *wp, int64_t m, int64_t nrows,
                                    int64_t ncol, const cnnc__conv_direct_ep *ep);

/* ---- weight gradient --------------------------------------------------------------
 * dw[o][t] = sum over images and wide columns of dy[o][j] x[off[t] + j], where dy is the
 * output gradient in wide columns (zero in the dropped ones and up to ncol, a multiple
 * of CNNC__CONV_DIRECT_COLS). The sums are kept as per-lane vector partials pv
 * (cnnc__conv_direct_wgrad_floats) split into independent items (blocks of channels x
 * taps) for the threads; cnnc__conv_direct_wgrad_finish then adds each one's lanes. */
size_t cnnc__conv_direct_wgrad_floats(cnnc__isa isa, int64_t m, int64_t kdim);
int64_t cnnc__conv_direct_wgrad_items(cnnc__isa isa, int64_t m, int64_t kdim);
/* Item `item`'s partials in pv (zeroed by the caller before the first call) += the
 * sums over nimg images: image i's dy [m][ldd] at dy + i ds, its planes at x + i xs,
 * columns [0, ncol). */
void cnnc__conv_direct_wgrad_item(cnnc__isa isa, int64_t item, float *pv, const float *dy,
                                  int64_t ldd, int64_t ds, const float *x, int64_t xs,
                                  const int64_t *off, int64_t kdim, int64_t m, int64_t ncol,
                                  int64_t nimg);
/* dw [m * kdim] = the lane sums of pv. Overwrites. */
void cnnc__conv_direct_wgrad_finish(cnnc__isa isa, float *dw, const float *pv, int64_t m,
                                    int64_t kdim);

/* No inf or NaN among x [n]? (The weight gradient multiplies the dropped columns' input
 * by a zero gradient: its callers check that no 0 * inf can arise.) */
bool cnnc__conv_direct_finite(cnnc__isa isa, const float *x, int64_t n);

/* Name of the variant a level runs ("f32_conv_direct__avx512"). */
const char *cnnc__conv_direct_variant(cnnc__isa isa);

/* ---- shared by the variants (conv_direct_body.h) --------------------------------- */

/* m output channels in `count` blocks of at most max, as even as possible (the first
 * m % count one larger). */
typedef struct cnnc__conv_direct_blocks {
    int64_t count, base, extra;
} cnnc__conv_direct_blocks;

static inline void cnnc__conv_direct_block_plan(cnnc__conv_direct_blocks *b, int64_t m,
                                                int64_t max) {
    b->count = (m + max - 1) / max;
    b->base = b->count ? m / b->count : 0;
    b->extra = b->count ? m % b->count : 0;
}
static inline int64_t cnnc__conv_direct_block_size(const cnnc__conv_direct_blocks *b,
                                                   int64_t i) {
    return b->base + (i < b->extra ? 1 : 0);
}
/* First channel of block i. */
static inline int64_t cnnc__conv_direct_block_start(const cnnc__conv_direct_blocks *b,
                                                    int64_t i) {
    return i * b->base + (i < b->extra ? i : b->extra);
}

/* A level's kernels (conv_direct_body.h compiled for it). */
typedef struct cnnc__conv_direct_level {
    int lanes;      /* floats per vector: pv holds this many partials per weight */
    int mo_max;     /* the forward's channel block (cnnc__conv_direct_pack) */
    void (*forward)(float *y, int64_t ldc, int64_t ldr, const float *x, int64_t xr,
                    const int64_t *off, int64_t kdim, const float *wp, int64_t m, int64_t nrows,
                    int64_t ncol, const cnnc__conv_direct_ep *ep);
    void (*forward_lanes)(float *y, int64_t ldc, int64_t ldr, const float *x, int64_t xr,
                          const int64_t *off, int64_t kdim, const float *wc, int64_t m,
                          int64_t nrows, int64_t ncol);
    /* by output rows, wp packed for forward; NULL where the level has none */
    void (*forward_rows)(float *y, int64_t ldc, int64_t ldr, const float *x, int64_t xr,
                         const int64_t *off, int64_t kdim, const float *wp, int64_t m,
                         int64_t nrows, int64_t ncol, const cnnc__conv_direct_ep *ep);
    int64_t (*wgrad_items)(int64_t m, int64_t kdim);
    void (*wgrad_item)(int64_t item, float *pv, const float *dy, int64_t ldd, int64_t ds,
                       const float *x, int64_t xs, const int64_t *off, int64_t kdim, int64_t m,
                       int64_t ncol, int64_t nimg);
    void (*wgrad_finish)(float *dw, const float *pv, int64_t n);
    bool (*finite)(const float *x, int64_t n);
} cnnc__conv_direct_level;

extern const cnnc__conv_direct_level cnnc__conv_direct_scalar;
#if CNNC__ISA_X86
extern const cnnc__conv_direct_level cnnc__conv_direct_avx2;
extern const cnnc__conv_direct_level cnnc__conv_direct_avx512;
#endif

#endif
