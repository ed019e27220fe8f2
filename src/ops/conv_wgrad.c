/* Weight gradient of dense convolutions from channels-last copies.
 *
 * Per group, over chunks of J consecutive output columns of the batch (as in
 * conv_cols.c; column b * osz + o is output position o of image b):
 *
 *   dW^T [kdim, mg] (+)= A(chunk) [kdim, J] dY(chunk)^T [J, mg]
 *
 * with the rows of A (the column matrix) ordered (tap, channel): row q * cg + c is tap
 * q of channel c. What the chunk reads is copied channels last (small enough to
 * stay in L2 for the GEMM):
 *   xs  the padded input rows its windows cover, [rows, P2, cg] per image part (P: the
 *       padded extents the output reads; zeros around the input),
 *   dyt [J, mg], its dY columns as rows (the chunk's B: a plain k x n matrix),
 * so A's MR-row panels come straight from xs (a panel of one position is one or two
 * runs of a row of xs: cnnc__conv_cl_panel) with no im2col and no transposing pack,
 * and B is a row copy. The GEMM is cnnc__sgemm_st_packed on row ranges of A (whole
 * MR panels) split over the threads; each element is summed over its chunk in k
 * blocks fixed by J, chunk after chunk, so results do not depend on the thread
 * count. At the end dW^T is transposed into dw, its rows permuted back to
 * (channel, tap). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/conv_cl.h"
#include "kernels/gemm.h"
#include "ops/conv_cols.h"

enum {
    WG_COL_FLOATS = 1 << 17, /* A(chunk) 512 KB: stays in L2 between packing and GEMM */
    WG_MIN_K = 256,          /* unless that leaves fewer columns: a whole KC block */
    WG_PAD_RATIO = 4,        /* padded copies at most this many times the input (else decline) */
    WG_MIN_CHANNELS = 8,     /* channels per group, at least (a 3-channel first layer declines) */
};

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The part of a chunk in one image: its positions [o0, o0 + len) (the chunk's
 * [p0, p0 + len)) read the padded rows [lo, lo + rows) of image b (a row: P2 * cg
 * floats; row R is (R / P1, R % P1) of the padded extents), copied at xs + xoff. */
typedef struct wg_seg {
    int64_t b, o0, len, p0, lo, rows, xoff;
} wg_seg;

typedef struct wg_job {
    cnnc__isa isa;
    const cnnc__window *g;
    int threads;
    int64_t cg, mg, ksz, kdim, osz, total, width, mr;
    int64_t P[3];         /* padded extents of the channels-last input */
    int64_t row_floats;   /* P2 * cg: one padded row */
    int64_t rtap;         /* rows between a window's first and last tap rows */
    int64_t max_segs;     /* images a chunk touches, at most */
    float *xs;            /* the chunk's padded input rows, channels last */
    float *dyt;           /* [width, mg]: the chunk's dY rows */
    float *apack;         /* A(chunk) in MR-row panels, [kdim rounded to MR, width] */
    float *acc;           /* [kdim, mg]: dW^T of a group */
    float *gemm_ws;       /* threads * cnnc__sgemm_workspace_floats */
    int64_t *base;        /* [width]: offset in xs of each chunk position's window */
    int64_t *tapoff;      /* [ksz]: offset of each tap from a window's origin */
    int64_t *dw_rows;     /* [kdim]: the dW^T row of dw's column c * ksz + q */
    wg_seg *segs;         /* [max_segs]: the chunk's parts */
    int64_t nsegs;
    const float *x, *dy;
    int64_t grp, c0, ncol;
} wg_job;

static void padded_extents(const cnnc__window *g, int64_t P[3]) {
    for (int d = 0; d < 3; d++) P[d] = (g->out[d] - 1) * g->stride[d] + (g->k[d] - 1) * g->dil[d] + 1;
}

bool cnnc__conv_wgrad_cl_fits(const cnnc__window *g) {
    if (cnnc__window_k_size(g) == 1) return false; /* strided 1x1: im2col reads only what it needs */
    if (g->c / g->groups < WG_MIN_CHANNELS) return false; /* thin copies: im2col measured faster */
    int64_t P[3];
    padded_extents(g, P);
    const double padded = (double)P[0] * (double)P[1] * (double)P[2];
    return padded <= (double)WG_PAD_RATIO * (double)cnnc__window_in_size(g) + 4096.0 &&
           padded * (double)(g->c / g->groups) < 1e10;
}

/* Chunk width (as conv_cols.c: A about WG_COL_FLOATS, at least a KC block, even). */
static int64_t chunk_width(const wg_job *j) {
    int64_t w = WG_COL_FLOATS / j->kdim;
    if (w < WG_MIN_K) w = WG_MIN_K;
    const int64_t chunks = (j->total + w - 1) / w;
    w = (j->total + chunks - 1) / chunks;
    return min64((w + 15) / 16 * 16, j->total);
}

/* The padded row of the window origin of output position o. */
static int64_t row_of(const wg_job *j, int64_t o) {
    const cnnc__window *g = j->g;
    const int64_t o01 = o / g->out[2], o1 = o01 % g->out[1], o0 = o01 / g->out[1];
    return o0 * g->stride[0] * j->P[1] + o1 * g->stride[1];
}

/* Splits columns [c0, c0 + ncol) into their images' parts (segs); returns the floats
 * of their padded rows. */
static int64_t chunk_segments(const wg_job *j, int64_t c0, int64_t ncol, wg_seg *segs,
                              int64_t *nsegs) {
    int64_t n = 0, floats = 0;
    for (int64_t p = 0; p < ncol;) {
        wg_seg *s = &segs[n++];
        s->b = (c0 + p) / j->osz;
        s->o0 = (c0 + p) % j->osz;
        s->len = min64(j->osz - s->o0, ncol - p);
        s->p0 = p;
        s->lo = row_of(j, s->o0);
        s->rows = row_of(j, s->o0 + s->len - 1) + j->rtap + 1 - s->lo;
        s->xoff = floats;
        floats += s->rows * j->row_floats;
        p += s->len;
    }
    *nsegs = n;
    return floats;
}

static void tables(wg_job *j) {
    const cnnc__window *g = j->g;
    for (int64_t q = 0; q < j->ksz; q++) {
        const int64_t q2 = q % g->k[2], q1 = (q / g->k[2]) % g->k[1], q0 = q / (g->k[2] * g->k[1]);
        j->tapoff[q] = ((q0 * g->dil[0] * j->P[1] + q1 * g->dil[1]) * j->P[2] + q2 * g->dil[2]) * j->cg;
    }
    for (int64_t c = 0; c < j->cg; c++)
        for (int64_t q = 0; q < j->ksz; q++) j->dw_rows[c * j->ksz + q] = q * j->cg + c;
}

/* The most floats of padded rows a chunk copies, over every chunk. */
static int64_t max_chunk_rows(const wg_job *j, wg_seg *segs) {
    int64_t most = 0, n;
    for (int64_t c0 = 0; c0 < j->total; c0 += j->width) {
        const int64_t f = chunk_segments(j, c0, min64(j->width, j->total - c0), segs, &n);
        if (f > most) most = f;
    }
    return most;
}

static void geometry(wg_job *j, cnnc__isa isa, const cnnc__window *g) {
    j->isa = isa;
    j->g = g;
    j->threads = cnnc__parallel_threads();
    j->cg = g->c / g->groups;
    j->mg = g->m / g->groups;
    j->ksz = cnnc__window_k_size(g);
    j->kdim = j->cg * j->ksz;
    j->osz = cnnc__window_out_size(g);
    j->total = g->n * j->osz;
    int64_t nr;
    cnnc__sgemm_tile(isa, &j->mr, &nr);
    j->width = chunk_width(j);
    padded_extents(g, j->P);
    j->row_floats = j->P[2] * j->cg;
    j->rtap = (g->k[0] - 1) * g->dil[0] * j->P[1] + (g->k[1] - 1) * g->dil[1];
    j->max_segs = min64(g->n, (j->width + j->osz - 1) / j->osz + 1);
}

static bool wg_setup(wg_job *j, cnnc__isa isa, const cnnc__window *g, const float *dy,
                     const float *x) {
    memset(j, 0, sizeof *j);
    geometry(j, isa, g);
    j->x = x;
    j->dy = dy;
    wg_seg *segs = cnnc__malloc((size_t)j->max_segs * sizeof *segs);
    if (!segs) return cnnc__oom("conv weight gradient"), false;
    const int64_t xs_floats = max_chunk_rows(j, segs);
    cnnc__free(segs);
    const int64_t mpad = (j->kdim + j->mr - 1) / j->mr * j->mr;
    const size_t gemm = (size_t)j->threads * cnnc__sgemm_workspace_floats(isa);
    const size_t xs = cnnc__round16((size_t)xs_floats), dyt = cnnc__round16((size_t)(j->width * j->mg));
    const size_t ap = cnnc__round16((size_t)(mpad * j->width)), acc = cnnc__round16((size_t)(j->kdim * j->mg));
    const size_t ints = cnnc__round16((size_t)(j->width + j->ksz + j->kdim)); /* int64 each */
    const size_t segf = cnnc__round16((size_t)j->max_segs * sizeof(wg_seg) / sizeof(float));
    float *ws = cnnc__workspace((gemm + xs + dyt + ap + acc + segf) * sizeof(float) + ints * 8);
    if (!ws) return false;
    j->gemm_ws = ws;
    j->xs = ws + gemm;
    j->dyt = j->xs + xs;
    j->apack = j->dyt + dyt;
    j->acc = j->apack + ap;
    j->segs = (wg_seg *)(j->acc + acc);
    j->base = (int64_t *)(j->acc + acc + segf);
    j->tapoff = j->base + j->width;
    j->dw_rows = j->tapoff + j->ksz;
    tables(j);
    return true;
}

/* ---- channels-last copies of the chunk's rows ------------------------------------------- */

/* Channels [c0, c0 + nc) of part s's padded rows into xs (zeros around the input). */
static void copy_x(const wg_job *j, const wg_seg *s, int64_t c0, int64_t nc) {
    const cnnc__window *g = j->g;
    const int64_t isz = cnnc__window_in_size(g), cg = j->cg;
    const float *src = j->x + (s->b * g->c + j->grp * cg + c0) * isz;
    const int64_t w0 = g->pad[2], w1 = min64(g->pad[2] + g->in[2], j->P[2]); /* copied columns */
    for (int64_t r = 0; r < s->rows; r++) {
        float *row = j->xs + s->xoff + r * j->row_floats + c0;
        const int64_t R = s->lo + r, id = R / j->P[1] - g->pad[0], ih = R % j->P[1] - g->pad[1];
        const bool inside = id >= 0 && id < g->in[0] && ih >= 0 && ih < g->in[1] && w0 < w1;
        for (int64_t w = 0; w < j->P[2]; w++) {
            if (inside && w == w0) w = w1;
            if (w < j->P[2]) memset(row + w * cg, 0, (size_t)nc * sizeof(float));
        }
        if (inside)
            cnnc__conv_cl_transpose(j->isa, row + w0 * cg, cg, src + (id * g->in[1] + ih) * g->in[2],
                                    isz, NULL, nc, w1 - w0);
    }
}

/* Rows [c0, c0 + nc) of part s's dY into dyt. */
static void copy_dy(const wg_job *j, const wg_seg *s, int64_t c0, int64_t nc) {
    const float *src = j->dy + (s->b * j->g->m + j->grp * j->mg + c0) * j->osz + s->o0;
    cnnc__conv_cl_transpose(j->isa, j->dyt + s->p0 * j->mg + c0, j->mg, src, j->osz, NULL, nc,
                            s->len);
}

enum { CL_BLOCK = 16 }; /* channels per item of the copies */

static cnnc_status copy_range(void *ctx, int64_t i0, int64_t i1, int chunk) {
    (void)chunk;
    const wg_job *j = ctx;
    const int64_t xblocks = (j->cg + CL_BLOCK - 1) / CL_BLOCK;
    const int64_t per = xblocks + (j->mg + CL_BLOCK - 1) / CL_BLOCK;
    for (int64_t i = i0; i < i1; i++) {
        const wg_seg *s = &j->segs[i / per];
        const int64_t blk = i % per;
        if (blk < xblocks) {
            const int64_t c0 = blk * CL_BLOCK;
            copy_x(j, s, c0, min64(CL_BLOCK, j->cg - c0));
        } else {
            const int64_t c0 = (blk - xblocks) * CL_BLOCK;
            copy_dy(j, s, c0, min64(CL_BLOCK, j->mg - c0));
        }
    }
    return CNNC_OK;
}

/* The chunk's parts, their copies, and base[p] for each of its positions. */
static void chunk_copies(wg_job *j) {
    const int64_t xs_floats = chunk_segments(j, j->c0, j->ncol, j->segs, &j->nsegs);
    const int64_t per = (j->cg + CL_BLOCK - 1) / CL_BLOCK + (j->mg + CL_BLOCK - 1) / CL_BLOCK;
    const double floats = (double)xs_floats / (double)j->cg + (double)j->ncol;
    const cnnc__cost item = {.bytes = 8.0 * CL_BLOCK * floats / (double)j->nsegs};
    (void)cnnc__parallel_for(j->nsegs * per, item, copy_range, j);
    const cnnc__window *g = j->g;
    for (int64_t si = 0; si < j->nsegs; si++) {
        const wg_seg *s = &j->segs[si];
        for (int64_t t = 0; t < s->len; t++) {
            const int64_t o = s->o0 + t;
            j->base[s->p0 + t] = s->xoff + (row_of(j, o) - s->lo) * j->row_floats +
                                 o % g->out[2] * g->stride[2] * j->cg;
        }
    }
}

/* ---- the chunk's GEMM ------------------------------------------------------------------- */

/* The runs of xs offsets of A's rows [i0, i0 + rows): lanes and offsets as
 * cnnc__conv_cl_panel takes them; returns their number. */
static int64_t panel_runs(const wg_job *j, int64_t i0, int64_t rows, int64_t *lane, int64_t *off) {
    int64_t n = 0, prev = -2;
    for (int64_t i = 0; i < rows; i++) {
        const int64_t r = i0 + i, o = j->tapoff[r / j->cg] + r % j->cg;
        if (o != prev + 1) {
            lane[n] = i;
            off[n++] = o;
        }
        prev = o;
    }
    lane[n] = rows;
    return n;
}

/* A's rows [i0, i1) of the chunk, in the layout of cnnc__sgemm_pack_a_full for an
 * (i1 - i0) x ncol matrix, at dst. */
static void pack_rows(const wg_job *j, int64_t i0, int64_t i1, float *dst) {
    const int64_t m = i1 - i0, mpad = (m + j->mr - 1) / j->mr * j->mr;
    const int64_t kc_blk = cnnc__sgemm_k_block(j->isa, j->ncol);
    int64_t lane[17], off[16];
    for (int64_t r = 0; r < m; r += j->mr) {
        const int64_t nruns = panel_runs(j, i0 + r, min64(j->mr, m - r), lane, off);
        for (int64_t pc = 0; pc < j->ncol; pc += kc_blk) {
            const int64_t kc = min64(kc_blk, j->ncol - pc);
            cnnc__conv_cl_panel(j->isa, dst + pc * mpad + r * kc, j->mr, kc, j->xs, j->base + pc,
                                lane, off, nruns);
        }
    }
}

static cnnc_status gemm_range(void *ctx, int64_t u0, int64_t u1, int chunk) {
    const wg_job *j = ctx;
    const int64_t i0 = u0 * j->mr, i1 = min64(u1 * j->mr, j->kdim);
    float *a = j->apack + i0 * j->width;
    pack_rows(j, i0, i1, a);
    float *ws = j->gemm_ws + (size_t)chunk * cnnc__sgemm_workspace_floats(j->isa);
    /* B(p, n) = dyt row (chunk's first row + p), a plain row copy */
    cnnc__sgemm_plain_b pb = {j->isa, j->dyt, j->mg};
    cnnc__sgemm_st_packed(j->isa, i1 - i0, j->mg, j->ncol, a, cnnc__sgemm_plain_pack_b, &pb,
                          j->c0 == 0 ? 0.0f : 1.0f, j->acc + i0 * j->mg, j->mg, ws, NULL);
    return CNNC_OK;
}

static void chunk_gemm(wg_job *j) {
    const double mr = (double)j->mr, k = (double)j->ncol, n = (double)j->mg;
    const cnnc__cost unit = {.flops = 2.0 * mr * n * k, .bytes = 8.0 * mr * k + 4.0 * mr * n,
                             .chunk_bytes = 8.0 * k * n};
    const cnnc__par plan = cnnc__par_plan((j->kdim + j->mr - 1) / j->mr, unit, j->threads);
    (void)cnnc__par_run(plan, gemm_range, j); /* cannot fail */
}

/* ---- dW^T into dw ----------------------------------------------------------------------- */

typedef struct out_pass {
    const wg_job *j;
    float *dw;
} out_pass;

/* dw [mg, cg * ksz] columns [16 u0, 16 u1) from their dW^T rows. */
static cnnc_status out_range(void *ctx, int64_t u0, int64_t u1, int chunk) {
    (void)chunk;
    const out_pass *op = ctx;
    const wg_job *j = op->j;
    const int64_t c0 = u0 * 16, c1 = min64(u1 * 16, j->kdim);
    cnnc__conv_cl_transpose(j->isa, op->dw + c0, j->kdim, j->acc, j->mg, j->dw_rows + c0, c1 - c0,
                            j->mg);
    return CNNC_OK;
}

cnnc_status cnnc__conv_wgrad_cl(cnnc__isa isa, const cnnc__window *g, float *dw, const float *dy,
                                const float *x) {
    wg_job j;
    if (!wg_setup(&j, isa, g, dy, x)) return cnnc_last_status();
    for (j.grp = 0; j.grp < g->groups; j.grp++) {
        for (j.c0 = 0; j.c0 < j.total; j.c0 += j.width) {
            j.ncol = min64(j.width, j.total - j.c0);
            chunk_copies(&j);
            chunk_gemm(&j);
        }
        out_pass op = {&j, dw + j.grp * j.mg * j.kdim};
        const cnnc__cost item = {.bytes = 8.0 * 16.0 * (double)j.mg};
        (void)cnnc__parallel_for((j.kdim + 15) / 16, item, out_range, &op);
    }
    return CNNC_OK;
}
