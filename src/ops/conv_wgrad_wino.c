/* Weight gradient of 3x3 stride-1 convolutions by Winograd F(2x2, 3x3)
 * (kernels/conv.h): per group, D_e [mg x cg] = sum over the batch's tiles of
 * Q_e V_e^T for the 16 positions e, block after block of tiles, with
 *
 *   V [cg][16][ldt]  the input's transformed tiles,
 *   Q [mg][16][ldt]  the output gradient's,
 *
 * then dw = fold(D), a filter per item. Threads split the blocks into tile groups (many
 * blocks, small D: each group sums into a D of its own, added at the fold) and D's
 * columns (input channels, in whole GEMM panels): each item transforms its own
 * channels of the input and the whole output gradient (the cheaper transform: 2x2
 * tiles of dy) for its group's blocks into its own scratch, so no transformed tile
 * crosses between cores (one region per block for the transforms and another for the
 * products, sharing V and Q: 64 channels at 56x56 took 8.0 ms at 1 thread and 7.7 at
 * 2). Every element of D is summed over the same tiles in the same order whatever the
 * thread count (groups and blocks fixed by the geometry, the GEMM's k blocks by the
 * block, and a GEMM's columns computed alike whichever columns it has), so results do
 * not depend on it. 2.25x fewer multiply-adds than the 3x3 product (fewer for maps not
 * a multiple of 2: part tiles). */
#include <stdbool.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/gemm.h"
#include "ops/conv_cols.h"

enum {
    NPOS = 16,       /* positions of a transformed tile */
    WW_BLOCK = 128,  /* tiles a block, at most: the products' depth */
    /* tile groups (below): from this many blocks on, for D [16][mg][cg] of at most
     * WW_GROUP_D floats (1 MB) */
    WW_GROUP_BLOCKS = 8,
    WW_GROUP_D = 16 * 128 * 128,
    D_PAD = 16,      /* floats past each D_e (planes a multiple of 4 KB apart share cache sets) */
};


typedef struct ww_job {
    cnnc__isa isa;
    const cnnc__window *g;
    int threads;
    bool shared; /* one part: the threads share its transforms and products */
    int64_t cg, mg, tiles, nblk, ldt, chs; /* chs = 16 ldt: one channel's floats in V and Q */
    int64_t tgroups;                       /* groups of blocks, each summed into its own D */
    int64_t parts, cpart;                  /* parts of D's columns: input channels, NR panels */
    int64_t dplane;                        /* floats from one position's D_e to the next */
    size_t dfloats;                        /* from one group's D to the next */
    size_t tmp_floats, v_floats, vq_floats;
    size_t rows_floats;
    const float *x, *dy;
    float *dw;
    float *d;   /* D [16][mg][cg] per tile group */
    float *tmp; /* per chunk: rows, GEMM workspace */
    float *vq;  /* per part chunk: V [cpart][16][ldt], Q [mg][16][ldt] */
    int64_t grp;
} ww_job;

/* One block of tiles [t0, t0 + nt) for the part of D's columns (input channels)
 * [c0, c0 + nc), with its V and Q, summed into d (beta 0: the group's first block). */
typedef struct ww_block {
    const ww_job *j;
    float *v, *q, *d;
    int64_t c0, nc, t0, nt;
    float beta;
} ww_block;

static float *chunk_tmp(const ww_job *j, int chunk) { return j->tmp + (size_t)chunk * j->tmp_floats; }

/* the part's transforms: its input channels [i0, i1) of nc, then output channels
 * [i0, i1) - nc of mg */
static void block_transforms(const ww_block *b, int64_t i0, int64_t i1, float *rows) {
    const ww_job *j = b->j;
    const int64_t a1 = i1 < b->nc ? i1 : b->nc;
    if (i0 < a1)
        cnnc__conv_winograd_wgrad_input(j->isa, b->v + i0 * j->chs, j->ldt, j->x, j->g, j->grp,
                                        b->c0 + i0, b->c0 + a1, b->t0, b->nt, rows);
    const int64_t o0 = (i0 > b->nc ? i0 : b->nc) - b->nc, o1 = i1 - b->nc;
    if (o0 < o1)
        cnnc__conv_winograd_wgrad_output(j->isa, b->q + o0 * j->chs, j->ldt, j->dy, j->g, j->grp,
                                         o0, o1, b->t0, b->nt);
}

/* D_e[:, c0 ..] (+)= Q_e V_e^T for the positions [e0, e1) */
static void block_products(const ww_block *b, int64_t e0, int64_t e1, float *gws) {
    const ww_job *j = b->j;
    for (int64_t e = e0; e < e1; e++)
        cnnc__sgemm_st_blocked(j->isa, false, true, j->mg, b->nc, b->nt, b->q + e * j->ldt, j->chs,
                               b->v + e * j->ldt, j->chs, b->beta, b->d + e * j->dplane + b->c0,
                               j->cg, gws);
}

static cnnc_status transform_range(void *ctx, int64_t i0, int64_t i1, int chunk) {
    const ww_block *b = ctx;
    block_transforms(b, i0, i1, chunk_tmp(b->j, chunk));
    return CNNC_OK;
}

static cnnc_status product_range(void *ctx, int64_t e0, int64_t e1, int chunk) {
    const ww_block *b = ctx;
    block_products(b, e0, e1, chunk_tmp(b->j, chunk) + b->j->rows_floats);
    return CNNC_OK;
}

/* One block of a part: on the calling thread, or shared by the threads (a region for
 * the transforms, a channel per item, and one for the products, a position per item) */
static void run_block(const ww_block *b, int chunk) {
    const ww_job *j = b->j;
    if (!j->shared) {
        float *rows = chunk_tmp(j, chunk);
        block_transforms(b, 0, b->nc + j->mg, rows);
        block_products(b, 0, NPOS, rows + j->rows_floats);
        return;
    }
    /* a channel's transform: ~4 reads and 16 writes per tile; a position's product.
     * (These regions allocate nothing and cannot fail.) */
    const cnnc__cost chan = {.flops = 24.0 * (double)j->ldt, .bytes = 80.0 * (double)j->ldt};
    const cnnc__cost pos = {.flops = 2.0 * (double)(j->mg * b->nc * j->ldt),
                            .bytes = 8.0 * (double)((j->mg + b->nc) * j->ldt + j->mg * b->nc)};
    (void)cnnc__par_run(cnnc__par_plan(b->nc + j->mg, chan, j->threads), transform_range, (void *)b);
    (void)cnnc__par_run(cnnc__par_plan(NPOS, pos, j->threads), product_range, (void *)b);
}

/* items (tile group, part of D's columns): the part over its group's blocks in order */
static cnnc_status part_range(void *ctx, int64_t p0, int64_t p1, int chunk) {
    const ww_job *j = ctx;
    ww_block b = {.j = j, .v = j->vq + (size_t)chunk * j->vq_floats};
    b.q = b.v + j->v_floats;
    for (int64_t p = p0; p < p1; p++) {
        const int64_t tg = p / j->parts, k0 = tg * j->nblk / j->tgroups;
        b.d = j->d + (size_t)tg * j->dfloats;
        b.c0 = p % j->parts * j->cpart;
        b.nc = j->cg - b.c0 < j->cpart ? j->cg - b.c0 : j->cpart;
        for (int64_t k = k0; k < (tg + 1) * j->nblk / j->tgroups; k++) {
            b.t0 = k * j->tiles / j->nblk;
            b.nt = (k + 1) * j->tiles / j->nblk - b.t0;
            b.beta = k == k0 ? 0.0f : 1.0f;
            run_block(&b, chunk);
        }
    }
    return CNNC_OK;
}

/* items: the group's output channels, their cg filters each (the tile groups' D rows
 * added first, in group order) */
static cnnc_status fold_range(void *ctx, int64_t o0, int64_t o1, int chunk) {
    (void)chunk;
    const ww_job *j = ctx;
    for (int64_t tg = 1; tg < j->tgroups; tg++)
        for (int64_t e = 0; e < NPOS; e++) {
            float *d0 = j->d + e * j->dplane + o0 * j->cg;
            const float *dg = d0 + (size_t)tg * j->dfloats;
            for (int64_t i = 0; i < (o1 - o0) * j->cg; i++) d0[i] += dg[i];
        }
    cnnc__conv_winograd_wgrad_fold(j->isa, j->dw + ((j->grp * j->mg + o0) * j->cg) * 9,
                                   j->d + o0 * j->cg, j->dplane, (o1 - o0) * j->cg);
    return CNNC_OK;
}

/* Measured against the channels-last path (conv_wgrad.c), one thread, AVX-512, batch 8
 * unless said: 1.45-1.6x on 24-256 channels at 20x20 to 96x96 and 128-256 at 10x10 to
 * 14x14 (1.25x at batch 1-2); not paying: 16 channels (1.1x at 56x56, 0.8x on small
 * maps), maps of 16 or less with under 64 channels (0.8-0.95x: a tile row there is part
 * of a vector for the transforms, and the products are small), and fewer than 64
 * tiles over the batch. 7x7 maps (16 tiles for 49 outputs) from 128 tiles on (batch 8:
 * 128 channels 0.80 -> 0.70 ms, 256 3.1 -> 2.8, 512 11.4 -> 9.4; 64 channels even;
 * 512 channels at batch 4, 64 tiles: 5.8 -> 6.4).
 * AVX2 (Zen 3, 1 thread, thread CPU time, min of 7-15, 2-3 alternations, against the
 * column chunks): from 8 tiles on, on maps down to 4x4 where the tiles fill them
 * (cnnc__conv_winograd_f2_fills), ms: 512 channels at 4x4, batch 8 8.5-11.2 -> 5.2-6.5,
 * batch 2 (8 tiles) 4.5-4.6 -> 3.5-3.9; at 14x14, 1 image 13.0-13.3 -> 7.5-7.7; 256 at
 * 6x6, 1 image (9 tiles) 0.80-0.82 -> 0.65-0.72; 128 at 7x7, 1 image 0.24-0.26 -> 0.23-0.24;
 * 64 at 4x4, batch 4 0.10-0.11 -> 0.09; 5x5 maps not (64 channels, batch 8: 0.26-0.27 ->
 * 0.29). */
bool cnnc__conv_wgrad_winograd_pays(cnnc__isa isa, const cnnc__window *g) {
    if (!cnnc__conv_winograd_ok(g) || cnnc__conv_is_depthwise(g)) return false;
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    const int64_t least = g->out[2] <= 16 ? 64 : 24; /* channels per group in and out */
    const int64_t tiles = g->n * cnnc__conv_winograd_tiles(g, 2);
    if (cg < least || mg < least) return false;
    if (isa >= CNNC__ISA_AVX512)
        return g->out[1] >= 7 && g->out[2] >= 7 &&
               tiles >= (g->out[1] < 8 || g->out[2] < 8 ? 128 : 64); /* 7x7 */
    return cnnc__conv_winograd_f2_fills(g) && tiles >= 8;
}


cnnc_status cnnc__conv_wgrad_winograd(cnnc__isa isa, const cnnc__window *g, float *dw,
                                      const float *dy, const float *x) {
    ww_job j = {.isa = isa, .g = g, .threads = cnnc__parallel_threads(), .x = x, .dy = dy, .dw = dw};
    j.cg = g->c / g->groups;
    j.mg = g->m / g->groups;
    j.tiles = g->n * cnnc__conv_winograd_tiles(g, 2); /* the whole batch's */
    /* blocks of at most WW_BLOCK tiles, as even as they go (1 thread, 128 channels at
     * 28x28, batch 8: blocks of 64 tiles 8.0 ms, 128 6.1, 256 6.3-7.8: each block reads
     * and writes D once more, and shallower products run slower) */
    j.nblk = (j.tiles + WW_BLOCK - 1) / WW_BLOCK;
    j.ldt = ((j.tiles + j.nblk - 1) / j.nblk + 15) / 16 * 16;
    j.chs = NPOS * j.ldt;
    /* Tile groups: with many blocks and a small D, the blocks in two halves, each
     * summed into a D of its own and the two added at the fold. Each part of D's
     * columns transforms the whole output gradient again, each group only its blocks':
     * a thread per group transforms nothing twice. Set by the geometry alone, so every
     * element of D is summed in the same order at any thread count. Then as many parts
     * as threads left, in whole panels; but one, shared, for a single block (512
     * channels at 7x7, batch 8, 2 threads: 5.1 ms so, 6.0 by parts: each part
     * transforms all 512 output channels, and there is only one pair of regions) */
    j.tgroups = j.nblk >= WW_GROUP_BLOCKS && NPOS * j.mg * j.cg <= WW_GROUP_D ? 2 : 1;
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    const int64_t panels = (j.cg + nr - 1) / nr;
    const int64_t want = (j.threads + j.tgroups - 1) / j.tgroups;
    j.parts = want < panels ? want : panels;
    if (j.nblk == 1) j.parts = 1;
    j.shared = j.parts * j.tgroups == 1 && j.threads > 1;
    j.cpart = (panels + j.parts - 1) / j.parts * nr;
    j.parts = (j.cg + j.cpart - 1) / j.cpart;
    j.rows_floats = cnnc__conv_winograd_wgrad_rows_floats(g);
    j.tmp_floats = j.rows_floats + cnnc__sgemm_workspace_floats(isa);
    j.v_floats = cnnc__round16((size_t)(j.cpart * j.chs));
    j.vq_floats = j.v_floats + cnnc__round16((size_t)(j.mg * j.chs));
    j.dplane = j.mg * j.cg + D_PAD;
    /* a part: its share of the products and input transforms, and the whole output
     * gradient's transform (~4 reads and 16 writes per tile and channel) */
    const double tiles = (double)j.tiles / (double)j.tgroups, cp = (double)j.cpart;
    const cnnc__cost part = {.flops = 2.0 * NPOS * (double)j.mg * cp * tiles,
                             .bytes = 80.0 * ((double)j.mg + cp) * tiles};
    const cnnc__par plan = cnnc__par_plan(j.tgroups * j.parts, part, j.threads);
    j.dfloats = cnnc__round16((size_t)(NPOS * j.dplane));
    const size_t d = (size_t)j.tgroups * j.dfloats;
    const size_t tmp = (size_t)(j.shared ? j.threads : plan.chunks) * j.tmp_floats;
    float *ws = cnnc__workspace((d + tmp + (size_t)plan.chunks * j.vq_floats) * sizeof(float));
    if (!ws) return cnnc_last_status();
    j.d = ws;
    j.tmp = ws + d;
    j.vq = j.tmp + tmp;
    const cnnc__cost filt = {.flops = 40.0 * (double)j.cg,
                             .bytes = (100.0 + 128.0 * (double)(j.tgroups - 1)) * (double)j.cg};
    cnnc_status st = CNNC_OK; /* the regions allocate nothing, but report what they report */
    for (j.grp = 0; st == CNNC_OK && j.grp < g->groups; j.grp++) {
        /* (a shared part runs on the caller: its regions would run inline in another) */
        st = j.shared ? part_range(&j, 0, 1, 0) : cnnc__par_run(plan, part_range, &j);
        if (st == CNNC_OK) st = cnnc__par_run(cnnc__par_plan(j.mg, filt, j.threads), fold_range, &j);
    }
    return st;
}
