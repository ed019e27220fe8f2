/* The direct small-channel convolution kernels (kernels/conv_direct.h), written once
 * with GCC/Clang vector extensions and compiled per ISA level: conv_direct_scalar.c
 * (the baseline target, 4-float vectors), conv_direct_avx2.c (8) and
 * conv_direct_avx512.c (16). The includer defines DC_SUFFIX (the functions are
 * cnnc__conv_direct_forward_<suffix>, ..._wgrad_<suffix>), DC_W (floats per vector) and
 * DC_TILES(X): the forward's register tiles, X(channels, column vectors) for 1 to
 * DC_MO_MAX channels, and DC_WTILES(X) the weight gradient's, X(channels, taps) for 1 to
 * DC_WMO_MAX, each filling the level's registers (accumulators + the vectors loaded
 * per step); DC_CV_TILES(X) the channels-in-lanes forward's, X(positions) for 1 to
 * DC_CV_P (2 rows each); optionally DC_ROW_R and DC_ROW_TILES(X) for the forward by output
 * rows (below), DC_CLAMP(v, lo, hi) (hardtanh's v < lo ? lo : v, then > hi ? hi :, NaN
 * staying) and DC_STORE_N(p, v, n) (v's first n lanes stored at p) in the level's
 * instructions. It gets the level's table, cnnc__conv_direct_<suffix>.
 * Not a public header. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if !defined(DC_SUFFIX) || !defined(DC_W) || !defined(DC_TILES) || !defined(DC_WTILES) || \
    !defined(DC_MO_MAX) || !defined(DC_WMO_MAX) || !defined(DC_CV_TILES) || !defined(DC_CV_P)
#error "define DC_SUFFIX, DC_W, DC_TILES, DC_WTILES, DC_MO_MAX, DC_WMO_MAX, DC_CV_* first"
#endif
#define DC_CAT2(a, b) a##b
#define DC_CAT(a, b) DC_CAT2(a, b)
#define DC_FN(name) DC_CAT(name, DC_SUFFIX)

typedef float dc_vf __attribute__((vector_size(DC_W * 4)));

static inline dc_vf dc_load(const float *p) {
    dc_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void dc_store(float *p, dc_vf v) { memcpy(p, &v, sizeof v); }
static inline dc_vf dc_splat(float a) { /* a lane loop: one broadcast (0 + a would add) */
    dc_vf v;
    for (int k = 0; k < DC_W; k++) v[k] = a;
    return v;
}
static inline float dc_hsum(dc_vf v) { /* lanes pairwise, neighbours first */
    float t[DC_W];
    memcpy(t, &v, sizeof t);
    for (int w = DC_W / 2; w > 0; w /= 2)
        for (int k = 0; k < w; k++) t[k] = t[2 * k] + t[2 * k + 1];
    return t[0];
}

/* ---- forward: y[o][j] = sum_t wp[t mo + o] x[off[t] + j] over the wide columns j ----- */

/* The sums of a tile of MO channels x R vectors of columns, vector r's input at XP(r)
 * (+ the tap's offset): acc[o][r] over the taps in order (one rounding per tap: a fused
 * multiply-add where the level has them). */
#define DC_TILE_SUMS(MO, R, XP)                                                                 \
    dc_vf acc[MO][R];                                                                         \
    _Pragma("GCC unroll 16") for (int o = 0; o < MO; o++)                                     \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) acc[o][r] = (dc_vf){0};           \
    for (int64_t t = 0; t < kdim; t++) {                                                      \
        const int64_t ot = off[t];                                                            \
        dc_vf xv[R];                                                                          \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) xv[r] = dc_load(XP(r) + ot);     \
        const float *wt = wp + t * MO;                                                        \
        _Pragma("GCC unroll 16") for (int o = 0; o < MO; o++) {                               \
            const dc_vf wb = dc_splat(wt[o]);                                                 \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) acc[o][r] += wb * xv[r];     \
        }                                                                                     \
    }

#ifndef DC_CLAMP
/* hardtanh's v < lo ? lo : v, then > hi ? hi : (a NaN stays), by whole-vector selects:
 * subscripted lanes would keep a tile's accumulators in memory */
typedef int32_t dc_vi __attribute__((vector_size(DC_W * 4)));
static inline dc_vf dc_select(dc_vi m, dc_vf a, dc_vf b) { /* m ? a : b, lane by lane */
    return (dc_vf)((m & (dc_vi)a) | (~m & (dc_vi)b));
}
static inline dc_vf dc_clamp(dc_vf v, dc_vf lo, dc_vf hi) {
    v = dc_select(v < lo, lo, v);
    return dc_select(v > hi, hi, v);
}
#define DC_CLAMP(v, lo, hi) dc_clamp(v, lo, hi)
#endif

/* The epilogue ep (from channel o0 of its bias) on a tile's sums acc[MO][R]. */
#define DC_TILE_EPILOGUE(MO, R)                                                               \
    if (ep->bias)                                                                             \
        _Pragma("GCC unroll 16") for (int o = 0; o < MO; o++) {                               \
            const dc_vf b = dc_splat(ep->bias[o0 + o]);                                       \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) acc[o][r] += b;              \
        }                                                                                     \
    if (ep->clamp) {                                                                          \
        const dc_vf lo = dc_splat(ep->lo), hi = dc_splat(ep->hi);                             \
        _Pragma("GCC unroll 16") for (int o = 0; o < MO; o++)                                 \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                              \
                acc[o][r] = DC_CLAMP(acc[o][r], lo, hi);                                      \
    }

/* Where a wide tile's stores go: output rows [0, nrows) of y, ldr apart, their positions
 * [0, ncol); wide column j = r xr + p is row r's position p. */
typedef struct dc_rows {
    int64_t ldr, xr, nrows, ncol;
} dc_rows;

/* The first n lanes of a at p (a level's masked store where it defines DC_STORE_N). */
static inline void dc_store_n(float *p, dc_vf a, int64_t n) {
    if (n == DC_W) {
        dc_store(p, a);
    } else if (n > 0) {
#ifdef DC_STORE_N
        DC_STORE_N(p, a, n);
#else
        float buf[DC_W];
        dc_store(buf, a);
        memcpy(p, buf, (size_t)n * sizeof(float));
#endif
    }
}

/* n wide columns of one channel from row r, position p (p < xr), src (DC_W floats
 * readable past them), stored into their rows' kept positions. */
static void dc_store_cols(float *y, const float *src, int64_t n, int64_t r, int64_t p,
                          const dc_rows *s) {
    for (int64_t l = 0; l < n && r < s->nrows; r++, p = 0) {
        const int64_t run = s->xr - p < n - l ? s->xr - p : n - l; /* columns in row r */
        const int64_t keep = p >= s->ncol ? 0 : s->ncol - p < run ? s->ncol - p : run;
        for (int64_t k = 0; k < keep; k += DC_W)
            dc_store_n(y + r * s->ldr + p + k, dc_load(src + l + k),
                       keep - k < DC_W ? keep - k : DC_W);
        l += run;
    }
}

/* One tile of MO channels x R vectors of columns, from wide column r0 xr + p0 (x at its
 * input, p0 < xr), the epilogue applied, stored into the rows: straight from the
 * registers when the tile lies inside a row's kept positions, else through a buffer
 * (one store sequence for both: two kept a scalar build's accumulators in memory). */
#define DC_FWD_TILE(MO, R)                                                                   \
    static void dc_fwd_##MO(float *y, int64_t ldc, const float *x, const int64_t *off,        \
                            int64_t kdim, const float *wp, int64_t r0, int64_t p0,            \
                            const dc_rows *s, const cnnc__conv_direct_ep *ep, int64_t o0) {   \
        DC_TILE_SUMS(MO, R, DC_WIDE_XP)                                                       \
        DC_TILE_EPILOGUE(MO, R)                                                               \
        float buf[MO][(R + 1) * DC_W];                                                        \
        const bool inside = p0 + R * DC_W <= s->ncol;                                         \
        float *yt = inside ? y + r0 * s->ldr + p0 : buf[0];                                   \
        const int64_t ld = inside ? ldc : (R + 1) * DC_W;                                     \
        _Pragma("GCC unroll 16") for (int o = 0; o < MO; o++)                                 \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                              \
                dc_store(yt + o * ld + r * DC_W, acc[o][r]);                                  \
        for (int o = 0; !inside && o < MO; o++)                                               \
            dc_store_cols(y + o * ldc, buf[o], R * DC_W, r0, p0, s);                          \
    }
#define DC_WIDE_XP(r) (x + (r) * DC_W)
DC_TILES(DC_FWD_TILE)
#undef DC_FWD_TILE
#undef DC_WIDE_XP

/* Columns per tile of mo channels. */
static int64_t dc_fwd_cols(int64_t mo) {
    switch (mo) {
#define DC_COLS(MO, R) \
    case MO:           \
        return R * DC_W;
        DC_TILES(DC_COLS)
#undef DC_COLS
    }
    return 0;
}

static void dc_fwd_tile(int64_t mo, float *y, int64_t ldc, const float *x, const int64_t *off,
                        int64_t kdim, const float *wp, int64_t r0, int64_t p0,
                        const dc_rows *s, const cnnc__conv_direct_ep *ep, int64_t o0) {
    switch (mo) {
#define DC_CALL(MO, R)                                             \
    case MO:                                                       \
        dc_fwd_##MO(y, ldc, x, off, kdim, wp, r0, p0, s, ep, o0);  \
        break;
        DC_TILES(DC_CALL)
#undef DC_CALL
    }
}

/* The wide tiles over the columns of nrows rows (xr apart in x), each channel block's in
 * turn, stored into y's rows (ldr apart, ncol positions kept of each; channels ldc
 * apart) with the epilogue ep: no column leaves the registers to be dropped. */
static void DC_FN(cnnc__conv_direct_forward_)(float *y, int64_t ldc, int64_t ldr, const float *x,
                                              int64_t xr, const int64_t *off, int64_t kdim,
                                              const float *wp, int64_t m, int64_t nrows,
                                              int64_t ncol, const cnnc__conv_direct_ep *ep) {
    const dc_rows s = {ldr, xr, nrows, ncol};
    const int64_t cend = (nrows - 1) * xr + ncol; /* past the last kept column */
    cnnc__conv_direct_blocks blk;
    cnnc__conv_direct_block_plan(&blk, m, DC_MO_MAX);
    for (int64_t b = 0; b < blk.count; b++) {
        const int64_t mo = cnnc__conv_direct_block_size(&blk, b), cols = dc_fwd_cols(mo);
        const int64_t o0 = cnnc__conv_direct_block_start(&blk, b);
        for (int64_t j = 0, r = 0, p = 0; j < cend; j += cols) { /* j = r xr + p */
            dc_fwd_tile(mo, y + o0 * ldc, ldc, x + j, off, kdim, wp, r, p, &s, ep, o0);
            for (p += cols; p >= xr; p -= xr) r++;
        }
        wp += mo * kdim;
    }
}

#ifdef DC_ROW_TILES
/* ---- forward by output rows (levels defining DC_ROW_R, DC_ROW_TILES(X): X(channels) for
 * every channel count of the blocks) ---------------------------------------------------
 * The wide tiles' sums (the same bits) over the output rows' own positions, the epilogue
 * applied in registers and each tile stored straight into y: the rows' vectors (each
 * row's last one partial when ncol is not a multiple of DC_W) in tiles of DC_ROW_R, a tile
 * crossing from one row into the next, so that no column is computed to be dropped and
 * nothing is copied. */

/* A vector of a tile: its input at x + xo (+ the tap's offset), its output at y + yo, the
 * first n of its DC_W positions real (0: a repeat filling the last tile, not stored). */
typedef struct dc_vec {
    int64_t xo, yo, n;
} dc_vec;

/* One tile of MO channels (from channel o0 of ep's) x the DC_ROW_R vectors v. */
#define DC_ROW_TILE(MO)                                                                       \
    static void dc_row_##MO(float *y, int64_t ldy, const float *x, const int64_t *off,         \
                            int64_t kdim, const float *wp, const dc_vec *v,                    \
                            const cnnc__conv_direct_ep *ep, int64_t o0) {                      \
        enum { R = DC_ROW_R };                                                                \
        const float *xb[R];                                                                   \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) xb[r] = x + v[r].xo;             \
        DC_TILE_SUMS(MO, R, DC_ROW_XP)                                                        \
        DC_TILE_EPILOGUE(MO, R)                                                               \
        _Pragma("GCC unroll 16") for (int o = 0; o < MO; o++)                                 \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                              \
                dc_store_n(y + o * ldy + v[r].yo, acc[o][r], v[r].n);                         \
    }
#define DC_ROW_XP(r) xb[r]
DC_ROW_TILES(DC_ROW_TILE)
#undef DC_ROW_TILE
#undef DC_ROW_XP

static void dc_row_tile(int64_t mo, float *y, int64_t ldy, const float *x, const int64_t *off,
                        int64_t kdim, const float *wp, const dc_vec *v,
                        const cnnc__conv_direct_ep *ep, int64_t o0) {
    switch (mo) {
#define DC_CALL(MO)                                               \
    case MO:                                                      \
        dc_row_##MO(y, ldy, x, off, kdim, wp, v, ep, o0);         \
        break;
        DC_ROW_TILES(DC_CALL)
#undef DC_CALL
    }
}

/* The next tile's DC_ROW_R vectors v from output row *r, position *c (both advanced past
 * them), of nrows rows (xr, ldr apart in x and y) of ncol positions. */
static void dc_row_next(dc_vec *v, int64_t *r, int64_t *c, int64_t xr, int64_t ldr,
                        int64_t nrows, int64_t ncol) {
    for (int i = 0; i < DC_ROW_R; i++) {
        if (*r == nrows) { /* past the last row: repeat the last vector, unstored */
            v[i] = v[i - 1];
            v[i].n = 0;
            continue;
        }
        v[i] = (dc_vec){*r * xr + *c, *r * ldr + *c, ncol - *c < DC_W ? ncol - *c : DC_W};
        if ((*c += DC_W) >= ncol) ++*r, *c = 0;
    }
}

/* Tiles per group: a group's tiles for one channel block, then for the next. The
 * blocks re-read the group's inputs (8 tiles of 3 vectors: 192 positions, under 2
 * output rows of 112) from L1, and each block writes its channels in runs of 24 vectors
 * rather than 3 (not every channel's output stream at once). Measured, 1 thread, AVX2,
 * batch 8, min of alternating runs on a shared machine: MobileNetV2's stem (3 -> 32,
 * 3x3 / 2, 224, with bias) 2.52-2.75 -> 2.39-2.63 ms, in the model (its ReLU6 fused)
 * 2.96-2.98 -> 2.76-2.90; the ResNet stem (7x7 / 2, 147 taps) level (20.5-21.8 ms both);
 * groups of 4 tiles gained nothing, of 16 as much as 8 on the 3x3. */
enum { DC_ROW_GROUP = 8 };

/* y [m][ldc] at rows [0, nrows) (ldr apart) x positions [0, ncol) of the output = the
 * convolution from the planes x (output row r at x + r xr) with the epilogue ep, wp
 * packed as for the wide tiles (cnnc__conv_direct_pack), in groups of tiles (above). */
static void DC_FN(dc_row_forward_)(float *y, int64_t ldc, int64_t ldr, const float *x,
                                   int64_t xr, const int64_t *off, int64_t kdim,
                                   const float *wp, int64_t m, int64_t nrows, int64_t ncol,
                                   const cnnc__conv_direct_ep *ep) {
    cnnc__conv_direct_blocks blk;
    cnnc__conv_direct_block_plan(&blk, m, DC_MO_MAX);
    int64_t r = 0, c = 0; /* the next vector: row r, positions from c */
    while (r < nrows) {
        dc_vec v[DC_ROW_GROUP][DC_ROW_R];
        int nt = 0;
        while (nt < DC_ROW_GROUP && r < nrows) dc_row_next(v[nt++], &r, &c, xr, ldr, nrows, ncol);
        const float *wb = wp;
        for (int64_t b = 0; b < blk.count; b++) {
            const int64_t mo = cnnc__conv_direct_block_size(&blk, b);
            const int64_t o0 = cnnc__conv_direct_block_start(&blk, b);
            for (int t = 0; t < nt; t++)
                dc_row_tile(mo, y + o0 * ldc, ldc, x, off, kdim, wb, v[t], ep, o0);
            wb += mo * kdim;
        }
    }
}
#endif

/* ---- forward with output channels in the lanes (m a multiple of DC_W) ------------------
 * Tiles of DC_W channels x 2 output rows x P positions of a row: per tap one weight
 * vector and a broadcast input per position, no dropped columns; the sums in tap order
 * with the same roundings as the wide tiles above (the same bits). */
#define DC_CV_TILE(P)                                                                         \
    static void dc_cv_##P(float *y, int64_t ldc, int64_t ldr, const float *x, int64_t xr,       \
                          const int64_t *off, int64_t kdim, const float *wc, int64_t rows) {  \
        dc_vf acc[2][P];                                                                      \
        _Pragma("GCC unroll 16") for (int r = 0; r < 2; r++)                                  \
            _Pragma("GCC unroll 16") for (int p = 0; p < P; p++) acc[r][p] = (dc_vf){0};       \
        const float *xb1 = x + xr; /* the second row's planes */                              \
        for (int64_t t = 0; t < kdim; t++) {                                                  \
            const dc_vf wv = dc_load(wc + t * DC_W);                                          \
            const int64_t ot = off[t];                                                        \
            const float *x0 = x + ot, *x1 = xb1 + ot;                                         \
            _Pragma("GCC unroll 16") for (int p = 0; p < P; p++) {                            \
                acc[0][p] += wv * dc_splat(x0[p]);                                            \
                acc[1][p] += wv * dc_splat(x1[p]);                                            \
            }                                                                                 \
        }                                                                                     \
        float buf[2][P][DC_W]; /* [row][position][channel] -> y [channel][row][position] */   \
        for (int r = 0; r < rows; r++)                                                        \
            for (int p = 0; p < P; p++) dc_store(buf[r][p], acc[r][p]);                       \
        for (int l = 0; l < DC_W; l++)                                                        \
            for (int r = 0; r < rows; r++)                                                    \
                for (int p = 0; p < P; p++) y[l * ldc + r * ldr + p] = buf[r][p][l];          \
    }
DC_CV_TILES(DC_CV_TILE)
#undef DC_CV_TILE

/* y [m][ldc] at rows [0, nrows) (ldr apart) x positions [0, ncol) of the output = the
 * convolution from the planes x (output row r at x + r xr), wc the weights packed in
 * blocks of DC_W channels (cnnc__conv_direct_pack_lanes). */
static void DC_FN(dc_cv_forward_)(float *y, int64_t ldc, int64_t ldr, const float *x, int64_t xr,
                                  const int64_t *off, int64_t kdim, const float *wc, int64_t m,
                                  int64_t nrows, int64_t ncol) {
    for (int64_t o0 = 0; o0 < m; o0 += DC_W)
        for (int64_t r = 0; r < nrows; r += 2) {
            const int64_t rows = nrows - r < 2 ? nrows - r : 2;
            /* rows == 1 computes a second row from the planes' next row (inside them or
             * their slack) and drops it */
            for (int64_t p0 = 0; p0 < ncol; p0 += DC_CV_P) {
                float *yt = y + o0 * ldc + r * ldr + p0;
                const float *xt = x + r * xr + p0;
                const float *w = wc + o0 * kdim;
                switch (ncol - p0 < DC_CV_P ? ncol - p0 : DC_CV_P) {
#define DC_CALL(P)                                                \
    case P:                                                       \
        dc_cv_##P(yt, ldc, ldr, xt, xr, off, kdim, w, rows);      \
        break;
                    DC_CV_TILES(DC_CALL)
#undef DC_CALL
                }
            }
        }
}

/* ---- weight gradient: pv[o][t] += sum_j dy[o][j] x[off[t] + j], lane by lane -------- */

/* One item: MO channels x T taps (nt <= T of them real) over nimg images, the
 * accumulators in registers throughout; ncol a multiple of DC_W. pv [MO][ldp][DC_W]
 * with ldp = kdim, at the item's first tap. */
#define DC_WGRAD_TILE(MO, T)                                                                 \
    static void dc_wg_##MO(float *pv, int64_t ldp, const float *dy, int64_t ldd, int64_t ds,  \
                           const float *x, int64_t xs, const int64_t *off, int64_t nt,        \
                           int64_t ncol, int64_t nimg) {                                      \
        dc_vf acc[MO][T];                                                                     \
        int64_t ot[T];                                                                        \
        _Pragma("GCC unroll 16") for (int t = 0; t < T; t++) ot[t] = off[t < nt ? t : 0];     \
        _Pragma("GCC unroll 16") for (int o = 0; o < MO; o++)                                 \
            _Pragma("GCC unroll 16") for (int t = 0; t < T; t++)                              \
                acc[o][t] = t < nt ? dc_load(pv + (o * ldp + t) * DC_W) : (dc_vf){0};          \
        for (int64_t i = 0; i < nimg; i++) {                                                  \
            const float *di = dy + i * ds, *xi = x + i * xs;                                  \
            for (int64_t j = 0; j < ncol; j += DC_W) {                                        \
                dc_vf dv[MO];                                                                 \
                _Pragma("GCC unroll 16") for (int o = 0; o < MO; o++)                         \
                    dv[o] = dc_load(di + o * ldd + j);                                        \
                _Pragma("GCC unroll 16") for (int t = 0; t < T; t++) {                        \
                    const dc_vf xv = dc_load(xi + ot[t] + j);                                 \
                    _Pragma("GCC unroll 16") for (int o = 0; o < MO; o++)                     \
                        acc[o][t] += dv[o] * xv;                                              \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (int o = 0; o < MO; o++)                                                          \
            for (int t = 0; t < nt; t++) dc_store(pv + (o * ldp + t) * DC_W, acc[o][t]);      \
    }
DC_WTILES(DC_WGRAD_TILE)
#undef DC_WGRAD_TILE

/* Taps per item of mo channels. */
static int64_t dc_wg_taps(int64_t mo) {
    switch (mo) {
#define DC_TAPS(MO, T) \
    case MO:           \
        return T;
        DC_WTILES(DC_TAPS)
#undef DC_TAPS
    }
    return 1;
}

/* The channel blocks: of 4 when they divide m (measured, AVX-512, 1 thread: 16-64
 * channels x 150 taps, 4 x 5 tiles 155 GF/s, 6 + 5 + 5 x 4 135), else as even as
 * DC_WMO_MAX allows (6 channels x 25 taps: one 6 x 4 tile 85-128 GF/s, 3 + 3 x 7 63-71). */
static void dc_wg_plan(cnnc__conv_direct_blocks *blk, int64_t m) {
    cnnc__conv_direct_block_plan(blk, m, m % 4 == 0 && DC_WMO_MAX >= 4 ? 4 : DC_WMO_MAX);
}

/* Items: (channel block, tap tile), tap tiles inner. */
static int64_t DC_FN(dc_wg_items_)(int64_t m, int64_t kdim) {
    cnnc__conv_direct_blocks blk;
    dc_wg_plan(&blk, m);
    int64_t n = 0;
    for (int64_t b = 0; b < blk.count; b++) {
        const int64_t tt = dc_wg_taps(cnnc__conv_direct_block_size(&blk, b));
        n += (kdim + tt - 1) / tt;
    }
    return n;
}

static void DC_FN(dc_wg_item_)(int64_t item, float *pv, const float *dy, int64_t ldd, int64_t ds,
                               const float *x, int64_t xs, const int64_t *off, int64_t kdim,
                               int64_t m, int64_t ncol, int64_t nimg) {
    cnnc__conv_direct_blocks blk;
    dc_wg_plan(&blk, m);
    for (int64_t b = 0; b < blk.count; b++) {
        const int64_t mo = cnnc__conv_direct_block_size(&blk, b), tt = dc_wg_taps(mo);
        const int64_t tiles = (kdim + tt - 1) / tt;
        if (item >= tiles) {
            item -= tiles;
            continue;
        }
        const int64_t o0 = cnnc__conv_direct_block_start(&blk, b), t0 = item * tt;
        const int64_t nt = kdim - t0 < tt ? kdim - t0 : tt;
        float *p = pv + (o0 * kdim + t0) * DC_W;
        const float *d = dy + o0 * ldd;
        switch (mo) {
#define DC_CALL(MO, T)                                                        \
    case MO:                                                                  \
        dc_wg_##MO(p, kdim, d, ldd, ds, x, xs, off + t0, nt, ncol, nimg);     \
        break;
            DC_WTILES(DC_CALL)
#undef DC_CALL
        }
        return;
    }
}

static void DC_FN(dc_wg_finish_)(float *dw, const float *pv, int64_t n) {
    for (int64_t i = 0; i < n; i++) dw[i] = dc_hsum(dc_load(pv + i * DC_W));
}

/* No inf or NaN among x[0 .. n)? (x * 0 is 0 for finite x, else NaN) */
static bool DC_FN(dc_finite_)(const float *x, int64_t n) {
    dc_vf a = {0}, b = {0};
    int64_t i = 0;
    for (; i + 2 * DC_W <= n; i += 2 * DC_W) {
        a += dc_load(x + i) * 0.0f;
        b += dc_load(x + i + DC_W) * 0.0f;
    }
    float s = dc_hsum(a + b);
    for (; i < n; i++) s += x[i] * 0.0f;
    return s == 0.0f;
}

const cnnc__conv_direct_level DC_FN(cnnc__conv_direct_) = {
    DC_W,
    DC_MO_MAX,
    DC_FN(cnnc__conv_direct_forward_),
    DC_FN(dc_cv_forward_),
#ifdef DC_ROW_TILES
    DC_FN(dc_row_forward_),
#else
    NULL,
#endif
    DC_FN(dc_wg_items_),
    DC_FN(dc_wg_item_),
    DC_FN(dc_wg_finish_),
    DC_FN(dc_finite_)};

#undef DC_CAT2
#undef DC_CAT
#undef DC_FN
