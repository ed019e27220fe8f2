/* Convolution: F.conv1d/2d/3d and F.conv_transpose1d/2d/3d with PyTorch's argument
 * rules and messages, their autograd node, and the multithreaded drivers over the
 * kernels of kernels/conv.h.
 *
 * Every op is expressed as one geometry (kernels/conv.h): a convolution from an
 * input [n, c, in] to an output [n, m, out]. A transposed convolution is the
 * backward-data of the geometry whose input is the transposed output, so the three
 * drivers (forward, backward-data, backward-weight) serve both:
 *
 *   op                    forward            grad input          grad weight
 *   conv                  run_forward        run_backward_data   run_backward_weight(dy, x)
 *   conv_transpose        run_backward_data  run_forward         run_backward_weight(x, dy)
 */
#include "ops/conv.h"
#include "ops/conv_cols.h"
#include "ops/conv_direct.h"
#include "ops/conv_internal.h"
#include "ops/conv_phase.h"
#include "ops/conv_pospanel.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/gemm_mt.h"
#include "core/parallel.h"
#include "core/trace.h"
#include "kernels/conv_pospanel.h"
#include "kernels/gemm.h"
#include "kernels/gemm_small.h"

/* ==========================================================================
 * Drivers
 * ========================================================================== */

enum {
    COL_TILE_FLOATS = 1 << 18, /* one im2col tile (1 MB): stays in L2 for the GEMM's packing */
};


/* The path the last driver call on this thread took, for CNNC_TRACE. */
static _Thread_local const char *conv_path = "";

void cnnc__conv_set_path(const char *path) { conv_path = path; }

typedef struct conv_plan {
    cnnc__isa isa; /* the kernels' level for the whole call (read once) */
    const cnnc__window *g;
    int64_t cg, mg, ksz, kdim, isz, osz; /* per-group channels, kernel taps, K = cg * ksz */
    bool direct;                         /* 1x1, stride 1, no padding: the input is the column matrix */
    int64_t tile, ntiles;                /* column tiles of the output positions */
    size_t col_floats, gemm_floats, slice;
    int threads; /* read once: every parallel region of the op is planned for it */
} conv_plan;

static void make_plan(conv_plan *p, const cnnc__window *g, cnnc__isa isa) {
    memset(p, 0, sizeof *p);
    p->isa = isa;
    p->g = g;
    p->cg = g->c / g->groups;
    p->mg = g->m / g->groups;
    p->ksz = cnnc__window_k_size(g);
    p->kdim = p->cg * p->ksz;
    p->isz = cnnc__window_in_size(g);
    p->osz = cnnc__window_out_size(g);
    p->direct = cnnc__conv_is_pointwise(g);
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    int64_t t = COL_TILE_FLOATS / (p->kdim > 0 ? p->kdim : 1);
    t = t / nr * nr;
    if (t < 4 * nr) t = 4 * nr;
    if (t > p->osz) t = p->osz;
    if (t < 1) t = 1;
    p->tile = t;
    p->ntiles = (p->osz + t - 1) / t;
    p->col_floats = p->direct ? 0 : cnnc__round16((size_t)(p->kdim * t));
    p->gemm_floats = cnnc__sgemm_workspace_floats(isa);
    p->slice = p->col_floats + p->gemm_floats;
    p->threads = cnnc__parallel_threads();
}

/* The cost of an item of `macs` multiply-adds, for the parallel regions. */
static cnnc__cost macs_cost(int64_t macs) { return (cnnc__cost){.flops = 2.0 * (double)macs}; }

/* How items of `macs` multiply-adds run: in parallel, one chunk per thread, each
 * with a single-threaded GEMM (when they fill every thread: the returned plan has
 * p->threads chunks), or else one after the other with the threads inside the
 * GEMM. Both compute the same bits. */
static cnnc__par items_plan(const conv_plan *p, int64_t items, int64_t macs) {
    return cnnc__par_plan(items, macs_cost(macs), p->threads);
}
static bool items_in_parallel(const conv_plan *p, cnnc__par plan) {
    return p->threads > 1 && plan.chunks == p->threads;
}

/* GEMM on the thread's own slice (single-threaded) or on every thread. */
typedef struct gemm_ws {
    cnnc__isa isa;
    float *ws;
    size_t floats;
    bool threaded;
} gemm_ws;

static void gemm(const gemm_ws *w, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc) {
    if (w->threaded)
        cnnc__sgemm_ws(w->isa, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, w->ws, w->floats);
    else
        cnnc__sgemm_st(w->isa, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, w->ws);
}

/* ---- forward ------------------------------------------------------------------------ */

typedef struct fwd_job {
    conv_plan p;
    float *y;
    const float *x, *w;
    const cnnc__conv_epilogue *ep;
    float *ws;
    const float *apk; /* 1x1: the weights packed once, a_floats per group (or NULL) */
    size_t a_floats;
} fwd_job;

static bool packed_gemm(const conv_plan *p, int64_t ncol) {
    return !cnnc__sgemm_small_fits(p->isa, false, false, p->mg, ncol, p->kdim);
}

/* Does any item of the 1x1 forward run the packed GEMM on a single thread (items in
 * parallel, or one thread), whose weights are then packed once? */
static bool fwd_packs_a(const conv_plan *p, bool parallel) {
    const int64_t last = p->osz - (p->ntiles - 1) * p->tile;
    return p->direct && p->kdim > 0 && (parallel || p->threads == 1) &&
           (packed_gemm(p, p->tile) || packed_gemm(p, last));
}

/* Does every item of the 1x1 forward run the packed GEMM on the weights packed once? */
static bool fwd_all_prepacked(const conv_plan *p, bool parallel) {
    const int64_t last = p->osz - (p->ntiles - 1) * p->tile;
    return fwd_packs_a(p, parallel) && packed_gemm(p, p->tile) && packed_gemm(p, last);
}

/* Does the 1x1 item of ncol columns run the packed GEMM on the weights packed once
 * (the same bits as cnnc__sgemm_st's packed path, which repacked them every item:
 * pack_a6 took 1.6% of MobileNetV2's inference at 1 thread)? Not when the GEMM
 * spreads over the threads, nor for the products the small paths take. */
static bool fwd_item_prepacked(const fwd_job *j, const gemm_ws *gw, int64_t ncol) {
    const conv_plan *p = &j->p;
    return j->apk && !(gw->threaded && p->threads > 1) && packed_gemm(p, ncol);
}

/* (ops/conv_internal.h) Here on the rows a GEMM has just written (in L2). */
void cnnc__conv_epilogue_rows(cnnc__isa isa, const cnnc__conv_epilogue *ep, float *yg, int64_t ld,
                              int64_t grp, int64_t mg, int64_t ncol) {
    if (!cnnc__conv_epilogue_any(ep)) return;
    for (int64_t r = 0; r < mg; r++)
        cnnc__conv_epilogue_row(isa, ep, grp * mg + r, yg + r * ld, yg + r * ld, ncol);
}

static void fwd_item(const fwd_job *j, int64_t item, float *col, const gemm_ws *gw) {
    const conv_plan *p = &j->p;
    const cnnc__window *g = p->g;
    const int64_t tile = item % p->ntiles, bg = item / p->ntiles;
    const int64_t grp = bg % g->groups, b = bg / g->groups;
    const int64_t o0 = tile * p->tile;
    const int64_t ncol = p->osz - o0 < p->tile ? p->osz - o0 : p->tile;
    const float *xg = j->x + (b * g->c + grp * p->cg) * p->isz;
    const float *bm;
    int64_t ldb;
    if (p->direct) {
        bm = xg + o0;
        ldb = p->osz;
    } else {
        cnnc__conv_im2col(p->isa, col, ncol, xg, g, 0, p->cg, o0, ncol);
        bm = col;
        ldb = ncol;
    }
    float *yg = j->y + (b * g->m + grp * p->mg) * p->osz + o0;
    cnnc__sgemm_epilogue f;
    bool fused = false;
    if (fwd_item_prepacked(j, gw, ncol)) {
        cnnc__sgemm_plain_b pb = {p->isa, bm, ldb}; /* the input columns in place */
        fused = cnnc__conv_epilogue_gemm(p->isa, j->ep, grp * p->mg, &f);
        cnnc__sgemm_st_packed(p->isa, p->mg, ncol, p->kdim, j->apk + (size_t)grp * j->a_floats,
                              cnnc__sgemm_plain_pack_b, &pb, 0.0f, yg, p->osz, gw->ws,
                              fused ? &f : NULL);
    } else {
        gemm(gw, false, false, p->mg, ncol, p->kdim, j->w + grp * p->mg * p->kdim, p->kdim, bm,
             ldb, 0.0f, yg, p->osz);
    }
    if (!fused) cnnc__conv_epilogue_rows(p->isa, j->ep, yg, p->osz, grp, p->mg, ncol);
}

static cnnc_status fwd_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const fwd_job *j = ctx;
    float *slice = j->ws + (size_t)chunk * j->p.slice;
    gemm_ws gw = {j->p.isa, slice + j->p.col_floats, j->p.gemm_floats, false};
    for (int64_t i = begin; i < end; i++) fwd_item(j, i, slice, &gw);
    return CNNC_OK;
}

/* Depthwise: one plane per item. */
typedef struct dw_job {
    cnnc__isa isa;
    const cnnc__window *g;
    int64_t mg, isz, osz, ksz;
    float *out;
    const float *a, *b;
    const cnnc__conv_epilogue *ep; /* the forward's */
} dw_job;

/* Planes from i = (b, o) on that run together through one kernel call: the rest of
 * image b's filters up to end (one filter per input channel: mg 1). */
static int64_t dw_run(const dw_job *j, int64_t i, int64_t end, int64_t per_image) {
    if (j->mg != 1) return 1;
    const int64_t n = per_image - i % per_image;
    return n < end - i ? n : end - i;
}

static cnnc_status dw_fwd_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const dw_job *j = ctx;
    const cnnc__window *g = j->g;
    for (int64_t i = begin, n; i < end; i += n) { /* i = (b, o): runs of planes */
        const int64_t o = i % g->m, b = i / g->m;
        n = dw_run(j, i, end, g->m);
        cnnc__dwconv_forward_planes_act(j->isa, j->out + i * j->osz,
                                        j->a + (b * g->c + o / j->mg) * j->isz,
                                        j->b + o * j->ksz, j->ep->bias ? j->ep->bias + o : NULL,
                                        n, g, j->ep);
    }
    return CNNC_OK;
}

static cnnc_status dw_bwd_data_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const dw_job *j = ctx;
    const cnnc__window *g = j->g;
    for (int64_t i = begin, n; i < end; i += n) { /* i = (b, input channel ci) */
        const int64_t ci = i % g->c, b = i / g->c;
        n = dw_run(j, i, end, g->c);
        float *dx = j->out + i * j->isz;
        if (j->mg == 1) { /* o = ci */
            cnnc__dwconv_backward_data_planes(j->isa, dx, j->a + (b * g->m + ci) * j->osz,
                                              j->b + ci * j->ksz, n, g);
            continue;
        }
        for (int64_t r = 0; r < j->mg; r++) {
            const int64_t o = ci * j->mg + r;
            cnnc__dwconv_backward_data_plane(j->isa, dx, j->a + (b * g->m + o) * j->osz,
                                             j->b + o * j->ksz, g, r > 0);
        }
    }
    return CNNC_OK;
}

static cnnc_status dw_bwd_weight_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const dw_job *j = ctx;
    const cnnc__window *g = j->g;
    /* every filter summed over the batch in order; the image loop outside, so that
     * consecutive planes are read (one stream per image, not a jump per plane) */
    memset(j->out + begin * j->ksz, 0, (size_t)((end - begin) * j->ksz) * sizeof(float));
    if (j->mg == 1) { /* filter o reads input channel o */
        const cnnc__dw_images im = {g->n, g->m * j->osz, g->c * j->isz};
        cnnc__dwconv_backward_weight_planes(j->isa, j->out + begin * j->ksz, j->a + begin * j->osz,
                                            j->b + begin * j->isz, end - begin, im, g);
        return CNNC_OK;
    }
    for (int64_t b = 0; b < g->n; b++) {
        for (int64_t o = begin; o < end; o++)
            cnnc__dwconv_backward_weight_plane(j->isa, j->out + o * j->ksz,
                                               j->a + (b * g->m + o) * j->osz,
                                               j->b + (b * g->c + o / j->mg) * j->isz, g);
    }
    return CNNC_OK;
}

static dw_job make_dw_job(cnnc__isa isa, const cnnc__window *g, float *out, const float *a,
                          const float *b, const cnnc__conv_epilogue *ep) {
    return (dw_job){isa, g, g->m / g->groups, cnnc__window_in_size(g), cnnc__window_out_size(g),
                    cnnc__window_k_size(g), out, a, b, ep};
}

/* `slices` per-thread slices (plan.chunks when items run in parallel, else
 * p->threads for the GEMM), then extra_floats. */
static float *plan_workspace(const conv_plan *p, int slices, size_t extra_floats) {
    size_t floats = (size_t)slices * p->slice + cnnc__round16(extra_floats);
    return cnnc__workspace(floats * sizeof(float));
}

/* Implicit GEMM (every non-1x1 geometry): the weights are packed once for all
 * groups, and the GEMM's B panels are packed straight from the input image
 * (cnnc__conv_pack_cols), so no column matrix is ever built. Items are
 * (image, group, column tile); each runs a single-threaded GEMM on its thread's slice. */
enum { IMPLICIT_TILE_MAX = 4096 };

typedef struct implicit_job {
    cnnc__isa isa;
    const cnnc__window *g;
    int64_t cg, mg, kdim, isz, osz, tile, ntiles;
    size_t a_floats, slice;
    float *y;
    const float *x;
    const cnnc__conv_epilogue *ep;
    const float *w;
    const float *apk; /* packed weights, a_floats per group */
    float *ws;        /* per-thread GEMM slices */
} implicit_job;

typedef struct implicit_item {
    cnnc__isa isa;
    const cnnc__window *g;
    const float *xg;
    int64_t o0;
} implicit_item;

static const float *implicit_pack_b(void *ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                                   int64_t nr, float *dst, float *scratch) {
    const implicit_item *it = ctx;
    cnnc__conv_pack_cols(it->isa, dst, nr, scratch, it->xg, it->g, pc, kc, it->o0 + jc, nc);
    return dst;
}

static cnnc_status implicit_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const implicit_job *j = ctx;
    const cnnc__window *g = j->g;
    float *ws = j->ws + (size_t)chunk * j->slice;
    for (int64_t item = begin; item < end; item++) {
        const int64_t tile = item % j->ntiles, bg = item / j->ntiles;
        const int64_t grp = bg % g->groups, b = bg / g->groups;
        const int64_t o0 = tile * j->tile;
        const int64_t ncol = j->osz - o0 < j->tile ? j->osz - o0 : j->tile;
        implicit_item it = {j->isa, g, j->x + (b * g->c + grp * j->cg) * j->isz, o0};
        float *yg = j->y + (b * g->m + grp * j->mg) * j->osz + o0;
        cnnc__sgemm_epilogue f;
        const bool fused = cnnc__conv_epilogue_gemm(j->isa, j->ep, grp * j->mg, &f);
        cnnc__sgemm_st_packed(j->isa, j->mg, ncol, j->kdim, j->apk + (size_t)grp * j->a_floats,
                              implicit_pack_b, &it, 0.0f, yg, j->osz, ws, fused ? &f : NULL);
        if (!fused) cnnc__conv_epilogue_rows(j->isa, j->ep, yg, j->osz, grp, j->mg, ncol);
    }
    return CNNC_OK;
}

/* Phase-plane path (1-d / 2-d): the images are split into stride-phase planes
 * (cnnc__conv_phase_split), a wave of as many images as PHASE_PLANES_MAX_FLOATS holds
 * at a time, so that every GEMM B row is runs of contiguous plane slices. The GEMM
 * runs on column tiles of the wave's output positions (each image's out[1] out[2] one
 * after the other: no dropped columns, and panels filled across image boundaries:
 * 14x14 maps are 196 columns, 7 panels of 32 of which the last is part empty, an image
 * at a time), into a scratch tile that goes through the epilogue before its images'
 * segments are copied to y. Items are (group, tile); a column's sum does not depend
 * on its tile, so the bits are the per-image GEMM's at any thread count. */
enum {
    PHASE_PLANES_MAX_FLOATS = 1 << 22,
    PHASE_WAVE_COLS = 800,
    PHASE_TILE_FLOATS = 1 << 16,
    PHASE_DIM_MAX = 1 << 20
};

typedef struct phase_job {
    const implicit_job *ij;
    int64_t img_floats;  /* one image's planes, every channel */
    int64_t b0, nimg;    /* the wave's images */
    int64_t tile, ntiles; /* GEMM columns per item (at most), items per group */
    int64_t nr;           /* the GEMM's panel width: tiles start on whole panels */
    size_t slice; /* per chunk: GEMM workspace, then tmp [mg, tile] */
    float *ph; /* the wave's planes [nimg, img_floats] */
    float *ws; /* per-chunk GEMM workspace and tmp */
} phase_job;

typedef struct phase_item {
    cnnc__isa isa;
    const cnnc__window *g;
    const float *ph; /* the group's planes in the wave's first image */
    int64_t img_floats, j0;
} phase_item;

static const float *phase_pack_b(void *ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                                int64_t nr, float *dst, float *scratch) {
    (void)scratch;
    const phase_item *it = ctx;
    cnnc__conv_pack_phase_batch(it->isa, dst, nr, it->ph, it->img_floats, it->g, pc, kc,
                                it->j0 + jc, nc);
    return dst;
}

/* Items are (image, channel): a wave of one image splits over the threads too. */
static cnnc_status phase_split_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const phase_job *pj = ctx;
    const implicit_job *j = pj->ij;
    cnnc__conv_phase_split_items(j->isa, pj->ph, pj->img_floats, j->x + pj->b0 * j->g->c * j->isz,
                                 j->g, begin, end);
    return CNNC_OK;
}

/* y[b0 + i, grp mg + o, p] = tmp[o, t] for the tile's columns j0 + t = i osz + p. */
static void phase_scatter(const implicit_job *j, const float *tmp, int64_t b0, int64_t grp,
                          int64_t j0, int64_t ncol) {
    for (int64_t t = 0; t < ncol;) {
        const int64_t i = (j0 + t) / j->osz, p = (j0 + t) % j->osz;
        const int64_t len = j->osz - p < ncol - t ? j->osz - p : ncol - t;
        float *yg = j->y + ((b0 + i) * j->g->m + grp * j->mg) * j->osz + p;
        for (int64_t o = 0; o < j->mg; o++)
            memcpy(yg + o * j->osz, tmp + o * ncol + t, (size_t)len * sizeof(float));
        t += len;
    }
}

/* The first column of tile t of a wave's total columns: t total / ntiles to the nearest
 * whole panel (nr), so that the tiles are even to a panel (196 columns in two tiles: 96
 * and 100, not 128 and 68). */
static int64_t phase_tile_start(const phase_job *pj, int64_t total, int64_t t) {
    if (t >= pj->ntiles) return total;
    const int64_t j = (t * total / pj->ntiles + pj->nr / 2) / pj->nr * pj->nr;
    return j < total ? j : total;
}

static cnnc_status phase_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const phase_job *pj = ctx;
    const implicit_job *j = pj->ij;
    const cnnc__window *g = j->g;
    float *gws = pj->ws + (size_t)chunk * pj->slice;
    float *tmp = gws + cnnc__sgemm_workspace_floats(j->isa); /* [mg, tile] */
    const int64_t total = pj->nimg * j->osz;
    for (int64_t item = begin; item < end; item++) { /* item = (group, tile) */
        const int64_t grp = item / pj->ntiles, t = item % pj->ntiles;
        const int64_t j0 = phase_tile_start(pj, total, t);
        const int64_t ncol = phase_tile_start(pj, total, t + 1) - j0;
        if (ncol <= 0) continue;
        phase_item it = {j->isa, g, pj->ph + grp * (pj->img_floats / g->groups), pj->img_floats,
                         j0};
        cnnc__sgemm_epilogue f;
        const bool fused = cnnc__conv_epilogue_gemm(j->isa, j->ep, grp * j->mg, &f);
        cnnc__sgemm_st_packed(j->isa, j->mg, ncol, j->kdim, j->apk + (size_t)grp * j->a_floats,
                              phase_pack_b, &it, 0.0f, tmp, ncol, gws, fused ? &f : NULL);
        if (!fused) cnnc__conv_epilogue_rows(j->isa, j->ep, tmp, ncol, grp, j->mg, ncol);
        phase_scatter(j, tmp, pj->b0, grp, j0, ncol);
    }
    return CNNC_OK;
}

/* j->apk = every group's filters packed into apk [groups, a_floats]. */
static void pack_filters(const conv_plan *p, implicit_job *j, float *apk) {
    for (int64_t grp = 0; grp < p->g->groups; grp++)
        cnnc__sgemm_pack_a_full(p->isa, false, p->mg, p->kdim, j->w + grp * p->mg * p->kdim,
                                p->kdim, apk + (size_t)grp * j->a_floats);
    j->apk = apk;
}

/* Runs the phase-plane path if the geometry allows (its status in *st); false to
 * decline. j->apk: the filters packed already (the cache's), or NULL. */
static bool run_forward_phase(const conv_plan *p, implicit_job *j, cnnc_status *st) {
    const cnnc__window *g = p->g;
    *st = CNNC_OK;
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    /* sane sizes only, so that no plane arithmetic below can overflow (absurd strides,
     * paddings or dilations take the general path) */
    for (int d = 1; d < 3; d++)
        if (g->stride[d] > 64 || g->pad[d] > PHASE_DIM_MAX || g->dil[d] > PHASE_DIM_MAX ||
            g->k[d] > PHASE_DIM_MAX || g->in[d] > PHASE_DIM_MAX || g->out[d] > PHASE_DIM_MAX)
            return false;
    int64_t hph, wph;
    cnnc__conv_phase_geom(g, &hph, &wph);
    const double img = (double)g->c * (double)(g->stride[1] * g->stride[2]) * (double)hph *
                       (double)wph;
    if (img > PHASE_PLANES_MAX_FLOATS) return false;
    phase_job pj = {.ij = j, .img_floats = (int64_t)img};
    /* waves of images: enough for PHASE_WAVE_COLS columns (panels filled across the
     * images of small maps), split evenly, and no more planes than the cap; more images
     * than that read their planes from L3 rather than L2 (measured, 1 thread, batch 8:
     * 128 -> 256 3x3 s2 at 28x28 (14x14 out) 6.26 -> 6.01 ms at 4 images, 6.14 at 8;
     * 64 -> 128 at 56x56 6.36 -> 6.26 at 2 images, 7.02 at 8) */
    const int64_t cap = PHASE_PLANES_MAX_FLOATS / pj.img_floats;
    int64_t wave = (PHASE_WAVE_COLS + p->osz - 1) / p->osz;
    if (wave > cap) wave = cap;
    if (wave > g->n) wave = g->n;
    const int64_t waves = (g->n + wave - 1) / wave;
    wave = (g->n + waves - 1) / waves; /* even waves */
    /* column tiles: tmp [mg, tile] in L2, whole panels, an even split */
    int64_t mr, nr;
    cnnc__sgemm_tile(p->isa, &mr, &nr);
    int64_t tmax = PHASE_TILE_FLOATS / p->mg / nr * nr;
    if (tmax < nr) tmax = nr;
    const int64_t cols = wave * p->osz;
    int64_t ntiles = (cols + tmax - 1) / tmax;
    if (ntiles < p->threads && cols >= 2 * nr * p->threads) ntiles = p->threads;
    pj.nr = nr;
    /* a wave's columns in tiles of about `share` (whole panels), each starting at the
     * panel nearest to an even split (phase_tile_start): at most a panel wider */
    const int64_t share = ((cols + ntiles - 1) / ntiles + nr - 1) / nr * nr;
    pj.tile = share + nr;
    pj.slice = cnnc__sgemm_workspace_floats(p->isa) + cnnc__round16((size_t)(p->mg * pj.tile));
    const cnnc__par plan = items_plan(p, g->groups * ntiles, p->mg * p->kdim * share);
    const size_t planes = cnnc__round16((size_t)(wave * pj.img_floats));
    const size_t own_a = j->apk ? 0 : (size_t)g->groups * j->a_floats; /* not the cache's */
    float *ws = cnnc__workspace(((size_t)plan.chunks * pj.slice + planes + own_a) * sizeof(float));
    if (!ws) {
        *st = cnnc_last_status();
        return true;
    }
    pj.ws = ws;
    pj.ph = ws + (size_t)plan.chunks * pj.slice;
    if (own_a) pack_filters(p, j, pj.ph + planes);
    for (pj.b0 = 0; pj.b0 < g->n && *st == CNNC_OK; pj.b0 += wave) {
        pj.nimg = g->n - pj.b0 < wave ? g->n - pj.b0 : wave;
        pj.ntiles = (pj.nimg * p->osz + share - 1) / share;
        (void)cnnc__parallel_for(pj.nimg * g->c,
                                 (cnnc__cost){.bytes = 8.0 * (double)(pj.img_floats / g->c)},
                                 phase_split_range, &pj);
        /* the first wave is the largest: no more chunks than the workspace has */
        *st = cnnc__par_run(items_plan(p, g->groups * pj.ntiles, p->mg * p->kdim * share),
                            phase_range, &pj);
    }
    return true;
}

/* apk: the filters packed (the cache's), or NULL: packed here. */
static cnnc_status run_forward_implicit(const conv_plan *p, float *y, const float *x,
                                        const float *w, const float *apk,
                                        const cnnc__conv_epilogue *ep) {
    const cnnc__window *g = p->g;
    implicit_job j = {.isa = p->isa, .g = g, .cg = p->cg, .mg = p->mg, .kdim = p->kdim,
                      .isz = p->isz, .osz = p->osz, .y = y, .x = x, .w = w, .ep = ep, .apk = apk};
    j.a_floats = cnnc__sgemm_packed_a_floats(p->isa, p->mg, p->kdim);
    cnnc_status st;
    conv_path = "phase planes + gemm";
    if (run_forward_phase(p, &j, &st)) return st;
    conv_path = "implicit gemm";
    int64_t mr, nr;
    cnnc__sgemm_tile(p->isa, &mr, &nr);
    /* Column tiles: at most IMPLICIT_TILE_MAX wide, and enough items to keep every
     * thread busy (a few per thread) when the images alone are too few. */
    const int64_t planes = g->n * g->groups;
    int64_t per = (p->osz + IMPLICIT_TILE_MAX - 1) / IMPLICIT_TILE_MAX;
    const int64_t want = (4 * (int64_t)p->threads + planes - 1) / planes;
    if (p->threads > 1 && per < want) per = want;
    int64_t tile = (p->osz + per - 1) / per;
    tile = (tile + nr - 1) / nr * nr;
    if (tile < 2 * nr) tile = 2 * nr;
    if (tile > p->osz) tile = p->osz;
    j.tile = tile;
    j.ntiles = (p->osz + tile - 1) / tile;
    j.slice = cnnc__sgemm_workspace_floats(p->isa);
    const cnnc__par plan = items_plan(p, planes * j.ntiles, p->mg * p->kdim * tile);
    const size_t own_a = j.apk ? 0 : (size_t)g->groups * j.a_floats; /* not the cache's */
    float *ws = cnnc__workspace(((size_t)plan.chunks * j.slice + own_a) * sizeof(float));
    if (!ws) return cnnc_last_status();
    j.ws = ws;
    if (own_a) pack_filters(p, &j, ws + (size_t)plan.chunks * j.slice);
    return cnnc__par_run(plan, implicit_range, &j);
}

/* ---- Winograd F(2x2, 3x3) and F(4x4, 3x3) forward (3x3, stride 1, dilation 1) ------- */

enum { WINO_BLOCK_FLOATS = 1 << 18 }; /* V and M of one tile block (1 MB): stay in L2 */
/* Transformed weights past this many bytes (4 MB: 16 planes of 256 x 256 channels)
 * are transformed by a lone block itself, WINO_CHUNK_PANELS of the GEMM's MR-row
 * panels at a time (the block's V, the chunk's 16 planes (0.9 MB at 512 channels) and
 * M in L2/L3 instead of 16 MB written to memory and read back: 512 channels at 7x7,
 * batch 8, forward / backward (input and weight gradients), in-process alternation:
 * 1 thread 9.04 / 20.41 -> 8.87 / 19.61 ms, 2 threads 6.43 / 14.46 -> 6.33 / 12.77) */
enum { WINO_CHUNKED_BYTES = 1 << 22, WINO_CHUNK_PANELS = 2 };

/* Does F(2x2) beat the GEMM paths on g's forward (and, on its transposed geometry, on
 * the input gradient), tiles the 2x2 tiles over the batch? Not where the small-channel
 * direct kernels (conv_direct.c: at most 16 input channels) take the layer: there the
 * old 256 tiles (16 -> 32 at 32x32, 4 images: direct 0.24 / 0.54 ms, F(2x2) 0.32 /
 * 0.67, forward / backward).
 * AVX-512 (1 thread, forward / backward): from 48 tiles on, or a tile per 2048 filter
 * pairs where the transformed weights (16 per pair) outgrow L2 (256 channels at 14x14,
 * 1 image (49 tiles) 1.47 / 3.11 -> 1.27 / 2.79 ms, 4 images 4.94 / 9.58 -> 3.24 /
 * 6.68; 512 at 7x7, 8 images (128 tiles) 11.6 / 23.6 -> 9.7 / 22.7, 3 images (48) 5.3
 * / 9.9 -> 6.0 / 12.5; 64 at 7x7, 8 images 0.31 / 0.57 -> 0.23 / 0.48).
 * AVX2 (Zen 3, 1 thread, thread CPU time, min of 7-15, 2-3 alternations, ms forward /
 * input gradient, im2col -> F(2x2)): from 32 tiles on, and 16 at 256 channels or more,
 * on maps down to 4x4 where the tiles fill them (cnnc__conv_winograd_f2_fills): 512
 * channels at 4x4, batch 8 (32 tiles) 8.6-11.0 / 8.6-9.4 -> 5.4-6.7 / 5.6-6.5, at 14x14,
 * 1 image (49) 11.5-11.7 / 16.5-16.7 -> 8.1-8.3 / 8.2, 7x7, 1 image (16) 4.5-5.4 /
 * 4.8-5.7 -> 3.4-3.6 / 3.6-3.8; 256 at 8x8, 1 image (16) 1.02-1.06 / 1.10 -> 0.88-0.91 /
 * 0.91-0.92; 64 at 4x4, batch 8 (32) 0.23 / 0.18 -> 0.16-0.17 / 0.15; 32 at 7x7, 2
 * images (32) 0.067 / 0.042 -> 0.058 / 0.046. Not paying: 128 channels at 16-25 tiles
 * (7x7 to 9x9, 1 image: input gradient 0.24-0.35 -> 0.25-0.38), 5x5 maps (64 channels,
 * batch 8: 0.26 -> 0.28), 512 at 4x4 with 2 images (8 tiles: 2.6-3.0 -> 3.0-3.2). */
static bool f2_forward_pays(cnnc__isa isa, const cnnc__window *g, double tiles) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    if (cg <= 16) return false;
    if (isa >= CNNC__ISA_AVX512)
        return g->out[1] >= 7 && g->out[2] >= 7 && tiles >= 48.0 &&
               tiles >= (double)cg * (double)mg / 2048.0;
    return cnnc__conv_winograd_f2_fills(g) &&
           (tiles >= 32.0 || (tiles >= 16.0 && cg >= 256 && mg >= 256));
}

/* With the transformed weights cached, where F(4x4) has too few tiles (under 8 in
 * the batch: 7x7 and smaller maps at batch 1): F(2x2) wherever its tiles fill the map,
 * on 8 tiles or more or on 4 of 128 channels or more. Measured (AVX2, Zen 3, 1 thread,
 * a module in eval mode, min of 30-100 calls, ms, the GEMM paths -> cached F(2x2)),
 * batch 1: 512 channels at 7x7 4.30 -> 2.00 (ResNet-18's last stage), 256 at 7x7 1.37
 * -> 0.43, 128 at 7x7 0.27 -> 0.13, 64 0.084 -> 0.050, 32 0.051 -> 0.022, 128 at 8x8
 * 0.27 -> 0.13, 512 at 4x4 1.86 -> 1.13, 256 at 4x4 0.37 -> 0.32; not paying at 4x4
 * under 128 channels (64: 0.037 -> 0.039, 32: 0.016 -> 0.018). */
static bool f2_cached_pays(const cnnc__window *g, double tiles) {
    return cnnc__conv_winograd_f2_fills(g) &&
           (tiles >= 8.0 || (g->c / g->groups >= 128 && g->m / g->groups >= 128));
}

/* The Winograd tile, or 0; cached: the transformed weights are kept between calls
 * (inference only). */
static int winograd_tile(cnnc__isa isa, const cnnc__window *g, bool training, bool cached) {
    if (!cnnc__conv_winograd_ok(g) || cnnc__conv_is_depthwise(g)) return 0;
    if (g->c / g->groups < 16 || g->m / g->groups < 16) return 0;
    /* cached: no weight transform to amortise per call, so F(4x4) pays from a handful
     * of tiles (measured, 1 thread, 16-512 channels: 1.2-2x faster than the direct
     * paths from 8 tiles of 4x4 in the batch on; equal at 4 tiles of 512 channels,
     * slower at 4 tiles of 32), F(2x2) under that (f2_cached_pays) */
    const double tiles = (double)g->n * (double)cnnc__conv_winograd_tiles(g, 2);
    if (cached)
        return g->out[1] >= 4 && g->out[2] >= 4 &&
                       (double)g->n * (double)cnnc__conv_winograd_tiles(g, 4) >= 8.0
                   ? 4
                   : f2_cached_pays(g, tiles) ? 2 : 0;
    const bool f2_pays = f2_forward_pays(isa, g, tiles);
    if (training && g->c / g->groups > 16) return f2_pays ? 2 : 0;
    /* Otherwise (and F(4x4), inference without cached weights): under ~100 tiles an
     * image the GEMM's 32-column panels are part empty and the weight transform (16 or
     * 36 planes of the weights) is amortised over few tiles. Blocks of tiles cross
     * images, so the whole batch's tiles count: 14x14 maps (49 tiles an image) pay from 6
     * images on; 7x7 maps at batch 8 (128 tiles, 512 channels) lose to the column
     * chunks. F(4x4) is faster than F(2x2) wherever F(2x2) pays (measured 1.25-1.6x on
     * 16-512 channels, 14x14 to 224x224 maps) but rounds ~4x coarser: in training that
     * moved whole networks' gradients past 8x PyTorch's own error (Inception v3 at 75x75:
     * a BatchNorm over 2 values per channel amplifies it), so gradients keep F(2x2).
     * Inference where F(4x4) does not pay: F(2x2) where it pays in training (1 thread,
     * AVX2, im2col / phase planes -> F(2x2) forward: 512 channels at 7x7, 8 images 23.8
     * -> 15.4 ms; 256 at 14x14, 1 image 2.85 -> 1.97, 4 images 10.7 -> 5.8; 128 at
     * 28x28, 1 image 2.75 -> 1.54; 64 at 7x7, 8 images 0.65 -> 0.39; AVX-512 figures
     * above) */
    if (!(g->out[1] >= 8 && g->out[2] >= 8 && tiles >= 256.0)) return !training && f2_pays ? 2 : 0;
    return training ? 2 : 4;
}

int cnnc__conv_winograd_tile(cnnc__isa isa, const cnnc__window *g, bool training) {
    return winograd_tile(isa, g, training, false);
}

typedef struct wino_job {
    cnnc__isa isa;
    const cnnc__window *g;
    float *y;
    const float *x;
    cnnc__wino_weights wt;
    const cnnc__conv_epilogue *ep;
    float *ws;
    size_t scratch, slice;
    int64_t tiles, ldt, nblk; /* ldt: the largest block's tiles (a multiple of nr) */
    int64_t nr, panels;       /* the GEMM's panel width; the batch's tiles in panels */
    int64_t msplit, mrows; /* a block's output channels in msplit items of mrows */
    int mt;
} wino_job;

static cnnc_status wino_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const wino_job *j = ctx;
    const cnnc__window *g = j->g;
    float *s = j->ws + (size_t)chunk * j->slice;
    const int64_t mg = g->m / g->groups;
    for (int64_t i = begin; i < end; i++) { /* i = (group, block of the batch's tiles, rows) */
        const int64_t part = i % j->msplit, blk = i / j->msplit % j->nblk, grp = i / j->msplit / j->nblk;
        /* block blk: panels [blk panels / nblk, (blk + 1) panels / nblk) */
        const int64_t t0 = blk * j->panels / j->nblk * j->nr, m0 = part * j->mrows;
        const int64_t t1 = (blk + 1) * j->panels / j->nblk * j->nr;
        const int64_t nt = (t1 < j->tiles ? t1 : j->tiles) - t0;
        const int64_t m1 = mg - m0 < j->mrows ? mg : m0 + j->mrows;
        cnnc__conv_winograd_block(j->isa, j->mt, j->y, j->x, &j->wt, j->ep, g, grp, m0, m1, t0,
                                  nt, j->ldt, s, s + j->scratch);
    }
    return CNNC_OK;
}

/* The blocks of tiles (j->nblk, j->ldt, j->panels; j->tiles set): whole panels of the
 * GEMM, at most ~WINO_BLOCK_FLOATS of V and M a block (chfloats: V's and M's floats per
 * tile) but at least 4 panels (each block streams all the packed weight matrices:
 * wide layers past L2, which fewer tiles would not amortise), spread evenly over the
 * blocks (by whole panels), and as many blocks as threads where the panels allow, or
 * a multiple of the threads: an odd block count left one thread a block short (128
 * channels at 28x28, batch 8: 392 tiles in blocks of 128, 128, 128 and 8 took 1.5x
 * at 2 threads) */
static void wino_blocks(wino_job *j, const cnnc__window *g, int64_t chfloats, int64_t nr,
                        int threads) {
    int64_t pmax = WINO_BLOCK_FLOATS / chfloats / nr;
    if (pmax < 4) pmax = 4;
    if (pmax > 16) pmax = 16;
    j->nr = nr;
    j->panels = (j->tiles + nr - 1) / nr;
    int64_t nblk = (j->panels + pmax - 1) / pmax;
    while ((g->groups * nblk) % threads != 0 && nblk < j->panels) nblk++;
    j->nblk = nblk;
    j->ldt = (j->panels + nblk - 1) / nblk * nr;
}

/* wf [m, per] = w [m, per] with output channel o's filters times scale[o], each
 * product rounded to float: the filters of a folded BatchNorm, as the caller's
 * elementwise product would make them. */
static void fold_filters(float *wf, const float *w, const float *scale, int64_t m, int64_t per) {
    for (int64_t o = 0; o < m; o++)
        for (int64_t i = 0; i < per; i++) wf[o * per + i] = w[o * per + i] * scale[o];
}

typedef struct wino_pack {
    cnnc__isa isa;
    const float *w, *wscale; /* wscale: [m] or NULL */
    const cnnc__window *g;
    int mt;
    bool flipped;
} wino_pack;

typedef struct wino_pack_run {
    const wino_pack *p;
    float *up;
    const float *w;
} wino_pack_run;

static cnnc_status wino_pack_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const wino_pack_run *r = ctx;
    cnnc__conv_winograd_pack_weights_range(r->p->isa, r->up, r->w, r->p->g, r->p->mt,
                                           r->p->flipped, begin, end);
    return CNNC_OK;
}

/* The weights' transform over the threads (an item: an MR-row panel's transforms for a
 * k block, memory-bound on wide layers: 512 channels write 16 MB). */
static void wino_pack_all(const wino_pack *p, float *up, const float *w) {
    const cnnc__window *g = p->g;
    int64_t mr, nr;
    cnnc__sgemm_tile(p->isa, &mr, &nr);
    const double filters = (double)mr * (double)cnnc__sgemm_packed_a_kc(p->isa, g->c / g->groups);
    const double np = (double)((p->mt + 2) * (p->mt + 2));
    wino_pack_run r = {p, up, w};
    (void)cnnc__parallel_for(cnnc__conv_winograd_pack_items(p->isa, g),
                             (cnnc__cost){.flops = 4.0 * np * filters,
                                          .bytes = 4.0 * (9.0 + np) * filters},
                             wino_pack_range, &r);
}

static bool wino_pack_weights(const void *ctx, float *up) {
    const wino_pack *p = ctx;
    if (!p->wscale) {
        wino_pack_all(p, up, p->w);
        return true;
    }
    const int64_t per = p->g->c / p->g->groups * 9;
    float *wf = cnnc__malloc((size_t)(p->g->m * per) * sizeof(float)); /* [m, cg, 3, 3] */
    if (!wf) {
        cnnc__oom("a convolution's folded filters");
        return false;
    }
    fold_filters(wf, p->w, p->wscale, p->g->m, per);
    wino_pack_all(p, up, wf);
    cnnc__free(wf);
    return true;
}

static cnnc_status run_forward_winograd(cnnc__isa isa, int mt, const cnnc__window *g, float *y,
                                        const float *x, const float *w, const float *wscale,
                                        bool flipped,
                                        const cnnc__conv_epilogue *ep, const cnnc__conv_wuse *cache) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups, np = (mt + 2) * (mt + 2);
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    wino_job j = {.isa = isa, .g = g, .y = y, .x = x, .ep = ep, .mt = mt};
    j.tiles = g->n * cnnc__conv_winograd_tiles(g, mt); /* the whole batch's */
    const int threads = cnnc__parallel_threads();
    const wino_pack pk = {isa, w, wscale, g, mt, flipped};
    const cnnc__conv_wkey key = {isa, mt, g->c, g->m, g->groups};
    const size_t packed = cnnc__conv_winograd_packed_floats(isa, g, mt);
    cnnc__conv_wentry *e = NULL;
    if (cache) {
        const cnnc__conv_wsource src = {w, wscale, (size_t)(g->m * cg * 9), (size_t)g->m,
                                        cache->wid, cache->wver};
        e = cnnc__conv_wcache_get(cache->cache, &key, &src, packed, wino_pack_weights, &pk, &j.wt.up);
    }
    /* one block of tiles (at 1 thread) and transformed weights past L2: the block
     * transforms them itself, a chunk at a time, and threads split its output channels
     * (each filter transformed once: the parts' rows are disjoint); not for folded
     * filters (scaled first: the cache holds them, unless turned off) */
    wino_blocks(&j, g, np * (cg + mg), nr, 1);
    const bool chunked = !e && j.nblk == 1 && packed * sizeof(float) > WINO_CHUNKED_BYTES && !wscale;
    if (chunked) {
        static const char *named[2][2] = {
            {"winograd F(2x2,3x3), weights by chunks", "winograd F(4x4,3x3), weights by chunks"},
            {"flipped forward: winograd F(2x2,3x3), weights by chunks",
             "flipped forward: winograd F(4x4,3x3), weights by chunks"}};
        conv_path = named[flipped][mt == 4];
        j.wt = (cnnc__wino_weights){.w = w, .flipped = flipped, .chunk = WINO_CHUNK_PANELS * mr};
    } else {
        wino_blocks(&j, g, np * (cg + mg), nr, threads);
    }
    /* fewer blocks than threads (deep layers: few tiles, many channels): their output
     * channels split too, each part transforming the block's input again (a small
     * share beside its GEMMs) */
    j.msplit = 1;
    while (g->groups * j.nblk * j.msplit < threads && mg / (2 * j.msplit) >= 2 * mr) j.msplit *= 2;
    j.mrows = ((mg + j.msplit - 1) / j.msplit + mr - 1) / mr * mr;
    j.msplit = (mg + j.mrows - 1) / j.mrows;
    j.scratch = cnnc__conv_winograd_scratch_floats(isa, g, j.ldt, mt, j.wt.chunk);
    j.slice = j.scratch + cnnc__sgemm_workspace_floats(isa);
    const size_t up_floats = e || chunked ? 0 : cnnc__round16(packed); /* packed here, when not cached */
    /* an item: np GEMMs of [mrows x cg] by [cg x ldt] */
    const cnnc__par plan = cnnc__par_plan(g->groups * j.nblk * j.msplit,
                                          macs_cost(np * j.mrows * cg * j.ldt), threads);
    float *ws = cnnc__workspace((up_floats + (size_t)plan.chunks * j.slice) * sizeof(float));
    if (!ws) {
        cnnc__conv_wentry_release(e);
        return cnnc_last_status();
    }
    if (!e && !chunked) {
        if (!wino_pack_weights(&pk, ws)) return cnnc_last_status();
        j.wt.up = ws;
    }
    j.ws = ws + up_floats;
    const cnnc_status st = cnnc__par_run(plan, wino_range, &j);
    cnnc__conv_wentry_release(e);
    return st;
}

/* Strided convolutions whose position panels the level packs. Not 1x1 kernels (a window
 * load per panel row, no tap sharing it) with fewer than 256 output channels (the
 * product's flops per packed float: ResNet's shortcut 64 -> 128 1x1 s2 at 56x56, batch
 * 8, 1 thread, cached weights, 0.90-0.96 ms by phase planes, 1.00-1.03 by panels; 128
 * -> 256 at 28x28 0.71-0.74 -> 0.69-0.70), nor on maps small enough for column chunks
 * (256 -> 512 at 14x14, 0.57 ms by chunks, 0.62 by panels). Zen 5, eval Conv2d with
 * bias, cached weights, batch 8, ms, phase planes or column chunks -> position panels,
 * 3x3 s2: 128 -> 256 at 28x28, 1 thread 5.29-5.32 -> 4.71, 2 threads 2.99-3.19 ->
 * 2.92-3.01; 256 -> 512 at 14x14 5.18-5.32 -> 4.65-4.71, 3.38-3.43 -> 2.73-2.76; 64 ->
 * 128 at 56x56 5.91-6.14 -> 5.21-5.27, 3.45-3.63 -> 3.24-3.39; one image, 256 -> 512,
 * 2 threads 0.76-0.84 -> 0.39. */
static bool pospanel_pays(cnnc__isa isa, const cnnc__window *g) {
    if (!(g->stride[1] > 1 || g->stride[2] > 1) || !cnnc__conv_pospanel_fits(isa, g))
        return false;
    if (cnnc__window_k_size(g) > 1) return true;
    return g->m / g->groups >= 256 && !cnnc__conv_cols_pays(g);
}

static cnnc_status run_forward_impl(const cnnc__window *g, float *y, const float *x,
                                   const float *w, const float *wscale,
                                   const cnnc__conv_epilogue *ep, bool training,
                                   const cnnc__conv_wuse *cache);

const float *cnnc__conv_folded_or_own(const float *w, const float *wscale, int64_t m, int64_t per,
                                      float **owned) {
    *owned = NULL;
    if (!wscale) return w;
    if (!(*owned = cnnc__malloc((size_t)(m * per) * sizeof(float)))) return NULL;
    fold_filters(*owned, w, wscale, m, per);
    return *owned;
}

/* ---- the packed filters of the GEMM paths, kept in the cache ----------------------------
 * Every group's filters [mg, kdim] (times wscale when set) packed by
 * cnnc__sgemm_pack_a_full, a_floats apart: per call, folding and packing took 1.7% of
 * MobileNetV2's inference at 1 thread (its 1x1 layers). */
typedef struct gemm_pack {
    cnnc__isa isa;
    const cnnc__window *g;
    const float *w, *wscale; /* wscale: [m] or NULL */
    size_t a_floats;         /* per group */
    bool b_panels;           /* packed as the B of the position-panel GEMM instead */
} gemm_pack;

static bool gemm_pack_weights(const void *ctx, float *packed) {
    const gemm_pack *pk = ctx;
    const cnnc__window *g = pk->g;
    const int64_t mg = g->m / g->groups, kdim = g->c / g->groups * cnnc__window_k_size(g);
    float *own;
    const float *w = cnnc__conv_folded_or_own(pk->w, pk->wscale, g->m, kdim, &own); /* [m, kdim] */
    if (!w) {
        cnnc__oom("a convolution's folded filters");
        return false;
    }
    if (pk->b_panels)
        cnnc__conv_pospanel_pack_filters(pk->isa, g, w, packed);
    else
        for (int64_t grp = 0; grp < g->groups; grp++)
            cnnc__sgemm_pack_a_full(pk->isa, false, mg, kdim, w + grp * mg * kdim, kdim,
                                    packed + (size_t)grp * pk->a_floats);
    cnnc__free(own);
    return true;
}

/* The cache's packing of w (times wscale) for the GEMM paths (b_panels: the
 * position-panel GEMM's B, else the A of the others), *e the entry to release; NULL
 * (e NULL) without a cache or memory for it: the caller packs them itself. */
static const float *cached_packing(cnnc__isa isa, const cnnc__window *g, const float *w,
                                   const float *wscale, const cnnc__conv_wuse *cache,
                                   bool b_panels, cnnc__conv_wentry **e) {
    *e = NULL;
    if (!cache) return NULL;
    const int64_t mg = g->m / g->groups, kdim = g->c / g->groups * cnnc__window_k_size(g);
    const size_t per = b_panels ? cnnc__conv_pospanel_b_floats(isa, g)
                                : cnnc__sgemm_packed_a_floats(isa, mg, kdim);
    const gemm_pack pk = {isa, g, w, wscale, per, b_panels};
    /* tile 0: no transform (the position panels' B: a kind of its own) */
    const cnnc__conv_wkey key = {isa, b_panels ? CNNC__CONV_WKIND_POSITIONS : 0, g->c, g->m,
                                 g->groups};
    const cnnc__conv_wsource src = {w, wscale, (size_t)(g->m * kdim), (size_t)g->m, cache->wid,
                                    cache->wver};
    const float *packed = NULL;
    *e = cnnc__conv_wcache_get(cache->cache, &key, &src, (size_t)g->groups * per,
                               gemm_pack_weights, &pk, &packed);
    return *e ? packed : NULL;
}

static const float *cached_filters(cnnc__isa isa, const cnnc__window *g, const float *w,
                                   const float *wscale, const cnnc__conv_wuse *cache,
                                   cnnc__conv_wentry **e) {
    return cached_packing(isa, g, w, wscale, cache, false, e);
}

/* ---- the folded filters of the fused runs, kept in the cache --------------------------
 * Per call, folding every arm's filters (a copy allocated each time) took 2.2% of
 * MobileNetV2's inference at batch 1, 1 thread. */
typedef struct fold_pack {
    const float *w, *wscale;
    int64_t m, per;
} fold_pack;

static bool fold_into(const void *ctx, float *packed) {
    const fold_pack *f = ctx;
    fold_filters(packed, f->w, f->wscale, f->m, f->per);
    return true;
}

const float *cnnc__conv_filters_folded(const cnnc__conv_filters *f, int64_t m, int64_t per,
                                       cnnc__conv_wentry **e, float **own) {
    *e = NULL;
    *own = NULL;
    if (!f->wscale) return f->w;
    if (f->use.cache) {
        const fold_pack pk = {f->w, f->wscale, m, per};
        const cnnc__conv_wkey key = {cnnc__isa_active(), CNNC__CONV_WKIND_FOLDED, per, m, 1};
        const cnnc__conv_wsource src = {f->w, f->wscale, (size_t)(m * per), (size_t)m,
                                        f->use.wid, f->use.wver};
        const float *folded = NULL;
        *e = cnnc__conv_wcache_get(f->use.cache, &key, &src, (size_t)(m * per), fold_into, &pk,
                                   &folded);
        if (*e) return folded;
    }
    return cnnc__conv_folded_or_own(f->w, f->wscale, m, per, own);
}

/* The forward with the filters folded into a buffer of their own (the paths that keep
 * no packing between calls). */
static cnnc_status run_forward_folded(const cnnc__window *g, float *y, const float *x,
                                      const float *w, const float *wscale,
                                      const cnnc__conv_epilogue *ep, bool training,
                                      const cnnc__conv_wuse *cache) {
    const int64_t per = g->c / g->groups * cnnc__window_k_size(g);
    float *own;
    const float *wf = cnnc__conv_folded_or_own(w, wscale, g->m, per, &own); /* [m, cg, k] */
    if (!wf) return cnnc__oom("a convolution's folded filters");
    const cnnc_status st = run_forward_impl(g, y, x, wf, NULL, ep, training, cache);
    cnnc__free(own);
    return st;
}

/* Does g's forward (inference, given a weight cache) run on a packing the cache keeps:
 * Winograd's transformed filters, or the GEMM's packed ones (column chunks, phase
 * planes and implicit GEMM, 1x1)? The paths of run_forward_impl, in its order. */
static bool packs_cached(cnnc__isa isa, const cnnc__window *g, bool training) {
    if (cnnc__conv_is_depthwise(g)) return false;
    if (winograd_tile(isa, g, training, true)) return true;
    return !cnnc__conv_direct_forward_pays(isa, g);
}

static cnnc_status run_forward_impl(const cnnc__window *g, float *y, const float *x,
                                   const float *w, const float *wscale,
                                   const cnnc__conv_epilogue *ep, bool training,
                                   const cnnc__conv_wuse *cache) {
    const int64_t osz = cnnc__window_out_size(g);
    if (g->n == 0 || g->m == 0 || osz == 0) return CNNC_OK;
    const cnnc__isa isa = cnnc__isa_active();
    /* scaled filters: the cached packings fold them themselves (once, while they stay
     * the same), every other path from a folded copy */
    if (wscale && !(cache && packs_cached(isa, g, training)))
        return run_forward_folded(g, y, x, w, wscale, ep, training, cache);
    if (cnnc__conv_is_depthwise(g)) {
        conv_path = "depthwise";
        dw_job j = make_dw_job(isa, g, y, x, w, ep);
        return cnnc__parallel_for(g->n * g->m, macs_cost(osz * j.ksz), dw_fwd_range, &j);
    }
    const int mt = winograd_tile(isa, g, training, cache != NULL);
    if (mt) {
        static const char *named[2][2] = {{"winograd F(2x2,3x3)", "winograd F(4x4,3x3)"},
                                          {"winograd F(2x2,3x3), cached weights",
                                           "winograd F(4x4,3x3), cached weights"}};
        conv_path = named[cache != NULL][mt == 4];
        return run_forward_winograd(isa, mt, g, y, x, w, wscale, false, ep, cache);
    }
    if (cnnc__conv_direct_forward_pays(isa, g)) {
        conv_path = cnnc__conv_direct_forward_path(isa, g);
        return cnnc__conv_direct_run_forward(isa, g, y, x, w, ep);
    }
    fwd_job j = {.y = y, .x = x, .w = w, .ep = ep};
    make_plan(&j.p, g, isa);
    const conv_plan *p = &j.p;
    cnnc__conv_wentry *e = NULL;
    if (!p->direct && p->kdim > 0 && pospanel_pays(isa, g)) {
        conv_path = "position panels + gemm";
        const float *bpk = cached_packing(isa, g, w, wscale, cache, true, &e);
        if (wscale && !bpk) return run_forward_folded(g, y, x, w, wscale, ep, training, NULL);
        const cnnc_status st = cnnc__conv_pospanel_forward(isa, g, y, x, w, bpk, ep);
        cnnc__conv_wentry_release(e);
        return st;
    }
    if (p->kdim > 0 && cnnc__conv_cols_pays(g)) {
        conv_path = "column chunks + gemm";
        const float *apk = cached_filters(isa, g, w, wscale, cache, &e);
        if (wscale && !apk) return run_forward_folded(g, y, x, w, wscale, ep, training, NULL);
        const cnnc_status st = cnnc__conv_cols_forward(isa, g, y, x, w, apk, ep);
        cnnc__conv_wentry_release(e);
        return st;
    }
    if (!p->direct && p->kdim > 0) {
        const float *apk = cached_filters(isa, g, w, wscale, cache, &e);
        if (wscale && !apk) return run_forward_folded(g, y, x, w, wscale, ep, training, NULL);
        const cnnc_status st = run_forward_implicit(p, y, x, w, apk, ep);
        cnnc__conv_wentry_release(e);
        return st;
    }
    conv_path = "gemm (1x1)";
    const int64_t items = g->n * g->groups * p->ntiles;
    const cnnc__par plan = items_plan(p, items, p->mg * p->kdim * p->tile);
    const bool parallel = items_in_parallel(p, plan);
    const int slices = parallel ? plan.chunks : p->threads;
    const bool pack = fwd_packs_a(p, parallel);
    /* every item on the packed filters: the cache's, when it has them */
    j.apk = fwd_all_prepacked(p, parallel) ? cached_filters(isa, g, w, wscale, cache, &e) : NULL;
    if (wscale && !j.apk) return run_forward_folded(g, y, x, w, wscale, ep, training, NULL);
    j.a_floats = pack ? cnnc__sgemm_packed_a_floats(p->isa, p->mg, p->kdim) : 0;
    j.ws = plan_workspace(p, slices, j.apk ? 0 : (size_t)g->groups * j.a_floats);
    cnnc_status st = j.ws ? CNNC_OK : cnnc_last_status();
    if (j.ws && pack && !j.apk) {
        const gemm_pack pk = {isa, g, w, NULL, j.a_floats, false};
        float *apk = j.ws + (size_t)slices * p->slice; /* [groups, a_floats] */
        (void)gemm_pack_weights(&pk, apk); /* cannot fail: no scales to fold */
        j.apk = apk;
    }
    if (j.ws && parallel) {
        st = cnnc__par_run(plan, fwd_range, &j);
    } else if (j.ws) {
        gemm_ws gw = {p->isa, j.ws + p->col_floats,
                      (size_t)p->threads * p->slice - p->col_floats, true};
        for (int64_t i = 0; i < items; i++) fwd_item(&j, i, j.ws, &gw);
    }
    cnnc__conv_wentry_release(e);
    return st;
}

/* ---- backward data -------------------------------------------------------------------- */

typedef struct bwd_data_job {
    conv_plan p;
    float *dx;
    const float *dy, *w;
    float *ws;
    /* the sequential path's col2im over channel ranges */
    float *dxg;
    const float *col;
    int64_t o0, ncol;
} bwd_data_job;

static cnnc_status col2im_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const bwd_data_job *j = ctx;
    cnnc__conv_col2im(j->p.isa, j->dxg, j->col + begin * j->p.ksz * j->ncol, j->ncol, j->p.g, begin,
                      end, j->o0, j->ncol);
    return CNNC_OK;
}

/* item = (b, grp, tile) when direct (independent column blocks of dx), else
 * (b, grp) with its tiles in order (col2im accumulates). */
static void bwd_data_item(bwd_data_job *j, int64_t item, float *col, const gemm_ws *gw) {
    const conv_plan *p = &j->p;
    const cnnc__window *g = p->g;
    const int64_t per = p->direct ? p->ntiles : 1;
    const int64_t bg = item / per, grp = bg % g->groups, b = bg / g->groups;
    const float *wg = j->w + grp * p->mg * p->kdim;
    const float *dyg = j->dy + (b * g->m + grp * p->mg) * p->osz;
    float *dxg = j->dx + (b * g->c + grp * p->cg) * p->isz;
    if (p->direct) { /* dx[:, tile] = W^T dy[:, tile] */
        const int64_t o0 = (item % per) * p->tile;
        const int64_t ncol = p->osz - o0 < p->tile ? p->osz - o0 : p->tile;
        gemm(gw, true, false, p->cg, ncol, p->mg, wg, p->kdim, dyg + o0, p->osz, 0.0f, dxg + o0,
             p->osz);
        return;
    }
    memset(dxg, 0, (size_t)(p->cg * p->isz) * sizeof(float));
    for (int64_t t = 0; t < p->ntiles; t++) {
        const int64_t o0 = t * p->tile;
        const int64_t ncol = p->osz - o0 < p->tile ? p->osz - o0 : p->tile;
        gemm(gw, true, false, p->kdim, ncol, p->mg, wg, p->kdim, dyg + o0, p->osz, 0.0f, col, ncol);
        if (gw->threaded && p->threads > 1 && p->cg > 1) {
            j->dxg = dxg;
            j->col = col;
            j->o0 = o0;
            j->ncol = ncol;
            /* a channel: ksz * ncol column values added into dx (cannot fail) */
            const cnnc__cost chan = {.bytes = 12.0 * (double)(p->ksz * ncol)};
            (void)cnnc__par_run(cnnc__par_plan(p->cg, chan, p->threads), col2im_range, j);
        } else {
            cnnc__conv_col2im(p->isa, dxg, col, ncol, g, 0, p->cg, o0, ncol);
        }
    }
}

static cnnc_status bwd_data_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    bwd_data_job *j = ctx;
    float *slice = j->ws + (size_t)chunk * j->p.slice;
    gemm_ws gw = {j->p.isa, slice + j->p.col_floats, j->p.gemm_floats, false};
    for (int64_t i = begin; i < end; i++) bwd_data_item(j, i, slice, &gw);
    return CNNC_OK;
}

/* Stride 1 everywhere (not 1x1, whose input gradient is one GEMM already): the input
 * gradient is the forward convolution of dy with the filters flipped in space and
 * transposed in channels, padded by dil (k - 1) - pad, so it runs on the forward's
 * Winograd path instead of a GEMM into a column matrix and col2im. Needs
 * pad <= dil (k - 1). */

static void transposed_geometry(cnnc__window *t, const cnnc__window *g) {
    *t = *g;
    t->c = g->m;
    t->m = g->c;
    for (int d = 0; d < 3; d++) {
        t->in[d] = g->out[d];
        t->out[d] = g->in[d];
        t->pad[d] = g->dil[d] * (g->k[d] - 1) - g->pad[d];
    }
}

/* The Winograd tile of the transposed geometry, 1 when the direct small-channel forward
 * takes it, or 0: only there (measured: there it pays; on small images with many
 * channels flipping the filters costs more than col2im). */
static int bwd_data_as_forward(cnnc__isa isa, const cnnc__window *g, bool training) {
    if (cnnc__window_k_size(g) == 1) return 0;
    for (int d = 0; d < 3; d++)
        if (g->stride[d] != 1 || g->pad[d] > g->dil[d] * (g->k[d] - 1)) return 0;
    cnnc__window t;
    transposed_geometry(&t, g);
    int mt = cnnc__conv_winograd_tile(isa, &t, training);
    /* F(4x4) where the batch has the tiles to amortise its 36-plane weight transform
     * (1 thread, forward F(2x2) -> F(4x4) ms: 64 channels at 56x56, 1 image 0.79 ->
     * 0.64, 8 images 7.9 -> 5.8; 128 at 28x28, 8 images (392 tiles of 4x4) 6.0 -> 5.0,
     * 1 image 0.77 -> 0.90; 256 at 14x14, 8 images (128 tiles) even). Its ~4x coarser
     * rounding left the whole-network tests' worst gradient ratios unchanged here, where
     * in the forward a BatchNorm over few values amplifies it (winograd_tile). */
    if (mt == 2 && (double)t.n * (double)cnnc__conv_winograd_tiles(&t, 4) >= 192.0) mt = 4;
    return mt ? mt : cnnc__conv_direct_flipped_pays(isa, &t) ? 1 : 0;
}

/* The Winograd forward of the transposed geometry on dy, its weights packed straight
 * from w, flipped and transposed (no flipped copy). */
static cnnc_status run_backward_data_winograd(const cnnc__window *g, int mt, float *dx,
                                              const float *dy, const float *w) {
    cnnc__window t;
    transposed_geometry(&t, g);
    return run_forward_winograd(cnnc__isa_active(), mt, &t, dx, dy, w, NULL, true,
                                &(cnnc__conv_epilogue){0}, NULL);
}

/* The direct forward of the transposed geometry on dy, from a flipped copy of w. */
static cnnc_status run_backward_data_direct(const cnnc__window *g, float *dx, const float *dy,
                                            const float *w, bool training) {
    cnnc__window t;
    transposed_geometry(&t, g);
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups, ksz = cnnc__window_k_size(g);
    /* wt [c, mg, k] (group-major): wt[grp cg + ci][o][q] = w[grp mg + o][ci][ksz - 1 - q]
     * (reversing the flat tap index flips every spatial dim) */
    float *wt = cnnc__malloc((size_t)(g->c * mg * ksz) * sizeof(float));
    if (!wt) return cnnc__oom("a convolution's flipped weights");
    enum { FLIP_BLOCK = 16 }; /* a block of filters x input channels: a cache-friendly transpose */
    for (int64_t grp = 0; grp < g->groups; grp++)
        for (int64_t o0 = 0; o0 < mg; o0 += FLIP_BLOCK)
            for (int64_t c0 = 0; c0 < cg; c0 += FLIP_BLOCK)
                for (int64_t o = o0; o < mg && o < o0 + FLIP_BLOCK; o++)
                    for (int64_t ci = c0; ci < cg && ci < c0 + FLIP_BLOCK; ci++) {
                        float *dst = wt + ((grp * cg + ci) * mg + o) * ksz;
                        const float *src = w + ((grp * mg + o) * cg + ci) * ksz;
                        for (int64_t q = 0; q < ksz; q++) dst[q] = src[ksz - 1 - q];
                    }
    const cnnc_status st = run_forward_impl(&t, dx, dy, wt, NULL, &(cnnc__conv_epilogue){0}, training, NULL);
    cnnc__free(wt);
    return st;
}

static cnnc_status run_backward_data_impl(const cnnc__window *g, float *dx, const float *dy,
                                         const float *w, bool training) {
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    if (g->n == 0 || g->c == 0 || isz == 0) return CNNC_OK;
    if (g->m == 0 || osz == 0) {
        memset(dx, 0, (size_t)(g->n * g->c * isz) * sizeof(float));
        return CNNC_OK;
    }
    const cnnc__isa isa = cnnc__isa_active();
    if (cnnc__conv_is_depthwise(g)) {
        conv_path = "depthwise";
        dw_job j = make_dw_job(isa, g, dx, dy, w, NULL); /* no epilogue: backward */
        return cnnc__parallel_for(g->n * g->c, macs_cost(osz * j.ksz * j.mg), dw_bwd_data_range, &j);
    }
    const int mt = bwd_data_as_forward(isa, g, training);
    if (mt == 1) {
        const cnnc_status st = run_backward_data_direct(g, dx, dy, w, training);
        conv_path = "flipped forward: direct";
        return st;
    }
    if (mt) { /* named first: the Winograd forward may name its variant */
        conv_path = mt == 4 ? "flipped forward: winograd F(4x4,3x3)" : "flipped forward: winograd F(2x2,3x3)";
        return run_backward_data_winograd(g, mt, dx, dy, w);
    }
    cnnc_status st;
    if (cnnc__conv_phase_sum_fits(g) &&
        cnnc__conv_phase_sum_backward_data(isa, g, dx, dy, w, &st)) {
        conv_path = "input phases by shifted sums";
        return st;
    }
    if (cnnc__conv_phase_data_fits(g)) {
        conv_path = "input phases + gemm";
        return cnnc__conv_phase_backward_data(isa, g, dx, dy, w);
    }
    if (cnnc__conv_cols_pays(g)) {
        conv_path = "column chunks + gemm + col2im";
        return cnnc__conv_cols_backward_data(isa, g, dx, dy, w);
    }
    conv_path = "gemm + col2im";
    bwd_data_job j = {.dx = dx, .dy = dy, .w = w};
    make_plan(&j.p, g, isa);
    const conv_plan *p = &j.p;
    const int64_t items = g->n * g->groups * (p->direct ? p->ntiles : 1);
    const cnnc__par plan = items_plan(p, items, p->mg * p->kdim * (p->direct ? p->tile : p->osz));
    const bool parallel = items_in_parallel(p, plan);
    j.ws = plan_workspace(p, parallel ? plan.chunks : p->threads, 0);
    if (!j.ws) return cnnc_last_status();
    if (parallel) return cnnc__par_run(plan, bwd_data_range, &j);
    gemm_ws gw = {p->isa, j.ws + p->col_floats, (size_t)p->threads * p->slice - p->col_floats,
                  true};
    for (int64_t i = 0; i < items; i++) bwd_data_item(&j, i, j.ws, &gw);
    return CNNC_OK;
}

/* ---- backward weight ------------------------------------------------------------------ */

static cnnc_status run_backward_weight_impl(const cnnc__window *g, float *dw, const float *dy,
                                           const float *x) {
    const int64_t ksz = cnnc__window_k_size(g), osz = cnnc__window_out_size(g);
    const int64_t wsize = g->m * (g->c / g->groups) * ksz;
    if (wsize == 0) return CNNC_OK;
    if (g->n == 0 || osz == 0) {
        memset(dw, 0, (size_t)wsize * sizeof(float));
        return CNNC_OK;
    }
    const cnnc__isa isa = cnnc__isa_active();
    if (cnnc__conv_is_depthwise(g)) {
        conv_path = "depthwise";
        dw_job j = make_dw_job(isa, g, dw, dy, x, NULL); /* no epilogue: backward */
        return cnnc__parallel_for(g->m, macs_cost(g->n * osz * ksz), dw_bwd_weight_range, &j);
    }
    if (cnnc__conv_wgrad_winograd_pays(isa, g)) {
        conv_path = "winograd F(2x2,3x3)";
        return cnnc__conv_wgrad_winograd(isa, g, dw, dy, x);
    }
    if (cnnc__conv_direct_wgrad_pays(isa, g)) {
        bool done;
        const cnnc_status st = cnnc__conv_direct_run_backward_weight(isa, g, dw, dy, x, &done);
        conv_path = "direct";
        if (done) return st;
    }
    conv_path = "column chunks + gemm";
    return cnnc__conv_cols_backward_weight(isa, g, dw, dy, x);
}

/* ---- the traced entry points ------------------------------------------------------- */

/* ep: the forward's epilogue, named after the path (NULL: none). */
void cnnc__conv_trace(double t0, const char *op, const cnnc__window *g,
                       const cnnc__conv_epilogue *ep) {
    char shapes[256];
    snprintf(shapes, sizeof shapes,
             "x[%lld,%lld,%lldx%lldx%lld] w[%lld,%lld,%lldx%lldx%lld] y[..,%lld,%lldx%lldx%lld] "
             "stride %lldx%lldx%lld pad %lldx%lldx%lld groups %lld",
             (long long)g->n, (long long)g->c, (long long)g->in[0], (long long)g->in[1],
             (long long)g->in[2], (long long)g->m, (long long)(g->c / g->groups),
             (long long)g->k[0], (long long)g->k[1], (long long)g->k[2], (long long)g->m,
             (long long)g->out[0], (long long)g->out[1], (long long)g->out[2],
             (long long)g->stride[0], (long long)g->stride[1], (long long)g->stride[2],
             (long long)g->pad[0], (long long)g->pad[1], (long long)g->pad[2],
             (long long)g->groups);
    char act[48] = "", kernel[160];
    if (ep && ep->act) snprintf(act, sizeof act, " + %s epilogue",
                                cnnc__conv_epilogue_name(ep, kernel, sizeof kernel));
    snprintf(kernel, sizeof kernel, "%s%s @%s", conv_path, act, cnnc__isa_name(cnnc__isa_active()));
    cnnc__trace_end(t0, op, kernel, shapes);
}

cnnc_status cnnc__conv_run_forward_ep(const cnnc__window *g, float *y, const float *x,
                                      const float *w, const float *wscale,
                                      const cnnc__conv_epilogue *ep, bool training,
                                      const cnnc__conv_wuse *cache) {
    const double t0 = cnnc__trace_begin();
    conv_path = "empty";
    const cnnc_status st = run_forward_impl(g, y, x, w, wscale, ep, training, cache);
    if (t0) cnnc__conv_trace(t0, "conv.forward", g, ep);
    return st;
}

cnnc_status cnnc__conv_run_forward(const cnnc__window *g, float *y, const float *x,
                                   const float *w, const float *bias, bool training) {
    return cnnc__conv_run_forward_ep(g, y, x, w, NULL, &(cnnc__conv_epilogue){.bias = bias}, training,
                                     NULL);
}

cnnc_status cnnc__conv_run_forward_cached(const cnnc__window *g, float *y, const float *x,
                                          const float *w, const float *bias,
                                          cnnc__conv_wcache *cache) {
    return cnnc__conv_run_forward_ep(g, y, x, w, NULL, &(cnnc__conv_epilogue){.bias = bias}, false,
                                     cache ? &(cnnc__conv_wuse){cache, 0, 0} : NULL);
}

const char *cnnc__conv_forward_path(void) { return conv_path; }

cnnc_status cnnc__conv_run_backward_data(const cnnc__window *g, float *dx, const float *dy,
                                         const float *w, bool training) {
    const double t0 = cnnc__trace_begin();
    conv_path = "empty";
    const cnnc_status st = run_backward_data_impl(g, dx, dy, w, training);
    if (t0) cnnc__conv_trace(t0, "conv.backward_data", g, NULL);
    return st;
}

cnnc_status cnnc__conv_run_backward_weight(const cnnc__window *g, float *dw, const float *dy,
                                           const float *x) {
    const double t0 = cnnc__trace_begin();
    conv_path = "empty";
    const cnnc_status st = run_backward_weight_impl(g, dw, dy, x);
    if (t0) cnnc__conv_trace(t0, "conv.backward_weight", g, NULL);
    return st;
}

typedef struct bias_job {
    cnnc__conv_sum_fn sum; /* the row sum of the call's level */
    float *db;
    const float *dy;
    int64_t n, m, osz;
} bias_job;

static cnnc_status bias_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const bias_job *j = ctx;
    for (int64_t o = begin; o < end; o++) {
        double s = 0.0; /* SIMD float sum per plane, planes added in double */
        for (int64_t b = 0; b < j->n; b++) s += j->sum(j->dy + (b * j->m + o) * j->osz, j->osz);
        j->db[o] = (float)s;
    }
    return CNNC_OK;
}

cnnc_status cnnc__conv_run_bias_grad(float *db, const float *dy, int64_t n, int64_t m,
                                     int64_t osz) {
    bias_job j = {cnnc__conv_rows_of(cnnc__isa_active())->sum, db, dy, n, m, osz};
    /* a channel: n * osz values read and added */
    const cnnc__cost chan = {.flops = (double)(n * osz), .bytes = 4.0 * (double)(n * osz)};
    return cnnc__parallel_for(m, chan, bias_range, &j);
}

/* ==========================================================================
 * The op and its autograd node
 * ========================================================================== */

typedef struct conv_ctx {
    cnnc__window g;
    bool transposed, empty;
} conv_ctx;

static cnnc_tensor *zeros_like(const cnnc_tensor *t) {
    return cnnc__tensor_zeros(CNNC_FLOAT32, t->ndim, t->shape);
}

/* Adds bias[ch] to every plane of y [n, ch, osz]. */
static void add_bias_planes(float *y, const float *bias, int64_t n, int64_t ch, int64_t osz) {
    for (int64_t b = 0; b < n; b++)
        for (int64_t o = 0; o < ch; o++) {
            float *r = y + (b * ch + o) * osz;
            const float bv = bias[o];
            for (int64_t t = 0; t < osz; t++) r[t] += bv;
        }
}

static cnnc_status conv_backward(cnnc__node *node, cnnc_tensor *gy, cnnc_tensor **gi) {
    const conv_ctx *c = node->ctx;
    const cnnc__window *g = &c->g;
    cnnc_tensor *x = node->saved[0], *w = node->saved[1];
    const float *gd = cnnc__f32(gy);
    if (cnnc__node_needs_grad(node, 0)) {
        gi[0] = c->empty ? zeros_like(x) : cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
        if (!gi[0]) return cnnc_last_status();
        if (!c->empty) {
            cnnc_status st = c->transposed
                                 ? cnnc__conv_run_forward(g, cnnc__f32(gi[0]), gd, cnnc__f32(w), NULL, true)
                                 : cnnc__conv_run_backward_data(g, cnnc__f32(gi[0]), gd, cnnc__f32(w), true);
            if (st != CNNC_OK) return st;
        }
    }
    if (cnnc__node_needs_grad(node, 1)) {
        gi[1] = c->empty ? zeros_like(w) : cnnc__tensor_new(CNNC_FLOAT32, w->ndim, w->shape);
        if (!gi[1]) return cnnc_last_status();
        if (!c->empty) {
            cnnc_status st =
                c->transposed ? cnnc__conv_run_backward_weight(g, cnnc__f32(gi[1]), cnnc__f32(x), gd)
                              : cnnc__conv_run_backward_weight(g, cnnc__f32(gi[1]), gd, cnnc__f32(x));
            if (st != CNNC_OK) return st;
        }
    }
    if (node->n_inputs > 2 && cnnc__node_needs_grad(node, 2)) {
        const int64_t ch = c->transposed ? g->c : g->m;
        gi[2] = cnnc__tensor_zeros(CNNC_FLOAT32, 1, &ch);
        if (!gi[2]) return cnnc_last_status();
        if (!c->empty)
            return cnnc__conv_run_bias_grad(cnnc__f32(gi[2]), gd, g->n, ch,
                                            c->transposed ? cnnc__window_in_size(g)
                                                          : cnnc__window_out_size(g));
    }
    return CNNC_OK;
}

/* cache with the filters w's storage tag: its id where its version vouches for its data,
 * else 0, and that version (cnnc__conv_wsource). */
static cnnc__conv_wuse weight_use(cnnc__conv_wcache *cache, const cnnc_tensor *w) {
    const cnnc__storage *s = w->storage;
    const bool exposed = atomic_load_explicit(&s->exposed, memory_order_relaxed);
    return (cnnc__conv_wuse){cache, exposed ? 0 : s->id, atomic_load(&s->version)};
}

/* cache: packed weights (or NULL); act: the activation of the forward's epilogue
 * (convolutions, inference only), or NULL. */
static cnnc_tensor *conv_run(const cnnc__conv_call *c, cnnc_tensor *x, cnnc_tensor *w, const float *wscale,
                             cnnc_tensor *b, cnnc__conv_wcache *cache, const cnnc__act_spec *act) {
    cnnc__conv_setup s;
    if (cnnc__conv_validate(c, x, w, b, &s) != CNNC_OK) return NULL;
    cnnc_tensor *inputs[3] = {x, w, b};
    const bool training = cnnc__any_requires_grad(3, inputs); /* recorded for a backward */
    if ((act || wscale) && training)
        return cnnc__error_null(CNNC_ERR_RUNTIME, "%s with %s: an inference pass got a tensor that "
                                "takes part in autograd", c->fn,
                                act ? "an activation epilogue" : "scaled filters");
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, s.out_ndim, s.out_shape);
    if (!out) return NULL;
    const cnnc__window *g = &s.g;
    if (!s.empty && out->numel) { /* (empty: a zero batch, nothing to compute) */
        cnnc_status st;
        if (!c->transposed) {
            cnnc__conv_epilogue ep = {.bias = b ? cnnc__f32(b) : NULL, .act = act != NULL};
            if (act) ep.op = act->op, ep.p = act->p;
            const cnnc__conv_wuse use = weight_use(cache, w);
            st = cnnc__conv_run_forward_ep(g, cnnc__f32(out), cnnc__f32(x), cnnc__f32(w), wscale, &ep, training,
                                           cache && !training && cnnc__conv_wcache_enabled() ? &use : NULL);
        } else {
            st = cnnc__conv_run_backward_data(g, cnnc__f32(out), cnnc__f32(x), cnnc__f32(w), training);
            if (st == CNNC_OK && b)
                add_bias_planes(cnnc__f32(out), cnnc__f32(b), g->n, g->c, cnnc__window_in_size(g));
        }
        if (st != CNNC_OK) {
            cnnc_tensor_release(out);
            return NULL;
        }
    }
    conv_ctx *ctx = NULL;
    if (cnnc__record(out, "ConvolutionBackward0", conv_backward, 3, inputs, 2, inputs,
                     sizeof(conv_ctx), (void **)&ctx) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (ctx) *ctx = (conv_ctx){s.g, c->transposed, s.empty};
    return out;
}

static const char *const conv_names[4] = {"", "conv1d", "conv2d", "conv3d"};
static const char *const conv_transpose_names[4] = {"", "conv_transpose1d", "conv_transpose2d",
                                                    "conv_transpose3d"};

cnnc_tensor *cnnc__op_conv_act(cnnc_tensor *x, cnnc_tensor *w, const float *wscale, cnnc_tensor *b,
                               int dim, const cnnc_conv_options *o, cnnc__conv_wcache *cache,
                               const cnnc__act_spec *act) {
    if (dim < 1 || dim > 3 || !o)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "conv: invalid dimension %d", dim);
    cnnc__conv_call c = {conv_names[dim], dim, false, &o->stride, &o->padding, &o->dilation, NULL,
                         o->padding_str, o->groups};
    return conv_run(&c, x, w, wscale, b, cache, act);
}

/* The window and epilogue of arm a on input x (its shape alone is read); false when it
 * is no convolution of x (the unfused ops report why). */
static bool arm_setup(const cnnc__conv_arm *a, const cnnc_tensor *x, cnnc__conv_setup *s,
                      cnnc__conv_filters *f) {
    if (a->dim < 1 || a->dim > 3) return false;
    const cnnc__conv_call c = {conv_names[a->dim], a->dim, false, &a->o.stride, &a->o.padding,
                               &a->o.dilation, NULL, a->o.padding_str, a->o.groups};
    cnnc_tensor *in[3] = {(cnnc_tensor *)x, a->w, a->b};
    if (x->dtype != CNNC_FLOAT32 || cnnc__conv_validate(&c, x, a->w, a->b, s) != CNNC_OK ||
        s->empty || s->unbatched || cnnc__any_requires_grad(3, in))
        return false;
    *f = (cnnc__conv_filters){cnnc__f32(a->w), a->wscale, {.bias = a->b ? cnnc__f32(a->b) : NULL},
                              a->cache ? weight_use(a->cache, a->w) : (cnnc__conv_wuse){0}};
    if (a->act) f->ep.act = true, f->ep.op = a->act->op, f->ep.p = a->act->p;
    return true;
}

/* The setups of the arms present (arm[0] or arm[2] NULL: absent), each on the output of
 * the one before (the first on x), when they are a pair (A, B) cnnc__conv_dw_fuse_pays
 * takes or a chain (B, C or A, B, C) cnnc__conv_chain_pays takes. */
static bool fused_setup(cnnc_tensor *x, const cnnc__conv_arm *const arm[3], cnnc__conv_setup s[3],
                        cnnc__conv_filters f[3]) {
    cnnc_tensor e[3];
    const cnnc_tensor *in = x;
    for (int k = 0; k < 3; k++) {
        if (!arm[k]) continue;
        if (!arm_setup(arm[k], in, &s[k], &f[k])) return false;
        e[k] = (cnnc_tensor){.dtype = CNNC_FLOAT32, .ndim = s[k].out_ndim}; /* its output: the shape */
        memcpy(e[k].shape, s[k].out_shape, sizeof e[k].shape);
        in = &e[k];
    }
    const cnnc__window *ga = arm[0] ? &s[0].g : NULL;
    if (arm[2]) return cnnc__conv_chain_pays(ga, &s[1].g, &s[2].g);
    return ga && cnnc__conv_dw_fuse_pays(ga, &s[1].g);
}

bool cnnc__op_conv_fused_pays(cnnc_tensor *x, const cnnc__conv_arm *const arm[3]) {
    cnnc__conv_setup s[3];
    cnnc__conv_filters f[3];
    return fused_setup(x, arm, s, f);
}

int cnnc__op_conv_fused(cnnc_tensor *x, const cnnc__conv_arm *const arm[3], cnnc_tensor **y) {
    cnnc__conv_setup s[3];
    cnnc__conv_filters f[3];
    if (!fused_setup(x, arm, s, f)) return 0;
    const int last = arm[2] ? 2 : 1;
    if (!(*y = cnnc__tensor_new(CNNC_FLOAT32, s[last].out_ndim, s[last].out_shape))) return -1;
    const cnnc_status st =
        arm[2] ? cnnc__conv_run_forward_chain(arm[0] ? &s[0].g : NULL, &s[1].g, &s[2].g, cnnc__f32(*y),
                                              cnnc__f32(x), &f[0], &f[1], &f[2])
               : cnnc__conv_run_forward_dw(&s[0].g, &s[1].g, cnnc__f32(*y), cnnc__f32(x), &f[0], &f[1]);
    if (st == CNNC_OK) return 1;
    cnnc_tensor_release(*y);
    *y = NULL;
    return -1;
}

cnnc_tensor *cnnc__op_conv(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, int dim,
                           const cnnc_conv_options *o) {
    return cnnc__op_conv_act(x, w, NULL, b, dim, o, NULL, NULL);
}

cnnc_tensor *cnnc__op_conv_cached(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, int dim,
                                  const cnnc_conv_options *o, cnnc__conv_wcache *cache) {
    return cnnc__op_conv_act(x, w, NULL, b, dim, o, cache, NULL);
}

cnnc_tensor *cnnc__op_conv_transpose(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, int dim,
                                     const cnnc_conv_transpose_options *o) {
    if (dim < 1 || dim > 3 || !o)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "conv_transpose: invalid dimension %d", dim);
    cnnc__conv_call c = {conv_transpose_names[dim], dim, true, &o->stride, &o->padding,
                         &o->dilation, &o->output_padding, NULL, o->groups};
    return conv_run(&c, x, w, NULL, b, NULL, NULL);
}

cnnc_tensor *cnnc_conv1d(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, cnnc_conv_options o) {
    return cnnc__give(cnnc__op_conv(x, w, b, 1, &o));
}
cnnc_tensor *cnnc_conv2d(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, cnnc_conv_options o) {
    return cnnc__give(cnnc__op_conv(x, w, b, 2, &o));
}
cnnc_tensor *cnnc_conv3d(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, cnnc_conv_options o) {
    return cnnc__give(cnnc__op_conv(x, w, b, 3, &o));
}
cnnc_tensor *cnnc_conv_transpose1d(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b,
                                   cnnc_conv_transpose_options o) {
    return cnnc__give(cnnc__op_conv_transpose(x, w, b, 1, &o));
}
cnnc_tensor *cnnc_conv_transpose2d(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b,
                                   cnnc_conv_transpose_options o) {
    return cnnc__give(cnnc__op_conv_transpose(x, w, b, 2, &o));
}
cnnc_tensor *cnnc_conv_transpose3d(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b,
                                   cnnc_conv_transpose_options o) {
    return cnnc__give(cnnc__op_conv_transpose(x, w, b, 3, &o));
}
