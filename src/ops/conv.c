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
#include "ops/conv_phase.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/gemm_mt.h"
#include "core/parallel.h"
#include "core/trace.h"
#include "kernels/gemm.h"
#include "kernels/gemm_small.h"

/* ==========================================================================
 * Drivers
 * ========================================================================== */

enum {
    COL_TILE_FLOATS = 1 << 18, /* one im2col tile (1 MB): stays in L2 for the GEMM's packing */
};

static size_t round16(size_t x) { return (x + 15) & ~(size_t)15; }

/* The path the last driver call on this thread took, for CNNC_TRACE. */
static _Thread_local const char *conv_path = "";

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
    p->col_floats = p->direct ? 0 : round16((size_t)(p->kdim * t));
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

static const cnnc__conv_epilogue no_epilogue = {0};

/* The epilogue over the rows [mg, ncol] (leading dim ld) of group grp's output that a
 * GEMM has just written (in L2). */
static void epilogue_rows(cnnc__isa isa, const cnnc__conv_epilogue *ep, float *yg, int64_t ld,
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
    if (!fused) epilogue_rows(p->isa, j->ep, yg, p->osz, grp, p->mg, ncol);
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
    size_t floats = (size_t)slices * p->slice + round16(extra_floats);
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
        if (!fused) epilogue_rows(j->isa, j->ep, yg, j->osz, grp, j->mg, ncol);
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
    int64_t tile, ntiles; /* GEMM columns per item, items per group */
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

static cnnc_status phase_split_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const phase_job *pj = ctx;
    const implicit_job *j = pj->ij;
    for (int64_t i = begin; i < end; i++)
        cnnc__conv_phase_split(j->isa, pj->ph + i * pj->img_floats,
                               j->x + (pj->b0 + i) * j->g->c * j->isz, j->g, 0, j->g->c);
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

static cnnc_status phase_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const phase_job *pj = ctx;
    const implicit_job *j = pj->ij;
    const cnnc__window *g = j->g;
    float *gws = pj->ws + (size_t)chunk * pj->slice;
    float *tmp = gws + cnnc__sgemm_workspace_floats(j->isa); /* [mg, tile] */
    const int64_t total = pj->nimg * j->osz;
    for (int64_t item = begin; item < end; item++) { /* item = (group, tile) */
        const int64_t grp = item / pj->ntiles, j0 = item % pj->ntiles * pj->tile;
        const int64_t ncol = total - j0 < pj->tile ? total - j0 : pj->tile;
        phase_item it = {j->isa, g, pj->ph + grp * (pj->img_floats / g->groups), pj->img_floats,
                         j0};
        cnnc__sgemm_epilogue f;
        const bool fused = cnnc__conv_epilogue_gemm(j->isa, j->ep, grp * j->mg, &f);
        cnnc__sgemm_st_packed(j->isa, j->mg, ncol, j->kdim, j->apk + (size_t)grp * j->a_floats,
                              phase_pack_b, &it, 0.0f, tmp, ncol, gws, fused ? &f : NULL);
        if (!fused) epilogue_rows(j->isa, j->ep, tmp, ncol, grp, j->mg, ncol);
        phase_scatter(j, tmp, pj->b0, grp, j0, ncol);
    }
    return CNNC_OK;
}

/* Runs the phase-plane path if the geometry allows (its status in *st); false to
 * decline. */
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
    pj.tile = ((cols + ntiles - 1) / ntiles + nr - 1) / nr * nr;
    pj.slice = cnnc__sgemm_workspace_floats(p->isa) + round16((size_t)(p->mg * pj.tile));
    const cnnc__par plan = items_plan(p, g->groups * ((cols + pj.tile - 1) / pj.tile),
                                      p->mg * p->kdim * pj.tile);
    const size_t planes = round16((size_t)(wave * pj.img_floats));
    float *ws = cnnc__workspace(((size_t)plan.chunks * pj.slice + planes +
                                 (size_t)g->groups * j->a_floats) * sizeof(float));
    if (!ws) {
        *st = cnnc_last_status();
        return true;
    }
    pj.ws = ws;
    pj.ph = ws + (size_t)plan.chunks * pj.slice;
    float *apk = pj.ph + planes;
    for (int64_t grp = 0; grp < g->groups; grp++)
        cnnc__sgemm_pack_a_full(p->isa, false, p->mg, p->kdim, j->w + grp * p->mg * p->kdim,
                                p->kdim, apk + (size_t)grp * j->a_floats);
    j->apk = apk;
    for (pj.b0 = 0; pj.b0 < g->n && *st == CNNC_OK; pj.b0 += wave) {
        pj.nimg = g->n - pj.b0 < wave ? g->n - pj.b0 : wave;
        pj.ntiles = (pj.nimg * p->osz + pj.tile - 1) / pj.tile;
        (void)cnnc__parallel_for(pj.nimg, (cnnc__cost){.bytes = 8.0 * (double)pj.img_floats},
                                 phase_split_range, &pj);
        /* the first wave is the largest: no more chunks than the workspace has */
        *st = cnnc__par_run(items_plan(p, g->groups * pj.ntiles, p->mg * p->kdim * pj.tile),
                            phase_range, &pj);
    }
    return true;
}

static cnnc_status run_forward_implicit(const conv_plan *p, float *y, const float *x,
                                        const float *w, const cnnc__conv_epilogue *ep) {
    const cnnc__window *g = p->g;
    implicit_job j = {.isa = p->isa, .g = g, .cg = p->cg, .mg = p->mg, .kdim = p->kdim,
                      .isz = p->isz, .osz = p->osz, .y = y, .x = x, .w = w, .ep = ep};
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
    float *ws = cnnc__workspace(((size_t)plan.chunks * j.slice + (size_t)g->groups * j.a_floats) *
                                sizeof(float));
    if (!ws) return cnnc_last_status();
    j.ws = ws;
    float *apk = ws + (size_t)plan.chunks * j.slice;
    for (int64_t grp = 0; grp < g->groups; grp++)
        cnnc__sgemm_pack_a_full(p->isa, false, p->mg, p->kdim, w + grp * p->mg * p->kdim, p->kdim,
                                apk + (size_t)grp * j.a_floats);
    j.apk = apk;
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

/* The Winograd tile, or 0; cached: the transformed weights are kept between calls
 * (inference only). */
static int winograd_tile(cnnc__isa isa, const cnnc__window *g, bool training, bool cached) {
    if (!cnnc__conv_winograd_ok(g) || cnnc__conv_is_depthwise(g)) return 0;
    if (g->c / g->groups < 16 || g->m / g->groups < 16) return 0;
    /* cached: no weight transform to amortise per call, so F(4x4) pays from a handful
     * of tiles (measured, 1 thread, 16-512 channels: 1.2-2x faster than the direct
     * paths from 8 tiles of 4x4 in the batch on; equal at 4 tiles of 512 channels,
     * slower at 4 tiles of 32) */
    if (cached)
        return g->out[1] >= 4 && g->out[2] >= 4 &&
                       (double)g->n * (double)cnnc__conv_winograd_tiles(g, 4) >= 8.0
                   ? 4
                   : 0;
    const double tiles = (double)g->n * (double)cnnc__conv_winograd_tiles(g, 2);
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
    const size_t up_floats = e || chunked ? 0 : round16(packed); /* packed here, when not cached */
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

static cnnc_status run_forward_impl(const cnnc__window *g, float *y, const float *x,
                                   const float *w, const float *wscale,
                                   const cnnc__conv_epilogue *ep, bool training,
                                   const cnnc__conv_wuse *cache);
static void trace_conv(double t0, const char *op, const cnnc__window *g,
                       const cnnc__conv_epilogue *ep);

/* w [m, per] times wscale, or w itself (wscale NULL); *owned the copy to free. */
static const float *folded_or_own(const float *w, const float *wscale, int64_t m, int64_t per,
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
} gemm_pack;

static bool gemm_pack_weights(const void *ctx, float *packed) {
    const gemm_pack *pk = ctx;
    const cnnc__window *g = pk->g;
    const int64_t mg = g->m / g->groups, kdim = g->c / g->groups * cnnc__window_k_size(g);
    float *own;
    const float *w = folded_or_own(pk->w, pk->wscale, g->m, kdim, &own); /* [m, kdim] */
    if (!w) {
        cnnc__oom("a convolution's folded filters");
        return false;
    }
    for (int64_t grp = 0; grp < g->groups; grp++)
        cnnc__sgemm_pack_a_full(pk->isa, false, mg, kdim, w + grp * mg * kdim, kdim,
                                packed + (size_t)grp * pk->a_floats);
    cnnc__free(own);
    return true;
}

/* The cache's packing of w (times wscale) for the GEMM paths, *e the entry to release;
 * NULL (e NULL) without a cache or memory for it: the caller packs them itself. */
static const float *cached_filters(cnnc__isa isa, const cnnc__window *g, const float *w,
                                   const float *wscale, const cnnc__conv_wuse *cache,
                                   cnnc__conv_wentry **e) {
    *e = NULL;
    if (!cache) return NULL;
    const int64_t mg = g->m / g->groups, kdim = g->c / g->groups * cnnc__window_k_size(g);
    const gemm_pack pk = {isa, g, w, wscale, cnnc__sgemm_packed_a_floats(isa, mg, kdim)};
    const cnnc__conv_wkey key = {isa, 0, g->c, g->m, g->groups}; /* tile 0: no transform */
    const cnnc__conv_wsource src = {w, wscale, (size_t)(g->m * kdim), (size_t)g->m, cache->wid,
                                    cache->wver};
    const float *packed = NULL;
    *e = cnnc__conv_wcache_get(cache->cache, &key, &src, (size_t)g->groups * pk.a_floats,
                               gemm_pack_weights, &pk, &packed);
    return *e ? packed : NULL;
}

/* The forward with the filters folded into a buffer of their own (the paths that keep
 * no packing between calls). */
static cnnc_status run_forward_folded(const cnnc__window *g, float *y, const float *x,
                                      const float *w, const float *wscale,
                                      const cnnc__conv_epilogue *ep, bool training,
                                      const cnnc__conv_wuse *cache) {
    const int64_t per = g->c / g->groups * cnnc__window_k_size(g);
    float *own;
    const float *wf = folded_or_own(w, wscale, g->m, per, &own); /* [m, cg, k] */
    if (!wf) return cnnc__oom("a convolution's folded filters");
    const cnnc_status st = run_forward_impl(g, y, x, wf, NULL, ep, training, cache);
    cnnc__free(own);
    return st;
}

/* Does g's forward (inference, given a weight cache) run on a packing the cache keeps:
 * Winograd's transformed filters, or the GEMM's packed ones (column chunks, 1x1)? The
 * paths of run_forward_impl, in its order. */
static bool packs_cached(cnnc__isa isa, const cnnc__window *g, bool training) {
    if (cnnc__conv_is_depthwise(g)) return false;
    if (winograd_tile(isa, g, training, true)) return true;
    if (cnnc__conv_direct_forward_pays(isa, g)) return false;
    return cnnc__conv_cols_pays(g) || cnnc__conv_is_pointwise(g);
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
        conv_path = mt == 2 ? "winograd F(2x2,3x3)"
                    : cache ? "winograd F(4x4,3x3), cached weights"
                            : "winograd F(4x4,3x3)";
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
    if (p->kdim > 0 && cnnc__conv_cols_pays(g)) {
        conv_path = "column chunks + gemm";
        const float *apk = cached_filters(isa, g, w, wscale, cache, &e);
        if (wscale && !apk) return run_forward_folded(g, y, x, w, wscale, ep, training, NULL);
        const cnnc_status st = cnnc__conv_cols_forward(isa, g, y, x, w, apk, ep);
        cnnc__conv_wentry_release(e);
        return st;
    }
    if (!p->direct && p->kdim > 0) return run_forward_implicit(p, y, x, w, ep);
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
        const gemm_pack pk = {isa, g, w, NULL, j.a_floats};
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

/* ---- a 1x1 convolution's output split for the stride-2 depthwise that reads it ---------
 * In the fused runs below (the pair and the chain), B, a stride-2 depthwise, reads E,
 * A's (a 1x1 convolution's) output rows: where B's band kernel takes rows split ahead
 * (each as the padded row's even columns, then its odd ones: cnnc__dwconv_split_rows),
 * A writes E so and B's kernel reads it in place rather than splitting every row into
 * its buffer. A then multiplies its input rows split the same way (1/6 of E's floats
 * at 16 -> 96 or 24 -> 144), its epilogue applied in its GEMM's store or after it (not
 * by B's kernel), E's padding columns zeroed after that. */

/* Does A write E split for B? Where B's kernel takes split rows and B's epilogue is a
 * clamp at most (its kernel's). */
static bool dw_splits(cnnc__isa isa, const cnnc__window *ga, const cnnc__window *gb,
                      const cnnc__conv_epilogue *epb) {
    cnnc__conv_clamp c;
    return ga && cnnc__dwconv_split_fits(isa, gb) &&
           !(epb->act && !cnnc__conv_epilogue_clamp(epb, &c));
}

/* xs [ga->c channels, xld apart][rows, split_ld(gb)] = A's input rows xb [ga->c planes,
 * in_size(ga) apart][rows, gb->in[2]] split for B. */
static void split_a_input(cnnc__isa isa, float *xs, int64_t xld, const float *xb, int64_t rows,
                          const cnnc__window *ga, const cnnc__window *gb) {
    const int64_t asz = cnnc__window_in_size(ga);
    for (int64_t c = 0; c < ga->c; c++)
        cnnc__dwconv_split_rows(isa, xs + c * xld, xb + c * asz, rows, gb);
}

/* e[r ld] = 0 for the rows [0, rows) of m planes es apart. */
static void zero_column(float *e, int64_t m, int64_t es, int64_t rows, int64_t ld) {
    for (int64_t c = 0; c < m; c++)
        for (int64_t r = 0; r < rows; r++) e[c * es + r * ld] = 0.0f;
}

/* The padding's columns of E's rows [0, rows) of m channels from e (es apart), split,
 * set to zero: A's epilogue wrote its bias there. (Column by column: row by row, the
 * few floats of each row were a memset call; with them 7% of the split pair's time,
 * perf, 1 thread, now 1.5%.) */
static void split_zero_pads(const cnnc__window *gb, int64_t m, float *e, int64_t es, int64_t rows) {
    const int64_t pw = gb->pad[2], iw = gb->in[2], half = cnnc__dwconv_split_half(gb);
    const int64_t ld = cnnc__dwconv_split_ld(gb);
    for (int ph = 0; ph < 2; ph++) { /* position q: padded column 2 q + ph, x's 2 q + ph - pw */
        const int64_t n = ph ? ld - half : half;
        const int64_t lo = (pw - ph + 1) / 2, end = (iw + pw - ph + 1) / 2; /* x's [0, iw) */
        const int64_t hi = end < n ? end : n;
        for (int64_t q = 0; q < lo; q++) zero_column(e + ph * half + q, m, es, rows, ld);
        for (int64_t q = hi; q < n; q++) zero_column(e + ph * half + q, m, es, rows, ld);
    }
}

/* ---- a 1x1 convolution and the depthwise convolution that alone reads it --------------
 * The pair runs over tiles of one image: a block of A's output channels [c0, c0 + cn)
 * times a band of B's output rows [o0, o1). A's rows [r0, r1) of the block that the band
 * reads (the band's rows and the halo of the filter, recomputed by the next band) go
 * from A's GEMM (and epilogue: at AVX2, for a bias and ReLU / Hardtanh, applied by B's
 * band kernel as it reads them) into E [cn, r1 - r0, W] (at most DW_FUSED_TILE_FLOATS: in
 * L2 with the GEMM's input rows) and from there through B's kernels into B's output: A's
 * output never goes through memory whole. Where E is split for B (dw_splits: W is then
 * split_ld(gb); dw_fused_split_e), A's input rows of a band are split once for all the
 * blocks (the tiles then go by bands, the blocks within). The GEMM (B not transposed: its
 * bits depend on k alone, whatever the tile) and B's kernels on a band (a window of
 * rows [r0, r1) with the padding that falls inside it: every output row reads the same
 * rows, and the same padding, as in the whole plane) are the unfused paths', so are the
 * bits. */
enum {
    DW_FUSED_TILE_FLOATS = 1 << 16, /* E (256 KB): half of Zen 3's L2 */
    DW_FUSED_BLOCK_MAX = 16,        /* A's rows per GEMM */
    DW_FUSED_K_MAX = 24,            /* A's input channels worth fusing */
    DW_FUSED_MIN_FLOATS = 1 << 18   /* A's output per image worth fusing (1 MB) */
};

typedef struct dw_fused_job {
    cnnc__isa isa;
    const cnnc__window *ga, *gb;
    float *y;
    const float *x, *wa, *wb; /* the filters (folded) */
    const cnnc__conv_epilogue *epa, *epb;
    bool split;            /* E's rows split for B (dw_splits) */
    int64_t eld;           /* floats per row of E */
    int64_t nblk, nband;   /* channel blocks and row bands per image */
    int64_t xrows;         /* A's input rows of a band, at most */
    size_t slice;          /* per chunk: E, [split: A's input rows split,] then the GEMM's
                              workspace */
    float *ws;
} dw_fused_job;

/* The depthwise of a tile's cn channels (g: the band of one plane) from E, A's sums
 * (split: its outputs), to yb [cn planes of B's output], with A's epilogue applied as
 * the kernel reads E and B's in its registers, where the level has such a kernel and
 * both epilogues are a bias and a clamp at most (split: B's): false (nothing done)
 * otherwise. A's epilogue as a pass over E, the planes one call each and B's activation
 * as another pass took 12% and 8% of the pair's time (perf, 1 thread). */
static bool dw_fused_band(const dw_fused_job *j, float *yb, const float *e, int64_t es,
                          int64_t c0, int64_t cn, const cnnc__window *g) {
    cnnc__conv_clamp ca, cb;
    const bool clamp_a = !j->split && cnnc__conv_epilogue_clamp(j->epa, &ca);
    const bool clamp_b = cnnc__conv_epilogue_clamp(j->epb, &cb);
    if ((!j->split && j->epa->act && !clamp_a) || (j->epb->act && !clamp_b)) return false;
    const cnnc__dw_fwd_ep ep = {.ystep = cnnc__window_out_size(j->gb),
                                .clamp = clamp_b ? &cb : NULL,
                                .xbias = !j->split && j->epa->bias ? j->epa->bias + c0 : NULL,
                                .xclamp = clamp_a ? &ca : NULL,
                                .xstep = es, .xsplit = j->split};
    return cnnc__dwconv_forward_band(j->isa, yb, e, j->wb + c0 * cnnc__window_k_size(j->gb),
                                     j->epb->bias ? j->epb->bias + c0 : NULL, cn, g, &ep);
}

/* The window of depthwise gb's output rows [o0, o1) of one plane: its input rows
 * [*r0, *r1) and the padding that falls inside them. */
static cnnc__window dw_band(const cnnc__window *gb, int64_t o0, int64_t o1, int64_t *r0,
                            int64_t *r1) {
    const int64_t top = o0 * gb->stride[1] - gb->pad[1]; /* the band's first tap row */
    const int64_t bot = (o1 - 1) * gb->stride[1] - gb->pad[1] + (gb->k[1] - 1) * gb->dil[1] + 1;
    *r0 = top > 0 ? top : 0;
    *r1 = bot < gb->in[1] ? bot : gb->in[1];
    cnnc__window g = *gb;
    g.n = g.c = g.m = g.groups = 1;
    g.in[1] = *r1 - *r0;
    g.out[1] = o1 - o0;
    g.pad[1] = *r0 - top;
    return g;
}

/* Floats between the channels of A's input rows split (a multiple of 16: the GEMM's
 * workspace after them stays aligned). */
static int64_t dw_fused_xld(const dw_fused_job *j) {
    return (int64_t)round16((size_t)(j->xrows * j->eld));
}

/* A split tile's E [cn, rows, eld] (rows: the band *g's, padding included; returns
 * rows eld, the floats between its planes): A's n rows (the band *g's) of the cn
 * channels from c0, from xs (A's input rows split), with the window's padding rows as
 * zero rows of their own, so that B's kernel reads every band in place (it copies a
 * band that reaches the padding: with a plane in one band, as at 24 -> 144 at 56x56,
 * every one); *g becomes the window of E's planes, no padding in H. A's GEMM is the
 * in-place one the unsplit pair runs, ep a pass over E after it: the packed GEMM, which
 * fuses ep into its store, packed the input rows again for every block (the pair 3.6
 * -> 4.2 ms); the GEMM and ep by 16 KB of E, for ep to run in L1, made the GEMM's calls
 * short (3.6 ms; whole, 3.1-3.2). */
static int64_t dw_fused_split_e(const dw_fused_job *j, cnnc__window *g, int64_t n, int64_t c0,
                                int64_t cn, const float *xs, float *e, float *gws,
                                const cnnc__conv_epilogue *ep) {
    const cnnc__window *ga = j->ga, *gb = j->gb;
    const int64_t ld = j->eld, above = g->pad[1];
    const int64_t rows = (g->out[1] - 1) * gb->stride[1] + (gb->k[1] - 1) * gb->dil[1] + 1;
    const int64_t es = rows * ld;
    for (int64_t c = 0; c < cn; c++) {
        memset(e + c * es, 0, (size_t)(above * ld) * sizeof(float));
        memset(e + c * es + (above + n) * ld, 0, (size_t)((rows - above - n) * ld) * sizeof(float));
    }
    float *dst = e + above * ld; /* A's rows */
    cnnc__sgemm_st(j->isa, false, false, cn, n * ld, ga->c, j->wa + c0 * ga->c, ga->c, xs,
                   dw_fused_xld(j), 0.0f, dst, es, gws);
    epilogue_rows(j->isa, ep, dst, es, 0, cn, n * ld);
    split_zero_pads(gb, cn, dst, es, n);
    g->in[1] = rows, g->pad[1] = 0;
    return es;
}

/* Item i = (image, channel block, row band), or split (image, row band, channel block):
 * a band's input rows split once for its blocks. */
static void dw_fused_tile(const dw_fused_job *j, int64_t i, int64_t *b, int64_t *blk,
                          int64_t *band) {
    const int64_t inner = j->split ? j->nblk : j->nband, outer = j->split ? j->nband : j->nblk;
    *b = i / inner / outer;
    *(j->split ? blk : band) = i % inner;
    *(j->split ? band : blk) = i / inner % outer;
}

/* Item i; xs: split, A's input rows of the band split (by this item when `fresh`). */
static void dw_fused_item(const dw_fused_job *j, int64_t i, bool fresh, float *e, float *xs,
                          float *gws) {
    const cnnc__window *ga = j->ga, *gb = j->gb;
    int64_t b, blk, band;
    dw_fused_tile(j, i, &b, &blk, &band);
    const int64_t c0 = blk * ga->m / j->nblk, cn = (blk + 1) * ga->m / j->nblk - c0;
    const int64_t o0 = band * gb->out[1] / j->nband, o1 = (band + 1) * gb->out[1] / j->nband;
    int64_t r0, r1;
    cnnc__window g = dw_band(gb, o0, o1, &r0, &r1); /* the band of one plane */
    const int64_t ncol = (r1 - r0) * j->eld, asz = cnnc__window_in_size(ga);
    const float *xb = j->x + b * ga->c * asz + r0 * gb->in[2]; /* [ca planes asz apart] */
    cnnc__conv_epilogue epa = *j->epa; /* of E [cn, r1 - r0, eld] */
    if (epa.bias) epa.bias += c0;
    int64_t es = ncol; /* E's planes apart */
    if (j->split) {
        if (fresh) split_a_input(j->isa, xs, dw_fused_xld(j), xb, r1 - r0, ga, gb);
        es = dw_fused_split_e(j, &g, r1 - r0, c0, cn, xs, e, gws, &epa);
    } else {
        cnnc__sgemm_st(j->isa, false, false, cn, ncol, ga->c, j->wa + c0 * ga->c, ga->c, xb, asz,
                       0.0f, e, ncol, gws);
    }
    const int64_t osz = cnnc__window_out_size(gb), ksz = cnnc__window_k_size(gb);
    float *yb = j->y + (b * gb->m + c0) * osz + o0 * gb->out[2]; /* [cn planes osz apart] */
    const float *bias = j->epb->bias ? j->epb->bias + c0 : NULL;
    if (dw_fused_band(j, yb, e, es, c0, cn, &g)) return;
    assert(!j->split); /* (dw_splits: B's band kernel takes it) */
    epilogue_rows(j->isa, &epa, e, ncol, 0, cn, ncol);
    for (int64_t c = 0; c < cn; c++)
        cnnc__dwconv_forward_planes_act(j->isa, yb + c * osz, e + c * ncol, j->wb + (c0 + c) * ksz,
                                        bias ? bias + c : NULL, 1, &g, j->epb);
}

static cnnc_status dw_fused_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const dw_fused_job *j = ctx;
    float *e = j->ws + (size_t)chunk * j->slice;
    float *xs = e + round16(DW_FUSED_TILE_FLOATS); /* split: [ca, xld] */
    float *gws = xs + (j->split ? (size_t)(j->ga->c * dw_fused_xld(j)) : 0);
    for (int64_t i = begin; i < end; i++) /* (a band's first block splits its rows) */
        dw_fused_item(j, i, i == begin || i % j->nblk == 0, e, xs, gws);
    return CNNC_OK;
}

bool cnnc__conv_dw_fusable(const cnnc__window *ga, const cnnc__window *gb) {
    if (!cnnc__conv_is_depthwise(gb) || gb->m != gb->c || gb->c != ga->m || ga->groups != 1 ||
        gb->n != ga->n || !cnnc__conv_is_pointwise(ga) || gb->in[0] != 1 || gb->k[0] != 1)
        return false;
    for (int d = 0; d < 3; d++)
        if (gb->in[d] != ga->out[d]) return false;
    /* the rows of one output row of a channel fit E */
    const double rows = (double)((gb->k[1] - 1) * gb->dil[1] + 1);
    return rows * (double)gb->in[2] <= DW_FUSED_TILE_FLOATS;
}

/* Measured, 1 thread, batch 8, 3x3 depthwise, ms unfused -> fused (min of 15-21, two
 * rounds): 16 -> 96 at 112x112, stride 2 (MobileNetV2) 11.3-11.6 -> 10.1-10.4, stride 1
 * 13.9 -> 13.4; 8 -> 48 at 112, stride 2 4.6 -> 4.1; but 24 -> 144 at 56x56 5.6-5.7 ->
 * 6.1 (stride 1), 4.4-4.6 -> 5.0 (stride 2), 16 -> 96 at 56 even, 32 -> 192 at 112 33.5
 * -> 36.9. The depthwise kernels that then ran these wide planes (the row cache) ran no
 * faster from L2 than from memory (their row copies and FMAs: 11-22 GFLOP/s; the bands
 * that replaced them: 22-55 from L2), so what fusing saves is A's: where A's GEMM is
 * memory-bound (a short k: 2k flops per float written) and an image's output leaves L2.
 * Remeasured with the band kernels reading E through A's epilogue (one call per tile,
 * ReLU6 in registers) on MobileNetV2's pairs (folded BN, ReLU6 both; the pair alone,
 * exported from PyTorch, thread CPU time, min of 21-31, 3-5 alternations), ms unfused ->
 * fused with blocks of 32 / 16 channels: 24 -> 144 at 56x56 stride 1 4.4-4.8 -> 4.3-5.0
 * / 4.1-4.2, stride 2 3.5-4.0 -> 3.5-3.9 / 3.4-3.5 (16 channels: a plane's rows in one
 * band, no rows recomputed; 8 channels as 16, 4 slower); 16 -> 96 at 112x112 stride 2
 * 7.5-7.9 -> 7.5-7.9 (32) / 7.5-7.6 (16) / 7.5-8.2 (8); 32 -> 192 at 28x28 stride 1 even
 * (1.63-1.73 -> 1.62-1.77), stride 2 even (1.38-1.46 -> 1.41-1.42), 64 -> 384 at 14x14
 * 1.36-1.39 -> 1.42-1.46, 96 -> 576 at 14x14 2.7-3.1 -> 2.8-2.9: not taken. MobileNetV2
 * inference (min of 21, six alternations) with the 24 -> 144 pairs fused too and blocks
 * of 16: 73.1-77.0 -> 72.7-76.1 ms, faster or even in every round (by 0-2.5, median 0.7). */
bool cnnc__conv_dw_fuse_pays(const cnnc__window *ga, const cnnc__window *gb) {
    return cnnc__conv_dw_fusable(ga, gb) && ga->c <= DW_FUSED_K_MAX &&
           (double)ga->m * (double)cnnc__window_out_size(ga) >= DW_FUSED_MIN_FLOATS;
}

/* conv_path for a fused run of the arms f (f[0] A, the 1x1 before B, or NULL; f[1] B,
 * the depthwise; f[2] C, the 1x1 after it, or NULL). */
static void set_fused_path(const cnnc__conv_filters *const f[3]) {
    static const char *const names[3] = {"gemm (1x1)", "depthwise", "gemm (1x1)"};
    static _Thread_local char path[240];
    size_t at = 0;
    for (int k = 0; k < 3; k++) {
        if (!f[k]) continue;
        char act[48];
        const char *a = cnnc__conv_epilogue_name(&f[k]->ep, act, sizeof act);
        const int w = snprintf(path + at, sizeof path - at, "%s%s%s%s, ", at ? "then " : "",
                               names[k], f[k]->ep.act ? " + " : "", a);
        if (w > 0 && (size_t)w < sizeof path - at) at += (size_t)w;
    }
    snprintf(path + at, sizeof path - at, "fused");
    conv_path = path;
}

/* The tiles (j->nblk, j->nband): blocks of at most DW_FUSED_BLOCK_MAX channels, fewer
 * where E would not hold the rows of one output row of them, then bands of as many rows
 * as E holds for the largest block, split evenly (rows of j->eld floats); j->xrows. */
static void dw_fused_tiles(dw_fused_job *j) {
    const cnnc__window *gb = j->gb;
    const int64_t span = (gb->k[1] - 1) * gb->dil[1] + 1; /* E rows of one output row */
    int64_t cb = DW_FUSED_TILE_FLOATS / (span * j->eld);
    if (cb > DW_FUSED_BLOCK_MAX) cb = DW_FUSED_BLOCK_MAX;
    j->nblk = (j->ga->m + cb - 1) / cb;
    cb = (j->ga->m + j->nblk - 1) / j->nblk;
    const int64_t rows = DW_FUSED_TILE_FLOATS / (cb * j->eld);
    const int64_t out_rows = (rows - span) / gb->stride[1] + 1;
    j->nband = (gb->out[1] + out_rows - 1) / out_rows;
    const int64_t xrows = ((gb->out[1] + j->nband - 1) / j->nband - 1) * gb->stride[1] + span;
    j->xrows = xrows < gb->in[1] ? xrows : gb->in[1];
}

cnnc_status cnnc__conv_run_forward_dw(const cnnc__window *ga, const cnnc__window *gb, float *y,
                                      const float *x, const cnnc__conv_filters *fa,
                                      const cnnc__conv_filters *fb) {
    const double t0 = cnnc__trace_begin();
    dw_fused_job j = {.isa = cnnc__isa_active(), .ga = ga, .gb = gb, .y = y, .x = x, .epa = &fa->ep,
                      .epb = &fb->ep};
    j.split = dw_splits(j.isa, ga, gb, j.epb);
    j.eld = j.split ? cnnc__dwconv_split_ld(gb) : gb->in[2];
    dw_fused_tiles(&j);
    j.slice = round16(DW_FUSED_TILE_FLOATS) + (j.split ? (size_t)(ga->c * dw_fused_xld(&j)) : 0) +
              cnnc__sgemm_workspace_floats(j.isa);
    const int64_t items = ga->n * j.nblk * j.nband;
    const double tile = (double)DW_FUSED_TILE_FLOATS;
    const cnnc__par plan = cnnc__par_plan(items, (cnnc__cost){.flops = 2.0 * tile * (double)(ga->c + 9)},
                                          cnnc__parallel_threads());
    float *wa_own, *wb_own;
    j.wa = folded_or_own(fa->w, fa->wscale, ga->m, ga->c, &wa_own);
    j.wb = folded_or_own(fb->w, fb->wscale, gb->m, cnnc__window_k_size(gb), &wb_own);
    j.ws = j.wa && j.wb ? cnnc__workspace((size_t)plan.chunks * j.slice * sizeof(float)) : NULL;
    const cnnc_status st = !j.wa || !j.wb ? cnnc__oom("a fused convolution's filters")
                           : !j.ws        ? cnnc_last_status()
                                          : cnnc__par_run(plan, dw_fused_range, &j);
    cnnc__free(wa_own);
    cnnc__free(wb_own);
    set_fused_path((const cnnc__conv_filters *[3]){fa, fb, NULL});
    if (t0) trace_conv(t0, "conv.forward", ga, NULL);
    return st;
}

/* ---- a depthwise convolution and the 1x1 convolution that alone reads it -------------
 * C (1x1) after B (depthwise), with A (the 1x1 expansion B alone reads, as in the pair
 * above) before them or without: MobileNetV2's inverted residual block and its first,
 * expansion-less one. An item is an image, run in bands of B's output rows [o0, o1):
 *   A's rows of the band that E does not hold yet: A's GEMM into E [mb, erows, wi],
 *     the rows the previous band read too kept (moved to E's top when the new ones
 *     would not fit): no row computed twice;
 *   B's kernels over the band (as the pair's, on E or on x's planes) into D [mb, rows, wo];
 *   C's GEMM over D: rows [o0, o1) of C's output planes, then C's epilogue on them.
 * So neither A's nor B's output goes through memory whole. The GEMMs (B not transposed:
 * bits fixed by k alone) and the band kernels are the unfused paths', so are the bits. */
enum {
    CHAIN_TILE_FLOATS = 80 << 10, /* E and D (320 KB): in Zen 3's 512 KB L2 with C's input */
    CHAIN_MIN_FLOATS = 1 << 18,   /* B's output per image worth fusing (1 MB) */
};

typedef struct chain_job {
    cnnc__isa isa;
    const cnnc__window *ga, *gb, *gc; /* ga NULL: B reads x */
    float *y;
    const float *x, *wa, *wb, *wc;    /* the filters (folded) */
    const float *apk, *cpk;           /* A's and C's filters packed for the GEMM (or NULL) */
    const cnnc__conv_epilogue *epa, *epb, *epc;
    int64_t rows, erows;              /* B's output rows per band; E's rows (0 without A) */
    bool split;                       /* E's rows split for B (dw_splits) */
    int64_t eld;                      /* floats per row of E */
    size_t slice;                     /* per chunk: E, D, [split: A's input rows split,] then
                                         the GEMMs' workspace */
    float *ws;
} chain_job;

/* E over an image's bands: A's rows [e0, e1) of the image at E's rows from 0, the
 * current band's from `band` on; raw: as A's GEMM wrote them (B's band kernel applies
 * A's epilogue as it reads them), else with A's epilogue applied. */
typedef struct chain_e {
    float *e, *band;
    int64_t e0, e1;
    bool raw;
} chain_e;

/* Floats of E and D for bands of `rows` output rows. */
static int64_t chain_floats(const cnnc__window *ga, const cnnc__window *gb, int64_t rows) {
    const int64_t span = (gb->k[1] - 1) * gb->dil[1] + 1;
    const int64_t erows = ga ? (rows - 1) * gb->stride[1] + span : 0;
    return gb->m * (erows * gb->in[2] + rows * gb->out[2]);
}

bool cnnc__conv_chain_fusable(const cnnc__window *ga, const cnnc__window *gb,
                              const cnnc__window *gc) {
    if (ga ? !cnnc__conv_dw_fusable(ga, gb)
           : !cnnc__conv_is_depthwise(gb) || gb->m != gb->c || gb->in[0] != 1 || gb->k[0] != 1)
        return false;
    if (gc->groups != 1 || gc->c != gb->m || gc->n != gb->n || !cnnc__conv_is_pointwise(gc))
        return false;
    for (int d = 0; d < 3; d++)
        if (gc->in[d] != gb->out[d]) return false;
    return chain_floats(ga, gb, 1) <= CHAIN_TILE_FLOATS;
}

/* Measured, 1 thread, batch 8, MobileNetV2's blocks (3x3 depthwise, ReLU6 after A and
 * B, biases), thread CPU time, min of 11, ms unfused (the pair where it pays, then C) ->
 * chained: 32 -> 16 at 112x112 without A 4.17 -> 3.46, 16 -> 96 -> 24 at 112x112 stride
 * 2 9.76 -> 9.18, 24 -> 144 -> 24 at 56x56 6.63 -> 6.28; where B's output of an image
 * stays in L2 the bands are too short: stride 2 (144 -> 32 at 28x28 out) 4.33 -> 4.51,
 * 32 -> 192 -> 32 at 28x28 even, 64 -> 384 -> 64 at 14x14 2.23 -> 2.44, 96 -> 576 -> 96
 * 4.71 -> 4.99, 160 -> 960 -> 160 at 7x7 3.23 -> 3.75. At AVX2 only: the other levels
 * have no band kernels (their depthwise planes, one call each, unmeasured in bands of a
 * few rows). The threads split the images: only where they share them out evenly, or
 * nearly (batch 1 at 2 threads would run on one). */
bool cnnc__conv_chain_pays(const cnnc__window *ga, const cnnc__window *gb, const cnnc__window *gc) {
    const char *v = getenv("CNNC_CONV_CHAIN"); /* "0": off (read per call: A/B timings) */
    if ((v && strcmp(v, "0") == 0) || cnnc__isa_active() != CNNC__ISA_AVX2) return false;
    const int64_t threads = cnnc__parallel_threads();
    return cnnc__conv_chain_fusable(ga, gb, gc) && (gb->n % threads == 0 || gb->n >= 4 * threads) &&
           (double)gb->m * (double)cnnc__window_out_size(gb) >= (double)CHAIN_MIN_FLOATS;
}

/* c [m, n] (leading dim ldc) = w [m, k] b [k, n] (ldb): on w packed once (wpk) where the
 * packed GEMM runs the product (or `packed`), else as cnnc__sgemm_st (the same bits
 * either way; cnnc__sgemm_st packed w again for every band: pack_a6 took 9% of
 * MobileNetV2); then ep, fused into the packed GEMM's store where it can be, else as a
 * pass over c. */
static void chain_gemm(cnnc__isa isa, bool packed, int64_t m, int64_t n, int64_t k,
                       const float *w, const float *wpk, const float *b, int64_t ldb, float *c,
                       int64_t ldc, float *gws, const cnnc__conv_epilogue *ep) {
    if (!packed && cnnc__sgemm_small_fits(isa, false, false, m, n, k)) {
        cnnc__sgemm_st(isa, false, false, m, n, k, w, k, b, ldb, 0.0f, c, ldc, gws);
        epilogue_rows(isa, ep, c, ldc, 0, m, n);
        return;
    }
    cnnc__sgemm_plain_b pb = {isa, b, ldb};
    cnnc__sgemm_epilogue f;
    const bool fused = cnnc__conv_epilogue_gemm(isa, ep, 0, &f);
    cnnc__sgemm_st_packed(isa, m, n, k, wpk, cnnc__sgemm_plain_pack_b, &pb, 0.0f, c, ldc, gws,
                          fused ? &f : NULL);
    if (!fused) epilogue_rows(isa, ep, c, ldc, 0, m, n);
}

/* A's rows [r0, r1) of image b in E (the ones it holds kept); xs: the split input rows'
 * scratch. */
static void chain_a_rows(const chain_job *j, chain_e *s, int64_t b, int64_t r0, int64_t r1,
                         float *xs, float *gws) {
    const cnnc__window *ga = j->ga;
    const int64_t wi = j->eld, es = j->erows * wi, asz = cnnc__window_in_size(ga);
    if (s->e1 <= r0) {
        s->e0 = s->e1 = r0;
    } else if (r1 - s->e0 > j->erows) { /* the kept rows [r0, e1) to E's top */
        for (int64_t c = 0; c < ga->m; c++)
            memmove(s->e + c * es, s->e + c * es + (r0 - s->e0) * wi,
                    (size_t)((s->e1 - r0) * wi) * sizeof(float));
        s->e0 = r0;
    }
    if (s->e1 >= r1) return;
    float *dst = s->e + (s->e1 - s->e0) * wi; /* [ma, es apart] */
    const int64_t ncol = (r1 - s->e1) * wi;
    const float *xb = j->x + b * ga->c * asz + s->e1 * ga->in[2]; /* [ca, asz apart] */
    if (j->split) {
        split_a_input(j->isa, xs, ncol, xb, r1 - s->e1, ga, j->gb);
        chain_gemm(j->isa, true, ga->m, ncol, ga->c, j->wa, j->apk, xs, ncol, dst, es, gws, j->epa);
        split_zero_pads(j->gb, ga->m, dst, es, r1 - s->e1);
    } else {
        chain_gemm(j->isa, false, ga->m, ncol, ga->c, j->wa, j->apk, xb, asz, dst, es, gws,
                   s->raw ? &no_epilogue : j->epa);
    }
    s->e1 = r1;
}

/* B over the band g of every channel, from xin (channel c's first row at xin + c xstep:
 * E's band, or x's planes without A) into D (channel c at d + c dstep); A's epilogue
 * applied on the way when E is raw. */
static void chain_b_band(const chain_job *j, chain_e *s, float *d, int64_t dstep,
                         const float *xin, int64_t xstep, const cnnc__window *g) {
    const int64_t mb = j->gb->m, ksz = cnnc__window_k_size(j->gb);
    const float *bias = j->epb->bias;
    cnnc__conv_clamp ca, cb;
    const bool clamp_a = s->raw && cnnc__conv_epilogue_clamp(j->epa, &ca);
    const bool clamp_b = cnnc__conv_epilogue_clamp(j->epb, &cb);
    const cnnc__dw_fwd_ep ep = {.xstep = xstep, .ystep = dstep, .clamp = clamp_b ? &cb : NULL,
                                .xbias = s->raw ? j->epa->bias : NULL,
                                .xclamp = clamp_a ? &ca : NULL, .xsplit = j->split};
    if (!(j->epb->act && !clamp_b) &&
        cnnc__dwconv_forward_band(j->isa, d, xin, j->wb, bias, mb, g, &ep))
        return;
    if (s->raw) {
        epilogue_rows(j->isa, j->epa, s->band, xstep, 0, mb, g->in[1] * g->in[2]);
        s->raw = false;
    }
    for (int64_t c = 0; c < mb; c++)
        cnnc__dwconv_forward_planes_act(j->isa, d + c * dstep, xin + c * xstep, j->wb + c * ksz,
                                        bias ? bias + c : NULL, 1, g, j->epb);
}

/* Image b, band by band (ws: E, D and the GEMMs' workspace). */
static void chain_image(const chain_job *j, int64_t b, float *ws) {
    const cnnc__window *gb = j->gb, *gc = j->gc;
    const int64_t wi = gb->in[2], wo = gb->out[2], mb = gb->m, dstep = j->rows * wo;
    const int64_t isz = cnnc__window_in_size(gb), osz = cnnc__window_out_size(gc);
    cnnc__conv_clamp ca;
    /* raw where B's band kernel may apply A's epilogue: a bias and a clamp at most */
    chain_e s = {.e = ws, .raw = j->ga && !j->split &&
                                 !(j->epa->act && !cnnc__conv_epilogue_clamp(j->epa, &ca))};
    float *d = ws + round16((size_t)(mb * j->erows * j->eld)); /* [mb, rows, wo] */
    float *xs = d + round16((size_t)(mb * dstep));              /* split: [ca, erows, eld] */
    float *gws = xs + (j->split ? round16((size_t)(j->ga->c * j->erows * j->eld)) : 0);
    for (int64_t o0 = 0; o0 < gb->out[1]; o0 += j->rows) {
        const int64_t o1 = o0 + j->rows < gb->out[1] ? o0 + j->rows : gb->out[1];
        int64_t r0, r1;
        const cnnc__window g = dw_band(gb, o0, o1, &r0, &r1);
        if (j->ga) {
            chain_a_rows(j, &s, b, r0, r1, xs, gws);
            s.band = s.e + (r0 - s.e0) * j->eld;
            chain_b_band(j, &s, d, dstep, s.band, j->erows * j->eld, &g);
        } else {
            chain_b_band(j, &s, d, dstep, j->x + b * mb * isz + r0 * wi, isz, &g);
        }
        float *yb = j->y + b * gc->m * osz + o0 * wo; /* [mc planes, osz apart] */
        const int64_t ncol = (o1 - o0) * wo;
        chain_gemm(j->isa, false, gc->m, ncol, mb, j->wc, j->cpk, d, dstep, yb, osz, gws, j->epc);
    }
}

static cnnc_status chain_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const chain_job *j = ctx;
    for (int64_t b = begin; b < end; b++) chain_image(j, b, j->ws + (size_t)chunk * j->slice);
    return CNNC_OK;
}

cnnc_status cnnc__conv_run_forward_chain(const cnnc__window *ga, const cnnc__window *gb,
                                         const cnnc__window *gc, float *y, const float *x,
                                         const cnnc__conv_filters *fa, const cnnc__conv_filters *fb,
                                         const cnnc__conv_filters *fc) {
    const double t0 = cnnc__trace_begin();
    chain_job j = {.isa = cnnc__isa_active(), .ga = ga, .gb = gb, .gc = gc, .y = y, .x = x,
                   .epa = ga ? &fa->ep : &no_epilogue, .epb = &fb->ep, .epc = &fc->ep};
    j.rows = 1;
    while (j.rows < gb->out[1] && chain_floats(ga, gb, j.rows + 1) <= CHAIN_TILE_FLOATS) j.rows++;
    j.erows = ga ? (j.rows - 1) * gb->stride[1] + (gb->k[1] - 1) * gb->dil[1] + 1 : 0;
    j.split = dw_splits(j.isa, ga, gb, j.epb);
    j.eld = j.split ? cnnc__dwconv_split_ld(gb) : gb->in[2];
    j.slice = round16((size_t)(gb->m * j.erows * j.eld)) +
              round16((size_t)(gb->m * j.rows * gb->out[2])) +
              (j.split ? round16((size_t)(ga->c * j.erows * j.eld)) : 0) +
              cnnc__sgemm_workspace_floats(j.isa);
    const double osz = (double)cnnc__window_out_size(gb);
    const double macs = (double)gb->m * osz * (double)(cnnc__window_k_size(gb) + gc->m) +
                        (ga ? (double)ga->m * (double)ga->c * (double)cnnc__window_in_size(ga) : 0.0);
    const cnnc__par plan = cnnc__par_plan(gb->n, (cnnc__cost){.flops = 2.0 * macs},
                                          cnnc__parallel_threads());
    float *own[3] = {NULL, NULL, NULL};
    j.wa = ga ? folded_or_own(fa->w, fa->wscale, ga->m, ga->c, &own[0]) : NULL;
    j.wb = folded_or_own(fb->w, fb->wscale, gb->m, cnnc__window_k_size(gb), &own[1]);
    j.wc = folded_or_own(fc->w, fc->wscale, gc->m, gc->c, &own[2]);
    const bool filters = (j.wa || !ga) && j.wb && j.wc;
    const size_t af = ga ? cnnc__sgemm_packed_a_floats(j.isa, ga->m, ga->c) : 0;
    const size_t cf = cnnc__sgemm_packed_a_floats(j.isa, gc->m, gc->c);
    j.ws = filters ? cnnc__workspace((af + cf + (size_t)plan.chunks * j.slice) * sizeof(float)) : NULL;
    if (j.ws) { /* [af | cf | chunks x slice] */
        if (ga) cnnc__sgemm_pack_a_full(j.isa, false, ga->m, ga->c, j.wa, ga->c, j.ws);
        cnnc__sgemm_pack_a_full(j.isa, false, gc->m, gc->c, j.wc, gc->c, j.ws + af);
        j.apk = j.ws, j.cpk = j.ws + af;
        j.ws += af + cf;
    }
    const cnnc_status st = !filters ? cnnc__oom("a fused convolution's filters")
                           : !j.ws  ? cnnc_last_status()
                                    : cnnc__par_run(plan, chain_range, &j);
    for (int k = 0; k < 3; k++) cnnc__free(own[k]);
    set_fused_path((const cnnc__conv_filters *[3]){ga ? fa : NULL, fb, fc});
    if (t0) trace_conv(t0, "conv.forward", ga ? ga : gb, NULL);
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
static void trace_conv(double t0, const char *op, const cnnc__window *g,
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
    if (t0) trace_conv(t0, "conv.forward", g, ep);
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
    if (t0) trace_conv(t0, "conv.backward_data", g, NULL);
    return st;
}

cnnc_status cnnc__conv_run_backward_weight(const cnnc__window *g, float *dw, const float *dy,
                                           const float *x) {
    const double t0 = cnnc__trace_begin();
    conv_path = "empty";
    const cnnc_status st = run_backward_weight_impl(g, dw, dy, x);
    if (t0) trace_conv(t0, "conv.backward_weight", g, NULL);
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

/* The id of w's storage where its version vouches for its data, else 0
 * (cnnc__conv_wsource). */
static uint64_t weight_tag(const cnnc_tensor *w) {
    return atomic_load_explicit(&w->storage->exposed, memory_order_relaxed) ? 0 : w->storage->id;
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
            const cnnc__conv_wuse use = {cache, weight_tag(w), atomic_load(&w->storage->version)};
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
    *f = (cnnc__conv_filters){cnnc__f32(a->w), a->wscale, {.bias = a->b ? cnnc__f32(a->b) : NULL}};
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
