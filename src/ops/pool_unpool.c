/* Max unpooling: F.max_unpool{1,2,3}d. The arguments go through PyTorch 1.13's Python
 * side first (_single/_pair/_triple, then _unpool_output_size, which indexes the
 * tuples per kernel dim), then the C++ op's checks (max_unpool2d for 1-d and 2-d,
 * on [.., L, 1] for 1-d; max_unpool3d), in their order and with their messages. */
#include <stdatomic.h>
#include <string.h>

#include "ops/pool_internal.h"

/* ---- arguments --------------------------------------------------------------------- */

/* The values PyTorch's Python side hands to the C++ op. */
typedef struct unpool_args {
    int nk, ns, np;                           /* len(kernel_size), len(stride), len(padding) */
    int64_t k[CNNC_MAX_DIMS], s[CNNC_MAX_DIMS], p[CNNC_MAX_DIMS];
    int nout;                                 /* output_size, with the 1-d op's trailing 1 */
    int64_t out[CNNC_MAX_DIMS + 1];
} unpool_args;

/* _ntuple on the three window arguments (stride None: the kernel), then the default
 * output size per kernel dim, indexing the input's sizes, stride and padding as
 * Python does (a tuple too short: IndexError "tuple index out of range"). */
static cnnc_status unpool_window(const cnnc_tensor *x, int nsp, const cnnc_max_unpool_options *o,
                                 unpool_args *a, int64_t *def) {
    cnnc_ints k = cnnc__ntuple(o->kernel_size, nsp), p = cnnc__ntuple(o->padding, nsp);
    cnnc_ints s = cnnc__ints_is_none(&o->stride) ? k : cnnc__ntuple(o->stride, nsp);
    a->nk = cnnc__int_list(&k, nsp, a->k);
    a->ns = cnnc__int_list(&s, nsp, a->s);
    a->np = cnnc__int_list(&p, nsp, a->p);
    for (int d = 0; d < a->nk; d++) {
        if (a->nk > x->ndim || d >= a->ns || d >= a->np) return POOL_ERR("tuple index out of range");
        if (!cnnc__window_transposed_len(x->shape[x->ndim - a->nk + d], a->k[d], a->s[d], a->p[d],
                                         a->p[d], 1, 0, &def[d]))
            return POOL_ERR("max_unpool%dd: the output size overflows int64", nsp);
    }
    return CNNC_OK;
}

/* _unpool_output_size: the default, or the given size (its spatial part, each within
 * a stride of the default). Then the 1-d op's trailing 1. */
static cnnc_status unpool_output_size(const cnnc_tensor *x, int nsp,
                                      const cnnc_max_unpool_options *o, unpool_args *a) {
    int64_t def[CNNC_MAX_DIMS];
    if (unpool_window(x, nsp, o, a, def) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
    const cnnc_ints *os = &o->output_size;
    if (cnnc__ints_is_int(os)) return POOL_ERR("object of type 'int' has no len()");
    if (cnnc__ints_is_none(os)) {
        memcpy(a->out, def, (size_t)a->nk * sizeof(int64_t));
    } else {
        const int off = os->n == a->nk + 2 ? 2 : 0, n = os->n - off;
        if (n != a->nk)
            return POOL_ERR("output_size should be a sequence containing %d or %d elements, but it "
                            "has a length of '%d'", a->nk, a->nk + 2, os->n);
        for (int d = 0; d < n; d++) {
            int64_t lo = def[d] - a->s[d], hi = def[d] + a->s[d];
            if (!(lo < os->v[off + d] && os->v[off + d] < hi)) {
                char t[CNNC__ARGS_STR_CAP];
                cnnc__tuple_str(t, sizeof t, n, os->v + off);
                return POOL_ERR("invalid output_size \"%s\" (dim %d must be between %lld and %lld)", t,
                                d, LL(lo), LL(hi));
            }
        }
        memcpy(a->out, os->v + off, (size_t)n * sizeof(int64_t));
    }
    a->nout = a->nk;
    if (nsp == 1) a->out[a->nout++] = 1;
    return CNNC_OK;
}

/* ---- the C++ op's checks ------------------------------------------------------------ */

/* max_unpool2d (knsp 2) / max_unpool3d (knsp 3) on shape (with the unit dim of 1-d). */
static cnnc_status unpool_checks(int knsp, int ndim, const int64_t *shape, const cnnc_tensor *indices,
                                 int indim, const int64_t *ishape, const unpool_args *a) {
    static const char *const THREE = "There should be exactly three elements (depth, height, width) in";
    if (indices->dtype != CNNC_INT64)
        return knsp == 2 ? POOL_ERR("elements in indices should be type int64 but got: Float")
                         : POOL_ERR("elements in indices should be type int64");
    if (knsp == 2 && a->nout != 2)
        return POOL_ERR("There should be exactly two elements (height, width) in output_size, but got "
                        "%d elements.", a->nout);
    if (ndim != knsp + 1 && ndim != knsp + 2)
        return POOL_ERR("Input to max_unpooling%dd should be a %dd or %dd Tensor, but got a tensor with "
                        "%d dimensions.", knsp, knsp + 1, knsp + 2, ndim);
    if (knsp == 3 && a->nout != 3)
        return POOL_ERR("%s output_size, but got %d elements.", THREE, a->nout);
    if (knsp == 3 && a->ns != 3) return POOL_ERR("%s stride, but got: %d elements.", THREE, a->ns);
    if (knsp == 3 && a->np != 3) return POOL_ERR("%s padding, but got: %d elements.", THREE, a->np);
    char sh[256], ish[256];
    cnnc__shape_str(sh, sizeof sh, ndim, shape);
    cnnc__shape_str(ish, sizeof ish, indim, ishape);
    if (ndim != indim || memcmp(shape, ishape, sizeof(int64_t) * (size_t)ndim) != 0)
        return POOL_ERR("Expected shape of indices to be same as that of the input tensor (%s) but got "
                        "indices tensor with shape: %s", sh, ish);
    for (int i = 1; i < ndim; i++)
        if (shape[i] <= 0)
            return POOL_ERR("max_unpooling%dd_forward_out_cpu(): Expected input to have non-zero size "
                            "for non-batch dimensions, but got %s with dimension %d being empty.",
                            knsp, sh, i);
    if (knsp == 3 && (a->s[0] <= 0 || a->s[1] <= 0 || a->s[2] <= 0))
        return POOL_ERR("strides should be greater than zero, but got stride: [%lld, %lld, %lld]",
                        LL(a->s[0]), LL(a->s[1]), LL(a->s[2]));
    return CNNC_OK;
}

/* ---- compute and autograd -------------------------------------------------------------- */

typedef struct {
    int64_t isize, osize, planes;
    int gather_dim; /* the flattened plane's dim in PyTorch's backward (for its message) */
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
} unpool_ctx;

static cnnc_status unpool_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    cnnc__pool_job *j = ctx;
    int64_t bad = cnnc__k_max_unpool(j->out, j->x, j->idx, j->isize, j->osize, b, e);
    if (bad >= 0) { /* keep the last invalid position, whatever the split */
        int64_t cur = atomic_load(&j->bad);
        while (bad > cur && !atomic_compare_exchange_weak(&j->bad, &cur, bad)) {
        }
    }
    return CNNC_OK;
}
static cnnc_status gather_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    cnnc__pool_job *j = ctx;
    cnnc__k_index_gather(j->out, j->gy, j->idx, j->isize, j->osize, b, e);
    return CNNC_OK;
}

static cnnc_status unpool_backward(cnnc__node *n, cnnc_tensor *gy, cnnc_tensor **gi) {
    unpool_ctx *c = n->ctx;
    if (c->osize == 0 && c->isize > 0 && c->planes > 0) /* PyTorch's gather over an empty plane */
        return POOL_ERR("index %lld is out of bounds for dimension %d with size 0",
                        LL(cnnc__i64(n->saved[0])[0]), c->gather_dim);
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, c->in_ndim, c->in_shape);
    if (!gi[0]) return cnnc_last_status();
    cnnc__pool_job j = {.out = cnnc__f32(gi[0]), .gy = cnnc__f32(gy), .idx = cnnc__i64(n->saved[0]),
                        .isize = c->isize, .osize = c->osize};
    if (gi[0]->numel) cnnc__parallel_for(c->planes, cnnc__pool_cost(c->isize + c->osize), gather_range, &j);
    return CNNC_OK;
}

/* Scatters x into y by the indices; PyTorch's error for an index outside the plane. */
static cnnc_status unpool_run(cnnc_tensor *y, cnnc_tensor *x, cnnc_tensor *indices, int knsp,
                              const int64_t *kout, int64_t isize, int64_t osize, int64_t planes) {
    if (!y->numel) return CNNC_OK;
    cnnc__pool_job j = {.out = cnnc__f32(y), .x = cnnc__f32(x), .idx = cnnc__i64(indices),
                        .isize = isize, .osize = osize};
    atomic_init(&j.bad, -1);
    cnnc__parallel_for(planes, cnnc__pool_cost(isize + osize), unpool_range, &j);
    int64_t bad = atomic_load(&j.bad);
    if (bad < 0) return CNNC_OK;
    int64_t v = cnnc__i64(indices)[bad];
    if (knsp == 2)
        return POOL_ERR("Found an invalid max index: %lld (output volumes are of size %lldx%lld", LL(v),
                        LL(kout[0]), LL(kout[1]));
    return POOL_ERR("Found an invalid max index: %lld (output volumes are of size %lldx%lldx%lld", LL(v),
                    LL(kout[0]), LL(kout[1]), LL(kout[2]));
}

static cnnc_tensor *unpool_finish(cnnc_tensor *x, cnnc_tensor *indices, int nsp, int knsp,
                                  const int64_t *out, const char *pub) {
    int64_t oshape[CNNC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) oshape[x->ndim - nsp + i] = out[i];
    for (int i = 0; i < nsp; i++)
        if (out[i] < 0) {
            char t[256];
            cnnc__shape_str(t, sizeof t, x->ndim, oshape);
            return POOL_ERR_NULL("%s: the output size %s is negative (numel: integer multiplication "
                                 "overflow)", pub, t);
        }
    cnnc_tensor *y = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, oshape);
    if (!y) return NULL;
    int64_t isize = 1, osize = 1, planes = cnnc__pool_planes(x->ndim, x->shape, nsp);
    for (int i = 0; i < nsp; i++) {
        isize *= x->shape[x->ndim - nsp + i];
        osize *= out[i];
    }
    const int64_t kout[3] = {out[0], nsp == 1 ? 1 : out[1], nsp == 3 ? out[2] : 0};
    void *vctx = NULL;
    static const char *const NODES[4] = {"", "SqueezeBackward1", "MaxUnpool2DBackward0", "MaxUnpool3DBackward0"};
    if (unpool_run(y, x, indices, knsp, kout, isize, osize, planes) != CNNC_OK ||
        cnnc__record(y, NODES[nsp], unpool_backward, 1, &x, 1, &indices, sizeof(unpool_ctx), &vctx) != CNNC_OK) {
        cnnc_tensor_release(y);
        return NULL;
    }
    if (vctx) {
        unpool_ctx *c = vctx;
        *c = (unpool_ctx){.isize = isize, .osize = osize, .planes = planes, .in_ndim = x->ndim,
                          .gather_dim = nsp == 1 ? x->ndim - 1 : x->ndim - nsp};
        memcpy(c->in_shape, x->shape, sizeof c->in_shape);
    }
    return y;
}

static cnnc_tensor *max_unpool_common(cnnc_tensor *x, cnnc_tensor *indices, int nsp,
                                      const cnnc_max_unpool_options *o, const char *pub) {
    if (cnnc__check_tensor(pub, "input", x, true) != CNNC_OK ||
        cnnc__check_tensor(pub, "indices", indices, false) != CNNC_OK)
        return NULL;
    unpool_args a;
    if (unpool_output_size(x, nsp, o, &a) != CNNC_OK) return NULL;
    /* the C++ op sees the 1-d case as 2-d on [..., L, 1] */
    int64_t shape[CNNC_MAX_DIMS + 1], ishape[CNNC_MAX_DIMS + 1];
    int ndim = x->ndim, indim = indices->ndim, knsp = nsp == 1 ? 2 : nsp;
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)ndim);
    memcpy(ishape, indices->shape, sizeof(int64_t) * (size_t)indim);
    if (nsp == 1) {
        shape[ndim++] = 1;
        ishape[indim++] = 1;
    }
    if (unpool_checks(knsp, ndim, shape, indices, indim, ishape, &a) != CNNC_OK) return NULL;
    return unpool_finish(x, indices, nsp, knsp, a.out, pub);
}

cnnc_tensor *cnnc__op_max_unpool(cnnc_tensor *x, cnnc_tensor *indices, int nsp, cnnc_max_unpool_options o) {
    static const char *const PUB[4] = {"", "max_unpool1d", "max_unpool2d", "max_unpool3d"};
    const char *fn = PUB[nsp];
    if (cnnc__check_ints(fn, "kernel_size", &o.kernel_size) || cnnc__check_ints(fn, "stride", &o.stride) ||
        cnnc__check_ints(fn, "padding", &o.padding) || cnnc__check_ints(fn, "output_size", &o.output_size) ||
        cnnc__check_given(fn, "kernel_size", &o.kernel_size) || cnnc__check_given(fn, "padding", &o.padding))
        return NULL;
    return max_unpool_common(x, indices, nsp, &o, fn);
}
