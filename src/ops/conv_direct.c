/* Drivers of the direct small-channel convolution (ops/conv_direct.h; kernels:
 * kernels/conv_direct.h). Per image and group the input is split into its stride-phase
 * planes (cnnc__conv_phase_split), and the kernels run over the planes' wide columns
 * (output rows padded to the planes' width wph; the extra columns are dropped):
 *
 *   forward          items (image, group) over the threads (with fewer planes than
 *                    threads, parts of their output rows); the kernels write y
 *                    itself (wide tiles storing their kept columns, tiles over the
 *                    output rows, or the output channels in the vector lanes), the
 *                    epilogue in registers where it is a clamp (a part's rows then in
 *                    one call), else over each block of rows after the kernel;
 *   weight gradient  per segment of the batch (several small images, or a column chunk
 *                    of one large one) the planes and dy in wide columns (zero in the
 *                    dropped ones) are prepared, then the threads split the kernel's
 *                    items (blocks of channels x taps): every weight is summed by one
 *                    item in an order fixed by the geometry, whatever the threads. */
#include "ops/conv_direct.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/conv_direct.h"

enum {
    DIRECT_DIM_MAX = 1 << 16,       /* sane sizes only: the plane arithmetic cannot overflow */
    DIRECT_STRIDE_MAX = 4,          /* s1 s2 phase planes per channel */
    DIRECT_PLANES_MAX = 1 << 22,    /* floats of one image's planes */
    DIRECT_TILE_FLOATS = 1 << 15,   /* outputs of a forward's block of rows (128 KB): in L2 */
    /* planes + dy of a segment of images (256 KB; measured, AVX-512, 1 thread, LeNet-5
     * conv1 / conv2 weight gradient kernels: 8 images 128 / 149 GF/s, 16 118 / 138, 64
     * (1.4 MB) 85 / 135) */
    WGRAD_SEGMENT_FLOATS = 1 << 16,
    WGRAD_CHUNK_COLS = 2048,        /* columns of a large image's segment */
};

/* CNNC_CONV_DIRECT=0 turns the direct path off (read per call: A/B timings in one
 * process). */
static bool direct_enabled(void) {
    const char *v = getenv("CNNC_CONV_DIRECT");
    return !(v && strcmp(v, "0") == 0);
}


/* Geometry the kernels take: 2-d or 1-d, strides up to DIRECT_STRIDE_MAX, sane sizes,
 * planes of bounded size; *hph, *wph the planes' size. */
static bool direct_geometry(const cnnc__window *g, int64_t *hph, int64_t *wph) {
    if (!direct_enabled()) return false;
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (g->k[1] * g->k[2] == 1) return false; /* 1x1: the GEMM paths use x in place */
    if (cnnc__conv_is_depthwise(g) || cnnc__window_out_size(g) == 0) return false;
    for (int d = 1; d < 3; d++)
        if (g->stride[d] > DIRECT_STRIDE_MAX || g->pad[d] > DIRECT_DIM_MAX ||
            g->dil[d] > DIRECT_DIM_MAX || g->k[d] > DIRECT_DIM_MAX ||
            g->in[d] > DIRECT_DIM_MAX || g->out[d] > DIRECT_DIM_MAX)
            return false;
    cnnc__conv_phase_geom(g, hph, wph);
    const double planes = (double)(g->c / g->groups) * (double)(g->stride[1] * g->stride[2]) *
                          (double)*hph * (double)*wph;
    return planes <= DIRECT_PLANES_MAX;
}

/* The sizes both drivers work with. */
typedef struct direct_dims {
    int64_t hph, wph;           /* the phase planes */
    int64_t cg, mg, kdim;       /* per group: channels in and out, taps cg * ksz */
    int64_t isz, osz;           /* an input and an output plane */
    size_t planes;              /* floats of one image's group's planes */
} direct_dims;

static direct_dims dims_of(const cnnc__window *g) {
    direct_dims d;
    cnnc__conv_phase_geom(g, &d.hph, &d.wph);
    d.cg = g->c / g->groups;
    d.mg = g->m / g->groups;
    d.kdim = d.cg * cnnc__window_k_size(g);
    d.isz = cnnc__window_in_size(g);
    d.osz = cnnc__window_out_size(g);
    d.planes = (size_t)(d.cg * g->stride[1] * g->stride[2] * d.hph * d.wph);
    return d;
}

/* ---- forward ---------------------------------------------------------------------- */

bool cnnc__conv_direct_forward_pays(cnnc__isa isa, const cnnc__window *g) {
    (void)isa; /* the same rule at every level (AVX2, scalar: 1.1-1.7x on the shapes below) */
    int64_t hph, wph;
    if (!direct_geometry(g, &hph, &wph)) return false;
    /* measured, 1 thread, AVX-512, against the paths it replaces (column chunks, phase
     * planes + GEMM): LeNet-5 conv2 (6 -> 16, 5x5, 14x14, batch 64) 0.65 -> 0.31 ms,
     * conv1 (1 -> 6, 28x28) 0.34 -> 0.18; 8 / 16 -> 32 5x5 at 28x28 (batch 32) 2.7 -> 2.1,
     * 4.5 -> 3.8, equal from 24 channels on; 16 -> 32 5x5 at 7x7 (wide columns 7 of 11)
     * 1.3 -> 0.84; the ResNet stem (3 -> 64, 7x7 / 2, 224, batch 8) 13.9 -> 12.8 */
    if (2 * g->out[2] < wph) return false;
    return g->c / g->groups <= 16;
}

bool cnnc__conv_direct_flipped_pays(cnnc__isa isa, const cnnc__window *t) {
    /* t's taps read much padding (dil (k - 1) - pad on each side): measured, 1 thread,
     * against column chunks + col2im, LeNet-5 conv2's input gradient (t: 16 -> 6, 5x5,
     * pad 4, 400 taps) AVX-512 0.89 -> 0.51 ms, but AVX2 0.80 -> 0.91, scalar 2.0 -> 4.8;
     * 8 -> 16 3x3 at 14x14 (t: 144 taps) AVX2 0.64 -> 0.41 */
    if (!cnnc__conv_direct_forward_pays(isa, t)) return false;
    return isa >= CNNC__ISA_AVX512 || (t->c / t->groups) * cnnc__window_k_size(t) <= 160;
}

typedef struct fwd_job {
    cnnc__isa isa;
    const cnnc__window *g;
    direct_dims d;
    int64_t rows;  /* output rows per block */
    int64_t parts; /* items per (image, group): ranges of row blocks */
    bool lanes;    /* the output channels in the vector lanes, y written in place */
    bool by_rows;  /* or tiles over the output rows (else wide tiles); y written in place */
    bool one_call; /* the epilogue in registers: a part's rows in one call */
    size_t ph_floats, slice;
    const int64_t *off;
    const float *wp; /* packed weights, mg * kdim per group */
    float *ws;       /* per-chunk planes */
    float *y;
    const float *x;
    const cnnc__conv_epilogue *ep;
} fwd_job;

/* The row kernels' in-register epilogue for e from channel o0 (a group's first):
 * the bias, and ReLU or Hardtanh as their clamp; *rest: another activation, which
 * cnnc__conv_epilogue_act applies afterwards. */
static cnnc__conv_direct_ep row_epilogue(const cnnc__conv_epilogue *e, int64_t o0, bool *rest) {
    cnnc__conv_direct_ep r = {.bias = e->bias ? e->bias + o0 : NULL};
    cnnc__conv_clamp c = {0.0f, 0.0f};
    r.clamp = cnnc__conv_epilogue_clamp(e, &c);
    r.lo = c.lo, r.hi = c.hi;
    *rest = e->act && !r.clamp;
    return r;
}

/* Output rows [r0, r0 + rows) of image b, group grp, from its planes ph, written in
 * place: with the channels in the lanes, by output rows, or by wide tiles (the last two
 * with the epilogue in registers where it is a clamp). */
static void fwd_rows(const fwd_job *j, const float *ph, int64_t b, int64_t grp, int64_t r0,
                     int64_t rows) {
    const cnnc__window *g = j->g;
    const int64_t wo = g->out[2], kdim = j->d.kdim, mg = j->d.mg, o0 = grp * mg;
    float *yg = j->y + (b * g->m + o0) * j->d.osz + r0 * wo; /* [mg][osz] from row r0 */
    const float *x = ph + r0 * j->d.wph, *wp = j->wp + o0 * kdim;
    if (j->lanes) {
        cnnc__conv_direct_forward_lanes(j->isa, yg, j->d.osz, wo, x, j->d.wph, j->off, kdim, wp,
                                        mg, rows, wo);
        if (cnnc__conv_epilogue_any(j->ep))
            for (int64_t o = 0; o < mg; o++)
                cnnc__conv_epilogue_row(j->isa, j->ep, o0 + o, yg + o * j->d.osz,
                                        yg + o * j->d.osz, rows * wo);
        return;
    }
    bool rest;
    const cnnc__conv_direct_ep ep = row_epilogue(j->ep, o0, &rest);
    if (j->by_rows)
        cnnc__conv_direct_forward_rows(j->isa, yg, j->d.osz, wo, x, j->d.wph, j->off, kdim, wp,
                                       mg, rows, wo, &ep);
    else
        cnnc__conv_direct_forward(j->isa, yg, j->d.osz, wo, x, j->d.wph, j->off, kdim, wp, mg,
                                  rows, wo, &ep);
    if (rest)
        for (int64_t o = 0; o < mg; o++)
            cnnc__conv_epilogue_act(j->isa, j->ep, yg + o * j->d.osz, rows * wo);
}

static cnnc_status fwd_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const fwd_job *j = ctx;
    const cnnc__window *g = j->g;
    float *ph = j->ws + (size_t)chunk * j->slice; /* [planes + slack] */
    const int64_t blocks = (g->out[1] + j->rows - 1) / j->rows;
    for (int64_t item = begin; item < end; item++) { /* item = (image, group, part) */
        const int64_t part = item % j->parts, grp = item / j->parts % g->groups;
        const int64_t b = item / j->parts / g->groups;
        const int64_t b0 = blocks * part / j->parts, b1 = blocks * (part + 1) / j->parts;
        if (b0 == b1) continue;
        cnnc__conv_phase_split(j->isa, ph, j->x + (b * g->c + grp * j->d.cg) * j->d.isz, g, 0,
                               j->d.cg);
        const int64_t r1 = b1 * j->rows < g->out[1] ? b1 * j->rows : g->out[1];
        const int64_t step = j->one_call ? r1 - b0 * j->rows : j->rows;
        for (int64_t r0 = b0 * j->rows; r0 < r1; r0 += step)
            fwd_rows(j, ph, b, grp, r0, r1 - r0 < step ? r1 - r0 : step);
    }
    return CNNC_OK;
}

/* Channels in the lanes (y written in place) rather than wide columns? Measured, 1
 * thread, AVX-512: where a fifth or more of the wide columns are dropped and the taps
 * amortise the output's transposition, 6 -> 16 5x5 at 14x14 (150 taps, 10 of 14
 * columns) 0.30 -> 0.27 ms, 16 -> 32 5x5 at 7x7 (400, 7 of 11) 0.89 -> 0.62; slower
 * with few taps or few dropped columns: 3 -> 32 3x3 at 96 (27, 96 of 98) 1.5 -> 1.8,
 * the ResNet stem (147, 112 of 115) 12.7 -> 14.3, 8 -> 16 3x3 at 14x14 (72) 0.29 -> 0.33;
 * AVX2 and scalar slower everywhere (fewer registers: 1.0-2x). */
static bool lanes_pay(cnnc__isa isa, const cnnc__window *g, const direct_dims *d) {
    if (isa < CNNC__ISA_AVX512 || d->mg % cnnc__conv_direct_lanes(isa) != 0) return false;
    return 5 * g->out[2] < 4 * d->wph && d->kdim >= 100;
}

/* Tiles over the output rows (y written in place, the epilogue in registers) rather
 * than wide columns? Where the level has them and a row's vectors hold no more columns
 * than the planes' width: measured, 1 thread, AVX2, wide -> rows: the ResNet stem (3 ->
 * 64, 7x7 / 2, 224, batch 1) 2.95 -> 2.54 ms, MobileNetV2's (3 -> 32, 3x3 / 2, 224, with
 * its bias) 0.50 -> 0.33, 3 -> 32 3x3 at 96 (batch 8) 2.5-2.7 -> 1.7-1.8, LeNet-5 conv1
 * (1 -> 6, 28x28, batch 64) 0.24 -> 0.17, 16 -> 32 5x5 at 7x7 (8 of 11 columns, batch 32)
 * 0.88 -> 0.68, 8 -> 16 3x3 at 14x14 (16 of 16) 0.28 -> 0.26; LeNet-5 conv2 (16 of 14)
 * 0.57 -> 0.64, 4 -> 8 3x3 at 13x13 (16 of 13) level. */
static bool rows_pay(cnnc__isa isa, const cnnc__window *g, const direct_dims *d) {
    const int64_t lanes = cnnc__conv_direct_lanes(isa);
    return cnnc__conv_direct_has_rows(isa) && (g->out[2] + lanes - 1) / lanes * lanes <= d->wph;
}

const char *cnnc__conv_direct_forward_path(cnnc__isa isa, const cnnc__window *g) {
    const direct_dims d = dims_of(g);
    return !lanes_pay(isa, g, &d) && rows_pay(isa, g, &d) ? "direct by rows" : "direct";
}

/* The shared head of the workspace: the tap offsets (kdim int64, 16-float aligned). */
static size_t offsets_floats(int64_t kdim) { return cnnc__round16((size_t)kdim * 2); }

cnnc_status cnnc__conv_direct_run_forward(cnnc__isa isa, const cnnc__window *g, float *y,
                                          const float *x, const float *w,
                                          const cnnc__conv_epilogue *ep) {
    fwd_job j = {.isa = isa, .g = g, .d = dims_of(g), .y = y, .x = x, .ep = ep};
    j.lanes = lanes_pay(isa, g, &j.d);
    j.by_rows = !j.lanes && rows_pay(isa, g, &j.d);
    bool rest;
    (void)row_epilogue(ep, 0, &rest);
    j.one_call = !j.lanes && !rest;
    /* one call: no epilogue pass, the rows only split the parts (the ResNet stem, 1
     * thread, batch 8: 11.3-11.5 ms by blocks of rows, 11.0 in one call); otherwise
     * blocks of rows whose outputs stay in L2 for the epilogue pass */
    j.rows = j.one_call ? 1 : DIRECT_TILE_FLOATS / (j.d.mg * j.d.wph);
    if (j.rows < 1) j.rows = 1;
    if (j.rows > g->out[1]) j.rows = g->out[1];
    /* planes, then the slack the tiles read past them (zeroed: never garbage in y) */
    j.ph_floats = cnnc__round16(j.d.planes + CNNC__CONV_DIRECT_SLACK);
    j.slice = j.ph_floats;
    const int threads = cnnc__parallel_threads();
    /* fewer planes than threads (batch 1): each plane's row blocks in parts, each part
     * splitting the planes again (the same bits: a column's sum never depends on the
     * blocking) */
    const int64_t planes = g->n * g->groups;
    j.parts = planes < threads ? (threads + planes - 1) / planes : 1;
    /* an item: mg * kdim multiply-adds per wide column */
    const double cols = (double)(g->out[1] * j.d.wph) / (double)j.parts;
    const cnnc__par plan = cnnc__par_plan(
        planes * j.parts, (cnnc__cost){.flops = 2.0 * (double)(j.d.mg * j.d.kdim) * cols}, threads);
    const size_t head = offsets_floats(j.d.kdim), wpf = cnnc__round16((size_t)(g->m * j.d.kdim));
    float *ws = cnnc__workspace((head + wpf + (size_t)plan.chunks * j.slice) * sizeof(float));
    if (!ws) return cnnc_last_status();
    int64_t *off = (int64_t *)(void *)ws;
    cnnc__conv_direct_offsets(off, g);
    j.off = off;
    float *wp = ws + head;
    for (int64_t grp = 0; grp < g->groups; grp++) {
        float *wpg = wp + grp * j.d.mg * j.d.kdim;
        const float *wg = w + grp * j.d.mg * j.d.kdim;
        if (j.lanes)
            cnnc__conv_direct_pack_lanes(isa, wpg, wg, j.d.mg, j.d.kdim);
        else
            cnnc__conv_direct_pack(isa, wpg, wg, j.d.mg, j.d.kdim);
    }
    j.wp = wp;
    j.ws = wp + wpf;
    for (int c = 0; c < plan.chunks; c++) /* the planes' unread phases and the slack */
        memset(j.ws + (size_t)c * j.slice, 0, j.ph_floats * sizeof(float));
    return cnnc__par_run(plan, fwd_range, &j);
}

/* ---- weight gradient ---------------------------------------------------------------- */

bool cnnc__conv_direct_wgrad_pays(cnnc__isa isa, const cnnc__window *g) {
    int64_t hph, wph;
    if (!direct_geometry(g, &hph, &wph)) return false;
    const int64_t kdim = cnnc__window_k_size(g) * (g->c / g->groups);
    /* AVX2 (4 x 2 tiles: 16 registers) loses on large maps with many taps: the ResNet
     * stem at 112 (147 taps) 6.8 -> 8.3 ms; 27 taps: 3 -> 32 at 96 5.7 -> 4.9, 3 -> 64 at
     * 64 equal; small maps: LeNet-5 conv2 0.93 -> 0.77, conv1 0.94 -> 0.27 */
    if (isa == CNNC__ISA_AVX2 && kdim > 32 && cnnc__window_out_size(g) > 256) return false;
    /* the GEMM path's efficiency grows with the taps (kdim), the kernel's falls with the
     * dropped columns: measured (1 thread, AVX-512, batch 32-64) 6 -> 16 5x5 at 14x14
     * (kdim 150, wide 14 / 10) 0.71 -> 0.36 ms, 1 -> 6 at 28x28 0.81 -> 0.22, 8 -> 32 5x5
     * at 28x28 (200, 32 / 28) 3.4 -> 2.7, 16 -> 16 3x3 at 14x14 (144, 16 / 14) 1.0 -> 0.6,
     * 16 -> 32 3x3 at 10x10 (144, 12 / 10) equal; slower: 16 -> 32 5x5 at 28x28 (400,
     * 32 / 28) 4.8 -> 4.9, at 7x7 (400, 11 / 7) 0.74 -> 1.06 */
    return kdim * wph <= 300 * g->out[2];
}

typedef struct wg_job {
    cnnc__isa isa;
    const cnnc__window *g;
    direct_dims d;
    int64_t ldd;  /* wide dy's columns, a multiple of CNNC__CONV_DIRECT_COLS */
    int64_t pstr; /* floats from one image's planes to the next's */
    int64_t dstr; /* and from one image's wide dy to the next's: mg * ldd */
    int64_t grp, b0;
    float *ph, *dyw, *pv;
    const int64_t *off;
    const float *dy, *x;
    /* the items' run: nimg runs of ncol columns, dy (rows ld_dy apart) and the planes
     * from at (run i at +i ds and +i xs) */
    const float *at_dy, *at_x;
    int64_t ld_dy, ds, xs, ncol, nimg;
} wg_job;

/* Image b0 + i's planes and wide dy (zero in the dropped columns and up to ldd; wide
 * mode) for i in [begin, end). */
static cnnc_status wg_prep_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const wg_job *j = ctx;
    const cnnc__window *g = j->g;
    const int64_t ho = g->out[1], wo = g->out[2];
    for (int64_t i = begin; i < end; i++) {
        const int64_t b = j->b0 + i;
        cnnc__conv_phase_split(j->isa, j->ph + i * j->pstr,
                               j->x + (b * g->c + j->grp * j->d.cg) * j->d.isz, g, 0, j->d.cg);
        if (!j->dyw) continue;
        for (int64_t o = 0; o < j->d.mg; o++) {
            float *d = j->dyw + i * j->dstr + o * j->ldd;
            const float *s = j->dy + (b * g->m + j->grp * j->d.mg + o) * j->d.osz;
            for (int64_t r = 0; r < ho; r++) {
                memcpy(d + r * j->d.wph, s + r * wo, (size_t)wo * sizeof(float));
                memset(d + r * j->d.wph + wo, 0, (size_t)(j->d.wph - wo) * sizeof(float));
            }
            memset(d + ho * j->d.wph, 0, (size_t)(j->ldd - ho * j->d.wph) * sizeof(float));
        }
    }
    return CNNC_OK;
}

static cnnc_status wg_item_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const wg_job *j = ctx;
    for (int64_t it = begin; it < end; it++)
        cnnc__conv_direct_wgrad_item(j->isa, it, j->pv, j->at_dy, j->ld_dy, j->ds, j->at_x, j->xs,
                                     j->off, j->d.kdim, j->d.mg, j->ncol, j->nimg);
    return CNNC_OK;
}

/* The items over the run set in j. */
static cnnc_status wg_run(const wg_job *j, int64_t items, int threads) {
    const double macs = (double)(j->d.kdim * j->d.mg) * (double)(j->ncol * j->nimg) / (double)items;
    return cnnc__par_run(cnnc__par_plan(items, (cnnc__cost){.flops = 2.0 * macs}, threads),
                         wg_item_range, (void *)j);
}

/* Wide mode: segments of seg images, their planes and wide dy prepared, then the items
 * over the segment (small images: all their columns at once) or over column chunks
 * of it (a large image, alone in its segment: each chunk in L2). */
static cnnc_status wg_group_wide(wg_job *j, int64_t seg, int64_t items, int threads) {
    const cnnc__window *g = j->g;
    /* an image's prep: its planes and wide dy written, its input and dy read */
    const cnnc__cost prep = {.bytes = 8.0 * (double)(j->pstr + j->dstr)};
    for (j->b0 = 0; j->b0 < g->n; j->b0 += seg) {
        const int64_t nimg = g->n - j->b0 < seg ? g->n - j->b0 : seg;
        cnnc_status st = cnnc__par_run(cnnc__par_plan(nimg, prep, threads), wg_prep_range, j);
        if (st != CNNC_OK) return st;
        const int64_t chunk = nimg > 1 ? j->ldd : WGRAD_CHUNK_COLS;
        for (int64_t j0 = 0; j0 < j->ldd; j0 += chunk) {
            j->at_dy = j->dyw + j0, j->ld_dy = j->ldd, j->ds = j->dstr;
            j->at_x = j->ph + j0, j->xs = j->pstr;
            j->ncol = j->ldd - j0 < chunk ? j->ldd - j0 : chunk;
            j->nimg = nimg;
            if ((st = wg_run(j, items, threads)) != CNNC_OK) return st;
        }
    }
    return CNNC_OK;
}

/* Row mode (out[2] a multiple of CNNC__CONV_DIRECT_COLS): every run is one output row
 * of dy read in place (no dropped columns: nothing to copy, no 0 * inf), image by image,
 * in chunks of rows that stay in L2. */
static cnnc_status wg_group_rows(wg_job *j, int64_t items, int threads) {
    const cnnc__window *g = j->g;
    const int64_t ho = g->out[1], wo = g->out[2];
    int64_t rows = WGRAD_CHUNK_COLS / wo;
    if (rows < 1) rows = 1;
    for (j->b0 = 0; j->b0 < g->n; j->b0++) {
        (void)wg_prep_range(j, 0, 1, 0); /* the planes (a copy: cannot fail) */
        const float *dyb = j->dy + (j->b0 * g->m + j->grp * j->d.mg) * j->d.osz;
        for (int64_t r0 = 0; r0 < ho; r0 += rows) {
            j->at_dy = dyb + r0 * wo, j->ld_dy = j->d.osz, j->ds = wo;
            j->at_x = j->ph + r0 * j->d.wph, j->xs = j->d.wph;
            j->ncol = wo;
            j->nimg = ho - r0 < rows ? ho - r0 : rows;
            const cnnc_status st = wg_run(j, items, threads);
            if (st != CNNC_OK) return st;
        }
    }
    return CNNC_OK;
}

cnnc_status cnnc__conv_direct_run_backward_weight(cnnc__isa isa, const cnnc__window *g,
                                                  float *dw, const float *dy, const float *x,
                                                  bool *done) {
    *done = false;
    wg_job j = {.isa = isa, .g = g, .d = dims_of(g), .dy = dy, .x = x};
    const int64_t cols = CNNC__CONV_DIRECT_COLS;
    const bool rows = g->out[2] % cols == 0;
    if (!rows && !cnnc__conv_direct_finite(isa, x, g->n * g->c * j.d.isz)) return CNNC_OK;
    *done = true;
    j.ldd = rows ? 0 : (g->out[1] * j.d.wph + cols - 1) / cols * cols;
    j.pstr = (int64_t)cnnc__round16(j.d.planes);
    j.dstr = j.d.mg * j.ldd;
    int64_t seg = rows ? 1 : WGRAD_SEGMENT_FLOATS / (j.pstr + j.dstr);
    if (seg < 1) seg = 1;
    if (seg > g->n) seg = g->n;
    const int threads = cnnc__parallel_threads();
    const int64_t items = cnnc__conv_direct_wgrad_items(isa, j.d.mg, j.d.kdim);
    const size_t head = offsets_floats(j.d.kdim);
    const size_t pvf = cnnc__round16(cnnc__conv_direct_wgrad_floats(isa, j.d.mg, j.d.kdim));
    const size_t phf = cnnc__round16((size_t)(seg * j.pstr) + CNNC__CONV_DIRECT_SLACK);
    const size_t dyf = (size_t)(seg * j.dstr);
    float *ws = cnnc__workspace((head + pvf + phf + dyf) * sizeof(float));
    if (!ws) return cnnc_last_status();
    int64_t *off = (int64_t *)(void *)ws;
    cnnc__conv_direct_offsets(off, g);
    j.off = off;
    j.pv = ws + head;
    j.ph = j.pv + pvf;
    j.dyw = rows ? NULL : j.ph + phf;
    /* the planes' unread phases and the slack stay zero (0 * garbage could be NaN) */
    memset(j.ph, 0, phf * sizeof(float));
    for (j.grp = 0; j.grp < g->groups; j.grp++) {
        memset(j.pv, 0, pvf * sizeof(float));
        const cnnc_status st = rows ? wg_group_rows(&j, items, threads)
                                    : wg_group_wide(&j, seg, items, threads);
        if (st != CNNC_OK) return st;
        cnnc__conv_direct_wgrad_finish(isa, dw + j.grp * j.d.mg * j.d.kdim, j.pv, j.d.mg, j.d.kdim);
    }
    return CNNC_OK;
}
