/* A 1x1 convolution and the depthwise convolutions around it run as one op
 * (MobileNetV2's inverted residual blocks, ops/conv.h): the pair (a 1x1 convolution A
 * and the depthwise B that alone reads it) and the chain (B and the 1x1 C after it,
 * with A before them or not). Neither A's nor B's output goes through memory whole;
 * the bits are the unfused ops'. The model runtime (graph/graph_fold.c) runs them
 * where cnnc__conv_dw_fuse_pays / cnnc__conv_chain_pays take the geometry. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/trace.h"
#include "kernels/gemm.h"
#include "kernels/gemm_small.h"
#include "ops/conv.h"
#include "ops/conv_internal.h"

static const cnnc__conv_epilogue no_epilogue = {0};

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
    return (int64_t)cnnc__round16((size_t)(j->xrows * j->eld));
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
    cnnc__conv_epilogue_rows(j->isa, ep, dst, es, 0, cn, n * ld);
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
    cnnc__conv_epilogue_rows(j->isa, &epa, e, ncol, 0, cn, ncol);
    for (int64_t c = 0; c < cn; c++)
        cnnc__dwconv_forward_planes_act(j->isa, yb + c * osz, e + c * ncol, j->wb + (c0 + c) * ksz,
                                        bias ? bias + c : NULL, 1, &g, j->epb);
}

static cnnc_status dw_fused_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const dw_fused_job *j = ctx;
    float *e = j->ws + (size_t)chunk * j->slice;
    float *xs = e + cnnc__round16(DW_FUSED_TILE_FLOATS); /* split: [ca, xld] */
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

/* The traced path for a fused run of the arms f (f[0] A, the 1x1 before B, or NULL; f[1] B,
 * the depthwise; f[2] C, the 1x1 after it, or NULL); cl: channels-last inside. */
static void set_fused_path(const cnnc__conv_filters *const f[3], bool cl) {
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
    snprintf(path + at, sizeof path - at, cl ? "fused, channels-last" : "fused");
    cnnc__conv_set_path(path);
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
    j.slice = cnnc__round16(DW_FUSED_TILE_FLOATS) + (j.split ? (size_t)(ga->c * dw_fused_xld(&j)) : 0) +
              cnnc__sgemm_workspace_floats(j.isa);
    const int64_t items = ga->n * j.nblk * j.nband;
    const double tile = (double)DW_FUSED_TILE_FLOATS;
    const cnnc__par plan = cnnc__par_plan(items, (cnnc__cost){.flops = 2.0 * tile * (double)(ga->c + 9)},
                                          cnnc__parallel_threads());
    float *wa_own, *wb_own;
    cnnc__conv_wentry *ea, *eb;
    j.wa = cnnc__conv_filters_folded(fa, ga->m, ga->c, &ea, &wa_own);
    j.wb = cnnc__conv_filters_folded(fb, gb->m, cnnc__window_k_size(gb), &eb, &wb_own);
    j.ws = j.wa && j.wb ? cnnc__workspace((size_t)plan.chunks * j.slice * sizeof(float)) : NULL;
    const cnnc_status st = !j.wa || !j.wb ? cnnc__oom("a fused convolution's filters")
                           : !j.ws        ? cnnc_last_status()
                                          : cnnc__par_run(plan, dw_fused_range, &j);
    cnnc__free(wa_own);
    cnnc__free(wb_own);
    cnnc__conv_wentry_release(ea);
    cnnc__conv_wentry_release(eb);
    set_fused_path((const cnnc__conv_filters *[3]){fa, fb, NULL}, false);
    if (t0) cnnc__conv_trace(t0, "conv.forward", ga, NULL);
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
    int64_t parts;                    /* items per image: ranges of its bands */
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

/* Items per image: 1 where the threads share the images out evenly, or nearly; else
 * (batch 1 at 2 threads) as many as threads, each a range of the image's bands. */
static int64_t chain_parts(const cnnc__window *gb, int threads) {
    return gb->n % threads == 0 || gb->n >= 4 * (int64_t)threads ? 1 : threads;
}

/* Measured, 1 thread, batch 8, MobileNetV2's blocks (3x3 depthwise, ReLU6 after A and
 * B, biases), thread CPU time, min of 11, ms unfused (the pair where it pays, then C) ->
 * chained: 32 -> 16 at 112x112 without A 4.17 -> 3.46, 16 -> 96 -> 24 at 112x112 stride
 * 2 9.76 -> 9.18, 24 -> 144 -> 24 at 56x56 6.63 -> 6.28; where B's output of an image
 * stays in L2 the bands are too short: stride 2 (144 -> 32 at 28x28 out) 4.33 -> 4.51,
 * 32 -> 192 -> 32 at 28x28 even, 64 -> 384 -> 64 at 14x14 2.23 -> 2.44, 96 -> 576 -> 96
 * 4.71 -> 4.99, 160 -> 960 -> 160 at 7x7 3.23 -> 3.75; those of 28x28 and 14x14 gain
 * channels-last inside instead (conv_fused_cl.c: where it takes the geometry, and at run
 * time A's and B's epilogues). At AVX2 only: the other levels have no band kernels
 * (their depthwise planes, one call each, unmeasured in bands of a few rows). The
 * threads split the images, or their bands (chain_parts); the channels-last runs only
 * where they share out the images (batch 1 at 2 threads would run on one). Bands split
 * at batch 1, 2 threads, against the unfused ops there (wall time, min of 30, in-process
 * alternation): MobileNetV2's blocks at 112x112 0.217 -> 0.209 ms and (stride 2) 0.614
 * -> 0.531, at 56x56 0.454 -> 0.412; the same bits. */
bool cnnc__conv_chain_pays(const cnnc__window *ga, const cnnc__window *gb, const cnnc__window *gc) {
    const char *v = getenv("CNNC_CONV_CHAIN"); /* "0": off (read per call: A/B timings) */
    if ((v && strcmp(v, "0") == 0) || cnnc__isa_active() != CNNC__ISA_AVX2) return false;
    if (!cnnc__conv_chain_fusable(ga, gb, gc)) return false;
    return (double)gb->m * (double)cnnc__window_out_size(gb) >= (double)CHAIN_MIN_FLOATS ||
           (chain_parts(gb, cnnc__parallel_threads()) == 1 &&
            cnnc__conv_chain_cl_fits(CNNC__ISA_AVX2, ga, gb, gc, NULL, NULL));
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
        cnnc__conv_epilogue_rows(isa, ep, c, ldc, 0, m, n);
        return;
    }
    cnnc__sgemm_plain_b pb = {isa, b, ldb};
    cnnc__sgemm_epilogue f;
    const bool fused = cnnc__conv_epilogue_gemm(isa, ep, 0, &f);
    cnnc__sgemm_st_packed(isa, m, n, k, wpk, cnnc__sgemm_plain_pack_b, &pb, 0.0f, c, ldc, gws,
                          fused ? &f : NULL);
    if (!fused) cnnc__conv_epilogue_rows(isa, ep, c, ldc, 0, m, n);
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
        cnnc__conv_epilogue_rows(j->isa, j->epa, s->band, xstep, 0, mb, g->in[1] * g->in[2]);
        s->raw = false;
    }
    for (int64_t c = 0; c < mb; c++)
        cnnc__dwconv_forward_planes_act(j->isa, d + c * dstep, xin + c * xstep, j->wb + c * ksz,
                                        bias ? bias + c : NULL, 1, g, j->epb);
}

/* Image b's bands of part `part` (of j->parts), one by one (ws: E, D and the GEMMs'
 * workspace). A part after the first computes the rows of A it shares with the one
 * before again (the same bits). */
static void chain_image(const chain_job *j, int64_t b, int64_t part, float *ws) {
    const cnnc__window *gb = j->gb, *gc = j->gc;
    const int64_t wi = gb->in[2], wo = gb->out[2], mb = gb->m, dstep = j->rows * wo;
    const int64_t isz = cnnc__window_in_size(gb), osz = cnnc__window_out_size(gc);
    cnnc__conv_clamp ca;
    /* raw where B's band kernel may apply A's epilogue: a bias and a clamp at most */
    chain_e s = {.e = ws, .raw = j->ga && !j->split &&
                                 !(j->epa->act && !cnnc__conv_epilogue_clamp(j->epa, &ca))};
    float *d = ws + cnnc__round16((size_t)(mb * j->erows * j->eld)); /* [mb, rows, wo] */
    float *xs = d + cnnc__round16((size_t)(mb * dstep));              /* split: [ca, erows, eld] */
    float *gws = xs + (j->split ? cnnc__round16((size_t)(j->ga->c * j->erows * j->eld)) : 0);
    const int64_t bands = (gb->out[1] + j->rows - 1) / j->rows;
    const int64_t end = bands * (part + 1) / j->parts * j->rows;
    for (int64_t o0 = bands * part / j->parts * j->rows; o0 < end && o0 < gb->out[1]; o0 += j->rows) {
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
    for (int64_t it = begin; it < end; it++)
        chain_image(j, it / j->parts, it % j->parts, j->ws + (size_t)chunk * j->slice);
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
    j.slice = cnnc__round16((size_t)(gb->m * j.erows * j.eld)) +
              cnnc__round16((size_t)(gb->m * j.rows * gb->out[2])) +
              (j.split ? cnnc__round16((size_t)(ga->c * j.erows * j.eld)) : 0) +
              cnnc__sgemm_workspace_floats(j.isa);
    const double osz = (double)cnnc__window_out_size(gb);
    const double macs = (double)gb->m * osz * (double)(cnnc__window_k_size(gb) + gc->m) +
                        (ga ? (double)ga->m * (double)ga->c * (double)cnnc__window_in_size(ga) : 0.0);
    const int threads = cnnc__parallel_threads();
    j.parts = chain_parts(gb, threads);
    const cnnc__par plan = cnnc__par_plan(gb->n * j.parts,
                                          (cnnc__cost){.flops = 2.0 * macs / (double)j.parts}, threads);
    float *own[3] = {NULL, NULL, NULL};
    cnnc__conv_wentry *e[3] = {NULL, NULL, NULL};
    j.wa = ga ? cnnc__conv_filters_folded(fa, ga->m, ga->c, &e[0], &own[0]) : NULL;
    j.wb = cnnc__conv_filters_folded(fb, gb->m, cnnc__window_k_size(gb), &e[1], &own[1]);
    j.wc = cnnc__conv_filters_folded(fc, gc->m, gc->c, &e[2], &own[2]);
    const bool filters = (j.wa || !ga) && j.wb && j.wc;
    if (filters && j.parts == 1 && cnnc__conv_chain_cl_fits(j.isa, ga, gb, gc, j.epa, j.epb)) {
        const cnnc_status st =
            cnnc__conv_run_chain_cl(ga, gb, gc, y, x, j.wa, j.wb, j.wc, j.epa, j.epb, j.epc);
        for (int k = 0; k < 3; k++) cnnc__free(own[k]), cnnc__conv_wentry_release(e[k]);
        set_fused_path((const cnnc__conv_filters *[3]){fa, fb, fc}, true);
        if (t0) cnnc__conv_trace(t0, "conv.forward", ga, NULL);
        return st;
    }
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
    for (int k = 0; k < 3; k++) cnnc__free(own[k]), cnnc__conv_wentry_release(e[k]);
    set_fused_path((const cnnc__conv_filters *[3]){ga ? fa : NULL, fb, fc}, false);
    if (t0) cnnc__conv_trace(t0, "conv.forward", ga ? ga : gb, NULL);
    return st;
}
