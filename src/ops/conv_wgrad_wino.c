/* Weight gradient of 3x3 stride-1 convolutions by Winograd F(2x2, 3x3)
 * (kernels/conv.h): per group, block after block of the batch's tiles,
 *
 *   transforms  V [cg][16][ldt] (input), Q [mg][16][ldt] (output gradient), a channel
 *               per item, in parallel;
 *   products    D_e [mg x cg] (+)= Q_e V_e^T for the 16 positions e, a position per
 *               item, in parallel (each D_e summed over the blocks in order);
 *
 * then dw = fold(D), a filter per item. Every element of D is summed over the same
 * tiles in the same order whatever the thread count (blocks fixed by the geometry,
 * the GEMM's k blocks fixed by the block), so results do not depend on it. 2.25x fewer
 * multiply-adds than the 3x3 product (fewer for maps not a multiple of 2: part tiles). */
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/gemm.h"
#include "ops/conv_cols.h"

enum {
    NPOS = 16,       /* positions of a transformed tile */
    WW_BLOCK = 128,  /* tiles a block, at most: the products' depth */
    D_PAD = 16,      /* floats past each D_e (planes a multiple of 4 KB apart share cache sets) */
};

static size_t round16(size_t x) { return (x + 15) & ~(size_t)15; }

typedef struct ww_job {
    cnnc__isa isa;
    const cnnc__window *g;
    int threads;
    int64_t cg, mg, tiles, ldt, chs; /* chs = 16 ldt: one channel's floats in V and Q */
    int64_t dplane;                  /* floats from one position's D_e to the next */
    size_t rows_floats, gemm_floats; /* per-chunk scratch */
    const float *x, *dy;
    float *dw;
    float *v, *q, *d; /* V [cg][16][ldt], Q [mg][16][ldt], D [16][mg][cg] */
    float *scratch;   /* threads x (rows, GEMM workspace) */
    int64_t grp, t0, nt;
} ww_job;

static float *chunk_scratch(const ww_job *j, int chunk) {
    return j->scratch + (size_t)chunk * (j->rows_floats + j->gemm_floats);
}

/* items: the group's input channels, then its output channels */
static cnnc_status transform_range(void *ctx, int64_t i0, int64_t i1, int chunk) {
    const ww_job *j = ctx;
    const int64_t a1 = i1 < j->cg ? i1 : j->cg; /* input channels [i0, a1) */
    if (i0 < a1)
        cnnc__conv_winograd_wgrad_input(j->isa, j->v + i0 * j->chs, j->ldt, j->x, j->g, j->grp, i0,
                                        a1, j->t0, j->nt, chunk_scratch(j, chunk));
    const int64_t b0 = (i0 > j->cg ? i0 : j->cg) - j->cg, b1 = i1 - j->cg; /* output channels */
    if (b0 < b1)
        cnnc__conv_winograd_wgrad_output(j->isa, j->q + b0 * j->chs, j->ldt, j->dy, j->g, j->grp,
                                         b0, b1, j->t0, j->nt);
    return CNNC_OK;
}

/* items: the positions e; D_e = Q_e V_e^T (+ D_e after the first block) */
static cnnc_status product_range(void *ctx, int64_t e0, int64_t e1, int chunk) {
    const ww_job *j = ctx;
    float *ws = chunk_scratch(j, chunk) + j->rows_floats;
    for (int64_t e = e0; e < e1; e++)
        cnnc__sgemm_st_blocked(j->isa, false, true, j->mg, j->cg, j->nt, j->q + e * j->ldt, j->chs,
                               j->v + e * j->ldt, j->chs, j->t0 == 0 ? 0.0f : 1.0f,
                               j->d + e * j->dplane, j->cg, ws);
    return CNNC_OK;
}

/* items: the group's output channels, their cg filters each */
static cnnc_status fold_range(void *ctx, int64_t o0, int64_t o1, int chunk) {
    (void)chunk;
    const ww_job *j = ctx;
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
 * 512 channels at batch 4, 64 tiles: 5.8 -> 6.4). */
bool cnnc__conv_wgrad_winograd_pays(const cnnc__window *g) {
    if (!cnnc__conv_winograd_ok(g) || cnnc__conv_is_depthwise(g)) return false;
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    const int64_t least = g->out[2] <= 16 ? 64 : 24; /* channels per group in and out */
    const bool small = g->out[1] < 8 || g->out[2] < 8; /* 7x7 */
    return cg >= least && mg >= least && g->out[1] >= 7 && g->out[2] >= 7 &&
           (double)g->n * (double)cnnc__conv_winograd_tiles(g, 2) >= (small ? 128.0 : 64.0);
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
    const int64_t nblk = (j.tiles + WW_BLOCK - 1) / WW_BLOCK;
    j.ldt = ((j.tiles + nblk - 1) / nblk + 15) / 16 * 16;
    j.chs = NPOS * j.ldt;
    j.rows_floats = cnnc__conv_winograd_wgrad_rows_floats(g);
    j.gemm_floats = cnnc__sgemm_workspace_floats(isa);
    j.dplane = j.mg * j.cg + D_PAD;
    const size_t d = round16((size_t)(NPOS * j.dplane)), v = round16((size_t)(j.cg * j.chs));
    const size_t q = round16((size_t)(j.mg * j.chs));
    const size_t per = j.rows_floats + j.gemm_floats;
    float *ws = cnnc__workspace((d + v + q + (size_t)j.threads * per) * sizeof(float));
    if (!ws) return cnnc_last_status();
    j.d = ws;
    j.v = ws + d;
    j.q = j.v + v;
    j.scratch = j.q + q;
    /* a channel's transform: ~4 reads and 16 writes per tile; a position's product */
    const cnnc__cost chan = {.flops = 24.0 * (double)j.ldt, .bytes = 80.0 * (double)j.ldt};
    const cnnc__cost pos = {.flops = 2.0 * (double)(j.mg * j.cg * j.ldt),
                            .bytes = 8.0 * (double)((j.mg + j.cg) * j.ldt + j.mg * j.cg)};
    const cnnc__cost filt = {.flops = 40.0 * (double)j.cg, .bytes = 100.0 * (double)j.cg};
    cnnc_status st = CNNC_OK; /* the regions allocate nothing, but report what they report */
    for (j.grp = 0; st == CNNC_OK && j.grp < g->groups; j.grp++) {
        for (int64_t b = 0; st == CNNC_OK && b < nblk; b++) {
            j.t0 = b * j.tiles / nblk;
            j.nt = (b + 1) * j.tiles / nblk - j.t0;
            st = cnnc__par_run(cnnc__par_plan(j.cg + j.mg, chan, j.threads), transform_range, &j);
            if (st == CNNC_OK)
                st = cnnc__par_run(cnnc__par_plan(NPOS, pos, j.threads), product_range, &j);
        }
        if (st == CNNC_OK) st = cnnc__par_run(cnnc__par_plan(j.mg, filt, j.threads), fold_range, &j);
    }
    return st;
}
