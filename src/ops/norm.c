/* batch_norm, instance_norm, layer_norm, group_norm, local_response_norm.
 *
 * Every normalization is one of three layouts over the input seen as [N, C, S]:
 *   CHANNEL  statistics per channel c over (N, S)          batch norm (training)
 *   GROUP    statistics per (n, g) over C/G channels x S   group norm, instance norm (G = C)
 *   LAST     statistics per row over the last D elements   layer norm ([N, D], elementwise affine)
 * plus CHANNEL with fixed statistics (eval batch norm, instance norm without input
 * stats). The forward saves a [3, K] float tensor per statistic k: the mean as a
 * (hi, lo) float pair and invstd = 1 / sqrt(var + eps); the backward reads it. */
#include "ops/norm.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/args.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/norm.h"
#include "kernels/window.h"

typedef enum { L_CHANNEL, L_CHANNEL_FIXED, L_GROUP, L_LAST } layout_kind;

typedef struct {
    layout_kind kind;
    int64_t N, C, S, G; /* GROUP: rows N*G of C/G channels; LAST: N rows of S */
    int b_ndim;         /* the bias's shape, for its gradient */
    int64_t b_shape[CNNC_MAX_DIMS];
    bool has_act;       /* CHANNEL with an activation (batch_norm_act): the bits of where the
                           gradient passes it follow (ACT_BITS_OFF), N * C rows of W words */
    int64_t W;
} norm_ctx;

#define ACT_BITS_OFF ((sizeof(norm_ctx) + 7) / 8 * 8)
static uint32_t *ctx_bits(norm_ctx *c) { return (uint32_t *)(void *)((char *)c + ACT_BITS_OFF); }

/* The cost of an item covering `elems` input elements, for the parallel regions: a
 * few flops per element and about three floats moved (two passes over x, one
 * write). */
static cnnc__cost elems_cost(int64_t elems) {
    return (cnnc__cost){.flops = 4.0 * (double)elems, .bytes = 12.0 * (double)elems};
}

static const float *opt_f32(const cnnc_tensor *t) { return t ? cnnc__f32(t) : NULL; }

static void torch_size_str(char *buf, size_t cap, const cnnc_tensor *x) {
    char s[256];
    cnnc__shape_str(s, sizeof s, x->ndim, x->shape);
    snprintf(buf, cap, "torch.Size(%s)", s);
}

/* float32, not requiring grad (running statistics are buffers). */
static cnnc_status check_running(const char *fn, const char *name, const cnnc_tensor *t) {
    if (!t) return CNNC_OK;
    if (t->dtype != CNNC_FLOAT32)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "mixed dtype (CPU): expect parameter to have scalar type of Float "
                           "(%s(): %s is %s)", fn, name, cnnc_dtype_name(t->dtype));
    if (t->requires_grad && cnnc_is_grad_enabled())
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "The function 'native_batch_norm' is not differentiable with respect "
                           "to argument '%s'. This input cannot have requires_grad True.", name);
    return CNNC_OK;
}

static cnnc_status check_count(const char *name, const cnnc_tensor *t, int64_t want, int64_t mul) {
    if (t && t->numel * mul != want * mul)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s should contain %lld elements not %lld", name,
                           (long long)(want * mul), (long long)(t->numel * mul));
    return CNNC_OK;
}

/* ---- forward workers ---------------------------------------------------------- */

typedef struct {
    float *y;
    const float *x, *w, *b;
    float *st; /* [3, K]: mhi, mlo, invstd */
    double *mean, *m2; /* [K] (statistics passes) */
    int64_t N, C, S, G, K;
    double eps;
    cnnc__isa isa; /* the kernels' level for the whole call */
    const cnnc__norm_act *act; /* CHANNEL: the activation applied (NULL: none) */
    uint32_t *bits;            /* with act, when recorded: [N * C, W] where the gradient passes */
    int64_t W;
} fwd_job;

static void set_stat(fwd_job *j, int64_t k, double mean, double m2, double count) {
    double var = count > 0 ? m2 / count : NAN;
    cnnc__k_norm_split(mean, &j->st[k], &j->st[j->K + k]);
    j->st[2 * j->K + k] = (float)(1.0 / sqrt(var + j->eps));
    if (j->mean) {
        j->mean[k] = mean;
        j->m2[k] = m2;
    }
}

/* CHANNEL: per channel, statistics over N runs of S, then normalize them (still in cache) */
static cnnc_status channel_range(void *ctx, int64_t c0, int64_t c1, int chunk) {
    (void)chunk;
    fwd_job *j = ctx;
    int64_t K = j->K;
    for (int64_t c = c0; c < c1; c++) {
        const float *x = j->x + c * j->S;
        if (j->mean) {
            double mean, m2;
            cnnc__k_norm_stats(j->isa, &mean, &m2, x, j->N, j->C * j->S, j->S);
            set_stat(j, c, mean, m2, (double)(j->N * j->S));
        }
        float mhi = j->st[c], mlo = j->st[K + c], inv = j->st[2 * K + c];
        float a = j->w ? inv * j->w[c] : inv, b = j->b ? j->b[c] : 0.0f;
        for (int64_t n = 0; n < j->N; n++) {
            float *y = j->y + (n * j->C + c) * j->S;
            if (j->act)
                cnnc__k_norm_act_apply(j->isa, y, j->bits ? j->bits + (n * j->C + c) * j->W : NULL,
                                       x + n * j->C * j->S, j->S, mhi, mlo, a, b, j->act);
            else
                cnnc__k_norm_apply(j->isa, y, x + n * j->C * j->S, j->S, mhi, mlo, a, b);
        }
    }
    return CNNC_OK;
}

/* GROUP: per (n, g) row of Cg channels */
static cnnc_status group_range(void *ctx, int64_t r0, int64_t r1, int chunk) {
    (void)chunk;
    fwd_job *j = ctx;
    int64_t cg = j->C / j->G, len = cg * j->S, K = j->K;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * len;
        double mean, m2;
        cnnc__k_norm_stats(j->isa, &mean, &m2, x, 1, len, len);
        set_stat(j, r, mean, m2, (double)len);
        float mhi = j->st[r], mlo = j->st[K + r], inv = j->st[2 * K + r];
        int64_t c0 = (r % j->G) * cg;
        for (int64_t q = 0; q < cg; q++) {
            int64_t c = c0 + q;
            float a = j->w ? inv * j->w[c] : inv, b = j->b ? j->b[c] : 0.0f;
            cnnc__k_norm_apply(j->isa, j->y + r * len + q * j->S, x + q * j->S, j->S, mhi, mlo, a,
                               b);
        }
    }
    return CNNC_OK;
}

/* LAST: rows of S with elementwise affine */
static cnnc_status last_range(void *ctx, int64_t r0, int64_t r1, int chunk) {
    (void)chunk;
    fwd_job *j = ctx;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->S;
        double mean, m2;
        cnnc__k_norm_stats(j->isa, &mean, &m2, x, 1, j->S, j->S);
        set_stat(j, r, mean, m2, (double)j->S);
        cnnc__k_norm_apply_vec(j->isa, j->y + r * j->S, x, j->S, j->st[r], j->st[j->K + r],
                               j->st[2 * j->K + r], j->w, j->b);
    }
    return CNNC_OK;
}

/* ---- backward ------------------------------------------------------------------------ */

typedef struct {
    float *gx, *gw, *gb;
    const float *g, *x, *w, *st;
    double *sums; /* GROUP: [2, N, C] */
    int64_t N, C, S, G, K;
    bool fixed;
    cnnc__isa isa; /* the kernels' level for the whole call */
    const uint32_t *bits; /* CHANNEL with an activation: [N * C, W] where the gradient passes */
    int64_t W;
} bwd_job;

/* CHANNEL backward over blocks of channels whose g and x (N runs of S each) fit in L2
 * together: the sums read them image by image, each image's block one contiguous run
 * (per channel, N runs of S floats a C S stride apart are short streams the hardware
 * prefetchers barely follow on small maps), then the input gradient reads them again
 * from the caches. Each channel's sums still run over its images in order: the same
 * bits as one channel at a time. 1 thread, batch 8, the fused kernels' sums and input
 * gradient, min of 7, ms, one channel -> blocks: 576 x 14x14 1.17 -> 0.83, 960 x 7x7
 * 0.76 -> 0.47. */
enum { BWD_BLOCK_FLOATS = 32768, BWD_BLOCK_MAX = 128 };

static void channel_block_bwd(const bwd_job *j, int64_t c0, int64_t c1) {
    const int64_t K = j->K;
    const double cnt = (double)(j->N * j->S);
    const bool sums = j->gw || j->gb || (j->gx && !j->fixed);
    double sg[BWD_BLOCK_MAX] = {0}, sgd[BWD_BLOCK_MAX] = {0};
    float A[BWD_BLOCK_MAX], B[BWD_BLOCK_MAX], C[BWD_BLOCK_MAX];
    for (int64_t n = 0; n < j->N && sums; n++)
        for (int64_t c = c0; c < c1; c++) {
            const int64_t o = (n * j->C + c) * j->S;
            if (j->bits)
                cnnc__k_norm_masked_grad_sums(j->isa, &sg[c - c0], &sgd[c - c0], j->g + o,
                                              j->bits + (n * j->C + c) * j->W, j->x + o, j->S,
                                              j->st[c], j->st[K + c]);
            else
                cnnc__k_norm_grad_sums(j->isa, &sg[c - c0], &sgd[c - c0], j->g + o, j->x + o,
                                       j->S, j->st[c], j->st[K + c], NULL);
        }
    for (int64_t c = c0; c < c1; c++) {
        const double inv = j->st[2 * K + c], wc = j->w ? (double)j->w[c] : 1.0;
        if (j->gw) j->gw[c] = (float)(sgd[c - c0] * inv);
        if (j->gb) j->gb[c] = (float)sg[c - c0];
        double a = wc * inv, b = 0.0, cc = 0.0;
        if (!j->fixed && cnt > 0) {
            b = -a * inv * inv * sgd[c - c0] / cnt;
            cc = -a * sg[c - c0] / cnt;
        }
        A[c - c0] = (float)a, B[c - c0] = (float)b, C[c - c0] = (float)cc;
    }
    if (!j->gx) return;
    /* the rows the sums read last first: those are still in the caches when the
     * block's g, x (and y) exceed them (an LRU cache read cyclically misses always) */
    for (int64_t n = j->N - 1; n >= 0; n--)
        for (int64_t c = c1 - 1; c >= c0; c--) {
            const int64_t o = (n * j->C + c) * j->S, i = c - c0;
            const float mhi = j->st[c], mlo = j->st[K + c];
            if (j->fixed) /* gx = g w / sqrt(var + eps), independent of x (NaN/Inf x too), as PyTorch */
                cnnc__k_norm_apply(j->isa, j->gx + o, j->g + o, j->S, 0.0f, 0.0f, A[i], 0.0f);
            else if (j->bits)
                cnnc__k_norm_masked_grad_apply(j->isa, j->gx + o, j->g + o,
                                               j->bits + (n * j->C + c) * j->W, j->x + o, j->S,
                                               mhi, mlo, A[i], B[i], C[i]);
            else
                cnnc__k_norm_grad_apply(j->isa, j->gx + o, j->g + o, j->x + o, j->S, mhi, mlo,
                                        NULL, A[i], B[i], C[i]);
        }
}

static cnnc_status channel_bwd_range(void *ctx, int64_t c0, int64_t c1, int chunk) {
    (void)chunk;
    const bwd_job *j = ctx;
    const int64_t per = j->N * j->S; /* floats of g (and of x) per channel */
    int64_t blk = per > 0 ? BWD_BLOCK_FLOATS / per : BWD_BLOCK_MAX;
    blk = blk < 1 ? 1 : blk > BWD_BLOCK_MAX ? BWD_BLOCK_MAX : blk;
    for (int64_t c = c0; c < c1; c += blk) channel_block_bwd(j, c, c1 - c < blk ? c1 : c + blk);
    return CNNC_OK;
}

/* A norm over one value normalizes it to exactly 0, whatever x: its input gradient is
 * exactly 0 (A g + B d + C leaves rounding dust of ~1e-5 there, as PyTorch's fp32 does),
 * and stays NaN where the statistics or g are not finite (x - x is NaN for Inf/NaN). */
static void one_value_grad(float *gx, int64_t n) {
    for (int64_t i = 0; i < n; i++) gx[i] -= gx[i];
}

static cnnc_status group_bwd_range(void *ctx, int64_t r0, int64_t r1, int chunk) {
    (void)chunk;
    bwd_job *j = ctx;
    int64_t cg = j->C / j->G, len = cg * j->S, K = j->K, NC = j->N * j->C;
    for (int64_t r = r0; r < r1; r++) {
        float mhi = j->st[r], mlo = j->st[K + r];
        double inv = j->st[2 * K + r], m1 = 0.0, m2 = 0.0;
        int64_t n = r / j->G, c0 = (r % j->G) * cg;
        for (int64_t q = 0; q < cg; q++) {
            int64_t c = c0 + q, o = r * len + q * j->S;
            double sg = 0.0, sgd = 0.0;
            cnnc__k_norm_grad_sums(j->isa, &sg, &sgd, j->g + o, j->x + o, j->S, mhi, mlo, NULL);
            j->sums[n * j->C + c] = sg;
            j->sums[NC + n * j->C + c] = sgd;
            double wc = j->w ? (double)j->w[c] : 1.0;
            m1 += wc * sg;
            m2 += wc * sgd;
        }
        if (!j->gx) continue;
        double B = -inv * inv * inv * m2 / (double)len, C = -inv * m1 / (double)len;
        for (int64_t q = 0; q < cg; q++) {
            int64_t c = c0 + q, o = r * len + q * j->S;
            double A = inv * (j->w ? (double)j->w[c] : 1.0);
            cnnc__k_norm_grad_apply(j->isa, j->gx + o, j->g + o, j->x + o, j->S, mhi, mlo, NULL,
                                    (float)A, (float)B, (float)C);
        }
        if (len == 1) one_value_grad(j->gx + r * len, len);
    }
    return CNNC_OK;
}

static cnnc_status last_bwd_range(void *ctx, int64_t r0, int64_t r1, int chunk) {
    (void)chunk;
    bwd_job *j = ctx;
    int64_t D = j->S, K = j->K;
    for (int64_t r = r0; r < r1; r++) {
        float mhi = j->st[r], mlo = j->st[K + r];
        double inv = j->st[2 * K + r], m1 = 0.0, m2 = 0.0;
        cnnc__k_norm_grad_sums(j->isa, &m1, &m2, j->g + r * D, j->x + r * D, D, mhi, mlo, j->w);
        double B = -inv * inv * inv * m2 / (double)D, C = -inv * m1 / (double)D;
        cnnc__k_norm_grad_apply(j->isa, j->gx + r * D, j->g + r * D, j->x + r * D, D, mhi, mlo,
                                j->w, (float)inv, (float)B, (float)C);
        if (D == 1) one_value_grad(j->gx + r * D, D);
    }
    return CNNC_OK;
}

enum { COL_BLOCK = 256 };

/* LAST: weight and bias gradients are column sums over the rows */
static cnnc_status last_bwd_cols(void *ctx, int64_t b0, int64_t b1, int chunk) {
    (void)chunk;
    bwd_job *j = ctx;
    int64_t D = j->S, K = j->K;
    for (int64_t blk = b0; blk < b1; blk++) {
        int64_t j0 = blk * COL_BLOCK, w = D - j0 < COL_BLOCK ? D - j0 : COL_BLOCK;
        double aw[COL_BLOCK], ab[COL_BLOCK];
        for (int64_t q = 0; q < w; q++) aw[q] = ab[q] = 0.0;
        for (int64_t r = 0; r < j->N; r++) {
            const float *g = j->g + r * D + j0, *x = j->x + r * D + j0;
            cnnc__k_norm_col_sums(j->isa, aw, ab, g, x, w, j->st[r], j->st[K + r],
                                  j->st[2 * K + r]);
        }
        for (int64_t q = 0; q < w; q++) {
            if (j->gw) j->gw[j0 + q] = (float)aw[q];
            if (j->gb) j->gb[j0 + q] = (float)ab[q];
        }
    }
    return CNNC_OK;
}

static cnnc_status norm_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    norm_ctx *cx = n->ctx;
    cnnc_tensor *x = n->saved[0], *w = n->saved[1], *st = n->saved[2];
    bool need_x = cnnc__node_needs_grad(n, 0), need_w = cnnc__node_needs_grad(n, 1),
         need_b = cnnc__node_needs_grad(n, 2);
    /* every layout below writes every element of gx: no zero fill */
    if (need_x && !(gi[0] = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape))) return cnnc_last_status();
    if (need_w && !(gi[1] = cnnc__tensor_zeros(CNNC_FLOAT32, w->ndim, w->shape))) return cnnc_last_status();
    if (need_b && !(gi[2] = cnnc__tensor_zeros(CNNC_FLOAT32, cx->b_ndim, cx->b_shape)))
        return cnnc_last_status();
    if (x->numel == 0) {
        /* group norm over empty groups: PyTorch's weight gradient is sum() * NaN invstd */
        if (cx->kind == L_GROUP && cx->N > 0 && cx->S == 0 && need_w)
            for (int64_t c = 0; c < gi[1]->numel; c++) cnnc__f32(gi[1])[c] = NAN;
        return CNNC_OK;
    }
    bwd_job j = {need_x ? cnnc__f32(gi[0]) : NULL, need_w ? cnnc__f32(gi[1]) : NULL,
                 need_b ? cnnc__f32(gi[2]) : NULL, cnnc__f32(g), cnnc__f32(x), opt_f32(w),
                 cnnc__f32(st), NULL, cx->N, cx->C, cx->S, cx->G, st->shape[1],
                 cx->kind == L_CHANNEL_FIXED, cnnc__isa_active(),
                 cx->has_act ? ctx_bits(cx) : NULL, cx->W};
    switch (cx->kind) {
    case L_CHANNEL:
    case L_CHANNEL_FIXED:
        return cnnc__parallel_for(cx->C, elems_cost(cx->N * cx->S), channel_bwd_range, &j);
    case L_GROUP: {
        size_t bytes;
        if (!cnnc__mul_size((size_t)(2 * cx->N), (size_t)cx->C * sizeof(double), &bytes))
            return cnnc__oom("group norm backward sums");
        j.sums = cnnc__workspace(bytes);
        if (!j.sums) return cnnc_last_status();
        cnnc_status st = cnnc__parallel_for(cx->N * cx->G, elems_cost(x->numel / (cx->N * cx->G)),
                                            group_bwd_range, &j);
        if (st != CNNC_OK) return st;
        int64_t NC = cx->N * cx->C, cg = cx->C / cx->G;
        for (int64_t c = 0; c < cx->C && (j.gw || j.gb); c++) {
            double aw = 0.0, ab = 0.0;
            for (int64_t b = 0; b < cx->N; b++) {
                ab += j.sums[b * cx->C + c];
                aw += j.sums[NC + b * cx->C + c] * (double)j.st[2 * j.K + b * cx->G + c / cg];
            }
            if (j.gw) j.gw[c] = (float)aw;
            if (j.gb) j.gb[c] = (float)ab;
        }
        break;
    }
    case L_LAST: {
        cnnc_status st = j.gx ? cnnc__parallel_for(cx->N, elems_cost(cx->S), last_bwd_range, &j)
                              : CNNC_OK;
        if (st == CNNC_OK && (j.gw || j.gb))
            st = cnnc__parallel_for((cx->S + COL_BLOCK - 1) / COL_BLOCK, elems_cost(cx->N * COL_BLOCK),
                                    last_bwd_cols, &j);
        return st;
    }
    }
    return CNNC_OK;
}

/* ---- the shared forward driver ---------------------------------------------------------- */

typedef struct {
    layout_kind kind;
    int64_t N, C, S, G;
    const char *node;
    /* CHANNEL_FIXED: the statistics to use */
    const cnnc_tensor *fixed_mean, *fixed_var;
    double eps;
    /* filled when the caller wants the statistics (running-stat updates): [K] */
    double *mean, *m2;
    const cnnc__norm_act *act; /* CHANNEL: the activation applied to the result (NULL: none) */
} norm_plan;

static int64_t stat_count(const norm_plan *p) {
    switch (p->kind) {
    case L_GROUP: return p->N * p->G;
    case L_LAST: return p->N;
    default: return p->C;
    }
}

/* out = normalized x; records the node. mean/m2 (workspace, K doubles each) are
 * filled when the plan asks for them. */
static cnnc_tensor *norm_forward(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, norm_plan *p) {
    int64_t K = stat_count(p);
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
    cnnc_tensor *st = cnnc__tensor_zeros(CNNC_FLOAT32, 2, (int64_t[]){3, K});
    if (!out || !st) goto fail;
    /* recorded first: with an activation, the kernels write the bits into the node */
    const int64_t W = p->act ? (p->S + 31) / 32 : 0, words = p->N * p->C * W;
    size_t ctx_bytes = sizeof(norm_ctx);
    if (p->act && (!cnnc__mul_size((size_t)words, sizeof(uint32_t), &ctx_bytes) ||
                   ctx_bytes > SIZE_MAX - ACT_BITS_OFF)) {
        cnnc__oom("the gradient mask of batch_norm_act");
        goto fail;
    }
    if (p->act) ctx_bytes += ACT_BITS_OFF;
    void *vctx = NULL;
    cnnc_tensor *inputs[3] = {x, w, b};
    cnnc_tensor *saved[3] = {x, w, st};
    if (cnnc__record(out, p->node, norm_backward, 3, inputs, 3, saved, ctx_bytes, &vctx) != CNNC_OK) goto fail;
    if (vctx) {
        norm_ctx *cx = vctx;
        cx->kind = p->kind;
        cx->N = p->N;
        cx->C = p->C;
        cx->S = p->S;
        cx->G = p->G;
        cx->has_act = p->act != NULL;
        cx->W = W;
        if (b) {
            cx->b_ndim = b->ndim;
            memcpy(cx->b_shape, b->shape, sizeof cx->b_shape);
        }
    }
    fwd_job j = {cnnc__f32(out), cnnc__f32(x), opt_f32(w), opt_f32(b), cnnc__f32(st), p->mean,
                 p->m2, p->N, p->C, p->S, p->G, K, p->eps, cnnc__isa_active(), p->act,
                 p->act && vctx ? ctx_bits(vctx) : NULL, W};
    cnnc_status status = CNNC_OK;
    if (x->numel > 0) {
        switch (p->kind) {
        case L_CHANNEL:
            status = cnnc__parallel_for(p->C, elems_cost(p->N * p->S), channel_range, &j);
            break;
        case L_CHANNEL_FIXED: {
            const float *rm = cnnc__f32(p->fixed_mean), *rv = cnnc__f32(p->fixed_var);
            for (int64_t c = 0; c < K; c++) {
                j.st[c] = rm[c];
                j.st[K + c] = 0.0f;
                j.st[2 * K + c] = (float)(1.0 / sqrt((double)rv[c] + p->eps));
            }
            j.mean = NULL;
            status = cnnc__parallel_for(p->C, elems_cost(p->N * p->S), channel_range, &j);
            break;
        }
        case L_GROUP:
            status = cnnc__parallel_for(K, elems_cost(x->numel / K), group_range, &j);
            break;
        case L_LAST:
            status = cnnc__parallel_for(K, elems_cost(p->S), last_range, &j);
            break;
        }
    }
    if (status != CNNC_OK) goto fail;
    cnnc_tensor_release(st);
    return out;
fail:
    cnnc_tensor_release(out);
    cnnc_tensor_release(st);
    return NULL;
}

static cnnc_status check_affine(const char *fn, cnnc_tensor *w, cnnc_tensor *b) {
    if (w && cnnc__check_tensor(fn, "weight", w, true) != CNNC_OK) return cnnc_last_status();
    if (b && cnnc__check_tensor(fn, "bias", b, true) != CNNC_OK) return cnnc_last_status();
    return CNNC_OK;
}

/* x viewed as [N, C, S] */
static void ncs(const cnnc_tensor *x, int64_t *N, int64_t *C, int64_t *S) {
    *N = x->ndim > 0 ? x->shape[0] : 1;
    *C = x->ndim > 1 ? x->shape[1] : 1;
    *S = cnnc__wrap_prod(x->shape, 2, x->ndim); /* wraps only for an empty x */
}

static void update_running(cnnc_tensor *rm, cnnc_tensor *rv, const double *mean, const double *m2,
                           int64_t K, int64_t per, double count, double momentum) {
    for (int64_t c = 0; c < K; c++) {
        double am = 0.0, av = 0.0; /* average over the `per` statistics of channel c */
        for (int64_t q = 0; q < per; q++) {
            am += mean[q * K + c];
            av += m2[q * K + c] / (count - 1.0);
        }
        am /= (double)per;
        av /= (double)per;
        if (rm) cnnc__f32(rm)[c] = (float)((1.0 - momentum) * (double)cnnc__f32(rm)[c] + momentum * am);
        if (rv) cnnc__f32(rv)[c] = (float)((1.0 - momentum) * (double)cnnc__f32(rv)[c] + momentum * av);
    }
    if (rm) cnnc__bump_version(rm);
    if (rv) cnnc__bump_version(rv);
}

/* ---- batch_norm --------------------------------------------------------------------------- */

/* batch_norm, followed by act when it is not NULL (training only). */
static cnnc_tensor *batch_norm(cnnc_tensor *x, cnnc_tensor *rm, cnnc_tensor *rv, cnnc_tensor *w, cnnc_tensor *b,
                               bool training, double momentum, double eps, const cnnc__norm_act *act,
                               const char *node) {
    const char *fn = "batch_norm";
    if (cnnc__check_tensor(fn, "input", x, true) != CNNC_OK || check_affine(fn, w, b) != CNNC_OK ||
        check_running(fn, "running_mean", rm) != CNNC_OK ||
        check_running(fn, "running_var", rv) != CNNC_OK)
        return NULL;
    if (training) { /* F.batch_norm's _verify_batch_size */
        if (x->ndim == 0) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "tuple index out of range");
        int64_t prod = x->shape[0];
        bool fits = true; /* PyTorch's Python product does not wrap: an overflow is not 1 */
        for (int d = 2; d < x->ndim; d++) fits = fits && cnnc__mul_i64(prod, x->shape[d], &prod);
        if (fits && prod == 1) {
            char s[300];
            torch_size_str(s, sizeof s, x);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Expected more than 1 value per channel when training, got input "
                                    "size %s", s);
        }
    }
    int64_t C = x->ndim > 1 ? x->shape[1] : 0;
    if (!rm && !training)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "running_mean must be defined in evaluation mode");
    if (!rv && !training)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "running_var must be defined in evaluation mode");
    if (check_count("running_mean", rm, C, 1) != CNNC_OK || check_count("running_var", rv, C, 1) != CNNC_OK ||
        check_count("weight", w, C, 1) != CNNC_OK || check_count("bias", b, C, 1) != CNNC_OK)
        return NULL;
    if (x->ndim < 2)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
    if (C == 0 && x->shape[0] > 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "select(): index 0 out of range for tensor of size [0] at dimension 0");
    int64_t N, S;
    ncs(x, &N, &C, &S);
    norm_plan p = {training ? L_CHANNEL : L_CHANNEL_FIXED, N, C, S, 1, node, rm, rv, eps, NULL, NULL, act};
    bool update = training && (rm || rv) && x->numel > 0;
    if (training) { /* the statistics land in the workspace (also read by the update) */
        size_t bytes;
        if (!cnnc__mul_size((size_t)C, 2 * sizeof(double), &bytes))
            return cnnc__error_null(CNNC_ERR_OUT_OF_MEMORY, "batch_norm: too many channels");
        double *ws = cnnc__workspace(bytes ? bytes : 1);
        if (!ws) return NULL;
        p.mean = ws;
        p.m2 = ws + C;
    }
    cnnc_tensor *out = norm_forward(x, w, b, &p);
    if (out && update) update_running(rm, rv, p.mean, p.m2, C, 1, (double)(N * S), momentum);
    return out;
}

cnnc_tensor *cnnc__op_batch_norm(cnnc_tensor *x, cnnc_tensor *rm, cnnc_tensor *rv, cnnc_tensor *w,
                                 cnnc_tensor *b, bool training, double momentum, double eps) {
    return batch_norm(x, rm, rv, w, b, training, momentum, eps, NULL, "NativeBatchNormBackward0");
}

cnnc_tensor *cnnc__op_batch_norm_act(cnnc_tensor *x, cnnc_tensor *rm, cnnc_tensor *rv, cnnc_tensor *w,
                                     cnnc_tensor *b, double momentum, double eps, const cnnc__norm_act *act) {
    if (!act) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "batch_norm_act: act is NULL");
    if (act->clamp && !(act->lo < act->hi))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "batch_norm_act: expected ReLU or Hardtanh(min_val < max_val), got "
                                "Hardtanh(min_val=%g, max_val=%g)", act->lo, act->hi);
    return batch_norm(x, rm, rv, w, b, true, momentum, eps, act,
                      act->clamp ? "HardtanhBackward0" : "ReluBackward0");
}

/* ---- instance_norm ------------------------------------------------------------------------- */

cnnc_tensor *cnnc__op_instance_norm(cnnc_tensor *x, cnnc_tensor *rm, cnnc_tensor *rv,
                                    cnnc_tensor *w, cnnc_tensor *b, bool use_input_stats,
                                    double momentum, double eps) {
    const char *fn = "instance_norm";
    if (cnnc__check_tensor(fn, "input", x, true) != CNNC_OK || check_affine(fn, w, b) != CNNC_OK ||
        check_running(fn, "running_mean", rm) != CNNC_OK ||
        check_running(fn, "running_var", rv) != CNNC_OK)
        return NULL;
    if (use_input_stats) { /* F.instance_norm's _verify_spatial_size */
        int64_t prod = 1;
        bool fits = true; /* PyTorch's Python product does not wrap: an overflow is not 1 */
        for (int d = 2; d < x->ndim; d++) fits = fits && cnnc__mul_i64(prod, x->shape[d], &prod);
        if (fits && prod == 1) {
            char s[300];
            torch_size_str(s, sizeof s, x);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Expected more than 1 spatial element when training, got input "
                                    "size %s", s);
        }
    }
    if (!use_input_stats && (!rm || !rv))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Expected running_mean and running_var to be defined when "
                                "use_input_stats is false");
    if (x->ndim < 2)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
    int64_t N, C, S;
    ncs(x, &N, &C, &S);
    /* PyTorch repeats the per-channel tensors N times and runs batch norm on [1, N*C, S]:
     * its size checks compare N * C with N * numel */
    if (check_count("running_mean", rm, C, N) != CNNC_OK || check_count("running_var", rv, C, N) != CNNC_OK ||
        check_count("weight", w, C, N) != CNNC_OK || check_count("bias", b, C, N) != CNNC_OK)
        return NULL;
    if (N == 0 && (w || b)) /* PyTorch repeats them zero times, then indexes them */
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "select(): index 0 out of range for tensor of size [0] at dimension 0");
    cnnc_tensor *out;
    if (use_input_stats) {
        norm_plan p = {L_GROUP, N, C, S, C, "NativeBatchNormBackward0", NULL, NULL, eps, NULL, NULL, NULL};
        bool update = (rm || rv) && x->numel > 0;
        if (update) {
            size_t bytes;
            if (!cnnc__mul_size((size_t)(N * C), 2 * sizeof(double), &bytes))
                return cnnc__error_null(CNNC_ERR_OUT_OF_MEMORY, "instance_norm: input too large");
            double *ws = cnnc__workspace(bytes);
            if (!ws) return NULL;
            p.mean = ws;
            p.m2 = ws + N * C;
        }
        out = norm_forward(x, w, b, &p);
        if (out && update) update_running(rm, rv, p.mean, p.m2, C, N, (double)S, momentum);
    } else {
        norm_plan p = {L_CHANNEL_FIXED, N, C, S, 1, "NativeBatchNormBackward0", rm, rv, eps, NULL, NULL, NULL};
        out = norm_forward(x, w, b, &p);
    }
    if (out && N == 0) { /* the mean over an empty batch of the repeated statistics */
        for (int i = 0; i < 2; i++) {
            cnnc_tensor *r = i ? rv : rm;
            if (!r) continue;
            for (int64_t c = 0; c < r->numel; c++) cnnc__f32(r)[c] = NAN;
            cnnc__bump_version(r);
        }
    }
    return out;
}

/* ---- layer_norm ---------------------------------------------------------------------------- */

cnnc_tensor *cnnc__op_layer_norm(cnnc_tensor *x, int nd, const int64_t *ns, cnnc_tensor *w,
                                 cnnc_tensor *b, double eps) {
    const char *fn = "layer_norm";
    if (cnnc__check_tensor(fn, "input", x, true) != CNNC_OK || check_affine(fn, w, b) != CNNC_OK)
        return NULL;
    if (nd < 0 || nd > CNNC_MAX_DIMS || (nd > 0 && !ns))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "layer_norm(): invalid normalized_shape");
    char nstr[300];
    cnnc__shape_str(nstr, sizeof nstr, nd, ns);
    if (nd == 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Expected normalized_shape to be at least 1-dimensional, i.e., "
                                "containing at least one element, but got normalized_shape = %s", nstr);
    for (int i = 0; i < 2; i++) {
        cnnc_tensor *t = i ? b : w;
        if (t && (t->ndim != nd || memcmp(t->shape, ns, (size_t)nd * sizeof(int64_t)) != 0)) {
            char ts[300];
            cnnc__shape_str(ts, sizeof ts, t->ndim, t->shape);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Expected %s to be of same shape as normalized_shape, but got %s "
                                    "of shape %s and normalized_shape = %s",
                                    i ? "bias" : "weight", i ? "bias" : "weight", ts, nstr);
        }
    }
    bool ok = x->ndim >= nd;
    for (int i = 0; ok && i < nd; i++) ok = x->shape[x->ndim - nd + i] == ns[i];
    if (!ok) {
        char xs[300], star[320];
        cnnc__shape_str(xs, sizeof xs, x->ndim, x->shape);
        snprintf(star, sizeof star, "[*, %s", nstr + 1);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Given normalized_shape=%s, expected input with shape %s, but got "
                                "input of size%s", nstr, star, xs);
    }
    /* wrapped products: an empty input's may overflow (its loops do not run) */
    int64_t D = cnnc__wrap_prod(ns, 0, nd), M = cnnc__wrap_prod(x->shape, 0, x->ndim - nd);
    norm_plan p = {L_LAST, M, 1, D, 1, "NativeLayerNormBackward0", NULL, NULL, eps, NULL, NULL, NULL};
    return norm_forward(x, w, b, &p);
}

/* ---- group_norm ---------------------------------------------------------------------------- */

cnnc_tensor *cnnc__op_group_norm(cnnc_tensor *x, int64_t G, cnnc_tensor *w, cnnc_tensor *b,
                                 double eps) {
    const char *fn = "group_norm";
    if (cnnc__check_tensor(fn, "input", x, true) != CNNC_OK || check_affine(fn, w, b) != CNNC_OK)
        return NULL;
    if (x->ndim < 2)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
    if (G == 0) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "integer division or modulo by zero");
    int64_t N, C, S;
    ncs(x, &N, &C, &S);
    { /* F.group_norm's _verify_batch_size on [N*C//G, G, *spatial] */
        /* Python's products do not wrap: one that overflows is not 1 */
        int64_t nc, first = 0, prod = 0;
        bool fits = cnnc__mul_i64(N, C, &nc) &&
                    (first = cnnc__div_floor(nc, G), cnnc__mul_i64(first, S, &prod));
        if (fits && prod == 1) {
            char s[300];
            int64_t sz[CNNC_MAX_DIMS];
            sz[0] = first;
            sz[1] = G;
            for (int d = 2; d < x->ndim; d++) sz[d] = x->shape[d];
            cnnc__shape_str(s, sizeof s, x->ndim, sz);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Expected more than 1 value per channel when training, got input "
                                    "size %s", s);
        }
    }
    char xs[300];
    cnnc__shape_str(xs, sizeof xs, x->ndim, x->shape);
    if (G < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Expected num groups to be greater than 0, got %lld",
                                (long long)G);
    if (C % G != 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Expected number of channels in input to be divisible by num_groups, "
                                "but got input of shape %s and num_groups=%lld", xs, (long long)G);
    int64_t n_stats; /* the [N, G] statistics */
    if (!cnnc__mul_i64(N, G, &n_stats) || (uint64_t)n_stats > (uint64_t)INT64_MAX / 16)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Storage size calculation overflowed with sizes=[%lld, %lld]",
                                (long long)N, (long long)G);
    for (int i = 0; i < 2; i++) {
        cnnc_tensor *t = i ? b : w;
        if (t && (t->ndim != 1 || t->numel != C)) {
            /* PyTorch 1.13 prints the weight's shape ([0] when None) in the bias message */
            char ts[300] = "[0]";
            const cnnc_tensor *shown = i ? w : t;
            if (shown) cnnc__shape_str(ts, sizeof ts, shown->ndim, shown->shape);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Expected %s to be a vector of size equal to the number of channels "
                                    "in input, but got %s of shape %s and input of shape %s",
                                    i ? "bias" : "weight", i ? "bias" : "weight", ts, xs);
        }
    }
    norm_plan p = {L_GROUP, N, C, S, G, "NativeGroupNormBackward0", NULL, NULL, eps, NULL, NULL, NULL};
    return norm_forward(x, w, b, &p);
}

/* ---- local_response_norm ---------------------------------------------------------------------- */

typedef struct {
    float *out, *t;
    const float *x, *g;
    cnnc__lrn_params p;
    int64_t N, sblocks;
    int phase;
} lrn_job;

enum { LRN_SPAN = 1024 };

static cnnc_status lrn_range(void *ctx, int64_t i0, int64_t i1, int chunk) {
    (void)chunk;
    lrn_job *j = ctx;
    int64_t img = j->p.C * j->p.S;
    for (int64_t i = i0; i < i1; i++) {
        int64_t n = i / j->sblocks, s0 = (i % j->sblocks) * LRN_SPAN;
        int64_t s1 = s0 + LRN_SPAN < j->p.S ? s0 + LRN_SPAN : j->p.S;
        const float *x = j->x + n * img;
        if (j->phase == 0)
            cnnc__k_lrn_forward(j->out + n * img, x, &j->p, s0, s1);
        else if (j->phase == 1)
            cnnc__k_lrn_backward_t(j->t + n * img, j->g + n * img, x, &j->p, s0, s1);
        else
            cnnc__k_lrn_backward_gx(j->out + n * img, j->g + n * img, x, j->t + n * img, &j->p, s0, s1);
    }
    return CNNC_OK;
}

typedef struct {
    int64_t size;
    double alpha, beta, k;
} lrn_ctx;

static void lrn_setup(lrn_job *j, const cnnc_tensor *x, const lrn_ctx *c) {
    int64_t N, C, S;
    ncs(x, &N, &C, &S);
    j->p = (cnnc__lrn_params){C, S, c->size, c->alpha, c->beta, c->k};
    j->N = N;
    j->sblocks = (S + LRN_SPAN - 1) / LRN_SPAN;
}

static cnnc_status lrn_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    cnnc_tensor *x = n->saved[0];
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
    if (!gi[0]) return cnnc_last_status();
    if (x->numel == 0) return CNNC_OK;
    lrn_job j = {cnnc__f32(gi[0]), NULL, cnnc__f32(x), cnnc__f32(g), {0}, 0, 0, 1};
    lrn_setup(&j, x, n->ctx);
    size_t bytes;
    if (!cnnc__mul_size((size_t)x->numel, sizeof(float), &bytes)) return cnnc__oom("lrn backward");
    j.t = cnnc__workspace(bytes);
    if (!j.t) return cnnc_last_status();
    const cnnc__par plan = cnnc__par_plan(j.N * j.sblocks, elems_cost(j.p.C * LRN_SPAN),
                                          cnnc__parallel_threads());
    cnnc_status st = cnnc__par_run(plan, lrn_range, &j);
    j.phase = 2;
    return st == CNNC_OK ? cnnc__par_run(plan, lrn_range, &j) : st;
}

cnnc_tensor *cnnc__op_local_response_norm(cnnc_tensor *x, int64_t size, double alpha, double beta,
                                          double k) {
    if (cnnc__check_tensor("local_response_norm", "input", x, true) != CNNC_OK) return NULL;
    if (x->ndim < 3)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Expected 3D or higher dimensionality                          input "
                                "(got %d dimensions)", x->ndim);
    if (x->numel == 0) return cnnc_tensor_retain(x);
    if (size <= 0) {
        if (x->ndim == 3)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "kernel size should be greater than zero, but got kH: %lld kW: 1",
                                    (long long)size);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "kernel size should be greater than zero, but got kT: %lld kH: 1 kW: 1",
                                (long long)size);
    }
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
    if (!out) return NULL;
    lrn_ctx c = {size, alpha, beta, k};
    lrn_job j = {cnnc__f32(out), NULL, cnnc__f32(x), NULL, {0}, 0, 0, 0};
    lrn_setup(&j, x, &c);
    void *vctx = NULL;
    if (cnnc__parallel_for(j.N * j.sblocks, elems_cost(j.p.C * LRN_SPAN), lrn_range, &j) != CNNC_OK ||
        cnnc__record(out, "DivBackward0", lrn_backward, 1, &x, 1, &x, sizeof(lrn_ctx), &vctx) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (vctx) *(lrn_ctx *)vctx = c;
    return out;
}

/* ---- public wrappers ------------------------------------------------------------------------- */

cnnc_tensor *cnnc_batch_norm(cnnc_tensor *input, cnnc_tensor *running_mean, cnnc_tensor *running_var,
                             cnnc_tensor *weight, cnnc_tensor *bias, cnnc_batch_norm_options o) {
    return cnnc__give(cnnc__op_batch_norm(input, running_mean, running_var, weight, bias, o.training,
                                          o.momentum, o.eps));
}

cnnc_tensor *cnnc_instance_norm(cnnc_tensor *input, cnnc_tensor *running_mean,
                                cnnc_tensor *running_var, cnnc_tensor *weight, cnnc_tensor *bias,
                                cnnc_instance_norm_options o) {
    return cnnc__give(cnnc__op_instance_norm(input, running_mean, running_var, weight, bias,
                                             o.use_input_stats, o.momentum, o.eps));
}

cnnc_tensor *cnnc_layer_norm(cnnc_tensor *input, cnnc_ints normalized_shape, cnnc_tensor *weight,
                             cnnc_tensor *bias, cnnc_layer_norm_options o) {
    if (cnnc__check_ints("layer_norm", "normalized_shape", &normalized_shape) ||
        cnnc__check_given("layer_norm", "normalized_shape", &normalized_shape))
        return NULL; /* the int k is (k,) */
    return cnnc__give(cnnc__op_layer_norm(input, normalized_shape.n, normalized_shape.v, weight, bias, o.eps));
}

cnnc_tensor *cnnc_group_norm(cnnc_tensor *input, int64_t num_groups, cnnc_tensor *weight,
                             cnnc_tensor *bias, cnnc_group_norm_options o) {
    return cnnc__give(cnnc__op_group_norm(input, num_groups, weight, bias, o.eps));
}

cnnc_tensor *cnnc_local_response_norm(cnnc_tensor *input, int64_t size,
                                      cnnc_local_response_norm_options o) {
    return cnnc__give(cnnc__op_local_response_norm(input, size, o.alpha, o.beta, o.k));
}
