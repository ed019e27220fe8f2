/* reshape, view, flatten (storage-sharing), permute, transpose, cat, clone. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "ops/ops.h"

/* ---- reshape / view / flatten ------------------------------------------- */

typedef struct {
    int ndim;
    int64_t shape[CNNC_MAX_DIMS];
} shape_ctx;

static cnnc_status view_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    shape_ctx *c = n->ctx;
    gi[0] = cnnc__tensor_alias(g, c->ndim, c->shape);
    return gi[0] ? CNNC_OK : cnnc_last_status();
}

static cnnc_status infer_shape(const cnnc_tensor *a, int ndim, const int64_t *shape,
                               int64_t *out) {
    if (ndim < 0 || ndim > CNNC_MAX_DIMS)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "view(): number of dimensions must be in [0, %d], got %d",
                           CNNC_MAX_DIMS, ndim);
    if (ndim > 0 && !shape)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "view(): argument 'shape' is NULL");
    int infer = -1;
    int64_t known = 1;
    char s[256];
    cnnc__shape_str(s, sizeof s, ndim, shape);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (infer >= 0)
                return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "only one dimension can be inferred");
            infer = i;
        } else if (shape[i] < 0) {
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "invalid shape dimension %lld",
                               (long long)shape[i]);
        } else if (!cnnc__mul_i64(known, shape[i], &known)) {
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "shape '%s' is invalid for input of size %lld",
                               s, (long long)a->numel);
        }
        out[i] = shape[i];
    }
    if (infer >= 0) {
        if (known == 0) {
            if (a->numel == 0)
                return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                                   "cannot reshape tensor of 0 elements into shape %s because "
                                   "the unspecified dimension size -1 can be any value and is "
                                   "ambiguous", s);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "shape '%s' is invalid for input of size %lld",
                               s, (long long)a->numel);
        }
        if (a->numel % known != 0)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "shape '%s' is invalid for input of size %lld",
                               s, (long long)a->numel);
        out[infer] = a->numel / known;
    } else if (known != a->numel) {
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "shape '%s' is invalid for input of size %lld",
                           s, (long long)a->numel);
    }
    return CNNC_OK;
}

static cnnc_tensor *view_of(cnnc_tensor *a, int ndim, const int64_t *shape, const char *node) {
    cnnc_tensor *out = cnnc__tensor_alias(a, ndim, shape);
    if (!out) return NULL;
    shape_ctx *c;
    if (cnnc__record(out, node, view_backward, 1, &a, 0, NULL, sizeof *c, (void **)&c) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) {
        c->ndim = a->ndim;
        memcpy(c->shape, a->shape, sizeof a->shape);
        out->is_view = true;
        out->view_base = cnnc_tensor_retain(a->is_view ? a->view_base : a);
    }
    return out;
}

/* Makes the view t's history a view of its base's current history. */
static cnnc_status rebase_view(cnnc_tensor *t) {
    cnnc_tensor *base = t->view_base;
    shape_ctx *c;
    cnnc_status st = cnnc__record(t, "ViewBackward0", view_backward, 1, &base, 0, NULL, sizeof *c,
                                  (void **)&c);
    if (st == CNNC_OK && c) {
        c->ndim = base->ndim;
        memcpy(c->shape, base->shape, sizeof base->shape);
    }
    return st;
}

cnnc_status cnnc__record_inplace(cnnc_tensor *t, const char *name, cnnc__backward_fn backward,
                                 int n_saved, cnnc_tensor *const *saved, size_t ctx_bytes,
                                 void **ctx) {
    if (!t->is_view || !cnnc__any_requires_grad(1, &t))
        /* the input edge is t's current history: record as if t were a separate input */
        return cnnc__record(t, name, backward, 1, &t, n_saved, saved, ctx_bytes, ctx);
    /* A view covers its base's whole storage, and in-place ops are elementwise: the
     * op is recorded on the base, and the view is re-derived from the new base (as
     * PyTorch rebases a view's history), so both see the change. */
    cnnc_tensor *base = t->view_base, *on_base[4];
    if (n_saved > 4) return cnnc__error(CNNC_ERR_RUNTIME, "record_inplace(): too many saved tensors");
    for (int i = 0; i < n_saved; i++) on_base[i] = saved[i] == t ? base : saved[i];
    cnnc_status st = cnnc__record(base, name, backward, 1, &base, n_saved, on_base, ctx_bytes, ctx);
    return st == CNNC_OK ? rebase_view(t) : st;
}

cnnc_tensor *cnnc__op_reshape(cnnc_tensor *a, int ndim, const int64_t *shape) {
    if (cnnc__check_tensor("reshape", "input", a, false) != CNNC_OK) return NULL;
    int64_t s[CNNC_MAX_DIMS];
    if (infer_shape(a, ndim, shape, s) != CNNC_OK) return NULL;
    return view_of(a, ndim, s, "ViewBackward0");
}

cnnc_tensor *cnnc__op_flatten(cnnc_tensor *a, int start_dim, int end_dim) {
    if (cnnc__check_tensor("flatten", "input", a, false) != CNNC_OK) return NULL;
    int s, e;
    if (cnnc__wrap_dim(start_dim, a->ndim, &s) != CNNC_OK || cnnc__wrap_dim(end_dim, a->ndim, &e) != CNNC_OK)
        return NULL;
    if (s > e)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "flatten() has invalid args: start_dim cannot come after end_dim");
    if (a->ndim == 0) return view_of(a, 1, (const int64_t[]){1}, "ViewBackward0");
    int64_t shape[CNNC_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < s; d++) shape[n++] = a->shape[d];
    /* an empty tensor's other sizes may multiply past INT64_MAX: PyTorch's product wraps */
    shape[n++] = cnnc__wrap_prod(a->shape, s, e + 1);
    if (shape[n - 1] < 0) /* the wrapped product is negative: PyTorch's view refuses it */
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "invalid shape dimension %lld",
                                (long long)shape[n - 1]);
    for (int d = e + 1; d < a->ndim; d++) shape[n++] = a->shape[d];
    return view_of(a, n, shape, "ViewBackward0");
}

/* ---- permute / transpose -------------------------------------------------- */

typedef struct {
    int ndim;
    int inverse[CNNC_MAX_DIMS];
} perm_ctx;

static cnnc_tensor *permute_copy(cnnc_tensor *a, const int *perm) {
    int64_t shape[CNNC_MAX_DIMS], in_stride[CNNC_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++) shape[d] = a->shape[perm[d]];
    cnnc_tensor *out = cnnc__tensor_new(a->dtype, a->ndim, shape);
    if (!out || out->numel == 0) return out; /* (an empty tensor's strides may overflow) */
    int64_t s = 1;
    for (int d = a->ndim - 1; d >= 0; d--) { in_stride[d] = s; s *= a->shape[d]; }
    if (a->dtype != CNNC_FLOAT32 || a->ndim == 0) { /* int64: plain odometer copy */
        int64_t idx[CNNC_MAX_DIMS] = {0};
        int64_t *o = cnnc__i64(out);
        const int64_t *in = cnnc__i64(a);
        for (int64_t i = 0; i < out->numel; i++) {
            int64_t off = 0;
            for (int d = 0; d < a->ndim; d++) off += idx[d] * in_stride[perm[d]];
            o[i] = a->ndim ? in[off] : in[0];
            for (int d = a->ndim - 1; d >= 0 && ++idx[d] == shape[d]; d--) idx[d] = 0;
        }
        return out;
    }
    cnnc__bcast it = {.ndim = a->ndim};
    for (int d = 0; d < a->ndim; d++) {
        it.shape[d] = shape[d];
        it.stride[0][d] = in_stride[perm[d]];
    }
    if (cnnc__copy_strided(out, a, &it) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

static cnnc_status permute_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    perm_ctx *c = n->ctx;
    gi[0] = permute_copy(g, c->inverse);
    return gi[0] ? CNNC_OK : cnnc_last_status();
}

static cnnc_tensor *permute_op(cnnc_tensor *a, const int *perm, const char *node) {
    cnnc_tensor *out = permute_copy(a, perm);
    if (!out) return NULL;
    perm_ctx *c;
    if (cnnc__record(out, node, permute_backward, 1, &a, 0, NULL, sizeof *c, (void **)&c) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) {
        c->ndim = a->ndim;
        for (int d = 0; d < a->ndim; d++) c->inverse[perm[d]] = d;
    }
    return out;
}

cnnc_tensor *cnnc__op_permute(cnnc_tensor *a, int ndim, const int *dims) {
    if (cnnc__check_tensor("permute", "input", a, false) != CNNC_OK) return NULL;
    if (ndim != a->ndim)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "permute(): number of dimensions in the tensor input does not "
                                "match the length of the desired ordering of dimensions i.e. "
                                "input.dim() = %d is not equal to len(dims) = %d",
                                a->ndim, ndim);
    if (ndim > 0 && !dims)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "permute(): argument 'dims' is NULL");
    int perm[CNNC_MAX_DIMS];
    bool seen[CNNC_MAX_DIMS] = {false};
    for (int i = 0; i < ndim; i++) {
        if (cnnc__wrap_dim(dims[i], ndim, &perm[i]) != CNNC_OK) return NULL;
        if (seen[perm[i]])
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "permute(): duplicate dims are not allowed.");
        seen[perm[i]] = true;
    }
    return permute_op(a, perm, "PermuteBackward0");
}

cnnc_tensor *cnnc__op_transpose(cnnc_tensor *a, int dim0, int dim1) {
    if (cnnc__check_tensor("transpose", "input", a, false) != CNNC_OK) return NULL;
    int d0, d1;
    if (cnnc__wrap_dim(dim0, a->ndim, &d0) != CNNC_OK || cnnc__wrap_dim(dim1, a->ndim, &d1) != CNNC_OK)
        return NULL;
    int perm[CNNC_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++) perm[d] = d;
    if (a->ndim) { perm[d0] = d1; perm[d1] = d0; }
    return permute_op(a, perm, "TransposeBackward0");
}

/* ---- cat ------------------------------------------------------------------ */

/* Copies rows: for each of `outer` rows, n elements from src (row stride sstride)
 * to dst (row stride dstride). */
static void copy_rows(char *dst, int64_t dstride, const char *src, int64_t sstride, int64_t outer,
                      int64_t n) {
    for (int64_t r = 0; r < outer; r++) memcpy(dst + r * dstride, src + r * sstride, (size_t)n);
}

typedef struct {
    int dim, n;
    /* the inputs' sizes along dim follow this struct (n of them) */
} cat_ctx;

static cnnc_status cat_backward(cnnc__node *node, cnnc_tensor *g, cnnc_tensor **gi) {
    cat_ctx *c = node->ctx;
    const int64_t *sizes = (const int64_t *)(c + 1);
    /* wrapped products: only used to copy, which an empty g never does */
    int64_t outer = cnnc__wrap_prod(g->shape, 0, c->dim);
    int64_t inner = cnnc__wrap_prod(g->shape, c->dim + 1, g->ndim);
    int64_t row = cnnc__wrap_mul(g->shape[c->dim], inner), off = 0;
    for (int i = 0; i < c->n; i++) {
        if (sizes[i] < 0) { /* a skipped legacy empty input gets an empty gradient */
            if (cnnc__node_needs_grad(node, i) &&
                !(gi[i] = cnnc__tensor_new(CNNC_FLOAT32, 1, (const int64_t[]){0})))
                return cnnc_last_status();
            continue;
        }
        if (cnnc__node_needs_grad(node, i)) {
            int64_t shape[CNNC_MAX_DIMS];
            memcpy(shape, g->shape, sizeof shape);
            shape[c->dim] = sizes[i];
            gi[i] = cnnc__tensor_new(CNNC_FLOAT32, g->ndim, shape);
            if (!gi[i]) return cnnc_last_status();
            if (gi[i]->numel)
                copy_rows((char *)cnnc__f32(gi[i]), sizes[i] * inner * 4,
                          (const char *)(cnnc__f32(g) + off), row * 4, outer, sizes[i] * inner * 4);
        }
        off = cnnc__wrap_add(off, cnnc__wrap_mul(sizes[i], inner));
    }
    return CNNC_OK;
}

/* PyTorch skips 1-d empty inputs ("legacy" empty tensors) in cat. */
static bool legacy_empty(const cnnc_tensor *t) { return t->ndim == 1 && t->shape[0] == 0; }

cnnc_tensor *cnnc__op_cat(int n, cnnc_tensor *const *ts, int dim) {
    if (n <= 0 || !ts)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "torch.cat(): expected a non-empty list of Tensors");
    const cnnc_tensor *ref = NULL;
    int ref_i = 0;
    for (int i = 0; i < n; i++) {
        if (!ts[i])
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "cat(): tensor %d is NULL", i);
        if (ts[i]->dtype != ts[0]->dtype)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "cat(): all tensors must have one dtype, got %s and %s",
                                    cnnc_dtype_name(ts[0]->dtype), cnnc_dtype_name(ts[i]->dtype));
        if (!ref && !legacy_empty(ts[i])) { ref = ts[i]; ref_i = i; }
    }
    if (!ref) ref = ts[0];
    if (ref->ndim == 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "zero-dimensional tensor (at position %d) cannot be concatenated",
                                ref_i);
    int d;
    if (cnnc__wrap_dim(dim, ref->ndim, &d) != CNNC_OK) return NULL;
    int64_t shape[CNNC_MAX_DIMS];
    memcpy(shape, ref->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) {
        const cnnc_tensor *t = ts[i];
        if (legacy_empty(t) && t != ref) continue;
        if (t->ndim != ref->ndim)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Tensors must have same number of dimensions: got %d and %d",
                                    ref->ndim, t->ndim);
        for (int k = 0; k < ref->ndim; k++)
            if (k != d && t->shape[k] != ref->shape[k])
                return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                        "Sizes of tensors must match except in dimension %d. "
                                        "Expected size %lld but got size %lld for tensor number "
                                        "%d in the list.",
                                        d, (long long)ref->shape[k], (long long)t->shape[k], i);
        shape[d] = cnnc__wrap_add(shape[d], t->shape[d]); /* wraps as PyTorch's sum */
    }
    cnnc_tensor *out = cnnc__tensor_new(ref->dtype, ref->ndim, shape);
    if (!out) return NULL;
    size_t es = cnnc__dtype_size(ref->dtype);
    int64_t outer = cnnc__wrap_prod(shape, 0, d), inner = cnnc__wrap_prod(shape, d + 1, ref->ndim);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        const cnnc_tensor *t = ts[i];
        if (legacy_empty(t) && t != ref) continue;
        if (t->numel)
            copy_rows((char *)out->storage->data + off * (int64_t)es, shape[d] * inner * (int64_t)es,
                      t->storage->data, t->shape[d] * inner * (int64_t)es, outer,
                      t->shape[d] * inner * (int64_t)es);
        off = cnnc__wrap_add(off, cnnc__wrap_mul(t->shape[d], inner));
    }
    cat_ctx *c;
    if (cnnc__record(out, "CatBackward0", cat_backward, n, ts, 0, NULL,
                     sizeof(cat_ctx) + (size_t)n * sizeof(int64_t), (void **)&c) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) {
        c->dim = d;
        c->n = n;
        int64_t *sizes = (int64_t *)(c + 1);
        for (int i = 0; i < n; i++)
            sizes[i] = legacy_empty(ts[i]) && ts[i] != ref ? -1 : ts[i]->shape[d];
    }
    return out;
}

/* ---- clone ---------------------------------------------------------------- */

static cnnc_status clone_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    (void)n;
    gi[0] = cnnc_tensor_retain(g);
    return CNNC_OK;
}

cnnc_tensor *cnnc_tensor_clone(cnnc_tensor *t) {
    if (cnnc__check_tensor("clone", "input", t, false) != CNNC_OK) return NULL;
    cnnc_tensor *out = cnnc__tensor_copy(t);
    if (out && cnnc__record(out, "CloneBackward0", clone_backward, 1, &t, 0, NULL, 0, NULL) != CNNC_OK) {
        cnnc_tensor_release(out);
        out = NULL;
    }
    return cnnc__give(out);
}

/* ---- public --------------------------------------------------------------- */

cnnc_tensor *cnnc_reshape(cnnc_tensor *a, int ndim, const int64_t *shape) {
    return cnnc__give(cnnc__op_reshape(a, ndim, shape));
}
cnnc_tensor *cnnc_view(cnnc_tensor *a, int ndim, const int64_t *shape) {
    return cnnc__give(cnnc__op_reshape(a, ndim, shape));
}
cnnc_tensor *cnnc_flatten(cnnc_tensor *a, int start_dim, int end_dim) {
    return cnnc__give(cnnc__op_flatten(a, start_dim, end_dim));
}
cnnc_tensor *cnnc_permute(cnnc_tensor *a, int ndim, const int *dims) {
    return cnnc__give(cnnc__op_permute(a, ndim, dims));
}
cnnc_tensor *cnnc_transpose(cnnc_tensor *a, int dim0, int dim1) {
    return cnnc__give(cnnc__op_transpose(a, dim0, dim1));
}
cnnc_tensor *cnnc_cat(int n, cnnc_tensor *const *tensors, int dim) {
    return cnnc__give(cnnc__op_cat(n, tensors, dim));
}
