/* The input gradient of a strided convolution by input phases.
 *
 * With stride s in a dim, input position s i + a (phase a < s) is read by the taps q
 * with (a + pad - q dil) divisible by s, each from output position i + o_q,
 * o_q = (a + pad - q dil) / s, so every phase of dx is a stride-1 correlation of dy
 * with a subset of the taps (3x3 stride 2 padding 1: 1x1, 1x2, 2x1 and 2x2 taps; each
 * tap in exactly one phase, so no work is added):
 *
 *   dx[b, ci, s1 i + a, s2 j + e] = sum_{o, (q1, q2) in phase (a, e)}
 *                                   w[o, ci, q1, q2] dy[b, o, i + o_q1, j + o_q2]
 *
 * that is a GEMM per phase, C [cg, columns] = A [cg, taps mg] B [taps mg, columns]:
 * A the phase's filters (packed once a call), B's rows dy's planes shifted by a tap's
 * offsets (o_q1, o_q2), over the columns i, j. Phases share offsets (3x3 stride 2: the
 * 9 taps read 4 shifts), so B is packed once for all phases (cnnc__conv_pack_taps_batch
 * from zero-padded copies of dy's planes, the forward's phase split with stride 1) in
 * an order of shifts where each phase's are consecutive rows, and every phase's GEMM
 * reads its rows there (cnnc__sgemm_st_prepacked): no col2im, no scatter-add, and
 * packing 4 shifts' rows instead of 9 taps'. Like the forward's phase path (conv.c), a
 * wave of images' planes is made at a time and the GEMM columns run over the wave's
 * grid positions (ceil(in / s) per dim an image) across image boundaries, so small
 * maps fill whole panels. An item is (group, column tile): B packed, every phase's
 * GEMM into a tile [cg, tile] of its own, dx's rows of one row phase written at once,
 * their column phases interleaved (each element of dx written once). A column's sums do
 * not depend on its tile: the bits are the same at every thread count. */
#include "ops/conv_phase.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/gemm.h"

enum {
    PD_STRIDE_MAX = 8, /* phases a dim */
    PD_TAPS_MAX = 16,  /* taps a dim */
    PD_PHASES_MAX = PD_STRIDE_MAX * PD_STRIDE_MAX,
    PD_KTAPS_MAX = PD_TAPS_MAX * PD_TAPS_MAX,
    PD_SEQ_MAX = 2 * PD_KTAPS_MAX, /* shifts in B: at most a first phase's, then every tap */
    PD_SEARCH_TAPS = 4,            /* phases of at most this many taps: orders searched */
    PD_DIM_MAX = 1 << 20,
    PD_PLANES_MAX_FLOATS = 1 << 22, /* dy planes of a wave (offsets fit in int32) */
    PD_WAVE_COLS = 800,             /* grid positions a wave (the forward's phase path's) */
    PD_TILE_FLOATS = 1 << 16,       /* a tile's [cg, tile] results, every column phase: in L2 */
    PD_B_FLOATS = 1 << 20,          /* a tile's B at most (4 MB; ResNet's are 1 MB) */
};


/* The taps of one spatial dim, sorted by the input phase they feed. */
typedef struct dim_taps {
    int64_t s, len;                     /* stride, input size */
    int64_t first[PD_STRIDE_MAX + 1];   /* phase a's taps: [first[a], first[a + 1]) */
    int64_t q[PD_TAPS_MAX], o[PD_TAPS_MAX]; /* tap q feeds dx[s i + a] from dy[i + o] */
    int64_t pad, ext; /* dy's leading zero padding in the plane; rows a position reads */
    int64_t grid;     /* ceil(len / s): the largest phase's positions */
} dim_taps;

static void dim_taps_make(dim_taps *t, const cnnc__window *g, int d) {
    const int64_t s = g->stride[d];
    int64_t cnt = 0, omin = 0, omax = 0;
    t->s = s;
    t->len = g->in[d];
    for (int64_t a = 0; a < s; a++) {
        t->first[a] = cnt;
        for (int64_t q = 0; q < g->k[d]; q++) {
            const int64_t r = a + g->pad[d] - q * g->dil[d];
            if (r % s != 0) continue;
            t->q[cnt] = q;
            t->o[cnt] = r / s; /* exact */
            if (cnt == 0 || t->o[cnt] < omin) omin = t->o[cnt];
            if (cnt == 0 || t->o[cnt] > omax) omax = t->o[cnt];
            cnt++;
        }
    }
    t->first[s] = cnt;
    t->pad = omin < 0 ? -omin : 0;
    t->ext = omax + t->pad + 1;
    t->grid = (t->len + s - 1) / s;
}

static int64_t dim_ntaps(const dim_taps *t, int64_t a) { return t->first[a + 1] - t->first[a]; }

typedef struct pd_job {
    cnnc__isa isa;
    const cnnc__window *g;
    cnnc__window tw; /* dy's planes: the stride-1 split of dy (c = m channels) */
    dim_taps t1, t2;
    int64_t cg, mg, plane, wph, img_floats; /* a dy plane (hph x wph), an image's planes */
    int64_t nph;                            /* phases: s1 s2 */
    int64_t ntaps[PD_PHASES_MAX], tap0[PD_PHASES_MAX]; /* phase p's taps: from tap0[p] in win_q */
    int64_t start[PD_PHASES_MAX];   /* phase p's shifts: seq[start[p] .. + ntaps[p]) */
    int64_t win_q[PD_KTAPS_MAX];    /* the filter tap (q1 k2 + q2) of each shift of a window */
    int64_t seq1[PD_SEQ_MAX], seq2[PD_SEQ_MAX], nseq; /* B's shifts (o1, o2), in row order */
    int64_t seq_off[PD_SEQ_MAX];    /* a shift's offset in a dy plane */
    size_t a_off[PD_PHASES_MAX + 1], a_group; /* packed filters of a phase, of a group */
    int64_t a_kc[PD_PHASES_MAX];              /* their k blocks' depth */
    int64_t mr, nr;
    int64_t b0, nimg, tile, ntiles; /* the wave's images, GEMM columns an item, items a group */
    size_t tmp_floats, slice;       /* per chunk: s2 results [cg, tile], then B [nseq mg, tile] */
    float *dx;
    const float *dy, *w;
    float *ph;  /* the wave's planes [nimg, img_floats] */
    float *apk; /* packed filters, a_group a group */
    float *ws;  /* per-chunk slices */
} pd_job;

bool cnnc__conv_phase_data_fits(const cnnc__window *g) {
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (g->stride[1] == 1 && g->stride[2] == 1) return false;
    /* 1x1 (measured, 1 thread, batch 8, ResNet's shortcuts 64 -> 128 at 56x56, 128 ->
     * 256 at 28x28, 256 -> 512 at 14x14: 1.11 / 0.92 / 0.75 ms by GEMM + col2im or
     * column chunks, 1.44 / 1.23 / 1.07 here) */
    if (g->k[1] * g->k[2] == 1) return false;
    /* few input channels a group: the GEMMs' rows (cg) fill few register tiles, and the
     * more output channels, the more rows of B each column packs for them (measured, 1
     * thread, batch 8, 3x3 stride 2 ms, GEMM + col2im -> here: 8 -> 16 at 32x32 0.091 ->
     * 0.068, 16 -> 32 0.233 -> 0.189, 4 -> 16 0.047 -> 0.054, 8 -> 64 0.170 -> 0.221;
     * 4x4 stride 2 (transposed convolutions' 32x32 -> 64x64 geometry) 16 <- 64 2.23 ->
     * 2.69, 64 <- 128 at 16x16 -> 32x32 3.90 -> 3.63) */
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    if (cg < 8 || mg > 2 * cg) return false;
    if (cnnc__conv_is_depthwise(g) || g->out[1] < 1 || g->out[2] < 1) return false;
    for (int d = 1; d < 3; d++)
        if (g->stride[d] < 1 || g->stride[d] > PD_STRIDE_MAX || g->k[d] < 1 ||
            g->k[d] > PD_TAPS_MAX || g->pad[d] < 0 || g->pad[d] > PD_DIM_MAX || g->dil[d] < 1 ||
            g->dil[d] > PD_DIM_MAX || g->in[d] > PD_DIM_MAX || g->out[d] > PD_DIM_MAX)
            return false;
    dim_taps t1, t2;
    dim_taps_make(&t1, g, 1);
    dim_taps_make(&t2, g, 2);
    /* one image's dy planes (t2.ext - 1 columns and t1.ext rows past the grid) */
    const double img = (double)g->m * (double)(t1.grid + t1.ext) * (double)(t2.grid + t2.ext - 1);
    return img <= PD_PLANES_MAX_FLOATS;
}

/* ---- B's shifts ----------------------------------------------------------------------- */

/* Tap t (t1 nt2 + t2) of phase p: its shift (o1, o2) and filter tap q1 k2 + q2. */
static void phase_tap(const pd_job *j, int64_t p, int64_t t, int64_t *o1, int64_t *o2, int64_t *q) {
    const int64_t a = p / j->t2.s, e = p % j->t2.s, nt2 = dim_ntaps(&j->t2, e);
    const int64_t u1 = j->t1.first[a] + t / nt2, u2 = j->t2.first[e] + t % nt2;
    *o1 = j->t1.o[u1];
    *o2 = j->t2.o[u2];
    *q = j->t1.q[u1] * j->g->k[2] + j->t2.q[u2];
}

/* Are the shifts seq[s .. s + ntaps) exactly phase p's? Then its taps in that order in q. */
static bool window_is_phase(const pd_job *j, int64_t s, int64_t p, int64_t *q) {
    bool used[PD_SEARCH_TAPS] = {false};
    for (int64_t w = 0; w < j->ntaps[p]; w++) {
        int64_t t = 0, o1, o2, qt;
        for (; t < j->ntaps[p]; t++) {
            phase_tap(j, p, t, &o1, &o2, &qt);
            if (!used[t] && o1 == j->seq1[s + w] && o2 == j->seq2[s + w]) break;
        }
        if (t == j->ntaps[p]) return false;
        used[t] = true;
        q[w] = qt;
    }
    return true;
}

/* Places every phase after the first n shifts of seq: on a window of seq holding its
 * shifts (small phases), else appended. Sets nseq, start and win_q. */
static void place_phases(pd_job *j, int64_t n) {
    j->nseq = n;
    for (int64_t p = 0; p < j->nph; p++) {
        const int64_t nt = j->ntaps[p];
        int64_t *q = j->win_q + j->tap0[p];
        j->start[p] = -1;
        for (int64_t s = 0; nt <= PD_SEARCH_TAPS && s + nt <= j->nseq && j->start[p] < 0; s++)
            if (window_is_phase(j, s, p, q)) j->start[p] = s;
        if (j->start[p] >= 0) continue;
        j->start[p] = j->nseq;
        for (int64_t t = 0; t < nt; t++, j->nseq++)
            phase_tap(j, p, t, &j->seq1[j->nseq], &j->seq2[j->nseq], &q[t]);
    }
}

/* B's shifts: the fewest rows found by trying every order of the largest phase's shifts
 * first (when it is small: 3x3 stride 2 padding 1 needs (0,1) (0,0) (1,0) (1,1), the 2x1
 * and 1x2 phases on its windows), else every phase's shifts one after the other. */
static void plan_shifts(pd_job *j) {
    int64_t big = 0;
    for (int64_t p = 1; p < j->nph; p++)
        if (j->ntaps[p] > j->ntaps[big]) big = p;
    const int64_t nb = j->ntaps[big];
    int64_t best = -1, best_code = 0, q;
    if (nb <= PD_SEARCH_TAPS) {
        int64_t ncodes = 1;
        for (int64_t i = 0; i < nb; i++) ncodes *= nb;
        for (int64_t code = 0; code < ncodes; code++) { /* code: nb digits base nb */
            unsigned seen = 0;
            for (int64_t i = 0, c = code; i < nb; i++, c /= nb) {
                seen |= 1u << (c % nb);
                phase_tap(j, big, c % nb, &j->seq1[i], &j->seq2[i], &q);
            }
            if (seen != (1u << nb) - 1) continue; /* not an order */
            place_phases(j, nb);
            if (best < 0 || j->nseq < best) best = j->nseq, best_code = code;
        }
        for (int64_t i = 0, c = best_code; i < nb; i++, c /= nb)
            phase_tap(j, big, c % nb, &j->seq1[i], &j->seq2[i], &q);
        place_phases(j, nb);
    } else {
        place_phases(j, 0);
    }
    for (int64_t i = 0; i < j->nseq; i++)
        j->seq_off[i] = (j->t1.pad + j->seq1[i]) * j->wph + j->t2.pad + j->seq2[i];
}

/* ---- the phases' filters ---------------------------------------------------------- */

/* Filter o of group grp in every phase's A: phase p's A [cg, ntaps mg] is
 * A[ci][w mg + o] = w[grp mg + o][ci][win_q[w]] (w: the shift's place in the phase's
 * window), written straight into the GEMM's packed layout (kernels/gemm.h: k blocks of
 * a_kc[p] depths, each mpad rows of panels; a panel's mr rows at one depth contiguous,
 * those past cg zero). A filter's [cg, ksz] floats are read from one contiguous block
 * (the filters in order: a stream the prefetchers follow). */
static void pack_filter(const pd_job *j, int64_t grp, int64_t o) {
    const int64_t ksz = j->g->k[1] * j->g->k[2], mr = j->mr, cg = j->cg;
    const int64_t mpad = (cg + mr - 1) / mr * mr;
    const float *wo = j->w + (grp * j->mg + o) * cg * ksz; /* [cg, ksz] */
    for (int64_t p = 0; p < j->nph; p++) {
        const int64_t nt = j->ntaps[p], k = j->mg * nt, kcb = j->a_kc[p];
        float *a = j->apk + (size_t)grp * j->a_group + j->a_off[p];
        for (int64_t t = 0; t < nt; t++) {
            const int64_t q = j->win_q[j->tap0[p] + t], depth = t * j->mg + o;
            const int64_t pc = depth / kcb * kcb, kc = k - pc < kcb ? k - pc : kcb;
            float *d = a + pc * mpad + (depth - pc) * mr; /* panels mr kc apart */
            for (int64_t r0 = 0; r0 < cg; r0 += mr, d += mr * kc) {
                const int64_t rows = cg - r0 < mr ? cg - r0 : mr;
                for (int64_t r = 0; r < rows; r++) d[r] = wo[(r0 + r) * ksz + q];
                for (int64_t r = rows; r < mr; r++) d[r] = 0.0f;
            }
        }
    }
}

static cnnc_status pack_filters_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const pd_job *j = ctx;
    for (int64_t i = begin; i < end; i++) pack_filter(j, i / j->mg, i % j->mg); /* i = (group, filter) */
    return CNNC_OK;
}

/* ---- the plan ------------------------------------------------------------------------ */

/* The phases' taps, B's shifts, the packed filters' sizes, the planes' geometry. */
static void plan_phases(pd_job *j) {
    const cnnc__window *g = j->g;
    dim_taps_make(&j->t1, g, 1);
    dim_taps_make(&j->t2, g, 2);
    cnnc__window *tw = &j->tw;
    *tw = (cnnc__window){.n = g->n, .c = g->m, .m = g->c, .groups = g->groups,
                         .in = {1, g->out[1], g->out[2]}, .out = {1, j->t1.grid, j->t2.grid},
                         .k = {1, j->t1.ext, j->t2.ext}, .stride = {1, 1, 1},
                         .pad = {0, j->t1.pad, j->t2.pad}, .dil = {1, 1, 1}};
    int64_t hph;
    cnnc__conv_phase_geom(tw, &hph, &j->wph);
    j->plane = hph * j->wph;
    j->img_floats = g->m * j->plane;
    j->nph = j->t1.s * j->t2.s;
    int64_t taps = 0;
    j->a_off[0] = 0;
    for (int64_t p = 0; p < j->nph; p++) {
        j->ntaps[p] = dim_ntaps(&j->t1, p / j->t2.s) * dim_ntaps(&j->t2, p % j->t2.s);
        j->tap0[p] = taps;
        taps += j->ntaps[p];
        j->a_off[p + 1] = j->a_off[p] + cnnc__sgemm_packed_a_floats(j->isa, j->cg, j->mg * j->ntaps[p]);
        j->a_kc[p] = j->ntaps[p] ? cnnc__sgemm_packed_a_kc(j->isa, j->mg * j->ntaps[p]) : 0;
    }
    j->a_group = j->a_off[j->nph];
    plan_shifts(j);
}

/* Images a wave (an even split, enough grid positions to fill panels across images,
 * no more planes than the cap) and the column tiles: whole panels, an item's results
 * (PD_TILE_FLOATS) and B (PD_B_FLOATS) bounded, a tile per thread at least when the
 * columns allow, an even split. */
static int64_t plan_tiles(pd_job *j, int threads) {
    const int64_t per = j->t1.grid * j->t2.grid;
    const int64_t cap = PD_PLANES_MAX_FLOATS / j->img_floats;
    int64_t wave = (PD_WAVE_COLS + per - 1) / per;
    if (wave > cap) wave = cap;
    if (wave > j->g->n) wave = j->g->n;
    const int64_t waves = (j->g->n + wave - 1) / wave;
    wave = (j->g->n + waves - 1) / waves;
    int64_t tmax = PD_TILE_FLOATS / (j->t2.s * j->cg);
    if (tmax > PD_B_FLOATS / (j->nseq * j->mg)) tmax = PD_B_FLOATS / (j->nseq * j->mg);
    tmax = tmax / j->nr * j->nr;
    if (tmax < j->nr) tmax = j->nr;
    const int64_t cols = wave * per;
    int64_t ntiles = (cols + tmax - 1) / tmax;
    if (ntiles < threads && cols >= 2 * j->nr * threads) ntiles = threads;
    j->tile = ((cols + ntiles - 1) / ntiles + j->nr - 1) / j->nr * j->nr;
    j->tmp_floats = cnnc__round16((size_t)(j->cg * j->tile));
    j->slice = (size_t)j->t2.s * j->tmp_floats + cnnc__round16((size_t)(j->nseq * j->mg * j->tile));
    return wave;
}

/* ---- the items ----------------------------------------------------------------------- */

/* d[s x + e] = src[e][x] for x < n with s x + e < lim: one row phase's columns
 * interleaved into a dx row (src[e]: column phase e's values, s of them). */
static void interleave(float *restrict d, const float *const *src, int64_t s, int64_t n,
                       int64_t lim) {
    if (s == 1) {
        memcpy(d, src[0], (size_t)n * sizeof(float));
        return;
    }
    int64_t full = lim / s < n ? lim / s : n; /* positions whose every phase is inside */
    if (s == 2) {
        const float *restrict a = src[0], *restrict b = src[1];
        for (int64_t x = 0; x < full; x++) {
            d[2 * x] = a[x];
            d[2 * x + 1] = b[x];
        }
    } else {
        for (int64_t x = 0; x < full; x++)
            for (int64_t e = 0; e < s; e++) d[s * x + e] = src[e][x];
    }
    for (int64_t x = full; x < n; x++)
        for (int64_t e = 0; e < s && s * x + e < lim; e++) d[s * x + e] = src[e][x];
}

/* dx rows of row phase a for the tile's columns j0 .. j0 + ncol (tmp: s2 results [cg,
 * ncol], tmp_floats apart). */
static void write_rows(const pd_job *j, const float *tmp, int64_t grp, int64_t a, int64_t j0,
                       int64_t ncol) {
    const cnnc__window *g = j->g;
    const int64_t H = g->in[1], W = g->in[2], gw = j->t2.grid, per = j->t1.grid * gw;
    const int64_t s2 = j->t2.s;
    for (int64_t t = 0; t < ncol;) {
        const int64_t col = j0 + t, img = col / per, i = col % per / gw, x0 = col % gw;
        const int64_t len = gw - x0 < ncol - t ? gw - x0 : ncol - t;
        const int64_t ih = j->t1.s * i + a;
        if (ih < H) {
            float *d = j->dx + ((j->b0 + img) * g->c + grp * j->cg) * H * W + ih * W + s2 * x0;
            for (int64_t ci = 0; ci < j->cg; ci++) {
                const float *src[PD_STRIDE_MAX];
                for (int64_t e = 0; e < s2; e++) src[e] = tmp + e * j->tmp_floats + ci * ncol + t;
                interleave(d + ci * H * W, src, s2, len, W - s2 * x0);
            }
        }
        t += len;
    }
}

static cnnc_status pd_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const pd_job *j = ctx;
    const int64_t s2 = j->t2.s, total = j->nimg * j->t1.grid * j->t2.grid;
    const int64_t kall = j->nseq * j->mg;
    float *tmp = j->ws + (size_t)chunk * j->slice; /* s2 x [cg, tile] */
    float *b = tmp + (size_t)s2 * j->tmp_floats;   /* [kall, tile] in nr-column panels */
    for (int64_t item = begin; item < end; item++) { /* item = (group, tile) */
        const int64_t grp = item / j->ntiles, j0 = item % j->ntiles * j->tile;
        const int64_t ncol = total - j0 < j->tile ? total - j0 : j->tile;
        cnnc__conv_pack_taps_batch(j->isa, b, j->nr, j->ph + grp * j->mg * j->plane,
                                   j->img_floats, j->plane, j->mg, j->seq_off, j->t1.grid,
                                   j->t2.grid, j->wph, 0, kall, j0, ncol);
        for (int64_t a = 0; a < j->t1.s; a++) {
            for (int64_t e = 0; e < s2; e++) {
                const int64_t p = a * s2 + e;
                float *c = tmp + e * j->tmp_floats; /* [cg, ncol] */
                if (!j->ntaps[p]) { /* no tap reads these positions */
                    memset(c, 0, (size_t)(j->cg * ncol) * sizeof(float));
                    continue;
                }
                cnnc__sgemm_st_prepacked(j->isa, j->cg, ncol, j->mg * j->ntaps[p],
                                         j->apk + (size_t)grp * j->a_group + j->a_off[p],
                                         b + j->start[p] * j->mg * j->nr, kall * j->nr, 0.0f, c,
                                         ncol, NULL);
            }
            write_rows(j, tmp, grp, a, j0, ncol);
        }
    }
    return CNNC_OK;
}

/* Items are (image, dy channel), as the forward's phase split. */
static cnnc_status split_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const pd_job *j = ctx;
    cnnc__conv_phase_split_items(j->isa, j->ph, j->img_floats,
                                 j->dy + j->b0 * j->g->m * cnnc__window_out_size(j->g), &j->tw,
                                 begin, end);
    return CNNC_OK;
}

cnnc_status cnnc__conv_phase_backward_data(cnnc__isa isa, const cnnc__window *g, float *dx,
                                           const float *dy, const float *w) {
    pd_job j = {.isa = isa, .g = g, .cg = g->c / g->groups, .mg = g->m / g->groups, .dx = dx,
                .dy = dy, .w = w};
    cnnc__sgemm_tile(isa, &j.mr, &j.nr);
    plan_phases(&j);
    const int threads = cnnc__parallel_threads();
    const int64_t wave = plan_tiles(&j, threads);
    const int64_t ksz = g->k[1] * g->k[2];
    const cnnc__cost item_cost = {.flops = 2.0 * (double)(j.cg * j.mg * ksz * j.tile)};
    const int64_t max_tiles = (wave * j.t1.grid * j.t2.grid + j.tile - 1) / j.tile;
    const cnnc__par plan = cnnc__par_plan(g->groups * max_tiles, item_cost, threads);
    const size_t planes = cnnc__round16((size_t)(wave * j.img_floats));
    float *ws = cnnc__workspace(((size_t)plan.chunks * j.slice + planes +
                                 (size_t)g->groups * j.a_group) * sizeof(float));
    if (!ws) return cnnc_last_status();
    j.ws = ws;
    j.ph = ws + (size_t)plan.chunks * j.slice;
    j.apk = j.ph + planes;
    /* an item: a filter (read and written) */
    (void)cnnc__parallel_for(g->groups * j.mg, (cnnc__cost){.bytes = 8.0 * (double)(j.cg * ksz)},
                             pack_filters_range, &j);
    cnnc_status st = CNNC_OK;
    for (j.b0 = 0; j.b0 < g->n && st == CNNC_OK; j.b0 += wave) {
        j.nimg = g->n - j.b0 < wave ? g->n - j.b0 : wave;
        j.ntiles = (j.nimg * j.t1.grid * j.t2.grid + j.tile - 1) / j.tile;
        (void)cnnc__parallel_for(j.nimg * g->m,
                                 (cnnc__cost){.bytes = 8.0 * (double)j.plane}, split_range, &j);
        /* the first wave is the largest: no more chunks than the workspace has */
        st = cnnc__par_run(cnnc__par_plan(g->groups * j.ntiles, item_cost, threads), pd_range, &j);
    }
    return st;
}
