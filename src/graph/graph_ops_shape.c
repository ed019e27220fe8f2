/* Graph ops on shapes and reductions: cat, flatten, reshape/view, permute,
 * transpose, unsqueeze, squeeze, mean, sum, chunk, split, narrow, getitem,
 * channel_shuffle (torchvision's ShuffleNet). */
#include "core/alloc.h"
#include "core/error.h"
#include "graph/graph.h"
#include "ops/ops.h"

static cnnc_status int_arg(cnnc__gctx *c, int i, int64_t def, int *v) {
    int64_t w;
    CNNC__OK_OR_RETURN(cnnc__gctx_int(c, i, def, &w));
    if (w < INT32_MIN || w > INT32_MAX)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: node '%s': argument %d (%lld) is out of range",
                           c->node->name, i, (long long)w);
    *v = (int)w;
    return CNNC_OK;
}

/* a list of ints as int dims (None: n == 0) */
static cnnc_status dims_arg(cnnc__gctx *c, int i, int *n, int *dims) {
    cnnc_ints v;
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, i, &v));
    for (int k = 0; k < v.n; k++) {
        if (v.v[k] < INT32_MIN || v.v[k] > INT32_MAX)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: node '%s': dim %lld is out of range",
                               c->node->name, (long long)v.v[k]);
        dims[k] = (int)v.v[k];
    }
    *n = v.n;
    return CNNC_OK;
}

/* (tensors, dim) */
static cnnc_status op_cat(cnnc__gctx *c, cnnc__gvalue *out) {
    int n, dim;
    cnnc_tensor **ts;
    bool owned;
    CNNC__OK_OR_RETURN(int_arg(c, 1, 0, &dim));
    CNNC__OK_OR_RETURN(cnnc__gctx_tensors(c, 0, &n, &ts, &owned));
    cnnc_tensor *y = cnnc__op_cat(n, ts, dim);
    if (owned) cnnc__free(ts);
    return cnnc__gvalue_one(out, y);
}

/* (x, start_dim = 0, end_dim = -1): torch.flatten's defaults */
static cnnc_status op_flatten(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    int s, e;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(int_arg(c, 1, 0, &s));
    CNNC__OK_OR_RETURN(int_arg(c, 2, -1, &e));
    return cnnc__gvalue_one(out, cnnc__op_flatten(x, s, e));
}

/* (x, shape): reshape and view (one -1 allowed) */
static cnnc_status op_reshape(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    cnnc_ints shape;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &shape));
    return cnnc__gvalue_one(out, cnnc__op_reshape(x, shape.n, shape.v));
}

/* (x, dims) */
static cnnc_status op_permute(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    int n, dims[CNNC_MAX_DIMS];
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(dims_arg(c, 1, &n, dims));
    return cnnc__gvalue_one(out, cnnc__op_permute(x, n, dims));
}

/* (x, dim0, dim1) */
static cnnc_status op_transpose(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    int a, b;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(int_arg(c, 1, 0, &a));
    CNNC__OK_OR_RETURN(int_arg(c, 2, 1, &b));
    return cnnc__gvalue_one(out, cnnc__op_transpose(x, a, b));
}

/* (x, dim): a size-1 dim inserted at dim (in [-ndim-1, ndim]) */
static cnnc_status op_unsqueeze(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    int dim, d;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(int_arg(c, 1, 0, &dim));
    if (x->ndim >= CNNC_MAX_DIMS)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "unsqueeze(): the tensor has %d dims already", x->ndim);
    CNNC__OK_OR_RETURN(cnnc__wrap_dim(dim, x->ndim + 1, &d));
    int64_t shape[CNNC_MAX_DIMS];
    for (int i = 0, k = 0; i <= x->ndim; i++) shape[i] = i == d ? 1 : x->shape[k++];
    return cnnc__gvalue_one(out, cnnc__op_reshape(x, x->ndim + 1, shape));
}

/* (x[, dim]): size-1 dims dropped (all, or the one at dim if it is 1) */
static cnnc_status op_squeeze(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    const cnnc__garg *a = cnnc__gctx_arg(c, 1);
    int dim = 0, d = -1, n = 0;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    if (a && a->kind != CNNC__GARG_NONE) {
        CNNC__OK_OR_RETURN(int_arg(c, 1, 0, &dim));
        CNNC__OK_OR_RETURN(cnnc__wrap_dim(dim, x->ndim, &d));
    }
    int64_t shape[CNNC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        if (!(x->shape[i] == 1 && (d < 0 || d == i))) shape[n++] = x->shape[i];
    return cnnc__gvalue_one(out, cnnc__op_reshape(x, n, shape));
}

/* (x, dim = None, keepdim = False) */
static cnnc_status reduce(cnnc__gctx *c, cnnc__gvalue *out, bool mean) {
    cnnc_tensor *x;
    int n, dims[CNNC_MAX_DIMS];
    bool keepdim;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(dims_arg(c, 1, &n, dims));
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 2, false, &keepdim));
    return cnnc__gvalue_one(out, mean ? cnnc__op_mean_dims(x, n, dims, keepdim)
                                      : cnnc__op_sum_dims(x, n, dims, keepdim));
}
static cnnc_status op_mean(cnnc__gctx *c, cnnc__gvalue *o) { return reduce(c, o, true); }
static cnnc_status op_sum(cnnc__gctx *c, cnnc__gvalue *o) { return reduce(c, o, false); }

enum { MAX_PIECES = 64 };

/* (x, chunks, dim = 0) */
static cnnc_status op_chunk(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x, *pieces[MAX_PIECES];
    int chunks, dim;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(int_arg(c, 1, 1, &chunks));
    CNNC__OK_OR_RETURN(int_arg(c, 2, 0, &dim));
    return cnnc__gvalue_many(out, cnnc__op_chunk(x, chunks, dim, MAX_PIECES, pieces), pieces);
}

/* (x, split_size or [sizes], dim = 0) */
static cnnc_status op_split(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x, *pieces[MAX_PIECES];
    cnnc_ints sizes;
    int dim;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &sizes));
    CNNC__OK_OR_RETURN(int_arg(c, 2, 0, &dim));
    return cnnc__gvalue_many(out, cnnc__op_split(x, sizes.n, sizes.v, dim, MAX_PIECES, pieces), pieces);
}

/* (x, dim, start, length) */
static cnnc_status op_narrow(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    int dim;
    int64_t start, length;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(int_arg(c, 1, 0, &dim));
    CNNC__OK_OR_RETURN(cnnc__gctx_int(c, 2, 0, &start));
    CNNC__OK_OR_RETURN(cnnc__gctx_int(c, 3, 0, &length));
    return cnnc__gvalue_one(out, cnnc__op_narrow(x, dim, start, length));
}

/* (results, index): one tensor of a node that gave several (chunk, split, ...) */
static cnnc_status op_getitem(cnnc__gctx *c, cnnc__gvalue *out) {
    int n;
    cnnc_tensor **ts;
    bool owned;
    int64_t i;
    CNNC__OK_OR_RETURN(cnnc__gctx_int(c, 1, 0, &i));
    CNNC__OK_OR_RETURN(cnnc__gctx_tensors(c, 0, &n, &ts, &owned));
    cnnc_tensor *t = i >= -n && i < n ? cnnc_tensor_retain(ts[i < 0 ? i + n : i]) : NULL;
    if (owned) cnnc__free(ts);
    if (!t)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: node '%s': index %lld out of range for %d results",
                           c->node->name, (long long)i, n);
    return cnnc__gvalue_one(out, t);
}

/* (x, groups): [n, c, h, w] -> view [n, g, c / g, h, w] -> transpose(1, 2) -> view back */
static cnnc_status op_channel_shuffle(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    int64_t g;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_int(c, 1, 1, &g));
    if (x->ndim != 4 || g <= 0 || x->shape[1] % g)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "channel_shuffle(): a 4-d input whose channels divide into %lld groups expected",
                           (long long)g);
    const int64_t *s = x->shape;
    cnnc_tensor *v = cnnc__op_reshape(x, 5, (int64_t[]){s[0], g, s[1] / g, s[2], s[3]});
    cnnc_tensor *t = v ? cnnc__op_transpose(v, 1, 2) : NULL;
    cnnc_tensor *y = t ? cnnc__op_reshape(t, 4, s) : NULL;
    cnnc_tensor_release(v);
    cnnc_tensor_release(t);
    return cnnc__gvalue_one(out, y);
}

const cnnc__gop cnnc__gops_shape[] = {
    {"cat", 1, 2, op_cat}, {"flatten", 1, 3, op_flatten}, {"reshape", 2, 2, op_reshape},
    {"view", 2, 2, op_reshape}, {"permute", 2, 2, op_permute}, {"transpose", 3, 3, op_transpose},
    {"unsqueeze", 2, 2, op_unsqueeze}, {"squeeze", 1, 2, op_squeeze}, {"mean", 1, 3, op_mean},
    {"sum", 1, 3, op_sum}, {"chunk", 2, 3, op_chunk}, {"split", 2, 3, op_split},
    {"narrow", 4, 4, op_narrow}, {"getitem", 2, 2, op_getitem},
    {"channel_shuffle", 2, 2, op_channel_shuffle}, {NULL, 0, 0, NULL},
};
