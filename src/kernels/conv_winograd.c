/* Winograd F(mt x mt, 3x3) forward convolution kernels, mt = 2 or 4 (see
 * kernels/conv.h; the transforms of each tile size: conv_winograd_f2.c, _f4.c, and
 * both at AVX2: conv_winograd_avx2.c).
 *
 * A block of tiles is transformed into V [cg][npos][ldt] (input channel, position of
 * the transformed tile, tile; npos = (mt + 2)^2), multiplied by U [npos][mg][cg] into
 * M [mg][npos][ldt] with npos GEMMs (the planes of V and M strided), and M is folded
 * back into mt x mt output tiles. Channel-major V and M make the transforms read and
 * write one contiguous run per channel (the hardware prefetchers follow it; blocks of
 * wide layers do not fit in L2). The inner loops run along the tiles of one tile row
 * so they vectorise. */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/conv_winograd_internal.h"
#include "kernels/gemm.h"

static size_t r16(size_t x) { return (x + 15) & ~(size_t)15; }

/* X-list, fastest first: (level, name, F(2x2) rows, F(4x4) rows). */
#if CNNC__ISA_X86
#define WINO_SIMD_VARIANTS(X)                                                            \
    X(AVX512, f32_winograd__avx512, cnnc__wino_f2_avx512, cnnc__wino_f4_avx512) \
    X(AVX2, f32_winograd__avx2, cnnc__wino_f2_avx2, cnnc__wino_f4_avx2)
#else
#define WINO_SIMD_VARIANTS(X)
#endif
#define WINO_VARIANTS(X)  \
    WINO_SIMD_VARIANTS(X) \
    X(SCALAR, f32_winograd__scalar, cnnc__wino_f2_scalar, cnnc__wino_f4_scalar)

typedef struct wino_variant {
    cnnc__isa isa;
    const char *name;
    const cnnc__wino_rows *f2, *f4;
} wino_variant;

static const wino_variant variants[] = {
#define CNNC__X(isa, name, f2, f4) {CNNC__ISA_##isa, #name, &f2, &f4},
    WINO_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, wino_variant, variants)

const cnnc__wino_rows *cnnc__wino_rows_of(cnnc__isa isa, int mt) {
    return mt == 4 ? variant(isa)->f4 : variant(isa)->f2;
}

void cnnc__wino_weights_walk(float *u, int64_t ldu, const float *w, int64_t fs, int64_t ds,
                             bool rev, int64_t n, int64_t mr, int64_t kc, int np,
                             void (*one)(float *u, int64_t ldu, const float *f)) {
    for (int64_t i = 0; i < kc; i++)
        for (int64_t j = 0; j < mr; j++) {
            float *uj = u + i * mr + j;
            if (j >= n) { /* the panel's padding rows */
                for (int e = 0; e < np; e++) uj[e * ldu] = 0.0f;
                continue;
            }
            const float *src = w + j * fs + i * ds;
            float f[9];
            for (int q = 0; q < 9; q++) f[q] = src[rev ? 8 - q : q];
            one(uj, ldu, f);
        }
}

const char *cnnc__conv_winograd_variant(cnnc__isa isa) { return variant(isa)->name; }

bool cnnc__conv_winograd_ok(const cnnc__window *g) {
    return g->in[0] == 1 && g->out[0] == 1 && g->k[0] == 1 && g->k[1] == 3 && g->k[2] == 3 &&
           g->stride[1] == 1 && g->stride[2] == 1 && g->dil[1] == 1 && g->dil[2] == 1 &&
           g->out[1] > 0 && g->out[2] > 0;
}

static int64_t npos(int mt) { return (int64_t)(mt + 2) * (mt + 2); }

int64_t cnnc__conv_winograd_tiles(const cnnc__window *g, int mt) {
    return ((g->out[1] + mt - 1) / mt) * ((g->out[2] + mt - 1) / mt);
}

bool cnnc__conv_winograd_f2_fills(const cnnc__window *g) {
    const double covered = 4.0 * (double)cnnc__conv_winograd_tiles(g, 2);
    return g->out[1] >= 4 && g->out[2] >= 4 &&
           (double)g->out[1] * (double)g->out[2] >= 0.75 * covered;
}

/* The groups' packed A operands, then a cache line, so that planes do not start a
 * multiple of 4 KB apart (512 channels pack exactly 1036 KB per plane: the
 * transform's 16 or 36 store streams, one per plane, then all fall in the same cache
 * sets; 512 channels, 1 thread: 3.8 -> 1.5 ms with the prefetches of
 * cnnc__wino_taps) */
int64_t cnnc__conv_winograd_plane_floats(cnnc__isa isa, const cnnc__window *g) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    return g->groups * (int64_t)cnnc__sgemm_packed_a_floats(isa, mg, cg) + 16;
}

size_t cnnc__conv_winograd_packed_floats(cnnc__isa isa, const cnnc__window *g, int mt) {
    return (size_t)(npos(mt) * cnnc__conv_winograd_plane_floats(isa, g));
}

/* Each (position, group) plane is the GEMM's A [mg x cg] packed: the transform of a
 * panel's MR filters at input channel i lands in its MR-float group at depth i; a k
 * block of a panel is one contiguous run per position, which the row loops fill.
 * Filter (j, i) of group grp (row j, depth i of its A) is w[grp mg + j][i], or
 * flipped: w[grp cg + i][j] reversed. */
int64_t cnnc__conv_winograd_pack_items(cnnc__isa isa, const cnnc__window *g) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    const int64_t kcb = cnnc__sgemm_packed_a_kc(isa, cg);
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    return g->groups * ((cg + kcb - 1) / kcb) * ((mg + mr - 1) / mr);
}

/* Group grp's filters in w (wsrc_of): fs floats from one filter (a row of the GEMM's
 * A) to the next, ds from one depth to the next; the level's row loops and blocks. */
typedef struct wino_wsrc {
    const cnnc__wino_rows *f;
    const float *w; /* group grp's filters */
    int64_t fs, ds, cg, kcb, mr;
    bool flipped;
} wino_wsrc;

static wino_wsrc wsrc_of(cnnc__isa isa, const float *w, const cnnc__window *g, int mt,
                         bool flipped, int64_t grp) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    return (wino_wsrc){.f = cnnc__wino_rows_of(isa, mt), .w = w + grp * mg * cg * 9,
                       .fs = flipped ? 9 : cg * 9, .ds = flipped ? mg * 9 : 9, .cg = cg,
                       .kcb = cnnc__sgemm_packed_a_kc(isa, cg), .mr = mr, .flipped = flipped};
}

/* The panel of filters [row, min(row + MR, end)) at depths [pc, pc + kcb) into rows
 * [ra, ra + MR) of the packed [m x cg] A operands at a (positions ldu apart). */
static void pack_panel(cnnc__isa isa, const wino_wsrc *s, float *a, int64_t ldu, int64_t m,
                       int64_t ra, int64_t row, int64_t end, int64_t pc) {
    const int64_t n = end - row < s->mr ? end - row : s->mr;
    const int64_t kc = s->cg - pc < s->kcb ? s->cg - pc : s->kcb;
    s->f->weights(a + cnnc__sgemm_packed_a_offset(isa, m, s->cg, ra, pc), ldu,
                  s->w + row * s->fs + pc * s->ds, s->fs, s->ds, s->flipped, n, s->mr, kc);
}

void cnnc__conv_winograd_pack_weights_range(cnnc__isa isa, float *up, const float *w,
                                            const cnnc__window *g, int mt, bool flipped,
                                            int64_t begin, int64_t end) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    const size_t pa = cnnc__sgemm_packed_a_floats(isa, mg, cg);
    const int64_t ldu = cnnc__conv_winograd_plane_floats(isa, g);
    const wino_wsrc s0 = wsrc_of(isa, w, g, mt, flipped, 0);
    const int64_t panels = (mg + s0.mr - 1) / s0.mr, kblocks = (cg + s0.kcb - 1) / s0.kcb;
    for (int64_t item = begin; item < end; item++) { /* item = (group, panel, k block) */
        const int64_t grp = item / (kblocks * panels);
        const int64_t r0 = item / kblocks % panels * s0.mr, pc = item % kblocks * s0.kcb;
        const wino_wsrc s = wsrc_of(isa, w, g, mt, flipped, grp);
        pack_panel(isa, &s, up + grp * (int64_t)pa, ldu, mg, r0, r0, mg, pc);
    }
}

/* Floats from one position's packed A of `rows` filters to the next (a cache line
 * apart, as the whole planes are). */
static int64_t rows_plane_floats(cnnc__isa isa, int64_t rows, int64_t cg) {
    return (int64_t)cnnc__sgemm_packed_a_floats(isa, rows, cg) + 16;
}

size_t cnnc__conv_winograd_rows_floats(cnnc__isa isa, const cnnc__window *g, int mt,
                                       int64_t rows) {
    return (size_t)(npos(mt) * rows_plane_floats(isa, rows, g->c / g->groups));
}

void cnnc__conv_winograd_pack_rows(cnnc__isa isa, float *a, const float *w,
                                   const cnnc__window *g, int mt, bool flipped, int64_t grp,
                                   int64_t r0, int64_t rows) {
    const wino_wsrc s = wsrc_of(isa, w, g, mt, flipped, grp);
    const int64_t ldu = rows_plane_floats(isa, rows, s.cg);
    for (int64_t r = 0; r < rows; r += s.mr) /* a panel's filters read start to end */
        for (int64_t pc = 0; pc < s.cg; pc += s.kcb) pack_panel(isa, &s, a, ldu, rows, r, r0 + r, r0 + rows, pc);
}

void cnnc__conv_winograd_pack_weights(cnnc__isa isa, float *up, const float *w,
                                      const cnnc__window *g, int mt, bool flipped) {
    cnnc__conv_winograd_pack_weights_range(isa, up, w, g, mt, flipped, 0,
                                           cnnc__conv_winograd_pack_items(isa, g));
}

/* Where the input transforms go (cnnc__wino_input_block's V, or the forward's packed
 * planes): position e of channel ci's tile t (counted from the block's first) at
 * v + base(ci) + e es + (t / nr) ps(ci) + t % nr (vout_channel: base and ps). Plain
 * rows: ci's positions ldt apart, np ldt floats a channel, nr = ldt (one run).
 * Packed: position e's plane is the GEMM's B [cg x ldt] in the level's layout: per k
 * block of kc channels (kcb but the last), nr-tile panels of kc x nr floats, so the
 * GEMM reads its panels in place. */
typedef struct wino_vout {
    float *v;
    int64_t es, nr, ldt;
    int64_t cg, kcb; /* packed: the GEMM's k blocks; plain: kcb 0, np ldt a channel */
    int64_t chs;
} wino_vout;

/* Channel ci's base in o->v, its panel stride in *ps. */
static float *vout_channel(const wino_vout *o, int64_t ci, int64_t *ps) {
    if (!o->kcb) {
        *ps = 0;
        return o->v + ci * o->chs;
    }
    const int64_t pc = ci / o->kcb * o->kcb, kc = o->cg - pc < o->kcb ? o->cg - pc : o->kcb;
    *ps = kc * o->nr;
    return o->v + pc * o->ldt + (ci - pc) * o->nr;
}

/* The GEMM's B of position e: V's packed plane, read in place. */
typedef struct vplane {
    const float *v; /* the plane */
    int64_t ldt;
} vplane;

static const float *pack_v(void *ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc, int64_t nr,
                           float *dst, float *scratch) {
    (void)nc, (void)nr, (void)dst, (void)scratch;
    const vplane *vp = ctx;
    return vp->v + pc * vp->ldt + jc * kc;
}

/* Tile rows whose horizontal transforms run as one (narrow maps: a row of tw tiles
 * fills a fraction of a 16-lane vector), or 1. */
static int64_t rows_together(int64_t tw) { return tw <= 8 ? 16 / tw : 1; }

/* The input transform's rows: alpha rows of the widest tile-row segment for each tile
 * row transformed together, and a zero row. */
static int64_t input_rows_floats(const cnnc__window *g, int mt) {
    const int64_t tw = (g->out[2] + mt - 1) / mt;
    return (rows_together(tw) * (mt + 2) + 1) * (mt * tw + 2);
}

size_t cnnc__wino_input_rows_floats(const cnnc__window *g, int mt) {
    return r16((size_t)input_rows_floats(g, mt) + CNNC__WINO_ROW_SLACK);
}

/* Scratch: V, M, then rows (the input transform's, or mt^2 rows of ldt for the
 * output's; then the slack the row loops may read past them). */
static size_t rows_floats(const cnnc__window *g, int64_t ldt, int mt) {
    const int64_t a = input_rows_floats(g, mt), b = (int64_t)mt * mt * ldt;
    return r16((size_t)(a > b ? a : b) + CNNC__WINO_ROW_SLACK);
}

/* Floats between V's planes (the positions' B operands): a cache line past cg ldt,
 * which is often a multiple of 4 KB (the 16 or 36 planes' stores would share cache
 * sets) */
static int64_t vplane_floats(int64_t cg, int64_t ldt) { return cg * ldt + 16; }

size_t cnnc__conv_winograd_scratch_floats(cnnc__isa isa, const cnnc__window *g, int64_t ldt,
                                          int mt, int64_t chunk) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    return r16((size_t)(npos(mt) * (vplane_floats(cg, ldt) + mg * ldt))) + rows_floats(g, ldt, mt) +
           (chunk ? r16(cnnc__conv_winograd_rows_floats(isa, g, mt, chunk)) : 0);
}

/* The alpha rows B^T d (rows + r rs, wn = mt nk + 2 floats each) under the tiles
 * (ti, tj0 + k), k < nk, of channel plane xc. */
static void vert_segment(const cnnc__wino_rows *f, int mt, float *rows, int64_t rs,
                         const float *zero, const float *xc, const float *x_end,
                         const cnnc__window *g, int64_t ti, int64_t tj0, int64_t nk) {
    const int alpha = mt + 2;
    const int64_t h = g->in[1], w = g->in[2];
    const int64_t wn = mt * nk + 2, x0 = mt * tj0 - g->pad[2];
    float *s[6];
    for (int r = 0; r < alpha; r++) s[r] = rows + r * rs;
    int64_t a = -x0, b = w - x0; /* valid columns [a, b) of the segment */
    if (a < 0) a = 0;
    if (b > wn) b = wn;
    if (a < b) {
        /* B^T d over the columns inside the image, read in place (rows outside are
         * the zero row); the columns outside are zero */
        const float *d[6];
        float *sa[6];
        const int64_t nread = (b - a + 15) / 16 * 16; /* a whole last vector: inside x? */
        bool whole = true; /* (the zero row has the rows' slack after it) */
        for (int r = 0; r < alpha; r++) {
            const int64_t iy = mt * ti - g->pad[1] + r;
            d[r] = iy < 0 || iy >= h ? zero : xc + (iy * w + x0 + a);
            if (d[r] != zero && x_end - d[r] < nread) whole = false;
            sa[r] = s[r] + a;
            /* the padding columns: a few floats (no library calls: segments are short) */
            for (int64_t c = 0; c < a; c++) s[r][c] = 0.0f;
            for (int64_t c = b; c < wn; c++) s[r][c] = 0.0f;
        }
        /* the next channel's rows under these tiles (the transforms run channel by
         * channel; its plane is far from this one, past the hardware prefetchers) */
        for (int r = 0; r < alpha; r++)
            for (int64_t j = 0; d[r] != zero && j < b - a; j += 16)
                __builtin_prefetch(d[r] + h * w + j);
        f->vert(sa[0], rs, d, b - a, whole);
    } else {
        for (int r = 0; r < alpha; r++) memset(s[r], 0, (size_t)wn * sizeof(float));
    }
}

/* The horizontal transforms of nk tiles from the block's tile tl on (k: from the
 * first), in runs that do not cross a panel of the destination (vout, channel base vc,
 * panel stride ps); at: narrow maps' window starts (horiz_at), else NULL (horiz,
 * rows of rs floats, tile k at mt k). */
static void horiz_runs(const cnnc__wino_rows *f, int mt, const wino_vout *o, float *vc, int64_t ps,
                       int64_t tl, const float *rows, int64_t rs, const int32_t *at, int64_t nk) {
    const int alpha = mt + 2;
    for (int64_t k = 0; k < nk;) {
        const int64_t t = tl + k, run = o->nr - t % o->nr < nk - k ? o->nr - t % o->nr : nk - k;
        float *v = vc + t / o->nr * ps + t % o->nr;
        for (int r = 0; r < alpha; r++) { /* (B^T d) B */
            if (at)
                f->horiz_at(v + r * alpha * o->es, o->es, rows + r * rs, at + k, run);
            else
                f->horiz(v + r * alpha * o->es, o->es, rows + r * rs + mt * k, run);
        }
        k += run;
    }
}

/* The tiles (ti, tj0 + k), k < nk, of channel plane xc, the block's tiles tl .. into
 * channel vc (panel stride ps) of o. */
static void input_segment(const cnnc__wino_rows *f, int mt, const wino_vout *o, float *vc,
                          int64_t ps, int64_t tl, float *rows, const float *zero, const float *xc,
                          const float *x_end, const cnnc__window *g, int64_t ti, int64_t tj0,
                          int64_t nk) {
    const int64_t wn = mt * nk + 2;
    vert_segment(f, mt, rows, wn, zero, xc, x_end, g, ti, tj0, nk);
    horiz_runs(f, mt, o, vc, ps, tl, rows, wn, NULL, nk);
}

/* Whole tile rows of a narrow map from tile t (t % tw == 0) on, at most rmax of
 * them and none past tile t_end: their B^T d rows side by side (row i of tile row r
 * at rows + i rmax wp + r wp: one row i of all of them is a short contiguous run),
 * then one horizontal pass over all their tiles (at: where tile k's window starts in
 * such a run). Into channel vc of o from the block's tile tl; returns the tiles done. */
static int64_t input_rows(const cnnc__wino_rows *f, int mt, const wino_vout *o, float *vc,
                          int64_t ps, int64_t tl, float *rows, const float *zero, const float *xc0,
                          int64_t xstride, const float *x_end, const cnnc__window *g, int64_t t,
                          int64_t t_end, int64_t rmax, const int32_t *at) {
    const int64_t tw = (g->out[2] + mt - 1) / mt, wp = mt * tw + 2;
    const int64_t tiles = cnnc__conv_winograd_tiles(g, mt);
    int64_t r = 0;
    for (; r < rmax && t + (r + 1) * tw <= t_end; r++) {
        const int64_t tr = t + r * tw, b = tr / tiles, ti = tr % tiles / tw;
        vert_segment(f, mt, rows + r * wp, rmax * wp, zero, xc0 + b * xstride, x_end, g, ti, 0,
                     tw);
    }
    horiz_runs(f, mt, o, vc, ps, tl, rows, rmax * wp, at, r * tw);
    return r * tw;
}

/* The rows of tiles [k0, k0 + nk) (tile row ti, columns tj0 ..) of output plane yc
 * from o (mt^2 rows ldt apart: o[(i mt + j) ldt + k] is row i, column j of tile k). */
static void output_segment(const cnnc__wino_rows *f, int mt, float *yc, const float *o, int64_t ldt,
                           const cnnc__window *g, int64_t ti, int64_t tj0, int64_t k0, int64_t nk) {
    const int64_t oh = g->out[1], ow = g->out[2], tw = (ow + mt - 1) / mt;
    const int64_t last = ow - mt * (tw - 1); /* columns of the last tile of a row */
    /* full tiles, then a last part tile at a width not a multiple of mt */
    int64_t full = nk;
    if (tj0 + nk == tw && last < mt) full--;
    for (int i = 0; i < mt && mt * ti + i < oh; i++) {
        float *r = yc + (mt * ti + i) * ow + mt * tj0;
        const float *a = o + i * mt * ldt + k0; /* row i's mt columns, ldt apart */
        f->interleave(r, a, ldt, full);
        if (full < nk)
            for (int64_t j = 0; j < last; j++) r[mt * full + j] = a[j * ldt + full];
    }
}

/* The input transforms of channels [c0, c1) of group grp, tiles [t0, t0 + nt), into o
 * (channel ci at o's channel ci - c0). */
static void input_block_to(const cnnc__wino_rows *f, int mt, const wino_vout *o, const float *x,
                           const cnnc__window *g, int64_t grp, int64_t c0, int64_t c1, int64_t t0,
                           int64_t nt, float *rows) {
    const int64_t isz = g->in[1] * g->in[2], cg = g->c / g->groups;
    const int64_t tw = (g->out[2] + mt - 1) / mt, tiles = cnnc__conv_winograd_tiles(g, mt);
    /* rows: alpha rows of B^T d per tile row transformed together, then a zero row */
    const int64_t wp = mt * tw + 2, rmax = rows_together(tw);
    const float *x_end = x + g->n * g->c * isz;
    float *zero = rows + rmax * (mt + 2) * wp;
    memset(zero, 0, (size_t)wp * sizeof(float));
    int32_t at[16]; /* narrow maps: tile k of the tile rows side by side */
    for (int64_t k = 0; rmax > 1 && k < rmax * tw; k++)
        at[k] = (int32_t)(k / tw * wp + mt * (k % tw));
    for (int64_t ci = c0; ci < c1; ci++)
        for (int64_t t = t0; t < t0 + nt;) {
            const int64_t b = t / tiles, tl = t % tiles, ti = tl / tw, tj0 = tl % tw;
            const int64_t nk = tw - tj0 < t0 + nt - t ? tw - tj0 : t0 + nt - t;
            const float *xc0 = x + (grp * cg + ci) * isz;
            int64_t ps;
            float *vc = vout_channel(o, ci - c0, &ps);
            if (rmax > 1 && tj0 == 0 && nk == tw) {
                t += input_rows(f, mt, o, vc, ps, t - t0, rows, zero, xc0, g->c * isz, x_end, g, t,
                                t0 + nt, rmax, at);
                continue;
            }
            input_segment(f, mt, o, vc, ps, t - t0, rows, zero, xc0 + b * g->c * isz, x_end, g, ti,
                          tj0, nk);
            t += nk;
        }
}

void cnnc__wino_input_block(const cnnc__wino_rows *f, int mt, float *v, int64_t ldt, const float *x,
                            const cnnc__window *g, int64_t grp, int64_t c0, int64_t c1, int64_t t0,
                            int64_t nt, float *rows) {
    const wino_vout o = {.v = v, .es = ldt, .nr = ldt, .ldt = ldt, .chs = npos(mt) * ldt};
    input_block_to(f, mt, &o, x, g, grp, c0, c1, t0, nt, rows);
}

/* The np GEMMs of output channels [m0, m1) over the block's V: M = U V, with U packed
 * beforehand or transformed here wt->chunk filters at a time into a (L2-sized: few
 * tiles and many channels, where writing all of U out and reading it back would cost
 * as much as its GEMMs) */
static void block_products(cnnc__isa isa, int mt, const cnnc__wino_weights *wt,
                           const cnnc__window *g, int64_t grp, int64_t m0, int64_t m1,
                           const wino_vout *o, float *mm, int64_t nt, float *a, float *gemm_ws) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups, np = npos(mt);
    const int64_t chs = np * o->ldt; /* floats of one channel in M */
    if (wt->up) {
        const int64_t pa = (int64_t)cnnc__sgemm_packed_a_floats(isa, mg, cg);
        const int64_t ldu = cnnc__conv_winograd_plane_floats(isa, g);
        for (int64_t e = 0; e < np; e++) {
            vplane vp = {o->v + e * o->es, o->ldt};
            cnnc__sgemm_st_packed_rows(isa, mg, m0, m1 - m0, nt, cg, wt->up + e * ldu + grp * pa,
                                       pack_v, &vp, 0.0f, mm + m0 * chs + e * o->ldt, chs, gemm_ws,
                                       NULL);
        }
        return;
    }
    for (int64_t r0 = m0; r0 < m1; r0 += wt->chunk) {
        const int64_t rows = m1 - r0 < wt->chunk ? m1 - r0 : wt->chunk;
        const int64_t ldu = rows_plane_floats(isa, rows, cg);
        cnnc__conv_winograd_pack_rows(isa, a, wt->w, g, mt, wt->flipped, grp, r0, rows);
        for (int64_t e = 0; e < np; e++) {
            vplane vp = {o->v + e * o->es, o->ldt};
            cnnc__sgemm_st_packed_rows(isa, rows, 0, rows, nt, cg, a + e * ldu, pack_v, &vp, 0.0f,
                                       mm + r0 * chs + e * o->ldt, chs, gemm_ws, NULL);
        }
    }
}

void cnnc__conv_winograd_block(cnnc__isa isa, int mt, float *y, const float *x,
                               const cnnc__wino_weights *wt, const cnnc__conv_epilogue *ep,
                               const cnnc__window *g, int64_t grp, int64_t m0, int64_t m1,
                               int64_t t0, int64_t nt, int64_t ldt, float *scratch,
                               float *gemm_ws) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups, np = npos(mt);
    const int64_t osz = g->out[1] * g->out[2];
    const int64_t tw = (g->out[2] + mt - 1) / mt, tiles = cnnc__conv_winograd_tiles(g, mt);
    const int64_t chs = np * ldt; /* floats of one channel in M */
    float *v = scratch; /* np planes of cg x ldt: the GEMMs' B, packed */
    float *mm = v + np * vplane_floats(cg, ldt);
    float *rows = scratch + r16((size_t)(np * vplane_floats(cg, ldt) + mg * chs));
    float *a = rows + rows_floats(g, ldt, mt); /* wt->chunk rows of U, when not packed */
    const cnnc__wino_rows *f = cnnc__wino_rows_of(isa, mt);
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    const wino_vout o = {.v = v, .es = vplane_floats(cg, ldt), .nr = nr, .ldt = ldt, .cg = cg,
                         .kcb = cnnc__sgemm_k_block(isa, cg)};
    input_block_to(f, mt, &o, x, g, grp, 0, cg, t0, nt, rows);
    for (int64_t ci = 0; nt % nr && ci < cg; ci++) { /* the last panel's columns past nt */
        int64_t ps;
        float *vc = vout_channel(&o, ci, &ps) + nt / nr * ps + nt % nr;
        for (int64_t e = 0; e < np; e++)
            memset(vc + e * o.es, 0, (size_t)(nr - nt % nr) * sizeof(float));
    }
    block_products(isa, mt, wt, g, grp, m0, m1, &o, mm, nt, a, gemm_ws);

    /* output transform, then the activation on its mt^2 rows (in L1): one run of
     * mt^2 ldt floats when the block is full, else row by row (the rows' columns past
     * nt are not all written) */
    for (int64_t co = m0; co < m1; co++) {
        f->out(rows, ldt, mm + co * chs, ldt, ep->bias ? ep->bias[grp * mg + co] : 0.0f, nt);
        if (ep->act && nt == ldt)
            cnnc__conv_epilogue_act(isa, ep, rows, (int64_t)mt * mt * ldt);
        for (int64_t r = 0; ep->act && nt < ldt && r < (int64_t)mt * mt; r++)
            cnnc__conv_epilogue_act(isa, ep, rows + r * ldt, nt);
        for (int64_t t = t0; t < t0 + nt;) {
            const int64_t b = t / tiles, tl = t % tiles, ti = tl / tw, tj0 = tl % tw;
            const int64_t nk = tw - tj0 < t0 + nt - t ? tw - tj0 : t0 + nt - t;
            float *yc = y + (b * g->m + grp * mg + co) * osz;
            output_segment(f, mt, yc, rows, ldt, g, ti, tj0, t - t0, nk);
            t += nk;
        }
    }
}
