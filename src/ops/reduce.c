/* sum and mean over all or some dims (double accumulation, deterministic). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/ops.h"

/* Resolves dims into a mask; ndims == 0 means all. */
static cnnc_status dims_mask(const char *fn, const cnnc_tensor *a, int ndims, const int *dims,
                             bool mask[CNNC_MAX_DIMS]) {
    memset(mask, 0, CNNC_MAX_DIMS * sizeof(bool));
    if (ndims < 0 || ndims > CNNC_MAX_DIMS)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): invalid number of dims %d", fn, ndims);
    if (ndims > 0 && !dims)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'dim' is NULL", fn);
    if (ndims == 0) {
        for (int d = 0; d < a->ndim; d++) mask[d] = true;
        return CNNC_OK;
    }
    for (int i = 0; i < ndims; i++) {
        int d;
        cnnc_status st = cnnc__wrap_dim(dims[i], a->ndim, &d);
        if (st != CNNC_OK) return st;
        if (a->ndim == 0) continue;
        if (mask[d])
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "dim %d appears multiple times in the list of dims", d);
        mask[d] = true;
    }
    return CNNC_OK;
}

static int out_shape(const cnnc_tensor *a, const bool *mask, bool keepdim, int64_t *shape) {
    int n = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (!mask[d])
            shape[n++] = a->shape[d];
        else if (keepdim)
            shape[n++] = 1;
    }
    return n;
}

typedef struct {
    const float *in;
    double *acc;
    float *out;
    const cnnc__reduce_blocks *b;
    double scale;
} reduce_job;

/* parallel over the outermost (kept) block: each index owns its output slice */
static cnnc_status reduce_outer(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    reduce_job *j = ctx;
    cnnc__reduce_blocks sub = *j->b;
    sub.size[0] = end - begin;
    const int64_t os = sub.out_stride[0], nout = (end - begin) * os;
    double *acc = j->acc + begin * os;
    memset(acc, 0, (size_t)nout * sizeof(double));
    cnnc__k_reduce_acc(acc, j->in + begin * sub.in_stride[0], &sub, 0);
    for (int64_t k = 0; k < nout; k++) j->out[begin * os + k] = (float)(acc[k] * j->scale);
    return CNNC_OK;
}

/* an outer reduced block then a kept one ([N, C, HW] summed to [C], a broadcast
 * gradient): split the kept block over threads. Each output still receives the
 * same additions in the same order as the serial loop. */
static cnnc_status reduce_inner_kept(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    reduce_job *j = ctx;
    cnnc__reduce_blocks sub = *j->b;
    sub.size[1] = end - begin;
    cnnc__k_reduce_acc(j->acc + begin * sub.out_stride[1], j->in + begin * sub.in_stride[1], &sub, 0);
    return CNNC_OK;
}

/* a full reduction: fixed 64K-element pieces, summed in order afterwards */
enum { PIECE = 65536 };
static cnnc_status reduce_pieces(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    reduce_job *j = ctx;
    int64_t n = j->b->size[0];
    for (int64_t p = begin; p < end; p++) {
        int64_t lo = p * PIECE, hi = lo + PIECE < n ? lo + PIECE : n;
        j->acc[p] = cnnc__k_sum(j->in + lo, hi - lo);
    }
    return CNNC_OK;
}

/* out = scale * sum of a over the masked dims, shape `shape` (any keepdim form). */
static cnnc_tensor *reduce(const cnnc_tensor *a, const bool *mask, int ndim, const int64_t *shape,
                           double scale) {
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, ndim, shape);
    if (!out || out->numel == 0) return out;
    if (a->numel == 0) { /* sum over an empty set is 0 */
        memset(cnnc__f32(out), 0, (size_t)out->numel * sizeof(float));
        return out;
    }
    /* blocks of consecutive dims with the same role; size-1 dims are dropped */
    cnnc__reduce_blocks b = {0};
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] == 1) continue;
        int r = mask[d] ? 1 : 0;
        if (b.n > 0 && b.reduce[b.n - 1] == r)
            b.size[b.n - 1] *= a->shape[d];
        else {
            b.size[b.n] = a->shape[d];
            b.reduce[b.n] = r;
            b.n++;
        }
    }
    if (b.n == 0) { b.n = 1; b.size[0] = 1; b.reduce[0] = 0; }
    int64_t in_s = 1, out_s = 1;
    for (int i = b.n - 1; i >= 0; i--) {
        b.in_stride[i] = in_s;
        b.out_stride[i] = out_s;
        in_s *= b.size[i];
        if (!b.reduce[i]) out_s *= b.size[i];
    }
    /* the outermost kept block is split over threads; its stride is the work per index */
    for (int i = 0; i < b.n; i++) b.out_stride[i] = b.reduce[i] ? 0 : b.out_stride[i];
    float *o = cnnc__f32(out);
    reduce_job j = {a->storage->data, NULL, o, &b, scale};
    if (b.n == 1 && b.reduce[0]) {
        int64_t pieces = (b.size[0] + PIECE - 1) / PIECE;
        j.acc = cnnc__workspace((size_t)pieces * sizeof(double));
        if (!j.acc) goto fail;
        const cnnc__cost piece = {.flops = PIECE, .bytes = 4.0 * PIECE}; /* an add per float read */
        if (cnnc__parallel_for(pieces, piece, reduce_pieces, &j) != CNNC_OK) goto fail;
        double s = 0;
        for (int64_t p = 0; p < pieces; p++) s += j.acc[p];
        o[0] = (float)(s * scale);
        return out;
    }
    j.acc = cnnc__workspace((size_t)out->numel * sizeof(double));
    if (!j.acc) goto fail;
    if (!b.reduce[0]) {
        /* out_stride[0] must be the size of one outer index's output slice */
        int64_t slice = 1;
        for (int i = 1; i < b.n; i++) if (!b.reduce[i]) slice *= b.size[i];
        b.out_stride[0] = slice;
        /* an outer index: in_stride[0] floats read and added */
        const double in = (double)b.in_stride[0];
        if (cnnc__parallel_for(b.size[0], (cnnc__cost){.flops = in, .bytes = 4.0 * in}, reduce_outer,
                               &j) != CNNC_OK)
            goto fail;
    } else { /* reduce[0], so b.n >= 2 (a full reduction returned above) and reduce[1] is 0 */
        memset(j.acc, 0, (size_t)out->numel * sizeof(double));
        /* a kept index: size[0] * in_stride[1] floats read and added */
        const double in = (double)(b.size[0] * b.in_stride[1]);
        if (cnnc__parallel_for(b.size[1], (cnnc__cost){.flops = in, .bytes = 4.0 * in},
                               reduce_inner_kept, &j) != CNNC_OK)
            goto fail;
        for (int64_t k = 0; k < out->numel; k++) o[k] = (float)(j.acc[k] * scale);
    }
    return out;
fail:
    cnnc_tensor_release(out);
    return NULL;
}

typedef struct {
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
    int keep_ndim; /* the keepdim=True shape, to broadcast the gradient back */
    int64_t keep_shape[CNNC_MAX_DIMS];
    bool mean;
    float count; /* mean: the gradient is divided by the elements reduced */
} reduce_ctx;

/* g in the keepdim shape: an alias of it (sum), or g / count (mean, PyTorch's
 * mean_backward: the gradient divided by the count, not multiplied by its inverse),
 * divided while it is small, before the broadcast writes every input element once. */
static cnnc_tensor *keep_grad(const reduce_ctx *c, cnnc_tensor *g) {
    if (!c->mean) return cnnc__tensor_alias(g, c->keep_ndim, c->keep_shape);
    cnnc_tensor *gk = cnnc__tensor_new(CNNC_FLOAT32, c->keep_ndim, c->keep_shape);
    if (!gk) return NULL;
    const float *src = cnnc__f32(g);
    float *dst = cnnc__f32(gk);
    for (int64_t i = 0; i < gk->numel; i++) dst[i] = src[i] / c->count;
    return gk;
}

static cnnc_status reduce_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    reduce_ctx *c = n->ctx;
    cnnc_tensor *gk = keep_grad(c, g);
    if (!gk) return cnnc_last_status();
    cnnc_tensor *e = cnnc__expand(gk, c->in_ndim, c->in_shape);
    cnnc_tensor_release(gk);
    gi[0] = e;
    return e ? CNNC_OK : cnnc_last_status();
}

static cnnc_tensor *reduce_op(const char *fn, const char *node, cnnc_tensor *a, int ndims,
                              const int *dims, bool keepdim, bool mean) {
    if (cnnc__check_tensor(fn, "input", a, false) != CNNC_OK) return NULL;
    if (a->dtype != CNNC_FLOAT32)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                mean ? "mean(): could not infer output dtype. Input dtype must be "
                                       "either a floating point or complex dtype. Got: Long"
                                     : "%s(): cnnc supports float32 input only, got int64",
                                fn);
    bool mask[CNNC_MAX_DIMS];
    if (dims_mask(fn, a, ndims, dims, mask) != CNNC_OK) return NULL;
    int64_t shape[CNNC_MAX_DIMS], keep[CNNC_MAX_DIMS];
    int nd = out_shape(a, mask, keepdim, shape), nk = out_shape(a, mask, true, keep);
    /* wrapped: it overflows only for an empty input, where a zero size makes it 0 (the
     * mean of nothing is NaN) or the output is empty */
    int64_t count = 1;
    for (int d = 0; d < a->ndim; d++) if (mask[d]) count = cnnc__wrap_mul(count, a->shape[d]);
    double scale = mean ? (count ? 1.0 / (double)count : __builtin_nan("")) : 1.0;
    cnnc_tensor *out = reduce(a, mask, nd, shape, scale);
    if (!out) return NULL;
    if (mean && count == 0) /* mean of nothing is NaN, as PyTorch */
        for (int64_t i = 0; i < out->numel; i++) cnnc__f32(out)[i] = __builtin_nanf("");
    reduce_ctx *c;
    if (cnnc__record(out, node, reduce_backward, 1, &a, 0, NULL, sizeof *c, (void **)&c) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) {
        c->in_ndim = a->ndim;
        memcpy(c->in_shape, a->shape, sizeof a->shape);
        c->keep_ndim = nk;
        memcpy(c->keep_shape, keep, sizeof keep);
        c->mean = mean;
        c->count = (float)count;
    }
    return out;
}

cnnc_tensor *cnnc__op_sum_dims(cnnc_tensor *a, int ndims, const int *dims, bool keepdim) {
    return reduce_op("sum", ndims ? "SumBackward1" : "SumBackward0", a, ndims, dims, keepdim, false);
}

cnnc_tensor *cnnc__op_mean_dims(cnnc_tensor *a, int ndims, const int *dims, bool keepdim) {
    return reduce_op("mean", ndims ? "MeanBackward1" : "MeanBackward0", a, ndims, dims, keepdim, true);
}

cnnc_tensor *cnnc__sum_to(cnnc_tensor *g, int ndim, const int64_t *shape) {
    if (g->ndim == ndim && memcmp(g->shape, shape, (size_t)ndim * sizeof(int64_t)) == 0)
        return cnnc_tensor_retain(g);
    bool mask[CNNC_MAX_DIMS] = {false};
    int lead = g->ndim - ndim;
    for (int d = 0; d < g->ndim; d++)
        mask[d] = d < lead || (shape[d - lead] == 1 && g->shape[d] != 1);
    return reduce(g, mask, ndim, shape, 1.0);
}

cnnc_tensor *cnnc_sum(cnnc_tensor *a) { return cnnc__give(cnnc__op_sum_dims(a, 0, NULL, false)); }
cnnc_tensor *cnnc_mean(cnnc_tensor *a) { return cnnc__give(cnnc__op_mean_dims(a, 0, NULL, false)); }
cnnc_tensor *cnnc_sum_dims(cnnc_tensor *a, int ndims, const int *dims, bool keepdim) {
    return cnnc__give(cnnc__op_sum_dims(a, ndims, dims, keepdim));
}
cnnc_tensor *cnnc_mean_dims(cnnc_tensor *a, int ndims, const int *dims, bool keepdim) {
    return cnnc__give(cnnc__op_mean_dims(a, ndims, dims, keepdim));
}
