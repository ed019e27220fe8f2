/* nll_loss and cross_entropy. cross_entropy is log_softmax over the class dim
 * followed by one of two ops on the log-probabilities, as PyTorch 1.13 composes it:
 *   - class indices: the negative log-likelihood, with label smoothing folded in
 *     (also F.nll_loss itself); cross_entropy runs both steps in the loss kernels
 *     (kernels/loss.h) without materializing the log-probabilities, and its
 *     backward is log_softmax's of nll_loss's gradient, in one pass;
 *   - class probabilities: -sum_c w[c] q[c] log p[c] on log_softmax's result (the
 *     activation family's kernel).
 * Both view the input as [n, c, inner] (inner: the product of the K spatial dims)
 * and work on blocks of positions (of a size that depends on the shape only), so
 * reductions sum fixed per-block partials in order and never depend on the thread
 * count. */
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "kernels/loss.h"
#include "ops/activation.h"
#include "ops/loss.h"

enum { NLL_BLOCK = 256 };

/* The input as [n, c, inner], the "none" result's shape, and PyTorch's names. */
typedef struct nll_geom {
    int64_t n, c, inner;
    int out_ndim;
    int64_t out_shape[CNNC_MAX_DIMS];
    const char *fwd;  /* "nll_loss_forward" / "nll_loss2d_forward" (messages) */
    const char *node; /* the grad_fn of the plain (unsmoothed) loss */
} nll_geom;

static void geom_set(nll_geom *g, const cnnc_tensor *x) {
    int cd = x->ndim == 1 ? 0 : 1; /* the class dim */
    g->n = cd ? x->shape[0] : 1;
    g->c = x->shape[cd];
    g->inner = 1;
    for (int d = cd + 1; d < x->ndim; d++) g->inner *= x->shape[d];
    g->out_ndim = 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != cd) g->out_shape[g->out_ndim++] = x->shape[d];
}

/* ---- argument checks: nll_loss_nd and its 1-d/2-d and 2d forms ------------------------ */

static cnnc_status size_mismatch(int nx, const int64_t *xs, int nt, const int64_t *ts,
                                 bool spatial) {
    char sx[300], st[300];
    cnnc__shape_str(sx, sizeof sx, nx, xs);
    cnnc__shape_str(st, sizeof st, nt, ts);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       spatial ? "size mismatch (got input: %s , target: %s"
                               : "size mismatch (got input: %s, target: %s)",
                       sx, st);
}

/* w: NULL or [classes] ("cross_entropy: " prefixes the message for probabilities) */
static cnnc_status check_class_weight(const char *prefix, const cnnc_tensor *w, int64_t classes) {
    if (!w || (w->ndim == 1 && w->numel == classes)) return CNNC_OK;
    char sw[300];
    cnnc__shape_str(sw, sizeof sw, w->ndim, w->shape);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "%sweight tensor should be defined either for all %lld classes or no "
                       "classes but got weight tensor of shape: %s",
                       prefix, (long long)classes, sw);
}

/* nll_loss (input 1-d or 2-d) */
static cnnc_status check_1d_2d(const cnnc_tensor *x, const cnnc_tensor *t, const cnnc_tensor *w) {
    if (t->ndim > 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "0D or 1D target tensor expected, multi-target not supported");
    bool no_batch_dim = x->ndim == 1 && t->ndim == 0;
    if (!no_batch_dim && (t->ndim == 0 || x->shape[0] != t->shape[0]))
        return size_mismatch(x->ndim, x->shape, t->ndim, t->shape, false);
    return check_class_weight("", w, x->shape[x->ndim - 1]);
}

/* nll_loss2d on input [n, c, h, w] and target [n, h, w] (given as shapes: the
 * K-dim form checks its reshaped views) */
static cnnc_status check_2d(const int64_t xs[4], int nt, const int64_t *ts, const cnnc_tensor *w) {
    if (nt != 3)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "only batches of spatial targets supported (3D tensors) but got targets "
                           "of dimension: %d",
                           nt);
    if (w && w->numel != xs[1])
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "weight tensor should be defined either for all or no classes");
    if (xs[0] != ts[0] || xs[2] != ts[1] || xs[3] != ts[2]) return size_mismatch(4, xs, nt, ts, true);
    return CNNC_OK;
}

/* 3-d and > 4-d inputs: target [n, d1..dK], then nll_loss2d on the views
 * [n, c, 1, -1] / [n, 1, -1] ([n, c, 0, 0] / [n, 0, 0] when empty), as PyTorch */
static cnnc_status check_kd(const cnnc_tensor *x, const cnnc_tensor *t, const cnnc_tensor *w,
                            const nll_geom *g) {
    bool same = t->ndim == g->out_ndim;
    for (int d = 1; same && d < t->ndim; d++) same = t->shape[d] == x->shape[d + 1];
    if (!same) {
        char so[300], st[300];
        cnnc__shape_str(so, sizeof so, g->out_ndim, g->out_shape);
        cnnc__shape_str(st, sizeof st, t->ndim, t->shape);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Expected target size %s, got %s", so, st);
    }
    int64_t n = x->shape[0], xs[4] = {n, g->c, 0, 0}, ts[3] = {n, 0, 0};
    if (x->numel > 0) xs[2] = 1, xs[3] = x->numel / (n * g->c);
    if (t->numel > 0) ts[1] = 1, ts[2] = t->numel / n;
    return check_2d(xs, 3, ts, w);
}

/* Everything F.nll_loss checks before reading the targets, in PyTorch's order. */
static cnnc_status nll_check(const cnnc_tensor *x, const cnnc_tensor *t, const cnnc_tensor *w,
                             nll_geom *g) {
    if (x->ndim < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Expected 1 or more dimensions (got %d)", x->ndim);
    int64_t tb = t->ndim ? t->shape[0] : 0;
    if (x->ndim != 1 && x->shape[0] != tb)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Expected input batch_size (%lld) to match target batch_size (%lld).",
                           (long long)x->shape[0], (long long)tb);
    geom_set(g, x);
    bool plain = x->ndim <= 2;
    g->fwd = plain ? "nll_loss_forward" : "nll_loss2d_forward";
    g->node = plain ? "NllLossBackward0" : "NllLoss2DBackward0";
    cnnc_status st = CNNC_OK;
    if (x->ndim == 3 || x->ndim > 4) st = check_kd(x, t, w, g);
    if (st == CNNC_OK) st = cnnc__loss_no_grad(g->fwd, "weight", w);
    if (st == CNNC_OK && plain) st = check_1d_2d(x, t, w);
    if (st == CNNC_OK && x->ndim == 4) st = check_2d(x->shape, t->ndim, t->shape, w);
    if (st != CNNC_OK) return st;
    if (w && w->dtype != CNNC_FLOAT32)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "expected scalar type Float but found Long");
    if (t->dtype != CNNC_INT64)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "expected scalar type Long but found Float");
    return CNNC_OK;
}

/* PyTorch's IndexError for the first target (in order) neither ignored nor a class. */
static cnnc_status check_targets(const int64_t *t, int64_t positions, int64_t classes,
                                 int64_t ignore) {
    for (int64_t p = 0; p < positions; p++)
        if (t[p] != ignore && (t[p] < 0 || t[p] >= classes))
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Target %lld is out of bounds.",
                               (long long)t[p]);
    return CNNC_OK;
}

/* ---- position blocks ------------------------------------------------------------------ */

/* Calls fn(ctx, n, s0, s1, p0) for the runs of positions [p, p + s1 - s0) of block b
 * (of `per` <= NLL_BLOCK positions) that share a batch index n (s: the offset in the
 * inner dims; p0 = n*inner + s0). */
typedef void (*seg_fn)(void *ctx, int64_t n, int64_t s0, int64_t s1, int64_t p0);
static void for_segments(int64_t b, int64_t per, int64_t positions, int64_t inner, seg_fn fn,
                         void *ctx) {
    int64_t p = b * per, end = p + per < positions ? p + per : positions;
    while (p < end) {
        int64_t n = p / inner, s0 = p % inner;
        int64_t s1 = s0 + (end - p) < inner ? s0 + (end - p) : inner;
        fn(ctx, n, s0, s1, p);
        p += s1 - s0;
    }
}

static int64_t block_count(int64_t positions, int64_t per) { return (positions + per - 1) / per; }

/* the cost of a block of `per` positions touching per_position values each */
static cnnc__cost block_cost(int64_t per, int64_t per_position) {
    const double v = (double)per * (double)(per_position > 0 ? per_position : 1);
    return (cnnc__cost){.flops = 4.0 * v, .bytes = 8.0 * v};
}

/* the cost of an item touching `values` values (read, written and a weight) */
static cnnc__cost values_cost(int64_t values) {
    return (cnnc__cost){.flops = 4.0 * (double)values, .bytes = 12.0 * (double)values};
}

/* ---- the negative log-likelihood (class indices, optional label smoothing) ---------- */

/* nll_loss reads log-probabilities. cross_entropy reads the logits ("fused": the
 * kernels of kernels/loss.h compute the log-softmax terms of each position and, in
 * the backward, log_softmax's gradient, without the [n, c, inner] log-probabilities);
 * blocks of fewer positions when the classes are many, so that [256, 1000] logits
 * still split over threads (the blocks depend on the shape only). */
static int64_t positions_per_block(bool fused, int64_t c) {
    if (!fused) return NLL_BLOCK;
    int64_t per = 16384 / (c > 0 ? c : 1);
    return per < 1 ? 1 : per > NLL_BLOCK ? NLL_BLOCK : per;
}

typedef struct {
    nll_geom g;
    const float *lp, *w;  /* log-probabilities [n, c, inner] (NULL when fused); weight [c] or NULL */
    const int64_t *t;     /* [n, inner] */
    int64_t ignore;
    float ls;             /* label smoothing, 0 for the plain loss */
    cnnc__reduction r;
    int64_t per;          /* positions per block */
    bool fused;           /* cross_entropy on the logits: ce, stat, wsum below */
    cnnc__isa isa;        /* fused: the kernels' level for the whole call */
    cnnc__ce_args ce;     /* fused: the logits and the rest, as the kernels take them */
    float *stat;          /* fused: [n * inner][2] max and log-sum (NULL: not kept) */
    float wsum;           /* fused backward: sum_c w[c] */
    float *out;           /* "none": [n, inner] */
    double *part;         /* reductions: [blocks][3] nll, smooth, weight sums */
    int64_t blk;          /* the block being processed */
    /* backward */
    float *gl;            /* [n, c, inner] */
    const float *gout;    /* "none": [n, inner]; else NULL */
    float a0, b0;         /* reductions: the nll and smoothing coefficients */
} nll_job;

/* sum_c w[c] x[c] (w NULL: all ones) in double over 8 lanes, a fixed order */
static double weighted_row_sum(const float *x, const float *w, int64_t c) {
    if (!w) return cnnc__k_sum(x, c);
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= c; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)(x[i + k] * w[i + k]);
    for (int k = 0; i < c; i++, k++) acc[k] += (double)(x[i] * w[i]);
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* A run's terms from the log-probabilities (the kernels' nll and smooth outputs). */
static void lp_terms(const nll_job *j, int64_t n, int64_t s0, int64_t s1, float *nll, float *sm) {
    const int64_t inner = j->g.inner, c = j->g.c, len = s1 - s0;
    const float *lp = j->lp + n * c * inner;
    const int64_t *t = j->t + n * inner;
    double smooth[NLL_BLOCK];
    if (j->ls > 0.0f && inner == 1) { /* sum_c w[c] lp[c]: one contiguous row */
        smooth[0] = weighted_row_sum(lp, j->w, c);
    } else if (j->ls > 0.0f) {        /* the same for a run of columns */
        for (int64_t k = 0; k < len; k++) smooth[k] = 0.0;
        for (int64_t cl = 0; cl < c; cl++) {
            const float wc = j->w ? j->w[cl] : 1.0f, *row = lp + cl * inner + s0;
            for (int64_t k = 0; k < len; k++) smooth[k] += (double)(row[k] * wc);
        }
    }
    for (int64_t k = 0; k < len; k++) {
        int64_t tc = t[s0 + k];
        bool skip = tc == j->ignore;
        nll[k] = skip ? 0.0f : -lp[tc * inner + s0 + k] * (j->w ? j->w[tc] : 1.0f);
        sm[k] = skip || j->ls <= 0.0f ? 0.0f : (float)-smooth[k];
    }
}

/* One run: per-position losses, then the "none" result or the block's partials. */
static void nll_seg(void *ctx, int64_t n, int64_t s0, int64_t s1, int64_t p0) {
    nll_job *j = ctx;
    const int64_t len = s1 - s0;
    const int64_t *t = j->t + p0 - s0;
    float nll[NLL_BLOCK], sm[NLL_BLOCK];
    if (!j->fused)
        lp_terms(j, n, s0, s1, nll, sm);
    else
        cnnc__k_ce_forward(j->isa, &j->ce, j->stat ? j->stat + 2 * p0 : NULL, nll, sm, n, s0, s1);
    if (j->part) { /* the sums in registers, then into the block's partials */
        double s[3] = {0.0, 0.0, 0.0};
        for (int64_t k = 0; k < len; k++) {
            int64_t tc = t[s0 + k];
            s[0] += nll[k];
            s[1] += sm[k];
            s[2] += tc == j->ignore ? 0.0f : (j->w ? j->w[tc] : 1.0f);
        }
        for (int i = 0; i < 3; i++) j->part[3 * j->blk + i] += s[i];
        return;
    }
    const float k_nll = 1.0f - j->ls, k_smooth = (float)((double)j->ls / (double)j->g.c);
    for (int64_t k = 0; k < len; k++)
        j->out[p0 + k] = j->ls > 0.0f ? k_nll * nll[k] + sm[k] * k_smooth : nll[k];
}

static cnnc_status nll_forward_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    nll_job j = *(const nll_job *)ctx;
    for (j.blk = begin; j.blk < end; j.blk++) {
        if (j.part) memset(j.part + 3 * j.blk, 0, 3 * sizeof(double));
        for_segments(j.blk, j.per, j.g.n * j.g.inner, j.g.inner, nll_seg, &j);
    }
    return CNNC_OK;
}

/* One run of the gradient: -(b w[c]) everywhere (label smoothing), then -(a w[t])
 * added at each target, where a and b are the position's nll and smoothing
 * coefficients (0 where ignored). gl starts zeroed when there is no smoothing.
 * Fused: the same gradient through log_softmax's backward, by the kernel. */
static void nll_grad_seg(void *ctx, int64_t n, int64_t s0, int64_t s1, int64_t p0) {
    const nll_job *j = ctx;
    const int64_t inner = j->g.inner, c = j->g.c, len = s1 - s0;
    float *gl = j->gl + n * c * inner;
    const int64_t *t = j->t + p0 - s0;
    const float k_nll = 1.0f - j->ls, k_smooth = (float)((double)j->ls / (double)c);
    float ab[2 * NLL_BLOCK]; /* [len][2]: a, b */
    for (int64_t k = 0; k < len; k++) {
        bool skip = t[s0 + k] == j->ignore;
        float go = j->gout ? j->gout[p0 + k] : 0.0f;
        ab[2 * k] = skip ? 0.0f : j->gout ? (j->ls > 0.0f ? k_nll * go : go) : j->a0;
        ab[2 * k + 1] = skip ? 0.0f : j->gout ? go * k_smooth : j->b0;
    }
    if (j->fused) {
        cnnc__k_ce_backward(j->isa, &j->ce, j->gl, j->stat + 2 * p0, ab, j->wsum, n, s0, s1);
        return;
    }
    if (j->ls > 0.0f)
        for (int64_t cl = 0; cl < c; cl++) {
            const float wc = j->w ? j->w[cl] : 1.0f;
            float *row = gl + cl * inner + s0;
            for (int64_t k = 0; k < len; k++) row[k] = -(ab[2 * k + 1] * wc);
        }
    for (int64_t k = 0; k < len; k++) {
        int64_t tc = t[s0 + k];
        if (tc != j->ignore) gl[tc * inner + s0 + k] += -((j->w ? j->w[tc] : 1.0f) * ab[2 * k]);
    }
}

static cnnc_status nll_backward_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const nll_job *j = ctx;
    for (int64_t b = begin; b < end; b++)
        for_segments(b, j->per, j->g.n * j->g.inner, j->g.inner, nll_grad_seg, (void *)j);
    return CNNC_OK;
}

typedef struct {
    nll_geom g;
    int64_t ignore;
    float ls, total_weight;
    cnnc__reduction r;
    bool fused;
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
} nll_ctx;

/* sum_c w[c] (c without weights), rounded to float */
static float weight_sum(const float *w, int64_t c) {
    return w ? (float)cnnc__k_sum(w, c) : (float)c;
}

static cnnc_status nll_backward(cnnc__node *nd, cnnc_tensor *g, cnnc_tensor **gi) {
    const nll_ctx *c = nd->ctx;
    cnnc_tensor *w = nd->saved[1];
    /* fused: the kernel writes every element */
    gi[0] = c->fused ? cnnc__tensor_new(CNNC_FLOAT32, c->in_ndim, c->in_shape)
                     : cnnc__tensor_zeros(CNNC_FLOAT32, c->in_ndim, c->in_shape);
    if (!gi[0]) return cnnc_last_status();
    nll_job j = {.g = c->g, .w = w ? cnnc__f32(w) : NULL, .t = cnnc__i64(nd->saved[0]),
                 .ignore = c->ignore, .ls = c->ls, .r = c->r,
                 .per = positions_per_block(c->fused, c->g.c), .fused = c->fused,
                 .gl = cnnc__f32(gi[0])};
    if (c->fused) {
        j.isa = cnnc__isa_active();
        j.ce = (cnnc__ce_args){cnnc__f32(nd->saved[2]), j.t, j.w, c->g.c, c->g.inner, c->ignore,
                               c->ls > 0.0f};
        j.stat = cnnc__f32(nd->saved[3]);
        j.wsum = weight_sum(j.w, c->g.c);
    }
    if (c->r == CNNC__RED_NONE) {
        j.gout = cnnc__f32(g);
    } else { /* PyTorch: (1 - s) g / W for the nll, g (s / C) / W for the smoothing */
        float g0 = cnnc__f32(g)[0], div = c->r == CNNC__RED_MEAN ? c->total_weight : 1.0f;
        j.a0 = (c->ls > 0.0f ? (1.0f - c->ls) * g0 : g0) / div;
        j.b0 = g0 * (float)((double)c->ls / (double)c->g.c) / div;
    }
    int64_t positions = c->g.n * c->g.inner;
    int64_t per_position = c->fused ? c->g.c * 3 : c->ls > 0.0f ? c->g.c : 1;
    return cnnc__parallel_for(block_count(positions, j.per), block_cost(j.per, per_position),
                              nll_backward_range, &j);
}

/* The result of the reductions from the block partials, in PyTorch's combination:
 * nll (/ W) and, with smoothing, (1 - s) nll + smooth (/ W) (s / C). */
static float nll_reduce(const nll_job *j, int64_t blocks, float *total_weight) {
    double s[3] = {0.0, 0.0, 0.0};
    for (int64_t b = 0; b < blocks; b++)
        for (int k = 0; k < 3; k++) s[k] += j->part[3 * b + k];
    float nll = (float)s[0], smooth = (float)s[1], w = (float)s[2];
    *total_weight = w;
    if (j->r == CNNC__RED_MEAN) {
        nll /= w; /* 0 / 0: the NaN of an all-ignored batch, as PyTorch */
        smooth /= w;
    }
    if (j->ls <= 0.0f) return nll;
    return (1.0f - j->ls) * nll + smooth * (float)((double)j->ls / (double)j->g.c);
}

/* The loss on log-probabilities in (already checked against target and weight),
 * or with fused on the logits in (cross_entropy). */
static cnnc_tensor *nll_apply(cnnc_tensor *in, bool fused, cnnc_tensor *target,
                              cnnc_tensor *weight, const nll_geom *g, int64_t ignore, float ls,
                              cnnc__reduction r) {
    int64_t positions = g->n * g->inner, per = positions_per_block(fused, g->c);
    int64_t blocks = block_count(positions, per);
    if (check_targets(cnnc__i64(target), positions, g->c, ignore) != CNNC_OK) return NULL;
    bool none = r == CNNC__RED_NONE;
    cnnc_tensor *out = none ? cnnc__tensor_new(CNNC_FLOAT32, g->out_ndim, g->out_shape)
                            : cnnc__tensor_new(CNNC_FLOAT32, 0, NULL);
    cnnc_tensor *stat = NULL; /* fused and differentiable: [positions][2] */
    if (!out) return NULL;
    nll_job j = {.g = *g, .w = weight ? cnnc__f32(weight) : NULL, .t = cnnc__i64(target),
                 .ignore = ignore, .ls = ls, .r = r, .per = per, .fused = fused,
                 .out = cnnc__f32(out)};
    if (fused) {
        j.isa = cnnc__isa_active();
        j.ce = (cnnc__ce_args){cnnc__f32(in), j.t, j.w, g->c, g->inner, ignore, ls > 0.0f};
        int64_t n2 = 2 * positions;
        if (cnnc__any_requires_grad(1, &in) && !(stat = cnnc__tensor_new(CNNC_FLOAT32, 1, &n2)))
            goto fail;
        j.stat = stat ? cnnc__f32(stat) : NULL;
    } else {
        j.lp = cnnc__f32(in);
    }
    float total_weight = 0.0f;
    if (!none) {
        j.part = cnnc__workspace((size_t)(blocks > 0 ? blocks : 1) * 3 * sizeof(double));
        if (!j.part) goto fail;
    }
    int64_t per_position = fused ? g->c * (ls > 0.0f ? 3 : 2) : ls > 0.0f ? g->c : 1;
    if (cnnc__parallel_for(blocks, block_cost(per, per_position), nll_forward_range, &j) != CNNC_OK)
        goto fail;
    if (!none) cnnc__f32(out)[0] = nll_reduce(&j, blocks, &total_weight);
    /* PyTorch's last node: the smoothing's sum, the K-dim "none" view, or the loss */
    const char *node = ls > 0.0f ? "AddBackward0"
                       : none && (in->ndim == 3 || in->ndim > 4) ? "ViewBackward0"
                                                                 : g->node;
    nll_ctx *c = NULL;
    cnnc_tensor *inputs[2] = {in, target}, *saved[4] = {target, weight, fused ? in : NULL, stat};
    if (cnnc__record(out, node, nll_backward, 2, inputs, 4, saved, sizeof *c, (void **)&c) !=
        CNNC_OK)
        goto fail;
    if (c) {
        *c = (nll_ctx){*g, ignore, ls, total_weight, r, fused, in->ndim, {0}};
        memcpy(c->in_shape, in->shape, sizeof in->shape);
    }
    cnnc_tensor_release(stat);
    return out;
fail:
    cnnc_tensor_release(stat);
    cnnc_tensor_release(out);
    return NULL;
}

/* ---- cross entropy with class probabilities ------------------------------------------- */

typedef struct {
    nll_geom g;
    const float *lp, *q, *w; /* [n, c, inner] twice; [c] or NULL */
    float ls;
    cnnc__reduction r;
    float *out;
    double *part;            /* reductions: [blocks] */
    int64_t blk;
    /* backward */
    float *glp, *gq;         /* [n, c, inner] each, or NULL */
    double *gw;              /* [c], or NULL */
    const float *gout;       /* "none": [n, inner] */
    float g0;                /* reductions: the gradient of each position's loss */
} prob_job;

/* the smoothed target (1 - s) q + s / C, as PyTorch rounds it */
static inline float smoothed(float q, float ls, float k) { return ls > 0.0f ? q * (1.0f - ls) + k : q; }

static void prob_seg(void *ctx, int64_t n, int64_t s0, int64_t s1, int64_t p0) {
    prob_job *j = ctx;
    const int64_t inner = j->g.inner, c = j->g.c, len = s1 - s0, off = n * c * inner + s0;
    const float k = (float)((double)j->ls / (double)c);
    double acc[NLL_BLOCK];
    for (int64_t i = 0; i < len; i++) acc[i] = 0.0;
    for (int64_t cl = 0; cl < c; cl++) {
        const float *lp = j->lp + off + cl * inner, *q = j->q + off + cl * inner;
        const float wc = j->w ? j->w[cl] : 1.0f;
        for (int64_t i = 0; i < len; i++) acc[i] += (double)(lp[i] * smoothed(q[i], j->ls, k) * wc);
    }
    for (int64_t i = 0; i < len; i++) {
        if (j->part)
            j->part[j->blk] -= acc[i];
        else
            j->out[p0 + i] = (float)-acc[i];
    }
}

static cnnc_status prob_forward_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    prob_job j = *(const prob_job *)ctx;
    for (j.blk = begin; j.blk < end; j.blk++) {
        if (j.part) j.part[j.blk] = 0.0;
        for_segments(j.blk, NLL_BLOCK, j.g.n * j.g.inner, j.g.inner, prob_seg, &j);
    }
    return CNNC_OK;
}

/* rows r = n * c + class: the gradients of lp and q (the loss is -sum lp q' w) */
static cnnc_status prob_grad_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const prob_job *j = ctx;
    const int64_t inner = j->g.inner, c = j->g.c;
    const float k = (float)((double)j->ls / (double)c);
    for (int64_t row = begin; row < end; row++) {
        const int64_t n = row / c, cl = row % c, off = row * inner;
        const float wc = j->w ? j->w[cl] : 1.0f;
        for (int64_t s = 0; s < inner; s++) {
            float gg = -(j->gout ? j->gout[n * inner + s] : j->g0) * wc;
            if (j->glp) j->glp[off + s] = gg * smoothed(j->q[off + s], j->ls, k);
            if (j->gq) j->gq[off + s] = j->ls > 0.0f ? gg * j->lp[off + s] * (1.0f - j->ls)
                                                     : gg * j->lp[off + s];
        }
    }
    return CNNC_OK;
}

/* classes: weight's gradient, each summed over every position in order */
static cnnc_status prob_gw_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const prob_job *j = ctx;
    const int64_t inner = j->g.inner, c = j->g.c;
    const float k = (float)((double)j->ls / (double)c);
    for (int64_t cl = begin; cl < end; cl++) {
        double acc = 0.0;
        for (int64_t n = 0; n < j->g.n; n++) {
            const int64_t off = (n * c + cl) * inner;
            for (int64_t s = 0; s < inner; s++) {
                float gg = -(j->gout ? j->gout[n * inner + s] : j->g0);
                acc += (double)(gg * (j->lp[off + s] * smoothed(j->q[off + s], j->ls, k)));
            }
        }
        j->gw[cl] = acc;
    }
    return CNNC_OK;
}

typedef struct {
    nll_geom g;
    float ls;
    cnnc__reduction r;
    int64_t per; /* mean's divisor: numel / C */
} prob_ctx;

static cnnc_status prob_backward(cnnc__node *nd, cnnc_tensor *g, cnnc_tensor **gi) {
    const prob_ctx *c = nd->ctx;
    cnnc_tensor *lp = nd->saved[0], *q = nd->saved[1], *w = nd->saved[2];
    for (int i = 0; i < 2; i++)
        if (cnnc__node_needs_grad(nd, i) && !(gi[i] = cnnc__tensor_new(CNNC_FLOAT32, lp->ndim, lp->shape)))
            return cnnc_last_status();
    prob_job j = {.g = c->g, .lp = cnnc__f32(lp), .q = cnnc__f32(q), .w = w ? cnnc__f32(w) : NULL,
                  .ls = c->ls, .r = c->r, .glp = gi[0] ? cnnc__f32(gi[0]) : NULL,
                  .gq = gi[1] ? cnnc__f32(gi[1]) : NULL};
    if (c->r == CNNC__RED_NONE)
        j.gout = cnnc__f32(g);
    else
        j.g0 = c->r == CNNC__RED_MEAN ? cnnc__f32(g)[0] / (float)c->per : cnnc__f32(g)[0];
    if ((j.glp || j.gq) &&
        cnnc__parallel_for(c->g.n * c->g.c, values_cost(c->g.inner), prob_grad_range, &j) != CNNC_OK)
        return cnnc_last_status();
    if (cnnc__node_needs_grad(nd, 2)) {
        gi[2] = cnnc__tensor_new(CNNC_FLOAT32, 1, &c->g.c);
        j.gw = gi[2] ? cnnc__workspace((size_t)(c->g.c > 0 ? c->g.c : 1) * sizeof(double)) : NULL;
        if (!j.gw) return cnnc_last_status();
        if (cnnc__parallel_for(c->g.c, values_cost(c->g.n * c->g.inner), prob_gw_range, &j) != CNNC_OK)
            return cnnc_last_status();
        for (int64_t cl = 0; cl < c->g.c; cl++) cnnc__f32(gi[2])[cl] = (float)j.gw[cl];
    }
    return CNNC_OK;
}

static cnnc_tensor *prob_apply(cnnc_tensor *lp, cnnc_tensor *q, cnnc_tensor *weight,
                               const nll_geom *g, float ls, cnnc__reduction r) {
    int64_t positions = g->n * g->inner, blocks = block_count(positions, NLL_BLOCK);
    bool none = r == CNNC__RED_NONE;
    cnnc_tensor *out = none ? cnnc__tensor_new(CNNC_FLOAT32, g->out_ndim, g->out_shape)
                            : cnnc__tensor_new(CNNC_FLOAT32, 0, NULL);
    if (!out) return NULL;
    prob_job j = {.g = *g, .lp = cnnc__f32(lp), .q = cnnc__f32(q),
                  .w = weight ? cnnc__f32(weight) : NULL, .ls = ls, .r = r, .out = cnnc__f32(out)};
    if (!none) {
        j.part = cnnc__workspace((size_t)(blocks > 0 ? blocks : 1) * sizeof(double));
        if (!j.part) goto fail;
    }
    if (cnnc__parallel_for(blocks, block_cost(NLL_BLOCK, g->c), prob_forward_range, &j) != CNNC_OK)
        goto fail;
    int64_t per = g->c > 0 ? lp->numel / g->c : 0;
    if (!none) {
        double total = 0.0;
        for (int64_t b = 0; b < blocks; b++) total += j.part[b];
        float sum = (float)total; /* mean of nothing: NaN, as PyTorch */
        cnnc__f32(out)[0] = r == CNNC__RED_SUM ? sum : lp->numel ? sum / (float)per : __builtin_nanf("");
    }
    bool div = r == CNNC__RED_MEAN && lp->numel > 0;
    prob_ctx *c = NULL;
    cnnc_tensor *in[3] = {lp, q, weight};
    if (cnnc__record(out, div ? "DivBackward1" : "NegBackward0", prob_backward, 3, in, 3, in,
                     sizeof *c, (void **)&c) != CNNC_OK)
        goto fail;
    if (c) *c = (prob_ctx){*g, ls, r, per};
    return out;
fail:
    cnnc_tensor_release(out);
    return NULL;
}

/* ---- the ops -------------------------------------------------------------------------- */

static cnnc_status check_input(const char *fn, const cnnc_tensor *x, const cnnc_tensor *t,
                               const char *reduction, cnnc__reduction *r) {
    if (cnnc__check_tensor(fn, "input", x, true) != CNNC_OK ||
        cnnc__check_tensor(fn, "target", t, false) != CNNC_OK)
        return cnnc_last_status();
    return cnnc__loss_reduction(reduction, false, r);
}

cnnc_tensor *cnnc__op_nll_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_nll_loss_options o) {
    cnnc__reduction r;
    nll_geom g;
    if (check_input("nll_loss", input, target, o.reduction, &r) != CNNC_OK ||
        nll_check(input, target, o.weight, &g) != CNNC_OK)
        return NULL;
    return nll_apply(input, false, target, o.weight, &g, o.ignore_index, 0.0f, r);
}

static cnnc_status label_smoothing_error(double ls) {
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "label_smoothing must be between 0.0 and 1.0. Got: %g",
                       ls);
}

static cnnc_tensor *log_softmax_classes(cnnc_tensor *x) {
    return cnnc__op_log_softmax(x, CNNC_SOFTMAX(.dim = CNNC_INTS(x->ndim == 1 ? 0 : 1)));
}

/* target of input's shape: class probabilities (cross_entropy_loss_prob_target) */
static cnnc_tensor *cross_entropy_prob(cnnc_tensor *x, cnnc_tensor *t, cnnc_cross_entropy_options o,
                                       cnnc__reduction r) {
    if (t->dtype != CNNC_FLOAT32)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Expected floating point type for target with class probabilities, "
                                "got Long");
    if (o.ignore_index >= 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "ignore_index is not supported for floating point target");
    if (x->ndim == 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Dimension specified as 1 but tensor has no dimensions");
    nll_geom g;
    geom_set(&g, x);
    cnnc_tensor *w = o.weight;
    if (check_class_weight("cross_entropy: ", w, g.c) != CNNC_OK) return NULL;
    if (o.label_smoothing > 1.0) return label_smoothing_error(o.label_smoothing), NULL;
    if (w && cnnc__check_tensor("cross_entropy", "weight", w, true) != CNNC_OK) return NULL;
    cnnc_tensor *lp = log_softmax_classes(x);
    float ls = o.label_smoothing > 0.0 ? (float)o.label_smoothing : 0.0f; /* NaN, < 0: none */
    cnnc_tensor *out = lp ? prob_apply(lp, t, w, &g, ls, r) : NULL;
    cnnc_tensor_release(lp);
    return out;
}

cnnc_tensor *cnnc__op_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                    cnnc_cross_entropy_options o) {
    cnnc__reduction r;
    if (check_input("cross_entropy", input, target, o.reduction, &r) != CNNC_OK) return NULL;
    if (cnnc__same_shape(input, target)) return cross_entropy_prob(input, target, o, r);
    bool smooth = o.label_smoothing > 0.0;
    if (smooth && o.label_smoothing > 1.0) return label_smoothing_error(o.label_smoothing), NULL;
    float ls = smooth ? (float)o.label_smoothing : 0.0f;
    nll_geom g;
    if (input->ndim > 0) /* log_softmax and nll_loss in one (log_softmax's checks pass) */
        return nll_check(input, target, o.weight, &g) == CNNC_OK
                   ? nll_apply(input, true, target, o.weight, &g, o.ignore_index, ls, r)
                   : NULL;
    cnnc_tensor *lp = log_softmax_classes(input); /* 0-d: its error */
    cnnc_tensor *out = NULL;
    if (lp && nll_check(lp, target, o.weight, &g) == CNNC_OK)
        out = nll_apply(lp, false, target, o.weight, &g, o.ignore_index, ls, r);
    cnnc_tensor_release(lp);
    return out;
}

cnnc_tensor *cnnc_nll_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_nll_loss_options o) {
    return cnnc__give(cnnc__op_nll_loss(input, target, o));
}
cnnc_tensor *cnnc_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                cnnc_cross_entropy_options o) {
    return cnnc__give(cnnc__op_cross_entropy(input, target, o));
}
