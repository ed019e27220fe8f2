/* Convolution drivers over column chunks that cross image boundaries.
 *
 * The column matrix of a convolution over a whole batch (one group) is
 * [kdim, n * osz] (kdim = cg * ksz): column b * osz + o is output position o of image
 * b. The per-image drivers of conv.c run one GEMM per image (or per tile of one); on
 * small maps (7x7: 49 columns) those GEMMs are narrow, their 32-column panels part
 * empty and the weights packed again for every image, and the weight gradient's inner
 * dimension is the image's 49 positions. Here a chunk is a run of J consecutive
 * columns of the batch's matrix, whatever images they belong to:
 *
 *   forward          Y[:, chunk]  = W col(chunk)             epilogue on Y, scattered to y
 *   backward-data    dcol(chunk)  = W^T dY[:, chunk]         dcol folded into dx
 *   backward-weight  dW^T        (+)= col(chunk) dY[:, chunk]^T   chunks in column order,
 *                                                          then transposed into dW
 *
 * col(chunk) [kdim, J] is built by im2col image segment by image segment (the forward
 * of a 1x1 stride-1 kernel packs the GEMM's B from the input's segments instead, and
 * runs on filters packed once, or kept in a module's weight cache), Y [mg, J] is a
 * copy of the segments' rows, and so is dY[:, chunk] when the chunk spans images (in
 * one image the GEMM reads dY's rows in place: the stem's weight gradient, 7x7 / 2 on
 * batch 8 at 224, chunks of 896 of 12544 positions, 1 thread 29.3 -> 28.6 ms, the
 * copies 2.6 ms of 2 threads' 22). The chunk width depends on the
 * geometry alone, and the GEMM (threaded inside) sums each element in an order fixed
 * by its k, so results are the same at every thread count.
 *
 * Most weight gradients (every kernel larger than 1x1 whose padded input copy stays
 * small) build A's panels from channels-last copies instead (conv_wgrad.c); this
 * file keeps 1x1 kernels (in place when stride 1, else im2col) and the rest. */
#include "ops/conv_cols.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/gemm_mt.h"
#include "core/parallel.h"
#include "kernels/conv_cl.h"
#include "kernels/gemm.h"
#include "kernels/gemm_small.h"

enum {
    CHUNK_COL_FLOATS = 1 << 17, /* col(chunk) 512 KB: stays in L2 between im2col and the GEMM */
    CHUNK_MIN_K = 256,          /* unless that leaves fewer columns: the GEMM's k (a KC block) */
    CHUNK_MIN_N = 512,          /* or its n (16 panels: batch-8 7x7 maps in one chunk) */
    SMALL_MAP_COLUMNS = 128,    /* forward / backward-data: chunks pay below this osz */
};

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

typedef struct cols_job {
    cnnc__isa isa;
    const cnnc__window *g;
    int64_t cg, mg, ksz, kdim, isz, osz, total; /* total = n * osz columns */
    int64_t width;                              /* J: columns per chunk */
    int64_t grp, c0, ncol;                      /* the current group and chunk */
    float *col;                                 /* [kdim, width] */
    float *rows;                                /* [mg, width]: Y or dY of the chunk */
    float *acc;     /* [kdim, mg]: dW^T of a group (weight gradient), or the extra floats */
    float *gemm_ws; /* [threads, the level's GEMM workspace] */
    size_t gemm_floats;
    int threads;      /* read once, at the set-up */
    const float *apk; /* forward: the packed filters, a_floats per group */
    size_t a_floats;
    const float *x; /* a 1x1 stride-1 forward's input (its B), or NULL: B is col */
    cnnc__sgemm_epilogue fep; /* forward: the current group's epilogue in the GEMM's store */
    bool fused;               /* (when set; else the output pass applies it) */
} cols_job;

bool cnnc__conv_cols_pays(const cnnc__window *g) {
    return cnnc__window_out_size(g) < SMALL_MAP_COLUMNS && g->n > 1;
}

/* Plans the chunks (at least min_cols wide) and takes the workspace (with acc: room for
 * a group's dW^T; and extra floats more, at j->acc's place without acc); false (error
 * set) when it cannot. */
static bool cols_setup(cols_job *j, cnnc__isa isa, const cnnc__window *g, int64_t min_cols,
                       bool acc, size_t extra) {
    memset(j, 0, sizeof *j);
    j->isa = isa;
    j->g = g;
    j->cg = g->c / g->groups;
    j->mg = g->m / g->groups;
    j->ksz = cnnc__window_k_size(g);
    j->kdim = j->cg * j->ksz;
    j->isz = cnnc__window_in_size(g);
    j->osz = cnnc__window_out_size(g);
    j->total = g->n * j->osz;
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    int64_t w = CHUNK_COL_FLOATS / j->kdim;
    if (w < min_cols) w = min_cols;
    /* chunks of even width (no narrow last one), in whole panels */
    const int64_t chunks = (j->total + w - 1) / w;
    w = (j->total + chunks - 1) / chunks;
    j->width = min64((w + nr - 1) / nr * nr, j->total);
    j->threads = cnnc__parallel_threads();
    j->gemm_floats = (size_t)j->threads * cnnc__sgemm_workspace_floats(isa);
    const size_t col = cnnc__round16((size_t)(j->kdim * j->width));
    const size_t rows = cnnc__round16((size_t)(j->mg * j->width));
    const size_t accf = acc ? cnnc__round16((size_t)(j->kdim * j->mg)) : extra;
    j->gemm_ws = cnnc__workspace((j->gemm_floats + col + rows + accf) * sizeof(float));
    if (!j->gemm_ws) return false;
    j->col = j->gemm_ws + j->gemm_floats;
    j->rows = j->col + col;
    j->acc = j->rows + rows;
    return true;
}

/* One image's part of the chunk (image b, its positions [o, o + len), at column off)
 * for the channels or rows [r0, r1) of the pass. */
typedef void (*segment_fn)(const cols_job *j, int64_t b, int64_t o, int64_t len, int64_t off,
                           int64_t r0, int64_t r1, void *arg);

typedef struct segments_pass {
    const cols_job *j;
    segment_fn fn;
    void *arg;
} segments_pass;

static cnnc_status segments_range(void *ctx, int64_t r0, int64_t r1, int chunk) {
    (void)chunk;
    const segments_pass *sp = ctx;
    const cols_job *j = sp->j;
    for (int64_t off = 0; off < j->ncol;) {
        const int64_t at = j->c0 + off, b = at / j->osz, o = at % j->osz;
        const int64_t len = min64(j->osz - o, j->ncol - off);
        sp->fn(j, b, o, len, off, r0, r1, sp->arg);
        off += len;
    }
    return CNNC_OK;
}

/* fn over every segment of the chunk, its `rows` channels or rows split over the
 * threads (each a copy of row_floats floats per column: memory-bound). Cannot fail. */
static void for_segments(const cols_job *j, segment_fn fn, void *arg, int64_t rows,
                         int64_t row_floats) {
    segments_pass sp = {j, fn, arg};
    const cnnc__cost item = {.bytes = 8.0 * (double)(row_floats * j->ncol)};
    (void)cnnc__parallel_for(rows, item, segments_range, &sp);
}

static const float *x_of(const cols_job *j, const float *x, int64_t b) {
    return x + (b * j->g->c + j->grp * j->cg) * j->isz;
}

static void seg_im2col(const cols_job *j, int64_t b, int64_t o, int64_t len, int64_t off,
                       int64_t r0, int64_t r1, void *arg) {
    cnnc__conv_im2col(j->isa, j->col + r0 * j->ksz * j->width + off, j->width, x_of(j, arg, b),
                      j->g, r0, r1, o, len);
}

static void seg_col2im(const cols_job *j, int64_t b, int64_t o, int64_t len, int64_t off,
                       int64_t r0, int64_t r1, void *arg) {
    cnnc__conv_col2im(j->isa, (float *)x_of(j, arg, b), j->col + r0 * j->ksz * j->width + off,
                      j->width, j->g, r0, r1, o, len);
}

/* rows[r, off + t] = dy[b, grp mg + r, o + t] */
static void seg_gather(const cols_job *j, int64_t b, int64_t o, int64_t len, int64_t off,
                       int64_t r0, int64_t r1, void *arg) {
    const float *src = (const float *)arg + (b * j->g->m + j->grp * j->mg) * j->osz + o;
    for (int64_t r = r0; r < r1; r++)
        memcpy(j->rows + r * j->width + off, src + r * j->osz, (size_t)len * sizeof(float));
}

/* y[b, grp mg + r, o + t] = rows[r, off + t] */
static void seg_scatter(const cols_job *j, int64_t b, int64_t o, int64_t len, int64_t off,
                        int64_t r0, int64_t r1, void *arg) {
    float *dst = (float *)arg + (b * j->g->m + j->grp * j->mg) * j->osz + o;
    for (int64_t r = r0; r < r1; r++)
        memcpy(dst + r * j->osz, j->rows + r * j->width + off, (size_t)len * sizeof(float));
}

/* The chunk's dY rows [mg, ncol]: read in place (*ld = osz) when its columns lie in one
 * image, else gathered into j->rows (*ld = width). The same values either way. */
static const float *chunk_dy(const cols_job *j, const float *dy, int64_t *ld) {
    const int64_t b = j->c0 / j->osz;
    if ((j->c0 + j->ncol - 1) / j->osz == b) {
        *ld = j->osz;
        return dy + (b * j->g->m + j->grp * j->mg) * j->osz + j->c0 % j->osz;
    }
    for_segments(j, seg_gather, (void *)dy, j->mg, 1);
    *ld = j->width;
    return j->rows;
}

typedef struct output_pass {
    const cols_job *j;
    float *y;
    const cnnc__conv_epilogue *ep;
} output_pass;

/* The forward's rows [r0, r1) of the chunk: the epilogue over each whole row (one run
 * of ncol in L2, whatever images its segments belong to) unless the GEMM's store applied
 * it, then scattered into y. */
static cnnc_status output_range(void *ctx, int64_t r0, int64_t r1, int chunk) {
    const output_pass *op = ctx;
    const cols_job *j = op->j;
    for (int64_t r = r0; r < r1 && !j->fused && cnnc__conv_epilogue_any(op->ep); r++)
        cnnc__conv_epilogue_row(j->isa, op->ep, j->grp * j->mg + r, j->rows + r * j->width,
                                j->rows + r * j->width, j->ncol);
    segments_pass sp = {j, seg_scatter, op->y};
    return segments_range(&sp, r0, r1, chunk);
}

/* The chunk's rows over the threads (a row: ncol values through the epilogue and copied
 * out, memory-bound). Cannot fail. */
static void output_chunk(const output_pass *op) {
    const double n = (double)op->j->ncol;
    const cnnc__cost row = {.flops = op->ep->act ? 4.0 * n : 0.0, .bytes = 12.0 * n};
    (void)cnnc__parallel_for(op->j->mg, row, output_range, (void *)op);
}

static void gemm(const cols_job *j, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc) {
    cnnc__sgemm_ws(j->isa, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, j->gemm_ws,
                   j->gemm_floats);
}

/* Calls body(j) for every (group, chunk), the chunk set in j->grp, c0, ncol. */
#define FOR_CHUNKS(j, body)                                                                    \
    for ((j)->grp = 0; (j)->grp < (j)->g->groups; (j)->grp++)                                  \
        for ((j)->c0 = 0; (j)->c0 < (j)->total; (j)->c0 += (j)->width) {                       \
            (j)->ncol = min64((j)->width, (j)->total - (j)->c0);                               \
            body;                                                                              \
        }

/* A row's nr columns into its panel (a constant size for the levels' panels: inlined). */
static void panel_row(float *dst, const float *src, int64_t nr) {
    switch (nr) {
    case 8: memcpy(dst, src, 8 * sizeof(float)); break;
    case 16: memcpy(dst, src, 16 * sizeof(float)); break;
    case 32: memcpy(dst, src, 32 * sizeof(float)); break;
    default: memcpy(dst, src, (size_t)nr * sizeof(float)); break;
    }
}

/* Rows [pc, pc + kc) x columns [jc, jc + nc) of a 1x1 stride-1 forward's B
 * (cnnc__sgemm_pack_b_fn; ctx: the cols_job) read from the input j->x, no column matrix:
 * each row's image segments gathered into scratch, then copied out panel by panel.
 * 960 -> 160 at 7x7, batch 8, AVX2, 1 thread: copying the input into col(chunk) (1.5 MB,
 * out of L2) and packing it from there took 14% of the layer, this 12%; 1.37-1.42 ->
 * 1.35 ms (960 -> 320 2.67 -> 2.62-2.64, 576 -> 160 even). */
static const float *direct_pack_b(void *ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                                  int64_t nr, float *dst, float *scratch) {
    const cols_job *j = ctx;
    const int64_t npan = (nc + nr - 1) / nr, img = j->g->c * j->isz;
    memset(scratch + nc, 0, (size_t)(npan * nr - nc) * sizeof(float));
    for (int64_t p = 0; p < kc; p++) {
        const float *xc = x_of(j, j->x, 0) + (pc + p) * j->isz; /* image 0's channel */
        for (int64_t t = 0; t < nc;) {
            const int64_t at = j->c0 + jc + t, o = at % j->osz, len = min64(j->osz - o, nc - t);
            memcpy(scratch + t, xc + at / j->osz * img + o, (size_t)len * sizeof(float));
            t += len;
        }
        for (int64_t s = 0; s < npan; s++) panel_row(dst + (s * kc + p) * nr, scratch + s * nr, nr);
    }
    return dst;
}

/* Y [mg, ncol] = the group's packed filters times col(chunk) (or the input's columns),
 * rows [u0 MR, u1 MR) on this thread (the same bits whatever the split:
 * cnnc__sgemm_st_packed_rows). */
static cnnc_status packed_rows(void *ctx, int64_t u0, int64_t u1, int chunk) {
    const cols_job *j = ctx;
    int64_t mr, nr;
    cnnc__sgemm_tile(j->isa, &mr, &nr);
    const int64_t r0 = u0 * mr, r1 = min64(u1 * mr, j->mg);
    const size_t slice = cnnc__sgemm_workspace_floats(j->isa);
    cnnc__sgemm_plain_b pb = {j->isa, j->col, j->width};
    cnnc__sgemm_st_packed_rows(j->isa, j->mg, r0, r1 - r0, j->ncol, j->kdim,
                               j->apk + (size_t)j->grp * j->a_floats,
                               j->x ? direct_pack_b : cnnc__sgemm_plain_pack_b,
                               j->x ? (void *)j : (void *)&pb, 0.0f, j->rows + r0 * j->width,
                               j->width, j->gemm_ws + (size_t)chunk * slice,
                               j->fused ? &j->fep : NULL);
    return CNNC_OK;
}

/* The chunk's Y, its row panels over the threads (a chunk of them packs all of col(chunk)
 * once). Cannot fail. */
static void packed_gemm(cols_job *j) {
    int64_t mr, nr;
    cnnc__sgemm_tile(j->isa, &mr, &nr);
    const double cols = (double)(j->kdim * j->ncol);
    const cnnc__cost panel = {.flops = 2.0 * (double)mr * cols, .chunk_bytes = 8.0 * cols};
    (void)cnnc__par_run(cnnc__par_plan((j->mg + mr - 1) / mr, panel, j->threads), packed_rows, j);
}

cnnc_status cnnc__conv_cols_forward(cnnc__isa isa, const cnnc__window *g, float *y,
                                    const float *x, const float *w, const float *apk,
                                    const cnnc__conv_epilogue *ep) {
    cols_job j;
    const int64_t mg = g->m / g->groups, kdim = g->c / g->groups * cnnc__window_k_size(g);
    const size_t a_floats = cnnc__sgemm_packed_a_floats(isa, mg, kdim);
    if (!cols_setup(&j, isa, g, CHUNK_MIN_N, false, apk ? 0 : (size_t)g->groups * a_floats))
        return cnnc_last_status();
    j.a_floats = a_floats;
    j.apk = apk ? apk : j.acc;
    for (int64_t grp = 0; !apk && grp < g->groups; grp++)
        cnnc__sgemm_pack_a_full(isa, false, mg, kdim, w + grp * mg * kdim, kdim,
                                j.acc + (size_t)grp * a_floats);
    j.x = cnnc__conv_is_pointwise(g) ? x : NULL;
    output_pass op = {&j, y, ep};
    FOR_CHUNKS(&j, {
        if (!j.x) for_segments(&j, seg_im2col, (void *)x, j.cg, j.ksz);
        j.fused = cnnc__conv_epilogue_gemm(isa, ep, j.grp * mg, &j.fep);
        packed_gemm(&j);
        output_chunk(&op);
    });
    return CNNC_OK;
}

cnnc_status cnnc__conv_cols_backward_data(cnnc__isa isa, const cnnc__window *g, float *dx,
                                          const float *dy, const float *w) {
    cols_job j;
    if (!cols_setup(&j, isa, g, CHUNK_MIN_N, false, 0)) return cnnc_last_status();
    memset(dx, 0, (size_t)(g->n * g->c * j.isz) * sizeof(float));
    FOR_CHUNKS(&j, {
        int64_t ld;
        const float *rows = chunk_dy(&j, dy, &ld);
        gemm(&j, true, false, j.kdim, j.ncol, j.mg, w + j.grp * j.mg * j.kdim, j.kdim, rows, ld,
             0.0f, j.col, j.width);
        for_segments(&j, seg_col2im, dx, j.cg, j.ksz);
    });
    return CNNC_OK;
}

/* dw [mg, kdim] = acc [kdim, mg]^T (the level's register transposes). */
static void transpose(const cols_job *j, float *dw) {
    cnnc__conv_cl_transpose(j->isa, dw, j->kdim, j->acc, j->mg, NULL, j->kdim, j->mg);
}

/* dW^T [kdim, mg] is the product (col rows, the many, as the GEMM's m; the group's
 * output channels, often 32 or 64, fill whole 32-wide panels as its n): summed chunk
 * after chunk in acc, then transposed into dw. */
/* 1x1, stride 1, no padding, maps of at least a KC block: the input and dY rows are
 * the GEMM's operands in place, a chunk being an even tile of one image. */
static void backward_weight_direct(cols_job *j, float *dw, const float *dy, const float *x) {
    const cnnc__window *g = j->g;
    const int64_t tiles = (j->osz + j->width - 1) / j->width;
    const int64_t tile = (j->osz + tiles - 1) / tiles;
    for (j->grp = 0; j->grp < g->groups; j->grp++) {
        for (int64_t b = 0; b < g->n; b++)
            for (int64_t o0 = 0; o0 < j->osz; o0 += tile)
                gemm(j, false, true, j->kdim, j->mg, min64(tile, j->osz - o0),
                     x_of(j, x, b) + o0, j->osz, dy + (b * g->m + j->grp * j->mg) * j->osz + o0,
                     j->osz, b == 0 && o0 == 0 ? 0.0f : 1.0f, j->acc, j->mg);
        transpose(j, dw + j->grp * j->mg * j->kdim);
    }
}

enum {
    DOT_ROWS = CNNC__SGEMM_SMALL_M,
    DOT_TILE = 512,
    DOT_MIN_POSITIONS = 1024,
    DOT_MAX_ROWS = 2 * DOT_ROWS /* the dot's A, the side with fewer rows */
};

/* 1x1, stride 1, no padding, at a level with the dot tiles (kernels/gemm_small.h): each
 * weight-gradient element is a dot product of a dY row and an input row, both read in
 * place (no packed copies, no idle lanes of a 14 x 32 tile on 16 or 24 channels). The
 * side with fewer rows (output or input channels) is the dot's A, in blocks of at most
 * DOT_ROWS rows; each image's positions in equal tiles of at most DOT_TILE, so that a
 * block of A (16 x 512 floats, 32 KB) stays in L1 while the B rows stream past it, and
 * the tile's B rows, read from memory once, stay in L2 for the next block. 1 thread,
 * batch 8, ms, packed GEMM -> dot (min over alternating runs): 32 -> 16 at 112x112
 * 3.80 -> 1.36, 24 -> 144 at 56x56 3.39 -> 1.60, 144 -> 24 3.93 -> 1.80, 96 -> 24
 * 2.66 -> 0.95; on 28x28 maps it lost (192 -> 32 0.61 -> 0.76, 144 -> 32 0.42 -> 0.51),
 * hence DOT_MIN_POSITIONS (measured on AVX-512). With more than DOT_MAX_ROWS rows on both
 * sides the packed GEMM's panels are full and it wins (AVX2, same conditions: 256 -> 64 at
 * 56x56 13.7 -> 11.4 ms, 64 -> 256 13.8 -> 11.4; PyTorch 11.3; there 144 -> 24 and 32 -> 16
 * at 112x112 stay faster on the dot, 3.45 against 3.70 and 2.17 against 3.06). Each
 * element is summed over the images and tiles in order, whatever the thread count
 * (threads take C's columns, per image). */
typedef struct dot_job {
    const cols_job *j;
    const float *a, *bt; /* the image's A [m, osz] and B [n, osz] rows */
    float *c;            /* [m, n] */
    int64_t m, n, tile, unit;
    float beta; /* of the image's first tile */
} dot_job;

/* C's columns [u0 unit, u1 unit): tile by tile of the image, row block by row block. */
static cnnc_status dot_range(void *ctx, int64_t u0, int64_t u1, int chunk) {
    (void)chunk;
    const dot_job *d = ctx;
    const int64_t osz = d->j->osz, lo = u0 * d->unit, hi = min64(u1 * d->unit, d->n);
    for (int64_t o0 = 0; o0 < osz; o0 += d->tile)
        for (int64_t r = 0; r < d->m; r += DOT_ROWS)
            cnnc__sgemm_small(d->j->isa, false, true, min64(DOT_ROWS, d->m - r), hi - lo,
                              min64(d->tile, osz - o0), d->a + r * osz + o0, osz,
                              d->bt + lo * osz + o0, osz, o0 == 0 ? d->beta : 1.0f,
                              d->c + r * d->n + lo, d->n);
    return CNNC_OK;
}

static void backward_weight_dot(cols_job *j, float *dw, const float *dy, const float *x) {
    const cnnc__window *g = j->g;
    const bool a_is_dy = j->mg <= j->kdim; /* dW [mg, kdim] = dY X^T, else dW^T = X dY^T */
    dot_job d = {.j = j, .m = a_is_dy ? j->mg : j->kdim, .n = a_is_dy ? j->kdim : j->mg,
                 .unit = cnnc__sgemm_small_unit(j->isa, true)};
    const int64_t tiles = (j->osz + DOT_TILE - 1) / DOT_TILE;
    d.tile = (j->osz + tiles - 1) / tiles;
    const double osz = (double)j->osz, unit = (double)d.unit;
    const cnnc__cost item = {.flops = 2.0 * (double)d.m * unit * osz,
                             .bytes = 4.0 * unit * osz, .chunk_bytes = 4.0 * (double)d.m * osz};
    for (j->grp = 0; j->grp < g->groups; j->grp++) {
        d.c = a_is_dy ? dw + j->grp * j->mg * j->kdim : j->acc;
        for (int64_t b = 0; b < g->n; b++) {
            const float *xb = x_of(j, x, b), *yb = dy + (b * g->m + j->grp * j->mg) * j->osz;
            d.a = a_is_dy ? yb : xb;
            d.bt = a_is_dy ? xb : yb;
            d.beta = b == 0 ? 0.0f : 1.0f;
            (void)cnnc__parallel_for((d.n + d.unit - 1) / d.unit, item, dot_range, &d);
        }
        if (!a_is_dy) transpose(j, dw + j->grp * j->mg * j->kdim);
    }
}

cnnc_status cnnc__conv_cols_backward_weight(cnnc__isa isa, const cnnc__window *g, float *dw,
                                            const float *dy, const float *x) {
    const bool direct = cnnc__conv_is_pointwise(g) && cnnc__window_out_size(g) >= CHUNK_MIN_K;
    if (!direct && cnnc__conv_wgrad_cl_fits(g)) return cnnc__conv_wgrad_cl(isa, g, dw, dy, x);
    cols_job j;
    if (!cols_setup(&j, isa, g, CHUNK_MIN_K, true, 0)) return cnnc_last_status();
    if (direct) {
        if (j.osz >= DOT_MIN_POSITIONS && min64(j.mg, j.kdim) <= DOT_MAX_ROWS &&
            cnnc__sgemm_small_fits(isa, false, true, 1, 1, 1))
            backward_weight_dot(&j, dw, dy, x);
        else
            backward_weight_direct(&j, dw, dy, x);
        return CNNC_OK;
    }
    FOR_CHUNKS(&j, {
        for_segments(&j, seg_im2col, (void *)x, j.cg, j.ksz);
        int64_t ld;
        const float *rows = chunk_dy(&j, dy, &ld);
        gemm(&j, false, true, j.kdim, j.mg, j.ncol, j.col, j.width, rows, ld,
             j.c0 == 0 ? 0.0f : 1.0f, j.acc, j.mg);
        if (j.c0 + j.ncol == j.total) /* the group's last chunk */
            transpose(&j, dw + j.grp * j.mg * j.kdim);
    });
    return CNNC_OK;
}
